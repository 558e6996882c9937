// Tests of `roadpulse generate` (app/generator.h): determinism, the scenario's
// figures against the report, and an independent re-count of the output file
// (its own decoding, validation and counting, not the generator's nor
// processors/*.cc) against the manifest.
#include "app/generator.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "app/event_writer.h"
#include "app/scenario.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "gtest/gtest.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"

namespace roadpulse {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::ordered_json;

std::string SourcePath(const std::string& rel) {
  return std::string(ROADPULSE_SOURCE_DIR) + "/" + rel;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/roadpulse_generator_test_" +
         std::to_string(::getpid()) + "_" + name;
}

// Rounds like the report: to `decimals` places.
double RoundTo(double x, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}
double ChangePct(int64_t last, int64_t now) {
  return static_cast<double>(now - last) / static_cast<double>(last) * 100.0;
}

struct Generated {
  std::string path;
  std::string bytes;
  json manifest;
  size_t history = 0;
  double seconds = 0;
};

class GeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<RegionTable> regions =
        RegionTable::LoadFile(SourcePath("deploy/config/regions/binzhou.toml"));
    ASSERT_TRUE(regions.ok()) << regions.status();
    regions_ = new RegionTable(*std::move(regions));
    absl::StatusOr<Scenario> scenario = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
    ASSERT_TRUE(scenario.ok()) << scenario.status();
    scenario_ = new Scenario(*std::move(scenario));
  }
  static void TearDownTestSuite() {
    if (full_ != nullptr) std::remove(full_->path.c_str());
    delete full_;
    delete scenario_;
    delete regions_;
  }

  static GeneratorOptions Options(uint64_t seed, int64_t max_events,
                                  const Scenario* scenario = nullptr) {
    GeneratorOptions o;
    o.seed = seed;
    o.scenario = scenario != nullptr ? *scenario : *scenario_;
    o.max_events = max_events;
    return o;
  }

  static Generated Generate(uint64_t seed, int64_t max_events, const std::string& name,
                            const Scenario* scenario = nullptr) {
    Generated g;
    g.path = TempPath(name);
    const auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Generator>> gen =
        Generator::Create(Options(seed, max_events, scenario), *regions_);
    EXPECT_TRUE(gen.ok()) << gen.status();
    if (!gen.ok()) return g;
    absl::StatusOr<std::unique_ptr<FileEventWriter>> writer = FileEventWriter::Create(g.path);
    EXPECT_TRUE(writer.ok()) << writer.status();
    std::atomic<bool> stop{false};
    absl::Status st = (*gen)->Run(**writer, stop);
    EXPECT_TRUE(st.ok()) << st;
    st = (*writer)->Close();
    EXPECT_TRUE(st.ok()) << st;
    g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g.history = (*gen)->history_size();
    g.manifest = (*gen)->manifest().ToJson();
    g.bytes = ReadFile(g.path);
    return g;
  }

  // The full seed-1 history, generated once per process on first use.
  static const Generated& Full() {
    if (full_ == nullptr) full_ = new Generated(Generate(1, -1, "seed1"));
    return *full_;
  }

  static RegionTable* regions_;
  static Scenario* scenario_;
  static Generated* full_;
};

RegionTable* GeneratorTest::regions_ = nullptr;
Scenario* GeneratorTest::scenario_ = nullptr;
Generated* GeneratorTest::full_ = nullptr;

TEST_F(GeneratorTest, SameSeedGivesIdenticalBytes) {
  Generated again = Generate(1, -1, "seed1_again");
  std::remove(again.path.c_str());
  std::printf("seed 1: %zu records, %zu bytes, generated and written in %.2f s\n", Full().history,
              Full().bytes.size(), Full().seconds);
  ASSERT_EQ(again.bytes.size(), Full().bytes.size());
  EXPECT_TRUE(again.bytes == Full().bytes);
  EXPECT_EQ(again.manifest, Full().manifest);
}

TEST_F(GeneratorTest, EventsCapEmitsAPrefixAndOtherSeedsDiffer) {
  Generated capped = Generate(1, 20000, "seed1_capped");
  Generated other = Generate(2, 20000, "seed2_capped");
  std::remove(capped.path.c_str());
  std::remove(other.path.c_str());
  EXPECT_EQ(capped.manifest["produced"]["total"], 20000);
  ASSERT_LT(capped.bytes.size(), Full().bytes.size());
  EXPECT_TRUE(Full().bytes.compare(0, capped.bytes.size(), capped.bytes) == 0);
  EXPECT_EQ(other.manifest["produced"]["total"], 20000);
  EXPECT_FALSE(other.bytes == capped.bytes);
}

TEST_F(GeneratorTest, SummaryHasTheReportsFigures) {
  const json& s = Full().manifest["summary"]["by_period"];
  const json& y24 = s["2024"];
  const json& y25 = s["2025"];
  const PeriodTotals& t24 = scenario_->periods[0].totals;
  const PeriodTotals& t25 = scenario_->periods[1].totals;
  EXPECT_EQ(y24["accidents"], t24.ordinary);
  EXPECT_EQ(y25["accidents"], t25.ordinary);
  EXPECT_EQ(y24["deaths"], t24.deaths);
  EXPECT_EQ(y25["deaths"], t25.deaths);
  EXPECT_EQ(y24["injuries"], t24.injuries);
  EXPECT_EQ(y25["injuries"], t25.injuries);
  EXPECT_EQ(y24["main_urban_e3e4_accidents"], t24.e3e4_main_urban);
  EXPECT_EQ(y25["main_urban_e3e4_accidents"], t25.e3e4_main_urban);
  EXPECT_EQ(y24["main_urban_e3e4_injuries"], t24.e3e4_main_urban_injuries);
  EXPECT_EQ(y25["main_urban_e3e4_injuries"], t25.e3e4_main_urban_injuries);
  EXPECT_EQ(y24["key_violations"], t24.KeyViolations());
  EXPECT_EQ(y25["key_violations"], t25.KeyViolations());
  EXPECT_EQ(y24["video_handled"], t24.video_quick);
  EXPECT_EQ(y25["video_handled"], t25.video_quick);

  auto pct = [&](const char* name) {
    return ChangePct(s["2024"][name].get<int64_t>(), s["2025"][name].get<int64_t>());
  };
  EXPECT_DOUBLE_EQ(RoundTo(pct("accidents"), 2), -11.29);
  EXPECT_DOUBLE_EQ(RoundTo(pct("deaths"), 2), -14.04);
  EXPECT_DOUBLE_EQ(RoundTo(pct("injuries"), 2), -17.78);
  EXPECT_DOUBLE_EQ(RoundTo(pct("main_urban_e3e4_accidents"), 1), -69.8);
  EXPECT_DOUBLE_EQ(RoundTo(pct("main_urban_e3e4_injuries"), 1), -62.5);
  EXPECT_EQ(y25["key_violations"], 139000);
  EXPECT_GE(y25["video_handled"].get<int64_t>(), 30000);
  EXPECT_LT(y25["video_handled"].get<int64_t>(), 40000);  // "3万余"
  const json& change = Full().manifest["summary"]["change_pct"];
  EXPECT_DOUBLE_EQ(change["accidents"].get<double>(), -11.29);
  EXPECT_DOUBLE_EQ(change["main_urban_e3e4_injuries"].get<double>(), -62.5);
}

// ---------------------------------------------------------------------------
// The independent re-count.

struct Recount {
  int64_t incidents = 0, violations = 0, counted = 0, amended = 0, duplicates = 0, rejected = 0;
  std::map<std::string, int64_t> by_reason;
  std::map<std::string, std::string> rejects;  // key -> reason
  // unit -> day -> metric -> value
  std::map<std::string, std::map<std::string, std::map<std::string, int64_t>>> counts;
  std::set<std::string> valid_ids;
  int64_t out_of_order = 0;
  int64_t e3e4_minor_in_main_urban = 0;
};

using Values = std::map<std::string, int64_t>;

void AddTo(Recount& r, const std::string& unit, const std::string& day, const Values& v, int sign) {
  auto& cell = r.counts[unit][day];
  for (const auto& [m, x] : v) {
    cell[m] += sign * x;
    if (cell[m] == 0) cell.erase(m);
  }
  if (cell.empty()) {
    r.counts[unit].erase(day);
    if (r.counts[unit].empty()) r.counts.erase(unit);
  }
}

std::string LocalDay(const google::protobuf::Timestamp& t) {
  // China Standard Time is UTC+8 all year (no DST since 1991).
  const int64_t local = t.seconds() + 8 * 3600;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const absl::CivilDay d = absl::CivilDay(1970, 1, 1) + days;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", static_cast<int>(d.year()), d.month(), d.day());
  return buf;
}

bool IsE3E4(int v) {
  return v == v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE ||
         v == v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_QUADRICYCLE;
}

Values IncidentValues(const v1::IncidentEvent& e) {
  Values v;
  bool e3e4 = false;
  for (int x : e.vehicles()) e3e4 |= IsE3E4(x);
  v["deaths"] = e.deaths();
  v["injuries"] = e.injuries();
  v["property_loss_yuan"] = e.property_loss_yuan();
  if (e.handling() == v1::HANDLING_ORDINARY_PROCEDURE) {
    v["accidents"] = 1;
    if (e3e4) {
      v["e3e4_accidents"] = 1;
      v["e3e4_deaths"] = e.deaths();
      v["e3e4_injuries"] = e.injuries();
    }
    if (e.alcohol_involved()) v["alcohol_accidents"] = 1;
    if (e.location().road_class() == v1::ROAD_CLASS_TOWNSHIP_VILLAGE) v["rural_accidents"] = 1;
  } else {
    v["minor_accidents"] = 1;
    if (e.handling() == v1::HANDLING_VIDEO_QUICK) v["video_handled"] = 1;
  }
  return v;
}

Values ViolationValues(const v1::ViolationEvent& e) {
  std::string m;
  switch (e.type()) {
    case v1::VIOLATION_TYPE_DRINK_DRIVING:
    case v1::VIOLATION_TYPE_DRUNK_DRIVING:
    case v1::VIOLATION_TYPE_ALCOHOL:
      if (e.has_blood_alcohol_mg_100ml()) {
        m = e.blood_alcohol_mg_100ml() >= 80 ? "drunk_driving" : "drink_driving";
      } else {
        m = e.type() == v1::VIOLATION_TYPE_DRUNK_DRIVING ? "drunk_driving" : "drink_driving";
      }
      break;
    case v1::VIOLATION_TYPE_SPEEDING:
      m = "speeding";
      break;
    case v1::VIOLATION_TYPE_OVERLOAD:
      m = "overload";
      break;
    case v1::VIOLATION_TYPE_OVER_CAPACITY:
      m = "over_capacity";
      break;
    case v1::VIOLATION_TYPE_FATIGUE:
      m = "fatigue";
      break;
    default:
      return {{"other_violations", 1}};
  }
  return {{m, 1}, {"key_violations", 1}};
}

// The rules of processors/reject_reason.h and events.proto, written again
// here; empty when the event is valid.
std::string Validate(const RegionTable& regions, const std::string& id,
                     const google::protobuf::Timestamp* occurred,
                     const google::protobuf::Timestamp* reported, const v1::Location& loc,
                     int64_t record_ms, int64_t watermark_s) {
  if (id.empty()) return "empty_id";
  if (occurred == nullptr || reported == nullptr) return "missing_time";
  const Region* unit = regions.CountingUnit(loc.region_code(), loc.township_code());
  if (unit == nullptr) return "unknown_region";
  if (loc.has_main_urban() && loc.main_urban() != unit->main_urban) return "main_urban_mismatch";
  if (occurred->seconds() * 1000 > record_ms + 3600 * 1000 ||
      reported->seconds() * 1000 > record_ms + 3600 * 1000) {
    return "future_time";
  }
  if (reported->seconds() < occurred->seconds() ||
      (reported->seconds() == occurred->seconds() && reported->nanos() < occurred->nanos())) {
    return "reported_before_occurred";
  }
  if (occurred->seconds() < watermark_s - 400 * 86400) return "too_late";
  return "";
}

std::string ValidateIncident(const RegionTable& regions, const v1::IncidentEvent& e,
                             int64_t record_ms, int64_t watermark_s) {
  if (e.id().empty()) return "empty_id";
  if (e.deaths() < 0 || e.injuries() < 0 || e.property_loss_yuan() < 0) return "negative_count";
  if (e.deaths() > 500 || e.injuries() > 5000) return "absurd_count";
  if (e.handling() == v1::HANDLING_UNSPECIFIED || e.severity() == v1::SEVERITY_UNSPECIFIED) {
    return "missing_field";
  }
  if (e.handling() != v1::HANDLING_ORDINARY_PROCEDURE && e.deaths() > 0) {
    return "handling_contradiction";
  }
  return Validate(regions, e.id(), e.has_occurred_at() ? &e.occurred_at() : nullptr,
                  e.has_reported_at() ? &e.reported_at() : nullptr, e.location(), record_ms,
                  watermark_s);
}

std::string ValidateViolation(const RegionTable& regions, const v1::ViolationEvent& e,
                              int64_t record_ms, int64_t watermark_s) {
  if (e.id().empty()) return "empty_id";
  if (e.type() == v1::VIOLATION_TYPE_UNSPECIFIED) return "missing_field";
  if (e.has_blood_alcohol_mg_100ml()) {
    const double bac = e.blood_alcohol_mg_100ml();
    if (bac < 0) return "negative_count";
    if (bac > 1000) return "absurd_count";
    if (e.type() == v1::VIOLATION_TYPE_DRINK_DRIVING && !(bac >= 20 && bac < 80)) {
      return "alcohol_contradiction";
    }
    if (e.type() == v1::VIOLATION_TYPE_DRUNK_DRIVING && bac < 80) return "alcohol_contradiction";
  } else if (e.type() == v1::VIOLATION_TYPE_ALCOHOL) {
    return "missing_blood_alcohol";
  }
  return Validate(regions, e.id(), e.has_occurred_at() ? &e.occurred_at() : nullptr,
                  e.has_reported_at() ? &e.reported_at() : nullptr, e.location(), record_ms,
                  watermark_s);
}

Recount RecountFile(const std::string& bytes, const RegionTable& regions) {
  Recount r;
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  v1::LoggedRecord rec;
  bool clean_eof = false;
  struct Seen {
    uint32_t revision;
    std::string unit, day;
    Values values;
  };
  std::map<std::string, Seen> accidents;
  std::set<std::string> violations;
  int64_t watermark_s = INT64_MIN / 2;
  int64_t last_ms = 0;
  while (google::protobuf::util::ParseDelimitedFromZeroCopyStream(&rec, &in, &clean_eof)) {
    if (rec.timestamp_unix_ms() < last_ms) ++r.out_of_order;
    last_ms = rec.timestamp_unix_ms();
    const bool incident = rec.kind() == v1::EVENT_KIND_INCIDENT;
    incident ? ++r.incidents : ++r.violations;
    std::string reason;
    v1::IncidentEvent inc;
    v1::ViolationEvent vio;
    const bool parsed =
        incident ? inc.ParseFromString(rec.value()) : vio.ParseFromString(rec.value());
    if (!parsed) {
      reason = rec.value().rfind("not protobuf", 0) == 0 ? "not_protobuf" : "truncated";
    } else {
      reason = incident ? ValidateIncident(regions, inc, rec.timestamp_unix_ms(), watermark_s)
                        : ValidateViolation(regions, vio, rec.timestamp_unix_ms(), watermark_s);
    }
    if (!reason.empty()) {
      ++r.rejected;
      ++r.by_reason[reason];
      r.rejects[rec.key()] = reason;
      continue;
    }
    const v1::Location& loc = incident ? inc.location() : vio.location();
    const google::protobuf::Timestamp& occ = incident ? inc.occurred_at() : vio.occurred_at();
    watermark_s = std::max(watermark_s, occ.seconds());
    const std::string unit = loc.township_code().empty() ? loc.region_code() : loc.township_code();
    const std::string day = LocalDay(occ);
    if (incident) {
      r.valid_ids.insert(inc.id());
      bool e3e4 = false;
      for (int x : inc.vehicles()) e3e4 |= IsE3E4(x);
      if (e3e4 && inc.handling() != v1::HANDLING_ORDINARY_PROCEDURE &&
          regions.Find(unit)->main_urban) {
        ++r.e3e4_minor_in_main_urban;
      }
      auto it = accidents.find(inc.id());
      if (it == accidents.end()) {
        ++r.counted;
        Seen s{inc.revision(), unit, day, IncidentValues(inc)};
        AddTo(r, unit, day, s.values, +1);
        accidents.emplace(inc.id(), s);
      } else if (inc.revision() > it->second.revision) {
        ++r.amended;
        AddTo(r, it->second.unit, it->second.day, it->second.values, -1);
        it->second = Seen{inc.revision(), unit, day, IncidentValues(inc)};
        AddTo(r, unit, day, it->second.values, +1);
      } else {
        ++r.duplicates;
      }
    } else {
      r.valid_ids.insert(vio.id());
      if (violations.insert(vio.id()).second) {
        ++r.counted;
        AddTo(r, unit, day, ViolationValues(vio), +1);
      } else {
        ++r.duplicates;
      }
    }
  }
  EXPECT_TRUE(clean_eof) << "the file does not end at a record boundary";
  return r;
}

TEST_F(GeneratorTest, IndependentRecountEqualsTheManifest) {
  const auto t0 = std::chrono::steady_clock::now();
  Recount r = RecountFile(Full().bytes, *regions_);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const json& m = Full().manifest;
  std::printf(
      "recount (%.2f s): produced %lld (incidents %lld, violations %lld), counted %lld, amended "
      "%lld, duplicates %lld, rejected %lld\n",
      secs, static_cast<long long>(r.incidents + r.violations), static_cast<long long>(r.incidents),
      static_cast<long long>(r.violations), static_cast<long long>(r.counted),
      static_cast<long long>(r.amended), static_cast<long long>(r.duplicates),
      static_cast<long long>(r.rejected));
  for (const auto& [reason, n] : r.by_reason) {
    std::printf("  rejected %-26s %lld\n", reason.c_str(), static_cast<long long>(n));
  }

  EXPECT_EQ(m["produced"]["incidents"], r.incidents);
  EXPECT_EQ(m["produced"]["violations"], r.violations);
  EXPECT_EQ(m["produced"]["total"], r.incidents + r.violations);
  EXPECT_EQ(m["expected"]["counted"], r.counted);
  EXPECT_EQ(m["expected"]["amended"], r.amended);
  EXPECT_EQ(m["expected"]["duplicates"], r.duplicates);
  EXPECT_EQ(m["expected"]["rejected"], r.rejected);
  EXPECT_EQ(r.counted + r.amended + r.duplicates + r.rejected, r.incidents + r.violations);
  for (const auto& [reason, n] : r.by_reason) {
    EXPECT_EQ(m["expected"]["rejected_by_reason"].value(reason, int64_t{-1}), n) << reason;
  }
  EXPECT_EQ(m["expected"]["rejected_by_reason"].size(), r.by_reason.size());

  // Every bad record has the reason the manifest says, and a key no valid record has.
  ASSERT_EQ(m["rejects"].size(), r.rejects.size());
  for (const auto& [key, reason] : r.rejects) {
    EXPECT_EQ(m["rejects"].value(key, std::string("?")), reason) << key;
    EXPECT_EQ(r.valid_ids.count(key), 0u) << key;
  }

  // Counts, unit by unit, day by day, metric by metric.
  std::map<std::string, std::map<std::string, std::map<std::string, int64_t>>> manifest_counts;
  for (const auto& [unit, days] : m["counts"].items()) {
    for (const auto& [day, values] : days.items()) {
      for (const auto& [metric, v] : values.items()) {
        manifest_counts[unit][day][metric] = v.get<int64_t>();
      }
    }
  }
  EXPECT_EQ(manifest_counts.size(), r.counts.size());
  int64_t cells = 0, mismatches = 0;
  for (const auto& [unit, days] : r.counts) {
    for (const auto& [day, values] : days) {
      ++cells;
      if (manifest_counts[unit][day] != values && ++mismatches <= 5) {
        ADD_FAILURE() << "counts differ at " << unit << " " << day;
      }
    }
  }
  for (const auto& [unit, days] : manifest_counts) {
    EXPECT_EQ(days.size(), r.counts[unit].size()) << unit;
  }
  EXPECT_EQ(mismatches, 0);
  std::printf("counts: %zu units, %lld unit-days\n", r.counts.size(),
              static_cast<long long>(cells));

  EXPECT_EQ(r.out_of_order, 0) << "records are not in order of record time";
  EXPECT_EQ(r.e3e4_minor_in_main_urban, 0);
  EXPECT_GT(r.amended, 0);
  EXPECT_GT(r.duplicates, 0);
}

// Not independent: the worker's PartitionProcessor (processors/), replaying
// the file in order, one processor per topic, must agree with the manifest.
TEST_F(GeneratorTest, PartitionProcessorAgreesWithTheManifest) {
  const std::string& bytes = Full().bytes;
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  PartitionProcessor incidents(EventKind::kIncident, *regions_, ProcessorOptions{});
  PartitionProcessor violations(EventKind::kViolation, *regions_, ProcessorOptions{});
  std::map<std::string, int64_t> by_reason;
  std::map<std::string, std::string> rejects;
  v1::LoggedRecord rec;
  bool clean_eof = false;
  while (google::protobuf::util::ParseDelimitedFromZeroCopyStream(&rec, &in, &clean_eof)) {
    PartitionProcessor& p = rec.kind() == v1::EVENT_KIND_INCIDENT ? incidents : violations;
    ProcessResult r = p.Process(rec.value(), absl::FromUnixMillis(rec.timestamp_unix_ms()));
    if (r.outcome == Outcome::kRejected) {
      const std::string reason(RejectReasonName(r.reason));
      ++by_reason[reason];
      rejects[rec.key()] = reason;
    }
  }
  const json& m = Full().manifest;
  EXPECT_EQ(m["expected"]["counted"], incidents.tally().counted + violations.tally().counted);
  EXPECT_EQ(m["expected"]["amended"], incidents.tally().amended + violations.tally().amended);
  EXPECT_EQ(m["expected"]["duplicates"],
            incidents.tally().duplicates + violations.tally().duplicates);
  EXPECT_EQ(m["expected"]["rejected"], incidents.tally().rejected + violations.tally().rejected);
  for (const auto& [key, reason] : rejects) {
    EXPECT_EQ(m["rejects"].value(key, std::string("(counted)")), reason) << key;
  }
  // Buckets, summed over both processors, non-zero metrics only.
  std::map<std::string, std::map<std::string, std::map<std::string, int64_t>>> counts;
  const absl::TimeZone tz = absl::FixedTimeZone(8 * 3600);
  for (const PartitionProcessor* p : {&incidents, &violations}) {
    p->ForEachBucket([&](const BucketKey& key, const MetricValues& values) {
      if (key.width != BucketWidth::kDay) return;
      const std::string unit = regions_->at(key.region_index).code;
      const std::string day =
          absl::FormatCivilTime(absl::ToCivilDay(absl::FromUnixSeconds(key.start_unix_s), tz));
      for (Metric metric : AllMetrics()) {
        if (At(values, metric) != 0)
          counts[unit][day][std::string(MetricName(metric))] += At(values, metric);
      }
    });
  }
  int64_t mismatches = 0;
  for (const auto& [unit, days] : m["counts"].items()) {
    for (const auto& [day, values] : days.items()) {
      std::map<std::string, int64_t> expected;
      for (const auto& [metric, v] : values.items()) expected[metric] = v.get<int64_t>();
      if (counts[unit][day] != expected && ++mismatches <= 5) {
        ADD_FAILURE() << "processor and manifest differ at " << unit << " " << day;
      }
      counts[unit].erase(day);
    }
  }
  for (const auto& [unit, days] : counts) EXPECT_TRUE(days.empty()) << "extra buckets in " << unit;
  EXPECT_EQ(mismatches, 0);
}

TEST_F(GeneratorTest, EveryReasonIsPresentAndTheScaleIsRight) {
  const json& m = Full().manifest;
  EXPECT_GE(m["produced"]["total"].get<int64_t>(), 300000);
  const json& by_reason = m["expected"]["rejected_by_reason"];
  for (const char* reason :
       {"not_protobuf", "truncated", "empty_id", "unknown_region", "negative_count", "absurd_count",
        "alcohol_contradiction", "future_time", "reported_before_occurred", "missing_time",
        "handling_contradiction", "main_urban_mismatch"}) {
    EXPECT_GE(by_reason.value(reason, int64_t{0}), 3) << reason;
  }
  for (const auto& [reason, w] : scenario_->bad_reasons) {
    EXPECT_GE(by_reason.value(std::string(RejectReasonName(reason)), int64_t{0}),
              scenario_->bad_min_per_reason)
        << RejectReasonName(reason);
  }
  // About 0.5% bad, 1% duplicates.
  const double total = m["produced"]["total"].get<double>();
  EXPECT_NEAR(m["expected"]["rejected"].get<double>() / total, 0.005, 0.002);
  EXPECT_NEAR(m["expected"]["duplicates"].get<double>() / total, 0.01, 0.003);
}

TEST_F(GeneratorTest, NothingAfterNotAfter) {
  GeneratorOptions o = Options(3, -1);
  const absl::TimeZone tz = absl::FixedTimeZone(8 * 3600);
  o.not_after = absl::FromCivil(absl::CivilSecond(2025, 3, 10, 12, 0, 0), tz);
  absl::StatusOr<std::unique_ptr<Generator>> gen = Generator::Create(o, *regions_);
  ASSERT_TRUE(gen.ok()) << gen.status();
  // An in-memory writer: records the highest instant seen.
  class MaxWriter : public EventWriter {
   public:
    absl::Status Write(v1::EventKind kind, std::string_view, std::string_view value,
                       int64_t ts) override {
      max_ts = std::max(max_ts, ts);
      if (kind == v1::EVENT_KIND_INCIDENT) {
        v1::IncidentEvent e;
        if (e.ParseFromString(std::string(value)) && e.occurred_at().seconds() < 4000000000) {
          max_instant =
              std::max({max_instant, e.occurred_at().seconds(), e.reported_at().seconds()});
        }
      }
      return absl::OkStatus();
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    int64_t max_ts = 0;
    int64_t max_instant = 0;
  } writer;
  std::atomic<bool> stop{false};
  ASSERT_TRUE((*gen)->Run(writer, stop).ok());
  EXPECT_LE(writer.max_ts, absl::ToUnixMillis(o.not_after));
  EXPECT_LE(writer.max_instant, absl::ToUnixSeconds(o.not_after));
  // The totals are still exact: the period is squeezed, not cut.
  const Manifest& m = (*gen)->manifest();
  EXPECT_EQ(m.PeriodSum(1, Metric::kAccidents), scenario_->periods[1].totals.ordinary);
  EXPECT_EQ(m.PeriodSum(1, Metric::kKeyViolations), 139000);
}

TEST_F(GeneratorTest, LiveModeProducesCurrentEventsUntilStopped) {
  GeneratorOptions o = Options(4, 1000);
  o.live_rate = 2000;
  absl::StatusOr<std::unique_ptr<Generator>> gen = Generator::Create(o, *regions_);
  ASSERT_TRUE(gen.ok()) << gen.status();
  class CountingWriter : public EventWriter {
   public:
    absl::Status Write(v1::EventKind, std::string_view, std::string_view, int64_t ts) override {
      ++n;
      last_ts = ts;
      return absl::OkStatus();
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    int64_t n = 0;
    int64_t last_ts = 0;
  } writer;
  std::atomic<bool> stop{false};
  ASSERT_TRUE((*gen)->Run(writer, stop).ok());
  EXPECT_EQ(writer.n, 1000);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop = true;
  });
  const absl::Time before = absl::Now();
  absl::Status st = (*gen)->RunLive(writer, stop);
  stopper.join();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_GT(writer.n, 1100);
  EXPECT_GE(writer.last_ts, absl::ToUnixMillis(before));
  const Manifest m = (*gen)->ManifestSnapshot();
  EXPECT_EQ(m.tally().total(), writer.n);
  EXPECT_EQ(m.tally().total(), (*gen)->emitted());
  // Today's local day has counts.
  const std::string today =
      absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600)));
  const std::string yesterday =
      absl::FormatCivilTime(absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600)) - 1);
  bool found = false;
  for (const auto& [unit, days] : m.counts()) {
    for (const auto& [day, values] : days) {
      const std::string d = absl::FormatCivilTime(day);
      found |= d == today || d == yesterday;
    }
  }
  EXPECT_TRUE(found);
}

// ---------------------------------------------------------------------------
// Scenario loading and moving.

TEST(ScenarioTest, MovesToThisYearThroughADay) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->MovePeriods(2026, absl::CivilDay(2026, 11, 28)).ok());
  ASSERT_EQ(s->periods.size(), 2u);
  EXPECT_EQ(s->periods[0].label, "2025");
  EXPECT_EQ(s->periods[0].start, absl::CivilDay(2025, 1, 1));
  EXPECT_EQ(s->periods[0].end, absl::CivilDay(2025, 11, 29));
  EXPECT_EQ(s->periods[1].label, "2026");
  EXPECT_EQ(s->periods[1].end, absl::CivilDay(2026, 11, 29));
}

TEST(ScenarioTest, LeapDayThroughMapsToTheSameDayLastYear) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
  ASSERT_TRUE(s.ok()) << s.status();
  // Through 2028-02-28: 2028's period ends before the 29th, 2027's after the 28th.
  ASSERT_TRUE(s->MovePeriods(std::nullopt, absl::CivilDay(2028, 2, 28)).ok());
  EXPECT_EQ(s->periods[1].end, absl::CivilDay(2028, 2, 29));
  EXPECT_EQ(s->periods[0].end, absl::CivilDay(2027, 3, 1));
  // Through 2028-02-29: the whole of February in both years.
  absl::StatusOr<Scenario> s2 = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
  ASSERT_TRUE(s2.ok());
  ASSERT_TRUE(s2->MovePeriods(2028, absl::CivilDay(2028, 2, 29)).ok());
  EXPECT_EQ(s2->periods[1].end, absl::CivilDay(2028, 3, 1));
  EXPECT_EQ(s2->periods[0].end, absl::CivilDay(2027, 3, 1));
  EXPECT_EQ(s2->periods[0].start, absl::CivilDay(2027, 1, 1));
}

TEST(ScenarioTest, RefusesThroughOutsideThisYear) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
  ASSERT_TRUE(s.ok());
  absl::Status st = s->MovePeriods(2025, absl::CivilDay(2026, 3, 1));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("--through"));
}

TEST(ScenarioTest, UnknownKeyAndWrongSumAreNamed) {
  std::string text = ReadFile(DefaultScenarioPath("binzhou-2025"));
  {
    std::string bad = text;
    bad.replace(bad.find("duplicate_share"), 15, "duplicate_shar");
    absl::StatusOr<Scenario> s = LoadScenarioString(bad, "x.toml");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("mix.duplicate_shar"));
  }
  {
    std::string bad = text;
    bad.replace(bad.find("key_violations = 139000"), 23, "key_violations = 139001");
    absl::StatusOr<Scenario> s = LoadScenarioString(bad, "x.toml");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("key_violations"));
  }
}

// Periods that meet on 29 February still meet after --this-year moves them
// to a common year (the start became 28 February: the periods overlapped).
TEST(ScenarioTest, PeriodsMeetingOnTheLeapDayStillMeetWhenMoved) {
  std::string text = ReadFile(DefaultScenarioPath("binzhou-2025"));
  text.replace(text.find("end = 2024-09-01"), 16, "end = 2024-02-29");
  text.replace(text.find("start = 2025-01-01"), 18, "start = 2024-02-29");
  absl::StatusOr<Scenario> s = LoadScenarioString(text, "x.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->MovePeriods(2025, std::nullopt).ok());
  ASSERT_EQ(s->periods.size(), 2u);
  EXPECT_EQ(s->periods[0].start, absl::CivilDay(2025, 1, 1));
  EXPECT_EQ(s->periods[0].end, absl::CivilDay(2025, 3, 1));
  EXPECT_EQ(s->periods[1].start, absl::CivilDay(2025, 3, 1));
}

// --scale: every total of every period times the factor, so the manifest's
// figures are the unscaled ones times the factor and its changes the same.
// Except rural_accidents: the scenario sets no total for it (each accident's
// road class is drawn by weight), so it only comes out about twice as many.
TEST_F(GeneratorTest, ScaleMultipliesEveryFigureAndKeepsTheChanges) {
  Scenario scaled = *scenario_;
  ASSERT_TRUE(scaled.Scale(2).ok());
  const Generated g = Generate(1, -1, "scale2", &scaled);
  std::remove(g.path.c_str());
  EXPECT_NEAR(static_cast<double>(g.history) / static_cast<double>(Full().history), 2.0, 0.01);
  const json& twice = g.manifest;
  const json& one = Full().manifest["summary"];
  for (const auto& [period, figures] : one["by_period"].items()) {
    for (const auto& [metric, value] : figures.items()) {
      const int64_t scaled_value = twice["summary"]["by_period"][period][metric].get<int64_t>();
      if (metric == "rural_accidents") {
        EXPECT_NEAR(static_cast<double>(scaled_value) / value.get<double>(), 2.0, 0.2) << period;
        continue;
      }
      EXPECT_EQ(scaled_value, 2 * value.get<int64_t>()) << period << " " << metric;
    }
  }
  for (const auto& [metric, pct] : one["change_pct"].items()) {
    if (metric != "rural_accidents") {
      EXPECT_EQ(twice["summary"]["change_pct"][metric], pct);
    }
  }
}

TEST(ScenarioTest, ScaleOutOfRangeOrPastTheCountLimitIsRefusedAndChangesNothing) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
  ASSERT_TRUE(s.ok()) << s.status();
  const int64_t speeding = s->periods.back().totals.speeding;
  for (int64_t factor : {int64_t{0}, int64_t{-2}, Scenario::kMaxScale + 1}) {
    absl::Status st = s->Scale(factor);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << factor;
    EXPECT_THAT(std::string(st.message()), HasSubstr("--scale")) << factor;
  }
  std::string text = ReadFile(DefaultScenarioPath("binzhou-2025"));
  text.replace(text.find("other = 5000"), 12, "other = 100000000");
  absl::StatusOr<Scenario> big = LoadScenarioString(text, "x.toml");
  ASSERT_TRUE(big.ok()) << big.status();
  const Scenario before = *big;
  absl::Status st = big->Scale(11);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("over 1000000000"));
  for (size_t i = 0; i < before.periods.size(); ++i) {
    EXPECT_EQ(big->periods[i].totals.ordinary, before.periods[i].totals.ordinary);
    EXPECT_EQ(big->periods[i].totals.other_violations, before.periods[i].totals.other_violations);
  }
  EXPECT_EQ(s->periods.back().totals.speeding, speeding);
}

// scenario_fuzzer: totals near INT64_MAX overflowed the sums the loader
// checks (key_violations, e3e4 accidents).
TEST(ScenarioTest, HugeTotalIsRefused) {
  std::string text = ReadFile(DefaultScenarioPath("binzhou-2025"));
  text.replace(text.find("speeding = "), 11, "speeding = 9223372036854775807 #");
  absl::StatusOr<Scenario> s = LoadScenarioString(text, "x.toml");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              AllOf(HasSubstr("violations.speeding"), HasSubstr("<= 1000000000")));
}

// scenario_fuzzer: a float where a count belongs (converting 3e30 to int64
// was undefined behaviour, which the sanitizer build stops at).
TEST(ScenarioTest, FloatCountIsRefused) {
  std::string text = ReadFile(DefaultScenarioPath("binzhou-2025"));
  text.replace(text.find("speeding = "), 11, "speeding = 3e30 #");
  absl::StatusOr<Scenario> s = LoadScenarioString(text, "x.toml");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()),
              AllOf(HasSubstr("violations.speeding"), HasSubstr("expected an integer")));
}

TEST(ScenarioTest, GeneratorRefusesARegionTableUnitMissingFromTheScenario) {
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(SourcePath("deploy/config/regions/binzhou.toml"));
  ASSERT_TRUE(regions.ok());
  absl::StatusOr<Scenario> s = LoadScenarioFile(DefaultScenarioPath("binzhou-2025"));
  ASSERT_TRUE(s.ok());
  s->regions.pop_back();  // 371673
  GeneratorOptions o;
  o.scenario = *s;
  absl::StatusOr<std::unique_ptr<Generator>> gen = Generator::Create(o, *regions);
  EXPECT_EQ(gen.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(gen.status().message()), HasSubstr("371673"));
}

}  // namespace
}  // namespace roadpulse
