"""deploy/Dockerfile builds with the README's install step, so the two cannot
drift: its build stage runs `bash deploy/setup.sh` (the command the README
tells a person to run), copies the binary from where setup.sh builds it, and
the runtime stage is Debian 12 with a non-root user and roadpulse as PID 1."""
import argparse
import re
import shlex
import sys


def stages(dockerfile):
    """[(name, base, [(instruction, args)])] with line continuations joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            out.append((name, parts[0], []))
        elif out:
            out[-1][2].append((instr, rest.strip()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    failures = []

    def check(ok, message):
        print("%-4s %s" % ("ok" if ok else "FAIL", message))
        if not ok:
            failures.append(message)

    dockerfile = open(args.source + "/deploy/Dockerfile").read()
    readme = open(args.source + "/README.md").read()
    setup = open(args.source + "/deploy/setup.sh").read()
    st = stages(dockerfile)
    check(len(st) >= 2, "multi-stage: %d stages" % len(st))
    build, runtime = st[0], st[-1]
    check(re.fullmatch(r"debian:(12|bookworm)(-slim)?", build[1]) is not None,
          "build stage is Debian 12 (%s)" % build[1])
    check(re.fullmatch(r"debian:(12|bookworm)(-slim)?", runtime[1]) is not None,
          "runtime stage is Debian 12 (%s)" % runtime[1])
    runs = [a for i, a in build[2] if i == "RUN"]
    check(any(re.fullmatch(r"bash deploy/setup\.sh", r) for r in runs),
          "build stage runs `bash deploy/setup.sh` (RUN lines: %s)" % runs)
    # The README's install step is the same command.
    readme_steps = re.findall(r"^(bash deploy/setup\.sh)\b", readme, re.M)
    check(bool(readme_steps), "README's install step is `bash deploy/setup.sh`")
    check(not any(re.search(r"apt-get install", r) for r in runs),
          "build stage installs nothing by itself (setup.sh does)")
    # The binary is copied from where setup.sh builds it.
    m = re.search(r"cmake -S \. -B (\S+) -G Ninja -DCMAKE_BUILD_TYPE=\S+ >", setup)
    build_dir = m.group(1) if m else None
    check(build_dir is not None, "setup.sh builds into %s/" % build_dir)
    check(build_dir is not None and "%s/app/roadpulse" % build_dir in dockerfile,
          "the Dockerfile takes the binary from %s/app/roadpulse" % build_dir)
    check(any(i == "COPY" and a.startswith("--from=") for i, a in runtime[2]),
          "runtime stage copies the build stage's output")
    users = [a for i, a in runtime[2] if i == "USER"]
    check(bool(users) and users[-1].split(":")[0] not in ("root", "0"),
          "runtime stage runs as a non-root user (USER %s)" % (users[-1] if users else None))
    entry = [a for i, a in runtime[2] if i == "ENTRYPOINT"]
    check(bool(entry) and entry[-1].startswith("[") and "roadpulse" in entry[-1],
          "exec-form ENTRYPOINT: roadpulse is PID 1 and gets SIGTERM (%s)" % entry)
    runtime_runs = " ".join(a for i, a in runtime[2] if i == "RUN")
    check("-dev" not in runtime_runs and "build-essential" not in runtime_runs,
          "runtime stage installs no compilers or -dev packages")
    if failures:
        print("FAIL: %d check(s)" % len(failures))
        return 1
    print("PASS: the Dockerfile builds with deploy/setup.sh, runs as non-root")
    return 0


if __name__ == "__main__":
    sys.exit(main())
