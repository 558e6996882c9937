#include "processors/internal/local_days.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace roadpulse {
namespace processors_internal {
namespace {

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

// Local days whose bounds were worked out by hand and checked with Python's
// zoneinfo: Unix seconds [start, end) of the local day.
struct KnownDay {
  const char* zone;
  const char* what;
  int64_t start;
  int64_t end;
};
constexpr KnownDay kKnownDays[] = {
    {"Asia/Shanghai", "2025-03-01, +08:00 all day", 1740758400, 1740844800},
    {"America/New_York", "2024-03-10, 23 h (02:00 skipped)", 1710046800, 1710129600},
    {"America/New_York", "2024-11-03, 25 h (01:00-02:00 twice)", 1730606400, 1730696400},
    {"America/Sao_Paulo", "2018-11-04, midnight skipped: starts 01:00 -02", 1541300400, 1541383200},
    {"Pacific/Apia", "2011-12-29, the day before the skipped 30th", 1325152800, 1325239200},
    {"Pacific/Apia", "2011-12-31, right after it", 1325239200, 1325325600},
    {"Australia/Lord_Howe", "2024-04-07, 24.5 h (half-hour DST)", 1712408400, 1712496600},
    {"Europe/London", "2024-03-31, 23 h", 1711843200, 1711926000},
};

TEST(LocalDaysTest, KnownDaysFromEverySecondInThemInAnyOrder) {
  std::mt19937_64 rng(7);
  for (const KnownDay& known : kKnownDays) {
    SCOPED_TRACE(std::string(known.zone) + " " + known.what);
    LocalDays days(Zone(known.zone));
    // A second outside the day first, so the lookups below go through the
    // slots, not only the first-day path.
    EXPECT_EQ(days.DayOf(known.start - 1).end, known.start);
    std::uniform_int_distribution<int64_t> in_day(known.start, known.end - 1);
    std::vector<int64_t> seconds = {known.start, known.end - 1};
    for (int i = 0; i < 200; ++i) seconds.push_back(in_day(rng));
    for (int64_t s : seconds) {
      const LocalDays::Day day = days.DayOf(s);
      ASSERT_EQ(day.start, known.start) << s;
      ASSERT_EQ(day.end, known.end) << s;
      // Elsewhere in between, so the next lookup is not the last day's.
      days.DayOf(s + 40 * 86400);
    }
    EXPECT_EQ(days.DayOf(known.end).start, known.end);
  }
}

// Against absl's own conversion, second by second chosen at random, in
// random order and in time order, over zones with and without DST and
// spans longer than the slot table (so days share slots).
TEST(LocalDaysTest, MatchesAbslCivilDaysInRandomAndTimeOrder) {
  const char* const zones[] = {"Asia/Shanghai",       "UTC",
                               "America/New_York",    "Europe/London",
                               "Pacific/Apia",        "America/Sao_Paulo",
                               "Australia/Lord_Howe", "America/St_Johns"};
  const int64_t from =
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(1965, 1, 1), absl::UTCTimeZone()));
  const int64_t to =
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2031, 1, 1), absl::UTCTimeZone()));
  std::mt19937_64 rng(42);
  for (const char* name : zones) {
    SCOPED_TRACE(name);
    const absl::TimeZone tz = Zone(name);
    for (const bool in_time_order : {false, true}) {
      LocalDays days(tz);
      std::vector<int64_t> seconds;
      // Wide: any day of 66 years. Narrow: the same 600 days over and over,
      // as a replay of this year and last year looks them up.
      std::uniform_int_distribution<int64_t> wide(from, to);
      std::uniform_int_distribution<int64_t> narrow(to - 600 * 86400, to);
      for (int i = 0; i < 20000; ++i) seconds.push_back(i % 2 == 0 ? wide(rng) : narrow(rng));
      if (in_time_order) std::sort(seconds.begin(), seconds.end());
      for (int64_t s : seconds) {
        const absl::CivilDay civil = absl::ToCivilDay(absl::FromUnixSeconds(s), tz);
        const int64_t start = absl::ToUnixSeconds(absl::FromCivil(civil, tz));
        const int64_t end = absl::ToUnixSeconds(absl::FromCivil(civil + 1, tz));
        const LocalDays::Day day = days.DayOf(s);
        ASSERT_EQ(day.start, start) << s << " " << (in_time_order ? "sorted" : "random");
        ASSERT_EQ(day.end, end) << s;
        // Not day.end > s: St. John's set its clocks back from 00:01 to 23:01
        // (2006-2010), so the repeated hour's seconds belong to the day
        // before, whose end came an hour earlier.
        ASSERT_LE(day.start, s);
      }
    }
  }
}

// Seconds far outside any event's time (a corrupt checkpoint's sweep time,
// say) get absl's answer too, through the slots, with no overflow.
TEST(LocalDaysTest, ExtremeSecondsAsAbslHasThem) {
  for (const char* name : {"Asia/Shanghai", "America/New_York"}) {
    SCOPED_TRACE(name);
    const absl::TimeZone tz = Zone(name);
    LocalDays days(tz);
    days.DayOf(1740758400);
    days.DayOf(1740758400 + 86400);  // the slots are in use from here on
    for (const int64_t s :
         {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 1,
          int64_t{-1'000'000'000'000'000}, int64_t{-1}, int64_t{0}, int64_t{1'000'000'000'000'000},
          std::numeric_limits<int64_t>::max() - 1, std::numeric_limits<int64_t>::max()}) {
      const absl::CivilDay civil = absl::ToCivilDay(absl::FromUnixSeconds(s), tz);
      const LocalDays::Day day = days.DayOf(s);
      EXPECT_EQ(day.start, absl::ToUnixSeconds(absl::FromCivil(civil, tz))) << s;
      EXPECT_EQ(day.end, absl::ToUnixSeconds(absl::FromCivil(civil + 1, tz))) << s;
    }
  }
}

}  // namespace
}  // namespace processors_internal
}  // namespace roadpulse
