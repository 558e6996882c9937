#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

The seeds come from the repository: the shipped configuration, region table,
scenario, mappings and sample CSVs (deploy/config/), query strings from
tests/view_query_test.cc, and event logs made by `roadpulse generate` (the
binzhou-2025 scenario, fixed seed, so the files are the same every time).
Each target's header comment says what its input bytes mean.

    tests/fuzz/make_corpus.py --roadpulse build/app/roadpulse

Only the Python standard library and the zstd command-line tool are needed.
Rerun it when an input format changes, and commit the result (keep it small:
the seeds are starting points, the fuzzer grows its own corpus).

It overwrites the seeds it writes and deletes nothing: seeds added by hand
(a crash's reproducer, an edge case) stay, and so does a seed this script no
longer writes. It lists both at the end; delete the stale ones with git rm.
"""

import argparse
import gzip
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "config"
SEPARATOR = b"\n--\n"  # between records in event_fuzzer inputs
INCIDENT, VIOLATION = 1, 2  # roadpulse.v1.EventKind


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >= 0x80 else 0))
        if n < 0x80:
            return bytes(out)
        n >>= 7


def read_varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def read_event_log(path):
    """(kind, key, value, timestamp_ms) of each LoggedRecord of a delimited file."""
    data = path.read_bytes()
    pos, records = 0, []
    while pos < len(data):
        length, pos = read_varint(data, pos)
        body, pos = data[pos:pos + length], pos + length
        rec = {1: 0, 2: b"", 3: b"", 4: 0}
        p = 0
        while p < len(body):
            tag, p = read_varint(body, p)
            field, wire = tag >> 3, tag & 7
            if wire == 0:
                rec[field], p = read_varint(body, p)
            elif wire == 2:
                n, p = read_varint(body, p)
                rec[field], p = body[p:p + n], p + n
            else:
                raise ValueError(f"{path}: unexpected wire type {wire}")
        records.append((rec[1], rec[2], rec[3], rec[4]))
    return records


def generate(roadpulse, out, events):
    subprocess.run([roadpulse, "generate", "--seed", "7", "--events", str(events), "--output",
                    str(out)], check=True, stdout=subprocess.DEVNULL)


WRITTEN = set()  # every seed path this run wrote


def write(corpus, target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    WRITTEN.add((d / name).resolve())


def event_seeds(corpus, records):
    """event_fuzzer: byte 0 = kind (bit 0) + record time (bits 1-2), then values."""
    t = "event_fuzzer"
    by_kind = {INCIDENT: [], VIOLATION: []}
    for kind, key, value, _ in records:
        if kind in by_kind:
            by_kind[kind].append((key, value))
    for kind, bit in ((INCIDENT, 0), (VIOLATION, 1)):
        recs = by_kind[kind]
        step = max(1, len(recs) // 12)
        for i, (_, value) in enumerate(recs[::step][:12]):
            mode = 3 if i % 2 else 0  # after every event, or no record time
            write(corpus, t, f"{'incident' if kind == INCIDENT else 'violation'}-{i:02d}",
                  bytes([bit | mode << 1]) + value)
        # Ids seen more than once: duplicates and amendments, in file order.
        groups = {}
        for key, value in recs:
            groups.setdefault(key, []).append(value)
        repeated = [vs for vs in groups.values() if len(vs) > 1][:6]
        for i, values in enumerate(repeated):
            write(corpus, t, f"{'incident' if kind == INCIDENT else 'violation'}-repeat-{i}",
                  bytes([bit]) + SEPARATOR.join(values))
        write(corpus, t, f"{'incident' if kind == INCIDENT else 'violation'}-run",
              bytes([bit | 2 << 1]) + SEPARATOR.join(v for _, v in recs[:16]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roadpulse", required=True, help="the roadpulse executable")
    parser.add_argument("--out", default=str(ROOT / "tests" / "fuzz" / "corpus"))
    args = parser.parse_args()
    corpus = pathlib.Path(args.out)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        # Event logs: the same 24 records in each format, and compressed.
        generate(args.roadpulse, tmp / "log.pb", 24)
        delimited = (tmp / "log.pb").read_bytes()
        jsonl = subprocess.run([args.roadpulse, "inspect", str(tmp / "log.pb")], check=True,
                               stdout=subprocess.PIPE).stdout
        # Like EventLogWriter's zstd frames: no checksum.
        jsonl_zst = subprocess.run(["zstd", "-q", "-c", "--no-check"], input=jsonl, check=True,
                                   stdout=subprocess.PIPE).stdout
        logs = {"log.pb": delimited, "log.jsonl": jsonl,
                "log.pb.gz": gzip.compress(delimited, mtime=0), "log.jsonl.zst": jsonl_zst}
        for name, data in logs.items():
            (tmp / name).write_bytes(data)
            write(corpus, "event_log_fuzzer", name, data)
        lines = (tmp / "log.jsonl").read_bytes().splitlines(keepends=True)
        write(corpus, "event_log_fuzzer", "crlf-bad-line.jsonl",
              lines[0].replace(b"\n", b"\r\n") + b"{\"kind\": 7}\n\n" + b"".join(lines[1:4]))
        write(corpus, "event_log_fuzzer", "truncated.pb", (tmp / "log.pb").read_bytes()[:300])
        # The JSON fast path: each line alone, and forms it leaves to protobuf.
        for i, line in enumerate(lines):
            write(corpus, "json_fast_fuzzer", "line-%02d.json" % i, line.rstrip(b"\n"))
        for name, text in (
                ("proto-names.json", b'{"incident":{"id":"A-1","occurred_at":"2025-03-01T10:00:00Z",'
                                     b'"property_loss_yuan":"12"}}'),
                ("offset-time.json", b'{"incident":{"occurredAt":"2025-03-01T10:00:00+08:00"}}'),
                ("enum-number.json", b'{"violation":{"type":1,"bloodAlcoholMg100ml":-0}}'),
                ("raw.json", b'{"kind":"EVENT_KIND_VIOLATION","rawValue":"AP8=","rawKey":"YQ=="}')):
            write(corpus, "json_fast_fuzzer", name, text)
        write(corpus, "compressed_file_fuzzer", "log.pb.gz", (tmp / "log.pb.gz").read_bytes())
        write(corpus, "compressed_file_fuzzer", "log.jsonl.zst",
              (tmp / "log.jsonl.zst").read_bytes())

        # Enough records for duplicates and amendments.
        generate(args.roadpulse, tmp / "many.pb", 4000)
        event_seeds(corpus, read_event_log(tmp / "many.pb"))

        # Compressed files: zstd with and without a checksum, concatenated gzip members.
        csv = CONFIG / "mappings" / "city-accidents.sample.csv"
        for name, flags in (("csv.zst", ["--no-check"]), ("csv-checked.zst", ["--check"])):
            out = subprocess.run(["zstd", "-q", "-c", *flags, str(csv)], check=True,
                                 stdout=subprocess.PIPE).stdout
            write(corpus, "compressed_file_fuzzer", name, out)
        casualty = (CONFIG / "mappings" / "casualty-rows.sample.csv").read_bytes()
        member = gzip.compress(casualty, mtime=0)
        write(corpus, "compressed_file_fuzzer", "two-members.gz", member + member)
        write(corpus, "compressed_file_fuzzer", "plain.txt", casualty[:64])

    # CSV files and mappings.
    for name in ("city-accidents.sample.csv", "casualty-rows.sample.csv"):
        write(corpus, "csv_fuzzer", name, (CONFIG / "mappings" / name).read_bytes())
    write(corpus, "csv_fuzzer", "quotes-crlf.csv",
          b'a,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\nlines",\r\n3,z,end')
    write(corpus, "csv_fuzzer", "city-accidents.csv.gz",
          gzip.compress((CONFIG / "mappings" / "city-accidents.sample.csv").read_bytes(), mtime=0))
    for name in ("city-accidents.toml", "casualty-rows.toml"):
        write(corpus, "csv_mapping_fuzzer", name, (CONFIG / "mappings" / name).read_bytes())

    # Region tables, configuration, scenarios.
    write(corpus, "region_table_fuzzer", "binzhou.toml",
          (CONFIG / "regions" / "binzhou.toml").read_bytes())
    write(corpus, "region_table_fuzzer", "minimal.toml", b"""time_zone = "Asia/Shanghai"
[city]
code = "1"
name_zh = "C"
[[units]]
code = "11"
name_zh = "D"
parent = "1"
kind = "district"
main_urban = true
[[units]]
code = "111"
name_zh = "T"
parent = "11"
kind = "township"
""")
    write(corpus, "config_fuzzer", "roadpulse.toml", (CONFIG / "roadpulse.toml").read_bytes())
    write(corpus, "config_fuzzer", "compose.toml",
          (ROOT / "deploy" / "compose" / "roadpulse.toml").read_bytes())
    write(corpus, "scenario_fuzzer", "binzhou-2025.toml",
          (CONFIG / "scenarios" / "binzhou-2025.toml").read_bytes())

    # Query strings of /api/v1/counts and /api/v1/report (tests/view_query_test.cc).
    for i, q in enumerate([
            b"metric=deaths&region=371602&window=ytd",
            b"metric=accidents&window=2024-02-29..2024-03-01",
            b"metric=accidents&window=1h",
            b"a=x%20y+z&metric=drink_driving&window=month",
            b"from=2025-01-01&to=2025-09-01&region=371602&lang=en&format=md",
            b"metric=accidents&window=2025-03-01..2025-01-01",
            b"metric=accidents&=1"]):
        write(corpus, "view_query_fuzzer", f"query-{i}", q)

    kept = sorted(p for p in corpus.glob("*_fuzzer/*")
                  if p.is_file() and p.resolve() not in WRITTEN)
    print("wrote %d seeds; kept %d not written by this script%s" %
          (len(WRITTEN), len(kept), ":" if kept else ""))
    for p in kept:
        print("  " + str(p.relative_to(corpus)))


if __name__ == "__main__":
    main()
