"""`roadpulse demo` as the README starts it: live counts appear and change.

Starts the demo (stdout is a pipe, so it prints one table per refresh instead
of redrawing the screen), and reads its tables. Passes when a table shows the
city's counts and a later table shows different ones (live events move
today's counts). Prints how long each took, for the issue's "within 10 s".
"""
import argparse
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time


def city_row(table):
    for line in table.splitlines():
        if line.startswith("滨州市"):
            return [int(x) for x in re.findall(r"(?<![\d.])-?\d+(?![\d.%])", line)]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        proc = subprocess.Popen([args.roadpulse, "demo", "--log-file", tmp + "/demo.log"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first_counts = None
        first_row = None
        changed_at = None
        buffer = ""
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        try:
            while time.monotonic() - start < args.timeout and changed_at is None:
                if not sel.select(1.0):
                    if proc.poll() is not None:
                        print("FAIL: demo exited with", proc.returncode, proc.stderr.read())
                        return 1
                    continue
                line = proc.stdout.readline()
                if not line:
                    break
                buffer += line
                # A table ends with the "Kafka: ..." status line.
                if not line.startswith("Kafka:"):
                    continue
                table, buffer = buffer, ""
                row = city_row(table)
                if row is None or sum(row) == 0:
                    continue
                now = time.monotonic() - start
                if first_row is None:
                    first_row, first_counts = row, now
                    print("first counts after %.1f s: %s" % (now, row[:6]))
                elif row != first_row:
                    changed_at = now
                    print("counts changed after %.1f s: %s" % (now, row[:6]))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                rc = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = "killed"
            print("demo stopped on SIGINT:", rc)
        if first_row is None:
            print("FAIL: no table with the city's counts within %.0f s" % args.timeout)
            return 1
        if changed_at is None:
            print("FAIL: the counts did not change within %.0f s" % args.timeout)
            return 1
        if rc != 0:
            print("FAIL: demo exited with", rc, "on SIGINT")
            return 1
        print("PASS: live, changing counts (first %.1f s, changed %.1f s)" % (first_counts,
                                                                           changed_at))
        return 0


if __name__ == "__main__":
    sys.exit(main())
