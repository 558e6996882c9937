"""Runs one integration test of the sanitizer build (ROADPULSE_SANITIZE) and
fails it if any process it started wrote a sanitizer report.

The Python tests start roadpulse processes whose stderr they send to
/dev/null or to a log file, and some of which they kill: an AddressSanitizer,
LeakSanitizer or UndefinedBehaviorSanitizer report from such a process would
be lost, and a test that does not check that process's exit code would pass.
So this wrapper has every report, or its SUMMARY line, written to a fresh
directory (the options already in ASAN_OPTIONS are kept), runs the command,
prints every file found there, and exits 1 if there is one; otherwise it
exits with the command's own exit code.

  collect_reports.py COMMAND [ARG...]
"""
import glob
import os
import signal
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="roadpulse-sanitizer-") as reports_dir:
        env = dict(os.environ)
        # ASan and LSan write their reports to <log_path>.<pid>. GCC's UBSan
        # runtime ignores log_path when ASan is linked too: its reports stay
        # on stderr, but their SUMMARY lines also go to summary.<pid> in
        # SANITIZER_SUMMARY_DIR (tests/sanitizer/sanitizer_hooks.cc).
        options = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o]
        options.append("log_path=" + os.path.join(reports_dir, "asan"))
        env["ASAN_OPTIONS"] = ":".join(options)
        env["SANITIZER_SUMMARY_DIR"] = reports_dir
        proc = subprocess.Popen(sys.argv[1:], env=env)
        # Stopped with SIGTERM: pass it on, so the test stops its processes.
        signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
        rc = proc.wait()
        reports = sorted(glob.glob(os.path.join(reports_dir, "*")))
        for path in reports:
            with open(path, errors="replace") as f:
                text = f.read()
            print("===== sanitizer report %s =====" % os.path.basename(path), flush=True)
            print(text, flush=True)
        if reports:
            print("FAIL: %d sanitizer report file(s) from the processes of this test" % len(reports),
                  flush=True)
            return 1
        return rc


if __name__ == "__main__":
    sys.exit(main())
