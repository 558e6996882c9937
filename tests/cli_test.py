"""Every subcommand describes itself, and a bad flag or value stops the
program with a message naming it and exit code 2 (CLI11's own codes, 105
for a bad value, 109 for an unknown flag, ..., are mapped to it)."""
import argparse
import re
import subprocess
import sys
import unicodedata


HELP_COLUMNS = 100


def width(text):
    """Terminal columns: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def run(roadpulse, *args, env=None):
    p = subprocess.run([roadpulse, *args], capture_output=True, text=True, timeout=60, env=env)
    return p.returncode, p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    args = ap.parse_args()
    failures = []
    # Takes about 70 s of waiting, alongside the rest; an exception in it
    # is a failure too.
    import threading
    unreachable = []

    def unreachable_check():
        try:
            unreachable.extend(check_run_cluster_unreachable(args.roadpulse))
        except Exception as e:  # pylint: disable=broad-except
            unreachable.append("run with the cluster unreachable: %r" % e)
    waiting = threading.Thread(target=unreachable_check)
    waiting.start()

    rc, top = run(args.roadpulse, "--help")
    subcommands = re.findall(r"^  ([a-z][a-z-]+)\s{2,}", top.split("Subcommands:")[1], re.M)
    print("subcommands:", " ".join(subcommands))
    if rc != 0 or len(subcommands) < 5:
        failures.append("roadpulse --help: rc=%d, subcommands %s" % (rc, subcommands))
    # One entry per subcommand, its first sentence (wrapped; continuation
    # lines indented to the description column); the whole description is in
    # `roadpulse CMD --help`.
    entries = []
    for line in top.split("Subcommands:")[1].strip("\n").splitlines():
        if re.match(r"^  [a-z]", line):
            entries.append(line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else "")
        elif line.startswith(" " * 30) and entries:
            entries[-1] += " " + line.strip()
        else:
            failures.append("roadpulse --help: a line neither starts nor continues an entry: %r"
                            % line)
    if len(entries) != len(subcommands):
        failures.append("roadpulse --help: %d entries for %d subcommands" % (len(entries),
                                                                            len(subcommands)))
    for entry in entries:
        if not entry.endswith(".") or re.search(r"\.\s", entry):
            failures.append("roadpulse --help: not one sentence: %r" % entry)
    if "down BROKER" in top or "down BROKER" not in run(args.roadpulse, "broker", "--help")[1]:
        failures.append("broker's control commands belong in `broker --help`, not `--help`")
    for cmd in subcommands:
        rc, text = run(args.roadpulse, cmd, "--help")
        flags = re.findall(r"--[a-z][a-z-]+", text)
        if rc != 0 or len(text.splitlines()) < 4:
            failures.append("%s --help: rc=%d" % (cmd, rc))
        print("%-10s --help ok, %d flags" % (cmd, len(set(flags))))
        screens = [(cmd, text)] + ([("roadpulse", top)] if cmd == subcommands[0] else [])
        if "Subcommands:" in text:  # config check/topics, broker's control commands
            for sub in re.findall(r"^  ([a-z][a-z-]+)\s", text.split("Subcommands:")[1], re.M):
                screens.append(("%s %s" % (cmd, sub), run(args.roadpulse, cmd, sub, "--help")[1]))
        for name, screen in screens:
            # Wrapped to 100 columns when stdout is not a terminal (a word
            # longer than a line may stand alone).
            for line in screen.splitlines():
                if width(line) > HELP_COLUMNS and len(line.split()) > 1:
                    failures.append("%s --help: a line of %d columns: %r" % (name, width(line),
                                                                             line))
        # Required flags are given, so the unknown one is what gets reported.
        required = ["--bootstrap-servers", "127.0.0.1:1"] if "REQUIRED" in text else []
        rc, text = run(args.roadpulse, cmd, *required, "--no-such-flag")
        if rc != 2 or "--no-such-flag" not in text:
            failures.append("%s --no-such-flag: rc=%d, %r" % (cmd, rc, text[:200]))

    # Bad values: the message names the flag.
    cases = [
        (["broker", "--partitions", "0"], "--partitions"),
        (["broker", "--brokers", "many"], "--brokers"),
        (["run", "--bootstrap-servers", "127.0.0.1:1", "--flush-interval-ms", "0"],
         "--flush-interval-ms"),
        (["run", "--bootstrap-servers", "127.0.0.1:1", "--regions", "/nonexistent.toml"],
         "--regions"),
        (["run"], "--bootstrap-servers"),
        (["generate", "--seed", "-3", "--output", "/dev/null"], "--seed"),
        (["demo", "--seed", "-3"], "--seed"),
        (["generate", "--through", "2025-02-30", "--output", "/dev/null"], "--through"),
        (["generate", "--scale", "0", "--output", "/dev/null"], "--scale"),
        (["generate", "--scale", "101", "--output", "/dev/null"], "--scale"),
        (["demo", "--lang", "fr"], "--lang"),
        (["demo", "--rate", "0"], "--rate"),
        (["report", "--bootstrap-servers", "x", "--from", "2025-13-01"], "--from"),
        # kafka-topics.sh's spelling is taken too: the error is the date's.
        (["report", "--bootstrap-server", "x", "--from", "2025-13-01"], "--from"),
        (["report", "--bootstrap-servers", "x", "--from", "2025-01-01"], "longer than a year"),
        # CLI11 alone wrapped -1 around to 2^64 - 1.
        (["generate", "--output", "/dev/null", "--seed", "-1"],
         "--seed: expected a whole number from 0 to 18446744073709551615, got '-1'"),
        # run's name for the counts topic is taken by report and serve too.
        (["report", "--bootstrap-servers", "x", "--counts-topic", "t", "--from", "2025-13-01"],
         "--from"),
        # serve takes -X as the other commands that read the cluster do.
        (["serve", "--bootstrap-servers", "x", "-X", "no.such.property=1"], "no.such.property"),
        (["report", "--bootstrap-servers", "x", "--from", "2025-05-01", "--to", "2025-01-01"],
         "--from"),
        (["report", "--bootstrap-servers", "x", "--region", "999999"], "--region"),
        (["report", "--bootstrap-servers", "x", "--format", "xml"], "--format"),
        (["report", "--bootstrap-servers", "x", "--bom"], "--bom"),
        (["report"], "--bootstrap-servers"),
        (["report", "--bootstrap-servers", "x", "-X", "linger.ms"],
         "-X: expected key=value, got 'linger.ms'"),
        (["report", "--bootstrap-servers", "x", "-X", "no.such.property=1"], "no.such.property"),
        (["report", "--config", "/nonexistent.toml"], "/nonexistent.toml"),
        (["replay", "/dev/null", "--format", "json", "--bom"], "--bom"),
        # The topic-reading flags replay, export and inspect share.
        (["replay", "--bootstrap-servers", "x", "--since", "yesterday"], "--since"),
        (["replay", "--bootstrap-servers", "x", "--until", "2025-02-30"], "--until"),
        (["replay", "--bootstrap-servers", "x", "-X", "linger.ms"], "got 'linger.ms'"),
        (["replay", "--bootstrap-servers", "x", "--topic", "roadpulse.counts"], "--topic"),
        (["export", "--bootstrap-servers", "x", "--output", "/dev/null", "--from", "soon"],
         "--from"),
        (["export", "--bootstrap-servers", "x", "--output", "/dev/null", "-X", "=1"], "got '=1'"),
        (["inspect", "--bootstrap-servers", "x", "--topic", "t", "--to", "2025-13-01"], "--to"),
        (["inspect", "--bootstrap-servers", "x", "--topic", "t", "-X", "acks"], "got 'acks'"),
        (["replay", "--bootstrap-servers", "x", "-X", "no.such.property=1"], "no.such.property"),
        (["export", "--config", "/nonexistent.toml", "--output", "/dev/null"], "/nonexistent.toml"),
        (["inspect", "--bootstrap-servers", "x", "--topic", "t", "-X", "fetch.wait.max.ms=soon"],
         "fetch.wait.max.ms"),
        (["export", "--output", "/dev/null"], "--bootstrap-servers"),
        (["inspect", "--bootstrap-servers", "x", "--topic", "roadpulse.dlq", "--reason", "late"],
         "--reason"),
        (["inspect", "--bootstrap-servers", "x", "--topic", "t", "--reason", "too_late"],
         "--reason"),
    ]
    for argv, flag in cases:
        rc, text = run(args.roadpulse, *argv)
        ok = rc == 2 and flag in text
        print("%-4s %s -> rc=%d: %s" % ("ok" if ok else "BAD", " ".join(argv), rc,
                                        text.strip().splitlines()[0] if text.strip() else ""))
        if not ok:
            failures.append("%s: rc=%d, output does not name %s: %r" % (argv, rc, flag, text[:300]))

    failures += check_broker_control(args.roadpulse)
    failures += check_replay_rejects(args.roadpulse)
    failures += check_replay_unreadable_input(args.roadpulse)
    failures += check_replay_out_of_order(args.roadpulse)
    failures += check_output_write_failures(args.roadpulse)
    failures += check_unknown_command(args.roadpulse)
    failures += check_stdout_is_output(args.roadpulse)
    failures += check_http_port_in_use(args.roadpulse)
    failures += check_report_cluster_down(args.roadpulse)
    failures += check_config_topics_script(args.roadpulse)
    waiting.join()
    failures += unreachable

    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def check_broker_control(roadpulse):
    """`broker --control`: a bad command is answered with an error naming the
    problem, and the broker keeps serving commands; it exits 0 on SIGTERM."""
    import kafka_harness as h
    failures = []
    b = h.Broker(roadpulse, 2, brokers=2, control=True)
    try:
        for command, answer in [
                ("explode 1", "error: unknown command 'explode'"),
                ("down", "error: 'down' takes 1 argument(s), got 0"),
                ("down 3", "error: broker id 3 is out of range [-1, 2]"),
                ("rtt 1 soon", "error: rtt milliseconds 'soon' is not an integer"),
                ("errors Fetchh REQUEST_TIMED_OUT 1", "error: unknown Kafka API 'Fetchh'"),
                ("errors Fetch DISK_FULL 1", "error: unknown or unsupported error 'DISK_FULL'"),
                ("leader roadpulse.nope 0 1", "error: mock broker: no partition roadpulse.nope[0]"),
                ("down 2", "ok broker 2 down"),  # still serving after all of the above
                ("up 2", "ok broker 2 up"),
                ("errors OffsetCommit COORDINATOR_NOT_AVAILABLE 2",
                 "ok next 2 OffsetCommit request(s) fail with COORDINATOR_NOT_AVAILABLE")]:
            got = b.command(command)
            ok = got.startswith(answer)
            print("%-4s broker --control: %s -> %s" % ("ok" if ok else "BAD", command, got[:100]))
            if not ok:
                failures.append("broker --control %r: expected %r..., got %r" %
                                (command, answer, got))
    finally:
        b.stop()
    if b.proc.returncode != 0:
        failures.append("broker --control exited with %s on SIGTERM" % b.proc.returncode)
    return failures


def log_lines(text, command):
    """Problems with the log lines in `text` (all but the last line, the
    command's plain error) under --log-format json: each must be a JSON
    object naming `command` and no worker. Returns (problems, lines)."""
    import json
    lines = text.strip().splitlines()[:-1]
    problems = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            problems.append("not JSON: %r" % line[:120])
            continue
        if obj.get("command") != command or "worker" in obj or not obj.get("msg"):
            problems.append("command %r, worker %r: %r" % (obj.get("command"), obj.get("worker"),
                                                           line[:120]))
    return problems, lines


def check_report_cluster_down(roadpulse):
    """The commands that read topics, against a cluster whose brokers are
    all down: exit code 1 (the cluster failed, not the flags: those are 2),
    naming the servers. With --log-format json their log lines (librdkafka's
    complaints about the brokers) are JSON objects naming the command, and
    the configuration's log level silences them."""
    import os
    import kafka_harness as h
    failures = []
    with h.Broker(roadpulse, 2, control=True) as b:
        answer = b.command("down -1")
        if not answer.startswith("ok"):
            failures.append("broker: down -1: %s" % answer)
        for argv, says in [
                (["report"], "cannot read roadpulse.counts from %s: " % b.servers),
                (["replay"], "cannot read roadpulse.incidents, roadpulse.violations from %s: "
                 % b.servers),
                (["export", "--output", "/dev/null"],
                 "cannot read roadpulse.incidents, roadpulse.violations from %s: " % b.servers),
                (["inspect", "--topic", "roadpulse.counts"],
                 "cannot read roadpulse.counts from %s: " % b.servers)]:
            rc, text = run(roadpulse, *argv, "--bootstrap-servers", b.servers,
                           "--log-format", "json")
            last = text.strip().splitlines()[-1] if text.strip() else ""
            problems, lines = log_lines(text, argv[0])
            ok = rc == 1 and says in last and lines and not problems
            print("%-4s %s with every broker down -> rc=%d: %s; %d JSON log lines" % (
                "ok" if ok else "BAD", argv[0], rc, last, len(lines)))
            if not ok:
                failures.append("%s with every broker down: rc=%d, %r; %d log lines: %s" % (
                    argv[0], rc, text[-300:], len(lines), problems[:3]))
        # ROADPULSE_LOG_LEVEL=critical: only the command's own error is left.
        env = dict(os.environ, ROADPULSE_LOG_LEVEL="critical")
        rc, text = run(roadpulse, "report", "--bootstrap-servers", b.servers, env=env)
        lines = text.strip().splitlines()
        ok = rc == 1 and len(lines) == 1 and lines[0].startswith("roadpulse report: cannot read")
        print("%-4s report with every broker down, log.level critical -> rc=%d, %d lines" % (
            "ok" if ok else "BAD", rc, len(lines)))
        if not ok:
            failures.append("report with log.level critical: rc=%d, %r" % (rc, lines[:3]))
    return failures


def check_run_cluster_unreachable(roadpulse):
    """`run` against an address where no broker listens: it gives up
    setting up after about 70 s (the checkpoint topic's metadata) with exit
    code 1, a failure of the cluster (systemd restarts it; 2 would say bad
    configuration and stop it for good), naming what it waited for. Told to
    stop while it waits, it stops at once with exit code 0. While it waits,
    --http already answers /healthz (a liveness probe must not kill it
    before it can say why) and /metrics says roadpulse_worker_starting 1."""
    import signal
    import time
    import urllib.request
    import kafka_harness as h
    servers = "127.0.0.1:%d" % h.free_port()  # a port nothing listens on
    http = "127.0.0.1:%d" % h.free_port()
    argv = [roadpulse, "run", "--bootstrap-servers", servers, "--log-level", "error"]
    left = subprocess.Popen(argv + ["--http", http], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    stopped = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    failures = []
    try:
        time.sleep(3)
        answers = []
        for path in ("/healthz", "/metrics"):
            try:
                with urllib.request.urlopen("http://%s%s" % (http, path), timeout=10) as r:
                    answers.append((r.status, r.read().decode()))
            except OSError as e:
                answers.append((None, repr(e)))
        ok = (answers[0][0] == 200 and answers[1][0] == 200 and
              "\nroadpulse_worker_starting 1\n" in answers[1][1])
        print("%-4s run --http, cluster unreachable, after 3 s: /healthz %s, /metrics %s %r" % (
            "ok" if ok else "BAD", answers[0][0], answers[1][0],
            [l for l in answers[1][1].splitlines() if not l.startswith("#")][:3]))
        if not ok:
            failures.append("run --http while it waits for the cluster: %r" % answers)
        rc, err, took = h.signal_and_wait(stopped, signal.SIGTERM, 30)
        # Not a speed goal: without the stop it would wait another ~67 s.
        ok = (rc == 0 and took < 20 and
              "roadpulse run: stopped while starting, before consuming" in err)
        print("%-4s run, cluster unreachable, SIGTERM after 3 s -> rc=%d after %.2f s: %s" % (
            "ok" if ok else "BAD", rc, took, err.strip().splitlines()[-1:]))
        if not ok:
            failures.append("run stopped while starting: rc=%d after %.1f s, %r" % (
                rc, took, err[-300:]))
        _, err = left.communicate(timeout=180)
        said = [line for line in err.splitlines() if "run: cannot start: " in line]
        ok = left.returncode == 1 and len(said) == 1 and "metadata of topic" in said[0]
        print("%-4s run, cluster unreachable -> rc=%d: %s" % (
            "ok" if ok else "BAD", left.returncode, said[0][-160:] if said else "nothing said"))
        if not ok:
            failures.append("run with the cluster unreachable: rc=%d, %r" % (left.returncode,
                                                                             err[-400:]))
    finally:
        for p in (left, stopped):
            if p.poll() is None:
                p.kill()
                p.wait()
    return failures


def check_config_topics_script(roadpulse):
    """`config topics FILE --script` writes the cluster the file names into
    every kafka-topics.sh command; --bootstrap-server overrides it; with
    neither, the commands expand $BOOTSTRAP as deploy/create-topics.sh does.
    A value with more than a host:port list's characters is single-quoted."""
    import os
    import tempfile
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADPULSE_")}
    failures = []
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write('[kafka]\n"bootstrap.servers" = "k1.example:9092,k2.example:9092"\n')
        f.flush()
        for argv, want in (
                ([f.name], "k1.example:9092,k2.example:9092"),
                ([f.name, "--bootstrap-server", "other:9093"], "other:9093"),
                # More than a host:port list is quoted for the shell.
                ([f.name, "--bootstrap-server", "k1:9092;reboot"], "'k1:9092;reboot'"),
                ([], "${BOOTSTRAP:-localhost:9092}")):
            rc, out = run(roadpulse, "config", "topics", "--script", *argv, env=env)
            lines = [l for l in out.splitlines() if l.startswith("kafka-topics.sh")]
            servers = {l.split("--bootstrap-server ", 1)[1].split(" ", 1)[0] for l in lines}
            ok = rc == 0 and len(lines) == 5 and servers == {want}
            what = "config topics --script %s" % " ".join(a if a != f.name else "FILE"
                                                         for a in argv)
            print("%-4s %s -> rc=%d, %d commands, --bootstrap-server %s" % (
                "ok" if ok else "BAD", what, rc, len(lines), sorted(servers)))
            if not ok:
                failures.append("%s: rc=%d, %r" % (what, rc, out[-400:]))
    return failures


def check_replay_rejects(roadpulse):
    """`replay` on worker threads (the default where there are cores) names
    each refused record by its place in its file, exactly as one thread
    does: the reject files are identical, and say where."""
    import os
    import tempfile
    failures = []
    here = os.path.dirname(os.path.abspath(__file__))
    mappings = os.path.join(here, "..", "deploy", "config", "mappings")
    with tempfile.TemporaryDirectory() as tmp:
        pb = os.path.join(tmp, "events.pb")
        rc, text = run(roadpulse, "generate", "--scenario", "binzhou-2025", "--seed", "4",
                       "--events", "40000", "--output", pb)
        if rc != 0:
            return ["generate --output: rc=%d %s" % (rc, text[-300:])]
        inputs = [[pb],
                  [os.path.join(mappings, "casualty-rows.sample.csv"), "--mapping",
                   os.path.join(mappings, "casualty-rows.toml")]]
        for argv in inputs:
            got = {}
            for threads in ("1", "2"):
                rejects = os.path.join(tmp, "rejects-%s.txt" % threads)
                rc, text = run(roadpulse, "replay", *argv, "--threads", threads,
                               "--rejects", rejects, "--format", "json")
                got[threads] = (rc, open(rejects).read() if os.path.exists(rejects) else None)
            lines = (got["1"][1] or "").splitlines()
            where = re.compile(r"^[^:]+:(record \d+ at byte offset \d+|line \d+): \S")
            ok = (got["1"][0] == 0 and got["1"] == got["2"] and len(lines) > 0 and
                  all(where.match(line) for line in lines))
            print("%-4s replay %s: --threads 1 and 2 write the same %d rejects (%s)" %
                  ("ok" if ok else "BAD", os.path.basename(argv[0]), len(lines),
                   lines[0] if lines else "none"))
            if not ok:
                failures.append("replay %s rejects differ by thread count or say no place: "
                                "%r vs %r" % (argv[0], got["1"], got["2"]))
    return failures


def check_replay_unreadable_input(roadpulse):
    """`replay` with an input it cannot read to the end (a missing file, a
    file cut short) or without a single event in it names it, prints no
    report (one on part of the input would pass for the whole, one of zeros
    for a quiet period), and exits 1, on one thread or more; the same input
    whole prints the report and exits 0."""
    import os
    import tempfile
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "events.pb")
        cut = os.path.join(tmp, "cut.pb")
        missing = os.path.join(tmp, "missing.pb")
        rc, text = run(roadpulse, "generate", "--seed", "5", "--events", "3000", "--output", good)
        if rc != 0:
            return ["generate --output: rc=%d %s" % (rc, text[-300:])]
        with open(good, "rb") as src, open(cut, "wb") as dst:
            data = src.read()
            dst.write(data[:len(data) // 2])  # cuts a record in two
        garbage = os.path.join(tmp, "garbage.jsonl")  # read as JSON Lines, not one event
        with open(garbage, "w") as f:
            f.write("hello world\nthis is not json\n")
        for inputs, rc_want, says in [
                ([good, missing], 1, missing + ": cannot open"),
                ([good, cut, good], 1, cut + ": truncated record"),
                ([garbage], 1, "none of the input's 2 rows/lines is an event"),
                ([good, good], 0, None)]:
            for threads in ("1", "2"):
                p = subprocess.run([roadpulse, "replay", *inputs, "--threads", threads,
                                    "--from", "2024-01-01", "--to", "2025-01-01"],
                                   capture_output=True, text=True, timeout=60)
                if rc_want == 0:
                    ok = p.returncode == 0 and "\n\n" in p.stdout and "no report" not in p.stderr
                else:
                    ok = (p.returncode == rc_want and p.stdout == "" and says in p.stderr and
                          "roadpulse replay: no report: " in p.stderr)
                names = " ".join(os.path.basename(i) for i in inputs)
                print("%-4s replay %s --threads %s -> rc=%d, %d bytes of report; %s" % (
                    "ok" if ok else "BAD", names, threads, p.returncode, len(p.stdout),
                    p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""))
                if not ok:
                    failures.append("replay %s --threads %s: rc=%d, stdout %r, stderr %r" % (
                        names, threads, p.returncode, p.stdout[:200], p.stderr[-400:]))
    return failures


def check_replay_out_of_order(roadpulse):
    """Inputs newest first: events more than 400 days older than one read
    before them on their partition are refused as too_late, as `run` would
    refuse them, and the report says how many of its periods' events it left
    out. Four hand-made accidents in 371603, one partition:
    A 2025-06-01 and D 2025-05-20 (this year's period), B 2024-03-01 (last
    year's), C 2023-01-05 (neither); A before B and C puts both 457+ days
    behind A. Oldest first, all four count."""
    import datetime
    import json
    import os
    import tempfile

    def accident(ident, occurred):
        t = datetime.datetime.strptime(occurred, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc) + datetime.timedelta(minutes=30)
        return json.dumps({
            "kind": "EVENT_KIND_INCIDENT", "key": ident,
            "timestampUnixMs": str(int(t.timestamp() * 1000)),
            "incident": {"id": ident, "revision": 1, "occurredAt": occurred,
                         "reportedAt": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "location": {"regionCode": "371603", "roadClass": "ROAD_CLASS_COUNTY"},
                         "severity": "SEVERITY_GENERAL",
                         "handling": "HANDLING_ORDINARY_PROCEDURE",
                         "vehicles": ["VEHICLE_CATEGORY_CAR"], "propertyLossYuan": "1000",
                         "injuries": 1}})

    a = accident("T-A", "2025-06-01T02:00:00Z")
    d = accident("T-D", "2025-05-20T02:00:00Z")
    b = accident("T-B", "2024-03-01T02:00:00Z")
    c = accident("T-C", "2023-01-05T02:00:00Z")
    # order -> (too_late refusals, of them in the periods, accidents, last year's)
    cases = {"newest first": ([a, d, b, c], 2, 1, 2, 0),
             "oldest first": ([c, b, d, a], 0, 0, 2, 1)}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (lines, too_late, in_periods, value, last_year) in cases.items():
            path = os.path.join(tmp, name.replace(" ", "-") + ".jsonl")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            p = subprocess.run([roadpulse, "replay", path, "--partitions", "1", "--from",
                                "2025-01-01", "--to", "2025-09-01", "--format", "json"],
                               capture_output=True, text=True, timeout=60)
            got_too_late = re.search(r"too_late (\d+)\)", p.stderr)
            warning = re.search(r"warning: (\d+) records of the report's periods were refused "
                                r"as too_late.*oldest first", p.stderr)
            row = {}
            if p.returncode == 0:
                for r in json.loads(p.stdout)["rows"]:
                    if r["region_code"] == "371603":
                        row = {m["metric"]: m for m in r["metrics"]}["accidents"]
            ok = (p.returncode == 0 and
                  (int(got_too_late.group(1)) if got_too_late else 0) == too_late and
                  (int(warning.group(1)) if warning else 0) == in_periods and
                  row.get("value") == value and row.get("last_year") == last_year)
            print("%-4s replay, %s: rc=%d, too_late %s, warning %s, accidents %s/%s "
                  "(expected %d, %d, %d/%d)" %
                  ("ok" if ok else "BAD", name, p.returncode,
                   got_too_late.group(1) if got_too_late else 0,
                   warning.group(1) if warning else "none", row.get("value"),
                   row.get("last_year"), too_late, in_periods, value, last_year))
            if not ok:
                failures.append("replay %s: %s" % (name, p.stderr[-600:]))
    return failures


def check_unknown_command(roadpulse):
    """A first word that names no command is named back, with the nearest
    command (CLI11 alone says "A subcommand is required", as if none were
    given); `help COMMAND` prints what `COMMAND --help` does."""
    failures = []
    for words, want in [
            (["repot"], "roadpulse: unknown command 'repot' (did you mean 'report'?)"),
            (["xyzzy"], "roadpulse: unknown command 'xyzzy'; "),
            (["config", "chek", "x.toml"],
             "roadpulse config: unknown command 'chek' (did you mean 'check'?)")]:
        rc, text = run(roadpulse, *words)
        ok = rc == 2 and want in text
        print("%-4s roadpulse %s -> rc=%d: %s" % ("ok" if ok else "BAD", " ".join(words), rc,
                                                 text.strip()))
        if not ok:
            failures.append("roadpulse %s: rc=%d, no %r in %r" % (" ".join(words), rc, want,
                                                                  text))
    for command in ("report", "serve", "config"):
        helped = subprocess.run([roadpulse, "help", command], capture_output=True, text=True,
                                timeout=60)
        asked = subprocess.run([roadpulse, command, "--help"], capture_output=True, text=True,
                               timeout=60)
        ok = helped.returncode == 0 and helped.stdout == asked.stdout and "--" in asked.stdout
        print("%-4s roadpulse help %s -> rc=%d, %d bytes, the same as %s --help: %s" % (
            "ok" if ok else "BAD", command, helped.returncode, len(helped.stdout), command,
            helped.stdout == asked.stdout))
        if not ok:
            failures.append("roadpulse help %s: rc=%d, %r" % (command, helped.returncode,
                                                            (helped.stdout + helped.stderr)[:300]))
    return failures


def check_output_write_failures(roadpulse):
    """A command whose output cannot be written (a full disk behind a
    redirection, here /dev/full) exits 1 and says so, rather than 0 with a
    cut file; the same command writing to /dev/null exits 0. A rejects file
    has one line per reject, whatever the reason's parser wrote."""
    import os
    import tempfile
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        pb = os.path.join(tmp, "events.pb")
        rc, text = run(roadpulse, "generate", "--seed", "5", "--events", "3000", "--output", pb)
        if rc != 0:
            return ["generate --output: rc=%d %s" % (rc, text[-300:])]
        window = ["--from", "2024-01-01", "--to", "2025-01-01"]
        for argv, says in [
                (["replay", pb, "--format", "csv"] + window, "cannot write to standard output"),
                (["inspect", pb], "cannot write to standard output"),
                (["config", "topics", "--script"], "cannot write to standard output"),
                (["replay", pb, "--rejects", "/dev/full"] + window,
                 "--rejects /dev/full: write failed: No space left on device")]:
            outcomes = {}
            for sink in ("/dev/null", "/dev/full"):
                with open(sink, "w") as out:
                    p = subprocess.run([roadpulse, *argv], stdout=out, stderr=subprocess.PIPE,
                                       text=True, timeout=60)
                outcomes[sink] = (p.returncode, p.stderr)
            wrote_to_full = "/dev/full" in argv
            ok = (outcomes["/dev/null"][0] == (1 if wrote_to_full else 0) and
                  outcomes["/dev/full"][0] == 1 and says in outcomes["/dev/full"][1])
            last = outcomes["/dev/full"][1].strip().splitlines()[-1:]
            print("%-4s %s > /dev/full -> rc=%d (to /dev/null rc=%d): %s" % (
                "ok" if ok else "BAD", " ".join(os.path.basename(a) for a in argv),
                outcomes["/dev/full"][0], outcomes["/dev/null"][0], last))
            if not ok:
                failures.append("%s to /dev/full: %r" % (argv, outcomes))
        garbage = os.path.join(tmp, "garbage.jsonl")
        with open(garbage, "w") as f:
            f.write("hello world\n{\"kind\": \n")
        rejects = os.path.join(tmp, "rejects.txt")
        p = subprocess.run([roadpulse, "replay", garbage, "--rejects", rejects],
                           capture_output=True, text=True, timeout=60)
        lines = open(rejects).read().splitlines() if os.path.exists(rejects) else []
        ok = (p.returncode == 1 and len(lines) == 2 and
              all(line.startswith("%s:line %d: " % (garbage, i + 1))
                  for i, line in enumerate(lines)))
        print("%-4s replay of 2 bad JSON lines -> rc=%d, rejects file: %r" % (
            "ok" if ok else "BAD", p.returncode, lines))
        if not ok:
            failures.append("rejects of 2 bad JSON lines: rc=%d, %r" % (p.returncode, lines))
    return failures


def check_http_port_in_use(roadpulse):
    """`demo --http` on a port another process listens on stops with a
    message naming the flag, the address and why (not a bare failure). Also
    when that process set SO_REUSEPORT, as any cpp-httplib server does by
    default (another roadpulse view, say): were roadpulse to set it too, both
    would listen and share the connections, each with its own token."""
    import socket
    failures = []
    for reuseport in (False, True):
        with socket.socket() as held:
            if reuseport:
                held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            port = held.getsockname()[1]
            rc, text = run(roadpulse, "demo", "--http", "127.0.0.1:%d" % port, "--duration", "1",
                           "--log-file", "/dev/null")
        what = "demo --http on a port in use%s" % (" (held with SO_REUSEPORT)" if reuseport else "")
        want = "--http: cannot listen on 127.0.0.1:%d: Address already in use" % port
        ok = rc != 0 and want in text
        print("%-4s %s -> rc=%d: %s" % ("ok" if ok else "BAD", what, rc,
                                         text.strip().splitlines()[-1:]))
        if not ok:
            failures.append("%s: rc=%d, no %r in %r" % (what, rc, want, text[-400:]))
    return failures


def check_stdout_is_output(roadpulse):
    """Logs go to stderr: `generate --output -` writes to stdout exactly the
    bytes it writes to a file (the same seed gives byte-identical output),
    and its log lines appear on stderr."""
    import os
    import tempfile
    argv = [roadpulse, "generate", "--seed", "5", "--events", "3000"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.pb")
        to_file = subprocess.run(argv + ["--output", path], capture_output=True, timeout=60)
        to_stdout = subprocess.run(argv + ["--output", "-"], capture_output=True, timeout=60)
        with open(path, "rb") as f:
            want = f.read()
    ok = (to_file.returncode == 0 and to_stdout.returncode == 0 and len(want) > 0 and
          to_stdout.stdout == want and b"generate: produced 3000" in to_stdout.stderr)
    print("%-4s generate --output -: %d bytes on stdout, %d in the file, log on stderr: %s" %
          ("ok" if ok else "BAD", len(to_stdout.stdout), len(want),
           b"generate: produced" in to_stdout.stderr))
    if ok:
        return []
    return ["generate --output - differs from --output FILE (rc %d, %d; stdout starts %r)" %
            (to_file.returncode, to_stdout.returncode, to_stdout.stdout[:80])]


if __name__ == "__main__":
    sys.exit(main())
