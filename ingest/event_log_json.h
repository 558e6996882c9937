// The JSON Lines event-log format: one roadpulse.v1.EventLogLine per line in
// protobuf's canonical JSON mapping (proto/roadpulse/v1/event_log.proto).
// Conversion both ways between a record as on Kafka and such a line.
#ifndef ROADPULSE_INGEST_EVENT_LOG_JSON_H_
#define ROADPULSE_INGEST_EVENT_LOG_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "roadpulse/v1/event_log.pb.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

// Where a record came from on Kafka (written into the line, ignored on read).
struct KafkaPosition {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};

// Appends the JSON line of one record (no trailing newline) to *out. A value
// that is exactly a valid serialization of its kind's message is written
// decoded ("incident"/"violation"); any other bytes go to "rawValue", so the
// record round-trips byte for byte. `dead_letter` (may be null) is written as
// "deadLetter"; a dead letter whose value was omitted (value_omitted_bytes)
// gets an empty "rawValue", never a decoded empty event.
void AppendEventLogJson(v1::EventKind kind, std::string_view key, std::string_view value,
                        int64_t timestamp_unix_ms, const std::optional<KafkaPosition>& position,
                        const v1::DeadLetter* dead_letter, std::string* out);

// Parses one JSON line into a record, through a fast path for the JSON that
// AppendEventLogJson writes (internal/json_fast.h: exactly protobuf's
// result) and protobuf's JSON parser for the rest: kind (given, or from the event),
// key (given, or the event's id), value (the event re-serialized, or the raw
// bytes) and timestamp. kInvalidArgument says what is wrong (the caller adds
// the file and line), also for a dead letter whose value was omitted: its
// empty value is not the record that was refused.
absl::Status ParseEventLogJson(std::string_view line, v1::LoggedRecord* record);

// ParseEventLogJson of each line: (*records)[i] and (*statuses)[i] are what it
// gives for lines[i] (a record only where the status is ok). Of the lines the
// fast path leaves to protobuf, those that are each one JSON object are
// parsed together as one v1::EventLogLines (protobuf's JSON parser rebuilds
// its type tables at every call: 2.4 times faster for 256 lines), and one by
// one only when that fails.
void ParseEventLogJsonLines(const std::vector<std::string_view>& lines,
                            std::vector<v1::LoggedRecord>* records,
                            std::vector<absl::Status>* statuses);

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_EVENT_LOG_JSON_H_
