// Where generated input records go: Kafka topics or an event-log file.
#ifndef ROADPULSE_APP_EVENT_WRITER_H_
#define ROADPULSE_APP_EVENT_WRITER_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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

// Writes a stream of varint-length-prefixed roadpulse.v1.LoggedRecord.
class FileEventWriter final : public EventWriter {
 public:
  // Creates or truncates `path` ("-": writes to stdout);
  // kNotFound/kPermissionDenied-style errors name it.
  static absl::StatusOr<std::unique_ptr<FileEventWriter>> Create(const std::string& path);
  absl::Status Write(v1::EventKind kind, std::string_view key, std::string_view value,
                     int64_t timestamp_unix_ms) override;
  absl::Status Flush() override;

 private:
  FileEventWriter(std::string path, std::unique_ptr<std::ofstream> file);
  std::string path_;
  std::unique_ptr<std::ofstream> file_;  // null when writing to stdout
  std::ostream& out_;                    // *file_ or std::cout
  v1::LoggedRecord record_;              // reused
};

struct KafkaWriterOptions {
  std::string incidents_topic = "roadpulse.incidents";
  std::string violations_topic = "roadpulse.violations";
  // Flush timeout used by Flush().
  absl::Duration flush_timeout = absl::Seconds(60);
};

// Produces to roadpulse.incidents / roadpulse.violations, key = event id.
class KafkaEventWriter final : public EventWriter {
 public:
  // `producer` must outlive this object.
  KafkaEventWriter(KafkaProducer& producer, KafkaWriterOptions options = {})
      : producer_(producer), options_(std::move(options)) {}
  absl::Status Write(v1::EventKind kind, std::string_view key, std::string_view value,
                     int64_t timestamp_unix_ms) override;
  absl::Status Flush() override;

 private:
  KafkaProducer& producer_;
  KafkaWriterOptions options_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_APP_EVENT_WRITER_H_
