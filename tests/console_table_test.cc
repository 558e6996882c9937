#include "sinks/console_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processors/count_record.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;

TEST(ConsoleTableTest, DisplayWidthCountsChineseAsTwo) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("滨城区"), 6u);
  EXPECT_EQ(DisplayWidth("同比 -1.5%"), 10u);
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
