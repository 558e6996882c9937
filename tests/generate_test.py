"""`roadpulse generate` to Kafka leaves a manifest (--truth) only when the
topics hold every record it describes.

- A stop (SIGTERM) with the cluster up ends the run: what was handed to Kafka
  is delivered, exit 0, and the manifest's totals equal the records on the
  topics as kafka-python reads them.
- A cluster that does not answer is named within seconds: exit 1.
- A stop while the cluster takes nothing waits for it and says so; a second
  stop gives up: exit 1.
- A delivery that fails (message.timeout.ms passes) ends the run by itself,
  even while --live would go on for ever: exit 1.
In each failing case a --truth file that was there before is gone.

`roadpulse generate --output FILE` writes the event log its name asks for,
as export does and replay reads it:
- NAME.jsonl.gz is gzip-compressed JSON Lines, one line per record of the
  manifest (read back here with Python's gzip and json);
- a write that fails part-way (the file size limit, RLIMIT_FSIZE) exits 1
  and leaves no FILE, no FILE.partial and no manifest; a FILE that was there
  before is left as it was.
"""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time

import kafka_harness as h

TOPICS = ("roadpulse.incidents", "roadpulse.violations")


class Generate:
    """A `roadpulse generate` process with its log in a file."""

    def __init__(self, roadpulse, servers, tmp, name, extra):
        self.truth = os.path.join(tmp, name + ".json")
        with open(self.truth, "w") as f:
            f.write("a manifest of an earlier run\n")
        self.log_path = os.path.join(tmp, name + ".log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [roadpulse, "generate", "--bootstrap-servers", servers, "--seed", "7",
             "--events", "3000", "--truth", self.truth] + extra,
            stdout=subprocess.DEVNULL, stderr=self._log)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for_log(self, text, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            if text in self.log():
                return True
            time.sleep(0.1)
        return text in self.log()

    def wait(self, timeout_s):
        """The exit code, or None if it is still running after timeout_s."""
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def outcome(self, rc, lines):
        """rc, whether the --truth file is still there, the log's last lines."""
        return "rc=%s, --truth file %s; %s" % (
            rc, "left" if os.path.exists(self.truth) else "gone", h.last_lines(self.log(), lines))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def stop_with_cluster_up(roadpulse, servers, tmp, failures):
    g = Generate(roadpulse, servers, tmp, "stop", ["--live", "--live-rate", "500"])
    try:
        live = g.wait_for_log("generate: live", 60)
        time.sleep(1)
        rc, _, _ = h.signal_and_wait(g.proc, signal.SIGTERM, 60)
        manifest = None
        if rc == 0 and os.path.exists(g.truth):
            with open(g.truth) as f:
                manifest = json.load(f)
        on_topics = sum(sum(h.topic_offsets(servers, t).values()) for t in TOPICS)
        produced = manifest["produced"]["total"] if manifest else None
        h.check(failures, live and rc == 0 and produced == on_topics and produced > 3000,
                "generate --live, SIGTERM with the cluster up",
                "rc=%s, manifest total %s, records on the topics %d; %s" % (
                    rc, produced, on_topics, h.last_lines(g.log(), 1)))
    finally:
        g.close()


def cluster_unreachable(roadpulse, tmp, failures):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        servers = "127.0.0.1:%d" % s.getsockname()[1]
    g = Generate(roadpulse, servers, tmp, "unreachable", [])
    try:
        rc = g.wait(120)
        text = g.log()
        h.check(failures, rc == 1 and "cannot reach the cluster at " + servers in text and
                not os.path.exists(g.truth),
                "generate, cluster unreachable", g.outcome(rc, 2))
    finally:
        g.close()


def stop_twice_with_cluster_down(roadpulse, broker, tmp, failures):
    g = Generate(roadpulse, broker.servers, tmp, "give-up", ["--live", "--live-rate", "500"])
    try:
        live = g.wait_for_log("generate: live", 60)
        broker.command("down -1")
        time.sleep(1.5)  # live records queue up for the cluster
        g.proc.send_signal(signal.SIGTERM)
        said = g.wait_for_log("stop again to give up", 20)
        still_running = g.proc.poll() is None
        rc, _, _ = h.signal_and_wait(g.proc, signal.SIGTERM, 30)
        text = g.log()
        h.check(failures, live and said and still_running and rc == 1 and
                "not yet delivered" in text and not os.path.exists(g.truth),
                "generate --live, cluster down, SIGTERM twice",
                "waited after the first: %s, said so: %s; %s" % (
                    still_running, said, g.outcome(rc, 3)))
    finally:
        g.close()
        broker.command("up -1")


def delivery_fails(roadpulse, broker, tmp, failures):
    g = Generate(roadpulse, broker.servers, tmp, "timeout",
                 ["--live", "--live-rate", "500", "-X", "message.timeout.ms=3000"])
    try:
        live = g.wait_for_log("generate: live", 60)
        broker.command("down -1")
        rc = g.wait(60)
        text = g.log()
        h.check(failures, live and rc == 1 and "_MSG_TIMED_OUT" in text and
                not os.path.exists(g.truth),
                "generate --live, cluster down, delivery times out", g.outcome(rc, 2))
    finally:
        g.close()
        broker.command("up -1")


def to_a_file_by_its_name(roadpulse, tmp, failures):
    path = os.path.join(tmp, "events.jsonl.gz")
    truth = os.path.join(tmp, "file.json")
    proc = subprocess.run([roadpulse, "generate", "--seed", "7", "--events", "3000",
                           "--output", path, "--truth", truth],
                          capture_output=True, text=True, timeout=120)
    read, error = h.gzip_jsonl_kinds(path)
    produced = {}
    if os.path.exists(truth):
        with open(truth) as f:
            produced = json.load(f)["produced"]
    h.check(failures, proc.returncode == 0 and error is None and produced.get("total") == 3000 and
            all(read[k] == produced.get(k) for k in read) and not os.path.exists(path + ".partial"),
            "generate --output events.jsonl.gz",
            "rc=%d, read back as gzip JSON Lines: %s, manifest %s%s" % (
                proc.returncode, read, produced, "; " + error if error else ""))


def file_write_fails(roadpulse, tmp, failures):
    path = os.path.join(tmp, "cut.pb")
    earlier = b"an event log of an earlier run\n"
    with open(path, "wb") as f:
        f.write(earlier)
    truth = os.path.join(tmp, "cut.json")
    limit = 64 * 1024

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG

    proc = subprocess.run([roadpulse, "generate", "--seed", "7", "--events", "3000",
                           "--output", path, "--truth", truth],
                          capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size)
    with open(path, "rb") as f:
        kept = f.read() == earlier
    partial = os.path.exists(path + ".partial")
    h.check(failures, proc.returncode == 1 and "write failed" in proc.stderr and kept and
            not partial and not os.path.exists(truth),
            "generate --output, the write fails at %d KiB" % (limit // 1024),
            "rc=%d, the earlier FILE %s, FILE.partial %s, --truth file %s; %s" % (
                proc.returncode, "kept" if kept else "changed", "left" if partial else "gone",
                "left" if os.path.exists(truth) else "gone", h.last_lines(proc.stderr, 2)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--roadpulse", required=True)
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = h.Broker(args.roadpulse, 4, control=True,
                          log_path=os.path.join(tmp, "broker.log"))
        try:
            stop_with_cluster_up(args.roadpulse, broker.servers, tmp, failures)
            stop_twice_with_cluster_down(args.roadpulse, broker, tmp, failures)
            delivery_fails(args.roadpulse, broker, tmp, failures)
        finally:
            broker.stop()
        cluster_unreachable(args.roadpulse, tmp, failures)
        to_a_file_by_its_name(args.roadpulse, tmp, failures)
        file_write_fails(args.roadpulse, tmp, failures)
    return h.verdict(failures)


if __name__ == "__main__":
    raise SystemExit(main())
