#!/usr/bin/python3
"""Interop test: events produced by an independent client are counted exactly.

kafka-python (not librdkafka) and python-protobuf (compiled from our .proto)
produce a random mix of IncidentEvents and ViolationEvents, including exact
duplicates and amendments, to a `roadpulse broker`. `roadpulse run
--stop-at-end` consumes them; then kafka-python reads roadpulse.counts back,
keeps the newest CountRecord per key, sums over source partitions and compares
with the totals this script computed itself from the metric definitions in
processors/README.md (the ground truth, independent of the C++ code).

Usage: interop_test.py --roadpulse BIN --pb2 DIR --regions FILE [--seed N]
"""
import argparse
import datetime
import random
import sys
import time
import tomllib
import zoneinfo

from kafka import KafkaProducer

import kafka_harness as h

E3E4 = (1, 2)  # VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE / _QUADRICYCLE
ORDINARY, ON_SITE, SIMPLE, VIDEO = 3, 1, 2, 4  # Handling
RURAL = 5  # ROAD_CLASS_TOWNSHIP_VILLAGE
KEY_TYPES = {1: "drink_driving", 2: "drunk_driving", 3: "speeding", 4: "overload",
             5: "over_capacity", 6: "fatigue"}


def add(expected, unit, day, metric, value):
    if value:
        d = expected.setdefault(unit, {}).setdefault(day, {})
        d[metric] = d.get(metric, 0) + value


def incident_metrics(e):
    """Contribution of one accident revision, per processors/README.md."""
    m = {"deaths": e.deaths, "injuries": e.injuries, "property_loss_yuan": e.property_loss_yuan}
    e3e4 = any(v in E3E4 for v in e.vehicles)
    if e.handling == ORDINARY:
        m["accidents"] = 1
        if e3e4:
            m["e3e4_accidents"] = 1
            m["e3e4_deaths"] = e.deaths
            m["e3e4_injuries"] = e.injuries
        if e.alcohol_involved:
            m["alcohol_accidents"] = 1
        if e.location.road_class == RURAL:
            m["rural_accidents"] = 1
    else:
        m["minor_accidents"] = 1
        if e.handling == VIDEO:
            m["video_handled"] = 1
    return m


def violation_metric(e):
    t = e.type
    if t == 8:  # VIOLATION_TYPE_ALCOHOL: by measurement
        t = 2 if e.blood_alcohol_mg_100ml >= 80 else 1
    return KEY_TYPES.get(t, "other_violations"), t in KEY_TYPES


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    ap.add_argument("--pb2", required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--seed", type=int, default=20250905)
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--violations", type=int, default=300)
    args = ap.parse_args()
    counts_pb2, events_pb2 = h.import_pb2(args.pb2)
    rng = random.Random(args.seed)

    with open(args.regions, "rb") as f:
        table = tomllib.load(f)
    tz = zoneinfo.ZoneInfo(table["time_zone"])
    city = table["city"]["code"]
    counties = [u["code"] for u in table["units"] if u["parent"] == city]
    townships = {}
    for u in table["units"]:
        if u["parent"] in counties:
            townships.setdefault(u["parent"], []).append(u["code"])

    now = int(time.time())
    # Local midnight of today, and instants in the last 40 days, some exactly
    # at local midnight (the day boundary) or one second before it.
    today = datetime.datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)

    def instant():
        day = today - datetime.timedelta(days=rng.randint(1, 40))
        r = rng.random()
        if r < 0.1:
            return int(day.timestamp())          # 00:00:00 local
        if r < 0.2:
            return int(day.timestamp()) - 1      # 23:59:59 the day before
        return int(day.timestamp()) + rng.randint(0, 86399)

    def place(loc):
        county = rng.choice(counties)
        loc.region_code = county
        if county in townships and rng.random() < 0.5:
            loc.township_code = rng.choice(townships[county])
            return loc.township_code
        return county

    def day_of(ts):
        return datetime.datetime.fromtimestamp(ts, tz).date().isoformat()

    expected = {}
    # Messages to send, in order: (topic, key, bytes). Keyed by region code as
    # proto/README.md says; an amendment keeps its region, so it lands on the
    # same partition as the revision it amends.
    sends = []
    final = {}  # accident id -> (unit, day, newest revision's event)
    produced = {"incidents": 0, "violations": 0, "duplicates": 0, "amendments": 0}
    for i in range(args.incidents):
        e = events_pb2.IncidentEvent()
        e.id = "py-acc-%05d" % i
        e.revision = 1
        occurred = instant()
        e.occurred_at.seconds = occurred
        e.reported_at.seconds = min(occurred + rng.randint(60, 7200), now)
        unit = place(e.location)
        e.location.road_class = rng.randint(1, 7)
        e.handling = rng.choice([ORDINARY] * 6 + [ON_SITE, SIMPLE, VIDEO, VIDEO])
        e.severity = 2 if e.handling == ORDINARY else 1
        e.deaths = rng.choice([0, 0, 0, 1, 2]) if e.handling == ORDINARY else 0
        e.injuries = rng.randint(0, 4) if e.handling in (ORDINARY, SIMPLE) else 0
        e.vehicles.extend(rng.sample(range(1, 12), rng.randint(1, 3)))
        e.alcohol_involved = rng.random() < 0.15
        e.property_loss_yuan = rng.randint(0, 80000)
        payload = e.SerializeToString()
        sends.append(("roadpulse.incidents", e.location.region_code, payload))
        final[e.id] = (unit, day_of(occurred), e)
        produced["incidents"] += 1
        if rng.random() < 0.05:  # exact duplicate, later
            sends.append(("roadpulse.incidents", e.location.region_code, payload))
            produced["duplicates"] += 1
        if e.handling == ORDINARY and e.injuries > 0 and rng.random() < 0.15:
            a = events_pb2.IncidentEvent()
            a.CopyFrom(e)
            a.revision = 2  # an injured person died within 7 days
            a.injuries -= 1
            a.deaths += 1
            a.reported_at.seconds = max(min(occurred + 3 * 86400, now), e.reported_at.seconds)
            sends.append(("roadpulse.incidents", a.location.region_code, a.SerializeToString()))
            final[a.id] = (unit, day_of(occurred), a)
            produced["amendments"] += 1
    for unit, day, e in final.values():
        for metric, value in incident_metrics(e).items():
            add(expected, unit, day, metric, value)

    for i in range(args.violations):
        v = events_pb2.ViolationEvent()
        v.id = "py-vio-%05d" % i
        occurred = instant()
        v.occurred_at.seconds = occurred
        v.reported_at.seconds = min(occurred + rng.randint(0, 600), now)
        unit = place(v.location)
        v.type = rng.randint(1, 8)
        if v.type == 1 and rng.random() < 0.7:
            v.blood_alcohol_mg_100ml = rng.uniform(20, 79.9)
        elif v.type == 2 and rng.random() < 0.7:
            v.blood_alcohol_mg_100ml = rng.uniform(80, 250)
        elif v.type == 8:
            v.blood_alcohol_mg_100ml = rng.choice([rng.uniform(20, 79.9), rng.uniform(80, 250)])
        v.vehicle = rng.randint(1, 11)
        payload = v.SerializeToString()
        sends.append(("roadpulse.violations", v.location.region_code, payload))
        produced["violations"] += 1
        if rng.random() < 0.05:
            sends.append(("roadpulse.violations", v.location.region_code, payload))
            produced["duplicates"] += 1
        metric, key = violation_metric(v)
        add(expected, unit, day_of(occurred), metric, 1)
        if key:
            add(expected, unit, day_of(occurred), "key_violations", 1)

    # Records without an event: a null value (a tombstone, as a compacting
    # producer might send) and an empty one, on each input topic. Each must
    # reach the DLQ as it was, refused as not_protobuf (zero bytes would
    # parse as an event with no id).
    no_value = {("roadpulse.incidents", "py-null-inc"): None,
                ("roadpulse.incidents", "py-empty-inc"): b"",
                ("roadpulse.violations", "py-null-vio"): None,
                ("roadpulse.violations", "py-empty-vio"): b""}
    for (topic, key), value in no_value.items():
        sends.insert(rng.randrange(len(sends) + 1), (topic, key, value))

    with h.broker(args.roadpulse, partitions=4) as servers:
        producer = KafkaProducer(bootstrap_servers=servers, acks="all")
        for topic, key, value in sends:
            producer.send(topic, key=key.encode(), value=value,
                          headers=[("producer", b"kafka-python")])
        producer.flush(60)
        producer.close()
        h.log("produced %d records with kafka-python: %s" % (len(sends), produced))

        # gzip instead of the default lz4: Debian's kafka-python cannot
        # decompress lz4 without python3-lz4 (not installed).
        rc = h.run_command([args.roadpulse, "run", "--bootstrap-servers", servers,
                            "--regions", args.regions, "--stop-at-end", "--group", "interop",
                            "-X", "compression.type=gzip"],
                           timeout_s=180, name="roadpulse run")
        if rc != 0:
            h.fail("roadpulse run exited with %d" % rc)

        dlq = h.read_topic(servers, "roadpulse.dlq")
        letters = {}
        for _, _, key, value, headers in dlq:
            hd = {k: v.decode() for k, v in headers}
            letters[(hd.get("roadpulse.source.topic"), key.decode())] = (
                value, hd.get("roadpulse.reason"), hd.get("roadpulse.detail"))
        want = {k: (v, "not_protobuf") for k, v in no_value.items()}
        got = {k: v[:2] for k, v in letters.items()}
        if len(dlq) != len(no_value) or got != want:
            h.fail("dead letters %s (%d records), expected only the records without an event "
                   "%s" % (sorted(letters.items())[:6], len(dlq), sorted(want.items())))
        for (topic, key), (value, reason, detail) in sorted(letters.items()):
            h.log("dead-lettered %s %s, value %r: %s: %s" % (topic, key, value, reason, detail))
        records = h.read_topic(servers, "roadpulse.counts")
        actual, keys = h.counts_by_region_day(records, counts_pb2, tz)
        h.log("read %d count records (%d keys) from roadpulse.counts" % (len(records), keys))

    diffs, n = h.diff_counts(expected, actual)
    if n:
        h.fail("%d count differences:\n  %s" % (n, "\n  ".join(diffs)))
    cells = sum(len(m) for days in expected.values() for m in days.values())
    totals = {}
    for days in expected.values():
        for metrics in days.values():
            for k, v in metrics.items():
                totals[k] = totals.get(k, 0) + v
    h.log("OK: %d region/day/metric cells equal; totals %s" % (cells, dict(sorted(totals.items()))))


if __name__ == "__main__":
    sys.exit(main())
