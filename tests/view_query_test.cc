#include "sinks/view_query.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processors/count_record.h"
#include "sinks/count_view.h"
#include "sinks/http_view.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;

class ViewQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RegionTable> t =
        RegionTable::LoadFile(std::string(ROADPULSE_SOURCE_DIR) + "/deploy/config/regions/binzhou.toml");
    ASSERT_TRUE(t.ok()) << t.status();
    regions_ = std::make_unique<RegionTable>(*std::move(t));
  }
  absl::Status Counts(std::string_view query) {
    absl::StatusOr<QueryParams> p = ParseQueryString(query);
    if (!p.ok()) return p.status();
    return ParseCountsQuery(*p, *regions_, today_).status();
  }
  absl::Status ReportQ(std::string_view query) {
    absl::StatusOr<QueryParams> p = ParseQueryString(query);
    if (!p.ok()) return p.status();
    return ParseReportQuery(*p, *regions_, today_).status();
  }
  std::unique_ptr<RegionTable> regions_;
  absl::CivilDay today_{2025, 9, 5};
};

TEST_F(ViewQueryTest, ParsesWindows) {
  absl::StatusOr<QueryParams> p = ParseQueryString("metric=deaths&region=371602&window=ytd");
  ASSERT_TRUE(p.ok());
  absl::StatusOr<CountsQuery> q = ParseCountsQuery(*p, *regions_, today_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->metric, Metric::kDeaths);
  EXPECT_EQ(q->region, "371602");
  EXPECT_EQ(q->window.period.from, absl::CivilDay(2025, 1, 1));
  EXPECT_EQ(q->window.period.to, absl::CivilDay(2025, 9, 6));
  EXPECT_TRUE(ParseWindow("1h", today_)->rolling);
  EXPECT_EQ(ParseWindow("month", today_)->period.from, absl::CivilDay(2025, 9, 1));
  EXPECT_EQ(ParseWindow("2024-02-29..2024-03-01", today_)->period.to, absl::CivilDay(2024, 3, 1));
  EXPECT_EQ(ParseQueryString("a=x%20y+z")->at("a"), "x y z");
}

// /api/v1/counts on 29 February alone: its same period last year has no
// day, and the reason says so rather than blame a zero count. One accident
// on 2024-02-29 in 滨城区, by hand.
TEST_F(ViewQueryTest, LeapDayAloneHasNoDayLastYear) {
  auto store = std::make_shared<CountStore>(*regions_);
  MetricValues values{};
  At(values, Metric::kAccidents) = 1;
  const int64_t start =
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2024, 2, 29), regions_->zone()));
  ASSERT_TRUE(
      store
          ->Apply(MakeCountRecord(*regions_, "roadpulse.incidents", 0,
                                  BucketKey{regions_->Find("371602")->index, start}, values, 1, 1))
          .ok());
  ViewSnapshot snapshot;
  snapshot.store = store;
  auto counts = [&](std::string_view query) {
    absl::StatusOr<QueryParams> p = ParseQueryString(query);
    EXPECT_TRUE(p.ok());
    absl::StatusOr<CountsQuery> q = ParseCountsQuery(*p, *regions_, today_);
    EXPECT_TRUE(q.ok()) << q.status();
    absl::StatusOr<nlohmann::ordered_json> j = CountsJson(snapshot, *q);
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? *j : nlohmann::ordered_json();
  };
  const nlohmann::ordered_json leap = counts("metric=accidents&window=2024-02-29..2024-03-01");
  EXPECT_EQ(leap["value"], 1);
  EXPECT_EQ(leap["last_year"], 0);
  EXPECT_EQ(leap["last_year_from"], "2023-03-01");
  EXPECT_EQ(leap["last_year_to"], "2023-03-01");
  EXPECT_THAT(leap["change_reason"].get<std::string>(), HasSubstr("has no day"));
  // 28 February has a twin, with no accident: a zero base.
  const nlohmann::ordered_json day = counts("metric=accidents&window=2024-02-28..2024-02-29");
  EXPECT_EQ(day["value"], 0);
  EXPECT_EQ(day["last_year_from"], "2023-02-28");
  EXPECT_THAT(day["change_reason"].get<std::string>(), HasSubstr("last year's value is 0"));
}

// A region by name, as in the address bar, is answered under its code.
TEST_F(ViewQueryTest, TakesARegionByName) {
  for (const std::string query : {"region=%E9%82%B9%E5%B9%B3",  // 邹平
                                  "region=Zouping+City", "region=371681"}) {
    absl::StatusOr<QueryParams> p = ParseQueryString("metric=deaths&window=ytd&" + query);
    ASSERT_TRUE(p.ok()) << query;
    absl::StatusOr<CountsQuery> q = ParseCountsQuery(*p, *regions_, today_);
    ASSERT_TRUE(q.ok()) << query << ": " << q.status();
    EXPECT_EQ(q->region, "371681") << query;
    p = ParseQueryString("format=json&" + query);
    ASSERT_TRUE(p.ok()) << query;
    absl::StatusOr<ReportQuery> r = ParseReportQuery(*p, *regions_, today_);
    ASSERT_TRUE(r.ok()) << query << ": " << r.status();
    EXPECT_EQ(r->region, "371681") << query;
  }
  EXPECT_THAT(Counts("metric=accidents&region=%E6%BB%A8%E5%B7%9E").message(),  // 滨州
              HasSubstr("names 4 regions"));
}

TEST_F(ViewQueryTest, RefusesMalformedInputWithANamedReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"metric=bogus", "unknown metric \"bogus\" (metrics: accidents, deaths, injuries, "},
      {"", "metric: required"},
      {"metric=", "unknown metric"},
      {"metric=accidents&region=1", "unknown region"},
      {"metric=accidents&window=2025-02-29..2025-03-01",
       "\"2025-02-29\" is not a day of the calendar"},
      {"metric=accidents&window=2025-1-01..2025-03-01", "YYYY-MM-DD"},
      {"metric=accidents&window=2025-03-01..2025-01-01", "is after"},
      {"metric=accidents&window=2025-03-01..2025-03-01", "empty"},
      {"metric=accidents&window=1900-01-01..2025-03-01", "longer than a year"},
      {"metric=accidents&window=2024-02-29..2025-03-01", "ends by 2025-02-28"},
      {"metric=accidents&window=..", "YYYY-MM-DD"},
      {"metric=accidents&window=2025-01-01..", "YYYY-MM-DD"},
      {"metric=accidents&window=+2025-01-01..2025-02-01", "YYYY-MM-DD"},
      {"metric=accidents&window=0000-01-01..2025-02-01", "\"0000-01-01\" is before 1900"},
      {"metric=accidents&window=2h", "window"},
      {"metric=accidents&metric=deaths", "twice"},
      {"metric=accidents&=1", "without a name"},
      {"metric=accidents&a=%", "truncated"},
      {"metric=accidents&a=%4", "truncated"},
      {"metric=accidents&a=%zz", "bad %-escape"},
      {"metric=accidents&a=%00", "control character"},
      {"metric=accidents&a=%0a", "control character"},
      {"metric=accidents&color=red", "unknown query parameter"},
      {"metric=accidents&x=" + std::string(300, 'a'), "longer than"},
      {std::string(3000, '&'), "longer than"},
  };
  for (const auto& [query, reason] : cases) {
    absl::Status s = Counts(query);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_THAT(std::string(s.message()), HasSubstr(reason)) << query;
  }
  EXPECT_EQ(Counts("metric=accidents&&access_token=x&").code(), absl::StatusCode::kOk);
}

TEST_F(ViewQueryTest, ReportQueries) {
  EXPECT_TRUE(ReportQ("from=2025-01-01&to=2025-09-01&lang=en&format=csv").ok());
  EXPECT_TRUE(ReportQ("").ok());
  EXPECT_THAT(std::string(ReportQ("from=2025-09-01&to=2025-01-01").message()), HasSubstr("is after"));
  EXPECT_THAT(std::string(ReportQ("lang=de").message()), HasSubstr("lang"));
  EXPECT_THAT(std::string(ReportQ("format=xml").message()), HasSubstr("format"));
  EXPECT_THAT(std::string(ReportQ("from=2025-01-32").message()),
              HasSubstr("\"2025-01-32\" is not a day of the calendar"));
  EXPECT_THAT(std::string(ReportQ("from=1000-01-01&to=2025-01-01").message()),
              HasSubstr("\"1000-01-01\" is before 1900"));
}

TEST_F(ViewQueryTest, ReportBomOnlyWithCsv) {
  auto parse = [this](std::string_view query) {
    absl::StatusOr<QueryParams> p = ParseQueryString(query);
    EXPECT_TRUE(p.ok()) << query;
    return ParseReportQuery(*p, *regions_, today_);
  };
  absl::StatusOr<ReportQuery> q = parse("format=csv&bom=1");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->bom);
  EXPECT_EQ(q->format, ReportFormat::kCsv);
  q = parse("format=csv&bom=0");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->bom);
  q = parse("format=csv");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->bom);
  EXPECT_TRUE(parse("format=json&bom=0").ok());
  EXPECT_THAT(std::string(parse("format=json&bom=1").status().message()),
              HasSubstr("bom: only with format=csv"));
  EXPECT_THAT(std::string(parse("bom=1").status().message()),
              HasSubstr("bom: only with format=csv"));  // the default format is json
  EXPECT_THAT(std::string(parse("format=csv&bom=yes").status().message()),
              HasSubstr("bom: \"yes\" is not 0 or 1"));
}

}  // namespace
}  // namespace roadpulse
