// KafkaCountSink on librdkafka's mock cluster over TCP: with a broker that
// answers every request a second late, publishing far more records than
// kCountsQueueMessages never leaves more than that many waiting for delivery
// (librdkafka's own default would queue them all), and every record still
// arrives, as a separate consumer reads back.
#include "sinks/kafka_count_sink.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ingest/mock_broker.h"
#include "roadpulse/v1/counts.pb.h"
#include "tests/kafka_test_util.h"

namespace roadpulse {
namespace {

constexpr char kTopic[] = "roadpulse.counts";

TEST(KafkaCountSinkTest, BoundsRecordsWaitingForDeliveryAndDeliversThemAll) {
  absl::StatusOr<std::unique_ptr<MockBroker>> broker =
      MockBroker::Create(1, {TopicSpec{kTopic, 4, 1}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink =
      KafkaCountSink::Create({(*broker)->bootstrap_servers(), {}}, kTopic);
  ASSERT_TRUE(sink.ok()) << sink.status();
  // Deliveries now lag far behind the publishing loop below.
  ASSERT_TRUE((*broker)->SetBrokerRtt(1, absl::Seconds(1)).ok());

  const int records = 3 * kCountsQueueMessages;
  int64_t most_in_flight = 0;
  v1::CountRecord record;
  for (int i = 0; i < records; ++i) {
    record.Clear();
    record.set_source_topic("roadpulse.violations");
    record.set_source_partition(i % 7);
    record.set_region_code(absl::StrCat("r", i));
    record.set_bucket_start_unix_s(1700000000 + i * 60);
    record.set_width(v1::BUCKET_WIDTH_MINUTE);
    ASSERT_TRUE((*sink)->Publish(record).ok());
    most_in_flight = std::max(most_in_flight, (*sink)->in_flight());
  }
  EXPECT_LE(most_in_flight, kCountsQueueMessages);
  // Not a bound that holds trivially: the queue did fill up.
  EXPECT_GE(most_in_flight, kCountsQueueMessages / 2);
  ASSERT_TRUE((*broker)->SetBrokerRtt(1, absl::ZeroDuration()).ok());
  ASSERT_TRUE((*sink)->Flush(absl::Seconds(60)).ok());
  EXPECT_EQ((*sink)->in_flight(), 0);

  // Every record arrived once: read back by key with a separate consumer.
  absl::StatusOr<std::vector<testing::ReadRecord>> read =
      testing::ReadTopic((*broker)->bootstrap_servers(), kTopic, absl::Seconds(60));
  ASSERT_TRUE(read.ok()) << read.status();
  std::set<std::string> keys;
  for (const testing::ReadRecord& r : *read) keys.insert(r.key);
  EXPECT_EQ(read->size(), static_cast<size_t>(records));
  EXPECT_EQ(keys.size(), static_cast<size_t>(records));
}

}  // namespace
}  // namespace roadpulse
