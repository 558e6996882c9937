// Windows, year over year, roll-ups, eviction with tombstones and the bounded
// dedup state: events go through a PartitionProcessor, its records (and
// tombstones) into a CountStore, as in the worker -> roadpulse.counts -> view
// pipeline.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "processors/count_record.h"
#include "processors/count_store.h"
#include "processors/partition_processor.h"
#include "processors/period.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;
using testing::Shanghai;

absl::Time Local(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), Shanghai());
}

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) {
  ts->set_seconds(absl::ToUnixSeconds(t));
  ts->set_nanos(0);
}

std::string Violation(const std::string& id, absl::Time occurred,
                      const std::string& region = "371621") {
  v1::ViolationEvent e;
  e.set_id(id);
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(occurred, e.mutable_reported_at());
  e.mutable_location()->set_region_code(region);
  e.set_type(v1::VIOLATION_TYPE_SPEEDING);
  return e.SerializeAsString();
}

std::string Accident(const std::string& id, uint32_t revision, absl::Time occurred, int deaths,
                     int injuries, absl::Time reported) {
  v1::IncidentEvent e;
  e.set_id(id);
  e.set_revision(revision);
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(reported, e.mutable_reported_at());
  e.mutable_location()->set_region_code("371621");
  e.set_deaths(deaths);
  e.set_injuries(injuries);
  e.set_severity(v1::SEVERITY_GENERAL);
  e.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
  return e.SerializeAsString();
}

// Publishes a processor's changes into a store, tombstones included, the way
// the worker and the count reader do.
void Publish(PartitionProcessor& p, CountStore& store, int partition = 0) {
  for (const BucketKey& key : p.tombstones()) {
    ASSERT_TRUE(store
                    .ApplyTombstone(CountRecordKey(
                        TombstoneRecord(Binzhou(), "roadpulse.violations", partition, key)))
                    .ok());
  }
  p.ClearTombstones();
  p.ForEachDirty([&](const BucketKey& key, const MetricValues& values) {
    ASSERT_TRUE(store
                    .Apply(MakeCountRecord(Binzhou(), "roadpulse.violations", partition, key,
                                           values, 1, 1))
                    .ok());
  });
  p.ClearDirty();
}

class WindowTest : public ::testing::Test {
 protected:
  WindowTest() : p_(EventKind::kViolation, Binzhou(), ProcessorOptions()), store_(Binzhou()) {}
  void Feed(const std::string& id, absl::Time t, const std::string& region = "371621") {
    ASSERT_NE(p_.Process(Violation(id, t, region), absl::InfinitePast()).outcome,
              Outcome::kRejected);
  }
  int64_t W(Window w, absl::Time now, const std::string& region = "371600") {
    Publish(p_, store_);
    return store_.WindowSum(Metric::kSpeeding, region, w, now);
  }
  PartitionProcessor p_;
  CountStore store_;
};

TEST_F(WindowTest, RollingAndCalendarWindowsAcrossMidnight) {
  Feed("a", Local(2025, 3, 9, 23, 50));
  Feed("b", Local(2025, 3, 10, 0, 30));
  const absl::Time now = Local(2025, 3, 10, 0, 45, 30);
  // Last hour = [23:46, 00:46): both; today (10 March): only b.
  EXPECT_EQ(W(Window::kLastHour, now), 2);
  EXPECT_EQ(W(Window::kToday, now), 1);
  EXPECT_EQ(W(Window::kLast24Hours, now), 2);
  EXPECT_EQ(W(Window::kLast7Days, now), 2);
  // One minute later 23:50 is still in; at 00:51 it has left the hour.
  EXPECT_EQ(W(Window::kLastHour, Local(2025, 3, 10, 0, 49)), 2);
  EXPECT_EQ(W(Window::kLastHour, Local(2025, 3, 10, 0, 50)), 1);
  const CountStore::Range r = store_.WindowRange(Window::kLastHour, now);
  EXPECT_EQ(r.from, Local(2025, 3, 9, 23, 46));
  EXPECT_EQ(r.to, Local(2025, 3, 10, 0, 46));
}

TEST_F(WindowTest, MonthAndYearBoundaries) {
  Feed("dec31", Local(2024, 12, 31, 23, 59, 59));
  Feed("jan1", Local(2025, 1, 1, 0, 0, 0));
  Feed("jan31", Local(2025, 1, 31, 23, 0));
  Feed("feb1", Local(2025, 2, 1, 1, 0));
  const absl::Time jan1 = Local(2025, 1, 1, 8, 0);
  EXPECT_EQ(W(Window::kYearToDate, jan1), 1);
  EXPECT_EQ(W(Window::kMonthToDate, jan1), 1);
  const absl::Time feb1 = Local(2025, 2, 1, 1, 30);
  EXPECT_EQ(W(Window::kMonthToDate, feb1), 1);
  EXPECT_EQ(W(Window::kYearToDate, feb1), 3);
  EXPECT_EQ(W(Window::kLast24Hours, feb1), 2);  // jan31 23:00 and feb1 01:00
  EXPECT_EQ(W(Window::kLast30Days, feb1), 2);   // [2 Jan 02:00, 1 Feb 02:00)
  // The UTC day of 1 January 00:00 China time is still 31 December: the
  // buckets are local days, not UTC days.
  const std::optional<Period> ytd = store_.WindowPeriod(Window::kYearToDate, jan1);
  ASSERT_TRUE(ytd.has_value());
  EXPECT_EQ(ytd->from, absl::CivilDay(2025, 1, 1));
  EXPECT_EQ(ytd->to, absl::CivilDay(2025, 1, 2));
}

TEST_F(WindowTest, Rolling7DaysIsExactToTheHour) {
  const absl::Time now = Local(2025, 3, 10, 10, 17);
  // 7 d = [3 March 11:00, 10 March 11:00).
  Feed("out", Local(2025, 3, 3, 10, 59, 59));
  Feed("edge", Local(2025, 3, 3, 11, 0, 0));
  Feed("mid", Local(2025, 3, 6, 4, 0));
  Feed("now", Local(2025, 3, 10, 10, 17));
  EXPECT_EQ(W(Window::kLast7Days, now), 3);
  EXPECT_EQ(W(Window::kLast30Days, now), 4);
  // A partial day at both ends and whole days between, by bucket width:
  // the same as the instant sum over the range.
  const CountStore::Range r = store_.WindowRange(Window::kLast7Days, now);
  EXPECT_EQ(At(store_.SumInstants("371600", r.from, r.to), Metric::kSpeeding), 3);
}

TEST_F(WindowTest, RollUpEqualsSumOfParts) {
  const absl::Time t = Local(2025, 6, 1, 9, 0);
  int n = 0;
  for (const char* region : {"371602", "371602001", "371603", "371621", "371671", "371681001",
                             "371623", "371625"}) {
    for (int i = 0; i <= n; ++i) Feed(absl::StrCat(region, "-", i), t + absl::Minutes(i));
    ++n;
  }
  const absl::Time now = t + absl::Minutes(30);
  for (Window w : {Window::kLastHour, Window::kLast24Hours, Window::kLast7Days,
                   Window::kLast30Days, Window::kToday, Window::kMonthToDate,
                   Window::kYearToDate}) {
    int64_t parts = 0;
    for (const Region* county : Binzhou().Counties()) parts += W(w, now, county->code);
    EXPECT_EQ(W(w, now, "371600"), parts) << WindowName(w);
    EXPECT_EQ(parts, 36) << WindowName(w);
    int64_t main = 0;
    for (const Region* unit : Binzhou().UnitsOf("371600-main")) main += W(w, now, unit->code);
    EXPECT_EQ(W(w, now, "371600-main"), main) << WindowName(w);
  }
}

TEST_F(WindowTest, YearOverYearAndTheLeapDay) {
  Feed("2024-02-28", Local(2024, 2, 28, 12));
  Feed("2024-02-29", Local(2024, 2, 29, 12));
  Feed("2024-03-01", Local(2024, 3, 1, 12));
  Feed("2025-02-28", Local(2025, 2, 28, 12));
  Feed("2025-03-01a", Local(2025, 3, 1, 12));
  Feed("2025-03-01b", Local(2025, 3, 1, 13));
  Publish(p_, store_);
  // 29 February 2024 alone: its twin [2023-03-01, 2023-03-01) is empty, the
  // base is 0 and there is no percentage.
  Change leap = store_.PeriodYoY(Metric::kSpeeding, "371600",
                                 Period{absl::CivilDay(2024, 2, 29), absl::CivilDay(2024, 3, 1)});
  EXPECT_EQ(leap.current, 1);
  EXPECT_EQ(leap.previous, 0);
  EXPECT_FALSE(leap.percent.has_value());
  EXPECT_EQ(FormatPercent(leap, 2), "");
  // February 2025 against February 2024: the base [2024-02-01, 2024-03-01)
  // holds the leap day (it is an inner day of last year's period).
  Change feb = store_.PeriodYoY(Metric::kSpeeding, "371600",
                                Period{absl::CivilDay(2025, 2, 1), absl::CivilDay(2025, 3, 1)});
  EXPECT_EQ(feb.current, 1);
  EXPECT_EQ(feb.previous, 2);
  EXPECT_EQ(FormatPercent(feb, 2), "-50.00");
  // 1 March 2025 to date: its twin is 1 March 2024.
  std::optional<Change> today =
      store_.WindowYoY(Metric::kSpeeding, "371600", Window::kToday, Local(2025, 3, 1, 14));
  ASSERT_TRUE(today.has_value());
  EXPECT_EQ(today->current, 2);
  EXPECT_EQ(today->previous, 1);
  EXPECT_EQ(FormatPercent(*today, 1), "100.0");
  // Rolling windows have no twin last year.
  EXPECT_FALSE(store_.WindowYoY(Metric::kSpeeding, "371600", Window::kLast24Hours,
                                Local(2025, 3, 1, 14))
                   .has_value());
}

TEST_F(WindowTest, ZeroBaseHasNoPercentage) {
  Feed("x", Local(2025, 4, 2, 9));
  std::optional<Change> c =
      store_.WindowYoY(Metric::kSpeeding, "371621", Window::kMonthToDate, Local(2025, 4, 2, 10));
  Publish(p_, store_);
  c = store_.WindowYoY(Metric::kSpeeding, "371621", Window::kMonthToDate, Local(2025, 4, 2, 10));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->current, 1);
  EXPECT_EQ(c->previous, 0);
  EXPECT_FALSE(c->percent.has_value());
}

TEST_F(WindowTest, EvictedFineBucketsAreTombstonedAndDaySumsStay) {
  const absl::Time t0 = Local(2025, 5, 1, 10, 5);
  Feed("first", t0);
  Publish(p_, store_);
  EXPECT_EQ(store_.record_count(BucketWidth::kMinute), 1u);
  EXPECT_EQ(store_.record_count(BucketWidth::kHour), 1u);
  // 25 h later the minute bucket is still kept; one minute more and it goes.
  Feed("later", t0 + absl::Hours(25) - absl::Minutes(5));
  EXPECT_TRUE(p_.tombstones().empty());
  Feed("later2", t0 + absl::Hours(25) + absl::Minutes(1));
  ASSERT_EQ(p_.tombstones().size(), 1u);
  EXPECT_EQ(p_.tombstones()[0].width, BucketWidth::kMinute);
  EXPECT_EQ(p_.tombstones()[0].start_unix_s, absl::ToUnixSeconds(Local(2025, 5, 1, 10, 5)));
  Publish(p_, store_);
  EXPECT_EQ(store_.record_count(BucketWidth::kMinute), 2u);  // later, later2
  // The day sums are not touched by the tombstone.
  EXPECT_EQ(store_.Sum(Metric::kSpeeding, "371600", absl::CivilDay(2025, 5, 1),
                       absl::CivilDay(2025, 5, 3)),
            3);
  // A late event older than the minute horizon counts in its day and hour
  // buckets only, and never recreates the evicted minute bucket.
  Feed("late", t0 + absl::Seconds(10));
  EXPECT_EQ(p_.FindBucket(BucketKey{Binzhou().Find("371621")->index, absl::ToUnixSeconds(t0),
                                    BucketWidth::kMinute}),
            std::nullopt);
  Publish(p_, store_);
  EXPECT_EQ(store_.Sum(Metric::kSpeeding, "371621", absl::CivilDay(2025, 5, 1),
                       absl::CivilDay(2025, 5, 2)),
            2);
  EXPECT_EQ(store_.record_count(BucketWidth::kMinute), 2u);
  // Hour buckets go after 31 days: 1 May 10:00 goes, 2 May 11:00 stays.
  Feed("month", t0 + absl::Hours(24 * 31 + 2));
  Publish(p_, store_);
  EXPECT_EQ(store_.record_count(BucketWidth::kHour), 2u);
  EXPECT_EQ(store_.Sum(Metric::kSpeeding, "371600", absl::CivilDay(2025, 5, 1),
                       absl::CivilDay(2025, 7, 1)),
            5);
}

TEST(WindowProcessorTest, LateEventAndAmendmentChangeTheRightBucketsOnce) {
  PartitionProcessor p(EventKind::kIncident, Binzhou(), ProcessorOptions());
  CountStore store(Binzhou());
  const absl::Time day0 = Local(2025, 6, 10, 8, 0);
  const absl::Time far = absl::InfinitePast();
  ASSERT_EQ(p.Process(Accident("A", 1, day0, 0, 2, day0), far).outcome, Outcome::kCounted);
  // Five days of other accidents.
  for (int d = 1; d <= 5; ++d) {
    const absl::Time t = day0 + absl::Hours(24 * d);
    ASSERT_EQ(p.Process(Accident(absl::StrCat("B", d), 1, t, 0, 0, t), far).outcome,
              Outcome::kCounted);
  }
  Publish(p, store);
  // A late event for day 2, and the amendment of A (an injured person died),
  // recorded on day 5: both move day 0 / day 2, once.
  const absl::Time day5 = day0 + absl::Hours(24 * 5);
  ASSERT_EQ(p.Process(Accident("late", 1, day0 + absl::Hours(48), 0, 1, day5), far).outcome,
            Outcome::kCounted);
  ASSERT_EQ(p.Process(Accident("A", 2, day0, 1, 1, day5), far).outcome, Outcome::kAmended);
  ASSERT_EQ(p.Process(Accident("A", 2, day0, 1, 1, day5), far).outcome, Outcome::kDuplicate);
  Publish(p, store);
  const absl::CivilDay d0(2025, 6, 10);
  EXPECT_EQ(store.Sum(Metric::kDeaths, "371600", d0, d0 + 1), 1);
  EXPECT_EQ(store.Sum(Metric::kInjuries, "371600", d0, d0 + 1), 1);
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371600", d0, d0 + 1), 1);
  EXPECT_EQ(store.Sum(Metric::kDeaths, "371600", d0 + 5, d0 + 6), 0);
  EXPECT_EQ(store.Sum(Metric::kInjuries, "371600", d0 + 2, d0 + 3), 1);
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371600", d0, d0 + 6), 7);
  // The hour bucket of day 0 moved with it; its minute bucket was evicted and
  // stays gone (the amendment did not recreate it with a negative value).
  const CountStore::Range week = store.WindowRange(Window::kLast7Days, day5);
  EXPECT_EQ(At(store.SumInstants("371600", week.from, week.to), Metric::kDeaths), 1);
  EXPECT_EQ(store.WindowSum(Metric::kDeaths, "371600", Window::kLast24Hours, day5), 0);
  p.ForEachBucket([](const BucketKey&, const MetricValues& values) {
    for (int64_t v : values) EXPECT_GE(v, 0);
  });
  EXPECT_TRUE(p.tally().Balanced());
}

TEST(DedupTest, BoundedByTheHorizonAndDuplicatesInsideItAreCaught) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 10);
  PartitionProcessor p(EventKind::kViolation, Binzhou(), options);
  const absl::Time start = Local(2025, 1, 1);
  size_t memory_at_day_30 = 0;
  size_t max_ids = 0;
  for (int day = 0; day < 120; ++day) {
    for (int i = 0; i < 500; ++i) {
      const absl::Time t = start + absl::Hours(24 * day) + absl::Seconds(i * 170);
      ASSERT_EQ(p.Process(Violation(absl::StrCat("v", day, "-", i), t), absl::InfinitePast())
                    .outcome,
                Outcome::kCounted);
    }
    max_ids = std::max(max_ids, p.remembered_ids());
    if (day == 30) memory_at_day_30 = p.dedup_memory_bytes();
    // A duplicate from 5 days ago (inside the horizon) is still caught.
    if (day >= 5) {
      const absl::Time t = start + absl::Hours(24 * (day - 5)) + absl::Seconds(7 * 170);
      EXPECT_EQ(p.Process(Violation(absl::StrCat("v", day - 5, "-", 7), t), absl::InfinitePast())
                    .outcome,
                Outcome::kDuplicate);
    }
  }
  // At most the horizon's ids plus one sweep step (a day here) and a day of slack.
  EXPECT_LE(max_ids, 500u * 13);
  EXPECT_EQ(p.dedup_memory_bytes(), memory_at_day_30);  // flat once the horizon is covered
  // A duplicate of an id that was forgotten is refused as too late, not counted.
  ProcessResult old = p.Process(Violation("v1-7", start + absl::Hours(24) + absl::Seconds(7 * 170)),
                                absl::InfinitePast());
  EXPECT_EQ(old.outcome, Outcome::kRejected);
  EXPECT_EQ(old.reason, RejectReason::kTooLate);
  EXPECT_EQ(p.tally().counted, 120 * 500);
  EXPECT_TRUE(p.tally().Balanced());
}

TEST(DedupTest, AmendmentOfAForgottenAccidentIsTooLate) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 3);
  PartitionProcessor p(EventKind::kIncident, Binzhou(), options);
  const absl::Time t0 = Local(2025, 1, 1, 12);
  ASSERT_EQ(p.Process(Accident("A", 1, t0, 0, 1, t0), absl::InfinitePast()).outcome,
            Outcome::kCounted);
  for (int d = 1; d <= 10; ++d) {
    const absl::Time t = t0 + absl::Hours(24 * d);
    ASSERT_EQ(p.Process(Accident(absl::StrCat("B", d), 1, t, 0, 0, t), absl::InfinitePast())
                  .outcome,
              Outcome::kCounted);
  }
  EXPECT_LT(p.remembered_ids(), 11u);  // A was forgotten
  ProcessResult r = p.Process(Accident("A", 2, t0, 1, 0, t0 + absl::Hours(24 * 10)),
                              absl::InfinitePast());
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(r.reason, RejectReason::kTooLate);
}

// The sweep forgets an id once every instant of its stored day (a violation,
// in Unix days) or minute (an accident) is behind the horizon, and not
// before: here a sweep runs with the horizon exactly at the start of a day
// (a minute). The id of the day (minute) that ends there is forgotten; the id
// of the one that starts there is kept, and its duplicate caught.
TEST(DedupTest, SweepForgetsExactlyTheDaysAndMinutesBehindTheHorizon) {
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 10);  // a sweep at most once a day
  const absl::Time d0 = absl::FromUnixSeconds(int64_t{20'000} * 86400);  // 2024-10-04 UTC
  {
    PartitionProcessor p(EventKind::kViolation, Binzhou(), options);
    const absl::Time before = d0 - absl::Hours(1);
    const absl::Time after = d0 + absl::Hours(23);
    ASSERT_EQ(p.Process(Violation("before", before), absl::InfinitePast()).outcome,
              Outcome::kCounted);
    ASSERT_EQ(p.Process(Violation("after", after), absl::InfinitePast()).outcome,
              Outcome::kCounted);
    // The horizon moves to d0: a sweep.
    ASSERT_EQ(
        p.Process(Violation("mover", d0 + options.retention_horizon), absl::InfinitePast()).outcome,
        Outcome::kCounted);
    EXPECT_EQ(p.remembered_ids(), 2u);  // "after" and "mover"
    EXPECT_EQ(p.Process(Violation("after", after), absl::InfinitePast()).outcome,
              Outcome::kDuplicate);
    EXPECT_EQ(p.Process(Violation("before", before), absl::InfinitePast()).reason,
              RejectReason::kTooLate);
    EXPECT_EQ(p.tally().counted, 3);
  }
  {
    PartitionProcessor p(EventKind::kIncident, Binzhou(), options);
    const absl::Time m0 = d0 + absl::Minutes(6 * 60 + 7);
    const absl::Time before = m0 - absl::Seconds(1);
    const absl::Time after = m0 + absl::Seconds(59);
    ASSERT_EQ(p.Process(Accident("before", 1, before, 0, 1, before), absl::InfinitePast()).outcome,
              Outcome::kCounted);
    ASSERT_EQ(p.Process(Accident("after", 1, after, 0, 1, after), absl::InfinitePast()).outcome,
              Outcome::kCounted);
    const absl::Time mover = m0 + options.retention_horizon;  // the horizon moves to m0
    ASSERT_EQ(p.Process(Accident("mover", 1, mover, 0, 1, mover), absl::InfinitePast()).outcome,
              Outcome::kCounted);
    EXPECT_EQ(p.remembered_ids(), 2u);
    EXPECT_EQ(p.Process(Accident("after", 1, after, 0, 1, after), absl::InfinitePast()).outcome,
              Outcome::kDuplicate);
    EXPECT_EQ(p.Process(Accident("before", 1, before, 0, 1, before), absl::InfinitePast()).reason,
              RejectReason::kTooLate);
    EXPECT_EQ(p.tally().counted, 3);
  }
}

TEST(CountRecordKeyTest, RoundTripsAndRejectsGarbage) {
  const BucketKey key{Binzhou().Find("371621")->index, 1740000000, BucketWidth::kHour};
  const v1::CountRecord r = TombstoneRecord(Binzhou(), "roadpulse.incidents", 3, key);
  const std::string text = CountRecordKey(r);
  EXPECT_EQ(text, "roadpulse.incidents/3/371621/BUCKET_WIDTH_HOUR/1740000000");
  absl::StatusOr<v1::CountRecord> back = ParseCountRecordKey(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->width(), v1::BUCKET_WIDTH_HOUR);
  EXPECT_EQ(back->bucket_start_unix_s(), 1740000000);
  EXPECT_EQ(ParseCountRecordKey("a/b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCountRecordKey("t/1/371621/BUCKET_WIDTH_WEEK/5").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace roadpulse
