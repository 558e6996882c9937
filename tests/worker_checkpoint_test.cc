// The worker's periodic checkpoint round does not stop the counting, on
// librdkafka's mock cluster over TCP. The checkpoint topic's only partition
// is led by broker 2, which answers its first Produce request kHold late;
// everything else is on broker 1. The worker counts a first part of the
// input and writes a checkpoint round that stays unacknowledged; the test
// then appends a second part. The worker reads and counts it while the
// round is still in flight (no checkpoint, and no checkpoint byte, counted
// yet); a worker that waited for the round could read nothing for kHold.
// Once the round is acknowledged it is confirmed, and on stop the final
// round covers every record: a restore would resume after the last one.
// The worker's checkpoint counters then match what the topic holds.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ingest/checkpoint_store.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "roadpulse/v1/counts.pb.h"
#include "roadpulse/v1/events.pb.h"
#include "sinks/kafka_count_sink.h"
#include "tests/kafka_test_util.h"
#include "tests/test_regions.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

constexpr char kViolations[] = "roadpulse.violations";
constexpr char kCheckpoints[] = "roadpulse.checkpoints";
constexpr char kGroup[] = "worker-checkpoint-test";
constexpr int kFirst = 400;   // records before the round
constexpr int kSecond = 300;  // records appended while it is in flight
// How late broker 2 answers the round's first Produce request: far longer
// than reading kSecond records takes, even under a sanitizer.
constexpr absl::Duration kHold = absl::Seconds(10);
constexpr absl::Duration kPatience = absl::Seconds(60);

class WorkerCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<TopicSpec> topics = testing::WorkerTopics(1);
    topics.push_back({kCheckpoints, 1, 1});
    absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(2, topics);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    for (const TopicSpec& t : testing::WorkerTopics(1)) {
      for (int p = 0; p < t.partitions; ++p) {
        ASSERT_TRUE(broker_->SetPartitionLeader(t.name, p, 1).ok()) << t.name;
      }
    }
    ASSERT_TRUE(broker_->SetPartitionLeader(kCheckpoints, 0, 2).ok());
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({broker_->bootstrap_servers(), {}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
  }

  std::unique_ptr<MockBroker> broker_;
  std::unique_ptr<KafkaProducer> producer_;
};

TEST_F(WorkerCheckpointTest, CountingGoesOnWhileARoundIsInFlight) {
  ASSERT_NO_FATAL_FAILURE(
      testing::AppendSpeeding(*producer_, "cp-", testing::NoonYesterday(), 0, kFirst));
  ASSERT_TRUE(broker_
                  ->PushBrokerRequestErrors(2, KafkaApi::kProduce,
                                            {MockBroker::DelayedError{std::nullopt, kHold}})
                  .ok());

  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink =
      KafkaCountSink::Create({broker_->bootstrap_servers(), {}});
  ASSERT_TRUE(sink.ok()) << sink.status();
  WorkerOptions options;
  options.bootstrap_servers = broker_->bootstrap_servers();
  options.group_id = kGroup;
  options.flush_interval = absl::Milliseconds(20);
  options.checkpoint_interval = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<Worker>> created =
      Worker::Create(options, testing::Binzhou(), **sink);
  ASSERT_TRUE(created.ok()) << created.status();
  Worker& worker = **created;
  testing::WorkerThread running(worker);

  // The round's Produce request reached broker 2 (and is held there).
  absl::StatusOr<size_t> left;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        left = broker_->PendingBrokerRequestErrors(2, KafkaApi::kProduce);
        return !left.ok() || *left == 0;
      },
      kPatience))
      << "no checkpoint round was written";
  ASSERT_TRUE(left.ok()) << left.status();
  const absl::Time held_from = absl::Now();

  ASSERT_NO_FATAL_FAILURE(
      testing::AppendSpeeding(*producer_, "cp-", testing::NoonYesterday(), kFirst, kSecond));
  WorkerStats stats;
  ASSERT_TRUE(testing::WaitForStats(
      worker, [](const WorkerStats& s) { return s.totals.read == kFirst + kSecond; }, kPatience,
      &stats))
      << "read " << stats.totals.read << " of " << kFirst + kSecond;
  // The round is still unconfirmed: the second part was read during the
  // hold. (A worker that waits for its round reads nothing until the hold
  // ends, and by then the round is confirmed.)
  EXPECT_EQ(stats.checkpoints_written, 0)
      << "the second part was read only after the round was confirmed, "
      << absl::FormatDuration(absl::Now() - held_from) << " after the round's request was held "
      << "(hold " << absl::FormatDuration(kHold) << ")";
  EXPECT_EQ(stats.checkpoint_bytes, 0) << "bytes of an unacknowledged round were counted";
  EXPECT_EQ(stats.totals.counted, kFirst + kSecond);

  // The held round is acknowledged, then confirmed; later rounds follow.
  ASSERT_TRUE(testing::WaitForStats(
      worker, [](const WorkerStats& s) { return s.checkpoints_written >= 1; }, kPatience, &stats))
      << "the round was never confirmed";
  const absl::Status run_status = running.Join();
  ASSERT_TRUE(run_status.ok()) << run_status;
  stats = worker.stats();
  EXPECT_EQ(stats.totals.read, kFirst + kSecond);
  EXPECT_EQ(stats.totals.counted, kFirst + kSecond);

  // What a restore would see: the newest checkpoint covers every record.
  CheckpointStoreOptions store_options;
  store_options.bootstrap_servers = broker_->bootstrap_servers();
  store_options.group = kGroup;
  absl::StatusOr<std::unique_ptr<CheckpointStore>> store = CheckpointStore::Create(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::map<InputPartition, Checkpoint>> latest =
      (*store)->ReadLatest({{kViolations, 0}});
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->count({kViolations, 0}), 1u);
  const Checkpoint& cp = latest->at({kViolations, 0});
  EXPECT_EQ(cp.next_offset, kFirst + kSecond);
  EXPECT_EQ(cp.state.tally().read(), kFirst + kSecond);

  // The worker's checkpoint counters match what the topic holds: every
  // round was acknowledged, so each partition checkpoint in it (its first
  // chunk) counts once, with the state size it declares.
  absl::StatusOr<std::vector<testing::ReadRecord>> records =
      testing::ReadTopic(broker_->bootstrap_servers(), kCheckpoints, kPatience);
  ASSERT_TRUE(records.ok()) << records.status();
  int64_t in_topic = 0;
  int64_t in_topic_bytes = 0;
  for (const testing::ReadRecord& r : *records) {
    v1::PartitionCheckpoint chunk;
    ASSERT_TRUE(chunk.ParseFromString(r.value)) << "offset " << r.offset;
    if (chunk.group() == kGroup && chunk.chunk_index() == 0) {
      ++in_topic;
      in_topic_bytes += chunk.state_size();
    }
  }
  EXPECT_GE(in_topic, 1);
  EXPECT_EQ(stats.checkpoints_written, in_topic);
  EXPECT_EQ(stats.checkpoint_bytes, in_topic_bytes);
}

}  // namespace
}  // namespace roadpulse
