"""Operations, end to end on the embedded broker:

- `run` and `serve` exit with code 0 within 10 s of SIGTERM (the time is printed);
- the configuration's precedence holds in a running worker (file < env < flag);
- with --log-format json every stderr line is a JSON object carrying the
  worker id, and partition lines carry topic and partition;
- no secret given by file, environment or flag appears anywhere in the output
  of `run`, `serve` or `config check`, which print "********" instead;
- `config check` refuses a misspelt key or variable, naming it (exit code 2);
- `serve` started while the brokers are down answers /healthz, says why on
  /readyz (503), stops promptly on SIGTERM, and reads the counts once the
  brokers are back.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_harness as h  # noqa: E402
import view_harness as v  # noqa: E402

SECRETS = {
    "file": "s3cret-from-file-4711",
    "env": "s3cret-from-env-0815",
    "flag": "s3cret-from-flag-1337",
    "token": "t0ken-from-file-2024",
}

failures = []


def check(ok, message):
    print("%-4s %s" % ("ok" if ok else "FAIL", message), flush=True)
    if not ok:
        failures.append(message)


def clean_env(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADPULSE_")}
    env.update(extra)
    return env


class Proc:
    """A process whose stdout and stderr are collected by threads."""

    def __init__(self, argv, env):
        h.log("$", " ".join(argv))
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        self.out, self.err = [], []
        self.threads = [threading.Thread(target=self._read, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout_s, where="err"):
        deadline = time.monotonic() + timeout_s
        lines = self.err if where == "err" else self.out
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in list(lines)):
                return True
            if self.p.poll() is not None:
                time.sleep(0.2)
                return any(re.search(pattern, line) for line in list(lines))
            time.sleep(0.1)
        return False

    def sigterm(self, name, limit_s=10):
        start = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(limit_s + 20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        took = time.monotonic() - start
        for t in self.threads:
            t.join(5)
        print("%s: exit code %d, %.2f s after SIGTERM" % (name, rc, took), flush=True)
        check(rc == 0, "%s exits with code 0 on SIGTERM (got %d)" % (name, rc))
        check(took < limit_s, "%s exits within %d s of SIGTERM (%.2f s)" % (name, limit_s, took))
        return "\n".join(self.out + self.err)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def no_secrets(name, text):
    leaked = [k for k, v in SECRETS.items() if v in text]
    check(not leaked, "%s: no secret in its output (leaked: %s)" % (name, leaked))
    check("********" in text, "%s: secrets shown masked as ********" % name)


def poll(fn, timeout_s):
    """fn()'s first true value within timeout_s, else its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = fn()
        if last or time.monotonic() >= deadline:
            return last
        time.sleep(0.2)


def serve_waits_for_the_cluster(rp, broker):
    """serve started while every broker is down: it answers /healthz, /readyz
    503 with the reason, keeps trying, and once the brokers are back reads
    roadpulse.counts to the end (as many records as python-kafka finds)."""
    servers = broker.servers
    answer = broker.command("down -1")
    check(answer.startswith("ok"), "broker: down -1: %s" % answer)
    port = h.free_port()
    base = "http://127.0.0.1:%d" % port
    view = Proc([rp, "serve", "--bootstrap-servers", servers, "--http", "127.0.0.1:%d" % port],
                clean_env({}))
    try:
        check(view.wait_for(r"listening on", 60, where="out"), "serve (brokers down): listening")
        check(v.get(base + "/healthz")[0] == 200, "serve (brokers down): /healthz 200")
        status, ready = poll(lambda: (lambda r: r if r[1].get("waiting") else None)(
            v.get_json(base + "/readyz")), 60) or (None, {})
        print("serve (brokers down): /readyz %s %s" % (status, json.dumps(ready)), flush=True)
        check(status == 503 and ready.get("ready") is False and
              "roadpulse.counts" in (ready.get("waiting") or "") and
              servers in (ready.get("waiting") or ""),
              "serve (brokers down): /readyz 503 says why, naming the topic and the servers")
        check(view.wait_for(r"cannot read roadpulse\.counts \(attempt 1\)", 10),
              "serve (brokers down): logs the failed attempt")
        time.sleep(3)
        check(view.p.poll() is None, "serve (brokers down): still running after failed attempts")
        # SIGTERM in the middle of an attempt stops it promptly. Nothing
        # listens on this serve's bootstrap port, so its first metadata
        # request waits its whole 10 s for an answer (the downed mock broker
        # refuses at once, so the first serve spends its time between
        # attempts instead).
        other = Proc([rp, "serve", "--bootstrap-servers", "127.0.0.1:%d" % h.free_port(),
                      "--http", "127.0.0.1:0"], clean_env({}))
        try:
            check(other.wait_for(r"listening on", 60, where="out"),
                  "another serve (brokers down): listening")
            time.sleep(2)
            other.sigterm("serve (brokers down, mid-attempt)", limit_s=4)
        finally:
            other.kill()
        answer = broker.command("up -1")
        check(answer.startswith("ok"), "broker: up -1: %s" % answer)
        t0 = time.monotonic()
        status, ready = poll(lambda: (lambda r: r if r[0] == 200 else None)(
            v.get_json(base + "/readyz")), 90) or (None, {})
        print("serve (brokers up again): /readyz %s after %.1f s: %s" %
              (status, time.monotonic() - t0, json.dumps(ready)), flush=True)
        ends = h.topic_offsets(servers, "roadpulse.counts")
        starts = h.topic_offsets(servers, "roadpulse.counts", "beginning")
        expected = sum(ends[p] - starts[p] for p in ends)
        check(status == 200 and ready.get("waiting") is None and
              ready.get("records_read") == expected and expected > 0,
              "serve (brokers up again): ready, read %s records; python-kafka finds %d" %
              (ready.get("records_read"), expected))
        view.sigterm("serve (after waiting)")
    finally:
        view.kill()


def main(tmp):
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    args = ap.parse_args()
    rp = args.roadpulse
    top = subprocess.run([rp, "--help"], capture_output=True, text=True).stdout
    subcommands = re.findall(r"^  ([a-z][a-z-]+)\s{2,}", top.split("Subcommands:")[1], re.M)

    config_path = os.path.join(tmp, "roadpulse.toml")

    # ---- config check ----
    with open(config_path, "w") as f:
        f.write('[kafka]\n"sasl.username" = "roadpulse"\n"sasl.password" = "%s"\n'
                '[worker]\ngroup = "file-group"\nflush_interval_ms = 500\n'
                '[view]\ntoken = "%s"\n' % (SECRETS["file"], SECRETS["token"]))
    p = subprocess.run([rp, "config", "check", config_path], capture_output=True, text=True,
                       env=clean_env({"ROADPULSE_KAFKA_SSL_KEY_PASSWORD": SECRETS["env"],
                                      "ROADPULSE_WORKER_GROUP": "env-group"}))
    check(p.returncode == 0, "config check %s: exit code 0 (%s)" % (config_path, p.stderr.strip()))
    no_secrets("config check", p.stdout + p.stderr)
    check(re.search(r'^group = "env-group"  # environment ROADPULSE_WORKER_GROUP$', p.stdout, re.M),
          "config check: the environment overrides the file, and says so")
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write('[worker]\ngroup = "g"\nflush_intervall_ms = 100\n')
    p = subprocess.run([rp, "config", "check", bad], capture_output=True, text=True, env=clean_env({}))
    check(p.returncode == 2 and "worker.flush_intervall_ms" in p.stderr,
          "config check refuses a misspelt key, naming it: rc %d, %s" % (p.returncode, p.stderr.strip()))
    p = subprocess.run([rp, "config", "check", config_path], capture_output=True, text=True,
                       env=clean_env({"ROADPULSE_WORKER_FLUSH_INTERVAL": "5"}))
    check(p.returncode == 2 and "ROADPULSE_WORKER_FLUSH_INTERVAL" in p.stderr,
          "config check refuses a misspelt variable, naming it: rc %d, %s" % (p.returncode, p.stderr.strip()))
    with open(bad, "w") as f:
        f.write('[kafka]\n"sasl.pasword" = "x"\n')
    p = subprocess.run([rp, "config", "check", bad], capture_output=True, text=True, env=clean_env({}))
    check(p.returncode == 2 and "kafka.sasl.pasword" in p.stderr,
          "config check refuses an unknown librdkafka property, naming it: %s" % p.stderr.strip())
    p = subprocess.run([rp, "run", "--config", bad, "--bootstrap-servers", "127.0.0.1:1"],
                       capture_output=True, text=True, env=clean_env({}), timeout=30)
    check(p.returncode == 2 and "kafka.sasl.pasword" in p.stderr,
          "run refuses it too: rc %d, %s" % (p.returncode, p.stderr.strip()))

    with h.Broker(rp, 4, control=True) as broker:
        servers = broker.servers
        # Some load, so that SIGTERM arrives while the worker is busy.
        rc = h.run_command([rp, "generate", "--bootstrap-servers", servers, "--events", "200000"],
                           300, "generate")
        check(rc == 0, "generate: 200000 events (rc %d)" % rc)
        # ---- run: precedence, JSON logs, secrets, SIGTERM ----
        worker = Proc([rp, "run", "--config", config_path, "--bootstrap-servers", servers,
                       "--group", "flag-group", "--log-format", "json",
                       "-X", "sasl.oauthbearer.config=principal=" + SECRETS["flag"]],
                      clean_env({"ROADPULSE_WORKER_GROUP": "env-group",
                                 "ROADPULSE_WORKER_ID": "ops-test-worker",
                                 "ROADPULSE_KAFKA_SSL_KEY_PASSWORD": SECRETS["env"]}))
        try:
            joined = worker.wait_for(r"assigned .*\[\d+\]", 60)
            check(joined, "run: joined the group and got partitions")
            time.sleep(1)
            text = worker.sigterm("run")
        finally:
            worker.kill()
        records = []
        for line in worker.err:
            try:
                records.append(json.loads(line))
            except ValueError:
                check(False, "run: stderr line is not JSON: %r" % line[:200])
        check(len(records) > 3, "run: %d JSON log lines" % len(records))
        check(all(r.get("worker") == "ops-test-worker" and r.get("command") == "run" and "time" in r
                  and "level" in r and "msg" in r for r in records),
              "run: every JSON line has time, level, command, worker and msg")
        part = [r for r in records if "partition" in r and "topic" in r]
        check(bool(part), "run: partition lines carry topic and partition fields (e.g. %s)" %
              (part[0] if part else None))
        final_cp = [r["msg"] for r in records if "final checkpoint of" in r["msg"]]
        m = re.search(r"final checkpoint of (\d+) partitions", final_cp[0]) if final_cp else None
        check(m is not None and int(m.group(1)) > 0,
              "run: writes a final checkpoint on SIGTERM: %s" % (final_cp[:1] or "no such line"))
        # A worker started after it resumes from those checkpoints.
        again = Proc([rp, "run", "--config", config_path, "--bootstrap-servers", servers,
                      "--group", "flag-group", "--stop-at-end"], clean_env({}))
        try:
            rc = again.p.wait(120)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            again.kill()
        for t in again.threads:
            t.join(10)
        ready = re.findall(r"assignment of (\d+) partitions ready in [\d.]+ s \((\d+) from "
                           r"checkpoints\)", "\n".join(again.err))
        check(rc == 0 and bool(ready) and all(int(n) == int(c) and int(n) > 0 for n, c in ready),
              "run: the next worker restores every partition from the checkpoints (rc %s, %s)"
              % (rc, ready))
        done = [r for r in records if r["msg"].startswith("run: done")]
        check(bool(done), "run: logs its final tally on the way out: %s" % (done[0]["msg"] if done else None))
        config_line = next((r["msg"] for r in records if "configuration" in r["msg"]), "")
        check('group = "flag-group"  # flag --group' in config_line,
              "run: the flag overrides the environment and the file (group)")
        check("flush_interval_ms = 500  # " + config_path in config_line,
              "run: the file overrides the default (flush_interval_ms)")
        no_secrets("run", text)

        # ---- serve ----
        if "serve" in subcommands:
            view = Proc([rp, "serve", "--config", config_path, "--bootstrap-servers", servers,
                         "--http", "127.0.0.1:0", "--log-format", "json"],
                        clean_env({"ROADPULSE_KAFKA_SSL_KEY_PASSWORD": SECRETS["env"]}))
            try:
                up = view.wait_for(r"listening on", 60, where="out")
                check(up, "serve: listening")
                time.sleep(1)
                text = view.sigterm("serve")
            finally:
                view.kill()
            no_secrets("serve", text)
            not_json = [line for line in view.err if line.strip() and not line.startswith("{")]
            check(not not_json, "serve: stderr is JSON lines (not: %s)" % not_json[:3])
            serve_waits_for_the_cluster(rp, broker)
        else:
            print("skip serve: not a subcommand of this build")

    if failures:
        print("FAIL: %d check(s) failed:\n  %s" % (len(failures), "\n  ".join(failures)))
        return 1
    print("PASS: SIGTERM stops run and serve cleanly; config precedence holds; no secrets in output; "
          "serve waits for the brokers")
    return 0


if __name__ == "__main__":
    TMP = tempfile.mkdtemp(prefix="roadpulse-ops-")
    try:
        sys.exit(main(TMP))
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
