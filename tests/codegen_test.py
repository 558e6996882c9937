#!/usr/bin/python3
"""The processors' cache hints survive compilation.

g++ 12 once deleted every call to IdTable::Prefetch and
PartitionProcessor::PrefetchBucket: a function whose only effects are
__builtin_prefetch was found pure, and its calls dropped (BENCHMARKS.md,
session 9). Nothing else notices when a hint is gone: results stay the same,
only slower. This test disassembles the processors library and requires the
prefetch instructions in the functions that give the hints.

Usage: codegen_test.py --library build/processors/libroadpulse_processors.a
Exit 77 (skipped) where objdump or a known prefetch mnemonic is missing.
"""

import argparse
import platform
import re
import shutil
import subprocess
import sys

SKIP = 77

# Function (as objdump -C prints it, up to the parameter list) -> the least
# number of prefetch instructions its body must hold.
REQUIRED = {
    # The dedup-table hint: two buckets, each from its first and last byte.
    "roadpulse::PartitionProcessor::Prefetch(": 4,
    # The pooled bucket a new fine bucket will reuse.
    "roadpulse::PartitionProcessor::Process(": 1,
    # The id sweep's look-ahead (IdTable::EraseIf, inlined).
    "roadpulse::PartitionProcessor::SweepIds(": 1,
}

PREFETCH = {
    "x86_64": re.compile(r"\bprefetch(t0|t1|t2|nta|w)?\b"),
    "aarch64": re.compile(r"\bprfm\b"),
}


def bodies(disassembly):
    """Maps each function's demangled name to its instruction lines."""
    out = {}
    name = None
    for line in disassembly.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            name = m.group(1)
            out.setdefault(name, [])
        elif name is not None and line.strip():
            out[name].append(line)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--library", required=True)
    args = parser.parse_args()

    pattern = PREFETCH.get(platform.machine())
    if pattern is None or shutil.which("objdump") is None:
        print(f"SKIP: no prefetch mnemonic known for {platform.machine()} or no objdump")
        return SKIP
    text = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", args.library],
                          check=True, capture_output=True, text=True).stdout
    functions = bodies(text)
    failures = []
    for prefix, least in REQUIRED.items():
        found = [n for n in functions if n.startswith(prefix)]
        if not found:
            failures.append(f"{prefix}...) not found in {args.library}")
            continue
        count = sum(1 for n in found for line in functions[n] if pattern.search(line))
        print(f"{prefix}...): {count} prefetch instructions (at least {least})")
        if count < least:
            failures.append(f"{prefix}...) holds {count} prefetch instructions, "
                            f"expected at least {least}: the hint was compiled away")
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("OK: every hint is in the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
