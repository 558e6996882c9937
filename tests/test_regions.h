// Shared fixtures of the processor tests and benchmarks: the shipped Binzhou
// region table (loaded once) and the Asia/Shanghai time zone.
#ifndef ROADPULSE_TESTS_TEST_REGIONS_H_
#define ROADPULSE_TESTS_TEST_REGIONS_H_

#include <cstdlib>

#include "absl/time/time.h"
#include "processors/region_table.h"

namespace roadpulse::testing {

// deploy/config/regions/binzhou.toml; aborts if it does not load.
inline const RegionTable& Binzhou() {
  static const RegionTable* table = [] {
    absl::StatusOr<RegionTable> t =
        RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
    if (!t.ok()) std::abort();
    return new RegionTable(*std::move(t));
  }();
  return *table;
}

inline absl::TimeZone Shanghai() {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone("Asia/Shanghai", &tz)) std::abort();
  return tz;
}

}  // namespace roadpulse::testing

#endif  // ROADPULSE_TESTS_TEST_REGIONS_H_
