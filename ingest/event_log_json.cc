#include "ingest/event_log_json.h"

#include "fmt/format.h"
#include "google/protobuf/util/json_util.h"
#include "roadpulse/v1/event_log.pb.h"
#include "ingest/internal/utf8.h"

namespace roadpulse {
namespace {

bool IsUtf8(std::string_view s) { return ingest_internal::IsValidUtf8(s); }

// True when `value` parses as M and serializes back to exactly the same bytes.
template <typename M>
bool RoundTrips(std::string_view value, M* message) {
  if (!message->ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  std::string again;
  if (!message->SerializeToString(&again)) return false;
  return again == value;
}

}  // namespace

void AppendEventLogJson(v1::EventKind kind, std::string_view key, std::string_view value,
                        int64_t timestamp_unix_ms, const std::optional<KafkaPosition>& position,
                        std::string* out) {
  v1::EventLogLine line;
  line.set_kind(kind);
  if (IsUtf8(key)) {
    line.set_key(std::string(key));
  } else {
    line.set_raw_key(std::string(key));
  }
  line.set_timestamp_unix_ms(timestamp_unix_ms);
  bool decoded = false;
  if (kind == v1::EVENT_KIND_INCIDENT) {
    decoded = RoundTrips(value, line.mutable_incident());
  } else if (kind == v1::EVENT_KIND_VIOLATION) {
    decoded = RoundTrips(value, line.mutable_violation());
  }
  if (!decoded) line.set_raw_value(std::string(value));
  if (position.has_value()) {
    line.set_source_topic(position->topic);
    line.set_source_partition(position->partition);
    line.set_source_offset(position->offset);
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  std::string json;
  // Cannot fail for a message we built ourselves with valid UTF-8 strings;
  // string fields inside a decoded event are checked by protobuf's parser.
  (void)google::protobuf::util::MessageToJsonString(line, &json, options);
  out->append(json);
}

absl::Status ParseEventLogJson(std::string_view text, v1::LoggedRecord* record) {
  v1::EventLogLine line;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &line, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("not an EventLogLine in JSON: {}", std::string(status.message())));
  }
  v1::EventKind kind = line.kind();
  std::string id;
  record->Clear();
  switch (line.event_case()) {
    case v1::EventLogLine::kIncident:
      if (kind == v1::EVENT_KIND_UNSPECIFIED) kind = v1::EVENT_KIND_INCIDENT;
      if (kind != v1::EVENT_KIND_INCIDENT) {
        return absl::InvalidArgumentError("\"incident\" given with a kind other than incident");
      }
      id = line.incident().id();
      line.incident().SerializeToString(record->mutable_value());
      break;
    case v1::EventLogLine::kViolation:
      if (kind == v1::EVENT_KIND_UNSPECIFIED) kind = v1::EVENT_KIND_VIOLATION;
      if (kind != v1::EVENT_KIND_VIOLATION) {
        return absl::InvalidArgumentError("\"violation\" given with a kind other than violation");
      }
      id = line.violation().id();
      line.violation().SerializeToString(record->mutable_value());
      break;
    case v1::EventLogLine::kRawValue:
      *record->mutable_value() = line.raw_value();
      break;
    case v1::EventLogLine::EVENT_NOT_SET:
      return absl::InvalidArgumentError(
          "no event: give one of \"incident\", \"violation\" or \"rawValue\"");
  }
  if (kind != v1::EVENT_KIND_INCIDENT && kind != v1::EVENT_KIND_VIOLATION) {
    return absl::InvalidArgumentError("\"kind\" must be EVENT_KIND_INCIDENT or EVENT_KIND_VIOLATION");
  }
  record->set_kind(kind);
  if (!line.raw_key().empty()) {
    *record->mutable_key() = line.raw_key();
  } else if (!line.key().empty()) {
    *record->mutable_key() = line.key();
  } else {
    *record->mutable_key() = id;
  }
  record->set_timestamp_unix_ms(line.timestamp_unix_ms());
  return absl::OkStatus();
}

}  // namespace roadpulse
