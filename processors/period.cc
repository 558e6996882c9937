#include "processors/period.h"

#include <cmath>
#include <string>
#include <tuple>

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

absl::CivilDay LatestComparableEnd(absl::CivilDay from) {
  absl::CivilDay to = ShiftYears(from, 1);
  while (ShiftYears(to, -1) > from) --to;  // from 29 February: the year after has none
  return to;
}

absl::Status CheckComparable(const Period& period) {
  const Period base = SamePeriodLastYear(period);
  if (base.to <= period.from) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "{} to {} (exclusive) is longer than a year: the same period last year, {} to {}, "
      "would overlap it and count the days they share in both; a period from {} ends by {} "
      "(exclusive)",
      absl::FormatCivilTime(period.from), absl::FormatCivilTime(period.to),
      absl::FormatCivilTime(base.from), absl::FormatCivilTime(base.to),
      absl::FormatCivilTime(period.from), absl::FormatCivilTime(LatestComparableEnd(period.from))));
}

std::optional<absl::CivilDay> ReadDay(std::string_view text, std::string* problem) {
  auto number = [&text](size_t at, size_t digits, int* out) {
    *out = 0;
    for (size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      *out = *out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !number(0, 4, &y) ||
      !number(5, 2, &m) || !number(8, 2, &d)) {
    *problem = "is not a date of the form YYYY-MM-DD";
    return std::nullopt;
  }
  const absl::CivilDay day(y, m, d);
  if (day.year() != y || day.month() != m || day.day() != d) {
    *problem = "is not a day of the calendar";
    return std::nullopt;
  }
  if (y < 1900) {
    *problem = "is before 1900";
    return std::nullopt;
  }
  return day;
}

absl::StatusOr<absl::CivilDay> ParseDay(std::string_view text) {
  std::string problem;
  const std::optional<absl::CivilDay> day = ReadDay(text, &problem);
  if (!day.has_value()) return absl::InvalidArgumentError(fmt::format("\"{}\" {}", text, problem));
  return *day;
}

absl::StatusOr<Period> PeriodFromFlags(std::string_view from, std::string_view to,
                                       absl::CivilDay today) {
  Period period{absl::CivilDay(today.year(), 1, 1), today + 1};
  for (auto [flag, text, day] :
       {std::make_tuple("--from", from, &period.from), std::make_tuple("--to", to, &period.to)}) {
    if (text.empty()) continue;
    absl::StatusOr<absl::CivilDay> parsed = ParseDay(text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", flag, std::string(parsed.status().message())));
    }
    *day = *parsed;
  }
  if (period.from >= period.to) {
    return absl::InvalidArgumentError(fmt::format(
        "--from {}{} must be before --to {}{} (--to is exclusive)",
        absl::FormatCivilTime(period.from), from.empty() ? " (by default 1 January this year)" : "",
        absl::FormatCivilTime(period.to), to.empty() ? " (by default tomorrow)" : ""));
  }
  if (absl::Status s = CheckComparable(period); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "--from/--to{}: {}", to.empty() ? " (by default tomorrow)" : "", std::string(s.message())));
  }
  return period;
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
