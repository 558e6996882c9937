"""The Python baseline of bench/e2e_bench.py (issue 8, case d).

A straightforward program an analyst might write: confluent-kafka consumes
both input topics from the beginning, python-protobuf decodes each record,
ids are deduplicated (a higher revision of an accident replaces the counted
one), and accidents, deaths, injuries and violations by type are counted per
region and local day. It checks less than roadpulse (an empty id or region,
bytes that do not parse, counts out of bounds; not the time, alcohol and
region-table rules, nor the subset metrics and roll-ups), so it does less
work per record than `roadpulse run`. Stops when every partition is at its end; prints the
records read, the seconds taken and the totals.

  /usr/bin/python3 bench/python_baseline.py --bootstrap-servers B --pb2 DIR
"""
import argparse
import collections
import datetime
import sys
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

CHINA = datetime.timezone(datetime.timedelta(hours=8))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap-servers", required=True)
    ap.add_argument("--pb2", required=True, help="directory of the generated *_pb2 modules")
    ap.add_argument("--topics", default="roadpulse.incidents,roadpulse.violations")
    args = ap.parse_args()
    sys.path.insert(0, args.pb2)
    from roadpulse.v1 import events_pb2  # noqa: E402 (generated at build time)

    consumer = Consumer({"bootstrap.servers": args.bootstrap_servers,
                         "group.id": "python-baseline-%d" % time.time_ns(),
                         "enable.partition.eof": True, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    topics = args.topics.split(",")
    assignment = []
    for t in topics:
        md = consumer.list_topics(t, timeout=10).topics[t]
        assignment += [TopicPartition(t, p, 0) for p in md.partitions]
    start = time.monotonic()
    consumer.assign(assignment)
    remaining = len(assignment)
    seen_accidents = {}   # id -> (revision, region, day, deaths, injuries)
    seen_violations = set()
    counts = collections.Counter()  # (region, day, metric) -> n
    records = 0
    bad = 0
    incident = events_pb2.IncidentEvent()
    violation = events_pb2.ViolationEvent()
    while remaining > 0:
        for msg in consumer.consume(num_messages=10000, timeout=0.5):
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    remaining -= 1
                continue
            records += 1
            try:
                if msg.topic() == topics[0]:
                    incident.ParseFromString(msg.value())
                    e = incident
                else:
                    violation.ParseFromString(msg.value())
                    e = violation
            except Exception:  # not protobuf / truncated
                bad += 1
                continue
            if not e.id or not e.location.region_code:
                bad += 1
                continue
            # roadpulse's count bounds (ProcessorOptions max_deaths, max_injuries); the
            # other validation rules (times, alcohol, regions) are not repeated here.
            if e is incident and not (0 <= e.deaths <= 500 and 0 <= e.injuries <= 5000):
                bad += 1
                continue
            day = datetime.datetime.fromtimestamp(e.occurred_at.seconds, CHINA).date()
            region = e.location.township_code or e.location.region_code
            if e is incident:
                old = seen_accidents.get(e.id)
                if old is not None and old[0] >= e.revision:
                    continue
                if old is not None:
                    _, r, d, deaths, injuries = old
                    counts[(r, d, "accidents")] -= 1
                    counts[(r, d, "deaths")] -= deaths
                    counts[(r, d, "injuries")] -= injuries
                seen_accidents[e.id] = (e.revision, region, day, e.deaths, e.injuries)
                counts[(region, day, "accidents")] += 1
                counts[(region, day, "deaths")] += e.deaths
                counts[(region, day, "injuries")] += e.injuries
            else:
                if e.id in seen_violations:
                    continue
                seen_violations.add(e.id)
                counts[(region, day, events_pb2.ViolationType.Name(e.type))] += 1
    seconds = time.monotonic() - start
    consumer.close()
    totals = collections.Counter()
    for (_, _, metric), n in counts.items():
        totals[metric] += n
    print("records=%d seconds=%.3f bad=%d accidents=%d deaths=%d injuries=%d" % (
        records, seconds, bad, totals["accidents"], totals["deaths"], totals["injuries"]))


if __name__ == "__main__":
    main()
