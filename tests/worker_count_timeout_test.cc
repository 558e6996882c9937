// A count record the producer gives up on is published again, on librdkafka's
// mock cluster over TCP. roadpulse.counts is led by broker 2, which is down
// while the worker publishes its first counts; everything else is on broker
// 1. The count sink's producer uses CountRecordTimeoutMs (3 s with the
// default session), the value `roadpulse run` gives it, and drops the
// records it could not send by then. The worker does not stop on that: it
// counts the failure, checkpoints no record whose counts are not delivered,
// and publishes every bucket again. Once broker 2 is back,
// roadpulse.counts holds every event: each is one speeding violation in
// Bincheng District (371602) on the same day, so the day's count is the
// number of events appended (hand-computed).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "processors/count_store.h"
#include "processors/metrics.h"
#include "sinks/kafka_count_sink.h"
#include "tests/kafka_test_util.h"
#include "tests/test_regions.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

constexpr char kCounts[] = "roadpulse.counts";
constexpr char kGroup[] = "worker-count-timeout-test";
constexpr int kFirst = 300;   // read while broker 2 is down
constexpr int kSecond = 200;  // appended once it is back
constexpr absl::Duration kPatience = absl::Seconds(60);

class WorkerCountTimeoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<TopicSpec> topics = testing::WorkerTopics(1);
    topics.push_back({"roadpulse.checkpoints", 1, 1});
    absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(2, topics);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    for (const TopicSpec& t : topics) {
      for (int p = 0; p < t.partitions; ++p) {
        ASSERT_TRUE(broker_->SetPartitionLeader(t.name, p, t.name == kCounts ? 2 : 1).ok())
            << t.name;
      }
    }
    ASSERT_TRUE(broker_->SetGroupCoordinator(kGroup, 1).ok());
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({broker_->bootstrap_servers(), {}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
  }

  const absl::Time noon_yesterday_ = testing::NoonYesterday();
  std::unique_ptr<MockBroker> broker_;
  std::unique_ptr<KafkaProducer> producer_;
};

TEST_F(WorkerCountTimeoutTest, UndeliveredCountsArePublishedAgain) {
  ASSERT_NO_FATAL_FAILURE(testing::AppendSpeeding(*producer_, "ct-", noon_yesterday_, 0, kFirst));
  ASSERT_TRUE(broker_->SetBrokerDown(2).ok());

  WorkerOptions options;
  options.bootstrap_servers = broker_->bootstrap_servers();
  options.group_id = kGroup;
  options.flush_interval = absl::Milliseconds(100);
  options.checkpoint_interval = absl::Milliseconds(200);
  ProducerOptions sink_options{broker_->bootstrap_servers(), {}};
  sink_options.properties["message.timeout.ms"] = absl::StrCat(CountRecordTimeoutMs(options));
  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink = KafkaCountSink::Create(sink_options);
  ASSERT_TRUE(sink.ok()) << sink.status();
  absl::StatusOr<std::unique_ptr<Worker>> created =
      Worker::Create(options, testing::Binzhou(), **sink);
  ASSERT_TRUE(created.ok()) << created.status();
  Worker& worker = **created;
  testing::WorkerThread running(worker);

  WorkerStats stats;
  ASSERT_TRUE(testing::WaitForStats(
      worker,
      [&](const WorkerStats& s) { return running.returned() || s.count_delivery_failures >= 1; },
      kPatience, &stats))
      << "no count delivery failed within " << kPatience << " (read " << stats.totals.read
      << ", counts published " << stats.counts_published << ")";
  ASSERT_FALSE(running.returned()) << "the worker stopped: " << running.status();
  EXPECT_EQ(stats.totals.read, kFirst);
  // No checkpoint may cover a record whose counts were never delivered (one
  // written at offset 0, before the first record was read, covers none).
  for (const PartitionStats& p : stats.partitions) {
    EXPECT_LE(p.checkpointed_offset, 0) << p.topic << "[" << p.partition << "]";
  }

  ASSERT_TRUE(broker_->SetBrokerUp(2).ok());
  ASSERT_NO_FATAL_FAILURE(
      testing::AppendSpeeding(*producer_, "ct-", noon_yesterday_, kFirst, kSecond));
  // Every record read and checkpointed: the counts before it are delivered.
  const auto all_checkpointed = [](const WorkerStats& s) {
    for (const PartitionStats& p : s.partitions) {
      if (p.topic == "roadpulse.violations" && p.checkpointed_offset == kFirst + kSecond) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(testing::WaitForStats(
      worker,
      [&](const WorkerStats& s) {
        return running.returned() || (s.totals.read == kFirst + kSecond && all_checkpointed(s));
      },
      kPatience, &stats))
      << "read " << stats.totals.read << " of " << kFirst + kSecond << ", checkpoints "
      << stats.checkpoints_written;
  ASSERT_FALSE(running.returned()) << "the worker stopped: " << running.status();
  const absl::Status run_status = running.Join();
  ASSERT_TRUE(run_status.ok()) << run_status;
  stats = worker.stats();
  EXPECT_EQ(stats.totals.counted, kFirst + kSecond);
  EXPECT_GE(stats.count_delivery_failures, 1);

  // What a reader of roadpulse.counts sees: every event.
  CountStore store(testing::Binzhou());
  ASSERT_NO_FATAL_FAILURE(testing::ReadCounts(broker_->bootstrap_servers(), store));
  const absl::CivilDay day = absl::ToCivilDay(noon_yesterday_, testing::Shanghai());
  EXPECT_EQ(store.Sum(Metric::kSpeeding, "371602", day, day + 1), kFirst + kSecond);
}

}  // namespace
}  // namespace roadpulse
