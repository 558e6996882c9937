#include "ingest/event_log_json.h"

#include <vector>

#include "fmt/format.h"
#include "google/protobuf/util/json_util.h"
#include "ingest/internal/json_fast.h"
#include "ingest/internal/utf8.h"
#include "roadpulse/v1/event_log.pb.h"

namespace roadpulse {
namespace {

bool IsUtf8(std::string_view s) { return ingest_internal::IsValidUtf8(s); }

// True when `m` or a message inside it holds fields unknown to our schema
// (from a newer producer): the binary format keeps them, JSON drops them.
bool HasUnknownFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      if (HasUnknownFields(r->GetMessage(m, f))) return true;
      continue;
    }
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      if (HasUnknownFields(r->GetRepeatedMessage(m, f, i))) return true;
    }
  }
  return false;
}

// True when `value` parses as M, serializes back to exactly the same bytes,
// and has nothing that its JSON form would lose.
template <typename M>
bool RoundTrips(std::string_view value, M* message) {
  if (!message->ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  std::string again;
  if (!message->SerializeToString(&again)) return false;
  return again == value && !HasUnknownFields(*message);
}

}  // namespace

void AppendEventLogJson(v1::EventKind kind, std::string_view key, std::string_view value,
                        int64_t timestamp_unix_ms, const std::optional<KafkaPosition>& position,
                        const v1::DeadLetter* dead_letter, std::string* out) {
  v1::EventLogLine line;
  line.set_kind(kind);
  if (IsUtf8(key)) {
    line.set_key(std::string(key));
  } else {
    line.set_raw_key(std::string(key));
  }
  line.set_timestamp_unix_ms(timestamp_unix_ms);
  bool decoded = false;
  if (dead_letter != nullptr && dead_letter->has_value_omitted_bytes()) {
    // Nothing to decode: the value is not in the dead letter.
  } else if (kind == v1::EVENT_KIND_INCIDENT) {
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
  if (dead_letter != nullptr) *line.mutable_dead_letter() = *dead_letter;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  std::string json;
  // The printer refuses a decoded event whose Timestamp is outside its range
  // (0001-01-01..9999-12-31), leaving half a line: send such a value as raw
  // bytes. A line with raw_value cannot fail: its strings are valid UTF-8 (the
  // key is checked, topic names are ASCII) and bytes print as base64.
  if (!google::protobuf::util::MessageToJsonString(line, &json, options).ok() && decoded) {
    line.set_raw_value(std::string(value));  // replaces the decoded event
    json.clear();
    (void)google::protobuf::util::MessageToJsonString(line, &json, options);
  }
  out->append(json);
}

namespace {

google::protobuf::util::JsonParseOptions ParseOptions() {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return options;
}

// The record of a parsed line, or what is wrong with it.
absl::Status ToLoggedRecord(const v1::EventLogLine& line, v1::LoggedRecord* record) {
  record->Clear();
  if (line.has_dead_letter() && line.dead_letter().has_value_omitted_bytes()) {
    return absl::InvalidArgumentError(fmt::format(
        "a dead letter without its value ({} bytes, too large for the DLQ): read the original "
        "at {}[{}] offset {}",
        line.dead_letter().value_omitted_bytes(), line.source_topic(), line.source_partition(),
        line.source_offset()));
  }
  v1::EventKind kind = line.kind();
  std::string id;
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

// True when `text` is one JSON object and nothing else but blanks: its
// braces and brackets (outside strings) first return to depth 0 at its last
// '}'. Lines that are can be joined into one JSON array without one line's
// text reaching into another's element; their nesting is left to the parser.
bool IsOneJsonObject(std::string_view text) {
  size_t i = text.find_first_not_of(" \t\r");
  if (i == std::string_view::npos || text[i] != '{') return false;
  int depth = 0;
  bool in_string = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        return text.find_first_not_of(" \t\r", i + 1) == std::string_view::npos;
      }
    }
  }
  return false;
}

// The calling thread's simdjson parser (its buffers are reused line after line).
ingest_internal::FastJsonParser& FastParser() {
  thread_local ingest_internal::FastJsonParser parser;
  return parser;
}

// ParseEventLogJson without the fast path: protobuf's parser, which words
// the errors.
absl::Status ParseWithProtobuf(std::string_view text, v1::LoggedRecord* record) {
  v1::EventLogLine line;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &line, ParseOptions());
  if (!status.ok()) {
    // Its first line: protobuf's parser may add the text and a caret under
    // the fault, and a reject is one line that already says where it is.
    std::string_view why(status.message().data(), status.message().size());
    why = why.substr(0, why.find('\n'));
    return absl::InvalidArgumentError(fmt::format("not an EventLogLine in JSON: {}", why));
  }
  return ToLoggedRecord(line, record);
}

// ParseWithProtobuf of each line, the lines that are each one JSON object
// parsed together as one v1::EventLogLines: protobuf's JSON parser rebuilds
// its type tables at every call (2.4 times faster for 256 lines of events).
void ParseLinesWithProtobuf(const std::vector<std::string_view>& lines,
                            std::vector<v1::LoggedRecord>* records,
                            std::vector<absl::Status>* statuses) {
  records->resize(lines.size());
  statuses->assign(lines.size(), absl::OkStatus());
  bool together = !lines.empty();
  size_t bytes = 0;
  for (std::string_view line : lines) {
    together = together && IsOneJsonObject(line);
    bytes += line.size() + 1;
  }
  if (together) {
    std::string json;
    json.reserve(bytes + 16);
    json.append("{\"lines\":[");
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) json.push_back(',');
      json.append(lines[i].data(), lines[i].size());
    }
    json.append("]}");
    v1::EventLogLines parsed;
    together = google::protobuf::util::JsonStringToMessage(json, &parsed, ParseOptions()).ok() &&
               parsed.lines_size() == static_cast<int>(lines.size());
    if (together) {
      for (size_t i = 0; i < lines.size(); ++i) {
        (*statuses)[i] = ToLoggedRecord(parsed.lines(static_cast<int>(i)), &(*records)[i]);
      }
      return;
    }
  }
  // A line that is not one object, or a line the parser refuses: each on its
  // own, for its own error.
  for (size_t i = 0; i < lines.size(); ++i) {
    (*statuses)[i] = ParseWithProtobuf(lines[i], &(*records)[i]);
  }
}

}  // namespace

absl::Status ParseEventLogJson(std::string_view text, v1::LoggedRecord* record) {
  v1::EventLogLine line;
  if (FastParser().Parse(text, &line)) return ToLoggedRecord(line, record);
  return ParseWithProtobuf(text, record);
}

void ParseEventLogJsonLines(const std::vector<std::string_view>& lines,
                            std::vector<v1::LoggedRecord>* records,
                            std::vector<absl::Status>* statuses) {
  records->resize(lines.size());
  statuses->assign(lines.size(), absl::OkStatus());
  ingest_internal::FastJsonParser& fast = FastParser();
  std::vector<size_t> slow;  // the lines the fast path leaves to protobuf
  v1::EventLogLine line;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (fast.Parse(lines[i], &line)) {
      (*statuses)[i] = ToLoggedRecord(line, &(*records)[i]);
    } else {
      slow.push_back(i);
    }
  }
  if (slow.empty()) return;
  std::vector<std::string_view> rest;
  rest.reserve(slow.size());
  for (size_t i : slow) rest.push_back(lines[i]);
  std::vector<v1::LoggedRecord> rest_records;
  std::vector<absl::Status> rest_statuses;
  ParseLinesWithProtobuf(rest, &rest_records, &rest_statuses);
  for (size_t k = 0; k < slow.size(); ++k) {
    (*records)[slow[k]] = std::move(rest_records[k]);
    (*statuses)[slow[k]] = std::move(rest_statuses[k]);
  }
}

}  // namespace roadpulse
