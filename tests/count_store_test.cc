#include "processors/count_store.h"

#include "gtest/gtest.h"
#include "processors/count_record.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;

int64_t DayStart(absl::CivilDay day) {
  absl::TimeZone tz;
  absl::LoadTimeZone("Asia/Shanghai", &tz);
  return absl::ToUnixSeconds(absl::FromCivil(day, tz));
}

v1::CountRecord Record(std::string topic, int partition, std::string region, absl::CivilDay day,
                       int64_t accidents, int64_t deaths, int64_t source_next_offset = 10) {
  MetricValues values{};
  At(values, Metric::kAccidents) = accidents;
  At(values, Metric::kDeaths) = deaths;
  return MakeCountRecord(Binzhou(), topic, partition,
                         BucketKey{Binzhou().Find(region)->index, DayStart(day)}, values,
                         source_next_offset, 1);
}

TEST(CountStoreTest, NewestRecordPerKeyWinsAndPartitionsAdd) {
  CountStore store(Binzhou());
  const absl::CivilDay d(2025, 3, 1);
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 3, 1)).ok());
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 1, "371621", d, 2, 0)).ok());
  // Partition 0 republishes a newer absolute value: it replaces, it does not add.
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 4, 1)).ok());
  // And publishing the same record again changes nothing.
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 4, 1)).ok());
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371621", d, d + 1), 6);
  EXPECT_EQ(store.Sum(Metric::kDeaths, "371621", d, d + 1), 1);
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371621", d + 1, d + 2), 0);
  EXPECT_EQ(store.record_count(), 2u);
}

// A worker that lost its partition (paused past its session, or whose
// records were delivered after an outage) publishes an older state after the
// new owner's newer one: the record published further into the source
// partition stays. Values by hand: 5 accidents through offset 200, 3 through
// 100 (late), 7 through 300.
TEST(CountStoreTest, ARecordPublishedLateWithAnOlderOffsetIsNotApplied) {
  CountStore store(Binzhou());
  const absl::CivilDay d(2025, 3, 1);
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 5, 0, 200)).ok());
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 3, 0, 100)).ok());
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371621", d, d + 1), 5);
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371600", d, d + 1), 5);
  EXPECT_EQ(store.stale_records(), 1);
  // The same offset again (a republish after a restart) and a newer one apply.
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 5, 0, 200)).ok());
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 7, 0, 300)).ok());
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371621", d, d + 1), 7);
  EXPECT_EQ(store.stale_records(), 1);
  // Another partition's key is its own: a lower offset there is no older state.
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 1, "371621", d, 2, 0, 50)).ok());
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371621", d, d + 1), 9);
  // After a tombstone the key starts afresh.
  ASSERT_TRUE(
      store.ApplyTombstone(CountRecordKey(Record("roadpulse.incidents", 0, "371621", d, 0, 0)))
          .ok());
  ASSERT_TRUE(store.Apply(Record("roadpulse.incidents", 0, "371621", d, 1, 0, 20)).ok());
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371621", d, d + 1), 3);
}

TEST(CountStoreTest, RollUpEqualsSumOfParts) {
  CountStore store(Binzhou());
  const absl::CivilDay d(2025, 5, 1);
  ASSERT_TRUE(store.Apply(Record("t", 0, "371602", d, 1, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 0, "371602001", d, 2, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 1, "371602102", d + 1, 4, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 1, "371671", d, 8, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 2, "371681001", d, 16, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 2, "371623", d, 32, 0)).ok());
  const absl::CivilDay to = d + 2;
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371602", d, to), 1 + 2 + 4);
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371600-main", d, to), 1 + 2 + 8);
  int64_t parts = 0;
  for (const Region* county : Binzhou().Counties()) {
    parts += store.Sum(Metric::kAccidents, county->code, d, to);
  }
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371600", d, to), parts);
  EXPECT_EQ(parts, 63);
}

TEST(CountStoreTest, RejectsUnknownRegionAndMetric) {
  CountStore store(Binzhou());
  v1::CountRecord bad = Record("t", 0, "371621", absl::CivilDay(2025, 1, 1), 1, 0);
  bad.set_region_code("999999");
  EXPECT_EQ(store.Apply(bad).code(), absl::StatusCode::kInvalidArgument);
  v1::CountRecord bad_metric = Record("t", 0, "371621", absl::CivilDay(2025, 1, 1), 1, 0);
  bad_metric.mutable_values(0)->set_metric("acidents");
  EXPECT_EQ(store.Apply(bad_metric).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.ApplySerialized("\xff\xff garbage").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.record_count(), 0u);
}

TEST(CountStoreTest, DaysWithCountsSpanTheNonZeroDays) {
  CountStore store(Binzhou());
  EXPECT_FALSE(store.DaysWithCounts().has_value());
  const absl::CivilDay first(2024, 12, 31);
  const absl::CivilDay last(2025, 2, 3);
  ASSERT_TRUE(store.Apply(Record("t", 0, "371602001", last, 1, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 1, "371621", first, 0, 2)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 2, "371681", absl::CivilDay(2025, 1, 15), 5, 0)).ok());
  // A day whose counts went back to 0 (an amendment moved them) holds none.
  ASSERT_TRUE(store.Apply(Record("t", 3, "371681", absl::CivilDay(2025, 6, 1), 1, 0)).ok());
  ASSERT_TRUE(store.Apply(Record("t", 3, "371681", absl::CivilDay(2025, 6, 1), 0, 0)).ok());
  std::optional<Period> days = store.DaysWithCounts();
  ASSERT_TRUE(days.has_value());
  EXPECT_EQ(days->from, first);
  EXPECT_EQ(days->to, last + 1);
  // A tombstone takes its day out too.
  ASSERT_TRUE(store.ApplyTombstone(CountRecordKey(Record("t", 0, "371602001", last, 0, 0))).ok());
  days = store.DaysWithCounts();
  ASSERT_TRUE(days.has_value());
  EXPECT_EQ(days->to, absl::CivilDay(2025, 1, 16));
}

TEST(CountRecordTest, KeyAndSparseValues) {
  v1::CountRecord r = Record("roadpulse.incidents", 3, "371621", absl::CivilDay(2025, 3, 1), 2, 0);
  EXPECT_EQ(CountRecordKey(r), "roadpulse.incidents/3/371621/BUCKET_WIDTH_DAY/" +
                                   std::to_string(DayStart(absl::CivilDay(2025, 3, 1))));
  ASSERT_EQ(r.values_size(), 1);  // zero metrics are left out
  EXPECT_EQ(r.values(0).metric(), "accidents");
  EXPECT_EQ(r.values(0).value(), 2);
}

}  // namespace
}  // namespace roadpulse
