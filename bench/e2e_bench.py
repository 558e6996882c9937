"""End-to-end benchmark (issue 8): roadpulse against the raw limits and the
usual alternatives, on the embedded broker, in one run.

It starts `roadpulse broker`, loads N events (the binzhou-2025 scenario,
scaled up) into P partitions per input topic, then measures, on the same
records:
  a) raw consume   librdkafka batch consume, nothing else (build/bench/raw_consume)
  b) kcat          kcat -C ... -e > /dev/null, one run per input topic
  c) roadpulse run consume + decode + validate + aggregate + publish +
                   checkpoint, to the last count published (--stop-at-end);
                   also with checkpoints off, and a fresh worker taking over
                   from the checkpoints (restore time)
  d) python        bench/python_baseline.py (confluent-kafka + protobuf)
  e) replay        `roadpulse replay` of the same events from a file
For each: events/s, CPU seconds, peak RSS; then c/a, c/b, c/d. "processing"
times leave out the consumer-group join, which the mock cluster holds for
about session.timeout.ms - 1 s (a real cluster does not).

  /usr/bin/python3 bench/e2e_bench.py [--events 2000000] [--partitions 48] [--out FILE.json]
                                      [-X KEY=VALUE ...]  (producer properties for the load)
                                      [--preload LIB]  (LD_PRELOAD for roadpulse in c and e,
                                                        e.g. another malloc; BENCHMARKS.md)
"""
import argparse
import datetime
import json
import math
import os
import re
import shutil
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def measure(name, argv, stdout=subprocess.DEVNULL, env=None):
    """Runs argv to completion; wall seconds, CPU seconds, peak RSS (MiB)."""
    log("$", " ".join(argv))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.STDOUT, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError("%s exited with %d" % (name, proc.returncode))
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mib": ru.ru_maxrss / 1024}


def scaled_scenario(factor, path):
    """binzhou-2025 with every count of every period multiplied by factor."""
    section = None
    out = []
    with open(os.path.join(ROOT, "deploy/config/scenarios/binzhou-2025.toml")) as f:
        for line in f:
            m = re.match(r"^\s*\[+([\w.]+)\]+", line)
            if m:
                section = m.group(1)
            m = re.match(r"^(\s*\w+\s*=\s*)(\d+)(\s*(#.*)?)$", line.rstrip("\n"))
            if m and section in ("periods.accidents", "periods.violations"):
                line = "%s%d%s\n" % (m.group(1), int(m.group(2)) * factor, m.group(3))
            out.append(line)
    with open(path, "w") as f:
        f.writelines(out)


def log_time(line):
    m = LOG_TIME.match(line)
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f") if m else None


def run_worker(roadpulse, servers, group, log_path, extra, env=None):
    with open(log_path, "w") as f:
        r = measure("roadpulse run", [roadpulse, "run", "--bootstrap-servers", servers,
                                      "--stop-at-end", "--group", group, *extra], stdout=f,
                    env=env)
    ready = end = None
    restore_s = None
    with open(log_path) as f:
        for line in f:
            if "assignment of" in line and "ready in" in line and ready is None:
                ready = log_time(line)
                restore_s = float(re.search(r"ready in ([\d.]+) s", line).group(1))
            t = log_time(line)
            if t is not None:
                end = t
    if ready is None:
        raise RuntimeError("no assignment in " + log_path)
    # From the assignment being ready (after the group join) to the last line.
    r["processing_s"] = (end - ready).total_seconds() + restore_s
    r["restore_s"] = restore_s
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", default=os.path.join(ROOT, "build/app/roadpulse"))
    ap.add_argument("--raw-consume", default=os.path.join(ROOT, "build/bench/raw_consume"))
    ap.add_argument("--pb2", default=os.path.join(ROOT, "build/tests/python"))
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--partitions", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--generate-property", "-X", action="append", default=[],
                    help="librdkafka producer property KEY=VALUE for the load (repeatable)")
    ap.add_argument("--preload", help="a shared library to LD_PRELOAD into roadpulse for the "
                    "measured runs (c and e), e.g. /usr/lib/x86_64-linux-gnu/"
                    "libtcmalloc_minimal.so.4; the broker and the load run without it")
    ap.add_argument("--keep-logs", metavar="DIR",
                    help="copy the measured workers' logs (run0: checkpoints off, run1: c, "
                    "run2: the takeover) into DIR")
    args = ap.parse_args()
    if args.preload and not os.path.isfile(args.preload):
        ap.error("--preload: no such file: %s" % args.preload)
    measured_env = dict(os.environ, LD_PRELOAD=args.preload) if args.preload else None

    results = {"events": args.events, "partitions": args.partitions,
               "machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname()),
                           "load_before": os.getloadavg()},
               "preload": args.preload}
    with tempfile.TemporaryDirectory() as tmp:
        scenario = os.path.join(tmp, "scenario.toml")
        factor = max(1, math.ceil(args.events / 350_000))
        scaled_scenario(factor, scenario)
        broker = subprocess.Popen([args.roadpulse, "broker", "--partitions", str(args.partitions)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            servers = broker.stdout.readline().strip().split("=", 1)[1]
            log("broker at", servers)
            gen = [args.roadpulse, "generate", "--scenario-file", scenario, "--seed",
                   str(args.seed), "--events", str(args.events)]
            load_props = [a for p in args.generate_property for a in ("-X", p)]
            results["load"] = measure("generate", gen + load_props + [
                "--bootstrap-servers", servers, "--truth", tmp + "/truth.json"])
            with open(tmp + "/truth.json") as f:
                produced = json.load(f)["produced"]["total"]
            results["produced"] = produced
            topics = ["roadpulse.incidents", "roadpulse.violations"]

            out = open(tmp + "/raw.txt", "w")
            results["a_raw"] = measure("raw_consume", [args.raw_consume, servers, *topics],
                                       stdout=out)
            out.close()
            raw_records = int(re.search(r"records=(\d+)", open(tmp + "/raw.txt").read()).group(1))
            if raw_records != produced:
                raise RuntimeError("the broker holds %d records of %d produced: more partitions "
                                   "(--partitions) so that none exceeds the mock's ~5 MiB"
                                   % (raw_records, produced))
            kcat = {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mib": 0.0}
            for t in topics:
                r = measure("kcat", ["kcat", "-C", "-b", servers, "-t", t, "-o", "beginning",
                                     "-e", "-q"])
                kcat = {"wall_s": kcat["wall_s"] + r["wall_s"], "cpu_s": kcat["cpu_s"] + r["cpu_s"],
                        "peak_rss_mib": max(kcat["peak_rss_mib"], r["peak_rss_mib"])}
            results["b_kcat"] = kcat
            results["c_run_no_checkpoints"] = run_worker(
                args.roadpulse, servers, "bench-nocp", tmp + "/run0.log",
                ["--checkpoint-interval-ms", "0"], measured_env)
            results["c_run"] = run_worker(args.roadpulse, servers, "bench", tmp + "/run1.log", [],
                                          measured_env)
            # A worker with nothing on its disk takes every partition over
            # from the checkpoints the first one wrote.
            results["c_takeover"] = run_worker(args.roadpulse, servers, "bench",
                                               tmp + "/run2.log", [], measured_env)
            if args.keep_logs:
                os.makedirs(args.keep_logs, exist_ok=True)
                for name in ("run0.log", "run1.log", "run2.log"):
                    shutil.copy(os.path.join(tmp, name), args.keep_logs)
            out = open(tmp + "/py.txt", "w")
            results["d_python"] = measure("python baseline", [
                "/usr/bin/python3", os.path.join(HERE, "python_baseline.py"),
                "--bootstrap-servers", servers, "--pb2", args.pb2], stdout=out)
            out.close()
            results["d_python"]["output"] = open(tmp + "/py.txt").read().strip()
            measure("generate --output", gen + ["--output", tmp + "/events.pb"])
            results["e_replay"] = measure("replay", [args.roadpulse, "replay", tmp + "/events.pb",
                                                     "--format", "json"], env=measured_env)
        finally:
            broker.terminate()
            broker.wait(10)

    n = results["produced"]
    rows = [("a raw consume", results["a_raw"], "wall_s"),
            ("b kcat", results["b_kcat"], "wall_s"),
            ("c roadpulse run (wall, with group join)", results["c_run"], "wall_s"),
            ("c roadpulse run (processing)", results["c_run"], "processing_s"),
            ("c roadpulse run, checkpoints off (processing)", results["c_run_no_checkpoints"],
             "processing_s"),
            ("c fresh worker taking over (processing)", results["c_takeover"], "processing_s"),
            ("d python baseline", results["d_python"], "wall_s"),
            ("e replay from file", results["e_replay"], "wall_s")]
    print("%d events, %d partitions per input topic; machine: %d CPUs, load before %.1f" % (
        n, args.partitions, os.cpu_count(), results["machine"]["load_before"][0]))
    if args.preload:
        print("roadpulse (c, e) ran with LD_PRELOAD=%s" % args.preload)
    print("%-48s %12s %9s %9s %10s" % ("", "events/s", "wall s", "CPU s", "peak RSS"))
    for name, r, key in rows:
        print("%-48s %12.0f %9.2f %9.2f %7.1f MiB" % (name, n / r[key], r[key], r["cpu_s"],
                                                      r["peak_rss_mib"]))
    c = n / results["c_run"]["processing_s"]
    a = n / results["a_raw"]["wall_s"]
    b = n / results["b_kcat"]["wall_s"]
    d = n / results["d_python"]["wall_s"]
    off = n / results["c_run_no_checkpoints"]["processing_s"]
    results["ratios"] = {"c/a": c / a, "c/b": c / b, "c/d": c / d,
                         "checkpoints on/off": c / off}
    print("c/a = %.2f   c/b = %.2f   c/d = %.1f   checkpoints on/off = %.2f" % (
        c / a, c / b, c / d, c / off))
    print("takeover: restore of every partition from checkpoints %.3f s; from offset 0 it "
          "would re-read %d records" % (results["c_takeover"]["restore_s"], n))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
