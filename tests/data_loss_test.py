#!/usr/bin/python3
"""A checkpointed offset the broker no longer holds (records deleted before
they were counted: retention, or the embedded broker's ~5 MiB per partition)
is data loss, and `run` handles it as worker.offset_reset_policy says:

  - stop (the default): exit 1, naming the partition and the policy;
  - earliest: resume the partition at its log start, mark it, and read on to
    its end. librdkafka refuses a seek of the stopped partition (_STATE), and
    a worker that only logged "resumes at its earliest offset" sat at the old
    offset for ever (`--stop-at-end` never ended).

One input partition per topic: `generate` 20,000 events, `run --stop-at-end`
(which checkpoints), then 300,000 more events, which push the violations
partition's log start past the checkpoint. The ground truth is kafka-python:
the partition's log start must have moved past the committed offset, and
after `run --offset-reset-policy earliest` the group's committed offset must
be the partition's end offset (read to its end).

Usage: data_loss_test.py --roadpulse BIN
"""
import argparse
import subprocess

import kafka_harness as h

VIOLATIONS = "roadpulse.violations"


def run(roadpulse, servers, *extra, timeout_s=120):
    """`roadpulse run --stop-at-end`; (returncode or None on timeout, stderr)."""
    argv = [roadpulse, "run", "--bootstrap-servers", servers, "--stop-at-end", *extra]
    h.log("$", " ".join(argv))
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=timeout_s)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        rc, err, _ = h.signal_and_wait(p, 15, 10)
        return None, err


def generate(roadpulse, servers, events, seed):
    rc = h.run_command([roadpulse, "generate", "--bootstrap-servers", servers, "--events",
                        str(events), "--seed", str(seed)], 120, "generate")
    if rc != 0:
        h.fail("generate --seed %d: rc=%d" % (seed, rc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    args = ap.parse_args()
    failures = []
    with h.broker(args.roadpulse, partitions=1) as servers:
        generate(args.roadpulse, servers, 20000, 1)
        rc, err = run(args.roadpulse, servers)
        if rc != 0:
            h.fail("first run: rc=%s %s" % (rc, h.last_lines(err, 5)))
        checkpointed = h.committed_offsets(servers, "roadpulse", VIOLATIONS)[0]
        for seed in (2, 3, 4):
            generate(args.roadpulse, servers, 100000, seed)
        start = h.topic_offsets(servers, VIOLATIONS, "beginning")[0]
        end = h.topic_offsets(servers, VIOLATIONS)[0]
        h.log("%s[0]: read to %s, now holds [%d, %d)" % (VIOLATIONS, checkpointed, start, end))
        if checkpointed is None or start <= checkpointed:
            h.fail("the broker kept offset %s: no data loss to test (log start %d)" %
                   (checkpointed, start))

        rc, err = run(args.roadpulse, servers, timeout_s=60)
        lost = "DATA LOSS: %s[0] at offset %d is out of range" % (VIOLATIONS, checkpointed)
        h.check(failures, rc == 1 and lost in err and "offset_reset_policy=stop" in err,
                "offset_reset_policy=stop: exit 1 naming the partition and the policy",
                "rc=%s: %s" % (rc, h.last_lines(err, 3)))

        rc, err = run(args.roadpulse, servers, "--offset-reset-policy", "earliest",
                      timeout_s=90)
        committed = h.committed_offsets(servers, "roadpulse", VIOLATIONS)[0]
        h.check(failures, rc == 0 and lost in err and "resumes at its earliest offset" in err and
                committed == end,
                "offset_reset_policy=earliest: resumed at %d and read to the end offset %d "
                "(committed %s)" % (start, end, committed),
                "rc=%s: %s" % ("still running after 90 s" if rc is None else rc,
                               h.last_lines(err, 3)))
    return h.verdict(failures)


if __name__ == "__main__":
    raise SystemExit(main())
