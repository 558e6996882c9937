"""Shared helpers for roadpulse's Python integration tests.

Processes are started with bounded waits and always cleaned up; Kafka is read
with kafka-python (an independent client; api_version is NOT pinned, since
the mock broker needs auto-detection).
"""
import collections
import contextlib
import gzip
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def log(*args):
    print(*args, flush=True)


def verdict(failures):
    """Logs each failure, then FAIL or PASS; returns the exit code (1 or 0)."""
    for f in failures:
        log("FAIL: " + f)
    log("PASS" if not failures else "FAIL: %d check(s)" % len(failures))
    return 1 if failures else 0


def fail(message):
    log("FAIL: " + message)
    sys.exit(1)


def check(failures, ok, what, detail):
    """Logs one outcome ("ok"/"BAD"); a bad one is added to failures."""
    log("%-4s %s: %s" % ("ok" if ok else "BAD", what, detail))
    if not ok:
        failures.append("%s: %s" % (what, detail))


def last_lines(text, n=2):
    return " | ".join(text.strip().splitlines()[-n:])


def gzip_jsonl_kinds(path):
    """The records of a gzip-compressed JSON Lines event log, by kind:
    ({"incidents": N, "violations": N, "total": N}, None), or what it read
    and the error that stopped it, as text."""
    kinds = collections.Counter()
    error = None
    try:
        with gzip.open(path, "rt") as f:
            for line in f:
                kinds[json.loads(line)["kind"]] += 1
    except (OSError, ValueError, KeyError) as e:
        error = "%s: %s" % (type(e).__name__, e)
    return {"incidents": kinds["EVENT_KIND_INCIDENT"], "violations": kinds["EVENT_KIND_VIOLATION"],
            "total": sum(kinds.values())}, error


class Broker:
    """A running `roadpulse broker`. With control=True its stdin takes
    fault-injection commands (see `roadpulse broker --help`): command()
    sends one and returns the broker's one-line answer."""

    def __init__(self, roadpulse, partitions, brokers=1, counts_partitions=None, control=False,
                 log_path=None, timeout_s=30):
        args = [roadpulse, "broker", "--partitions", str(partitions), "--brokers", str(brokers)]
        if counts_partitions:
            args += ["--counts-partitions", str(counts_partitions)]
        if control:
            args.append("--control")
        self._log = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE if control else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self._log or subprocess.DEVNULL, text=True)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            first = self._read_line(timeout_s, "its bootstrap.servers line")
            if not first.startswith("bootstrap.servers="):
                raise RuntimeError("unexpected first line from roadpulse broker: %r" % first)
        except BaseException:
            self.stop()
            raise
        self.servers = first.split("=", 1)[1]
        log("broker at", self.servers)

    def _read_line(self, timeout_s, what):
        if not self._sel.select(timeout_s):
            raise RuntimeError("roadpulse broker printed no %s within %d s" % (what, timeout_s))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("roadpulse broker exited (code %s) instead of printing %s" %
                               (self.proc.poll(), what))
        return line.strip()

    def command(self, line, timeout_s=10):
        """Sends one control command; returns the answer ("ok ..." or "error: ...")."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read_line(timeout_s, "answer to %r" % line)

    def stop(self):
        stop(self.proc, "broker")
        if self._log:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@contextlib.contextmanager
def broker(roadpulse, partitions, timeout_s=30):
    """Runs `roadpulse broker`; yields its bootstrap servers."""
    b = Broker(roadpulse, partitions, timeout_s=timeout_s)
    try:
        yield b.servers
    finally:
        b.stop()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, name, timeout_s=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log("%s did not stop on SIGTERM; killing it" % name)
            proc.kill()
            proc.wait()


def signal_and_wait(proc, sig, timeout_s):
    """Sends sig to proc and waits for it to exit, reading what is left of
    its piped stderr (None if stderr is not a pipe). A process still running
    after timeout_s is killed (its returncode then says SIGKILL). Returns
    (returncode, stderr, seconds from the signal to the exit)."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log("pid %d did not exit within %g s of %s; killing it" % (
            proc.pid, timeout_s, signal.Signals(sig).name))
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err, time.monotonic() - t0


def run_command(args, timeout_s, name):
    """Runs a command to completion (bounded); returns its exit code."""
    log("$", " ".join(args))
    proc = subprocess.Popen(args)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        log("%s did not finish within %d s" % (name, timeout_s))
        return -1
    finally:
        stop(proc, name)


def topic_offsets(servers, topic, which="end"):
    """{partition: offset}: the end offsets of `topic` (the next offset to be
    written), or with which="beginning" the log start offsets (above 0 once
    the broker has dropped old records)."""
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=None)
    try:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            raise RuntimeError("topic %s not found" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        got = consumer.end_offsets(tps) if which == "end" else consumer.beginning_offsets(tps)
        return {tp.partition: off for tp, off in got.items()}
    finally:
        consumer.close()


def committed_offsets(servers, group, topic):
    """{partition: offset} committed by consumer group `group` on `topic`
    (None where it committed nothing), read without joining the group."""
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=group,
                             enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return {p: consumer.committed(TopicPartition(topic, p)) for p in sorted(parts)}
    finally:
        consumer.close()


def for_each_record(servers, topic, fn, timeout_s=120):
    """Calls fn(partition, offset, key, value, headers) for every record of
    `topic` from its beginning up to the end offsets at the call, in offset
    order within each partition. Returns the number of records."""
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                time.sleep(0.1)
        if partitions is None:
            raise RuntimeError("topic %s not found" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        n = 0
        while remaining:
            if time.monotonic() > deadline:
                raise RuntimeError("reading %s: %d partitions not at their end after %d s" %
                                   (topic, len(remaining), timeout_s))
            for tp, msgs in consumer.poll(timeout_ms=500, max_records=100000).items():
                for m in msgs:
                    if m.offset < end[tp]:
                        fn(m.partition, m.offset, m.key, m.value, list(m.headers or []))
                        n += 1
            for tp in list(remaining):
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return n
    finally:
        consumer.close()


def read_topic(servers, topic, timeout_s=120):
    """Every record of `topic` up to the current end offsets, as
    (partition, offset, key, value, headers) tuples sorted by partition and offset."""
    records = []
    for_each_record(servers, topic, lambda *r: records.append(r), timeout_s)
    records.sort(key=lambda r: (r[0], r[1]))
    return records


def import_pb2(pb2_dir):
    sys.path.insert(0, pb2_dir)
    from roadpulse.v1 import counts_pb2, events_pb2  # noqa: E402 (generated at build time)
    return counts_pb2, events_pb2


def newest_counts(servers, timeout_s=300):
    """{key: value} of roadpulse.counts: the newest record per key, as a late
    reader (or log compaction) keeps it; None values are tombstones. Streams:
    the topic may hold millions of republished records."""
    newest = {}

    def keep(partition, offset, key, value, headers):
        newest[key] = value  # offset order within each key's partition

    n = for_each_record(servers, "roadpulse.counts", keep, timeout_s)
    return newest, n


def counts_by_region_day(records, counts_pb2, tz):
    """Newest CountRecord per key (a null value deletes the key), day buckets
    only, summed over source partitions:
    {region_code: {"YYYY-MM-DD": {metric: value}}} with non-zero values only.
    `records`: (partition, offset, key, value, headers) in offset order, or a
    {key: newest value} dict (newest_counts()).
    Returns it and the number of live keys of any width."""
    import datetime
    if isinstance(records, dict):
        newest = records
    else:
        newest = {}
        for partition, offset, key, value, _ in records:
            newest[key] = value  # records are in offset order within each key's partition
    totals = {}
    for value in newest.values():
        if value is None:
            continue  # a tombstone: the worker evicted a minute/hour bucket
        rec = counts_pb2.CountRecord()
        rec.ParseFromString(value)
        if rec.width != counts_pb2.BUCKET_WIDTH_DAY:
            continue  # minute and hour buckets repeat the day buckets' counts
        day = datetime.datetime.fromtimestamp(rec.bucket_start_unix_s, tz).date().isoformat()
        metrics = totals.setdefault(rec.region_code, {}).setdefault(day, {})
        for mv in rec.values:
            metrics[mv.metric] = metrics.get(mv.metric, 0) + mv.value
    # Drop zeros (a bucket whose values went back to 0 after an amendment).
    clean = {}
    for region, days in totals.items():
        for day, metrics in days.items():
            nz = {m: v for m, v in metrics.items() if v != 0}
            if nz:
                clean.setdefault(region, {})[day] = nz
    return clean, sum(1 for v in newest.values() if v is not None)


def manifest_truth(manifest):
    """The manifest's counts, {region: {day: {metric: value}}}, non-zero only
    (the form counts_by_region_day returns)."""
    truth = {region: {day: {m: v for m, v in metrics.items() if v}
                      for day, metrics in days.items() if any(metrics.values())}
             for region, days in manifest["counts"].items()}
    return {r: d for r, d in truth.items() if d}


def check_counts(actual, manifest):
    """Compares counts_by_region_day's result with the manifest for every
    region, day and metric. Returns (failures, number of cells compared)."""
    truth = manifest_truth(manifest)
    diffs, n = diff_counts(truth, actual)
    cells = sum(len(m) for days in truth.values() for m in days.values())
    failures = []
    if n:
        failures.append("%d of %d count cells differ:\n  %s" % (n, cells, "\n  ".join(diffs)))
    return failures, cells


def check_dlq(dlq, manifest, allow_repeats):
    """Checks roadpulse.dlq records (read_topic tuples) against the manifest:
    each record names its source (roadpulse.source.topic/partition/offset
    headers) and reason; the distinct sources are exactly the manifest's
    rejects, with its per-reason totals and each key's reason.
    allow_repeats: a source may be dead-lettered more than once (a partition
    re-read after a rebalance or crash dead-letters its bad records again),
    but always with the same key and reason.
    Returns (failures, {source: (key, reason)})."""
    failures = []
    by_source = {}
    for _, _, key, value, headers in dlq:
        hd = {k: v.decode() for k, v in headers if k.startswith("roadpulse.")}
        src = (hd.get("roadpulse.source.topic"), hd.get("roadpulse.source.partition"),
               hd.get("roadpulse.source.offset"))
        if None in src or "roadpulse.reason" not in hd:
            failures.append("DLQ record without source/reason headers: %r" % (hd,))
            continue
        entry = (key.decode() if key else "", hd["roadpulse.reason"])
        if src in by_source and by_source[src] != entry:
            failures.append("source record %s dead-lettered as %s and as %s" %
                            (src, by_source[src], entry))
        by_source[src] = entry
    if not allow_repeats and len(by_source) != len(dlq):
        failures.append("%d DLQ records but %d distinct source records" %
                        (len(dlq), len(by_source)))
    expected = manifest["expected"]
    reasons = collections.Counter(reason for _, reason in by_source.values())
    if dict(reasons) != expected["rejected_by_reason"]:
        failures.append("DLQ reasons %s != manifest %s" %
                        (dict(reasons), expected["rejected_by_reason"]))
    rejects = manifest.get("rejects", {})
    wrong = [(k, r, rejects.get(k)) for k, r in by_source.values()
             if k in rejects and rejects[k] != r]
    missing = [k for k, _ in by_source.values() if k not in rejects]
    if wrong:
        failures.append("%d DLQ records with another reason than the manifest's, e.g. %s" %
                        (len(wrong), wrong[:3]))
    if rejects and missing:
        failures.append("%d DLQ records the manifest does not list, e.g. %s" %
                        (len(missing), missing[:3]))
    return failures, by_source


def parse_metrics(text):
    """Prometheus text -> [(name, {label: value}, float)] (no escapes in our labels)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        pairs = {}
        for item in labels.rstrip("}").split(","):
            if "=" in item:
                k, v = item.split("=", 1)
                pairs[k] = v.strip('"')
        out.append((name, pairs, float(value)))
    return out


def diff_counts(expected, actual, limit=20):
    """Human-readable differences between two {region: {day: {metric: v}}}."""
    out = []
    for region in sorted(set(expected) | set(actual)):
        e_days, a_days = expected.get(region, {}), actual.get(region, {})
        for day in sorted(set(e_days) | set(a_days)):
            e, a = e_days.get(day, {}), a_days.get(day, {})
            for metric in sorted(set(e) | set(a)):
                if e.get(metric, 0) != a.get(metric, 0):
                    out.append("%s %s %s: expected %d, got %d" %
                               (region, day, metric, e.get(metric, 0), a.get(metric, 0)))
    return out[:limit], len(out)
