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
#include "processors/region_table.h"
#include "sinks/kafka_count_sink.h"

namespace roadpulse {
namespace {

constexpr int32_t kCoordinator = 1;  // the only broker

class WorkerStopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RegionTable> regions =
        RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
    ASSERT_TRUE(regions.ok()) << regions.status();
    regions_ = std::make_unique<RegionTable>(*std::move(regions));
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(1, {{"roadpulse.incidents", 2, 1},
                               {"roadpulse.violations", 2, 1},
                               {"roadpulse.counts", 2, 1},
                               {"roadpulse.dlq", 1, 1},
                               {"roadpulse.checkpoints", 2, 1}});
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

  // Waits until a SyncGroup request reached the broker (one failure used).
  bool WaitForFirstSyncGroup(size_t pushed, absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      absl::StatusOr<size_t> pending =
          broker_->PendingBrokerRequestErrors(kCoordinator, KafkaApi::kSyncGroup);
      if (pending.ok() && *pending < pushed) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  std::unique_ptr<Worker> NewWorker(const std::string& group) {
    WorkerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.group_id = group;
    absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(options, *regions_, *sink_);
    EXPECT_TRUE(worker.ok()) << worker.status();
    return worker.ok() ? *std::move(worker) : nullptr;
  }

  std::unique_ptr<RegionTable> regions_;
  std::unique_ptr<MockBroker> broker_;
  std::unique_ptr<KafkaCountSink> sink_;
};

// The common case: the group completes its rebalance soon after the stop
// (here its SyncGroup is answered 2 s late). The worker takes its first
// assignment, hands it back unread, and is destroyed like any other.
TEST_F(WorkerStopTest, StoppedBeforeItsFirstAssignmentFinishesTheJoinThenLeaves) {
  constexpr int kHeld = 1;
  HoldSyncGroups(kHeld, std::nullopt, absl::Seconds(2));
  std::unique_ptr<Worker> worker = NewWorker("stop-mid-join");
  ASSERT_NE(worker, nullptr);
  std::atomic<bool> stop{false};
  absl::Status status = absl::UnknownError("Run() did not return");
  std::thread run([&] { status = worker->Run(&stop); });
  const bool synced = WaitForFirstSyncGroup(kHeld, absl::Seconds(30));
  const absl::Time stopped = absl::Now();
  stop.store(true);
  run.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - stopped);
  ASSERT_TRUE(synced) << "no SyncGroup request reached the broker within 30 s";
  ASSERT_TRUE(status.ok()) << status;
  const WorkerStats stats = worker->stats();
  std::printf("stopped mid-join: Run() returned %.2f s after the stop, %lld assignment(s)\n",
              seconds, static_cast<long long>(stats.rebalances));
  // The one assignment is the one it waited for; it read nothing.
  EXPECT_EQ(stats.rebalances, 1);
  EXPECT_EQ(stats.records_consumed, 0);
  worker.reset();  // librdkafka 2.0.2 aborts here unless the join finished
}

// The group cannot complete a rebalance: every SyncGroup is refused, and
// the mock broker takes 5 s (its session timeout less 1 s) to answer each
// JoinGroup after that. The worker gives up waiting for the join after a
// bounded time, and destroying it does not abort the process.
TEST_F(WorkerStopTest, StoppedWhileItsGroupCannotSyncExitsWithoutAborting) {
  constexpr int kFailures = 10;  // at least 50 s of refusals
  HoldSyncGroups(kFailures, MockError::kRebalanceInProgress, absl::Milliseconds(100));
  std::unique_ptr<Worker> worker = NewWorker("stop-no-sync");
  ASSERT_NE(worker, nullptr);
  std::atomic<bool> stop{false};
  absl::Status status = absl::UnknownError("Run() did not return");
  std::thread run([&] { status = worker->Run(&stop); });
  const bool synced = WaitForFirstSyncGroup(kFailures, absl::Seconds(30));
  const absl::Time stopped = absl::Now();
  stop.store(true);
  run.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - stopped);
  ASSERT_TRUE(synced) << "no SyncGroup request reached the broker within 30 s";
  ASSERT_TRUE(status.ok()) << status;
  const WorkerStats stats = worker->stats();
  std::printf(
      "stopped while unsyncable: Run() returned %.2f s after the stop, %lld "
      "assignment(s)\n",
      seconds, static_cast<long long>(stats.rebalances));
  EXPECT_EQ(stats.rebalances, 0);
  worker.reset();  // librdkafka 2.0.2 aborts here unless the consumer is kept
}

}  // namespace
}  // namespace roadpulse
