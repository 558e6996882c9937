#!/usr/bin/python3
"""Replay test (issue 6's acceptance): the same binzhou-2025 events give
byte-identical report output counted live and replayed.

  live:    roadpulse broker --partitions 8
           roadpulse generate --seed S --bootstrap-servers B
           roadpulse run --stop-at-end
           roadpulse report ...                      (several formats/periods)
  replay:  roadpulse generate --seed S --output events.pb   (same records, to a file)
           roadpulse replay events.pb ...            (same flags)
  also:    roadpulse export (topics -> events.jsonl.zst), replay of that file,
           and roadpulse replay --bootstrap-servers (the topics themselves).

Every report output must be byte-identical to the live one. A period
without any count (the default period, this year, when the scenario's data
ends in an earlier one) warns on stderr, live and replayed, with the period
to ask for instead: the last year of the generator's manifest.

Usage: replay_test.py --roadpulse BIN [--seed N]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

import kafka_harness as h

REPORTS = [
    ["--from", "2025-01-01", "--to", "2025-09-01"],
    ["--from", "2025-01-01", "--to", "2025-09-01", "--format", "json"],
    ["--from", "2025-01-01", "--to", "2025-09-01", "--format", "md", "--lang", "en"],
    ["--from", "2025-03-01", "--to", "2025-04-01", "--region", "371602", "--format", "csv"],
    ["--from", "2025-03-01", "--to", "2025-04-01", "--region", "371602", "--format", "csv",
     "--bom"],
    ["--format", "json"],  # the default period
]


def output(args, name, env=None):
    proc = subprocess.run(args, capture_output=True, timeout=600, env=env)
    if proc.returncode != 0:
        h.fail("%s exited with %d: %s" % (name, proc.returncode, proc.stderr.decode()[-2000:]))
    return proc.stdout, proc.stderr.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    rp = args.roadpulse
    failures = []
    with tempfile.TemporaryDirectory(prefix="roadpulse-replay-") as tmp, \
            h.broker(rp, partitions=args.partitions) as servers:
        events = os.path.join(tmp, "events.pb")
        if h.run_command([rp, "generate", "--scenario", "binzhou-2025", "--seed", str(args.seed),
                          "--bootstrap-servers", servers], 900, "generate (kafka)") != 0:
            h.fail("generate to Kafka failed")
        truth = os.path.join(tmp, "truth.json")
        if h.run_command([rp, "generate", "--scenario", "binzhou-2025", "--seed", str(args.seed),
                          "--output", events, "--truth", truth], 900, "generate (file)") != 0:
            h.fail("generate to a file failed")
        # The hint of a period with no count: the manifest's last period
        # from 1 January (the generator's last event is on its last day).
        with open(truth) as f:
            last = json.load(f)["periods"][-1]
        hint = "for their last year use --from %s-01-01 --to %s" % (last["start"][:4],
                                                                   last["end_exclusive"])
        default_is_empty = datetime.date.today().year > int(last["start"][:4])
        t0 = time.monotonic()
        if h.run_command([rp, "run", "--bootstrap-servers", servers, "--stop-at-end",
                          "--group", "replay-test"], 900, "run") != 0:
            h.fail("roadpulse run failed")
        h.log("run took %.1f s" % (time.monotonic() - t0))

        exported = os.path.join(tmp, "exported.jsonl.zst")
        _, err = output([rp, "export", "--bootstrap-servers", servers, "--output", exported],
                        "export")
        h.log(err.strip())

        for flags in REPORTS:
            live, live_err = output([rp, "report", "--bootstrap-servers", servers] + flags,
                                    "report")
            if "--bom" in flags:
                # The same CSV as without --bom, after a UTF-8 byte-order mark.
                plain, _ = output([rp, "report", "--bootstrap-servers", servers] +
                                  [a for a in flags if a != "--bom"], "report")
                if live != b"\xef\xbb\xbf" + plain:
                    failures.append("report %s is not the CSV after a UTF-8 BOM: %r" %
                                    (flags, live[:40]))
            expect_hint = "--from" not in flags and default_is_empty
            if (hint in live_err) != expect_hint:
                failures.append("report %s: the empty-period hint (%s) is %s: %s" % (
                    flags, hint, "missing" if expect_hint else "there", live_err[-500:]))
            variants = {
                "replay of the generated file": [rp, "replay", events,
                                                 "--partitions", str(args.partitions)],
                "replay of the exported file": [rp, "replay", exported,
                                                "--partitions", str(args.partitions)],
                "replay of the topics": [rp, "replay", "--bootstrap-servers", servers],
            }
            for name, cmd in variants.items():
                replayed, err = output(cmd + flags, name)
                if (hint in err) != expect_hint:
                    failures.append("%s %s: the empty-period hint (%s) is %s: %s" % (
                        name, flags, hint, "missing" if expect_hint else "there", err[-500:]))
                if replayed != live:
                    failures.append("%s differs from the live report for %s" % (name, flags))
                    h.log("--- live\n%s\n--- %s\n%s" % (live.decode()[:1500], name,
                                                        replayed.decode()[:1500]))
            h.log("%s: live and replayed reports identical (%d bytes)" % (" ".join(flags), len(live)))
            if flags == REPORTS[0]:
                # The cluster named by the configuration instead of the flag:
                # a --config file, and the environment (as run and serve).
                config = os.path.join(tmp, "report.toml")
                with open(config, "w") as f:
                    f.write('[kafka]\n"bootstrap.servers" = "%s"\n' % servers)
                env = {k: v for k, v in os.environ.items() if not k.startswith("ROADPULSE_")}
                by_file, _ = output([rp, "report", "--config", config] + flags, "report --config",
                                    env)
                topics_by_file, _ = output([rp, "replay", "--config", config] + flags,
                                           "replay --config (topics)", env)
                env["ROADPULSE_KAFKA_BOOTSTRAP_SERVERS"] = servers
                by_env, _ = output([rp, "report"] + flags, "report (environment)", env)
                # With files, a cluster named only by the environment is not
                # read: the files are (there is no "files and topics" error).
                files_with_env, _ = output([rp, "replay", events, "--partitions",
                                            str(args.partitions)] + flags,
                                           "replay FILE (cluster in the environment)", env)
                for how, got in (("report --config FILE", by_file),
                                 ("report, ROADPULSE_KAFKA_BOOTSTRAP_SERVERS", by_env),
                                 ("replay --config FILE (the topics)", topics_by_file),
                                 ("replay FILE, ROADPULSE_KAFKA_BOOTSTRAP_SERVERS", files_with_env)):
                    if got != live:
                        failures.append("%s differs from the live report" % how)
                h.log("report and replay with the cluster from --config or the environment: "
                      "identical to the live report")
                text = live.decode()
                for figure in ("11.29%", "14.04%", "17.78%", "69.8%", "62.5%", "13.9万", "3万余"):
                    if figure not in text:
                        failures.append("live report lacks %s" % figure)
    return h.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
