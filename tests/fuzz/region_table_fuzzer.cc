// libFuzzer target for region table files (processors/region_table.h).
// Input bytes: a region table (TOML), loaded with RegionTable::LoadString.
//
// Checked when it loads: indexes are dense and Find returns each region by
// its code; the city and the main urban area come first; county-level units
// hang under the city and townships under a county-level unit; Counties,
// Children, UnitsOf and CountingUnit agree with that; and a
// PartitionProcessor over the table counts one violation in every unit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

constexpr size_t kMaxUnitsToCount = 256;

bool IsCountyLevel(RegionKind k) {
  return k == RegionKind::kDistrict || k == RegionKind::kCounty || k == RegionKind::kCountyCity ||
         k == RegionKind::kZone;
}
bool IsTownshipLevel(RegionKind k) {
  return k == RegionKind::kTownship || k == RegionKind::kStreet;
}

void CheckTable(const RegionTable& t) {
  FUZZ_CHECK(t.size() >= 3);
  FUZZ_CHECK(t.city().kind == RegionKind::kCity);
  FUZZ_CHECK(t.main_urban().kind == RegionKind::kMainUrban);
  FUZZ_CHECK(t.city().index == 0 && t.main_urban().index == 1);
  size_t county_level = 0;
  size_t main_urban_units = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const Region& r = t.at(static_cast<uint16_t>(i));
    FUZZ_CHECK(r.index == i);
    FUZZ_CHECK(t.Find(r.code) == &r);
    if (i < 2) continue;
    const Region* parent = t.Find(r.parent);
    FUZZ_CHECK(parent != nullptr);
    if (IsTownshipLevel(r.kind)) {
      FUZZ_CHECK(IsCountyLevel(parent->kind));
      FUZZ_CHECK(t.CountingUnit(parent->code, r.code) == &r);
    } else {
      FUZZ_CHECK(IsCountyLevel(r.kind));
      FUZZ_CHECK(parent == &t.city());
      FUZZ_CHECK(t.CountingUnit(r.code, "") == &r);
      ++county_level;
    }
    if (r.main_urban) ++main_urban_units;
    bool is_child = false;
    for (const Region* c : t.Children(r.parent)) is_child = is_child || c == &r;
    FUZZ_CHECK(is_child);
  }
  FUZZ_CHECK(t.Counties().size() == county_level);
  FUZZ_CHECK(t.UnitsOf(t.city().code).size() == t.size() - 2);
  FUZZ_CHECK(t.UnitsOf(t.main_urban().code).size() == main_urban_units);
  FUZZ_CHECK(t.CountingUnit(t.city().code, "") == nullptr);
  FUZZ_CHECK(t.CountingUnit(t.main_urban().code, "") == nullptr);
}

// One speeding violation per unit, all at noon on 2025-03-01 UTC.
void CheckCounts(const RegionTable& t) {
  PartitionProcessor p(EventKind::kViolation, t, ProcessorOptions());
  const int64_t noon = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2025, 3, 1, 12, 0, 0), absl::UTCTimeZone()));
  v1::ViolationEvent e;
  e.set_type(v1::VIOLATION_TYPE_SPEEDING);
  e.mutable_occurred_at()->set_seconds(noon);
  e.mutable_reported_at()->set_seconds(noon);
  int64_t units = 0;
  for (size_t i = 2; i < t.size() && i < kMaxUnitsToCount; ++i) {
    const Region& r = t.at(static_cast<uint16_t>(i));
    e.set_id("V" + std::to_string(i));
    const Region* parent = t.Find(r.parent);
    e.mutable_location()->set_region_code(IsTownshipLevel(r.kind) ? parent->code : r.code);
    e.mutable_location()->set_township_code(IsTownshipLevel(r.kind) ? r.code : "");
    e.mutable_location()->set_main_urban(r.main_urban);
    FUZZ_CHECK(p.Process(e.SerializeAsString(), absl::InfinitePast()).outcome ==
               Outcome::kCounted);
    ++units;
  }
  int64_t speeding = 0;
  p.ForEachBucket([&](const BucketKey& key, const MetricValues& values) {
    if (key.width != BucketWidth::kDay) return;
    FUZZ_CHECK(At(values, Metric::kSpeeding) == 1);
    FUZZ_CHECK(key.start_unix_s <= noon && noon - key.start_unix_s < 2 * 86400);
    speeding += At(values, Metric::kSpeeding);
  });
  FUZZ_CHECK(speeding == units);
}

int TestOneInput(const uint8_t* data, size_t size) {
  fuzz::QuietProtobufLogs();
  absl::StatusOr<RegionTable> t = RegionTable::LoadString(fuzz::AsText(data, size), "fuzz.toml");
  if (!t.ok()) {
    FUZZ_CHECK(t.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CheckTable(*t);
  CheckCounts(*t);
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
