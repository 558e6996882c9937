// A worker reading a backlog publishes less often
// (WorkerOptions::catchup_flush_interval, worker.catchup_flush_interval_ms),
// on librdkafka's mock cluster over TCP. Two workers, in groups of their own,
// read the same kRecords violations of one day and one unit, one record per
// batch, so the consumer queue hands each of them full batches while it
// holds the backlog. Both publish every millisecond when not catching up;
// the first also every millisecond while catching up, the second every hour.
// Both count every record; the second publishes a small fraction of the
// first's count records (each publish repeats the changed buckets).
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "roadpulse/v1/events.pb.h"
#include "tests/kafka_test_util.h"
#include "tests/test_regions.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

constexpr char kViolations[] = "roadpulse.violations";
constexpr int kRecords = 20000;

class WorkerCatchupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(1, testing::WorkerTopics(1));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    const absl::Time noon_yesterday = testing::NoonYesterday();
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({broker_->bootstrap_servers(), {}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = 0; i < kRecords; ++i) {
      const v1::ViolationEvent e =
          testing::BinchengSpeeding(absl::StrCat("catchup-", i), noon_yesterday, i % 3600, 3600);
      ASSERT_TRUE((*producer)->Produce(kViolations, e.id(), e.SerializeAsString(), {}, 0).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  }

  // Reads the whole input in group `group` and returns the worker's stats.
  void ReadAll(const std::string& group, absl::Duration catchup_flush_interval,
               WorkerStats* stats) {
    WorkerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.group_id = group;
    options.checkpoint_interval = absl::ZeroDuration();
    options.max_batch = 1;
    options.flush_interval = absl::Milliseconds(1);
    options.catchup_flush_interval = catchup_flush_interval;
    ASSERT_NO_FATAL_FAILURE(
        testing::RunWorkerToEnd(options, testing::Binzhou(), absl::Seconds(120), stats));
    ASSERT_EQ(stats->totals.read, kRecords) << group;
    EXPECT_EQ(stats->totals.counted, kRecords) << group;
    std::printf("%s: %lld count records in %lld publishes\n", group.c_str(),
                static_cast<long long>(stats->counts_published),
                static_cast<long long>(stats->publish_flushes));
  }

  std::unique_ptr<MockBroker> broker_;
};

TEST_F(WorkerCatchupTest, ABacklogIsPublishedLessOften) {
  WorkerStats every_ms;
  ASSERT_NO_FATAL_FAILURE(ReadAll("catchup-every-ms", absl::Milliseconds(1), &every_ms));
  WorkerStats hourly;
  ASSERT_NO_FATAL_FAILURE(ReadAll("catchup-hourly", absl::Hours(1), &hourly));
  // Every millisecond of reading published the changed buckets again.
  EXPECT_GE(every_ms.counts_published, 100);
  // Catching up, the second published only when its queue ran dry (the
  // fetcher behind) and at the end.
  EXPECT_LE(hourly.counts_published * 5, every_ms.counts_published);
  EXPECT_GE(hourly.counts_published, 1);
}

}  // namespace
}  // namespace roadpulse
