// Calendar periods and year-over-year changes, as a traffic police report
// states them: "同比下降11.29%".
#ifndef ROADPULSE_PROCESSORS_PERIOD_H_
#define ROADPULSE_PROCESSORS_PERIOD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace roadpulse {

// Local days [from, to).
struct Period {
  absl::CivilDay from;
  absl::CivilDay to;  // exclusive
  friend bool operator==(const Period& a, const Period& b) {
    return a.from == b.from && a.to == b.to;
  }
};

// The same period one year earlier, day for day by calendar date. A bound on
// 29 February (which the year before may lack) moves to 1 March, so
// [2024-02-29, 2024-03-01) maps to the empty [2023-03-01, 2023-03-01) and the
// leap day has no twin; periods that contain 29 February as an inner day map
// to periods one day shorter. This is how the report's "同比" periods
// (1 January to the end of a month) behave.
Period SamePeriodLastYear(const Period& period);

// OK when `period` and SamePeriodLastYear(period) share no day. Otherwise
// (a period longer than a year) kInvalidArgument saying so, with the latest
// end that would do: 同比 would count the shared days in both periods.
absl::Status CheckComparable(const Period& period);

// The latest exclusive end `to` for which [from, to) is comparable.
absl::CivilDay LatestComparableEnd(absl::CivilDay from);

// Calendar day `day` shifted by `years`, with 29 February becoming 1 March
// when the target year has none.
absl::CivilDay ShiftYears(absl::CivilDay day, int years);

// Reads a day written exactly as YYYY-MM-DD, from 1900 on. Otherwise
// nullopt, and *problem says what is wrong, to follow the text in a message:
// "is not a date of the form YYYY-MM-DD", "is not a day of the calendar"
// (2025-02-30) or "is before 1900".
std::optional<absl::CivilDay> ReadDay(std::string_view text, std::string* problem);

// ReadDay with the problem as kInvalidArgument: "\"2025-02-30\" is not a day
// of the calendar".
absl::StatusOr<absl::CivilDay> ParseDay(std::string_view text);

// The period of a report from the texts of --from and --to (either may be
// empty): by default [1 January of `today`'s year, today + 1). --to is
// exclusive. kInvalidArgument names the flag at fault, also for a period
// that fails CheckComparable.
absl::StatusOr<Period> PeriodFromFlags(std::string_view from, std::string_view to,
                                       absl::CivilDay today);

// A value against its base.
struct Change {
  int64_t current = 0;
  int64_t previous = 0;
  // (current - previous) / previous * 100; nullopt when previous is 0 (no
  // percentage exists: say so, don't divide).
  std::optional<double> percent;
};

Change YearOverYear(int64_t current, int64_t previous);

// The change rounded half away from zero to `decimals` places, as the
// report prints it: "-11.29" etc. Empty when there is no percentage.
std::string FormatPercent(const Change& change, int decimals);

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_PERIOD_H_
