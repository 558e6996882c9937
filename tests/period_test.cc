#include "processors/period.h"

#include "gtest/gtest.h"

namespace roadpulse {
namespace {

TEST(PeriodTest, SamePeriodLastYear) {
  const Period p{absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 9, 1)};
  const Period last = SamePeriodLastYear(p);
  EXPECT_EQ(last.from, absl::CivilDay(2024, 1, 1));
  EXPECT_EQ(last.to, absl::CivilDay(2024, 9, 1));
}

TEST(PeriodTest, LeapDayHasNoTwin) {
  // 2024-02-29 alone maps to an empty period in 2023.
  const Period leap{absl::CivilDay(2024, 2, 29), absl::CivilDay(2024, 3, 1)};
  const Period last = SamePeriodLastYear(leap);
  EXPECT_EQ(last.from, absl::CivilDay(2023, 3, 1));
  EXPECT_EQ(last.to, absl::CivilDay(2023, 3, 1));
  // Going forward, 2025's January-August compares with 2024's, which has one day more.
  const Period p{absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 9, 1)};
  EXPECT_EQ(p.to - p.from, 243);
  EXPECT_EQ(SamePeriodLastYear(p).to - SamePeriodLastYear(p).from, 244);
  EXPECT_EQ(ShiftYears(absl::CivilDay(2028, 2, 29), -4), absl::CivilDay(2024, 2, 29));
}

TEST(PeriodTest, ReportPercentages) {
  EXPECT_EQ(FormatPercent(YearOverYear(2129, 2400), 2), "-11.29");
  EXPECT_EQ(FormatPercent(YearOverYear(245, 285), 2), "-14.04");
  EXPECT_EQ(FormatPercent(YearOverYear(2220, 2700), 2), "-17.78");
  EXPECT_EQ(FormatPercent(YearOverYear(29, 96), 1), "-69.8");
  EXPECT_EQ(FormatPercent(YearOverYear(30, 80), 1), "-62.5");
  EXPECT_EQ(FormatPercent(YearOverYear(110, 100), 2), "10.00");
  EXPECT_EQ(FormatPercent(YearOverYear(100, 100), 1), "0.0");
}

TEST(PeriodTest, RoundsHalfAwayFromZero) {
  // 1/8 = 12.5% exactly: one decimal keeps it, zero decimals round away from zero.
  EXPECT_EQ(FormatPercent(YearOverYear(9, 8), 0), "13");
  EXPECT_EQ(FormatPercent(YearOverYear(7, 8), 0), "-13");
  // -0.004% rounds to zero without a minus sign.
  EXPECT_EQ(FormatPercent(YearOverYear(99999, 100000), 2), "0.00");
}

TEST(PeriodTest, ZeroBaseHasNoPercentage) {
  const Change c = YearOverYear(5, 0);
  EXPECT_FALSE(c.percent.has_value());
  EXPECT_EQ(FormatPercent(c, 2), "");
  EXPECT_TRUE(YearOverYear(0, 3).percent.has_value());
  EXPECT_DOUBLE_EQ(*YearOverYear(0, 3).percent, -100.0);
}

}  // namespace
}  // namespace roadpulse

namespace roadpulse {
namespace {

TEST(PeriodTest, ParseDayIsStrict) {
  EXPECT_EQ(*ParseDay("2025-03-01"), absl::CivilDay(2025, 3, 1));
  // Each with what is wrong with it.
  const std::pair<const char*, const char*> bad[] = {
      {"2025-13-01", "is not a day of the calendar"},
      {"2025-02-29", "is not a day of the calendar"},
      {"2025-02-30", "is not a day of the calendar"},
      {"0001-01-01", "is before 1900"},
      {"1899-12-31", "is before 1900"},
      {"2025-3-1", "is not a date of the form YYYY-MM-DD"},
      {"20250301", "is not a date of the form YYYY-MM-DD"},
      {"", "is not a date of the form YYYY-MM-DD"},
      {"2025-03-01x", "is not a date of the form YYYY-MM-DD"},
      {"+025-03-01", "is not a date of the form YYYY-MM-DD"},
  };
  for (const auto& [text, problem] : bad) {
    absl::StatusOr<absl::CivilDay> d = ParseDay(text);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(std::string(d.status().message()), "\"" + std::string(text) + "\" " + problem);
  }
  EXPECT_EQ(*ParseDay("1900-01-01"), absl::CivilDay(1900, 1, 1));
  EXPECT_EQ(*ParseDay("2024-02-29"), absl::CivilDay(2024, 2, 29));
}

TEST(PeriodTest, PeriodFromFlags) {
  const absl::CivilDay today(2026, 11, 28);
  absl::StatusOr<Period> p = PeriodFromFlags("", "", today);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->from, absl::CivilDay(2026, 1, 1));
  EXPECT_EQ(p->to, absl::CivilDay(2026, 11, 29));
  p = PeriodFromFlags("2025-01-01", "2025-09-01", today);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->to - p->from, 243);
  absl::StatusOr<Period> bad = PeriodFromFlags("2025-13-01", "", today);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("--from"), std::string::npos);
  bad = PeriodFromFlags("2025-05-01", "2025-05-01", today);
  EXPECT_NE(std::string(bad.status().message()).find("must be before --to"), std::string::npos);
  // A default that makes the period empty is named as one.
  EXPECT_EQ(std::string(PeriodFromFlags("", "2025-09-01", today).status().message()),
            "--from 2026-01-01 (by default 1 January this year) must be before --to 2025-09-01 "
            "(--to is exclusive)");
  EXPECT_EQ(std::string(PeriodFromFlags("2026-12-01", "", today).status().message()),
            "--from 2026-12-01 must be before --to 2026-11-29 (by default tomorrow) (--to is "
            "exclusive)");
  bad = PeriodFromFlags("", "2025-02-29", today);
  EXPECT_NE(std::string(bad.status().message()).find("--to"), std::string::npos);
  // "Since 2025" with --to left at tomorrow: longer than a year, and said so.
  bad = PeriodFromFlags("2025-01-01", "", today);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(bad.status().message()),
            "--from/--to (by default tomorrow): 2025-01-01 to 2026-11-29 (exclusive) is longer "
            "than a year: the same period last year, 2024-01-01 to 2025-11-29, would overlap it "
            "and count the days they share in both; a period from 2025-01-01 ends by 2026-01-01 "
            "(exclusive)");
  EXPECT_TRUE(PeriodFromFlags("2025-01-01", "2026-01-01", today).ok());
}

// A period and its same period last year share no day: a whole year at most.
// Table by hand: [from, to) against [from - 1 year, to - 1 year).
TEST(PeriodTest, ComparableWithinAYear) {
  struct Case {
    absl::CivilDay from, to;
    bool comparable;
  };
  const Case cases[] = {
      {absl::CivilDay(2025, 1, 1), absl::CivilDay(2026, 1, 1), true},   // last year ends 2025-01-01
      {absl::CivilDay(2025, 1, 1), absl::CivilDay(2026, 1, 2), false},  // shares 2025-01-01
      {absl::CivilDay(2025, 3, 15), absl::CivilDay(2026, 3, 15), true},
      {absl::CivilDay(2025, 3, 15), absl::CivilDay(2026, 3, 16), false},
      // From a leap day: last year's twin of 2025-03-01 is 2024-03-01, after it.
      {absl::CivilDay(2024, 2, 29), absl::CivilDay(2025, 2, 28), true},
      {absl::CivilDay(2024, 2, 29), absl::CivilDay(2025, 3, 1), false},
      // To a leap year's 1 March: last year's period ends 2023-03-01.
      {absl::CivilDay(2023, 3, 1), absl::CivilDay(2024, 3, 1), true},
      // An end on 29 February moves to 1 March a year earlier (2023-03-01),
      // so [2023-02-28, 2024-02-29) would share 2023-02-28 with its base.
      {absl::CivilDay(2023, 2, 28), absl::CivilDay(2024, 2, 28), true},
      {absl::CivilDay(2023, 2, 28), absl::CivilDay(2024, 2, 29), false},
      {absl::CivilDay(2023, 2, 28), absl::CivilDay(2024, 3, 1), false},
      {absl::CivilDay(1990, 1, 1), absl::CivilDay(2025, 1, 1), false},
  };
  for (const Case& c : cases) {
    const Period p{c.from, c.to};
    const Period base = SamePeriodLastYear(p);
    EXPECT_EQ(CheckComparable(p).ok(), c.comparable) << c.from << ".." << c.to;
    EXPECT_EQ(base.to <= p.from, c.comparable) << c.from << ".." << c.to;
  }
  EXPECT_EQ(LatestComparableEnd(absl::CivilDay(2025, 1, 1)), absl::CivilDay(2026, 1, 1));
  EXPECT_EQ(LatestComparableEnd(absl::CivilDay(2024, 2, 29)), absl::CivilDay(2025, 2, 28));
  EXPECT_EQ(LatestComparableEnd(absl::CivilDay(2023, 2, 28)), absl::CivilDay(2024, 2, 28));
}

}  // namespace
}  // namespace roadpulse
