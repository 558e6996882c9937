#include "processors/region_table.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Codes(const std::vector<const Region*>& regions) {
  std::vector<std::string> out;
  for (const Region* r : regions) out.push_back(r->code);
  return out;
}

TEST(RegionTableTest, LoadsBinzhou) {
  absl::StatusOr<RegionTable> table =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->city().code, "371600");
  EXPECT_EQ(table->city().name_zh, "滨州市");
  EXPECT_EQ(table->time_zone(), "Asia/Shanghai");
  // The report's "10 个县市区": 7 districts/counties plus 3 development zones.
  EXPECT_THAT(Codes(table->Counties()),
              UnorderedElementsAre("371602", "371603", "371621", "371622", "371623", "371625",
                                   "371681", "371671", "371672", "371673"));
  const Region* bincheng = table->Find("371602");
  ASSERT_NE(bincheng, nullptr);
  EXPECT_EQ(bincheng->name_zh, "滨城区");
  EXPECT_EQ(bincheng->name_pinyin, "Bincheng Qu");
  EXPECT_TRUE(bincheng->main_urban);
  // A street inherits main_urban from its district; a town may opt out.
  EXPECT_TRUE(table->Find("371602001")->main_urban);
  EXPECT_FALSE(table->Find("371602102")->main_urban);
  EXPECT_FALSE(table->Find("371681001")->main_urban);
  EXPECT_EQ(table->Find("999999"), nullptr);
}

TEST(RegionTableTest, CountingUnitChecksParents) {
  absl::StatusOr<RegionTable> table =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->CountingUnit("371602", "")->code, "371602");
  EXPECT_EQ(table->CountingUnit("371602", "371602003")->code, "371602003");
  EXPECT_EQ(table->CountingUnit("371681", "371602003"), nullptr);  // wrong parent
  EXPECT_EQ(table->CountingUnit("371600", ""), nullptr);           // the city is no unit
  EXPECT_EQ(table->CountingUnit("371602001", ""), nullptr);        // a township as county
  EXPECT_EQ(table->CountingUnit("371600", "371602"), nullptr);     // a county as township
  EXPECT_EQ(table->CountingUnit("", "371602003"), nullptr);        // no county
  EXPECT_EQ(table->CountingUnit("999999", ""), nullptr);
}

// Codes of every length from 1 to 20 bytes, each a prefix of the next, so
// short codes (packed into two words) and long ones (by text) meet: each is
// found, and a code differing from one of them in any single byte is not.
TEST(RegionTableTest, FindTellsCodesApartInEveryByte) {
  const std::string digits = "37160212345678901234";
  std::string toml = "[city]\ncode = \"C\"\nname_zh = \"市\"\n";
  for (size_t n = 1; n <= digits.size(); ++n) {
    absl::StrAppend(&toml, "[[units]]\ncode = \"", digits.substr(0, n), "\"\nname_zh = \"区", n,
                    "\"\nparent = \"C\"\nkind = \"district\"\n");
  }
  absl::StatusOr<RegionTable> table = RegionTable::LoadString(toml, "prefixes");
  ASSERT_TRUE(table.ok()) << table.status();
  for (size_t n = 1; n <= digits.size(); ++n) {
    const std::string code = digits.substr(0, n);
    const Region* found = table->Find(code);
    ASSERT_NE(found, nullptr) << code;
    EXPECT_EQ(found->name_zh, absl::StrCat("区", n));
    for (size_t i = 0; i < n; ++i) {
      for (const char c : {'x', '\0', static_cast<char>(code[i] ^ 0x80)}) {
        std::string other = code;
        other[i] = c;
        EXPECT_EQ(table->Find(other), nullptr) << code << " with byte " << i << " changed";
      }
    }
    EXPECT_EQ(table->Find(code + std::string(1, '\0')), nullptr) << code;
  }
}

// Find matches a code exactly: codes that differ only in leading zeros stay
// apart, letters are as good as digits, and codes on both sides of the
// 16-byte limit of packed keys (15, 17 and 19 digits; 16 absent) find only
// themselves.
TEST(RegionTableTest, FindMatchesCodesExactly) {
  constexpr char kToml[] = R"(
[city]
code = "0100"
name_zh = "测试市"
[[units]]
code = "100"
name_zh = "一区"
parent = "0100"
kind = "district"
[[units]]
code = "00100"
name_zh = "二区"
parent = "0100"
kind = "county"
[[units]]
code = "A-7"
name_zh = "甲街道"
parent = "100"
kind = "street"
[[units]]
code = "1234567890123456789"
name_zh = "乙镇"
parent = "00100"
kind = "township"
[[units]]
code = "5"
name_zh = "五区"
parent = "0100"
kind = "district"
[[units]]
code = "00000000000000005"
name_zh = "十七位区"
parent = "0100"
kind = "district"
[[units]]
code = "000000000000005"
name_zh = "十五位区"
parent = "0100"
kind = "district"
)";
  absl::StatusOr<RegionTable> table = RegionTable::LoadString(kToml, "codes");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->Find("0100"), &table->city());
  EXPECT_EQ(table->Find("100")->name_zh, "一区");
  EXPECT_EQ(table->Find("00100")->name_zh, "二区");
  EXPECT_EQ(table->Find("000100"), nullptr);
  EXPECT_EQ(table->Find("1000"), nullptr);
  EXPECT_EQ(table->Find("A-7")->name_zh, "甲街道");
  EXPECT_EQ(table->Find("1234567890123456789")->name_zh, "乙镇");
  EXPECT_EQ(table->Find("123456789012345678"), nullptr);
  EXPECT_EQ(table->Find("5")->name_zh, "五区");
  EXPECT_EQ(table->Find("00000000000000005")->name_zh, "十七位区");
  EXPECT_EQ(table->Find("000000000000005")->name_zh, "十五位区");
  EXPECT_EQ(table->Find("0000000000000005"), nullptr);  // 16 digits: not in the table
  EXPECT_EQ(table->Find(""), nullptr);
  EXPECT_EQ(table->CountingUnit("100", "A-7")->name_zh, "甲街道");
  EXPECT_EQ(table->CountingUnit("00100", "A-7"), nullptr);  // not its parent
  EXPECT_EQ(table->CountingUnit("00100", "1234567890123456789")->name_zh, "乙镇");
  EXPECT_EQ(table->CountingUnit("0100", "100"), nullptr);  // a district as township
  EXPECT_EQ(table->CountingUnit("00100", "")->name_zh, "二区");
}

TEST(RegionTableTest, UnitsOfRollUps) {
  absl::StatusOr<RegionTable> table =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->UnitsOf("371600").size(), table->size() - 2);  // all but city and main
  EXPECT_THAT(Codes(table->UnitsOf("371681")),
              UnorderedElementsAre("371681", "371681001", "371681002"));
  EXPECT_THAT(Codes(table->UnitsOf("371600-main")),
              UnorderedElementsAre("371602", "371602001", "371602002", "371602003", "371602004",
                                   "371602005", "371671", "371672"));
  EXPECT_THAT(Codes(table->UnitsOf("371602003")), UnorderedElementsAre("371602003"));
  EXPECT_TRUE(table->UnitsOf("nope").empty());
}

constexpr char kMinimal[] = R"(
[city]
code = "100000"
name_zh = "测试市"
[[units]]
code = "100001"
name_zh = "一区"
parent = "100000"
kind = "district"
)";

TEST(RegionTableTest, MinimalTableDefaults) {
  absl::StatusOr<RegionTable> table = RegionTable::LoadString(kMinimal, "minimal");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->time_zone(), "Asia/Shanghai");
  EXPECT_EQ(table->main_urban().code, "100000-main");
  EXPECT_FALSE(table->Find("100001")->main_urban);
}

// zone() is the named zone, loaded: local midnights land where the zone puts
// them (UTC midnight 2025-01-01 is 1735689600; 2025-07-01 is 1751328000).
TEST(RegionTableTest, ZoneIsTheNamedZoneLoaded) {
  absl::StatusOr<RegionTable> shanghai = RegionTable::LoadString(kMinimal, "minimal");
  ASSERT_TRUE(shanghai.ok()) << shanghai.status();
  EXPECT_EQ(absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2025, 1, 1), shanghai->zone())),
            1735689600 - 8 * 3600);
  absl::StatusOr<RegionTable> new_york = RegionTable::LoadString(
      "time_zone = \"America/New_York\"\n" + std::string(kMinimal), "new_york");
  ASSERT_TRUE(new_york.ok()) << new_york.status();
  EXPECT_EQ(new_york->time_zone(), "America/New_York");
  EXPECT_EQ(absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2025, 7, 1), new_york->zone())),
            1751328000 + 4 * 3600);  // EDT, UTC-4
  // A copy keeps its zone.
  const RegionTable copy = *new_york;
  EXPECT_EQ(copy.zone(), new_york->zone());
}

struct BadTable {
  std::string name;
  std::string toml;
  std::string message;
};

class RegionTableErrorTest : public ::testing::TestWithParam<BadTable> {};

TEST_P(RegionTableErrorTest, NamesTheProblem) {
  absl::StatusOr<RegionTable> table = RegionTable::LoadString(GetParam().toml, "bad.toml");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("bad.toml"));
  EXPECT_THAT(std::string(table.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RegionTableErrorTest,
    ::testing::Values(
        BadTable{"Syntax", "[city\n", "line 1"},
        BadTable{"NoCity", "[[units]]\ncode=\"1\"\nname_zh=\"x\"\nparent=\"0\"\nkind=\"county\"\n",
                 "missing [city]"},
        BadTable{"MistypedKey", std::string(kMinimal) + "naem_zh = \"x\"\n",
                 "unknown key \"naem_zh\""},
        BadTable{
            "DuplicateCode",
            std::string(kMinimal) +
                "[[units]]\ncode=\"100001\"\nname_zh=\"x\"\nparent=\"100000\"\nkind=\"county\"\n",
            "duplicate code \"100001\""},
        BadTable{"UnknownParent",
                 std::string(kMinimal) +
                     "[[units]]\ncode=\"100002\"\nname_zh=\"x\"\nparent=\"555\"\nkind=\"county\"\n",
                 "unknown parent \"555\""},
        BadTable{
            "BadKind",
            std::string(kMinimal) +
                "[[units]]\ncode=\"100002\"\nname_zh=\"x\"\nparent=\"100000\"\nkind=\"state\"\n",
            "unknown kind \"state\""},
        BadTable{
            "TownshipUnderCity",
            std::string(kMinimal) +
                "[[units]]\ncode=\"100002\"\nname_zh=\"x\"\nparent=\"100000\"\nkind=\"street\"\n",
            "must have a county-level parent"},
        BadTable{"BadZone", "time_zone = \"Mars/Base\"\n" + std::string(kMinimal),
                 "unknown time_zone"}),
    [](const ::testing::TestParamInfo<BadTable>& info) { return info.param.name; });

TEST(RegionTableTest, MissingFileIsNotFound) {
  absl::StatusOr<RegionTable> table = RegionTable::LoadFile("/nonexistent/regions.toml");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("/nonexistent/regions.toml"));
}

// Resolve: what a person types for a region. The expected codes are those of
// deploy/config/regions/binzhou.toml.
TEST(RegionTableTest, ResolveTakesCodesAndNames) {
  absl::StatusOr<RegionTable> table =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(table.ok()) << table.status();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"371602", "371602"},
      {"滨城区", "371602"},
      {" 滨城区 ", "371602"},
      {" 371602 ", "371602"},
      {"\t滨城区\n", "371602"},
      {"\u3000滨城区\u3000", "371602"},  // the ideographic space of Chinese input
      {"\u00a0Bincheng District\u00a0", "371602"},
      {"Bincheng District", "371602"},
      {"bincheng district", "371602"},
      {"BINCHENG QU", "371602"},
      {"滨州市", "371600"},
      {"Binzhou", "371600"},
      {"主城区", "371600-main"},
      {"main urban area", "371600-main"},
      {"371600-main", "371600-main"},
      {"市中街道", "371602001"},
      {"Shizhong Subdistrict", "371602001"},
      // The start of a name: Chinese without its 市/县/区, English and
      // pinyin up to a space.
      {"邹平", "371681"},
      {"Zouping", "371681"},
      {"惠民", "371621"},
      {"Beihai", "371673"},
      // A part of a Chinese name: the zones without 滨州.
      {"北海", "371673"},
      {"高新", "371672"},
      {"经济技术开发区", "371671"},
  };
  for (const auto& [text, code] : cases) {
    absl::StatusOr<const Region*> r = table->Resolve(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status();
    EXPECT_EQ((*r)->code, code) << text;
  }
}

TEST(RegionTableTest, ResolveNamesWhatCouldBeMeant) {
  absl::StatusOr<RegionTable> table =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(table.ok()) << table.status();
  // 滨州 starts the city's name and the three zones'.
  absl::StatusOr<const Region*> r = table->Resolve("滨州");
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr("\"滨州\" names 4 regions: 371600 滨州市, 371671 滨州经济技术开发区, "
                        "371672 滨州高新技术产业开发区, 371673 滨州北海经济开发区"));
  // Nothing fits: "Bin" is not a whole word of a name, 滨 one character (too
  // short to be the start or a part of a name), the codes are not in the table.
  for (const std::string text : {"Bin", "滨", "x", "", "999999", "37160"}) {
    r = table->Resolve(text);
    EXPECT_TRUE(absl::IsNotFound(r.status())) << text << ": " << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("unknown region \"" + text + "\""));
    EXPECT_THAT(r.status().message(), HasSubstr("371600 滨州市"));
    EXPECT_THAT(r.status().message(), HasSubstr("371600-main 主城区"));
    EXPECT_THAT(r.status().message(), HasSubstr("371681 邹平市"));
  }
  // A long or odd text is repeated in part: 40 characters, then "…".
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "路";
  r = table->Resolve(long_text + "\x01");
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "路";
  EXPECT_THAT(r.status().message(), HasSubstr("unknown region \"" + forty + "…\""));
  r = table->Resolve(
      "a\x01"
      "b");
  EXPECT_THAT(r.status().message(), HasSubstr("unknown region \"a?b\""));
}

}  // namespace
}  // namespace roadpulse
