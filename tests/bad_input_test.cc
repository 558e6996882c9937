// Bad input end to end over TCP: one record per kind of bad input goes
// through a real Worker on librdkafka's mock cluster. Each must land in
// roadpulse.dlq with its own reason, its original key, bytes and headers and
// its source coordinates; the worker must go on (valid control events
// produced AFTER the bad ones, on the same partitions, are counted) and no
// count may move for the bad ones. The DLQ and the input topics are read
// back with an independent reader, the counts with CountReader. Bad records
// too large for the DLQ producer go there without their value.
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "processors/count_store.h"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"
#include "sinks/count_reader.h"
#include "tests/kafka_test_util.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

using ::testing::UnorderedElementsAreArray;

constexpr char kIncidents[] = "roadpulse.incidents";
constexpr char kViolations[] = "roadpulse.violations";

void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  ts->set_seconds(absl::ToUnixSeconds(t));
}

struct Input {
  std::string topic;
  std::string key;
  std::string value;
  std::string expected_reason;  // empty: a valid control event
};

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RegionTable> regions =
        RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
    ASSERT_TRUE(regions.ok()) << regions.status();
    regions_ = std::make_unique<RegionTable>(*std::move(regions));
    absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(
        1, {{kIncidents, 1, 1}, {kViolations, 1, 1}, {"roadpulse.counts", 4, 1},
            {"roadpulse.dlq", 3, 1}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    ASSERT_TRUE(absl::LoadTimeZone("Asia/Shanghai", &shanghai_));
    // Yesterday at 12:00 China time: well inside every bound.
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), shanghai_);
    event_day_ = today - 1;
    event_time_ = absl::FromCivil(absl::CivilSecond(event_day_) + 12 * 3600, shanghai_);
  }

  v1::IncidentEvent Incident(std::string id, std::string region) const {
    v1::IncidentEvent e;
    e.set_id(std::move(id));
    e.set_revision(1);
    SetTime(e.mutable_occurred_at(), event_time_);
    SetTime(e.mutable_reported_at(), event_time_ + absl::Minutes(20));
    e.mutable_location()->set_region_code(std::move(region));
    e.mutable_location()->set_road_class(v1::ROAD_CLASS_NATIONAL);
    e.set_deaths(1);
    e.set_injuries(2);
    e.set_severity(v1::SEVERITY_GENERAL);
    e.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
    e.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
    e.set_property_loss_yuan(12000);
    return e;
  }

  v1::ViolationEvent Violation(std::string id, std::string region) const {
    v1::ViolationEvent e;
    e.set_id(std::move(id));
    SetTime(e.mutable_occurred_at(), event_time_);
    SetTime(e.mutable_reported_at(), event_time_ + absl::Minutes(5));
    e.mutable_location()->set_region_code(std::move(region));
    e.set_type(v1::VIOLATION_TYPE_SPEEDING);
    e.set_vehicle(v1::VEHICLE_CATEGORY_CAR);
    return e;
  }

  std::vector<Input> Inputs() const {
    std::vector<Input> in;
    auto incident = [&](const v1::IncidentEvent& e, std::string reason) {
      in.push_back({kIncidents, e.id().empty() ? "no-id" : e.id(), e.SerializeAsString(),
                    std::move(reason)});
    };
    in.push_back({kIncidents, "garbage", std::string("\x07this is not protobuf", 21),
                  "not_protobuf"});
    {
      // Cut inside the id string: its length prefix promises more bytes.
      const std::string whole = Incident("incident-truncated-0001", "371602").SerializeAsString();
      in.push_back({kIncidents, "incident-truncated-0001", whole.substr(0, 10), "truncated"});
    }
    incident(Incident("incident-unknown-region", "999999"), "unknown_region");
    {
      v1::IncidentEvent e = Incident("incident-negative", "371621");
      e.set_injuries(-3);
      incident(e, "negative_count");
    }
    {
      v1::IncidentEvent e = Incident("incident-absurd", "371622");
      e.set_deaths(100000);
      incident(e, "absurd_count");
    }
    {
      v1::IncidentEvent e = Incident("incident-future", "371623");
      SetTime(e.mutable_occurred_at(), absl::Now() + absl::Hours(24 * 30));
      SetTime(e.mutable_reported_at(), absl::Now() + absl::Hours(24 * 30));
      incident(e, "future_time");
    }
    incident(Incident("", "371625"), "empty_id");
    {
      v1::ViolationEvent e = Violation("violation-contradiction", "371681");
      e.set_type(v1::VIOLATION_TYPE_DRINK_DRIVING);
      e.set_blood_alcohol_mg_100ml(150.0);  // drunk, not drink, by GB 19522
      in.push_back({kViolations, e.id(), e.SerializeAsString(), "alcohol_contradiction"});
    }
    // Controls last, on the same (single) partitions: the worker went on.
    incident(Incident("control-incident", "371602"), "");
    in.push_back({kViolations, "control-violation",
                  Violation("control-violation", "371603").SerializeAsString(), ""});
    return in;
  }

  // Runs a worker of group `group` to the end of the input topics.
  void RunToEnd(const std::string& group, WorkerStats* stats) {
    WorkerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.group_id = group;
    testing::RunWorkerToEnd(options, *regions_, absl::Seconds(60), stats);
  }

  std::unique_ptr<RegionTable> regions_;
  std::unique_ptr<MockBroker> broker_;
  absl::TimeZone shanghai_;
  absl::CivilDay event_day_;
  absl::Time event_time_;
};

TEST_F(BadInputTest, EveryBadRecordIsDeadLetteredWithItsReasonAndNothingCounts) {
  const std::vector<Input> inputs = Inputs();
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({broker_->bootstrap_servers(), {}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce(inputs[i].topic, inputs[i].key, inputs[i].value,
                              {{"x-test-case", absl::StrCat(i)}})
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());

  // Where each input landed, read back independently.
  std::map<std::string, std::pair<std::string, int64_t>> coordinates;  // value -> (topic, offset)
  for (const char* topic : {kIncidents, kViolations}) {
    absl::StatusOr<std::vector<testing::ReadRecord>> records =
        testing::ReadTopic(broker_->bootstrap_servers(), topic);
    ASSERT_TRUE(records.ok()) << records.status();
    for (const testing::ReadRecord& r : *records) coordinates[r.value] = {topic, r.offset};
  }
  ASSERT_EQ(coordinates.size(), inputs.size());

  WorkerStats stats;
  ASSERT_NO_FATAL_FAILURE(RunToEnd("bad-input-test", &stats));

  // Tallies balance: 7 bad incidents + 1 control, 1 bad violation + 1 control.
  ASSERT_EQ(stats.partitions.size(), 2u);
  for (const PartitionStats& p : stats.partitions) {
    EXPECT_TRUE(p.tally.Balanced()) << p.topic;
    EXPECT_EQ(p.tally.counted, 1) << p.topic;
    EXPECT_EQ(p.tally.rejected, p.topic == kIncidents ? 7 : 1) << p.topic;
    EXPECT_EQ(p.next_offset, p.topic == kIncidents ? 8 : 2) << p.topic;
  }
  EXPECT_EQ(stats.dead_lettered, 8);

  // The DLQ: one record per bad input, each with its own reason.
  absl::StatusOr<std::vector<testing::ReadRecord>> dlq =
      testing::ReadTopic(broker_->bootstrap_servers(), "roadpulse.dlq");
  ASSERT_TRUE(dlq.ok()) << dlq.status();
  std::map<std::string, const testing::ReadRecord*> by_reason;
  for (const testing::ReadRecord& r : *dlq) {
    EXPECT_TRUE(by_reason.emplace(r.Header(kDlqReasonHeader), &r).second)
        << "reason seen twice: " << r.Header(kDlqReasonHeader);
  }
  std::vector<std::string> expected_reasons;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    if (in.expected_reason.empty()) continue;
    expected_reasons.push_back(in.expected_reason);
    SCOPED_TRACE(in.expected_reason);
    auto it = by_reason.find(in.expected_reason);
    ASSERT_NE(it, by_reason.end());
    const testing::ReadRecord& r = *it->second;
    EXPECT_EQ(r.value, in.value);  // the original bytes
    EXPECT_EQ(r.key, in.key);
    EXPECT_EQ(r.Header(kDlqSourceTopicHeader), in.topic);
    EXPECT_EQ(r.Header(kDlqSourcePartitionHeader), "0");
    EXPECT_EQ(r.Header(kDlqSourceOffsetHeader), absl::StrCat(coordinates[in.value].second));
    EXPECT_NE(r.Header(kDlqDetailHeader), "<absent>");
    EXPECT_NE(r.Header(kDlqDetailHeader), "");
    EXPECT_EQ(r.Header("x-test-case"), absl::StrCat(i));  // original headers kept
  }
  EXPECT_EQ(expected_reasons.size(), 8u);
  std::vector<std::string> actual_reasons;
  for (const auto& [reason, r] : by_reason) actual_reasons.push_back(reason);
  EXPECT_THAT(actual_reasons, UnorderedElementsAreArray(expected_reasons));
  EXPECT_EQ(dlq->size(), 8u);

  // The counts: only the two control events, nothing from the bad ones.
  CountStore store(*regions_);
  ASSERT_NO_FATAL_FAILURE(testing::ReadCounts(broker_->bootstrap_servers(), store));
  const auto by_unit_day = store.ByUnitAndDay();
  std::map<std::string, MetricValues> by_unit;
  for (const auto& [unit_day, values] : by_unit_day) {
    EXPECT_EQ(unit_day.second, event_day_) << unit_day.first;
    by_unit[unit_day.first] = values;
  }
  MetricValues incident{};
  At(incident, Metric::kAccidents) = 1;
  At(incident, Metric::kDeaths) = 1;
  At(incident, Metric::kInjuries) = 2;
  At(incident, Metric::kPropertyLossYuan) = 12000;
  MetricValues violation{};
  At(violation, Metric::kSpeeding) = 1;
  At(violation, Metric::kKeyViolations) = 1;
  EXPECT_EQ(by_unit.size(), 2u);
  EXPECT_EQ(by_unit["371602"], incident);
  EXPECT_EQ(by_unit["371603"], violation);
  // City-wide: exactly the controls.
  EXPECT_EQ(store.Sum(Metric::kAccidents, "371600", event_day_ - 400, event_day_ + 400), 1);
  EXPECT_EQ(store.Sum(Metric::kKeyViolations, "371600", event_day_ - 400, event_day_ + 400), 1);
}

// Bad records too large for the DLQ producer (message.max.bytes, 1,000,000
// by default) but not for the broker (1,048,588 by default): a Java client
// with its defaults can write them. Refusing one for good would stop every
// owner of the partition at it; each goes to the DLQ without its value, and
// without a key or a detail that would keep it too large.
TEST_F(BadInputTest, RecordsTooLargeForTheDlqAreDeadLetteredWithoutTheirValue) {
  constexpr size_t kBig = 1040000;
  const std::string big_value(kBig, '\x07');  // field 0, wire type 7: not protobuf
  const std::string big_key(kBig, 'k');
  v1::IncidentEvent big_region = Incident("incident-big-region", "371602");
  big_region.mutable_location()->set_region_code(std::string(kBig, '9'));
  const std::string big_region_value = big_region.SerializeAsString();
  const std::string control = Incident("control-incident", "371602").SerializeAsString();
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({broker_->bootstrap_servers(), {{"message.max.bytes", "2000000"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->Produce(kIncidents, "big", big_value, {{"x-own", "1"}}).ok());
  ASSERT_TRUE((*producer)->Produce(kIncidents, big_key, "\x07x").ok());
  ASSERT_TRUE((*producer)->Produce(kIncidents, big_region.id(), big_region_value).ok());
  ASSERT_TRUE((*producer)->Produce(kIncidents, "control-incident", control).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());

  WorkerStats stats;
  ASSERT_NO_FATAL_FAILURE(RunToEnd("too-large", &stats));
  EXPECT_EQ(stats.dead_lettered, 3);
  for (const PartitionStats& p : stats.partitions) {
    if (p.topic != kIncidents) continue;
    EXPECT_EQ(p.tally.rejected, 3);
    EXPECT_EQ(p.tally.counted, 1);  // the worker went on past them
    EXPECT_EQ(p.next_offset, 4);
  }

  absl::StatusOr<std::vector<testing::ReadRecord>> dlq =
      testing::ReadTopic(broker_->bootstrap_servers(), "roadpulse.dlq");
  ASSERT_TRUE(dlq.ok()) << dlq.status();
  ASSERT_EQ(dlq->size(), 3u);
  std::map<std::string, const testing::ReadRecord*> by_offset;
  for (const testing::ReadRecord& r : *dlq) {
    EXPECT_EQ(r.value, "");
    EXPECT_EQ(r.Header(kDlqSourceTopicHeader), kIncidents);
    EXPECT_EQ(r.Header(kDlqSourcePartitionHeader), "0");
    EXPECT_EQ(r.Header("x-own"), "<absent>");
    by_offset[r.Header(kDlqSourceOffsetHeader)] = &r;
  }
  ASSERT_EQ(by_offset.size(), 3u);
  const testing::ReadRecord& value = *by_offset["0"];
  EXPECT_EQ(value.key, "big");
  EXPECT_EQ(value.Header(kDlqReasonHeader), "not_protobuf");
  EXPECT_EQ(value.Header(kDlqValueOmittedHeader), absl::StrCat(kBig));
  EXPECT_EQ(value.Header(kDlqKeyOmittedHeader), "<absent>");
  const testing::ReadRecord& key = *by_offset["1"];
  EXPECT_EQ(key.key, "");
  EXPECT_EQ(key.Header(kDlqReasonHeader), "not_protobuf");
  EXPECT_EQ(key.Header(kDlqValueOmittedHeader), "2");
  EXPECT_EQ(key.Header(kDlqKeyOmittedHeader), absl::StrCat(kBig));
  const testing::ReadRecord& detail = *by_offset["2"];
  EXPECT_EQ(detail.key, big_region.id());
  EXPECT_EQ(detail.Header(kDlqReasonHeader), "unknown_region");
  EXPECT_EQ(detail.Header(kDlqValueOmittedHeader), absl::StrCat(big_region_value.size()));
  EXPECT_LE(detail.Header(kDlqDetailHeader).size(), kDlqKeptBytes + 3);
  EXPECT_EQ(detail.Header(kDlqDetailHeader).rfind("region_code \"999", 0), 0u);
  // The originals are where the headers say.
  absl::StatusOr<std::vector<testing::ReadRecord>> source =
      testing::ReadTopic(broker_->bootstrap_servers(), kIncidents);
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(source->size(), 4u);
  EXPECT_EQ((*source)[0].value, big_value);
  EXPECT_EQ((*source)[1].key, big_key);
  EXPECT_EQ((*source)[2].value, big_region_value);
}

}  // namespace
}  // namespace roadpulse
