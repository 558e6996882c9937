// KafkaCountSink: publishes CountRecords to roadpulse.counts, keyed by
// CountRecordKey() so that log compaction keeps the newest record per
// (source partition, region, bucket).
#ifndef ROADPULSE_SINKS_KAFKA_COUNT_SINK_H_
#define ROADPULSE_SINKS_KAFKA_COUNT_SINK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/kafka_producer.h"
#include "processors/count_sink.h"

namespace roadpulse {

inline constexpr char kCountsTopic[] = "roadpulse.counts";

// Records a KafkaCountSink::Create producer holds for delivery, at most
// (queue.buffering.max.messages, unless options.properties sets it): a
// Publish beyond it waits for deliveries. A worker catching up publishes
// 100 k records and more at a time; queued at once (librdkafka's default
// allows 100 k) they took its peak RSS from ~230 MiB to as much as 365 MiB
// (BENCHMARKS.md, session 14).
inline constexpr int kCountsQueueMessages = 20000;

// Thread-compatible (like KafkaProducer): one thread at a time.
class KafkaCountSink final : public CountSink {
 public:
  // Creates its own producer (ProducerOptions' defaults: acks=all, idempotent;
  // at most kCountsQueueMessages records waiting for delivery).
  static absl::StatusOr<std::unique_ptr<KafkaCountSink>> Create(
      const ProducerOptions& options, std::string topic = kCountsTopic);
  // Uses `producer` (owned).
  KafkaCountSink(std::unique_ptr<KafkaProducer> producer, std::string topic = kCountsTopic);

  // Serializes and queues `record`; key = CountRecordKey(record).
  absl::Status Publish(const v1::CountRecord& record) override;
  // A null-value message with key CountRecordKey(record).
  absl::Status PublishTombstone(const v1::CountRecord& record) override;
  // Returns the first delivery error since the previous Flush, or
  // kDeadlineExceeded when records are still in flight after `timeout`.
  absl::Status Flush(absl::Duration timeout) override;

  int64_t published() const { return published_; }
  // Records handed to the producer and not yet delivered (or failed).
  int64_t in_flight() const { return producer_->InFlight(); }
  const std::string& topic() const { return topic_; }

 private:
  std::unique_ptr<KafkaProducer> producer_;
  const std::string topic_;
  std::string buffer_;  // reused serialization buffer
  std::string key_;     // reused key buffer
  int64_t published_ = 0;
};

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_KAFKA_COUNT_SINK_H_
