// The report's flags as `roadpulse report` and `roadpulse replay` read them:
// parsed by CLI11 as on the command line, then checked against the region
// table, each refusal naming its flag.
#include "app/report_flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;

const absl::CivilDay kToday(2026, 12, 6);

// The flags after CLI11 parsed `args`, read for the Binzhou table.
absl::StatusOr<ReportRequest> Read(std::vector<std::string> args) {
  CLI::App app("test");
  ReportFlags flags;
  AddReportFlags(&app, &flags);
  std::vector<const char*> argv = {"report"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return ReadReportFlags(flags, testing::Binzhou(), kToday);
}

TEST(ReportFlagsTest, DefaultsAreThisYearSoFarForTheCityInChineseText) {
  absl::StatusOr<ReportRequest> r = Read({});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->period.from, absl::CivilDay(2026, 1, 1));
  EXPECT_EQ(r->period.to, absl::CivilDay(2026, 12, 7));
  EXPECT_EQ(r->region, "371600");
  EXPECT_EQ(r->language, Language::kZh);
  EXPECT_EQ(r->format, ReportFormat::kText);
  EXPECT_FALSE(r->utf8_bom);
}

TEST(ReportFlagsTest, EveryFlagIsRead) {
  absl::StatusOr<ReportRequest> r = Read({"--from", "2025-01-01", "--to", "2025-04-01", "--region",
                                          "371681", "--lang", "en", "--format", "csv", "--bom"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->period.from, absl::CivilDay(2025, 1, 1));
  EXPECT_EQ(r->period.to, absl::CivilDay(2025, 4, 1));
  EXPECT_EQ(r->region, "371681");
  EXPECT_EQ(r->language, Language::kEn);
  EXPECT_EQ(r->format, ReportFormat::kCsv);
  EXPECT_TRUE(r->utf8_bom);
  absl::StatusOr<ReportRequest> md = Read({"--format", "md"});
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(md->format, ReportFormat::kMarkdown);
}

// --region by name (RegionTable::Resolve) gives the request the code.
TEST(ReportFlagsTest, RegionByName) {
  for (const std::string name : {"邹平市", "邹平", "Zouping"}) {
    absl::StatusOr<ReportRequest> r = Read({"--region", name});
    ASSERT_TRUE(r.ok()) << name << ": " << r.status();
    EXPECT_EQ(r->region, "371681") << name;
  }
}

TEST(ReportFlagsTest, RefusalsNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bom"}, "--bom: only with --format csv"},
      {{"--format", "json", "--bom"}, "--bom: only with --format csv"},
      {{"--region", "999999"}, "--region: unknown region \"999999\""},
      {{"--region", "滨州"}, "--region: \"滨州\" names 4 regions"},
      {{"--from", "2025-13-01"}, "--from"},
      {{"--from", "2025-03-01", "--to", "2025-03-01"}, "--to"},
  };
  for (const auto& [args, says] : cases) {
    absl::StatusOr<ReportRequest> r = Read(args);
    ASSERT_FALSE(r.ok()) << ::testing::PrintToString(args);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(says));
  }
}

TEST(ReportFlagsTest, Cli11RefusesAnUnknownLanguageOrFormat) {
  EXPECT_THROW(Read({"--lang", "fr"}), CLI::ValidationError);
  EXPECT_THROW(Read({"--format", "xml"}), CLI::ValidationError);
}

}  // namespace
}  // namespace roadpulse
