#include "processors/partition_processor.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;
using testing::Shanghai;

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) {
  ts->set_seconds(absl::ToUnixSeconds(t));
  ts->set_nanos(0);
}

// 2025-03-01 10:00 China time.
const absl::Time kMorning = absl::FromCivil(absl::CivilSecond(2025, 3, 1, 10, 0, 0), Shanghai());
// Record timestamps well after every event.
const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2025, 9, 1, 0, 0, 0), Shanghai());

v1::IncidentEvent Accident(std::string id, uint32_t revision, absl::Time occurred) {
  v1::IncidentEvent e;
  e.set_id(std::move(id));
  e.set_revision(revision);
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(occurred + absl::Minutes(30), e.mutable_reported_at());
  e.mutable_location()->set_region_code("371621");  // 惠民县
  e.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
  e.set_severity(v1::SEVERITY_GENERAL);
  e.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
  return e;
}

v1::ViolationEvent Violation(std::string id, v1::ViolationType type, absl::Time occurred) {
  v1::ViolationEvent e;
  e.set_id(std::move(id));
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(occurred, e.mutable_reported_at());
  e.mutable_location()->set_region_code("371602");
  e.set_type(type);
  e.set_vehicle(v1::VEHICLE_CATEGORY_CAR);
  return e;
}

class PartitionProcessorTest : public ::testing::Test {
 protected:
  PartitionProcessorTest()
      : incidents_(EventKind::kIncident, Binzhou(), ProcessorOptions()),
        violations_(EventKind::kViolation, Binzhou(), ProcessorOptions()) {}

  ProcessResult Feed(const v1::IncidentEvent& e) {
    return incidents_.Process(e.SerializeAsString(), kNow);
  }
  ProcessResult Feed(const v1::ViolationEvent& e) {
    return violations_.Process(e.SerializeAsString(), kNow);
  }
  // Value of `metric` for `region` on the local day `day`, in `p`.
  static int64_t Value(const PartitionProcessor& p, std::string_view region, absl::CivilDay day,
                       Metric metric) {
    const BucketKey key{Binzhou().Find(region)->index,
                        absl::ToUnixSeconds(absl::FromCivil(day, Shanghai()))};
    const std::optional<MetricValues> values = p.FindBucket(key);
    return values.has_value() ? At(*values, metric) : 0;
  }
  static int64_t Total(const PartitionProcessor& p, Metric metric) {
    int64_t sum = 0;
    p.ForEachBucket([&](const BucketKey& key, const MetricValues& values) {
      if (key.width == BucketWidth::kDay) sum += At(values, metric);
    });
    return sum;
  }

  PartitionProcessor incidents_;
  PartitionProcessor violations_;
};

TEST_F(PartitionProcessorTest, CountsAnOrdinaryAccident) {
  v1::IncidentEvent e = Accident("A1", 1, kMorning);
  e.set_deaths(1);
  e.set_injuries(2);
  e.set_property_loss_yuan(5000);
  e.set_alcohol_involved(true);
  EXPECT_EQ(Feed(e).outcome, Outcome::kCounted);
  const absl::CivilDay day(2025, 3, 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kAccidents), 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kDeaths), 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kInjuries), 2);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kPropertyLossYuan), 5000);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kAlcoholAccidents), 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kE3E4Accidents), 0);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kMinorAccidents), 0);
  EXPECT_EQ(incidents_.dirty_count(), 3u);  // its day, hour and minute buckets
}

// rural_accidents: ordinary accidents on township and village roads; an
// amendment that moves the accident to another road class moves the count.
TEST_F(PartitionProcessorTest, RuralAccidentsAreOrdinaryOnesOnVillageRoads) {
  v1::IncidentEvent village = Accident("R1", 1, kMorning);
  village.mutable_location()->set_road_class(v1::ROAD_CLASS_TOWNSHIP_VILLAGE);
  v1::IncidentEvent county = Accident("R2", 1, kMorning);
  county.mutable_location()->set_road_class(v1::ROAD_CLASS_COUNTY);
  v1::IncidentEvent minor = Accident("R3", 1, kMorning);  // not under the ordinary procedure
  minor.mutable_location()->set_road_class(v1::ROAD_CLASS_TOWNSHIP_VILLAGE);
  minor.set_handling(v1::HANDLING_SIMPLE_PROCEDURE);
  for (const auto* e : {&village, &county, &minor}) {
    EXPECT_EQ(Feed(*e).outcome, Outcome::kCounted) << e->id();
  }
  EXPECT_EQ(Total(incidents_, Metric::kAccidents), 2);
  EXPECT_EQ(Total(incidents_, Metric::kRuralAccidents), 1);
  v1::IncidentEvent moved = county;  // revision 2: it was on a village road
  moved.set_revision(2);
  moved.mutable_location()->set_road_class(v1::ROAD_CLASS_TOWNSHIP_VILLAGE);
  EXPECT_EQ(Feed(moved).outcome, Outcome::kAmended);
  EXPECT_EQ(Total(incidents_, Metric::kRuralAccidents), 2);
  village.set_revision(2);
  village.mutable_location()->set_road_class(v1::ROAD_CLASS_NATIONAL);
  EXPECT_EQ(Feed(village).outcome, Outcome::kAmended);
  EXPECT_EQ(Total(incidents_, Metric::kRuralAccidents), 1);
  EXPECT_EQ(Total(incidents_, Metric::kAccidents), 2);
}

TEST_F(PartitionProcessorTest, SubsetsE3E4VideoAndMinor) {
  v1::IncidentEvent e3 = Accident("E3", 1, kMorning);
  e3.add_vehicles(v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE);
  e3.set_injuries(3);
  v1::IncidentEvent e4 = Accident("E4", 1, kMorning);
  e4.add_vehicles(v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_QUADRICYCLE);
  e4.set_deaths(1);
  v1::IncidentEvent ebike = Accident("EB", 1, kMorning);  // an electric bicycle is not 电三电四
  ebike.add_vehicles(v1::VEHICLE_CATEGORY_ELECTRIC_BICYCLE);
  v1::IncidentEvent video = Accident("V", 1, kMorning);
  video.set_handling(v1::HANDLING_VIDEO_QUICK);
  video.set_severity(v1::SEVERITY_MINOR);
  v1::IncidentEvent simple = Accident("S", 1, kMorning);
  simple.set_handling(v1::HANDLING_SIMPLE_PROCEDURE);
  simple.add_vehicles(v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE);
  for (const auto* e : {&e3, &e4, &ebike, &video, &simple}) {
    EXPECT_EQ(Feed(*e).outcome, Outcome::kCounted) << e->id();
  }
  EXPECT_EQ(Total(incidents_, Metric::kAccidents), 3);
  EXPECT_EQ(Total(incidents_, Metric::kE3E4Accidents), 2);  // simple procedure is not counted
  EXPECT_EQ(Total(incidents_, Metric::kE3E4Deaths), 1);
  EXPECT_EQ(Total(incidents_, Metric::kE3E4Injuries), 3);
  EXPECT_EQ(Total(incidents_, Metric::kMinorAccidents), 2);
  EXPECT_EQ(Total(incidents_, Metric::kVideoHandled), 1);
}

TEST_F(PartitionProcessorTest, AmendmentMovesCountsNotDoubles) {
  v1::IncidentEvent first = Accident("A1", 1, kMorning);
  first.set_injuries(2);
  EXPECT_EQ(Feed(first).outcome, Outcome::kCounted);
  // Five days later one of the injured dies: revision 2 carries the new numbers.
  v1::IncidentEvent amended = first;
  amended.set_revision(2);
  amended.set_deaths(1);
  amended.set_injuries(1);
  SetTime(kMorning + absl::Hours(24 * 5), amended.mutable_reported_at());
  EXPECT_EQ(Feed(amended).outcome, Outcome::kAmended);
  const absl::CivilDay day(2025, 3, 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kAccidents), 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kDeaths), 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kInjuries), 1);
  // Nothing lands on the amendment's day.
  EXPECT_EQ(Value(incidents_, "371621", absl::CivilDay(2025, 3, 6), Metric::kDeaths), 0);
  // The old revision arriving again changes nothing.
  EXPECT_EQ(Feed(first).outcome, Outcome::kDuplicate);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kDeaths), 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kInjuries), 1);
  EXPECT_EQ(incidents_.tally().counted, 1);
  EXPECT_EQ(incidents_.tally().amended, 1);
  EXPECT_EQ(incidents_.tally().duplicates, 1);
  EXPECT_TRUE(incidents_.tally().Balanced());
}

TEST_F(PartitionProcessorTest, AmendmentThatCorrectsTheRegionMovesTheBucket) {
  v1::IncidentEvent first = Accident("A1", 1, kMorning);
  first.set_injuries(1);
  ASSERT_EQ(Feed(first).outcome, Outcome::kCounted);
  v1::IncidentEvent fixed = first;
  fixed.set_revision(2);
  fixed.mutable_location()->set_region_code("371622");
  ASSERT_EQ(Feed(fixed).outcome, Outcome::kAmended);
  const absl::CivilDay day(2025, 3, 1);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kAccidents), 0);
  EXPECT_EQ(Value(incidents_, "371621", day, Metric::kInjuries), 0);
  EXPECT_EQ(Value(incidents_, "371622", day, Metric::kAccidents), 1);
  EXPECT_EQ(Value(incidents_, "371622", day, Metric::kInjuries), 1);
  // Both regions' day, hour and minute buckets are republished.
  EXPECT_EQ(incidents_.dirty_count(), 6u);
}

TEST_F(PartitionProcessorTest, ExactDuplicateCountsOnce) {
  v1::IncidentEvent e = Accident("A1", 1, kMorning);
  e.set_injuries(1);
  EXPECT_EQ(Feed(e).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(e).outcome, Outcome::kDuplicate);
  EXPECT_EQ(Total(incidents_, Metric::kAccidents), 1);
  EXPECT_EQ(Total(incidents_, Metric::kInjuries), 1);

  v1::ViolationEvent v = Violation("V1", v1::VIOLATION_TYPE_SPEEDING, kMorning);
  EXPECT_EQ(Feed(v).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(v).outcome, Outcome::kDuplicate);
  EXPECT_EQ(Total(violations_, Metric::kSpeeding), 1);
  EXPECT_EQ(Total(violations_, Metric::kKeyViolations), 1);
}

TEST_F(PartitionProcessorTest, DayBoundaryIsMidnightChinaTime) {
  absl::TimeZone utc = absl::UTCTimeZone();
  // 15:59:59 UTC is 23:59:59 in Shanghai; 16:00:00 UTC is the next day's 00:00.
  const absl::Time before = absl::FromCivil(absl::CivilSecond(2025, 3, 1, 15, 59, 59), utc);
  const absl::Time after = absl::FromCivil(absl::CivilSecond(2025, 3, 1, 16, 0, 0), utc);
  ASSERT_EQ(Feed(Violation("late", v1::VIOLATION_TYPE_FATIGUE, before)).outcome, Outcome::kCounted);
  ASSERT_EQ(Feed(Violation("early", v1::VIOLATION_TYPE_FATIGUE, after)).outcome, Outcome::kCounted);
  EXPECT_EQ(Value(violations_, "371602", absl::CivilDay(2025, 3, 1), Metric::kFatigue), 1);
  EXPECT_EQ(Value(violations_, "371602", absl::CivilDay(2025, 3, 2), Metric::kFatigue), 1);
  // Going back to the earlier day after the cache moved on still lands right.
  ASSERT_EQ(Feed(Violation("late2", v1::VIOLATION_TYPE_FATIGUE, before - absl::Hours(1))).outcome,
            Outcome::kCounted);
  EXPECT_EQ(Value(violations_, "371602", absl::CivilDay(2025, 3, 1), Metric::kFatigue), 2);
}

TEST_F(PartitionProcessorTest, AlcoholClassifiedByBloodAlcohol) {
  auto with_bac = [](std::string id, v1::ViolationType type, double bac) {
    v1::ViolationEvent v = Violation(std::move(id), type, kMorning);
    v.set_blood_alcohol_mg_100ml(bac);
    return v;
  };
  EXPECT_EQ(Feed(with_bac("a", v1::VIOLATION_TYPE_ALCOHOL, 20.0)).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(with_bac("b", v1::VIOLATION_TYPE_ALCOHOL, 79.9)).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(with_bac("c", v1::VIOLATION_TYPE_ALCOHOL, 80.0)).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(with_bac("d", v1::VIOLATION_TYPE_DRINK_DRIVING, 45)).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(with_bac("e", v1::VIOLATION_TYPE_DRUNK_DRIVING, 150)).outcome, Outcome::kCounted);
  EXPECT_EQ(Feed(Violation("f", v1::VIOLATION_TYPE_DRUNK_DRIVING, kMorning)).outcome,
            Outcome::kCounted);  // no measurement: counted by its stated type
  EXPECT_EQ(Feed(Violation("g", v1::VIOLATION_TYPE_OTHER, kMorning)).outcome, Outcome::kCounted);
  EXPECT_EQ(Total(violations_, Metric::kDrinkDriving), 3);
  EXPECT_EQ(Total(violations_, Metric::kDrunkDriving), 3);
  EXPECT_EQ(Total(violations_, Metric::kOtherViolations), 1);
  EXPECT_EQ(Total(violations_, Metric::kKeyViolations), 6);
}

struct RejectCase {
  std::string name;
  RejectReason reason;
  std::function<std::string()> payload;
};

class IncidentRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(IncidentRejectTest, RejectsWithReasonAndMovesNothing) {
  const RejectCase& c = GetParam();
  PartitionProcessor p(c.name.rfind("v_", 0) == 0 ? EventKind::kViolation : EventKind::kIncident,
                       Binzhou(), ProcessorOptions());
  ProcessResult r = p.Process(c.payload(), kNow);
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(RejectReasonName(r.reason), RejectReasonName(c.reason)) << r.detail;
  EXPECT_FALSE(r.detail.empty());
  for (BucketWidth w : {BucketWidth::kDay, BucketWidth::kHour, BucketWidth::kMinute}) {
    EXPECT_EQ(p.bucket_count(w), 0u);
  }
  EXPECT_EQ(p.dirty_count(), 0u);
  EXPECT_EQ(p.tally().rejected, 1);
  EXPECT_TRUE(p.tally().Balanced());
}

std::string Serialized(const google::protobuf::Message& m) { return m.SerializeAsString(); }

INSTANTIATE_TEST_SUITE_P(
    Cases, IncidentRejectTest,
    ::testing::Values(
        RejectCase{"NotProtobuf", RejectReason::kNotProtobuf,
                   [] { return std::string("this is not protobuf \xff\xff", 23); }},
        RejectCase{"Truncated", RejectReason::kTruncated,
                   [] {
                     std::string s = Serialized(Accident("A-long-identifier-0001", 1, kMorning));
                     return s.substr(0, 10);  // inside the id field
                   }},
        RejectCase{"EmptyId", RejectReason::kEmptyId,
                   [] { return Serialized(Accident("", 1, kMorning)); }},
        RejectCase{"MissingTime", RejectReason::kMissingTime,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.clear_occurred_at();
                     return Serialized(e);
                   }},
        // Outside google.protobuf.Timestamp's range (event_fuzzer: the minute and
        // hour arithmetic on such instants overflowed int64).
        RejectCase{"OccurredAtInt64Min", RejectReason::kMissingTime,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.mutable_occurred_at()->set_seconds(INT64_MIN);
                     return Serialized(e);
                   }},
        RejectCase{"NegativeNanos", RejectReason::kMissingTime,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.mutable_occurred_at()->set_nanos(-1);
                     return Serialized(e);
                   }},
        RejectCase{"v_OccurredBeforeYear1", RejectReason::kMissingTime,
                   [] {
                     v1::ViolationEvent v = Violation("V", v1::VIOLATION_TYPE_SPEEDING, kMorning);
                     v.mutable_occurred_at()->set_seconds(-62135596801);
                     return Serialized(v);
                   }},
        RejectCase{"v_ReportedAfterYear9999", RejectReason::kMissingTime,
                   [] {
                     v1::ViolationEvent v = Violation("V", v1::VIOLATION_TYPE_SPEEDING, kMorning);
                     v.mutable_reported_at()->set_seconds(253402300800);
                     return Serialized(v);
                   }},
        RejectCase{"UnknownRegion", RejectReason::kUnknownRegion,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.mutable_location()->set_region_code("999999");
                     return Serialized(e);
                   }},
        RejectCase{"TownshipOfAnotherCounty", RejectReason::kUnknownRegion,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.mutable_location()->set_township_code("371602001");
                     return Serialized(e);
                   }},
        RejectCase{"MainUrbanMismatch", RejectReason::kMainUrbanMismatch,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);  // 惠民县
                     e.mutable_location()->set_main_urban(true);
                     return Serialized(e);
                   }},
        RejectCase{"NegativeInjuries", RejectReason::kNegativeCount,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.set_injuries(-1);
                     return Serialized(e);
                   }},
        RejectCase{"AbsurdDeaths", RejectReason::kAbsurdCount,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.set_deaths(100000);
                     return Serialized(e);
                   }},
        RejectCase{"NoHandling", RejectReason::kMissingField,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.set_handling(v1::HANDLING_UNSPECIFIED);
                     return Serialized(e);
                   }},
        RejectCase{"NoSeverity", RejectReason::kMissingField,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.set_severity(v1::SEVERITY_UNSPECIFIED);
                     return Serialized(e);
                   }},
        RejectCase{"DeathSettledOverVideo", RejectReason::kHandlingContradiction,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     e.set_handling(v1::HANDLING_VIDEO_QUICK);
                     e.set_deaths(1);
                     return Serialized(e);
                   }},
        RejectCase{"FarFuture", RejectReason::kFutureTime,
                   [] {
                     const absl::Time t = absl::FromCivil(absl::CivilSecond(2099, 1, 1, 0, 0, 0),
                                                          absl::UTCTimeZone());
                     return Serialized(Accident("A", 1, t));
                   }},
        RejectCase{"ReportedBeforeOccurred", RejectReason::kReportedBeforeOccurred,
                   [] {
                     v1::IncidentEvent e = Accident("A", 1, kMorning);
                     SetTime(kMorning - absl::Hours(1), e.mutable_reported_at());
                     return Serialized(e);
                   }},
        RejectCase{"v_DrunkWithLowAlcohol", RejectReason::kAlcoholContradiction,
                   [] {
                     v1::ViolationEvent v =
                         Violation("V", v1::VIOLATION_TYPE_DRUNK_DRIVING, kMorning);
                     v.set_blood_alcohol_mg_100ml(30);
                     return Serialized(v);
                   }},
        RejectCase{"v_DrinkWithDrunkAlcohol", RejectReason::kAlcoholContradiction,
                   [] {
                     v1::ViolationEvent v =
                         Violation("V", v1::VIOLATION_TYPE_DRINK_DRIVING, kMorning);
                     v.set_blood_alcohol_mg_100ml(95);
                     return Serialized(v);
                   }},
        RejectCase{"v_AlcoholWithoutMeasurement", RejectReason::kMissingBloodAlcohol,
                   [] { return Serialized(Violation("V", v1::VIOLATION_TYPE_ALCOHOL, kMorning)); }},
        RejectCase{"v_NegativeAlcohol", RejectReason::kNegativeCount,
                   [] {
                     v1::ViolationEvent v = Violation("V", v1::VIOLATION_TYPE_ALCOHOL, kMorning);
                     v.set_blood_alcohol_mg_100ml(-5);
                     return Serialized(v);
                   }},
        RejectCase{
            "v_NoType", RejectReason::kMissingField,
            [] { return Serialized(Violation("V", v1::VIOLATION_TYPE_UNSPECIFIED, kMorning)); }},
        RejectCase{"v_EmptyId", RejectReason::kEmptyId,
                   [] { return Serialized(Violation("", v1::VIOLATION_TYPE_SPEEDING, kMorning)); }},
        RejectCase{"v_NotProtobuf", RejectReason::kNotProtobuf,
                   [] { return std::string("\x07\x07garbage"); }},
        // A record without a value: no event, not one without an id.
        RejectCase{"NoValue", RejectReason::kNotProtobuf, [] { return std::string(); }},
        RejectCase{"v_NoValue", RejectReason::kNotProtobuf, [] { return std::string(); }}),
    [](const ::testing::TestParamInfo<RejectCase>& info) { return info.param.name; });

// The first and last instants a Timestamp can hold still count (without a
// record time, nothing bounds the future).
TEST_F(PartitionProcessorTest, CountsAtBothEndsOfTheTimestampRange) {
  PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
  v1::ViolationEvent first = Violation("first", v1::VIOLATION_TYPE_SPEEDING, kMorning);
  first.mutable_occurred_at()->set_seconds(-62135596800);  // 0001-01-01T00:00:00Z
  first.mutable_reported_at()->set_seconds(-62135596800);
  v1::ViolationEvent last = Violation("last", v1::VIOLATION_TYPE_SPEEDING, kMorning);
  last.mutable_occurred_at()->set_seconds(253402300799);  // 9999-12-31T23:59:59Z
  last.mutable_occurred_at()->set_nanos(999999999);
  *last.mutable_reported_at() = last.occurred_at();
  EXPECT_EQ(p.Process(first.SerializeAsString(), absl::InfinitePast()).outcome, Outcome::kCounted);
  EXPECT_EQ(p.Process(last.SerializeAsString(), absl::InfinitePast()).outcome, Outcome::kCounted);
  EXPECT_EQ(Total(p, Metric::kSpeeding), 2);
  EXPECT_TRUE(p.tally().Balanced());
}

// Times within about 292 years of 1970 are converted through int64
// nanoseconds, the rest otherwise (ToTime in partition_processor.cc): the two
// must agree at the seam, in 2262 and in 1677.
TEST_F(PartitionProcessorTest, TimesAreExactOnBothSidesOfTheNanosecondRange) {
  for (const int64_t sign : {1, -1}) {
    SCOPED_TRACE(sign);
    const int64_t inside = sign * 9223372034;  // the last second converted through nanoseconds
    const int64_t outside = sign * 9223372035;
    auto at = [](v1::ViolationEvent v, int64_t occurred_s, int32_t occurred_ns, int64_t reported_s,
                 int32_t reported_ns) {
      v.mutable_occurred_at()->set_seconds(occurred_s);
      v.mutable_occurred_at()->set_nanos(occurred_ns);
      v.mutable_reported_at()->set_seconds(reported_s);
      v.mutable_reported_at()->set_nanos(reported_ns);
      return v.SerializeAsString();
    };
    const v1::ViolationEvent v = Violation("x", v1::VIOLATION_TYPE_SPEEDING, kMorning);
    const int64_t later_s = std::max(inside, outside);
    const int64_t earlier_s = std::min(inside, outside);
    // Reported one nanosecond before it occurred, across the seam.
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    ProcessResult r = p.Process(at(v, later_s, 0, earlier_s, 999999999), absl::InfinitePast());
    EXPECT_EQ(r.reason, RejectReason::kReportedBeforeOccurred) << r.detail;
    // The same instants the right way round count, and the watermark is exact.
    r = p.Process(at(v, earlier_s, 999999999, later_s, 0), absl::InfinitePast());
    EXPECT_EQ(r.outcome, Outcome::kCounted) << r.detail;
    EXPECT_EQ(p.watermark(), absl::FromUnixSeconds(earlier_s) + absl::Nanoseconds(999999999));
    v1::ViolationEvent next = v;
    next.set_id("y");
    r = p.Process(at(next, later_s, 1, later_s, 1), absl::InfinitePast());
    EXPECT_EQ(r.outcome, Outcome::kCounted) << r.detail;
    EXPECT_EQ(p.watermark(), absl::FromUnixSeconds(later_s) + absl::Nanoseconds(1));
    EXPECT_TRUE(p.tally().Balanced());
  }
  // Where int64 nanoseconds really end: each instant is held exactly.
  const std::vector<std::pair<int64_t, int32_t>> edges = {
      {9223372036, 854775807}, {9223372036, 854775808},  {9223372036, 999999999},
      {-9223372036, 0},        {-9223372037, 145224192}, {-9223372037, 0}};
  for (const auto& [s, ns] : edges) {
    SCOPED_TRACE(absl::StrCat(s, " s ", ns, " ns"));
    v1::ViolationEvent v = Violation("z", v1::VIOLATION_TYPE_SPEEDING, kMorning);
    v.mutable_occurred_at()->set_seconds(s);
    v.mutable_occurred_at()->set_nanos(ns);
    *v.mutable_reported_at() = v.occurred_at();
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    ASSERT_EQ(p.Process(v.SerializeAsString(), absl::InfinitePast()).outcome, Outcome::kCounted);
    EXPECT_EQ(p.watermark(), absl::FromUnixSeconds(s) + absl::Nanoseconds(ns));
  }
}

TEST_F(PartitionProcessorTest, EventOlderThanHorizonIsTooLate) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 400);
  PartitionProcessor p(EventKind::kIncident, Binzhou(), options);
  ASSERT_EQ(p.Process(Accident("new", 1, kMorning).SerializeAsString(), kNow).outcome,
            Outcome::kCounted);
  // 399 days before the newest event: still inside the horizon, updates its old bucket.
  ProcessResult inside =
      p.Process(Accident("old", 1, kMorning - absl::Hours(24 * 399)).SerializeAsString(), kNow);
  EXPECT_EQ(inside.outcome, Outcome::kCounted);
  ProcessResult outside =
      p.Process(Accident("older", 1, kMorning - absl::Hours(24 * 401)).SerializeAsString(), kNow);
  EXPECT_EQ(outside.outcome, Outcome::kRejected);
  EXPECT_EQ(outside.reason, RejectReason::kTooLate);
  EXPECT_EQ(Total(p, Metric::kAccidents), 2);
  EXPECT_TRUE(p.tally().Balanced());
}

TEST_F(PartitionProcessorTest, DirtyTrackingAndRepublish) {
  ASSERT_EQ(Feed(Accident("A", 1, kMorning)).outcome, Outcome::kCounted);
  ASSERT_EQ(Feed(Accident("B", 1, kMorning + absl::Hours(24))).outcome, Outcome::kCounted);
  int seen = 0;
  incidents_.ForEachDirty([&](const BucketKey&, const MetricValues& v) {
    EXPECT_EQ(At(v, Metric::kAccidents), 1);
    ++seen;
  });
  EXPECT_EQ(seen, 6);  // a day, an hour and a minute bucket each
  incidents_.ClearDirty();
  EXPECT_EQ(incidents_.dirty_count(), 0u);
  incidents_.MarkAllDirty();
  EXPECT_EQ(incidents_.dirty_count(), 6u);
}

// Day buckets are indexed by the unit and the start's low 48 bits: a start
// that shares them but no record can name is not found.
TEST_F(PartitionProcessorTest, FindBucketTellsApartStartsThatShareTheirLow48Bits) {
  ASSERT_EQ(Feed(Accident("A", 1, kMorning)).outcome, Outcome::kCounted);
  BucketKey key{Binzhou().Find("371621")->index,
                absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2025, 3, 1), Shanghai()))};
  ASSERT_TRUE(incidents_.FindBucket(key).has_value());
  key.start_unix_s += int64_t{1} << 48;
  EXPECT_FALSE(incidents_.FindBucket(key).has_value());
}

// What ForEachDirty reports, by width.
std::map<BucketWidth, std::vector<int64_t>> DirtyViolations(const PartitionProcessor& p) {
  std::map<BucketWidth, std::vector<int64_t>> out;
  p.ForEachDirty([&](const BucketKey& key, const MetricValues& v) {
    out[key.width].push_back(At(v, Metric::kSpeeding));
  });
  return out;
}

// A fine bucket is skipped once it ended more than its keep (31 days for
// hours, 25 hours for minutes, by default) plus a day before `now`; never a
// day bucket, never one already published; and a skipped one leaves no
// tombstone when it is evicted.
TEST(SkipUnwatchableTest, SkipsOnlyFineBucketsNoWindowCanReachThatWereNeverPublished) {
  const absl::Time t0 = kMorning + absl::Minutes(7) + absl::Seconds(5);  // 10:07:05
  const absl::Time hour_end = kMorning + absl::Hours(1);
  const absl::Time minute_end = kMorning + absl::Minutes(8);
  auto speeding = [](std::string id, absl::Time at) {
    return Violation(std::move(id), v1::VIOLATION_TYPE_SPEEDING, at).SerializeAsString();
  };
  using W = BucketWidth;
  using Counts = std::map<W, std::vector<int64_t>>;
  {
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    ASSERT_EQ(p.Process(speeding("V1", t0), kNow).outcome, Outcome::kCounted);
    // The minute ended 25 h + 1 day before: skipped; the hour is still
    // within 31 days + 1 day. One second earlier neither is.
    EXPECT_EQ(p.SkipUnwatchable(minute_end + absl::Hours(49) - absl::Seconds(1)), 0u);
    EXPECT_EQ(p.SkipUnwatchable(minute_end + absl::Hours(49)), 1u);
    EXPECT_EQ(p.SkipUnwatchable(hour_end + absl::Hours(32 * 24) - absl::Seconds(1)), 0u);
    EXPECT_EQ(p.SkipUnwatchable(hour_end + absl::Hours(32 * 24)), 1u);
    EXPECT_EQ(DirtyViolations(p), (Counts{{W::kDay, {1}}}));
    EXPECT_EQ(p.dirty_count(), 1u);
    p.ClearDirty();
    // Changed again while unwatchable: skipped again, and the kept values
    // are exact.
    ASSERT_EQ(p.Process(speeding("V2", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_EQ(p.SkipUnwatchable(kNow), 2u);
    EXPECT_EQ(DirtyViolations(p), (Counts{{W::kDay, {2}}}));
    p.ClearDirty();
    EXPECT_EQ(At(*p.FindBucket(BucketKey{Binzhou().Find("371602")->index,
                                         absl::ToUnixSeconds(kMorning), W::kHour}),
                 Metric::kSpeeding),
              2);
    // Three days later the minute is evicted, never published: no tombstone.
    ASSERT_EQ(p.Process(speeding("V3", t0 + absl::Hours(72)), kNow).outcome, Outcome::kCounted);
    EXPECT_TRUE(p.tombstones().empty());
  }
  {
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    ASSERT_EQ(p.Process(speeding("V1", t0), kNow).outcome, Outcome::kCounted);
    // Live: nothing to skip, all three published.
    EXPECT_EQ(p.SkipUnwatchable(t0 + absl::Seconds(1)), 0u);
    EXPECT_EQ(DirtyViolations(p), (Counts{{W::kDay, {1}}, {W::kHour, {1}}, {W::kMinute, {1}}}));
    p.ClearDirty();
    // Published, then changed after the windows passed: still reported, so
    // the counts topic does not keep a stale value.
    ASSERT_EQ(p.Process(speeding("V2", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_EQ(p.SkipUnwatchable(kNow), 0u);
    EXPECT_EQ(DirtyViolations(p), (Counts{{W::kDay, {2}}, {W::kHour, {2}}, {W::kMinute, {2}}}));
    p.ClearDirty();
    ASSERT_EQ(p.Process(speeding("V3", t0 + absl::Hours(72)), kNow).outcome, Outcome::kCounted);
    ASSERT_EQ(p.tombstones().size(), 1u);
    EXPECT_EQ(p.tombstones()[0].width, W::kMinute);
  }
}

}  // namespace
}  // namespace roadpulse

namespace roadpulse {
namespace {

// SetWallClock against a processor without it, fed the same records: over
// random times, with the wall clock running faster than the events so that
// buckets go from watchable to unwatchable while they are kept,
// both publish exactly the same records and tombstones (what a compacted
// counts topic ends up holding), keep the same day buckets and tallies, and
// the one with the clock creates far fewer fine buckets.
TEST(SetWallClockTest, PublishesWhatAProcessorWithoutItPublishes) {
  ProcessorOptions options;
  options.minute_buckets_for = absl::Minutes(30);
  options.hour_buckets_for = absl::Hours(5);
  PartitionProcessor clocked(EventKind::kViolation, Binzhou(), options);
  PartitionProcessor plain(EventKind::kViolation, Binzhou(), options);
  std::vector<std::string> units;
  for (size_t i = 0; i < Binzhou().size() && units.size() < 3; ++i) {
    const Region& r = Binzhou().at(static_cast<uint16_t>(i));
    if (r.parent == Binzhou().city().code && !r.main_urban) units.push_back(r.code);
  }
  ASSERT_EQ(units.size(), 3u);
  using Key = std::tuple<int, uint16_t, int64_t>;  // width, unit, start
  struct Topic {
    std::map<Key, int64_t> values;  // compacted: the newest value per key
    std::vector<Key> tombstones;    // every tombstone, in order
  };
  auto publish = [](PartitionProcessor& p, absl::Time now, Topic& topic) {
    p.SkipUnwatchable(now);
    for (const BucketKey& k : p.tombstones()) {
      const Key key{static_cast<int>(k.width), k.region_index, k.start_unix_s};
      topic.values.erase(key);
      topic.tombstones.push_back(key);
    }
    p.ClearTombstones();
    p.ForEachDirty([&](const BucketKey& k, const MetricValues& v) {
      topic.values[Key{static_cast<int>(k.width), k.region_index, k.start_unix_s}] =
          At(v, Metric::kSpeeding);
    });
    p.ClearDirty();
    p.ClearSettled();
  };
  auto days = [](const PartitionProcessor& p) {
    std::map<Key, int64_t> out;
    p.ForEachBucket([&](const BucketKey& k, const MetricValues& v) {
      if (k.width == BucketWidth::kDay) {
        out[Key{0, k.region_index, k.start_unix_s}] = At(v, Metric::kSpeeding);
      }
    });
    return out;
  };
  Topic from_clocked;
  Topic from_plain;
  size_t most_fine_plain = 0;
  std::mt19937_64 rng(11);
  absl::Time t = kMorning;
  absl::Time now = kMorning;  // the wall clock
  for (int i = 0; i < 20000; ++i) {
    // A long gap now and then (longer than both fine horizons: everything
    // is evicted); the wall clock gains on the events only in the short
    // steps, so that buckets turn unwatchable while they are kept.
    const bool gap = rng() % 1000 == 0;
    const int64_t step_s = gap ? 7 * 3600 : static_cast<int64_t>(rng() % 40);
    t += absl::Seconds(step_s);
    now += absl::Seconds(gap ? step_s : 3 * step_s);
    // Up to 2 h late: late records land in buckets that exist (some of them
    // published while they were watchable) and in ones that do not.
    const absl::Time occurred = t - absl::Seconds(static_cast<int64_t>(rng() % 7200));
    v1::ViolationEvent e = Violation(absl::StrCat("v", i), v1::VIOLATION_TYPE_SPEEDING, occurred);
    e.mutable_location()->set_region_code(units[rng() % units.size()]);
    // Now and then a duplicate: nothing may move in either.
    if (rng() % 20 == 0) e.set_id(absl::StrCat("v", i / 2));
    const std::string payload = e.SerializeAsString();
    clocked.SetWallClock(now);
    const ProcessResult a = clocked.Process(payload, now);
    const ProcessResult b = plain.Process(payload, now);
    ASSERT_EQ(a.outcome, b.outcome) << "event " << i;
    most_fine_plain = std::max(most_fine_plain, plain.bucket_count(BucketWidth::kMinute) +
                                                    plain.bucket_count(BucketWidth::kHour));
    if (rng() % 50 == 0 || i == 19999) {
      publish(clocked, now, from_clocked);
      publish(plain, now, from_plain);
      ASSERT_EQ(from_clocked.values, from_plain.values) << "after event " << i;
      ASSERT_EQ(from_clocked.tombstones, from_plain.tombstones) << "after event " << i;
      ASSERT_EQ(days(clocked), days(plain)) << "after event " << i;
    }
  }
  EXPECT_EQ(clocked.tally().counted, plain.tally().counted);
  EXPECT_EQ(clocked.tally().duplicates, plain.tally().duplicates);
  // Not vacuous: fine buckets were published while watchable, later ones
  // were never created, and published ones were evicted (tombstones).
  size_t fine_published = 0;
  for (const auto& [key, value] : from_plain.values) fine_published += std::get<0>(key) != 0;
  EXPECT_GT(fine_published + from_plain.tombstones.size(), 100u);
  EXPECT_GT(from_plain.tombstones.size(), 10u);
  EXPECT_GT(most_fine_plain, 20u);
  EXPECT_EQ(clocked.bucket_count(BucketWidth::kMinute) + clocked.bucket_count(BucketWidth::kHour),
            0u);
  EXPECT_GT(plain.bucket_count(BucketWidth::kMinute) + plain.bucket_count(BucketWidth::kHour), 0u);
}

// The boundary is SkipUnwatchable's: a fine bucket that ended its keep plus
// a day before the wall clock is not created, one that ended a second later
// is; a clock set back does not lower it; an existing bucket, published
// while it was watchable, still counts a late record.
TEST(SetWallClockTest, CreatesNoFineBucketSkipUnwatchableWouldSkip) {
  const absl::Time t0 = kMorning + absl::Minutes(7) + absl::Seconds(5);  // 10:07:05
  const absl::Time minute_end = kMorning + absl::Minutes(8);
  const absl::Time hour_end = kMorning + absl::Hours(1);
  const uint16_t unit = Binzhou().Find("371602")->index;
  const BucketKey minute{unit, absl::ToUnixSeconds(kMorning + absl::Minutes(7)),
                         BucketWidth::kMinute};
  const BucketKey hour{unit, absl::ToUnixSeconds(kMorning), BucketWidth::kHour};
  const BucketKey day{unit,
                      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2025, 3, 1), Shanghai())),
                      BucketWidth::kDay};
  auto speeding = [](std::string id, absl::Time at) {
    return Violation(std::move(id), v1::VIOLATION_TYPE_SPEEDING, at).SerializeAsString();
  };
  {
    // Minute: 25 h + 1 day. At that distance it is not created, the hour is.
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    p.SetWallClock(minute_end + absl::Hours(49));
    ASSERT_EQ(p.Process(speeding("V1", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_FALSE(p.FindBucket(minute).has_value());
    ASSERT_TRUE(p.FindBucket(hour).has_value());
    EXPECT_EQ(At(*p.FindBucket(day), Metric::kSpeeding), 1);
    EXPECT_EQ(p.SkipUnwatchable(minute_end + absl::Hours(49)), 0u);
  }
  {
    // A second closer: created.
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    p.SetWallClock(minute_end + absl::Hours(49) - absl::Seconds(1));
    ASSERT_EQ(p.Process(speeding("V1", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_TRUE(p.FindBucket(minute).has_value());
  }
  {
    // Hour: 31 days + 1 day. A clock set back afterwards changes nothing.
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    p.SetWallClock(hour_end + absl::Hours(32 * 24));
    p.SetWallClock(t0);
    ASSERT_EQ(p.Process(speeding("V1", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_FALSE(p.FindBucket(minute).has_value());
    EXPECT_FALSE(p.FindBucket(hour).has_value());
    EXPECT_EQ(At(*p.FindBucket(day), Metric::kSpeeding), 1);
    EXPECT_EQ(p.bucket_count(BucketWidth::kMinute) + p.bucket_count(BucketWidth::kHour), 0u);
  }
  {
    // Published live, then the clock passes both windows: a record two hours
    // later creates no fine bucket, and a late one in the first minute still
    // moves the first minute and hour, which are reported again.
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    p.SetWallClock(t0);
    ASSERT_EQ(p.Process(speeding("V1", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_EQ(p.SkipUnwatchable(t0), 0u);
    p.ClearDirty();
    p.SetWallClock(kNow);
    ASSERT_EQ(p.Process(speeding("V2", t0 + absl::Hours(2)), kNow).outcome, Outcome::kCounted);
    ASSERT_EQ(p.Process(speeding("V3", t0), kNow).outcome, Outcome::kCounted);
    EXPECT_EQ(p.SkipUnwatchable(kNow), 0u);
    using W = BucketWidth;
    EXPECT_EQ(DirtyViolations(p), (std::map<W, std::vector<int64_t>>{
                                      {W::kDay, {3}}, {W::kHour, {2}}, {W::kMinute, {2}}}));
    EXPECT_EQ(p.bucket_count(W::kMinute) + p.bucket_count(W::kHour), 2u);
  }
}

// The bucket store against a plain std::map model, over random event times
// with jitter, gaps longer than a fine horizon, and publishes in between:
// every kept bucket, every tombstone and every published value must match.
TEST(BucketStoreTest, MatchesAMapModelOverRandomTimes) {
  ProcessorOptions options;
  options.minute_buckets_for = absl::Minutes(30);
  options.hour_buckets_for = absl::Hours(5);
  PartitionProcessor p(EventKind::kViolation, Binzhou(), options);
  std::vector<const Region*> counties;
  for (size_t i = 0; i < Binzhou().size(); ++i) {
    const Region& r = Binzhou().at(static_cast<uint16_t>(i));
    if (r.parent == Binzhou().city().code && !r.main_urban && counties.size() < 4) {
      counties.push_back(&r);
    }
  }
  ASSERT_GE(counties.size(), 2u);
  using Key = std::tuple<int, uint16_t, int64_t>;  // width, unit, start
  std::map<Key, int64_t> model;                    // kept buckets: speeding count
  std::map<Key, int64_t> published;                // as a compacted topic would hold
  int64_t horizon[3] = {INT64_MIN, INT64_MIN, INT64_MIN};
  const int64_t keep[3] = {0, 5 * 3600, 30 * 60};
  const int64_t unit_s[3] = {86400, 3600, 60};
  std::mt19937_64 rng(7);
  absl::Time t = kMorning;
  absl::Time watermark = absl::InfinitePast();
  for (int i = 0; i < 20000; ++i) {
    const uint64_t step = rng() % 1000;
    if (step == 0) {
      t += absl::Hours(7);  // longer than both fine horizons
    } else if (step < 5) {
      t += absl::Minutes(45);
    } else {
      t += absl::Seconds(static_cast<int64_t>(rng() % 40));
    }
    // Up to 2 h late: sometimes behind the minute horizon.
    const absl::Time occurred = t - absl::Seconds(static_cast<int64_t>(rng() % 7200));
    const Region& region = *counties[rng() % counties.size()];
    v1::ViolationEvent e = Violation(absl::StrCat("v", i), v1::VIOLATION_TYPE_SPEEDING, occurred);
    e.mutable_location()->set_region_code(region.code);
    ASSERT_EQ(p.Process(e.SerializeAsString(), kNow).outcome, Outcome::kCounted);

    // The model: move the watermark, drop fine buckets behind the horizon,
    // count in every kept bucket.
    if (occurred > watermark) {
      watermark = occurred;
      const int64_t w_minute_s = absl::ToUnixSeconds(watermark) / 60 * 60;
      for (int w = 1; w < 3; ++w) {
        horizon[w] = std::max(horizon[w], w_minute_s / unit_s[w] * unit_s[w] - keep[w]);
        for (auto it = model.begin(); it != model.end();) {
          const auto [width, unit, start] = it->first;
          it = width == w && start < horizon[w] ? model.erase(it) : std::next(it);
        }
      }
    }
    const int64_t s = absl::ToUnixSeconds(occurred);
    ++model[Key{0, region.index, p.DayStartOf(s)}];
    for (int w = 1; w < 3; ++w) {
      const int64_t start = s / unit_s[w] * unit_s[w];
      if (start >= horizon[w]) ++model[Key{w, region.index, start}];
    }

    if (rng() % 50 == 0 || i == 19999) {  // publish
      for (const BucketKey& k : p.tombstones()) {
        published.erase(Key{static_cast<int>(k.width), k.region_index, k.start_unix_s});
      }
      p.ClearTombstones();
      p.ForEachDirty([&](const BucketKey& k, const MetricValues& v) {
        published[Key{static_cast<int>(k.width), k.region_index, k.start_unix_s}] =
            At(v, Metric::kSpeeding);
      });
      p.ClearDirty();
      ASSERT_EQ(p.dirty_count(), 0u);
      std::map<Key, int64_t> kept;
      p.ForEachBucket([&](const BucketKey& k, const MetricValues& v) {
        kept[Key{static_cast<int>(k.width), k.region_index, k.start_unix_s}] =
            At(v, Metric::kSpeeding);
      });
      ASSERT_EQ(kept, model) << "after event " << i;
      ASSERT_EQ(published, model) << "after event " << i;
      for (const auto& [key, value] : model) {
        const auto [width, unit, start] = key;
        const std::optional<MetricValues> v =
            p.FindBucket(BucketKey{unit, start, static_cast<BucketWidth>(width)});
        ASSERT_TRUE(v.has_value());
        ASSERT_EQ(At(*v, Metric::kSpeeding), value);
      }
    }
  }
  EXPECT_EQ(p.horizon_unix_s(BucketWidth::kMinute), horizon[2]);
  EXPECT_EQ(p.horizon_unix_s(BucketWidth::kHour), horizon[1]);
}

}  // namespace
}  // namespace roadpulse

namespace roadpulse {
namespace {

using Day = std::pair<uint16_t, int64_t>;  // unit, local day start

// Day buckets settle against a model: over 70 days of violations up to 12
// days late, with a 10-day horizon, a day leaves the kept buckets only when
// no record can change it any more, its final values published (by the
// publish before, or, settling dirty, by the next one, once); the kept days
// stay within the horizon; and a record for a settled day is too late.
TEST(SettledDaysTest, ADaySettlesOnceWithItsFinalValuesWhenNothingCanChangeIt) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 10);
  options.minute_buckets_for = absl::ZeroDuration();
  options.hour_buckets_for = absl::ZeroDuration();
  PartitionProcessor p(EventKind::kViolation, Binzhou(), options);
  const char* const units[] = {"371602", "371621", "371622"};
  std::map<Day, int64_t> model;      // every day ever counted: speeding
  std::map<Day, int64_t> published;  // as the compacted counts topic holds them
  std::map<Day, int64_t> taken;      // days settled dirty, taken once each
  size_t settled_days = 0;
  std::mt19937_64 rng(3);
  absl::Time t = kMorning;
  absl::Time watermark = absl::InfinitePast();
  int64_t too_late = 0;
  for (int i = 0; i < 30000; ++i) {
    t += absl::Seconds(static_cast<int64_t>(rng() % 400));
    const absl::Time occurred = t - absl::Seconds(static_cast<int64_t>(rng() % (12 * 86400)));
    const std::string unit = units[rng() % 3];
    v1::ViolationEvent e = Violation(absl::StrCat("v", i), v1::VIOLATION_TYPE_SPEEDING, occurred);
    e.mutable_location()->set_region_code(unit);
    const ProcessResult r = p.Process(e.SerializeAsString(), kNow + absl::Hours(24 * 90));
    if (watermark != absl::InfinitePast() && occurred < watermark - options.retention_horizon) {
      ASSERT_EQ(r.outcome, Outcome::kRejected) << i;
      ASSERT_EQ(r.reason, RejectReason::kTooLate) << i;
      ++too_late;
    } else {
      ASSERT_EQ(r.outcome, Outcome::kCounted) << i;
      watermark = std::max(watermark, occurred);
      ++model[Day{Binzhou().Find(unit)->index, p.DayStartOf(absl::ToUnixSeconds(occurred))}];
    }
    if (rng() % 40 != 0 && i != 29999) continue;

    // Publish, as the worker does, then take the settled days: those that
    // settled while dirty, which the publish just reported.
    std::map<Day, int64_t> dirty;
    p.ForEachDirty([&](const BucketKey& k, const MetricValues& v) {
      dirty[Day{k.region_index, k.start_unix_s}] = At(v, Metric::kSpeeding);
    });
    const int64_t before = p.settled_before_unix_s();
    for (const PartitionProcessor::SettledDay& d : p.settled()) {
      ASSERT_EQ(d.key.width, BucketWidth::kDay);
      ASSERT_LT(d.key.start_unix_s, before);
      ASSERT_TRUE(d.dirty);
      const Day day{d.key.region_index, d.key.start_unix_s};
      ASSERT_EQ(dirty.count(day), 1u);
      ASSERT_EQ(dirty[day], At(d.values, Metric::kSpeeding));
      ASSERT_TRUE(taken.emplace(day, At(d.values, Metric::kSpeeding)).second) << "settled twice";
    }
    for (const auto& [day, v] : dirty) published[day] = v;
    p.ClearDirty();
    p.ClearSettled();
    ASSERT_EQ(p.dirty_count(), 0u);
    // Settled only what no record can reach: the day after it starts at or
    // before the oldest instant a record may still have.
    if (before != INT64_MIN) {
      ASSERT_LE(before, absl::ToUnixSeconds(watermark - options.retention_horizon));
    }
    // Kept: exactly the model's days from `before` on; the older ones are
    // gone, and the counts topic holds every day's final values.
    std::map<Day, int64_t> kept;
    p.ForEachBucket([&](const BucketKey& k, const MetricValues& v) {
      kept[Day{k.region_index, k.start_unix_s}] = At(v, Metric::kSpeeding);
    });
    std::map<Day, int64_t> recent;
    for (const auto& [day, v] : model) {
      if (day.second >= before) recent.emplace(day, v);
    }
    ASSERT_EQ(kept, recent) << "after event " << i;
    ASSERT_EQ(published, model) << "after event " << i;
    settled_days = model.size() - recent.size();
    // The horizon (10 days), a sweep's step (1 day) and today.
    std::set<int64_t> kept_days;
    for (const auto& [day, v] : kept) kept_days.insert(day.second);
    ASSERT_LE(kept_days.size(), 13u);
  }
  EXPECT_GT(too_late, 0);
  EXPECT_GT(settled_days, 3 * 40u);  // ~70 days over 3 units, most settled
  // A record for a settled day is too late.
  const auto& [unit, start] = model.begin()->first;
  v1::ViolationEvent late =
      Violation("late", v1::VIOLATION_TYPE_SPEEDING, absl::FromUnixSeconds(start + 3600));
  late.mutable_location()->set_region_code(Binzhou().at(unit).code);
  const ProcessResult r = p.Process(late.SerializeAsString(), kNow + absl::Hours(24 * 90));
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(r.reason, RejectReason::kTooLate);
}

// A day settling while still dirty (changed since the last publish) is
// reported by ForEachDirty from settled(), once, and counts in dirty_count().
TEST(SettledDaysTest, ADirtyDaySettlesDirtyAndIsPublishedOnce) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 10);
  PartitionProcessor p(EventKind::kViolation, Binzhou(), options);
  ASSERT_EQ(
      p.Process(Violation("a", v1::VIOLATION_TYPE_SPEEDING, kMorning).SerializeAsString(), kNow)
          .outcome,
      Outcome::kCounted);
  // 12 days on: the first day is behind the horizon and the sweep step.
  const absl::Time later = kMorning + absl::Hours(24 * 12);
  ASSERT_EQ(p.Process(Violation("b", v1::VIOLATION_TYPE_SPEEDING, later).SerializeAsString(), kNow)
                .outcome,
            Outcome::kCounted);
  ASSERT_EQ(p.settled().size(), 1u);
  EXPECT_TRUE(p.settled()[0].dirty);
  EXPECT_EQ(p.settled()[0].key.start_unix_s,
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2025, 3, 1), Shanghai())));
  EXPECT_EQ(At(p.settled()[0].values, Metric::kSpeeding), 1);
  EXPECT_EQ(p.bucket_count(BucketWidth::kDay), 1u);
  std::map<std::pair<int, int64_t>, int64_t> dirty;
  p.ForEachDirty([&](const BucketKey& k, const MetricValues& v) {
    EXPECT_TRUE(
        dirty
            .emplace(std::pair{static_cast<int>(k.width), k.start_unix_s}, At(v, Metric::kSpeeding))
            .second);
  });
  // Both days, both hours (hour buckets are kept 31 days) and the second
  // minute (the first one's was evicted unpublished).
  EXPECT_EQ(dirty.size(), 5u);
  EXPECT_EQ(p.dirty_count(), 5u);
  EXPECT_EQ(dirty.count({0, p.settled()[0].key.start_unix_s}), 1u);
  p.ClearDirty();
  p.ClearSettled();
  EXPECT_EQ(p.dirty_count(), 0u);
  EXPECT_TRUE(p.settled().empty());
}

// A processor restored from a checkpoint holds no settled day, and goes on
// settling exactly the days the original settles.
TEST(SettledDaysTest, ARestoredProcessorSettlesTheSameDays) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 10);
  PartitionProcessor original(EventKind::kIncident, Binzhou(), options);
  std::unique_ptr<PartitionProcessor> restored;
  std::map<Day, MetricValues> from_original;
  std::map<Day, MetricValues> from_restored;
  // As a replay takes them: nothing is published after the checkpoint, so
  // every day settles dirty.
  auto take = [](PartitionProcessor& p, std::map<Day, MetricValues>& into) {
    for (const PartitionProcessor::SettledDay& d : p.settled()) {
      into[Day{d.key.region_index, d.key.start_unix_s}] = d.values;
    }
    p.ClearSettled();
  };
  std::mt19937_64 rng(5);
  absl::Time t = kMorning;
  for (int i = 0; i < 20000; ++i) {
    t += absl::Seconds(static_cast<int64_t>(rng() % 500));
    // Amendments of recent ids move accidents between days.
    const std::string id = absl::StrCat("a", i - static_cast<int>(rng() % 30));
    v1::IncidentEvent e = Accident(id, 1 + static_cast<uint32_t>(rng() % 3),
                                   t - absl::Seconds(static_cast<int64_t>(rng() % (3 * 86400))));
    e.set_injuries(static_cast<int32_t>(rng() % 3));
    const std::string bytes = e.SerializeAsString();
    const absl::Time record_time = kNow + absl::Hours(24 * 90);
    const ProcessResult a = original.Process(bytes, record_time);
    if (restored != nullptr) {
      const ProcessResult b = restored->Process(bytes, record_time);
      ASSERT_EQ(a.outcome, b.outcome) << i;
    }
    if (i == 8000) {
      take(original, from_original);
      original.ClearDirty();  // published before the checkpoint
      absl::StatusOr<std::unique_ptr<PartitionProcessor>> r = PartitionProcessor::Restore(
          EventKind::kIncident, Binzhou(), options, original.SaveState());
      ASSERT_TRUE(r.ok()) << r.status();
      restored = *std::move(r);
      EXPECT_TRUE(restored->settled().empty());
      EXPECT_EQ(restored->settled_before_unix_s(), original.settled_before_unix_s());
      from_original.clear();  // before the checkpoint: the restored one never had them
    }
    if (i % 1000 == 999) {
      take(original, from_original);
      if (restored != nullptr) take(*restored, from_restored);
    }
  }
  EXPECT_GT(from_original.size(), 10u);
  EXPECT_EQ(from_restored, from_original);
  std::map<std::tuple<int, uint16_t, int64_t>, MetricValues> kept_original, kept_restored;
  original.ForEachBucket([&](const BucketKey& k, const MetricValues& v) {
    kept_original[{static_cast<int>(k.width), k.region_index, k.start_unix_s}] = v;
  });
  restored->ForEachBucket([&](const BucketKey& k, const MetricValues& v) {
    kept_restored[{static_cast<int>(k.width), k.region_index, k.start_unix_s}] = v;
  });
  EXPECT_EQ(kept_restored, kept_original);
}

}  // namespace
}  // namespace roadpulse
