#!/usr/bin/python3
"""Pipeline integration test (issue 2's acceptance): the binzhou-2025 scenario
through the whole pipeline over TCP on the mock cluster.

  roadpulse broker --partitions 8
  roadpulse generate --scenario binzhou-2025 --seed S --bootstrap-servers B --truth manifest.json
  roadpulse run --bootstrap-servers B --stop-at-end

then, with kafka-python (a client independent of our C++ code):
  - every input record is accounted for: the input topics hold exactly
    manifest.produced.total records;
  - roadpulse.counts (newest record per key, summed over source partitions)
    equals manifest.counts for every region, day and metric;
  - roadpulse.dlq holds exactly the bad records: per-reason totals equal
    manifest.expected.rejected_by_reason, and each DLQ record's key has the
    reason the manifest lists for it;
  - counted + amended + duplicates + dead-lettered == produced, with the
    worker's own tallies equal to the manifest's.

Usage: pipeline_test.py --roadpulse BIN --pb2 DIR [--seed N] [--events N]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zoneinfo

import kafka_harness as h

MIN_EVENTS = 300_000


def end_offsets_total(servers, topic):
    ends = h.topic_offsets(servers, topic)
    return sum(ends.values()), len(ends)


# The figures the Binzhou report of 5 September 2025 published for
# 1 January - 31 August 2025 against the same period of 2024.
REPORT_FIGURES = {
    "accidents": "-11.29", "deaths": "-14.04", "injuries": "-17.78",  # 全市, two decimals
    "e3e4_accidents": "-69.8", "e3e4_injuries": "-62.5",               # 主城区 电三电四, one
}
REPORT_SENTENCE_PARTS = ["下降11.29%、14.04%、17.78%", "下降69.8%、62.5%", "13.9万", "3万余"]


def report_percent(value, last_year, decimals):
    """(value - last_year) / last_year * 100, rounded half away from zero."""
    from decimal import Decimal, ROUND_HALF_UP
    exact = (Decimal(value) - Decimal(last_year)) / Decimal(last_year) * 100
    return str(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def check_report(roadpulse, servers):
    """`roadpulse report` for the report's period and the city, in text, JSON
    and English: the published figures, exactly."""
    failures = []
    base = [roadpulse, "report", "--bootstrap-servers", servers, "--from", "2025-01-01",
            "--to", "2025-09-01", "--region", "371600"]

    def run(extra):
        r = subprocess.run(base + extra, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            failures.append("%s exited with %d: %s" % (" ".join(base[1:2] + extra), r.returncode,
                                                        r.stderr[-2000:]))
        return r.stdout

    text = run([])
    h.log("report (text):\n%s" % "\n".join(text.splitlines()[:6]))
    for part in REPORT_SENTENCE_PARTS:
        if part not in text:
            failures.append("report text lacks %r" % part)

    out = run(["--format", "json"])
    try:
        report = json.loads(out)
    except ValueError as e:
        failures.append("report --format json is not JSON (%s): %r" % (e, out[:300]))
        return failures
    sentences = "\n".join(report.get("sentences", []))
    for part in REPORT_SENTENCE_PARTS:
        if part not in sentences:
            failures.append("report JSON sentences lack %r" % part)
    # headline: accidents, deaths, injuries (city), 电三电四 accidents and
    # injuries (main urban area), key violations, video-handled.
    head = report.get("headline", [])
    names = [f.get("metric") for f in head]
    expected_names = ["accidents", "deaths", "injuries", "e3e4_accidents", "e3e4_injuries",
                      "key_violations", "video_handled"]
    if names != expected_names:
        failures.append("report JSON headline metrics %s != %s" % (names, expected_names))
        return failures
    figs = {f["metric"]: f for f in head}
    for metric, published in REPORT_FIGURES.items():
        f = figs[metric]
        decimals = len(published.split(".")[1])
        got = report_percent(f["value"], f["last_year"], decimals)
        if got != published:
            failures.append("report JSON %s: %d vs %d is %s%%, the report says %s%%" %
                            (metric, f["value"], f["last_year"], got, published))
        if metric in ("accidents", "deaths", "injuries") and f["change_text"] != published:
            failures.append("report JSON %s change_text %r != %r" %
                            (metric, f["change_text"], published))
    key = figs["key_violations"]["value"]
    if "%.1f万" % (key / 10000) != "13.9万":  # one decimal of 万
        failures.append("report JSON key_violations %d is not 13.9万" % key)
    video = figs["video_handled"]["value"]
    if not (video // 10000 == 3 and video % 10000 != 0):  # 3万余: more than 30,000
        failures.append("report JSON video_handled %d is not 3万余" % video)

    en = run(["--lang", "en"])
    h.log("report (en):\n%s" % "\n".join(en.splitlines()[:4]))
    # English gives the exact count where Chinese rounds to 万, and no 万.
    for part in ["fell 11.29%, 14.04% and 17.78%", "fell 69.8% and 62.5%",
                 "%s key traffic violations were handled" % format(key, ","),
                 "More than 30,000 minor accidents"]:
        if part not in en:
            failures.append("report --lang en lacks %r" % part)
    if "万" in en:
        failures.append("report --lang en has 万: %r" % en[:600])
    if not failures:
        h.log("OK: report figures -11.29%%, -14.04%%, -17.78%%; -69.8%%, -62.5%%; %d key "
              "violations (13.9万); %d video-handled (3万余); JSON and English agree" %
              (key, video))
    return failures


def check_report_wrong_topic(roadpulse, servers):
    """`report --topic roadpulse.incidents` (an input topic, not the counts):
    no report of zeros, exit code 1, naming how many records it read (every
    record of the topic, as kafka-python counts them), in a few lines, not
    one of protobuf's per record."""
    records, _ = end_offsets_total(servers, "roadpulse.incidents")
    r = subprocess.run([roadpulse, "report", "--bootstrap-servers", servers, "--topic",
                        "roadpulse.incidents", "--from", "2025-01-01", "--to", "2025-09-01"],
                       capture_output=True, text=True, timeout=300)
    said = "none of the %d records of roadpulse.incidents is a count record" % records
    lines = r.stderr.splitlines()
    ok = r.returncode == 1 and r.stdout == "" and said in r.stderr and len(lines) <= 20
    h.log("%-4s report --topic roadpulse.incidents: rc=%d, %d bytes of report, %d lines on "
          "stderr: %s" % ("ok" if ok else "BAD", r.returncode, len(r.stdout), len(lines),
                          lines[-1:]))
    return [] if ok else ["report --topic roadpulse.incidents: rc=%d, %d lines, no %r in %r" % (
        r.returncode, len(lines), said, r.stderr[-600:])]


def check_inspect_dlq(roadpulse, servers, dlq, manifest, events_pb2, tmp):
    """`roadpulse inspect --topic roadpulse.dlq` prints every dead letter as
    kafka-python read it (dlq: read_topic tuples): its place in the DLQ, its
    reason, detail and source headers, its key, and its value bytes (decoded
    as the source topic's event, or base64). `--reason R` keeps exactly the
    manifest's count of R; replaying the lines of every reason but too_late
    (which depends on the newer events of the partition, not replayed here)
    refuses each record again for the same reason."""
    import base64
    from google.protobuf import json_format
    failures = []
    out = subprocess.run([roadpulse, "inspect", "--bootstrap-servers", servers,
                          "--topic", "roadpulse.dlq"], capture_output=True, timeout=600)
    if out.returncode != 0:
        return ["inspect roadpulse.dlq exited with %d: %s" % (out.returncode, out.stderr[-500:])]
    lines = [json.loads(x) for x in out.stdout.decode().splitlines()]
    by_place = {(p, o): (key, value, headers) for p, o, key, value, headers in dlq}
    kinds = {"roadpulse.incidents": ("EVENT_KIND_INCIDENT", "incident", events_pb2.IncidentEvent),
             "roadpulse.violations": ("EVENT_KIND_VIOLATION", "violation",
                                      events_pb2.ViolationEvent)}
    wrong = []
    for j in lines:
        d = j.get("deadLetter", {})
        place = (d.get("partition"), int(d.get("offset", -1)))
        if d.get("topic") != "roadpulse.dlq" or place not in by_place:
            wrong.append(("no such DLQ record", d))
            continue
        key, value, headers = by_place.pop(place)
        hd = {k: v.decode() for k, v in headers if k.startswith("roadpulse.")}
        kind, field, message = kinds.get(hd["roadpulse.source.topic"], (None, None, None))
        if (d.get("reason"), d.get("detail")) != (hd["roadpulse.reason"],
                                                  hd["roadpulse.detail"]) or \
                (j.get("sourceTopic"), str(j.get("sourcePartition")), j.get("sourceOffset")) != \
                (hd["roadpulse.source.topic"], hd["roadpulse.source.partition"],
                 hd["roadpulse.source.offset"]) or \
                j.get("kind") != kind or j.get("key", "").encode() != (key or b""):
            wrong.append((place, j, hd))
        elif "rawValue" in j:
            if base64.b64decode(j["rawValue"]) != value:
                wrong.append((place, "rawValue differs"))
        elif field not in j or json_format.ParseDict(j[field], message()) != \
                message.FromString(value):
            wrong.append((place, "decoded event differs from the bytes"))
    if wrong or by_place:
        failures.append("inspect roadpulse.dlq: %d of %d lines differ from the DLQ as kafka-python "
                        "read it, %d records not printed; e.g. %s" %
                        (len(wrong), len(lines), len(by_place), wrong[:2]))
    rejected = manifest["expected"]["rejected_by_reason"]
    reason = max(rejected, key=rejected.get)
    out = subprocess.run([roadpulse, "inspect", "--bootstrap-servers", servers, "--topic",
                          "roadpulse.dlq", "--reason", reason], capture_output=True, timeout=600)
    n = len(out.stdout.splitlines())
    if out.returncode != 0 or n != rejected[reason]:
        failures.append("inspect --reason %s: rc=%d, %d lines, manifest: %d" %
                        (reason, out.returncode, n, rejected[reason]))
    replayable = {r: n for r, n in rejected.items() if r != "too_late"}
    path = os.path.join(tmp, "dead-letters.jsonl")
    with open(path, "wb") as f:
        f.writelines(json.dumps(j).encode() + b"\n" for j in lines
                     if j["deadLetter"]["reason"] != "too_late")
    out = subprocess.run([roadpulse, "replay", path, "--format", "json"], capture_output=True,
                         text=True, timeout=600)
    m = re.search(r"counted (\d+) .* rejected (\d+) \(([^)]*)\)", out.stderr)
    again = dict((r, int(c)) for r, c in
                 (x.rsplit(" ", 1) for x in m.group(3).split(", "))) if m else None
    h.log("inspect roadpulse.dlq: %d lines; --reason %s: %d; replayed, refused again: %s" %
          (len(lines), reason, n, again))
    if out.returncode != 0 or not m or int(m.group(1)) != 0 or again != replayable:
        failures.append("replay of the inspected dead letters: rc=%d, refused %s, manifest %s" %
                        (out.returncode, again, replayable))
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    ap.add_argument("--pb2", required=True)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--events", type=int, default=0,
                    help="records to generate (0: the scenario's whole history)")
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    counts_pb2, events_pb2 = h.import_pb2(args.pb2)
    failures = []
    with tempfile.TemporaryDirectory(prefix="roadpulse-pipeline-") as tmp, \
            h.broker(args.roadpulse, partitions=args.partitions) as servers:
        manifest_path = os.path.join(tmp, "manifest.json")
        gen = [args.roadpulse, "generate", "--scenario", "binzhou-2025", "--seed",
               str(args.seed), "--bootstrap-servers", servers, "--truth", manifest_path]
        if args.events:
            gen += ["--events", str(args.events)]
        t0 = time.monotonic()
        if h.run_command(gen, timeout_s=900, name="roadpulse generate") != 0:
            h.fail("roadpulse generate failed")
        h.log("generate took %.1f s" % (time.monotonic() - t0))
        with open(manifest_path) as f:
            manifest = json.load(f)
        produced = manifest["produced"]["total"]
        expected = manifest["expected"]
        h.log("manifest: produced %s; expected %s" % (manifest["produced"], expected))
        if produced < MIN_EVENTS and not args.events:
            failures.append("only %d events produced, need >= %d" % (produced, MIN_EVENTS))

        in_topics = 0
        for topic in ("roadpulse.incidents", "roadpulse.violations"):
            n, parts = end_offsets_total(servers, topic)
            h.log("%s: %d records in %d partitions" % (topic, n, parts))
            in_topics += n
        if in_topics != produced:
            failures.append("input topics hold %d records, manifest says %d produced" %
                            (in_topics, produced))

        # The worker; its stderr is kept to read its final tallies.
        log_path = os.path.join(tmp, "run.log")
        t0 = time.monotonic()
        run_started_unix_s = time.time()
        with open(log_path, "w") as log_file:
            run = subprocess.Popen([args.roadpulse, "run", "--bootstrap-servers", servers,
                                    "--stop-at-end", "--group", "pipeline-test",
                                    "-X", "compression.type=gzip"],
                                   stdout=log_file, stderr=subprocess.STDOUT)
            try:
                rc = run.wait(900)
            except subprocess.TimeoutExpired:
                rc = -1
            finally:
                h.stop(run, "roadpulse run")
        with open(log_path) as f:
            run_log = f.read()
        h.log("run took %.1f s; its last lines:\n%s" %
              (time.monotonic() - t0, "\n".join(run_log.splitlines()[-4:])))
        if rc != 0:
            h.fail("roadpulse run exited with %d" % rc)
        done = re.search(r"run: done: read (\d+) = counted (\d+) \+ amended (\d+) \+ "
                         r"duplicates (\d+) \+ rejected (\d+); dlq (\d+)", run_log)
        if not done:
            h.fail("no final tally line in the worker's log")
        read, counted, amended, duplicates, rejected, dlq_produced = map(int, done.groups())
        worker = dict(counted=counted, amended=amended, duplicates=duplicates, rejected=rejected)
        for k, v in worker.items():
            if expected[k] != v:
                failures.append("worker %s = %d, manifest expects %d" % (k, v, expected[k]))
        if read != produced:
            failures.append("worker read %d records, %d produced" % (read, produced))
        # Group offsets (lag monitoring): committed up to each partition's end.
        for topic in ("roadpulse.incidents", "roadpulse.violations"):
            ends = h.topic_offsets(servers, topic)
            committed = h.committed_offsets(servers, "pipeline-test", topic)
            if committed != ends:
                failures.append("group pipeline-test committed %s on %s, its end offsets are %s"
                                % (committed, topic, ends))

        # The DLQ, read independently: each bad record exactly once.
        dlq = h.read_topic(servers, "roadpulse.dlq", timeout_s=300)
        dlq_failures, by_source = h.check_dlq(dlq, manifest, allow_repeats=False)
        failures += dlq_failures
        reasons = collections.Counter(reason for _, reason in by_source.values())
        dead_lettered = len(by_source)
        total = expected["counted"] + expected["amended"] + expected["duplicates"] + dead_lettered
        h.log("reconciliation: counted %d + amended %d + duplicates %d + dead-lettered %d = %d; "
              "produced %d" % (expected["counted"], expected["amended"], expected["duplicates"],
                               dead_lettered, total, produced))
        if total != produced:
            failures.append("counted + amended + duplicates + dead-lettered = %d != produced %d"
                            % (total, produced))

        # The same DLQ through `roadpulse inspect`, and its output replayed.
        failures += check_inspect_dlq(args.roadpulse, servers, dlq, manifest, events_pb2, tmp)

        # The counts, read independently.
        tz = zoneinfo.ZoneInfo(manifest.get("time_zone", "Asia/Shanghai"))
        records = h.read_topic(servers, "roadpulse.counts", timeout_s=300)
        actual, keys = h.counts_by_region_day(records, counts_pb2, tz)
        count_failures, cells = h.check_counts(actual, manifest)
        failures += count_failures
        h.log("roadpulse.counts: %d records, %d keys; manifest: %d regions, %d region/day/metric "
              "cells" % (len(records), keys, len(h.manifest_truth(manifest)), cells))

        # Hour and minute buckets that no rolling window can reach any more are
        # not published (PartitionProcessor::SkipUnwatchable): every hour or
        # minute key in the topic (a value or a tombstone) ended within its
        # keep (31 days, 25 hours) plus a day of the worker's clock, which was
        # at least run_started_unix_s at every publish.
        fine = stale = 0
        for _, _, key, _, _ in records:
            width, start = key.decode().split("/")[3:5]
            if width == "BUCKET_WIDTH_DAY":
                continue
            fine += 1
            unit, keep = ((3600, 31 * 86400) if width == "BUCKET_WIDTH_HOUR"
                          else (60, 25 * 3600))
            if int(start) + unit <= run_started_unix_s - keep - 86400:
                stale += 1
        skipped = re.findall(r"\((\d+) older than any window left unpublished\)", run_log)
        h.log("roadpulse.counts: %d hour/minute records, %d of them older than any rolling "
              "window; the worker left %s such buckets unpublished" %
              (fine, stale, skipped[-1] if skipped else "?"))
        if stale:
            failures.append("%d hour/minute records in roadpulse.counts ended before any rolling "
                            "window can reach" % stale)

        # The report (issue 3's acceptance), from roadpulse.counts.
        failures += check_report(args.roadpulse, servers)
        failures += check_report_wrong_topic(args.roadpulse, servers)

    if failures:
        h.fail("\n".join(failures))
    h.log("OK: %d events; counts equal the manifest in all %d cells; DLQ %s" %
          (produced, cells, dict(sorted(reasons.items()))))


if __name__ == "__main__":
    sys.exit(main())
