#!/usr/bin/python3
"""Chaos harness (issue 4) and rolling restart (issue 7) for roadpulse workers.

Starts `roadpulse broker --control` (3 mock brokers), N `roadpulse run`
workers in one consumer group (each with its own static identity
group.instance.id=worker-K and its own /metrics port), and `roadpulse
generate` producing into the broker WHILE the workers run. Then, by mode:

  --mode chaos    SIGKILLs workers at random moments (seeded), restarts them
                  after a random pause; one killed worker never comes back.
                  Injects broker faults through the broker's control stdin:
                  a broker down for 5 s, request errors on Fetch, Produce and
                  OffsetCommit, a group coordinator move, added round-trip time.
                  (Two concessions to the mock, which does not check an
                  idempotent producer's sequence numbers: the broker that goes
                  down leads no input partition, and producers keep one request
                  in flight; see Run.place_input_leaders and ONE_IN_FLIGHT.)
  --mode rolling  SIGTERMs the workers one by one under load: each must exit
                  within 10 s; it is restarted with the same identity and the
                  next one goes once it is assigned partitions and consuming.
  --mode sigterms SIGTERMs a random worker at random moments (seeded) and
                  restarts it at once, without waiting for anything: stops
                  land while a worker joins the group, waits for its
                  assignment or restores it. Each must exit 0 within 10 s.
  --mode pauses   SIGSTOPs a random worker at random moments (seeded) for
                  longer than the session timeout, then SIGCONTs it: the
                  group gives its partitions to another worker meanwhile, and
                  the paused one wakes up with records it had fetched and
                  counts it had not published. Publishing them over the new
                  owner's newer counts would leave roadpulse.counts wrong.

At the end it waits until the live workers own every input partition, have
read each to its end offset and have published (stable for longer than the
session timeout), stops them, and checks against the generator's manifest:
  - counts: roadpulse.counts read from its beginning as a late reader would
    (newest record per key), equal to the manifest for every region, day and
    metric;
  - DLQ: the distinct dead-lettered source records (by their
    roadpulse.source.topic/partition/offset headers; a record may be
    dead-lettered again after a crash or rebalance) are exactly the
    manifest's rejects, with its reasons;
  - reconciliation, per input partition, from the owners' /metrics
    (roadpulse_worker_partition_records_read and _records): read == the partition's end offset,
    read == counted + amended + duplicate + rejected; and the sums equal the
    manifest's totals;
  - nothing was lost by the mock broker (see "the mock's 5 MiB" below).
It prints `CHAOS VERDICT: PASS ...` or `CHAOS VERDICT: FAIL ...` and a
summary; the exit code is 0 only on PASS.

The event data: binzhou-2025's whole history is ~356,000 records, fewer than
the issue's 500,000, so the harness writes a copy of the scenario with the
violation totals scaled up (accidents unchanged), and `generate --events N`
emits exactly N records of it. The manifest stays the ground truth.

The mock's 5 MiB: each mock partition keeps only about 5 MiB and silently
drops its oldest records (no compaction). Inputs and DLQ are sized to fit
(the generator batches with linger.ms=100; inputs must keep offset 0).
roadpulse.counts cannot fit: every assignment restores a partition from its
last checkpoint (or rebuilds it from offset 0 before the first one) and
republishes all its buckets, and every kill causes one or two rebalances.
So the final check relies on a property of the worker instead: every owner
republishes the whole state of a partition after it is assigned (a restore
with MarkAllDirty, or a rebuild). The harness samples the end
offsets of roadpulse.counts and roadpulse.dlq twice a second (a background
thread), takes the newest sample before each scrape of the workers' /metrics,
and remembers for each final worker process the sample taken before its last
assignment was seen (its roadpulse_worker_rebalances_total changed). The late reader's view is
complete if no partition of those topics has dropped anything from there on
(log start offset <= those offsets); otherwise the verdict is FAIL, naming
the partition (raise --counts-partitions). Records dropped before that point
were superseded by the final owners' republication. The DLQ gets the same
treatment: an owner re-reads its partitions from their last checkpoint and
dead-letters the bad records after it again, so a bad record is dead-lettered
once, plus once per kill between its checkpoints, and the DLQ stays far below
the limit.
With the defaults (24 counts partitions for 520,000 events and 10 kills)
nothing is dropped today; the check keeps the verdict honest when it is.

Usage: chaos_test.py --roadpulse BIN --pb2 DIR [--mode chaos|rolling|sigterms|pauses]
         [--workers 3] [--partitions 12] [--events 520000] [--kills 10] [--sigterms 12] [--pauses 3]
         [--seed 1] [--duration 120] [--keep]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
import zoneinfo

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

import kafka_harness as h

INPUT_TOPICS = ("roadpulse.incidents", "roadpulse.violations")
GROUP = "roadpulse-chaos"
# The worker's default session timeout; the mock broker holds a join for
# about this minus 1 s, and removes a member silent for this long.
SESSION_TIMEOUT_S = 6
# A settled group must stay unchanged for longer than the session timeout, so
# that a dead member still in the group would have been noticed.
STABLE_S = SESSION_TIMEOUT_S + 3
SIGTERM_LIMIT_S = 10  # a stopping worker must exit within this (issue 7)
# For the generator and the workers. An idempotent producer keeps up to 5
# requests in flight per broker; on a real broker that is safe. On the 2.0.2
# mock (no sequence checks for non-transactional producers), when an injected
# error fails request R1 and the pipelined R2 of the same partition succeeds,
# librdkafka concludes R1 was persisted and acknowledges its records although
# the mock never wrote them (see Run.place_input_leaders). With one request
# in flight, R1 is retried before anything after it is sent.
ONE_IN_FLIGHT = "max.in.flight.requests.per.connection=1"


def elapsed_since(t0):
    return time.monotonic() - t0


# ----------------------------------------------------------------------------
# The scenario: binzhou-2025 with more violations.

def scaled_scenario(source_path, target_path, events):
    """Writes binzhou-2025 with every [periods.violations] total multiplied by
    the same factor (key_violations recomputed as the sum it must be), so that
    the history holds at least `events` records. Returns the factor."""
    with open(source_path, "rb") as f:
        scenario = tomllib.load(f)
    accidents = sum(sum(v for k, v in p["accidents"].items()
                        if k in ("ordinary", "video_quick", "simple_procedure", "on_site"))
                    for p in scenario["periods"])
    violations = sum(p["violations"]["key_violations"] + p["violations"].get("other", 0)
                     for p in scenario["periods"])
    mix = scenario["mix"]
    # Records per valid event: duplicates and bad records come on top (the
    # amendments are a few dozen). 2% margin so --events is the real cap.
    per_event = 1 + mix["duplicate_share"] + mix["bad_share"]
    factor = max(1.0, (events / per_event * 1.02 - accidents) / violations)
    factor = round(factor + 0.005, 2)
    key_parts = ("drink_driving", "drunk_driving", "speeding", "overload", "over_capacity",
                 "fatigue")
    out, section, part_sum = [], None, 0
    with open(source_path) as f:
        lines = f.read().splitlines()
    for line in lines:
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            section, part_sum = m.group(1), 0
        m = re.match(r"(\s*)(\w+)(\s*=\s*)(\d+)(.*)", line)
        if section == "periods.violations" and m:
            key, value = m.group(2), int(m.group(4))
            if key == "key_violations":
                value = part_sum
            else:
                value = int(round(value * factor))
                if key in key_parts:
                    part_sum += value
            line = "%s%s%s%d  # scaled x%.2f for the chaos test" % (m.group(1), key, m.group(3),
                                                                  value, factor)
        out.append(line)
    with open(target_path, "w") as f:
        f.write("\n".join(out) + "\n")
    with open(target_path, "rb") as f:
        tomllib.load(f)  # still valid TOML
    return factor


# ----------------------------------------------------------------------------
# End offsets, sampled while brokers go down.

class OffsetSampler(threading.Thread):
    """Samples the end offsets of some topics every `interval_s`, in its own
    thread with one long-lived kafka-python consumer: while a broker is down a
    request can block for seconds, and the main loop must keep its schedule
    (the broker has to come back up on time). latest() is the newest complete
    sample; a sample's offsets were read before latest() returned it, and an
    older sample is never larger, so it is a valid "offsets before" bound."""

    def __init__(self, servers, topics, interval_s=0.5):
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(bootstrap_servers=servers, group_id=None,
                                      request_timeout_ms=3000, fetch_max_wait_ms=100)
        self.tps = {}
        for t in topics:
            parts = self.consumer.partitions_for_topic(t)
            if parts is None:
                raise RuntimeError("topic %s not found" % t)
            self.tps[t] = [TopicPartition(t, p) for p in sorted(parts)]
        self.interval_s = interval_s
        self._latest = {t: {tp.partition: 0 for tp in tps} for t, tps in self.tps.items()}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self.samples = 0
        self.failed = 0
        self.start()

    def run(self):
        while not self._stop_event.is_set():
            try:
                got = {t: {tp.partition: off
                           for tp, off in self.consumer.end_offsets(tps).items()}
                       for t, tps in self.tps.items()}
                with self._lock:
                    self._latest = got
                    self.samples += 1
            except KafkaError:
                self.failed += 1  # a broker is down: keep the previous sample
            self._stop_event.wait(self.interval_s)

    def latest(self):
        with self._lock:
            return self._latest

    def close(self):
        self._stop_event.set()
        self.join(10)
        self.consumer.close()


# ----------------------------------------------------------------------------
# Workers.

class Worker:
    """One worker identity (worker-K: group.instance.id and /metrics port stay
    the same across restarts); `incarnation` counts its processes."""

    def __init__(self, index, args, servers, log_dir):
        self.name = "worker-%d" % index
        self.port = h.free_port()
        self.args = args
        self.servers = servers
        self.log_path = os.path.join(log_dir, self.name + ".log")
        self.proc = None
        self.incarnation = 0
        self.retired = False  # killed for good
        # Tracking of the current process's assignments (see the docstring
        # about the mock's 5 MiB): its last seen rebalance count and the
        # topic offsets sampled before that value was first seen.
        self.rebalances = None
        self.offsets_before_assignment = None
        self.offsets_previous = None
        self.last_metrics = None

    def start(self, offsets_now):
        self.incarnation += 1
        log = open(self.log_path, "a")
        log.write("\n===== %s incarnation %d =====\n" % (self.name, self.incarnation))
        log.flush()
        argv = [self.args.roadpulse, "run", "--bootstrap-servers", self.servers,
                "--group", GROUP, "--http", "127.0.0.1:%d" % self.port,
                "-X", "group.instance.id=" + self.name,
                # kafka-python (the independent reader) cannot read lz4.
                "-X", "compression.type=gzip",
                # One request in flight per connection: see ONE_IN_FLIGHT.
                "-X", ONE_IN_FLIGHT]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.rebalances = None
        self.offsets_before_assignment = offsets_now
        self.offsets_previous = offsets_now
        self.last_metrics = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, limit_s):
        """SIGTERM; returns (seconds to exit, exit code), exit code None when it
        did not exit within limit_s (then it is killed)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(limit_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return elapsed_since(t0), None
        return elapsed_since(t0), rc

    def scrape(self):
        """The worker's /metrics as a dict, or None when it does not answer."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                        timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        m = {"partitions": {}, "rebalances": 0, "consumed": 0, "flushes": 0,
             "last_publish_s": 0.0, "assigned": 0}
        for name, labels, value in h.parse_metrics(text):
            if name == "roadpulse_worker_rebalances_total":
                m["rebalances"] = int(value)
            elif name == "roadpulse_worker_records_consumed_total":
                m["consumed"] = int(value)
            elif name == "roadpulse_worker_publish_seconds_count":
                m["flushes"] = int(value)
            elif name == "roadpulse_worker_last_publish_seconds":
                m["last_publish_s"] = value
            elif name == "roadpulse_worker_assigned_partitions":
                m["assigned"] = int(value)
            elif name == "roadpulse_worker_next_offset":
                tp = (labels["topic"], int(labels["partition"]))
                m["partitions"].setdefault(tp, {})["next_offset"] = int(value)
            elif name == "roadpulse_worker_partition_records_read":
                tp = (labels["topic"], int(labels["partition"]))
                m["partitions"].setdefault(tp, {})["read"] = int(value)
            elif name == "roadpulse_worker_partition_records":
                tp = (labels["topic"], int(labels["partition"]))
                m["partitions"].setdefault(tp, {})[labels["outcome"]] = int(value)
        return m

    def tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ----------------------------------------------------------------------------
# The run.

class Run:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.t0 = time.monotonic()
        self.rng = random.Random(args.seed)
        # The broker that goes down for 5 s in chaos mode (see place_input_leaders).
        self.down_broker = self.rng.randint(1, args.brokers)
        self.failures = []
        self.stats = {"kills": 0, "restarts": 0, "sigterms": 0, "pauses": 0, "sigterm_max_s": 0.0,
                      "faults": [], "fault_errors": 0}
        self.broker = None
        self.sampler = None
        self.workers = []
        self.generator = None
        self.manifest_path = os.path.join(tmp, "manifest.json")
        self.watched = ("roadpulse.counts", "roadpulse.dlq")

    def log(self, msg):
        h.log("[%6.1f s] %s" % (elapsed_since(self.t0), msg))

    # -- sampling -------------------------------------------------------------

    def sample_offsets(self):
        """End offsets of the topics whose old records the final check relies
        on not having been dropped (see the module docstring)."""
        return self.sampler.latest()

    def poll(self):
        """One observation round: offsets first, then every live worker's
        /metrics; remembers, per process, the offsets sampled before its
        latest assignment. Returns the offsets sampled."""
        offsets = self.sample_offsets()
        for w in self.workers:
            if not w.alive():
                continue
            m = w.scrape()
            if m is None:
                continue
            if m["rebalances"] != w.rebalances:
                # The assignment changed after the previous round's sample:
                # keep that sample (or the one taken when the process started).
                w.rebalances = m["rebalances"]
                w.offsets_before_assignment = w.offsets_previous
            w.offsets_previous = offsets
            w.last_metrics = m
        return offsets

    # -- broker faults ----------------------------------------------------------

    def fault(self, commands, what):
        """Sends the commands of one fault to the broker's control stdin."""
        for command in commands:
            answer = self.broker.command(command)
            if len(commands) <= 2 or not answer.startswith("ok"):
                self.log("fault: %s -> %s" % (command, answer))
            if not answer.startswith("ok"):
                self.stats["fault_errors"] += 1
                self.failures.append("broker refused fault command %r: %s" % (command, answer))
                return
        if len(commands) > 2:
            self.log("fault: %s (%d commands: %s, ...)" % (what or "set-up", len(commands),
                                                            commands[0]))
        if what:
            self.stats["faults"].append(what)

    def fault_schedule(self, duration):
        """[(time, [commands], label)] of broker faults inside the load period
        (label None: the end of a fault already counted)."""
        rng, b = self.rng, self.args.brokers
        at = lambda lo, hi: rng.uniform(lo * duration, hi * duration)  # noqa: E731
        t_down = at(0.25, 0.6)
        slow = rng.randint(1, b)
        t_rtt = at(0.1, 0.8)
        events = [
            (t_down, ["down %d" % self.down_broker], "broker %d down 5 s" % self.down_broker),
            (t_down + 5.0, ["up %d" % self.down_broker], None),
            (at(0.1, 0.9), ["errors Fetch %s %d" % (
                rng.choice(["NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT"]), rng.randint(5, 20))],
             "Fetch errors"),
            (at(0.1, 0.9), ["errors Produce %s %d" % (
                rng.choice(["NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT"]), rng.randint(3, 10))],
             "Produce errors"),
            (at(0.1, 0.9), ["errors OffsetCommit %s %d" % (
                rng.choice(["COORDINATOR_NOT_AVAILABLE", "REQUEST_TIMED_OUT", "NOT_COORDINATOR"]),
                rng.randint(3, 10))], "OffsetCommit errors"),
            (at(0.2, 0.8), ["coordinator %s %d" % (GROUP, rng.randint(1, b))], "coordinator move"),
            (t_rtt, ["rtt %d %d" % (slow, rng.choice([100, 200, 400]))], "rtt on broker %d" % slow),
            (t_rtt + rng.uniform(5, 15), ["rtt %d 0" % slow], None),
        ]
        return sorted(events, key=lambda e: e[0])

    def place_input_leaders(self):
        """Before anything is produced: the input partitions are led by the
        brokers that will stay up. librdkafka 2.0.2's mock checks the sequence
        numbers of transactional producers only (rd_kafka_mock_validate_records),
        so for the generator's idempotent producer (a) a batch appended but
        not acknowledged when its broker goes down is appended again on retry,
        and (b) when a later request succeeds while an earlier one failed (a
        leader move under load), librdkafka takes the failed one as persisted
        (rd_kafka_handle_idempotent_Produce_success) and acknowledges records
        that were never written. Both were seen here (input topics holding
        more, or fewer, records than the generator delivered); a real broker
        refuses the out-of-order request instead. So no input leader moves
        while producing, and the broker that goes down leads only roadpulse.
        counts/dlq/checkpoints partitions (the workers' retried count and DLQ
        batches are harmless: the same absolute values, the same DLQ sources)
        and maybe the group coordinator."""
        others = [i for i in range(1, self.args.brokers + 1) if i != self.down_broker]
        if not others:
            return
        moves = ["leader %s %d %d" % (t, p, others[(i + p) % len(others)])
                 for i, t in enumerate(INPUT_TOPICS) for p in range(self.args.partitions)]
        self.fault(moves, None)
        self.log("input partitions led by brokers %s; broker %d leads none of them" %
                 (others, self.down_broker))

    # -- processes --------------------------------------------------------------

    def start_generator(self, rate):
        scenario = os.path.join(self.tmp, "chaos-scenario.toml")
        factor = scaled_scenario(
            os.path.join(self.args.source, "deploy/config/scenarios/binzhou-2025.toml"),
            scenario, self.args.events)
        argv = [self.args.roadpulse, "generate", "--scenario-file", scenario,
                "--seed", str(self.args.seed), "--bootstrap-servers", self.broker.servers,
                "--events", str(self.args.events), "--rate", "%.1f" % rate,
                "--truth", self.manifest_path,
                # Bigger batches: a mock partition keeps only ~5 MiB of batches.
                "-X", "linger.ms=100", "-X", ONE_IN_FLIGHT]
        self.log("generate: binzhou-2025 with violations x%.2f, %d events at %.0f/s" %
                 (factor, self.args.events, rate))
        h.log("$", " ".join(argv))
        self.gen_log = open(os.path.join(self.tmp, "generate.log"), "w")
        self.generator = subprocess.Popen(argv, stdout=self.gen_log, stderr=subprocess.STDOUT)

    def restart(self, w):
        w.start(self.sample_offsets())
        self.stats["restarts"] += 1
        self.log("restart %s (incarnation %d)" % (w.name, w.incarnation))

    def sigterm(self, w):
        """Stops a worker with SIGTERM; a slow or non-zero exit is a failure."""
        seconds, rc = w.terminate(SIGTERM_LIMIT_S)
        self.stats["sigterms"] += 1
        self.stats["sigterm_max_s"] = max(self.stats["sigterm_max_s"], seconds)
        self.log("SIGTERM %s: exited after %.1f s with %s" % (w.name, seconds, rc))
        if rc is None:
            self.failures.append("%s did not exit within %d s of SIGTERM" %
                                 (w.name, SIGTERM_LIMIT_S))
        elif rc != 0:
            # The restart appends to the same log: show this process's end now.
            self.failures.append("%s exited with %d after SIGTERM; its last lines:\n%s" %
                                 (w.name, rc, w.tail()))

    # -- the modes ----------------------------------------------------------------

    def chaos(self, duration):
        """Kills and faults during the load; returns when the generator is
        done and every planned restart happened."""
        rng = self.rng
        kill_times = sorted(rng.uniform(0.05 * duration, 0.9 * duration)
                            for _ in range(self.args.kills))
        permanent = rng.randrange(len(kill_times)) if kill_times else None
        faults = self.fault_schedule(duration)
        restarts = []  # [(time, worker)]
        kill_index = 0
        while True:
            now = elapsed_since(self.t0)
            self.poll()
            while faults and faults[0][0] <= now:
                _, commands, what = faults.pop(0)
                self.fault(commands, what)
            for due, w in [r for r in restarts if r[0] <= now]:
                restarts.remove((due, w))
                self.restart(w)
            if kill_index < len(kill_times) and kill_times[kill_index] <= now:
                live = [w for w in self.workers if w.alive()]
                if live:
                    victim = rng.choice(live)
                    victim.kill()
                    self.stats["kills"] += 1
                    if kill_index == permanent:
                        victim.retired = True
                        self.log("SIGKILL %s: it never comes back" % victim.name)
                    else:
                        pause = rng.uniform(0.5, 2 * SESSION_TIMEOUT_S)
                        restarts.append((now + pause, victim))
                        self.log("SIGKILL %s; restart in %.1f s" % (victim.name, pause))
                    kill_index += 1
                # else: every worker is down waiting for its restart; kill later
            if (self.generator.poll() is not None and not faults and not restarts
                    and kill_index == len(kill_times)):
                return
            if now > 3 * duration + 120:
                raise RuntimeError("the load phase did not end after %.0f s (generator "
                                   "running: %s)" % (now, self.generator.poll() is None))
            time.sleep(0.5)

    def wait_consuming(self, w, timeout_s):
        """Waits until the worker (just restarted) owns partitions and consumes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll()
            m = w.last_metrics
            if m and m["assigned"] > 0 and m["consumed"] > 0:
                return True
            if not w.alive():
                return False
            time.sleep(0.5)
        return False

    def rolling(self, duration):
        """Restarts the workers one by one under load, gracefully."""
        # Let the group form and the load start first.
        start_at = min(0.15 * duration, 20)
        while elapsed_since(self.t0) < start_at:
            self.poll()
            time.sleep(0.5)
        for w in self.workers:
            self.sigterm(w)
            self.restart(w)
            if not self.wait_consuming(w, 120):
                self.failures.append("%s was not consuming again within 120 s of its restart" %
                                     w.name)
                return
            self.log("%s is assigned %d partitions and consuming" %
                     (w.name, w.last_metrics["assigned"]))
        if self.generator.poll() is None:
            self.log("all %d workers restarted while the generator was still producing" %
                     len(self.workers))
        else:
            self.failures.append("the generator finished before the rolling restart did: "
                                 "not under load (raise --duration)")
        while self.generator.poll() is None:
            self.poll()
            time.sleep(0.5)

    def at_random_moments(self, count, first, last, act, what):
        """Calls act() at `count` random moments (seeded) between first and
        last (fractions of --duration); returns when the generator is done.
        A generator done before the last one means the last ran without load."""
        duration = self.args.duration
        times = sorted(self.rng.uniform(first * duration, last * duration) for _ in range(count))
        for at in times:
            while elapsed_since(self.t0) < at:
                self.poll()
                time.sleep(0.1)
            act()
        if self.generator.poll() is not None:
            self.failures.append("the generator finished before the last %s: "
                                 "not under load (raise --duration)" % what)
        while self.generator.poll() is None:
            self.poll()
            time.sleep(0.5)

    def sigterms(self):
        """SIGTERMs random workers at random moments and restarts each at
        once."""
        def act():
            w = self.rng.choice(self.workers)
            # Not before it is up (its /metrics answers: its SIGTERM handler
            # is installed by then, before it joins the group); a process
            # killed by a signal it had no time to catch says nothing.
            up_by = time.monotonic() + 30
            while w.scrape() is None and time.monotonic() < up_by:
                time.sleep(0.05)
            self.sigterm(w)
            self.restart(w)
        self.at_random_moments(self.args.sigterms, 0.05, 0.85, act, "SIGTERM")

    def pauses(self):
        """SIGSTOPs random workers for longer than the session timeout, then
        SIGCONTs them."""
        def act():
            w = self.rng.choice([w for w in self.workers if w.alive()])
            # Long enough for the new owner to restore and publish first.
            pause = SESSION_TIMEOUT_S + self.rng.uniform(6, 10)
            w.proc.send_signal(signal.SIGSTOP)
            self.log("SIGSTOP %s for %.1f s" % (w.name, pause))
            time.sleep(pause)
            w.proc.send_signal(signal.SIGCONT)
            self.stats["pauses"] += 1
            self.log("SIGCONT %s" % w.name)
        self.at_random_moments(self.args.pauses, 0.1, 0.6, act, "pause")

    # -- the end ------------------------------------------------------------------

    def settle(self, ends, timeout_s):
        """Waits until the live workers own every input partition exactly once,
        each read to its end offset, and nothing changed for STABLE_S with two
        publishes since (a publish waits for the delivery of everything queued).
        Returns {(topic, partition): metrics of its owner} or None."""
        deadline = time.monotonic() + timeout_s
        stable_since, flushes_at_stable = None, None
        want = {(t, p) for t in INPUT_TOPICS for p in ends[t]}
        last_reason = "nothing observed yet"
        while time.monotonic() < deadline:
            self.poll()
            live = [w for w in self.workers if w.alive()]
            owners, reason = {}, None
            for w in live:
                m = w.last_metrics
                if m is None:
                    reason = "%s does not answer /metrics" % w.name
                    break
                for tp, p in m["partitions"].items():
                    if tp in owners:
                        reason = "%s[%d] owned by two workers" % tp
                    owners[tp] = (w, p)
            if reason is None and set(owners) != want:
                reason = "%d of %d input partitions assigned" % (len(set(owners) & want),
                                                                 len(want))
            if reason is None:
                behind = [tp for tp, (w, p) in owners.items()
                          if p.get("next_offset") != ends[tp[0]][tp[1]]]
                if behind:
                    reason = "%d partitions not at their end offset" % len(behind)
            if reason is None:
                signature = {w.name: (w.incarnation, w.last_metrics["rebalances"]) for w in live}
                flushes = {w.name: w.last_metrics["flushes"] for w in live}
                if stable_since is None or signature != stable_since[1]:
                    stable_since, flushes_at_stable = (time.monotonic(), signature), flushes
                elif (time.monotonic() - stable_since[0] >= STABLE_S and
                      all(w.last_metrics["flushes"] >= flushes_at_stable[w.name] + 2 and
                          w.last_metrics["last_publish_s"] < 9 for w in live)):
                    return {tp: p for tp, (w, p) in owners.items()}
                reason = "waiting for %.0f s of stability" % STABLE_S
            else:
                stable_since = None
            if reason != last_reason:
                self.log("settling: " + reason)
                last_reason = reason
            time.sleep(1)
        self.failures.append("the workers did not settle within %d s: %s" %
                             (timeout_s, last_reason))
        return None

    def verify(self, counts_pb2):
        """Everything after the load: settle, stop the workers, check."""
        try:
            rc = self.generator.wait(max(60, self.args.duration * 2))
        except subprocess.TimeoutExpired:
            rc = "a timeout"
        self.gen_log.close()
        if rc != 0:
            self.failures.append("roadpulse generate ended with %s (see generate.log)" % rc)
            return {}
        with open(self.manifest_path) as f:
            manifest = json.load(f)
        produced = manifest["produced"]
        expected = manifest["expected"]
        self.log("manifest: produced %s; expected counted %d, amended %d, duplicates %d, "
                 "rejected %d" % (produced, expected["counted"], expected["amended"],
                                  expected["duplicates"], expected["rejected"]))
        servers = self.broker.servers
        ends = {t: h.topic_offsets(servers, t) for t in INPUT_TOPICS}
        for t, key in zip(INPUT_TOPICS, ("incidents", "violations")):
            if sum(ends[t].values()) != produced[key]:
                self.failures.append(
                    "%s holds %d records, the manifest says %d were produced: the mock "
                    "duplicated or dropped acknowledged input (see place_input_leaders)" %
                    (t, sum(ends[t].values()), produced[key]))
            starts = h.topic_offsets(servers, t, "beginning")
            lost = {p: o for p, o in starts.items() if o > 0}
            if lost:
                self.failures.append("the mock broker dropped input records of %s (log start "
                                     "offsets %s): the run is too big for it" % (t, lost))

        t_settle = time.monotonic()
        owners = self.settle(ends, timeout_s=self.args.settle_timeout)
        self.log("settled in %.1f s" % elapsed_since(t_settle) if owners else "did not settle")
        final_workers = [w for w in self.workers if w.alive()]

        # Reconciliation per input partition, from the owners' /metrics.
        sums = {"read": 0, "counted": 0, "amended": 0, "duplicate": 0, "rejected": 0}
        if owners:
            bad = []
            for (topic, part), p in sorted(owners.items()):
                end = ends[topic][part]
                outcomes = p.get("counted", 0) + p.get("amended", 0) + p.get("duplicate", 0) + \
                    p.get("rejected", 0)
                if p.get("read") != end or p.get("read") != outcomes:
                    bad.append("%s[%d]: end offset %d, read %s, counted+amended+duplicate+"
                               "rejected %d" % (topic, part, end, p.get("read"), outcomes))
                for k in sums:
                    sums[k] += p.get(k, 0)
            if bad:
                self.failures.append("%d partitions do not reconcile:\n  %s" %
                                     (len(bad), "\n  ".join(bad)))
            for k, mk in (("counted", "counted"), ("amended", "amended"),
                          ("duplicate", "duplicates"), ("rejected", "rejected")):
                if sums[k] != expected[mk]:
                    self.failures.append("sum over partitions of %s = %d, manifest expects %d" %
                                         (k, sums[k], expected[mk]))
            if sums["read"] != produced["total"]:
                self.failures.append("sum over partitions of read = %d, %d produced" %
                                     (sums["read"], produced["total"]))
            self.log("reconciliation over %d partitions: read %d = counted %d + amended %d + "
                     "duplicate %d + rejected %d" % (len(owners), sums["read"], sums["counted"],
                                                     sums["amended"], sums["duplicate"],
                                                     sums["rejected"]))

        # Lag monitoring: while the workers run, the group's committed offsets
        # reach the end offsets (commits are periodic, every 5 s).
        if owners:
            deadline = time.monotonic() + 20
            while True:
                committed = {t: h.committed_offsets(servers, GROUP, t) for t in INPUT_TOPICS}
                if committed == ends or time.monotonic() > deadline:
                    break
                time.sleep(1)
            behind = ["%s[%d]: committed %s, end %d" % (t, p, committed[t].get(p), end)
                      for t in INPUT_TOPICS for p, end in sorted(ends[t].items())
                      if committed[t].get(p) != end]
            if behind:
                self.failures.append("the group's committed offsets did not reach the end "
                                     "offsets within 20 s of settling:\n  " +
                                     "\n  ".join(behind))
            else:
                self.log("group offsets committed up to the end offsets")

        # Stop the final workers together (no one is left to be given their
        # partitions and start a rebuild), each within the limit.
        for w in final_workers:
            w.proc.send_signal(signal.SIGTERM)
        for w in final_workers:
            t = time.monotonic()
            try:
                rc = w.proc.wait(SIGTERM_LIMIT_S)
                if rc != 0:
                    self.failures.append("%s exited with %d on SIGTERM at the end" % (w.name, rc))
            except subprocess.TimeoutExpired:
                self.failures.append("%s did not exit within %d s of SIGTERM at the end" %
                                     (w.name, SIGTERM_LIMIT_S))
                w.kill()
            self.log("stopped %s (%.1f s)" % (w.name, elapsed_since(t)))

        # Did the mock drop records the late reader needs?
        for topic in self.watched:
            starts = h.topic_offsets(servers, topic, "beginning")
            ends_now = h.topic_offsets(servers, topic)
            for w in final_workers:
                base = (w.offsets_before_assignment or {}).get(topic, {})
                for p, start in starts.items():
                    if start > base.get(p, 0):
                        self.failures.append(
                            "%s[%d]: the mock dropped records up to offset %d, after %d where "
                            "%s's final assignment began: the late reader's view may be "
                            "incomplete (raise --counts-partitions)" %
                            (topic, p, start, base.get(p, 0), w.name))
            self.log("%s: %d records, %d dropped by the mock (log start offsets), %d partitions" %
                     (topic, sum(ends_now.values()), sum(starts.values()), len(starts)))

        # The DLQ against the manifest's rejects.
        dlq = h.read_topic(servers, "roadpulse.dlq", timeout_s=300)
        dlq_failures, by_source = h.check_dlq(dlq, manifest, allow_repeats=True)
        self.failures += dlq_failures
        self.log("DLQ: %d records, %d distinct source records; manifest rejects %d" %
                 (len(dlq), len(by_source), expected["rejected"]))

        # The counts, as a late reader sees them.
        t_read = time.monotonic()
        newest, n = h.newest_counts(servers, timeout_s=600)
        tz = zoneinfo.ZoneInfo(manifest.get("time_zone", "Asia/Shanghai"))
        actual, keys = h.counts_by_region_day(newest, counts_pb2, tz)
        if self.args.tamper_manifest:
            # Self-check of the harness: a wrong manifest must give FAIL.
            region = sorted(manifest["counts"])[0]
            day = sorted(manifest["counts"][region])[0]
            metric = sorted(manifest["counts"][region][day])[0]
            manifest["counts"][region][day][metric] += 1
            self.log("--tamper-manifest: %s %s %s + 1" % (region, day, metric))
        count_failures, cells = h.check_counts(actual, manifest)
        self.failures += count_failures
        self.log("roadpulse.counts: read %d records in %.1f s, %d live keys; compared %d "
                 "region/day/metric cells with the manifest: %s" %
                 (n, elapsed_since(t_read), keys, cells,
                  "all equal" if not count_failures else "DIFFERENT"))
        return {"events": produced["total"], "cells": cells, "dlq_distinct": len(by_source),
                "dlq_records": len(dlq), "count_records": n}

    def stop_all(self):
        """Stops every process started, whatever fails on the way (a broker
        left running would outlive the test)."""
        steps = [lambda w=w: h.stop(w.proc, w.name) for w in self.workers if w.alive()]
        if self.generator is not None:
            steps.append(lambda: h.stop(self.generator, "generate"))
        if self.sampler is not None:
            steps.append(self.sampler.close)
        if self.broker is not None:
            steps.append(self.broker.stop)
        for step in steps:
            try:
                step()
            except Exception as e:  # noqa: BLE001 (keep stopping the others)
                self.failures.append("harness error while stopping: %r" % e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--roadpulse", required=True, help="the roadpulse executable")
    ap.add_argument("--pb2", required=True, help="directory of the generated *_pb2 modules")
    ap.add_argument("--source", default=os.path.join(os.path.dirname(__file__), ".."),
                    help="source tree (for deploy/config/scenarios/binzhou-2025.toml)")
    ap.add_argument("--mode", choices=("chaos", "rolling", "sigterms", "pauses"), default="chaos")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--brokers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12, help="partitions of each input topic")
    ap.add_argument("--counts-partitions", type=int, default=0,
                    help="partitions of roadpulse.counts (default: 2 x --partitions)")
    ap.add_argument("--events", type=int, default=520_000)
    ap.add_argument("--kills", type=int, default=10, help="SIGKILLs (chaos mode)")
    ap.add_argument("--sigterms", type=int, default=12, help="SIGTERMs (sigterms mode)")
    ap.add_argument("--pauses", type=int, default=3, help="SIGSTOP/SIGCONTs (pauses mode)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=120,
                    help="seconds over which the generator produces (the load)")
    ap.add_argument("--settle-timeout", type=float, default=240)
    ap.add_argument("--keep", action="store_true", help="keep the logs directory")
    ap.add_argument("--tamper-manifest", action="store_true",
                    help="add 1 to one manifest count before comparing, to see the harness "
                         "FAIL (a self-check; never in the suite)")
    args = ap.parse_args()
    if args.mode == "chaos" and args.kills > 0 and args.workers < 2:
        ap.error("--mode chaos needs --workers >= 2 (one of them is killed for good)")
    counts_pb2, _ = h.import_pb2(args.pb2)

    tmp = tempfile.mkdtemp(prefix="roadpulse-%s-" % args.mode)
    run = Run(args, tmp)
    summary = {}
    try:
        run.broker = h.Broker(args.roadpulse, args.partitions, brokers=args.brokers,
                              counts_partitions=args.counts_partitions or 2 * args.partitions,
                              control=True, log_path=os.path.join(tmp, "broker.log"))
        if args.mode == "chaos":
            run.place_input_leaders()
        run.sampler = OffsetSampler(run.broker.servers, run.watched)
        offsets = run.sample_offsets()
        for i in range(1, args.workers + 1):
            w = Worker(i, args, run.broker.servers, tmp)
            w.start(offsets)
            run.workers.append(w)
        run.start_generator(rate=args.events / args.duration)
        if args.mode == "chaos":
            run.chaos(args.duration)
        elif args.mode == "rolling":
            run.rolling(args.duration)
        elif args.mode == "pauses":
            run.pauses()
        else:
            run.sigterms()
        summary = run.verify(counts_pb2)
    except Exception as e:  # noqa: BLE001 (any harness error is a FAIL with its reason)
        run.failures.append("harness error: %r" % e)
    finally:
        run.stop_all()

    s = run.stats
    line = ("mode=%s workers=%d partitions=%d events=%s kills=%d restarts=%d sigterms=%d "
            "pauses=%d%s faults=%d elapsed=%.0fs seed=%d" %
            (args.mode, args.workers, args.partitions, summary.get("events", "?"), s["kills"],
             s["restarts"], s["sigterms"], s["pauses"],
             " (slowest exit %.1fs)" % s["sigterm_max_s"] if s["sigterms"] else "",
             len(s["faults"]), elapsed_since(run.t0), args.seed))
    h.log("summary: faults injected: %s" % (", ".join(s["faults"]) or "none"))
    h.log("summary: %s" % ", ".join("%s=%s" % kv for kv in sorted(summary.items())))
    if args.mode == "chaos":
        if s["kills"] < args.kills:
            run.failures.append("only %d of %d kills happened" % (s["kills"], args.kills))
    if run.failures:
        for w in run.workers:
            h.log("--- last lines of %s ---\n%s" % (w.name, w.tail()))
        h.log("logs kept in " + tmp)
        h.log("CHAOS VERDICT: FAIL %s: %s" % (line, run.failures[0].splitlines()[0]))
        for f in run.failures:
            h.log("  - " + f)
        return 1
    if args.keep:
        h.log("logs kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    h.log("CHAOS VERDICT: PASS %s" % line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
