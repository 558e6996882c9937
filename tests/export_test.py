"""`roadpulse export` leaves a file under --output only once it holds every
record of the range.

- Whole: events.jsonl.gz read back with Python's gzip and json holds one line
  per record that `generate --truth` says it produced, by kind.
- Stopped: SIGINT, or SIGTERM, while export waits for the cluster (every
  response delayed by `rtt`) ends it within seconds with exit 1 and a message
  that nothing was written; neither FILE.partial nor a new FILE is left, and
  the FILE that was there before is as it was.
"""
import argparse
import json
import os
import signal
import subprocess
import tempfile
import time

import kafka_harness as h


def whole(roadpulse, servers, produced, tmp, failures):
    path = os.path.join(tmp, "events.jsonl.gz")
    proc = subprocess.run([roadpulse, "export", "--bootstrap-servers", servers, "--output", path],
                          capture_output=True, text=True, timeout=120)
    read, error = h.gzip_jsonl_kinds(path)
    h.check(failures, proc.returncode == 0 and error is None and
            all(read[k] == produced[k] for k in read) and not os.path.exists(path + ".partial"),
            "export --output events.jsonl.gz",
            "rc=%d, read back as gzip JSON Lines: %s, generate produced %s%s; %s" % (
                proc.returncode, read, produced, "; " + error if error else "",
                h.last_lines(proc.stderr, 1)))


def stopped(roadpulse, broker, tmp, sig, failures):
    name = signal.Signals(sig).name
    path = os.path.join(tmp, "stopped-%s.pb" % name)
    earlier = b"an export of an earlier run\n"
    with open(path, "wb") as f:
        f.write(earlier)
    partial = path + ".partial"
    answer = broker.command("rtt 1 2000")
    proc = subprocess.Popen([roadpulse, "export", "--bootstrap-servers", broker.servers,
                             "--output", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The partial file appears once the ranges are planned (a few
        # delayed lookups); the records are then fetched, 2 s a response.
        deadline = time.monotonic() + 60
        while not os.path.exists(partial) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        opened = os.path.exists(partial)
        rc, err, took = h.signal_and_wait(proc, sig, 20)
        with open(path, "rb") as f:
            kept = f.read() == earlier
        left = os.path.exists(partial)
        h.check(failures, answer.startswith("ok") and opened and rc == 1 and
                "nothing written to " + path in err and kept and not left,
                "export, %s while it waits for the cluster" % name,
                "%s; FILE.partial was there: %s; rc=%s after %.1f s, the earlier FILE %s, "
                "FILE.partial %s; %s" % (answer, opened, rc, took,
                                         "kept" if kept else "changed", "left" if left else "gone",
                                         h.last_lines(err)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        broker.command("rtt 1 0")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--roadpulse", required=True)
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = h.Broker(args.roadpulse, 1, control=True,
                          log_path=os.path.join(tmp, "broker.log"))
        try:
            truth = os.path.join(tmp, "truth.json")
            if h.run_command([args.roadpulse, "generate", "--bootstrap-servers", broker.servers,
                              "--seed", "11", "--events", "3000", "--truth", truth],
                             120, "generate") != 0:
                h.fail("generate failed")
            with open(truth) as f:
                produced = json.load(f)["produced"]
            whole(args.roadpulse, broker.servers, produced, tmp, failures)
            stopped(args.roadpulse, broker, tmp, signal.SIGINT, failures)
            stopped(args.roadpulse, broker, tmp, signal.SIGTERM, failures)
        finally:
            broker.stop()
    return h.verdict(failures)


if __name__ == "__main__":
    raise SystemExit(main())
