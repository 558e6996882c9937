#include "processors/period.h"

#include <cmath>

#include "fmt/format.h"

namespace roadpulse {

absl::CivilDay ShiftYears(absl::CivilDay day, int years) {
  const absl::civil_year_t year = day.year() + years;
  if (day.month() == 2 && day.day() == 29) {
    const absl::CivilDay same(year, 2, 29);
    if (same.month() != 2) return absl::CivilDay(year, 3, 1);  // normalized: no leap day
    return same;
  }
  return absl::CivilDay(year, day.month(), day.day());
}

Period SamePeriodLastYear(const Period& period) {
  return Period{ShiftYears(period.from, -1), ShiftYears(period.to, -1)};
}

Change YearOverYear(int64_t current, int64_t previous) {
  Change c;
  c.current = current;
  c.previous = previous;
  if (previous != 0) {
    c.percent = (static_cast<double>(current) - static_cast<double>(previous)) /
                static_cast<double>(previous) * 100.0;
  }
  return c;
}

std::string FormatPercent(const Change& change, int decimals) {
  if (!change.percent.has_value()) return "";
  // Round from the exact integer ratio, not the double, so 0.5 ulps never flip a digit:
  // scaled = (current - previous) * 100 * 10^decimals / previous, half away from zero.
  int64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  const __int128 num = static_cast<__int128>(change.current - change.previous) * 100 * scale;
  const __int128 den = change.previous;
  const bool negative = (num < 0) != (den < 0);
  const __int128 abs_num = num < 0 ? -num : num;
  const __int128 abs_den = den < 0 ? -den : den;
  __int128 q = abs_num / abs_den;
  if ((abs_num % abs_den) * 2 >= abs_den) ++q;
  const int64_t whole = static_cast<int64_t>(q / scale);
  const int64_t frac = static_cast<int64_t>(q % scale);
  std::string out = (negative && q != 0) ? "-" : "";
  out += std::to_string(whole);
  if (decimals > 0) out += fmt::format(".{:0{}d}", frac, decimals);
  return out;
}

}  // namespace roadpulse
