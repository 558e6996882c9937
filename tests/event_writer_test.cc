// KafkaEventWriter (what `roadpulse generate` produces through) against
// librdkafka's mock cluster over TCP; records are read back with an
// independent reader (tests/kafka_test_util.h).
#include "app/event_writer.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

class KafkaEventWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(1, {{"inc", 3, 1}, {"vio", 2, 1}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  std::unique_ptr<KafkaProducer> Producer(KafkaProperties properties = {}) {
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create({broker_->bootstrap_servers(), std::move(properties)});
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? *std::move(producer) : nullptr;
  }

  static KafkaWriterOptions Options() {
    KafkaWriterOptions options;
    options.incidents_topic = "inc";
    options.violations_topic = "vio";
    return options;
  }

  std::unique_ptr<MockBroker> broker_;
};

TEST_F(KafkaEventWriterTest, WritesEachKindToItsTopicKeyedById) {
  std::unique_ptr<KafkaProducer> producer = Producer();
  ASSERT_NE(producer, nullptr);
  KafkaEventWriter writer(*producer, Options());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(writer.Write(v1::EVENT_KIND_INCIDENT, absl::StrCat("A", i), "accident", 0).ok());
  }
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(writer.Write(v1::EVENT_KIND_VIOLATION, absl::StrCat("V", i), "violation", 0).ok());
  }
  const absl::Status no_topic = writer.Write(v1::EVENT_KIND_UNSPECIFIED, "X", "?", 0);
  EXPECT_EQ(no_topic.code(), absl::StatusCode::kInvalidArgument) << no_topic;
  ASSERT_TRUE(writer.Flush().ok());

  absl::StatusOr<std::vector<testing::ReadRecord>> inc =
      testing::ReadTopic(broker_->bootstrap_servers(), "inc");
  absl::StatusOr<std::vector<testing::ReadRecord>> vio =
      testing::ReadTopic(broker_->bootstrap_servers(), "vio");
  ASSERT_TRUE(inc.ok()) << inc.status();
  ASSERT_TRUE(vio.ok()) << vio.status();
  std::set<std::string> inc_keys, vio_keys;
  for (const testing::ReadRecord& r : *inc) {
    EXPECT_EQ(r.value, "accident");
    inc_keys.insert(r.key);
  }
  for (const testing::ReadRecord& r : *vio) {
    EXPECT_EQ(r.value, "violation");
    vio_keys.insert(r.key);
  }
  EXPECT_EQ(inc->size(), 10u);
  EXPECT_EQ(inc_keys,
            (std::set<std::string>{"A0", "A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"}));
  EXPECT_EQ(vio_keys, (std::set<std::string>{"V0", "V1", "V2", "V3"}));
}

// A cluster that takes nothing: the first failed delivery (message.timeout.ms)
// stops the writing at the next Write, not at the final Flush.
TEST_F(KafkaEventWriterTest, WriteReturnsTheFirstFailedDelivery) {
  std::unique_ptr<KafkaProducer> producer = Producer({{"message.timeout.ms", "1500"}});
  ASSERT_NE(producer, nullptr);
  // Connected and the topic learnt before the short timeout applies: on a
  // loaded machine (the sanitizer build in CI) the first connection took
  // longer than the timeout, and the record before the outage expired.
  const absl::StatusOr<int> partitions = producer->Prepare("inc", absl::Seconds(30));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  KafkaEventWriter writer(*producer, Options());
  ASSERT_TRUE(writer.Write(v1::EVENT_KIND_INCIDENT, "A0", "before", 0).ok());
  const absl::Status flushed = writer.Flush();
  ASSERT_TRUE(flushed.ok()) << flushed;
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  absl::Status st;
  int written = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       st.ok() && absl::Now() < deadline; ++written) {
    st = writer.Write(v1::EVENT_KIND_INCIDENT, absl::StrCat("A", written + 1), "while down", 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_THAT(st.message(), HasSubstr("delivery to inc["));
  EXPECT_GT(written, 1);
  EXPECT_EQ(producer->Delivered(), 1);
}

// With max_in_flight records waiting, Write waits for the cluster; told to
// give up, it drops them and returns kCancelled.
TEST_F(KafkaEventWriterTest, WriteAndFlushWaitUntilToldToGiveUp) {
  std::unique_ptr<KafkaProducer> producer = Producer();
  ASSERT_NE(producer, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<bool> give_up{false};
  KafkaWriterOptions options = Options();
  options.max_in_flight = 4;
  options.stop = &stop;
  options.give_up = &give_up;
  KafkaEventWriter writer(*producer, options);
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(writer.Write(v1::EVENT_KIND_VIOLATION, absl::StrCat("V", i), "v", 0).ok());
  }
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    give_up.store(true);
  });
  const absl::Status fifth = writer.Write(v1::EVENT_KIND_VIOLATION, "V4", "v", 0);
  const bool gave_up_before_it_returned = give_up.load();
  stopper.join();
  EXPECT_EQ(fifth.code(), absl::StatusCode::kCancelled) << fifth;
  EXPECT_THAT(fifth.message(), HasSubstr("4 records were not yet delivered"));
  EXPECT_TRUE(gave_up_before_it_returned);
  // Given up on: purged from the producer, none delivered, nothing to flush.
  EXPECT_EQ(producer->InFlight(), 0);
  EXPECT_EQ(producer->Delivered(), 0);
  EXPECT_TRUE(writer.Flush().ok());
}

// Not told to give up, Flush waits flush_timeout and says how many records
// are left.
TEST_F(KafkaEventWriterTest, FlushTimesOutNamingWhatIsLeft) {
  std::unique_ptr<KafkaProducer> producer = Producer();
  ASSERT_NE(producer, nullptr);
  KafkaWriterOptions options = Options();
  options.flush_timeout = absl::Milliseconds(500);
  KafkaEventWriter writer(*producer, options);
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(writer.Write(v1::EVENT_KIND_INCIDENT, absl::StrCat("A", i), "a", 0).ok());
  }
  const absl::Status flushed = writer.Flush();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kDeadlineExceeded) << flushed;
  EXPECT_THAT(flushed.message(), HasSubstr("3 records still in flight"));
  // Back up, everything queued is delivered.
  ASSERT_TRUE(broker_->SetBrokerUp(-1).ok());
  options.flush_timeout = absl::Seconds(30);
  KafkaEventWriter patient(*producer, options);
  EXPECT_TRUE(patient.Flush().ok());
  EXPECT_EQ(producer->Delivered(), 3);
}

}  // namespace
}  // namespace roadpulse
