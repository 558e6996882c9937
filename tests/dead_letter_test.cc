// Reading dead letters back (`roadpulse inspect --topic roadpulse.dlq`): the
// kDlq* headers as a worker writes them, through TopicReader on librdkafka's
// mock cluster over TCP, into a JSON line that replay reads as the refused
// record's original bytes.
#include "ingest/dead_letter.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/event_log_json.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/topic_reader.h"

namespace roadpulse {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

TopicRecord DlqRecord(const Headers& headers) {
  TopicRecord r;
  r.topic = "roadpulse.dlq";
  r.partition = 3;
  r.offset = 41;
  r.headers = headers;
  return r;
}

TEST(ReadDeadLetterTest, ReadsTheHeadersAndWhereTheRecordWasRead) {
  std::optional<DeadLetterRecord> d = ReadDeadLetter(DlqRecord({
      {kDlqReasonHeader, "unknown_region"},
      {kDlqDetailHeader, "region_code \"999999\" is not in the region table"},
      {kDlqSourceTopicHeader, "roadpulse.violations"},
      {kDlqSourcePartitionHeader, "7"},
      {kDlqSourceOffsetHeader, "12345678901"},
      {"trace-id", "abc"},  // the record's own header: not ours
  }));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->dead_letter.reason(), "unknown_region");
  EXPECT_EQ(d->dead_letter.detail(), "region_code \"999999\" is not in the region table");
  EXPECT_EQ(d->dead_letter.topic(), "roadpulse.dlq");
  EXPECT_EQ(d->dead_letter.partition(), 3);
  EXPECT_EQ(d->dead_letter.offset(), 41);
  EXPECT_FALSE(d->dead_letter.has_value_omitted_bytes());
  EXPECT_FALSE(d->dead_letter.has_key_omitted_bytes());
  ASSERT_TRUE(d->source.has_value());
  EXPECT_EQ(d->source->topic, "roadpulse.violations");
  EXPECT_EQ(d->source->partition, 7);
  EXPECT_EQ(d->source->offset, 12345678901);
}

TEST(ReadDeadLetterTest, OmittedSizesIncompleteSourcesAndRepeatedHeaders) {
  std::optional<DeadLetterRecord> d = ReadDeadLetter(DlqRecord({
      {kDlqReasonHeader, "not_protobuf"},
      {kDlqSourceTopicHeader, "roadpulse.incidents"},
      {kDlqSourcePartitionHeader, "seven"},  // not a number: no source
      {kDlqSourceOffsetHeader, "5"},
      {kDlqValueOmittedHeader, "1040000"},
      {kDlqKeyOmittedHeader, "2000"},
  }));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->dead_letter.value_omitted_bytes(), 1040000);
  EXPECT_EQ(d->dead_letter.key_omitted_bytes(), 2000);
  EXPECT_FALSE(d->source.has_value());
  // The worker's headers come first: a record re-produced from the DLQ with
  // its headers and refused again carries the earlier refusal's among its own.
  d = ReadDeadLetter(DlqRecord({
      {kDlqReasonHeader, "unknown_region"},
      {kDlqDetailHeader, "now"},
      {kDlqSourceTopicHeader, "roadpulse.incidents"},
      {kDlqSourcePartitionHeader, "1"},
      {kDlqSourceOffsetHeader, "99"},
      {kDlqReasonHeader, "not_protobuf"},
      {kDlqDetailHeader, "before"},
      {kDlqSourceTopicHeader, "roadpulse.violations"},
      {kDlqSourcePartitionHeader, "2"},
      {kDlqSourceOffsetHeader, "5"},
  }));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->dead_letter.reason(), "unknown_region");
  EXPECT_EQ(d->dead_letter.detail(), "now");
  ASSERT_TRUE(d->source.has_value());
  EXPECT_EQ(d->source->topic, "roadpulse.incidents");
  EXPECT_EQ(d->source->partition, 1);
  EXPECT_EQ(d->source->offset, 99);
  // No reason header: not written by a worker.
  EXPECT_FALSE(ReadDeadLetter(DlqRecord({{kDlqSourceTopicHeader, "roadpulse.incidents"},
                                         {kDlqSourcePartitionHeader, "0"},
                                         {kDlqSourceOffsetHeader, "5"}}))
                   .has_value());
  EXPECT_FALSE(ReadDeadLetter(DlqRecord({})).has_value());
}

TEST(DeadLetterJsonTest, ReplayReadsTheOriginalBytesAndIgnoresTheDeadLetter) {
  v1::IncidentEvent event;  // valid protobuf, refused by a rule (an empty id)
  event.set_deaths(2);
  const std::string value = event.SerializeAsString();
  std::optional<DeadLetterRecord> d = ReadDeadLetter(DlqRecord({
      {kDlqReasonHeader, "empty_id"},
      {kDlqDetailHeader, "id is empty"},
      {kDlqSourceTopicHeader, "roadpulse.incidents"},
      {kDlqSourcePartitionHeader, "2"},
      {kDlqSourceOffsetHeader, "9"},
  }));
  ASSERT_TRUE(d.has_value());
  std::string line;
  AppendEventLogJson(v1::EVENT_KIND_INCIDENT, "A-1", value, 1700000000000, d->source,
                     &d->dead_letter, &line);
  EXPECT_THAT(line, HasSubstr(R"("incident":{"deaths":2})"));
  EXPECT_THAT(line, HasSubstr(R"("sourceTopic":"roadpulse.incidents","sourcePartition":2,)"
                              R"("sourceOffset":"9")"));
  EXPECT_THAT(line, HasSubstr(R"("deadLetter":{"reason":"empty_id","detail":"id is empty",)"
                              R"("topic":"roadpulse.dlq","partition":3,"offset":"41"})"));
  v1::LoggedRecord back;
  ASSERT_TRUE(ParseEventLogJson(line, &back).ok()) << line;
  EXPECT_EQ(back.kind(), v1::EVENT_KIND_INCIDENT);
  EXPECT_EQ(back.key(), "A-1");
  EXPECT_EQ(back.value(), value);
  EXPECT_EQ(back.timestamp_unix_ms(), 1700000000000);
}

TEST(DeadLetterJsonTest, AnOmittedValueIsAnEmptyRawValueNotAnEmptyEvent) {
  v1::DeadLetter d;
  d.set_reason("not_protobuf");
  d.set_value_omitted_bytes(1040000);
  std::string line;
  // An empty value parses as an empty IncidentEvent; it must not be shown as one.
  AppendEventLogJson(v1::EVENT_KIND_INCIDENT, "A-1", "", 0,
                     KafkaPosition{"roadpulse.incidents", 4, 77}, &d, &line);
  EXPECT_THAT(line, HasSubstr(R"("rawValue":"")"));
  EXPECT_THAT(line, Not(HasSubstr("\"incident\"")));
  EXPECT_THAT(line, HasSubstr(R"("valueOmittedBytes":"1040000")"));
  // Replay refuses the line: its empty value is not the record refused.
  v1::LoggedRecord back;
  const absl::Status refused = ParseEventLogJson(line, &back);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("a dead letter without its value (1040000 bytes, too large for the DLQ): "
                        "read the original at roadpulse.incidents[4] offset 77"));
  // Without the dead letter, the same empty value is decoded (an empty event).
  line.clear();
  AppendEventLogJson(v1::EVENT_KIND_INCIDENT, "A-1", "", 0, std::nullopt, nullptr, &line);
  EXPECT_THAT(line, HasSubstr(R"("incident":{})"));
}

TEST(TopicReaderHeadersTest, HeadersComeBackInOrderOnlyWhenAsked) {
  absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(1, {{"dlq", 1, 1}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({(*broker)->bootstrap_servers(), {}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)
                  ->Produce("dlq", "k1", "v1",
                            {{kDlqReasonHeader, "too_late"}, {"own", ""}, {"own", "second"}}, 0)
                  .ok());
  ASSERT_TRUE((*producer)->Produce("dlq", "k2", "v2", {}, 0).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  for (bool with_headers : {true, false}) {
    TopicReaderOptions options;
    options.bootstrap_servers = (*broker)->bootstrap_servers();
    options.topics = {"dlq"};
    options.timeout = absl::Seconds(20);
    options.headers = with_headers;
    absl::StatusOr<std::unique_ptr<TopicReader>> reader = TopicReader::Create(options);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::vector<std::vector<std::pair<std::string, std::string>>> seen;
    ASSERT_TRUE((*reader)
                    ->ReadAll([&](const TopicRecord& r) {
                      seen.emplace_back();
                      for (const auto& [name, value] : r.headers) {
                        seen.back().emplace_back(std::string(name), std::string(value));
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    ASSERT_EQ(seen.size(), 2u);
    if (with_headers) {
      EXPECT_THAT(seen[0], ElementsAre(Pair(kDlqReasonHeader, "too_late"), Pair("own", ""),
                                       Pair("own", "second")));
    } else {
      EXPECT_THAT(seen[0], IsEmpty());
    }
    EXPECT_THAT(seen[1], IsEmpty());
  }
}

}  // namespace
}  // namespace roadpulse
