// libFuzzer target for the event decoder, validator and aggregation
// (processors/partition_processor.h): records as they arrive from Kafka.
// Input bytes:
//   byte 0    bit 0: the partition's kind (0: IncidentEvent, 1: ViolationEvent);
//             bits 1-2: the record time given to Process (none, or one of
//             three instants in 2025-2026, around the seeds' events)
//   the rest  record values, separated by the 4 bytes "\n--\n"; each value is
//             any bytes (a serialized event, or not)
// Every record goes through a processor made for this input alone (so a
// failure reproduces from its input), then through a long-lived processor of
// the same kind, reset every kResetEvery inputs, so that dedup, amendments,
// eviction and id sweeps also meet the ids and times of earlier inputs.
//
// Checked: the tally balances (read = counted + amended + duplicates +
// rejected); a rejection has a reason and a detail; a record counted or
// amended and then given again is a duplicate; no bucket value is negative;
// the day buckets hold exactly one accident (or one violation) per count
// (until days settle: then at most one);
// key_violations is the sum of its six parts; fine buckets are inside their
// horizons and evicted ones are gone; ForEachDirty reaches every dirty bucket,
// also after SkipUnwatchable.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "processors/partition_processor.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

constexpr std::string_view kSeparator = "\n--\n";
constexpr int kResetEvery = 4096;

const RegionTable& Regions() {
  static const RegionTable* table = [] {
    absl::StatusOr<RegionTable> t =
        RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
    FUZZ_CHECK(t.ok());
    return new RegionTable(*std::move(t));
  }();
  return *table;
}

absl::Time RecordTime(uint8_t mode) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  switch (mode & 3) {
    case 1:
      return absl::FromCivil(absl::CivilSecond(2025, 3, 1, 0, 0, 0), utc);
    case 2:
      return absl::FromCivil(absl::CivilSecond(2025, 9, 5, 12, 0, 0), utc);
    case 3:
      return absl::FromCivil(absl::CivilSecond(2026, 6, 1, 0, 0, 0), utc);
    default:
      return absl::InfinitePast();
  }
}

// Checks one result and feeds a counted or amended record again, which must
// then be a duplicate.
void ProcessAndCheck(PartitionProcessor& p, std::string_view value, absl::Time record_time,
                     bool repeat) {
  const PartitionTally before = p.tally();
  const ProcessResult r = p.Process(value, record_time);
  FUZZ_CHECK(p.tally().read == before.read + 1);
  FUZZ_CHECK(p.tally().Balanced());
  if (r.outcome == Outcome::kRejected) {
    FUZZ_CHECK(static_cast<size_t>(r.reason) < kRejectReasonCount);
    FUZZ_CHECK(!RejectReasonName(r.reason).empty());
    FUZZ_CHECK(!r.detail.empty());
    return;
  }
  FUZZ_CHECK(r.detail.empty());
  if (repeat && (r.outcome == Outcome::kCounted || r.outcome == Outcome::kAmended)) {
    const ProcessResult again = p.Process(value, record_time);
    FUZZ_CHECK(again.outcome == Outcome::kDuplicate);
    FUZZ_CHECK(p.tally().Balanced());
  }
}

void CheckBuckets(PartitionProcessor& p) {
  const PartitionTally& t = p.tally();
  FUZZ_CHECK(t.Balanced());
  FUZZ_CHECK(static_cast<int64_t>(p.remembered_ids()) <= t.counted);
  int64_t units = 0;  // accidents (ordinary + minor) or violations (key + other)
  p.ForEachBucket([&](const BucketKey& key, const MetricValues& v) {
    FUZZ_CHECK(key.region_index < p.regions().size());
    if (key.width != BucketWidth::kDay) {
      FUZZ_CHECK(key.start_unix_s >= p.horizon_unix_s(key.width));
      for (int64_t x : v) FUZZ_CHECK(x >= 0);
      return;
    }
    for (int64_t x : v) FUZZ_CHECK(x >= 0);
    if (p.kind() == EventKind::kIncident) {
      units += At(v, Metric::kAccidents) + At(v, Metric::kMinorAccidents);
      FUZZ_CHECK(At(v, Metric::kVideoHandled) <= At(v, Metric::kMinorAccidents));
      FUZZ_CHECK(At(v, Metric::kE3E4Accidents) <= At(v, Metric::kAccidents));
      FUZZ_CHECK(At(v, Metric::kAlcoholAccidents) <= At(v, Metric::kAccidents));
      FUZZ_CHECK(At(v, Metric::kRuralAccidents) <= At(v, Metric::kAccidents));
      FUZZ_CHECK(At(v, Metric::kE3E4Deaths) <= At(v, Metric::kDeaths));
      FUZZ_CHECK(At(v, Metric::kE3E4Injuries) <= At(v, Metric::kInjuries));
    } else {
      const int64_t parts = At(v, Metric::kDrinkDriving) + At(v, Metric::kDrunkDriving) +
                            At(v, Metric::kSpeeding) + At(v, Metric::kOverload) +
                            At(v, Metric::kOverCapacity) + At(v, Metric::kFatigue);
      FUZZ_CHECK(At(v, Metric::kKeyViolations) == parts);
      units += parts + At(v, Metric::kOtherViolations);
    }
  });
  // Each counted accident or violation is one unit in its day, until the day
  // settles: a day published since its last change is dropped then.
  if (p.settled_before_unix_s() == std::numeric_limits<int64_t>::min()) {
    FUZZ_CHECK(units == t.counted);
  } else {
    FUZZ_CHECK(units <= t.counted);
  }
  for (const BucketKey& key : p.tombstones()) {
    FUZZ_CHECK(key.start_unix_s < p.horizon_unix_s(key.width));
    FUZZ_CHECK(!p.FindBucket(key).has_value());
  }
  size_t dirty = 0;
  p.ForEachDirty([&dirty](const BucketKey&, const MetricValues&) { ++dirty; });
  FUZZ_CHECK(dirty == p.dirty_count());
}

// The long-lived processors, as the worker keeps them per partition.
struct Persistent {
  std::unique_ptr<PartitionProcessor> by_kind[2];
  int inputs = 0;
};

int TestOneInput(const uint8_t* data, size_t size) {
  fuzz::QuietProtobufLogs();
  if (size == 0) return 0;
  static Persistent* persistent = new Persistent();
  if (persistent->inputs++ % kResetEvery == 0) {
    for (int k = 0; k < 2; ++k) {
      persistent->by_kind[k] = std::make_unique<PartitionProcessor>(
          k == 0 ? EventKind::kIncident : EventKind::kViolation, Regions(), ProcessorOptions());
    }
  }
  const int kind = data[0] & 1;
  const absl::Time record_time = RecordTime(static_cast<uint8_t>(data[0] >> 1));
  PartitionProcessor fresh(kind == 0 ? EventKind::kIncident : EventKind::kViolation, Regions(),
                           ProcessorOptions());
  PartitionProcessor& old = *persistent->by_kind[kind];

  std::string_view rest = fuzz::AsText(data + 1, size - 1);
  while (true) {
    const size_t sep = rest.find(kSeparator);
    const std::string_view value = rest.substr(0, sep);
    ProcessAndCheck(fresh, value, record_time, /*repeat=*/true);
    ProcessAndCheck(old, value, record_time, /*repeat=*/false);
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + kSeparator.size());
  }
  // The worker skips unwatchable fine buckets before it publishes; the
  // record time stands in for its clock.
  fresh.SkipUnwatchable(record_time);
  CheckBuckets(fresh);
  // What a worker does when it publishes.
  old.SkipUnwatchable(record_time);
  old.ForEachDirty([](const BucketKey&, const MetricValues&) {});
  old.ClearDirty();
  old.ClearSettled();
  old.ClearTombstones();
  if (persistent->inputs % 64 == 0) CheckBuckets(old);
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
