// TopicReader's time range (offsetsForTimes) on librdkafka's mock cluster
// over TCP, when a lookup finds no record at or after the time asked: right
// when the time is after every record, and what the mock answers for any
// time. The reader warns instead of silently reading nothing (`from`) or
// everything (`to`). The times here are after every record, so any broker
// gives these answers. Also: a stop ends a read that waits for the cluster.
#include "ingest/topic_reader.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "tests/kafka_test_util.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kPerPartition = 3;

class TopicReaderTimesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Partition 2 stays empty.
    absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(1, {{"in", 3, 1}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({broker_->bootstrap_servers(), {}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int32_t p = 0; p < 2; ++p) {
      for (int i = 0; i < kPerPartition; ++i) {
        ASSERT_TRUE((*producer)->Produce("in", "", absl::StrCat(p, "-", i), {}, p).ok());
      }
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  }

  absl::StatusOr<std::unique_ptr<TopicReader>> NewReader(std::optional<absl::Time> from,
                                                         std::optional<absl::Time> to) {
    TopicReaderOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.topics = {"in"};
    options.from = from;
    options.to = to;
    options.timeout = absl::Seconds(20);
    return TopicReader::Create(options);
  }

  // A day after every record produced.
  const absl::Time tomorrow_ = absl::Now() + absl::Hours(24);
  std::unique_ptr<MockBroker> broker_;
};

TEST_F(TopicReaderTimesTest, AStartAfterEveryRecordGivesAnEmptyRangeAndAWarning) {
  testing::CapturedLog log;
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = NewReader(tomorrow_, std::nullopt);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->total(), 0);
  EXPECT_THAT(log.Text(), HasSubstr("no partition holds a record at or after"));
  EXPECT_THAT(log.Text(), HasSubstr("so the range is empty"));
}

TEST_F(TopicReaderTimesTest, AnEndAfterEveryRecordRunsToTheCurrentEndWithAWarning) {
  testing::CapturedLog log;
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = NewReader(std::nullopt, tomorrow_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->total(), 2 * kPerPartition);
  EXPECT_THAT(log.Text(), HasSubstr("so the range runs to the current end"));
}

// A stop set while ReadAll waits for the cluster (every response delayed by
// 5 s) ends the read with kCancelled, not with the records or the deadline.
TEST_F(TopicReaderTimesTest, AStopEndsTheReadWhileItWaits) {
  std::atomic<bool> stop{false};
  TopicReaderOptions options;
  options.bootstrap_servers = broker_->bootstrap_servers();
  options.topics = {"in"};
  options.timeout = absl::Seconds(60);
  options.stop = &stop;
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = TopicReader::Create(options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(broker_->SetBrokerRtt(1, absl::Seconds(5)).ok());
  std::thread stopper([&stop] {
    absl::SleepFor(absl::Milliseconds(300));
    stop.store(true);
  });
  int records = 0;
  absl::Status st = (*reader)->ReadAll([&](const TopicRecord&) {
    ++records;
    return absl::OkStatus();
  });
  stopper.join();
  EXPECT_TRUE(absl::IsCancelled(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("stopped with 2 partitions not read"));
  EXPECT_EQ(records, 0);
  ASSERT_TRUE(broker_->SetBrokerRtt(1, absl::ZeroDuration()).ok());
}

TEST_F(TopicReaderTimesTest, NoTimesNoWarning) {
  testing::CapturedLog log;
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = NewReader(std::nullopt, std::nullopt);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->total(), 2 * kPerPartition);
  EXPECT_THAT(log.Text(), Not(HasSubstr("no partition holds a record")));
}

}  // namespace
}  // namespace roadpulse
