// Input partitions whose offsets include transaction markers, on librdkafka's
// mock cluster over TCP. An exactly-once producer upstream ends each
// transaction with a marker: it takes an offset and no consumer is given it,
// so a partition's last record need not be at its high watermark minus one.
// Read by TopicReader (roadpulse replay/export/inspect from topics,
// checkpoint restore) and by the worker. The ground truth is the list of
// records the test produced, at offsets counted by the test and checked
// against the offset the broker gave each marker.
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/topic_reader.h"
#include "ingest/worker.h"
#include "tests/kafka_test_util.h"
#include "tests/test_regions.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Key;
using ::testing::Not;

constexpr char kTopic[] = "roadpulse.violations";

// (offset, value) of one partition's records, in offset order.
using Records = std::vector<std::pair<int64_t, std::string>>;

class TransactionMarkersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(1, testing::WorkerTopics(2));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({broker_->bootstrap_servers(), {}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
  }

  // Produces `n` violations to `partition`. Their offsets follow the
  // partition's last one: the broker's answer to each marker (its offset)
  // checks the count.
  void Produce(int32_t partition, int n) {
    for (int i = 0; i < n; ++i) {
      const v1::ViolationEvent e = testing::BinchengSpeeding(
          absl::StrCat("p", partition, "-", produced_[partition].size()), noon_yesterday_, i, 60);
      const std::string value = e.SerializeAsString();
      ASSERT_TRUE(producer_->Produce(kTopic, e.id(), value, {}, partition).ok());
      produced_[partition].emplace_back(next_offset_[partition]++, value);
    }
    ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  }

  void Marker(int32_t partition) {
    absl::StatusOr<int64_t> offset =
        testing::AppendTransactionMarker(broker_->bootstrap_servers(), kTopic, partition);
    ASSERT_TRUE(offset.ok()) << offset.status();
    ASSERT_EQ(*offset, next_offset_[partition]) << "partition " << partition;
    markers_[partition].push_back(next_offset_[partition]++);
  }

  // Partition 0: five records and a marker; partition 1: three records, a
  // marker, four records, a marker. Both end in a marker.
  void WriteEndingInMarkers() {
    Produce(0, 5);
    Marker(0);
    Produce(1, 3);
    Marker(1);
    Produce(1, 4);
    Marker(1);
  }

  absl::StatusOr<std::unique_ptr<TopicReader>> NewReader() {
    TopicReaderOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.topics = {kTopic};
    // Longer than a read takes here (well under a second), far shorter than
    // the default ten minutes the reader used to wait before failing.
    options.timeout = absl::Seconds(20);
    // librdkafka checks each batch's CRC-32C, the markers' included.
    options.properties = {{"check.crcs", "true"}};
    return TopicReader::Create(options);
  }

  // A worker of group `group`, without checkpoints, run to the end of both
  // input topics.
  void RunWorker(const std::string& group, WorkerStats* stats) {
    WorkerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.group_id = group;
    options.checkpoint_interval = absl::ZeroDuration();
    ASSERT_NO_FATAL_FAILURE(
        testing::RunWorkerToEnd(options, testing::Binzhou(), absl::Seconds(60), stats));
  }

  static absl::StatusOr<std::map<int32_t, Records>> ReadAll(TopicReader& reader) {
    std::map<int32_t, Records> got;
    absl::Status s = reader.ReadAll([&](const TopicRecord& r) {
      got[r.partition].emplace_back(r.offset, std::string(r.value));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return got;
  }

  const absl::Time noon_yesterday_ = testing::NoonYesterday();
  std::unique_ptr<MockBroker> broker_;
  std::unique_ptr<KafkaProducer> producer_;
  std::map<int32_t, Records> produced_;
  std::map<int32_t, std::vector<int64_t>> markers_;
  std::map<int32_t, int64_t> next_offset_;
};

TEST_F(TransactionMarkersTest, ReadsToTheEndWhenTheLastOffsetIsATransactionMarker) {
  ASSERT_NO_FATAL_FAILURE(WriteEndingInMarkers());

  absl::StatusOr<std::unique_ptr<TopicReader>> reader = NewReader();
  ASSERT_TRUE(reader.ok()) << reader.status();
  // The planned ranges run to the high watermarks, markers included.
  ASSERT_EQ((*reader)->ranges().size(), 2u);
  EXPECT_EQ((*reader)->ranges()[0].end, next_offset_[0]);
  EXPECT_EQ((*reader)->ranges()[1].end, next_offset_[1]);

  absl::StatusOr<std::map<int32_t, Records>> got = ReadAll(**reader);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT((*got)[0], ElementsAreArray(produced_[0]));
  EXPECT_THAT((*got)[1], ElementsAreArray(produced_[1]));
  for (auto& [partition, offsets] : markers_) {
    for (int64_t marker : offsets) {
      EXPECT_THAT((*got)[partition], Not(Contains(Key(marker))))
          << "marker at " << partition << "@" << marker << " given as a record";
    }
  }
}

TEST_F(TransactionMarkersTest, StopsAtItsPlannedEndWhenTheOffsetBeforeItIsAMarker) {
  Produce(0, 4);
  Marker(0);
  Produce(1, 2);
  ASSERT_FALSE(HasFailure());
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = NewReader();
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::map<int32_t, Records> planned = produced_;
  // Records written after the ranges were planned are outside them: the
  // first one on partition 0 comes right after the marker.
  Produce(0, 3);
  Produce(1, 2);
  ASSERT_FALSE(HasFailure());

  absl::StatusOr<std::map<int32_t, Records>> got = ReadAll(**reader);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT((*got)[0], ElementsAreArray(planned.at(0)));
  EXPECT_THAT((*got)[1], ElementsAreArray(planned.at(1)));
}

TEST_F(TransactionMarkersTest, AWorkerCountsEveryRecordAndEndsAtTheHighWatermark) {
  ASSERT_NO_FATAL_FAILURE(WriteEndingInMarkers());
  WorkerStats stats;
  ASSERT_NO_FATAL_FAILURE(RunWorker("markers", &stats));
  const int64_t records = static_cast<int64_t>(produced_[0].size() + produced_[1].size());
  EXPECT_EQ(stats.totals.read, records);
  EXPECT_EQ(stats.totals.counted, records);
  EXPECT_EQ(stats.dead_lettered, 0);
  for (const PartitionStats& p : stats.partitions) {
    if (p.topic != kTopic) continue;
    SCOPED_TRACE(absl::StrCat(p.topic, "[", p.partition, "]"));
    // Past the last marker: no lag left to report.
    EXPECT_EQ(p.next_offset, next_offset_[p.partition]);
    EXPECT_EQ(p.high_watermark, next_offset_[p.partition]);
    EXPECT_TRUE(p.reached_end);
  }
}

// A partition whose first offsets hold no record (here a marker at offset 0,
// as after an aborted transaction or compaction) has lost nothing: the
// worker says so, and does not report records deleted by retention.
TEST_F(TransactionMarkersTest, OffsetsWithoutRecordsAtTheStartAreNotCalledDeleted) {
  Marker(0);
  Produce(0, 3);
  ASSERT_FALSE(HasFailure());
  WorkerStats stats;
  testing::CapturedLog log;
  ASSERT_NO_FATAL_FAILURE(RunWorker("markers-first", &stats));
  EXPECT_EQ(stats.totals.counted, 3);
  const std::string text = log.Text();
  EXPECT_THAT(text, HasSubstr("roadpulse.violations[0]: offsets 0 to 0 hold no record to count"));
  EXPECT_THAT(text, Not(HasSubstr("deleted by the broker")));
}

// The mock cluster keeps about 5 MiB per partition, dropping its oldest
// batches as a broker's retention would: the worker reports where the log
// now starts, and counts every record from there.
TEST_F(TransactionMarkersTest, RecordsDeletedBeforeTheFirstAreReportedWithTheLogStart) {
  // Random bytes, which the producer's compression cannot shrink; not
  // protobuf, so dead-lettered.
  std::mt19937_64 rng(7);
  std::string junk(100 * 1024, '\0');
  for (int i = 0; i < 80; ++i) {
    for (char& c : junk) c = static_cast<char>(rng());
    ASSERT_TRUE(producer_->Produce(kTopic, absl::StrCat("j", i), junk, {}, 1).ok());
    if (i % 8 == 7) {
      ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
    }
  }
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  // The ground truth: what an independent reader still finds.
  absl::StatusOr<std::vector<testing::ReadRecord>> left =
      testing::ReadTopic(broker_->bootstrap_servers(), kTopic);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_FALSE(left->empty());
  const int64_t first = left->front().offset;
  ASSERT_GT(first, 0) << "the mock kept all 8 MiB: nothing to test";

  WorkerStats stats;
  testing::CapturedLog log;
  ASSERT_NO_FATAL_FAILURE(RunWorker("retention", &stats));
  EXPECT_EQ(stats.totals.read, static_cast<int64_t>(left->size()));
  EXPECT_EQ(stats.dead_lettered, static_cast<int64_t>(left->size()));
  const std::string text = log.Text();
  EXPECT_THAT(text, HasSubstr(absl::StrCat("roadpulse.violations[1] starts at offset ", first,
                                           ": the records before it were deleted by the broker")));
  EXPECT_THAT(text, Not(HasSubstr("hold no record")));
}

}  // namespace
}  // namespace roadpulse
