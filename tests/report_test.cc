#include "sinks/report.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processors/count_record.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;
using ::testing::HasSubstr;
using ::testing::Not;

v1::CountRecord Day(int partition, const std::string& region, absl::CivilDay day, int64_t accidents,
                    int64_t deaths, int64_t injuries, int64_t rural_accidents = 0) {
  MetricValues values{};
  At(values, Metric::kAccidents) = accidents;
  At(values, Metric::kRuralAccidents) = rural_accidents;
  At(values, Metric::kDeaths) = deaths;
  At(values, Metric::kInjuries) = injuries;
  const int64_t start = absl::ToUnixSeconds(absl::FromCivil(day, testing::Shanghai()));
  return MakeCountRecord(Binzhou(), "roadpulse.incidents", partition,
                         BucketKey{Binzhou().Find(region)->index, start}, values, 1, 1);
}

// 2025 (Jan-Mar): 8 accidents, 1 death, 9 injuries; 2024: 10, 2, 12.
// Hand-computed changes: -20.00%, -50.00%, -25.00%.
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.Apply(Day(0, "371602", absl::CivilDay(2024, 3, 1), 6, 2, 7)).ok());
    ASSERT_TRUE(store_.Apply(Day(1, "371621", absl::CivilDay(2024, 3, 2), 4, 0, 5)).ok());
    ASSERT_TRUE(store_.Apply(Day(0, "371602", absl::CivilDay(2025, 3, 1), 5, 1, 4)).ok());
    ASSERT_TRUE(store_.Apply(Day(1, "371681", absl::CivilDay(2025, 3, 10), 3, 0, 5)).ok());
  }
  Report Build(absl::CivilDay from, absl::CivilDay to, Language lang = Language::kZh,
               const std::string& region = "371600") {
    absl::StatusOr<Report> r = BuildReport(store_, region, Period{from, to}, lang);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : Report{};
  }
  // The first sentence (accidents, deaths, injuries) of the city's report.
  std::string FirstSentence(absl::CivilDay from, absl::CivilDay to, Language lang = Language::kZh) {
    const Report r = Build(from, to, lang);
    EXPECT_FALSE(r.sentences.empty());
    return r.sentences.empty() ? "" : r.sentences[0];
  }
  CountStore store_{Binzhou()};
};

TEST_F(ReportTest, SentencesStateTheHandComputedChanges) {
  const absl::CivilDay from(2025, 1, 1), to(2025, 4, 1);
  EXPECT_EQ(FirstSentence(from, to),
            "全市道路交通事故起数、死亡人数、受伤人数同比分别下降20.00%、50.00%、25.00%");
  EXPECT_EQ(FirstSentence(from, to, Language::kEn),
            "Citywide, road traffic accidents, deaths and injuries fell 20.00%, 50.00% and "
            "25.00% year over year");
}

// The violations and video sentences: 万 is the Chinese sentence's unit;
// English gives the exact count once, "More than 30,000" for 3万余.
TEST_F(ReportTest, EnglishSentencesGiveTheCountWithoutChineseUnits) {
  auto violations_day = [](absl::CivilDay day, int64_t key, int64_t video) {
    MetricValues values{};
    At(values, Metric::kKeyViolations) = key;
    At(values, Metric::kVideoHandled) = video;
    const int64_t start = absl::ToUnixSeconds(absl::FromCivil(day, testing::Shanghai()));
    return MakeCountRecord(Binzhou(), "roadpulse.violations", 3,
                           BucketKey{Binzhou().Find("371602")->index, start}, values, 1, 1);
  };
  const absl::CivilDay from(2025, 1, 1), to(2025, 4, 1);
  ASSERT_TRUE(store_.Apply(violations_day(absl::CivilDay(2025, 2, 3), 1388, 304)).ok());
  Report en = Build(from, to, Language::kEn);
  ASSERT_EQ(en.sentences.size(), 4u);
  EXPECT_EQ(en.sentences[2],
            "1,388 key traffic violations were handled: drink and drunk driving, speeding, "
            "overloading, carrying too many passengers and fatigue driving");
  EXPECT_EQ(en.sentences[3], "304 minor accidents were settled over video");
  // 1,388 + 137,612 = 139,000 (13.9万); 304 + 30,208 = 30,512 (3万余).
  ASSERT_TRUE(store_.Apply(violations_day(absl::CivilDay(2025, 2, 4), 137612, 30208)).ok());
  en = Build(from, to, Language::kEn);
  ASSERT_EQ(en.sentences.size(), 4u);
  EXPECT_THAT(en.sentences[2], HasSubstr("139,000 key traffic violations were handled: "));
  EXPECT_EQ(en.sentences[3], "More than 30,000 minor accidents were settled over video");
  for (const std::string& sentence : en.sentences) {
    EXPECT_TRUE(std::all_of(sentence.begin(), sentence.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x80;
    })) << sentence;
  }
  const Report zh = Build(from, to);
  ASSERT_EQ(zh.sentences.size(), 4u);
  EXPECT_EQ(zh.sentences[2], "查处“酒醉驾”“三超一疲劳”等重点交通违法行为13.9万起");
  EXPECT_EQ(zh.sentences[3], "视频快处轻微交通事故3万余起");
}

// A county's or the main urban area's English sentences say "In X" and
// "in the main urban area", not the table's label alone.
TEST_F(ReportTest, EnglishSentencesNameTheRegionAsAPlace) {
  const absl::CivilDay from(2025, 1, 1), to(2025, 4, 1);
  const Report bincheng = Build(from, to, Language::kEn, "371602");
  ASSERT_FALSE(bincheng.sentences.empty());
  // 371602: 6, 2, 7 in 2024 and 5, 1, 4 in 2025 (the fixture).
  EXPECT_EQ(bincheng.sentences[0],
            "In Bincheng District, road traffic accidents, deaths and injuries fell 16.67%, "
            "50.00% and 42.86% year over year");
  EXPECT_THAT(bincheng.sentences[1], HasSubstr("quadricycles in Bincheng District, and"));
  const Report main_urban = Build(from, to, Language::kEn, "371600-main");
  ASSERT_FALSE(main_urban.sentences.empty());
  EXPECT_THAT(main_urban.sentences[0], HasSubstr("In the main urban area, road traffic"));
  EXPECT_THAT(main_urban.sentences[1], HasSubstr("quadricycles in the main urban area, and"));
}

TEST_F(ReportTest, CsvCarriesTheHandComputedRowsAndABomOnlyWhenAsked) {
  const Report r = Build(absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 1));
  const std::string csv = RenderReport(r, ReportFormat::kCsv);
  EXPECT_EQ(csv.rfind("region_code,region_name,metric,value,last_year,change_percent,first_day,"
                      "last_day,last_year_first_day,last_year_last_day\n",
                      0),
            0u);
  // The period's days on every line: 1 January to 31 March, against 2024's.
  const std::string days = ",2025-01-01,2025-03-31,2024-01-01,2024-03-31\n";
  EXPECT_THAT(csv, HasSubstr("\n371600,滨州市,accidents,8,10,-20.00" + days));
  EXPECT_THAT(csv, HasSubstr("\n371600,滨州市,deaths,1,2,-50.00" + days));
  EXPECT_EQ(RenderReport(r, ReportFormat::kCsv, /*utf8_bom=*/true), "\xEF\xBB\xBF" + csv);
  // The other formats never start with one.
  for (ReportFormat f : {ReportFormat::kText, ReportFormat::kMarkdown, ReportFormat::kJson}) {
    EXPECT_EQ(RenderReport(r, f, /*utf8_bom=*/true), RenderReport(r, f));
  }
}

// A figure equal to last year's reads 0.00% in the table, as on the
// dashboard, not +0.00%; a rise keeps its sign. 惠民县 (371621): 4 accidents
// and 5 injuries in both years; the city: 12 accidents against 10, +20.00%.
TEST_F(ReportTest, AnUnchangedFigureHasNoSignInTheTable) {
  ASSERT_TRUE(store_.Apply(Day(1, "371621", absl::CivilDay(2025, 3, 5), 4, 0, 5)).ok());
  const Report r = Build(absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 1));
  const std::string text = RenderReport(r, ReportFormat::kText);
  EXPECT_THAT(text, Not(HasSubstr("+0.00%")));
  EXPECT_THAT(text, HasSubstr("+20.00%"));
  std::string huimin;
  for (const absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, "惠民县")) huimin = std::string(line);
  }
  EXPECT_THAT(huimin, HasSubstr(" 0.00%")) << text;
}

// 农村道路 (rural roads) are a named concern: the table has their accidents
// per county. 无棣县: 2025 3 of 5 accidents on rural roads, 2024 4 of 6.
TEST_F(ReportTest, TheTableHasRuralRoadAccidents) {
  ASSERT_TRUE(store_.Apply(Day(2, "371623", absl::CivilDay(2024, 2, 1), 6, 0, 0, 4)).ok());
  ASSERT_TRUE(store_.Apply(Day(2, "371623", absl::CivilDay(2025, 2, 1), 5, 0, 0, 3)).ok());
  const Report r = Build(absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 1));
  const std::string csv = RenderReport(r, ReportFormat::kCsv);
  EXPECT_THAT(csv, HasSubstr("\n371623,无棣县,rural_accidents,3,4,-25.00,"));
  EXPECT_THAT(csv, HasSubstr("\n371600,滨州市,rural_accidents,3,4,-25.00,"));
  EXPECT_THAT(csv, HasSubstr("\n371602,滨城区,rural_accidents,0,0,,"));
  EXPECT_THAT(RenderReport(r, ReportFormat::kText), HasSubstr("农村道路事故"));
  EXPECT_THAT(
      RenderReport(Build(absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 1), Language::kEn),
                   ReportFormat::kMarkdown),
      HasSubstr("| Rural-road accidents |"));
}

TEST_F(ReportTest, NoBaseAtAllIsSaidOnceNotPerFigure) {
  const absl::CivilDay from(2024, 1, 1), to(2024, 4, 1);
  EXPECT_GE(Build(from, to).sentences.size(), 2u);
  EXPECT_EQ(FirstSentence(from, to),
            "全市道路交通事故起数、死亡人数、受伤人数去年同期均为0，无法同比");
  EXPECT_EQ(FirstSentence(from, to, Language::kEn),
            "Citywide, road traffic accidents, deaths and injuries cannot be compared year over "
            "year (zero last year)");
  // Some figures with a base and some without: each says its own.
  ASSERT_TRUE(store_.Apply(Day(2, "371602", absl::CivilDay(2023, 3, 1), 1, 0, 0)).ok());
  EXPECT_EQ(FirstSentence(from, to),
            "全市道路交通事故起数、死亡人数、受伤人数同比分别上升900.00%、无法同比（去年同期为0）、"
            "无法同比（去年同期为0）");
}

TEST_F(ReportTest, AnEmptyPeriodNamesTheDaysThatHoldCounts) {
  const Report later = Build(absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 12, 7));
  EXPECT_EQ(EmptyPeriodHint(later, store_.DaysWithCounts(), "roadpulse.counts"),
            "no counts for 滨州市 (371600) from 2026-01-01 to 2026-12-06; roadpulse.counts has "
            "counts from 2024-03-01 to 2025-03-10: for their last year use --from 2025-01-01 "
            "--to 2025-03-11");
  // Earlier than every count: the same hint.
  const Report earlier = Build(absl::CivilDay(2023, 1, 1), absl::CivilDay(2023, 6, 1));
  EXPECT_THAT(EmptyPeriodHint(earlier, store_.DaysWithCounts(), "the input"),
              HasSubstr("the input has counts from 2024-03-01 to 2025-03-10"));
  // Nothing anywhere.
  CountStore empty(Binzhou());
  absl::StatusOr<Report> none =
      BuildReport(empty, "371600", Period{absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 2, 1)},
                  Language::kEn);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(EmptyPeriodHint(*none, empty.DaysWithCounts(), "roadpulse.counts"),
            "no counts for Binzhou (371600) from 2026-01-01 to 2026-01-31; roadpulse.counts "
            "has no counts at all");
}

TEST_F(ReportTest, NoHintWhenThePeriodHasCountsOrOverlapsThem) {
  const Report counted = Build(absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 1));
  EXPECT_EQ(EmptyPeriodHint(counted, store_.DaysWithCounts(), "roadpulse.counts"), "");
  // The period has counts, only not in this county: a county with nothing
  // to report, not a wrong period.
  const Report county =
      Build(absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 1), Language::kZh, "371623");
  ASSERT_FALSE(county.rows.empty());
  EXPECT_EQ(county.rows.back().figures[0].change.current, 0);
  EXPECT_EQ(EmptyPeriodHint(county, store_.DaysWithCounts(), "roadpulse.counts"), "");
  // Inside the days that hold counts, on a day without any: no hint either.
  const Report gap = Build(absl::CivilDay(2024, 6, 1), absl::CivilDay(2024, 7, 1));
  EXPECT_EQ(EmptyPeriodHint(gap, store_.DaysWithCounts(), "roadpulse.counts"), "");
}

}  // namespace
}  // namespace roadpulse
