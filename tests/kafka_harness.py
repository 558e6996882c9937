"""Shared helpers for roadpulse's Python integration tests.

Processes are started with bounded waits and always cleaned up; Kafka is read
with kafka-python (an independent client; api_version is NOT pinned, since
the mock broker needs auto-detection).
"""
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def log(*args):
    print(*args, flush=True)


def fail(message):
    log("FAIL: " + message)
    sys.exit(1)


@contextlib.contextmanager
def broker(roadpulse, partitions, timeout_s=30):
    """Runs `roadpulse broker`; yields its bootstrap servers."""
    proc = subprocess.Popen([roadpulse, "broker", "--partitions", str(partitions)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise RuntimeError("roadpulse broker printed nothing within %d s" % timeout_s)
        first = proc.stdout.readline().strip()
        if not first.startswith("bootstrap.servers="):
            raise RuntimeError("unexpected first line from roadpulse broker: %r" % first)
        servers = first.split("=", 1)[1]
        log("broker at", servers)
        yield servers
    finally:
        stop(proc, "broker")


def stop(proc, name, timeout_s=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log("%s did not stop on SIGTERM; killing it" % name)
            proc.kill()
            proc.wait()


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


def read_topic(servers, topic, timeout_s=120):
    """Every record of `topic` up to the current end offsets, as
    (partition, offset, key, value, headers) tuples sorted by partition and offset."""
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
        records = []
        while remaining:
            if time.monotonic() > deadline:
                raise RuntimeError("reading %s: %d partitions not at their end" %
                                   (topic, len(remaining)))
            for tp, msgs in consumer.poll(timeout_ms=500, max_records=100000).items():
                for m in msgs:
                    if m.offset < end[tp]:
                        records.append((m.partition, m.offset, m.key, m.value,
                                        list(m.headers or [])))
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        records.sort(key=lambda r: (r[0], r[1]))
        return records
    finally:
        consumer.close()


def import_pb2(pb2_dir):
    sys.path.insert(0, pb2_dir)
    from roadpulse.v1 import counts_pb2, events_pb2  # noqa: E402 (generated at build time)
    return counts_pb2, events_pb2


def counts_by_region_day(records, counts_pb2, tz):
    """Newest CountRecord per key (a null value deletes the key), day buckets
    only, summed over source partitions:
    {region_code: {"YYYY-MM-DD": {metric: value}}} with non-zero values only.
    Returns it and the number of live keys of any width."""
    import datetime
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
