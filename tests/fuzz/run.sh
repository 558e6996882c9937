#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 into build-fuzz/ and runs each one
# for SECONDS (default 600), one at a time, at the lowest CPU priority, on a
# scratch copy of its seed corpus (tests/fuzz/corpus/<target>/ is left as
# committed). Prints one line per target: runs, exec/s, coverage (cov: edges,
# ft: features), and whether it crashed. Logs, the grown corpus and any
# crashing input stay in build-fuzz/fuzz-runs/<target>/.
#
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
#
# Reproduce a crash: build-fuzz/tests/<target> build-fuzz/fuzz-runs/<target>/crash-*
# Needs clang-14 (deploy/setup.sh installs it). Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-600}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(event_fuzzer event_log_fuzzer json_fast_fuzzer compressed_file_fuzzer csv_fuzzer csv_mapping_fuzzer
           region_table_fuzzer config_fuzzer scenario_fuzzer view_query_fuzzer)
fi

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DROADPULSE_BUILD_FUZZERS=ON -DROADPULSE_BUILD_BENCH=OFF >/dev/null
nice -n 19 cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

failed=0
printf '%-24s %12s %8s %7s %7s  %s\n' target runs exec/s cov ft result
for t in "${targets[@]}"; do
  work=build-fuzz/fuzz-runs/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/"
  rc=0
  nice -n 19 "build-fuzz/tests/$t" "$work/corpus" -max_total_time="$seconds" \
    -artifact_prefix="$work/" -print_final_stats=1 -rss_limit_mb=2048 -timeout=30 \
    >"$work/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_\(of_\)\{0,1\}executed_units: *//p' "$work/log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
  last=$(grep -E '^#[0-9]+.*cov: ' "$work/log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
            -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
  if ((rc != 0 || crashes > 0)); then
    result="CRASH (exit $rc; $crashes input(s) saved in $work; see $work/log)"
    failed=1
  else
    result="no crash"
  fi
  printf '%-24s %12s %8s %7s %7s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
    "$result"
done
exit "$failed"
