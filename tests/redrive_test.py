#!/usr/bin/python3
"""Redrive test: dead letters re-produced after a fix count exactly once.

  roadpulse broker --partitions 4
  roadpulse generate --events N --truth manifest.json
  roadpulse run --stop-at-end --regions <the table without 邹平市 (371681) and its streets>
      -> 邹平市's events go to roadpulse.dlq as unknown_region
  roadpulse redrive --reason unknown_region --dry-run
      -> says how many it would re-produce (python-kafka counts the DLQ), produces nothing
  roadpulse redrive --reason unknown_region
      -> the input topics grow by exactly those records: each in its source partition, with
         its original key, bytes and own headers, and roadpulse.redriven_from (python-kafka
         compares them)
  roadpulse run --stop-at-end (the table still without it): refused again, copies in the DLQ
  roadpulse redrive --reason unknown_region
      -> re-produces the originals once more, not the copies
  roadpulse run --stop-at-end (the full table: the fix)
      -> the counts equal the generator's manifest for every region, day and metric
  roadpulse redrive ... again, roadpulse run again
      -> still equal (an event counts once by id and revision)

Usage: redrive_test.py --roadpulse BIN --pb2 DIR [--events N] [--seed N]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import zoneinfo

import kafka_harness as h

MISSING = "371681"  # 邹平市
INPUTS = ("roadpulse.incidents", "roadpulse.violations")


def table_without(path, code, out):
    """The region table at `path` without the unit `code` and its children."""
    with open(path) as f:
        text = f.read()
    head, *units = text.split("\n[[units]]\n")
    keep = [u for u in units
            if not re.search(r'^(code|parent) = "%s"$' % code, u, re.M)]
    with open(out, "w") as f:
        f.write("\n[[units]]\n".join([head] + keep))
    return len(units) - len(keep)


def run_worker(rp, servers, regions, name, tmp):
    log = os.path.join(tmp, name + ".log")
    # gzip: python-kafka on Debian reads no lz4 (the producers' default).
    args = [rp, "run", "--bootstrap-servers", servers, "--stop-at-end", "--group", "redrive-test",
            "-X", "compression.type=gzip"]
    if regions:
        args += ["--regions", regions]
    with open(log, "w") as f:
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(600)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            h.stop(p, name)
    with open(log) as f:
        text = f.read()
    if rc != 0:
        h.fail("%s exited with %s:\n%s" % (name, rc, text[-3000:]))
    done = re.search(r"run: done: .*", text)
    h.log("%s: %s" % (name, done.group(0) if done else "(no tally)"))
    return text


def resumed_from_checkpoints(text):
    """Whether every partition of the run resumed from its checkpoint, so that
    only the records after it (the redriven ones) were read."""
    ready = re.findall(r"assignment of (\d+) partitions ready in [\d.]+ s \((\d+) from "
                       r"checkpoints\)", text)
    return bool(ready) and all(int(n) == int(c) > 0 for n, c in ready)


def redrive(rp, servers, *extra):
    p = subprocess.run([rp, "redrive", "--bootstrap-servers", servers,
                        "--reason", "unknown_region", "-X", "compression.type=gzip", *extra],
                       capture_output=True, text=True, timeout=300)
    h.log("$ roadpulse redrive %s -> rc %d\n%s%s" % (" ".join(extra), p.returncode, p.stdout,
                                                     p.stderr[-1500:]))
    return p


def dead_letters(servers, reason):
    """The DLQ's records of `reason`: [(source topic, source partition, key, value, own headers,
    where, redriven_from)], `where` its own place "roadpulse.dlq[P]@O" and redriven_from the
    header redrive put on a record it re-produced (None on an original)."""
    out = []
    for partition, offset, key, value, headers in h.read_topic(servers, "roadpulse.dlq"):
        hd = {}
        own = []
        for k, v in headers:
            if k.startswith("roadpulse.") and k not in hd:
                hd[k] = v.decode()
            else:
                own.append((k, v))
        if hd.get("roadpulse.reason") == reason:
            out.append((hd["roadpulse.source.topic"], int(hd["roadpulse.source.partition"]),
                        key, value, tuple(own), "roadpulse.dlq[%d]@%d" % (partition, offset),
                        hd.get("roadpulse.redriven_from")))
    return out


def as_redriven(letters):
    """What redrive re-produces for each dead letter: its source topic and partition, key,
    value, own headers and roadpulse.redriven_from naming the dead letter."""
    return collections.Counter(
        (topic, part, key, value, own + (("roadpulse.redriven_from", where.encode()),))
        for topic, part, key, value, own, where, _ in letters)


def records_after(servers, before):
    """Input records past the offsets `before` {(topic, partition): offset}:
    [(topic, partition, key, value, headers)]."""
    out = []
    for topic in INPUTS:
        for partition, offset, key, value, headers in h.read_topic(servers, topic):
            if offset >= before[(topic, partition)]:
                out.append((topic, partition, key, value, tuple(headers)))
    return out


def ends(servers):
    return {(t, p): o for t in INPUTS for p, o in h.topic_offsets(servers, t).items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    ap.add_argument("--pb2", required=True)
    ap.add_argument("--events", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rp = args.roadpulse
    counts_pb2, _ = h.import_pb2(args.pb2)
    failures = []
    here = os.path.dirname(os.path.abspath(__file__))
    full_table = os.path.join(here, "..", "deploy", "config", "regions", "binzhou.toml")
    with tempfile.TemporaryDirectory(prefix="roadpulse-redrive-") as tmp, \
            h.broker(rp, partitions=4) as servers:
        reduced = os.path.join(tmp, "regions-without-%s.toml" % MISSING)
        h.log("region table without %s: %d units left out" %
              (MISSING, table_without(full_table, MISSING, reduced)))
        manifest_path = os.path.join(tmp, "manifest.json")
        if h.run_command([rp, "generate", "--bootstrap-servers", servers, "--events",
                          str(args.events), "--seed", str(args.seed), "--truth", manifest_path,
                          "-X", "compression.type=gzip"],
                         300, "generate") != 0:
            h.fail("generate failed")
        with open(manifest_path) as f:
            manifest = json.load(f)
        tz = zoneinfo.ZoneInfo(manifest.get("time_zone", "Asia/Shanghai"))

        def counts():
            newest, _ = h.newest_counts(servers)
            return h.counts_by_region_day(newest, counts_pb2, tz)[0]

        run_worker(rp, servers, reduced, "run (table without %s)" % MISSING, tmp)
        before_fix = counts()
        truth = h.manifest_truth(manifest)
        if MISSING not in truth or MISSING in before_fix:
            h.fail("the test needs %s's events in the manifest (%s) and none counted (%s)" %
                   (MISSING, MISSING in truth, MISSING in before_fix))
        refused = dead_letters(servers, "unknown_region")
        generated = manifest["expected"]["rejected_by_reason"].get("unknown_region", 0)
        h.log("roadpulse.dlq: %d unknown_region dead letters (%d of them bad on purpose: "
              "the generator's)" % (len(refused), generated))
        if len(refused) <= generated:
            failures.append("only %d unknown_region dead letters; the generator made %d" %
                            (len(refused), generated))

        # --dry-run: says how many, produces nothing.
        at = ends(servers)
        p = redrive(rp, servers, "--dry-run")
        m = re.search(r"would re-produce (\d+) dead letters", p.stdout)
        if p.returncode != 0 or not m or int(m.group(1)) != len(refused):
            failures.append("redrive --dry-run: rc %d, %r; python-kafka counts %d" %
                            (p.returncode, p.stdout, len(refused)))
        if ends(servers) != at:
            failures.append("redrive --dry-run produced records")

        # The redrive: exactly the dead letters, each to its source partition.
        p = redrive(rp, servers)
        m = re.search(r"re-produced (\d+) dead letters", p.stdout)
        if p.returncode != 0 or not m or int(m.group(1)) != len(refused):
            failures.append("redrive: rc %d, %r; python-kafka counts %d" %
                            (p.returncode, p.stdout, len(refused)))
        again = collections.Counter(records_after(servers, at))
        want = as_redriven(refused)
        if again != want:
            failures.append("the input topics gained %d records, %d differ from the %d dead "
                            "letters (topic, partition, key, value, headers)" % (
                                sum(again.values()), sum((again - want).values()), len(refused)))
        else:
            h.log("the input topics gained exactly the %d dead letters, each in its source "
                  "partition with its key, bytes and headers, and roadpulse.redriven_from" %
                  len(refused))

        # Redriven before the fix: refused again, each is now in the DLQ twice
        # (the original and a copy naming it). Another redrive re-tries each
        # event once, from its original, and leaves the copies out (else the
        # still-bad records would double on every run).
        run_worker(rp, servers, reduced, "run (table still without %s)" % MISSING, tmp)
        letters = dead_letters(servers, "unknown_region")
        copies = [l for l in letters if l[6] is not None]
        originals = {l[5] for l in letters if l[6] is None}
        if len(copies) != len(refused) or {l[6] for l in copies} != originals:
            failures.append("refused again: %d copies in the DLQ naming %d of the %d originals" %
                            (len(copies), len({l[6] for l in copies} & originals), len(refused)))
        at = ends(servers)
        p = redrive(rp, servers)
        m = re.search(r"re-produced (\d+) dead letters.*; (\d+) refused again after an earlier "
                      r"redrive were left out", p.stdout)
        again = collections.Counter(records_after(servers, at))
        if (p.returncode != 0 or not m or int(m.group(1)) != len(refused) or
                int(m.group(2)) != len(copies) or again != want):
            failures.append("redrive with copies in the DLQ: rc %d, %r; the input topics gained "
                            "%d records, %d differ from the %d originals" % (
                                p.returncode, p.stdout, sum(again.values()),
                                sum((again - want).values()), len(refused)))
        else:
            h.log("with %d originals and %d copies in the DLQ, the redrive re-produced the %d "
                  "originals again and left the copies out" % (len(refused), len(copies),
                                                               len(refused)))

        # The fix: the full table. Every count equals the manifest.
        text = run_worker(rp, servers, None, "run (full table)", tmp)
        if not resumed_from_checkpoints(text):
            failures.append("the worker with the full table did not resume from its checkpoints: "
                            "it re-read the original records, so the redrive proves nothing")
        diffs, cells = h.check_counts(counts(), manifest)
        failures += ["after the redrive: " + d for d in diffs]
        if not diffs:
            h.log("after the fix and the redrive: all %d count cells equal the manifest (%s: %d "
                  "cells)" % (cells, MISSING, sum(len(d) for d in truth[MISSING].values())))

        # Twice is harmless.
        p = redrive(rp, servers)
        if p.returncode != 0:
            failures.append("the second redrive: rc %d" % p.returncode)
        if not resumed_from_checkpoints(run_worker(rp, servers, None,
                                                   "run (after the second redrive)", tmp)):
            failures.append("the worker after the second redrive did not resume from checkpoints")
        diffs, cells = h.check_counts(counts(), manifest)
        failures += ["after the second redrive: " + d for d in diffs]
        if not diffs:
            h.log("after a second redrive: still all %d cells equal the manifest" % cells)

        # Refusals that name the problem.
        for argv, says in [(["redrive", "--bootstrap-servers", servers], "--reason is required"),
                           (["redrive", "--bootstrap-servers", servers, "--reason", "too_late"],
                            "--reason too_late"),
                           (["redrive", "--bootstrap-servers", servers, "--reason", "bogus"],
                            "no reason \"bogus\"")]:
            q = subprocess.run([rp] + argv, capture_output=True, text=True, timeout=60)
            if q.returncode != 2 or says not in q.stderr:
                failures.append("%s: rc %d, %r" % (" ".join(argv), q.returncode, q.stderr))
    return h.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
