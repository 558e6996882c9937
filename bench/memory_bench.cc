// Worker memory over a two-year scenario: 10 M synthetic events (about one
// accident for four violations) whose occurred_at advances evenly over two
// years, fed straight into PartitionProcessors (4 incident + 4 violation
// partitions, no Kafka), with the default options (retention 400 days).
// Prints the process's resident memory (VmRSS) after every million events.
//
//   build/bench/memory_bench [--events N] [--partitions P]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "bench/bench_events.h"
#include "processors/partition_processor.h"

namespace roadpulse {
namespace {

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

int Main(int argc, char** argv) {
  uint64_t n = 10'000'000;
  int partitions = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--events") == 0) n = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--partitions") == 0) partitions = std::atoi(argv[i + 1]);
  }
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  if (!regions.ok()) {
    std::fprintf(stderr, "%s\n", regions.status().ToString().c_str());
    return 1;
  }
  absl::TimeZone tz;
  absl::LoadTimeZone("Asia/Shanghai", &tz);
  std::vector<std::unique_ptr<PartitionProcessor>> incidents;
  std::vector<std::unique_ptr<PartitionProcessor>> violations;
  for (int p = 0; p < partitions; ++p) {
    incidents.push_back(std::make_unique<PartitionProcessor>(EventKind::kIncident, *regions,
                                                             ProcessorOptions()));
    violations.push_back(std::make_unique<PartitionProcessor>(EventKind::kViolation, *regions,
                                                              ProcessorOptions()));
  }
  const absl::Time start = absl::FromCivil(absl::CivilDay(2024, 1, 1), tz);
  const absl::Duration span = absl::Hours(24 * 731);
  std::mt19937_64 rng(2025);
  std::printf("events over %s .. %s, %d+%d partitions, retention 400 days\n",
              absl::FormatTime("%Y-%m-%d", start, tz).c_str(),
              absl::FormatTime("%Y-%m-%d", start + span, tz).c_str(), partitions, partitions);
  std::printf("%12s %10s %12s %14s %12s\n", "events", "RSS MiB", "ids held", "dedup MiB",
              "fine buckets");
  for (uint64_t i = 0; i < n; ++i) {
    bench::SerializedEvent e = bench::MakeEvent(*regions, i, n, start, span, rng);
    auto& group = e.incident ? incidents : violations;
    PartitionProcessor& p = *group[rng() % group.size()];
    p.Process(e.bytes, absl::InfinitePast());
    if ((i + 1) % 1'000'000 == 0 || i + 1 == n) {
      // What the worker does at each flush: publish and forget the dirty set.
      size_t ids = 0;
      size_t dedup = 0;
      size_t fine = 0;
      for (auto* g : {&incidents, &violations}) {
        for (auto& q : *g) {
          q->ClearDirty();
          q->ClearSettled();
          q->ClearTombstones();
          ids += q->remembered_ids();
          dedup += q->dedup_memory_bytes();
          fine += q->bucket_count(BucketWidth::kHour) + q->bucket_count(BucketWidth::kMinute);
        }
      }
      std::printf("%12llu %10.1f %12zu %14.1f %12zu\n", static_cast<unsigned long long>(i + 1),
                  static_cast<double>(RssKiB()) / 1024.0, ids,
                  static_cast<double>(dedup) / (1024.0 * 1024.0), fine);
      std::fflush(stdout);
    } else if ((i & 0xFFFF) == 0) {
      for (auto* g : {&incidents, &violations}) {
        for (auto& q : *g) {
          q->ClearDirty();
          q->ClearSettled();
          q->ClearTombstones();
        }
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace roadpulse

int main(int argc, char** argv) { return roadpulse::Main(argc, argv); }
