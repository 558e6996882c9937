#include "sinks/console_table.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processors/count_record.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConsoleTableTest, DisplayWidthCountsChineseAsTwo) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("滨城区"), 6u);
  EXPECT_EQ(DisplayWidth("同比 -1.5%"), 10u);
}

// Hand-computed: 6 against 5 is +20%, 4 against 5 is -20%, 100001 against
// 100000 is +0.001% (rounds to zero: no sign), nothing last year: no base.
TEST(ConsoleTableTest, ChangeTextSignsOnlyWhatDoesNotRoundToZero) {
  EXPECT_EQ(ChangeText(YearOverYear(6, 5), 1, Language::kZh), "+20.0%");
  EXPECT_EQ(ChangeText(YearOverYear(4, 5), 2, Language::kZh), "-20.00%");
  EXPECT_EQ(ChangeText(YearOverYear(5, 5), 1, Language::kZh), "0.0%");
  EXPECT_EQ(ChangeText(YearOverYear(100001, 100000), 2, Language::kEn), "0.00%");
  EXPECT_EQ(ChangeText(YearOverYear(3, 0), 1, Language::kZh), "无基数");
  EXPECT_EQ(ChangeText(YearOverYear(3, 0), 1, Language::kEn), "n/a");
}

TEST(ConsoleTableTest, CutToWidthEndsInAnEllipsis) {
  EXPECT_EQ(CutToWidth("abc", 3), "abc");
  EXPECT_EQ(CutToWidth("abcdef", 4), "abc…");
  EXPECT_EQ(CutToWidth("滨州经济技术开发区", 18), "滨州经济技术开发区");
  EXPECT_EQ(CutToWidth("滨州经济技术开发区", 9), "滨州经济…");
  EXPECT_EQ(CutToWidth("滨州经济技术开发区", 10), "滨州经济…");  // 5 wide + … is 11
  EXPECT_EQ(CutToWidth("abc", 0), "");
}

TEST(ConsoleTableTest, TableLinePadsToTheWidestCell) {
  const std::vector<std::vector<std::string>> rows = {{"区县", "事故起数"}, {"abc", "7"}, {"x"}};
  const std::vector<size_t> widths = ColumnWidths(rows);
  EXPECT_EQ(widths, (std::vector<size_t>{4, 8}));
  EXPECT_EQ(TableLine(rows[0], widths), "区县  事故起数\n");
  EXPECT_EQ(TableLine(rows[1], widths), "abc          7\n");
}

// The table's lines from its header to its last row (not the title, nor the
// line naming the metrics left out).
std::vector<std::string> TableLines(const std::string& text, absl::string_view header) {
  std::vector<std::string> lines;
  bool in = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, header)) in = true;
    if (in && (line.empty() || absl::StartsWith(line, "（") || absl::StartsWith(line, "("))) break;
    if (in) lines.emplace_back(line);
  }
  return lines;
}

TEST(ConsoleTableTest, ShowsTheMetricsThatFitAndNamesTheOthers) {
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(regions.ok());
  CountStore store(*regions);
  ConsoleTableOptions options;
  options.today = absl::CivilDay(2026, 11, 28);
  options.now = absl::FromCivil(absl::CivilSecond(2026, 11, 28, 12, 0, 0), regions->zone());

  // No limit: every metric, its label in the header.
  const std::string all = RenderConsoleTable(store, options);
  std::vector<std::string> lines = TableLines(all, "区县");
  ASSERT_EQ(lines.size(), 15u);  // header, rule, 10 units, rule, main urban area, city
  for (Metric m : options.metrics) EXPECT_THAT(lines[0], HasSubstr(MetricLabelZh(m)));
  EXPECT_THAT(all, Not(HasSubstr("放不下")));

  // 80 columns: accidents only (name 22 + 事故起数 and 同比 2+8+2+6 +
  // today's 2+12+2+8 = 64; deaths would need 18 more), the seven others named
  // below the table.
  options.width = 80;
  const std::string narrow = RenderConsoleTable(store, options);
  lines = TableLines(narrow, "区县");
  ASSERT_EQ(lines.size(), 15u);
  for (const std::string& line : lines) EXPECT_LE(DisplayWidth(line), 80u) << line;
  EXPECT_EQ(DisplayWidth(lines[0]), 64u) << lines[0];
  EXPECT_THAT(lines[0], HasSubstr("事故起数"));
  EXPECT_THAT(lines[0], Not(HasSubstr("死亡人数")));
  EXPECT_THAT(narrow,
              HasSubstr("（80 列宽放不下：死亡人数、受伤人数、饮酒驾驶、醉酒驾驶、重点交通违法、"
                        "农村道路事故、视频快处；"));
  EXPECT_THAT(narrow, HasSubstr("滨州高新技术产业开发区"));  // names whole: they fit

  // 82 columns: deaths too; 81: not yet.
  options.width = 82;
  lines = TableLines(RenderConsoleTable(store, options), "区县");
  EXPECT_THAT(lines[0], HasSubstr("死亡人数"));
  EXPECT_THAT(lines[0], Not(HasSubstr("受伤人数")));
  EXPECT_EQ(DisplayWidth(lines[0]), 82u) << lines[0];
  options.width = 81;
  lines = TableLines(RenderConsoleTable(store, options), "区县");
  EXPECT_THAT(lines[0], Not(HasSubstr("死亡人数")));

  // English in 72 columns: one metric, and the long names cut to fit. The
  // columns but the name take 53: Accidents 9, YoY 3 ("n/a": no counts),
  // "Today: accidents" 16, "Today: violations" 17, and four gaps of 2; the
  // names get 19.
  options.language = Language::kEn;
  options.width = 72;
  const std::string en = RenderConsoleTable(store, options);
  lines = TableLines(en, "County");
  ASSERT_EQ(lines.size(), 15u);
  for (const std::string& line : lines) EXPECT_EQ(DisplayWidth(line), 72u) << line;
  EXPECT_THAT(en, HasSubstr("\nEconomic and Techn…  "));
  EXPECT_THAT(en, HasSubstr("\nZouping City         "));
  EXPECT_THAT(en, Not(HasSubstr("Development Zone")));
  EXPECT_THAT(en, HasSubstr("(Not in 72 columns: Deaths, Injuries,"));
}

TEST(ConsoleTableTest, TodaysAccidentsAreTheAccidentsMetric) {
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(regions.ok());
  const absl::TimeZone& tz = regions->zone();
  CountStore store(*regions);
  const absl::CivilDay today(2026, 11, 28);
  MetricValues v{};
  At(v, Metric::kAccidents) = 3;        // ordinary procedure
  At(v, Metric::kMinorAccidents) = 40;  // not 事故起数: not in the column
  At(v, Metric::kKeyViolations) = 5;
  At(v, Metric::kOtherViolations) = 6;
  const BucketKey key{regions->Find("371621")->index,
                      absl::ToUnixSeconds(absl::FromCivil(today, tz))};
  ASSERT_TRUE(store.Apply(MakeCountRecord(*regions, "t", 0, key, v, 1, 1)).ok());
  ConsoleTableOptions options;
  options.today = today;
  options.now = absl::FromCivil(absl::CivilSecond(2026, 11, 28, 12, 0, 0), tz);
  options.metrics = {Metric::kAccidents};
  const std::vector<std::string> lines = TableLines(RenderConsoleTable(store, options), "区县");
  std::string huimin;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "惠民县")) huimin = line;
  }
  // This year 3 (no base last year), today 3 accidents and 11 violations.
  const std::vector<std::string> cells = absl::StrSplit(huimin, ' ', absl::SkipEmpty());
  EXPECT_EQ(cells, (std::vector<std::string>{"惠民县", "3", "无基数", "3", "11"}));
}

TEST(ConsoleTableTest, RowsCarryThisYearAndChange) {
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(regions.ok());
  absl::TimeZone tz;
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Shanghai", &tz));
  CountStore store(*regions);
  auto put = [&](int partition, absl::CivilDay day, int64_t accidents) {
    MetricValues v{};
    At(v, Metric::kAccidents) = accidents;
    const BucketKey key{regions->Find("371621")->index,
                        absl::ToUnixSeconds(absl::FromCivil(day, tz))};
    ASSERT_TRUE(store.Apply(MakeCountRecord(*regions, "t", partition, key, v, 1, 1)).ok());
  };
  put(0, absl::CivilDay(2026, 3, 1), 45);
  put(1, absl::CivilDay(2025, 3, 1), 50);
  put(0, absl::CivilDay(2025, 12, 1), 999);  // after today's date last year: not compared
  ConsoleTableOptions options;
  options.today = absl::CivilDay(2026, 11, 28);
  options.now = absl::FromCivil(absl::CivilSecond(2026, 11, 28, 12, 0, 0), tz);
  const std::string zh = RenderConsoleTable(store, options);
  EXPECT_THAT(zh, HasSubstr("惠民县"));
  EXPECT_THAT(zh, HasSubstr("-10.0%"));  // 45 against 50
  EXPECT_THAT(zh, HasSubstr("无基数"));  // deaths: no base last year
  EXPECT_THAT(zh, HasSubstr("2026-11-28 12:00:00"));
  options.language = Language::kEn;
  const std::string en = RenderConsoleTable(store, options);
  EXPECT_THAT(en, HasSubstr("Huimin County"));
  EXPECT_THAT(en, HasSubstr("n/a"));
}

}  // namespace
}  // namespace roadpulse
