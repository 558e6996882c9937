// Where generated input records go: Kafka topics or an event-log file.
#ifndef ROADPULSE_APP_EVENT_WRITER_H_
#define ROADPULSE_APP_EVENT_WRITER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/event_log_writer.h"
#include "ingest/kafka_producer.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

// A sink for input records as they would appear on Kafka. Thread-compatible.
class EventWriter {
 public:
  virtual ~EventWriter() = default;
  // Writes one record: `value` is the serialized IncidentEvent/ViolationEvent
  // (or deliberately bad bytes); `timestamp_unix_ms` is the record's event
  // time where the sink keeps one (files), ignored where the sink stamps its
  // own (Kafka: producer create time).
  virtual absl::Status Write(v1::EventKind kind, std::string_view key, std::string_view value,
                             int64_t timestamp_unix_ms) = 0;
  // Makes everything written so far durable / delivered.
  virtual absl::Status Flush() = 0;
};

// Writes an event-log file through EventLogWriter, in the format and
// compression its name asks for (events.pb: length-delimited LoggedRecord;
// events.jsonl: JSON Lines; .gz/.zst: compressed), as `replay` reads it back.
// A regular file appears under its name only on Close(); a writer destroyed
// without it leaves nothing, and a file already there as it was.
class FileEventWriter final : public EventWriter {
 public:
  // "-": writes length-delimited records to stdout.
  static absl::StatusOr<std::unique_ptr<FileEventWriter>> Create(const std::string& path);
  absl::Status Write(v1::EventKind kind, std::string_view key, std::string_view value,
                     int64_t timestamp_unix_ms) override;
  // Hands what was written to the operating system; the name comes on Close().
  absl::Status Flush() override;
  // Completes the file and gives it its name. Call once, after the last Write.
  absl::Status Close();

 private:
  explicit FileEventWriter(std::unique_ptr<EventLogWriter> log) : log_(std::move(log)) {}
  std::unique_ptr<EventLogWriter> log_;
};

struct KafkaWriterOptions {
  std::string incidents_topic = "roadpulse.incidents";
  std::string violations_topic = "roadpulse.violations";
  // How long Flush() waits for the cluster.
  absl::Duration flush_timeout = absl::Seconds(60);
  // Write() waits while this many records are queued and not yet delivered
  // (librdkafka's own queue holds 100,000 by default), so that a cluster that
  // takes nothing stops the writing once its first delivery fails instead of
  // filling the queue.
  int64_t max_in_flight = 50000;
  // Optional; each must outlive the writer. While Write() or Flush() waits
  // for the cluster: once *stop is set, it logs (once) how many records it
  // still waits for; once *give_up is set, it drops them from the producer
  // (KafkaProducer::Purge) and returns kCancelled.
  const std::atomic<bool>* stop = nullptr;
  const std::atomic<bool>* give_up = nullptr;
};

// Produces to roadpulse.incidents / roadpulse.violations, key = event id.
// Write() returns a delivery failure of an earlier record as soon as the
// producer reports it, and Flush() any left.
class KafkaEventWriter final : public EventWriter {
 public:
  // `producer` must outlive this object.
  KafkaEventWriter(KafkaProducer& producer, KafkaWriterOptions options = {})
      : producer_(producer), options_(std::move(options)) {}
  absl::Status Write(v1::EventKind kind, std::string_view key, std::string_view value,
                     int64_t timestamp_unix_ms) override;
  absl::Status Flush() override;

 private:
  // Serves delivery reports until at most `limit` records are in flight or
  // `deadline` passes; a delivery failure, or kCancelled on *give_up.
  absl::Status WaitForDeliveries(int64_t limit, absl::Time deadline);

  KafkaProducer& producer_;
  KafkaWriterOptions options_;
  bool said_waiting_ = false;  // the *stop message was logged
};

}  // namespace roadpulse

#endif  // ROADPULSE_APP_EVENT_WRITER_H_
