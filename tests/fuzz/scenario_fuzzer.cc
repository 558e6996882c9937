// libFuzzer target for generator scenario files (app/scenario.h). Input
// bytes: a scenario (TOML), loaded with LoadScenarioString.
//
// Checked when it loads: there are periods, each non-empty, in time order,
// not overlapping; there are regions. Then the periods are moved as
// `roadpulse generate --this-year 2025` and `--through 2025-06-30` move them;
// when a move succeeds the same holds for the moved periods.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/time/civil_time.h"
#include "app/scenario.h"
#include "tests/fuzz/fuzz_support.h"

namespace roadpulse {
namespace {

void CheckPeriods(const Scenario& s) {
  FUZZ_CHECK(!s.periods.empty());
  for (size_t i = 0; i < s.periods.size(); ++i) {
    FUZZ_CHECK(s.periods[i].start < s.periods[i].end);
    if (i > 0) FUZZ_CHECK(s.periods[i - 1].end <= s.periods[i].start);
  }
}

int TestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<Scenario> s = LoadScenarioString(fuzz::AsText(data, size), "fuzz.toml");
  if (!s.ok()) {
    FUZZ_CHECK(s.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CheckPeriods(*s);
  FUZZ_CHECK(!s->regions.empty());
  for (const auto& [this_year, through] :
       {std::pair<std::optional<int>, std::optional<absl::CivilDay>>{2025, std::nullopt},
        {std::nullopt, absl::CivilDay(2025, 6, 30)}}) {
    Scenario moved = *s;
    if (moved.MovePeriods(this_year, through).ok()) CheckPeriods(moved);
  }
  return 0;
}

}  // namespace
}  // namespace roadpulse

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return roadpulse::TestOneInput(data, size);
}
