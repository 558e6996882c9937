// `roadpulse broker --control`'s command language (app/broker_control.h)
// against a real in-process mock cluster, and the name mappings behind it.
#include "app/broker_control.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(MockNamesTest, KafkaApiNamesRoundTripCaseInsensitive) {
  for (KafkaApi api : {KafkaApi::kProduce, KafkaApi::kFetch, KafkaApi::kOffsetCommit,
                       KafkaApi::kJoinGroup, KafkaApi::kHeartbeat, KafkaApi::kSyncGroup}) {
    absl::StatusOr<KafkaApi> back = KafkaApiFromName(KafkaApiName(api));
    ASSERT_TRUE(back.ok()) << KafkaApiName(api);
    EXPECT_EQ(*back, api);
  }
  ASSERT_TRUE(KafkaApiFromName("offsetcommit").ok());
  EXPECT_EQ(*KafkaApiFromName("offsetcommit"), KafkaApi::kOffsetCommit);
  absl::StatusOr<KafkaApi> bad = KafkaApiFromName("Fetchh");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("Fetchh"));
  EXPECT_THAT(bad.status().message(), HasSubstr("OffsetCommit"));  // lists the known names
}

TEST(MockNamesTest, ErrorsByLibrdkafkaName) {
  ASSERT_TRUE(MockErrorFromName("NOT_LEADER_FOR_PARTITION").ok());
  EXPECT_EQ(*MockErrorFromName("NOT_LEADER_FOR_PARTITION"), MockError::kNotLeaderForPartition);
  EXPECT_EQ(*MockErrorFromName("request_timed_out"), MockError::kRequestTimedOut);
  EXPECT_EQ(*MockErrorFromName("_TRANSPORT"), MockError::kTransport);
  EXPECT_EQ(*MockErrorFromName("TRANSPORT"), MockError::kTransport);
  EXPECT_EQ(MockErrorName(MockError::kCoordinatorNotAvailable), "COORDINATOR_NOT_AVAILABLE");
  absl::StatusOr<MockError> bad = MockErrorFromName("DISK_FULL");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("DISK_FULL"));
}

class BrokerControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(3, {{"roadpulse.incidents", 4, 1}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    control_ = std::make_unique<BrokerControl>(*broker_);
  }
  std::string Run(std::string_view line) { return control_->Execute(line); }

  std::unique_ptr<MockBroker> broker_;
  std::unique_ptr<BrokerControl> control_;
};

TEST_F(BrokerControlTest, GoodCommandsAnswerOk) {
  EXPECT_EQ(Run("down 2"), "ok broker 2 down");
  EXPECT_EQ(Run("up 2"), "ok broker 2 up");
  EXPECT_EQ(Run("down -1"), "ok broker -1 down");
  EXPECT_EQ(Run("up -1"), "ok broker -1 up");
  EXPECT_EQ(Run("rtt 1 250"), "ok broker 1 rtt 250 ms");
  EXPECT_EQ(Run("rtt 1 0"), "ok broker 1 rtt 0 ms");
  EXPECT_EQ(Run("errors Fetch NOT_LEADER_FOR_PARTITION 3"),
            "ok next 3 Fetch request(s) fail with NOT_LEADER_FOR_PARTITION");
  EXPECT_EQ(Run("  errors offsetcommit request_timed_out 1\r"),
            "ok next 1 OffsetCommit request(s) fail with REQUEST_TIMED_OUT");
  EXPECT_EQ(Run("clear Fetch"), "ok Fetch errors cleared");
  EXPECT_EQ(Run("coordinator roadpulse 3"), "ok group roadpulse coordinator is broker 3");
  EXPECT_EQ(Run("leader roadpulse.incidents 1 2"), "ok roadpulse.incidents[1] leader is broker 2");
  EXPECT_THAT(Run("help"), StartsWith("ok commands: "));
}

TEST_F(BrokerControlTest, TopicCreatesATopicWithThatManyPartitions) {
  EXPECT_EQ(Run("topic bench.checkpoints.1 6"),
            "ok topic bench.checkpoints.1 created with 6 partitions");
  // Its last partition exists and the next one does not.
  EXPECT_EQ(Run("leader bench.checkpoints.1 5 2"), "ok bench.checkpoints.1[5] leader is broker 2");
  EXPECT_EQ(Run("leader bench.checkpoints.1 6 2"),
            "error: mock broker: no partition bench.checkpoints.1[6] (created topics only)");
  EXPECT_EQ(Run("topic t 0"), "error: partition count 0 is out of range [1, 1024]");
  EXPECT_THAT(Run("topic t"), StartsWith("error: 'topic' takes 2 argument(s), got 1"));
}

TEST_F(BrokerControlTest, BadCommandsNameTheProblem) {
  EXPECT_THAT(Run(""), StartsWith("error: empty command"));
  EXPECT_THAT(Run("explode 1"), StartsWith("error: unknown command 'explode'"));
  EXPECT_THAT(Run("down"), StartsWith("error: 'down' takes 1 argument(s), got 0"));
  EXPECT_THAT(Run("down 1 2"), StartsWith("error: 'down' takes 1 argument(s), got 2"));
  EXPECT_EQ(Run("down 4"), "error: broker id 4 is out of range [-1, 3]");
  EXPECT_THAT(Run("down 0"), StartsWith("error: broker id 0: brokers are numbered 1..3"));
  EXPECT_EQ(Run("up two"), "error: broker id 'two' is not an integer");
  EXPECT_EQ(Run("rtt 1 -5"), "error: rtt milliseconds -5 is out of range [0, 60000]");
  EXPECT_THAT(Run("errors Fetchh REQUEST_TIMED_OUT 1"),
              StartsWith("error: unknown Kafka API 'Fetchh'"));
  EXPECT_THAT(Run("errors Fetch DISK_FULL 1"), StartsWith("error: unknown or unsupported error"));
  EXPECT_EQ(Run("errors Fetch REQUEST_TIMED_OUT 0"),
            "error: error count 0 is out of range [1, 100000]");
  EXPECT_EQ(Run("coordinator roadpulse -1"), "error: broker id -1 is out of range [1, 3]");
  EXPECT_EQ(Run("leader no.such.topic 0 1"),
            "error: mock broker: no partition no.such.topic[0] (created topics only)");
  EXPECT_EQ(Run("leader roadpulse.incidents 4 1"),
            "error: mock broker: no partition roadpulse.incidents[4] (created topics only)");
  EXPECT_EQ(Run("leader roadpulse.incidents x 1"), "error: partition 'x' is not an integer");
  // The cluster still answers after all of that.
  EXPECT_EQ(Run("down 1"), "ok broker 1 down");
  EXPECT_EQ(Run("up 1"), "ok broker 1 up");
}

}  // namespace
}  // namespace roadpulse
