#!/usr/bin/env bash
# Installs roadpulse's dependencies from Debian 12 packages and builds it.
# The README's commands and deploy/Dockerfile both use this script, so they
# cannot drift apart.
#
#   bash deploy/setup.sh               install (if needed) and build into build/
#   bash deploy/setup.sh --deps-only   install only
#   bash deploy/setup.sh --sanitize    build with ASan+UBSan into build-asan/
#
# Run as root (or with passwordless sudo) on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=build
case "${1:-}" in
  "") ;;
  --deps-only) mode=deps ;;
  --sanitize) mode=sanitize ;;
  *) echo "setup.sh: unknown option '$1' (use --deps-only or --sanitize)" >&2; exit 2 ;;
esac

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates tzdata
  # libraries
  librdkafka-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev libabsl-dev
  libcli11-dev libtomlplusplus-dev libcpp-httplib-dev nlohmann-json3-dev libsimdjson-dev libzstd-dev
  zlib1g-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev kcat python3 python3-kafka python3-protobuf python3-yaml python3-confluent-kafka
  # the live view's tests: Prometheus server + promtool, headless chromium, a CJK font for
  # screenshots, clang and its runtimes (libFuzzer, ASan) for the fuzz targets
  prometheus chromium fonts-wqy-zenhei clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "$mode" = deps ] && exit 0

jobs=$(nproc)
if [ "$mode" = sanitize ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROADPULSE_SANITIZE=ON \
    -DROADPULSE_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$jobs"
fi
