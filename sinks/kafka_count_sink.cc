#include "sinks/kafka_count_sink.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "processors/count_record.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

constexpr absl::Duration kPrepareTimeout = absl::Seconds(5);

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaCountSink>> KafkaCountSink::Create(
    const ProducerOptions& options, std::string topic) {
  ProducerOptions bounded = options;
  bounded.properties.emplace("queue.buffering.max.messages", absl::StrCat(kCountsQueueMessages));
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(bounded);
  if (!producer.ok()) return producer.status();
  // So that the first publish, often a backlog's worth, is not held for the
  // topic's metadata. Not fatal: publishing learns it later by itself.
  if (absl::StatusOr<int> n = (*producer)->Prepare(topic, kPrepareTimeout); !n.ok()) {
    spdlog::warn("counts sink: {} (the first publish will wait for it)", n.status().ToString());
  }
  return std::make_unique<KafkaCountSink>(*std::move(producer), std::move(topic));
}

KafkaCountSink::KafkaCountSink(std::unique_ptr<KafkaProducer> producer, std::string topic)
    : producer_(std::move(producer)), topic_(std::move(topic)) {}

absl::Status KafkaCountSink::Publish(const v1::CountRecord& record) {
  buffer_.clear();
  if (!record.SerializeToString(&buffer_)) {
    return absl::InternalError(absl::StrCat("cannot serialize count record ",
                                            CountRecordKey(record)));
  }
  CountRecordKey(record, &key_);
  absl::Status s = producer_->Produce(topic_, key_, buffer_);
  if (s.ok()) ++published_;
  return s;
}

absl::Status KafkaCountSink::PublishTombstone(const v1::CountRecord& record) {
  // A default string_view has a null data(): librdkafka sends a null value.
  CountRecordKey(record, &key_);
  absl::Status s = producer_->Produce(topic_, key_, std::string_view());
  if (s.ok()) ++published_;
  return s;
}

absl::Status KafkaCountSink::Flush(absl::Duration timeout) { return producer_->Flush(timeout); }

}  // namespace roadpulse
