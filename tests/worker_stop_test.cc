// A worker stopped while it joins its group, on librdkafka's mock cluster
// over TCP.
//
// librdkafka before 2.3.0 (Debian 12 ships 2.0.2) aborts in rd_kafka_destroy()
// when a consumer using the cooperative-sticky assignor is closed after its
// JoinGroup was answered and before its first SyncGroup was
// (confluentinc/librdkafka#4381). A rolling restart hit it: a worker sent
// SIGTERM during its group's rebalance died of SIGABRT. Here the mock broker
// holds back or refuses the answers to SyncGroup, so the worker stays in
// that window for as long as the test needs; the test stops it once the
// first SyncGroup has reached the broker, which is sent only after a
// JoinGroup was answered.
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "sinks/kafka_count_sink.h"
#include "tests/test_regions.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

constexpr int32_t kCoordinator = 1;  // the only broker

class WorkerStopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<TopicSpec> topics = testing::WorkerTopics(2);
    topics.push_back({"roadpulse.checkpoints", 2, 1});
    absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(1, topics);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink =
        KafkaCountSink::Create({broker_->bootstrap_servers(), {}});
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = *std::move(sink);
  }

  // The next `count` SyncGroup requests are answered `rtt` late, with
  // `error` or normally.
  void HoldSyncGroups(int count, std::optional<MockError> error, absl::Duration rtt) {
    std::vector<MockBroker::DelayedError> errors(count, MockBroker::DelayedError{error, rtt});
    ASSERT_TRUE(broker_->PushBrokerRequestErrors(kCoordinator, KafkaApi::kSyncGroup, errors).ok());
  }

  struct Stopped {
    bool synced = false;  // a SyncGroup reached the broker before the stop
    absl::Status status;  // what Run() returned
    double seconds = 0;   // from the stop to Run()'s return
    WorkerStats stats;    // after Run() returned
  };

  // Runs a worker of `group` and stops it as soon as a SyncGroup request has
  // reached the broker (one of the `held` entries is used), or after 30 s.
  // The worker is left in *worker: destroying it is the last step.
  Stopped RunAndStopInJoin(const std::string& group, size_t held, std::unique_ptr<Worker>* worker) {
    Stopped out;
    WorkerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.group_id = group;
    absl::StatusOr<std::unique_ptr<Worker>> created =
        Worker::Create(options, testing::Binzhou(), *sink_);
    if (!created.ok()) {
      out.status = created.status();
      return out;
    }
    *worker = *std::move(created);
    std::atomic<bool> stop{false};
    out.status = absl::UnknownError("Run() did not return");
    std::thread run([&] { out.status = (*worker)->Run(&stop); });
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!out.synced && absl::Now() < deadline) {
      absl::StatusOr<size_t> pending =
          broker_->PendingBrokerRequestErrors(kCoordinator, KafkaApi::kSyncGroup);
      out.synced = pending.ok() && *pending < held;
      if (!out.synced) absl::SleepFor(absl::Milliseconds(20));
    }
    const absl::Time stopped = absl::Now();
    stop.store(true);
    run.join();
    out.seconds = absl::ToDoubleSeconds(absl::Now() - stopped);
    out.stats = (*worker)->stats();
    return out;
  }

  std::unique_ptr<MockBroker> broker_;
  std::unique_ptr<KafkaCountSink> sink_;
};

// The common case: the group completes its rebalance soon after the stop
// (here its SyncGroup is answered 2 s late). The worker takes its first
// assignment, hands it back unread, and is destroyed like any other.
TEST_F(WorkerStopTest, StoppedBeforeItsFirstAssignmentFinishesTheJoinThenLeaves) {
  constexpr int kHeld = 1;
  HoldSyncGroups(kHeld, std::nullopt, absl::Seconds(2));
  std::unique_ptr<Worker> worker;
  const Stopped run = RunAndStopInJoin("stop-mid-join", kHeld, &worker);
  ASSERT_TRUE(run.synced) << "no SyncGroup request reached the broker within 30 s";
  ASSERT_TRUE(run.status.ok()) << run.status;
  std::printf("stopped mid-join: Run() returned %.2f s after the stop, %lld assignment(s)\n",
              run.seconds, static_cast<long long>(run.stats.rebalances));
  // The one assignment is the one it waited for; it read nothing.
  EXPECT_EQ(run.stats.rebalances, 1);
  EXPECT_EQ(run.stats.records_consumed, 0);
  worker.reset();  // librdkafka 2.0.2 aborts here unless the join finished
}

// The group cannot complete a rebalance: every SyncGroup is refused, and
// the mock broker takes 5 s (its session timeout less 1 s) to answer each
// JoinGroup after that. The worker gives up waiting for the join after a
// bounded time, and destroying it does not abort the process.
TEST_F(WorkerStopTest, StoppedWhileItsGroupCannotSyncExitsWithoutAborting) {
  constexpr int kFailures = 10;  // at least 50 s of refusals
  HoldSyncGroups(kFailures, MockError::kRebalanceInProgress, absl::Milliseconds(100));
  std::unique_ptr<Worker> worker;
  const Stopped run = RunAndStopInJoin("stop-no-sync", kFailures, &worker);
  ASSERT_TRUE(run.synced) << "no SyncGroup request reached the broker within 30 s";
  ASSERT_TRUE(run.status.ok()) << run.status;
  std::printf(
      "stopped while unsyncable: Run() returned %.2f s after the stop, %lld assignment(s)\n",
      run.seconds, static_cast<long long>(run.stats.rebalances));
  EXPECT_EQ(run.stats.rebalances, 0);
  worker.reset();  // librdkafka 2.0.2 aborts here unless the consumer is kept
}

}  // namespace
}  // namespace roadpulse
