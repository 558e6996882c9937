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
For each: events/s, CPU seconds, peak RSS, the broker's CPU seconds
meanwhile and the cores the two kept busy; then c/a, c/b, c/d, and the
ceiling of c/a: a's time over the least time c could take with every core
busy, (c's CPU + the broker's CPU meanwhile) / cores. With
--rounds K, a to d are measured K times in turn (a, b, c, d, a, b, ...) and
the medians printed, with each round's ratios. "processing"
times leave out the consumer-group join, which the mock cluster holds for
about session.timeout.ms - 1 s (a real cluster does not).

  /usr/bin/python3 bench/e2e_bench.py [--events 2000000] [--partitions 48] [--rounds 1]
                                      [--out FILE.json]
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
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\]")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# The embedded broker's pid, once started: measure() also reports the CPU
# it spent meanwhile, since it shares the machine's cores with what is measured.
broker_pid = None


def process_cpu_s(pid):
    """User + system CPU seconds of a running process, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        # Fields after the parenthesised command name; utime and stime are
        # the 14th and 15th fields of the whole line.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name, argv, stdout=subprocess.DEVNULL, env=None):
    """Runs argv to completion; wall seconds, CPU seconds, peak RSS (MiB),
    and the broker's CPU seconds over the same time."""
    log("$", " ".join(argv))
    broker_before = process_cpu_s(broker_pid) if broker_pid else 0.0
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.STDOUT, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    broker_cpu = process_cpu_s(broker_pid) - broker_before if broker_pid else 0.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError("%s exited with %d" % (name, proc.returncode))
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mib": ru.ru_maxrss / 1024,
            "broker_cpu_s": broker_cpu}


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


def measure_round(args, servers, topics, produced, tmp, k, measured_env):
    """One round of a, b, c (checkpoints off, then on) and d; round k's
    workers use groups of their own (and the checkpoint topic measured_env
    names), so none restores another's checkpoints."""
    r = {}
    out = open(tmp + "/raw.txt", "w")
    r["a_raw"] = measure("raw_consume", [args.raw_consume, servers, *topics], stdout=out)
    out.close()
    raw_records = int(re.search(r"records=(\d+)", open(tmp + "/raw.txt").read()).group(1))
    if raw_records != produced:
        raise RuntimeError("the broker holds %d records of %d produced: more partitions "
                           "(--partitions) so that none exceeds the mock's ~5 MiB"
                           % (raw_records, produced))
    kcat = {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mib": 0.0, "broker_cpu_s": 0.0}
    for t in topics:
        m = measure("kcat", ["kcat", "-C", "-b", servers, "-t", t, "-o", "beginning", "-e", "-q"])
        kcat = {"wall_s": kcat["wall_s"] + m["wall_s"], "cpu_s": kcat["cpu_s"] + m["cpu_s"],
                "peak_rss_mib": max(kcat["peak_rss_mib"], m["peak_rss_mib"]),
                "broker_cpu_s": kcat["broker_cpu_s"] + m["broker_cpu_s"]}
    r["b_kcat"] = kcat
    r["c_run_no_checkpoints"] = run_worker(
        args.roadpulse, servers, "bench-nocp-%d" % k, "%s/run-nocp-%d.log" % (tmp, k),
        ["--checkpoint-interval-ms", "0"], measured_env)
    r["c_run"] = run_worker(args.roadpulse, servers, "bench-%d" % k,
                            "%s/run-%d.log" % (tmp, k), [], measured_env)
    out = open(tmp + "/py.txt", "w")
    r["d_python"] = measure("python baseline", [
        "/usr/bin/python3", os.path.join(HERE, "python_baseline.py"),
        "--bootstrap-servers", servers, "--pb2", args.pb2], stdout=out)
    out.close()
    r["d_python"]["output"] = open(tmp + "/py.txt").read().strip()
    return r


def main():
    global broker_pid
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
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure a, b, c and d this many times, in turn, on the same broker; "
                    "prints the median of each and of each round's ratios (the machine's "
                    "noise moves single runs by a third)")
    ap.add_argument("--keep-logs", metavar="DIR",
                    help="copy the measured workers' logs (run-nocp-K.log: checkpoints off, "
                    "run-K.log: c, in round K from 0; takeover.log) into DIR")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.preload and not os.path.isfile(args.preload):
        ap.error("--preload: no such file: %s" % args.preload)
    measured_env = dict(os.environ, LD_PRELOAD=args.preload) if args.preload else os.environ

    results = {"events": args.events, "partitions": args.partitions,
               "machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname()),
                           "load_before": os.getloadavg()},
               "preload": args.preload}
    with tempfile.TemporaryDirectory() as tmp:
        # binzhou-2025 has ~355,000 records; --events cuts the scaled history.
        factor = max(1, math.ceil(args.events / 350_000))
        broker = subprocess.Popen([args.roadpulse, "broker", "--partitions", str(args.partitions),
                                   "--control"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        broker_pid = broker.pid
        try:
            servers = broker.stdout.readline().strip().split("=", 1)[1]
            log("broker at", servers)
            gen = [args.roadpulse, "generate", "--scale", str(factor), "--seed",
                   str(args.seed), "--events", str(args.events)]
            load_props = [a for p in args.generate_property for a in ("-X", p)]
            results["load"] = measure("generate", gen + load_props + [
                "--bootstrap-servers", servers, "--truth", tmp + "/truth.json"])
            with open(tmp + "/truth.json") as f:
                produced = json.load(f)["produced"]["total"]
            results["produced"] = produced
            topics = ["roadpulse.incidents", "roadpulse.violations"]

            rounds = []
            for k in range(args.rounds):
                # A checkpoint topic per round: a worker's restore reads its
                # whole topic, and the earlier rounds' checkpoints made it
                # 0.2 s slower per round (the mock does not compact).
                checkpoints = "roadpulse.checkpoints.round-%d" % k
                broker.stdin.write("topic %s %d\n" % (checkpoints, args.partitions))
                broker.stdin.flush()
                answer = broker.stdout.readline().strip()
                if not answer.startswith("ok"):
                    raise RuntimeError("broker: " + answer)
                round_env = dict(measured_env, ROADPULSE_TOPICS_CHECKPOINTS=checkpoints)
                rounds.append(measure_round(args, servers, topics, produced, tmp, k,
                                            round_env))
            results["rounds"] = rounds
            # The first round under the names a single-round run has always used.
            results.update(rounds[0])
            # A worker with nothing on its disk takes every partition over
            # from the checkpoints the last c run wrote (its group; round_env
            # still names its checkpoint topic).
            results["c_takeover"] = run_worker(args.roadpulse, servers,
                                               "bench-%d" % (args.rounds - 1),
                                               tmp + "/takeover.log", [], round_env)
            if args.keep_logs:
                os.makedirs(args.keep_logs, exist_ok=True)
                for name in os.listdir(tmp):
                    if name.endswith(".log"):
                        shutil.copy(os.path.join(tmp, name), args.keep_logs)
            measure("generate --output", gen + ["--output", tmp + "/events.pb"])
            results["e_replay"] = measure("replay", [args.roadpulse, "replay", tmp + "/events.pb",
                                                     "--format", "json"], env=measured_env)
        finally:
            broker_pid = None
            broker.terminate()
            broker.wait(10)

    n = results["produced"]
    rounds = results["rounds"]
    # (name, key of the measurement, the time that gives its events/s)
    rows = [("a raw consume", "a_raw", "wall_s"),
            ("b kcat", "b_kcat", "wall_s"),
            ("c roadpulse run (wall, with group join)", "c_run", "wall_s"),
            ("c roadpulse run (processing)", "c_run", "processing_s"),
            ("c roadpulse run, checkpoints off (processing)", "c_run_no_checkpoints",
             "processing_s"),
            ("c fresh worker taking over (processing)", "c_takeover", "processing_s"),
            ("d python baseline", "d_python", "wall_s"),
            ("e replay from file", "e_replay", "wall_s")]
    print("%d events, %d partitions per input topic; machine: %d CPUs, load before %.1f" % (
        n, args.partitions, os.cpu_count(), results["machine"]["load_before"][0]))
    if args.preload:
        print("roadpulse (c, e) ran with LD_PRELOAD=%s" % args.preload)
    if len(rounds) > 1:
        print("median of %d rounds (events/s from the median time; peak RSS the highest); "
              "the takeover and replay ran once" % len(rounds))
    print("%-48s %12s %9s %9s %10s %9s %6s%s" % (
        "", "events/s", "wall s", "CPU s", "peak RSS", "broker s", "cores",
        "   events/s, each round" if len(rounds) > 1 else ""))
    for name, key, time_key in rows:
        runs = [r[key] for r in rounds] if key in rounds[0] else [results[key]]
        t = statistics.median(r[time_key] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        rss = max(r["peak_rss_mib"] for r in runs)
        broker_cpu = statistics.median(r["broker_cpu_s"] for r in runs)
        # Cores kept busy: the measured program's and the broker's CPU over
        # the time its events/s comes from (of os.cpu_count()).
        cores = statistics.median((r["cpu_s"] + r["broker_cpu_s"]) / r[time_key] for r in runs)
        each = ("   " + ", ".join("%.0f" % (n / r[time_key]) for r in runs)) if len(runs) > 1 else ""
        print("%-48s %12.0f %9.2f %9.2f %7.1f MiB %9.2f %6.2f%s" % (
            name, n / t, t, cpu, rss, broker_cpu, cores, each))
    by_round = []
    for r in rounds:
        # A ratio of rates over the same records is the inverse ratio of times.
        c_s = r["c_run"]["processing_s"]
        # The worker and the broker share the machine's cores: c takes at
        # least their CPU seconds over the cores (the join's few included).
        c_floor_s = (r["c_run"]["cpu_s"] + r["c_run"]["broker_cpu_s"]) / os.cpu_count()
        by_round.append({"c/a": r["a_raw"]["wall_s"] / c_s, "c/b": r["b_kcat"]["wall_s"] / c_s,
                         "c/d": r["d_python"]["wall_s"] / c_s,
                         "checkpoints on/off": r["c_run_no_checkpoints"]["processing_s"] / c_s,
                         "c/a ceiling": r["a_raw"]["wall_s"] / c_floor_s})
    results["ratios_by_round"] = by_round
    results["ratios"] = {k: statistics.median(x[k] for x in by_round) for k in by_round[0]}
    line = ("c/a = %.2f (ceiling %.2f)   c/b = %.2f   c/d = %.1f   "
            "checkpoints on/off = %.2f")
    if len(rounds) > 1:
        for k, x in enumerate(by_round):
            print(("round %d: " % (k + 1)) + line % (x["c/a"], x["c/a ceiling"], x["c/b"],
                                                     x["c/d"], x["checkpoints on/off"]))
        print("median:  ", end="")
    x = results["ratios"]
    print(line % (x["c/a"], x["c/a ceiling"], x["c/b"], x["c/d"], x["checkpoints on/off"]))
    print("takeover: restore of every partition from checkpoints %.3f s; from offset 0 it "
          "would re-read %d records" % (results["c_takeover"]["restore_s"], n))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
