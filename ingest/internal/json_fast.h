// A fast path for the JSON Lines event log: parses one JSON object into a
// protobuf message with simdjson, for the JSON that protobuf's own printer
// writes (what `export X.jsonl` and `inspect` write), several times faster
// than protobuf's JSON parser (BENCHMARKS.md, "Replay from files").
//
// The contract is exactness: when FastJsonParser::Parse returns true, the
// message equals what google::protobuf::util::JsonStringToMessage (unknown
// fields refused) makes of the same text. Whatever it does not handle
// exactly so (null, numbers for enums, floats for integers, a zero double
// that might be -0, a timestamp not in the printer's form, duplicate keys,
// well-known types other than Timestamp, invalid text, ...) makes it return
// false, and the caller asks protobuf, which also words the error.
#ifndef ROADPULSE_INGEST_INTERNAL_JSON_FAST_H_
#define ROADPULSE_INGEST_INTERNAL_JSON_FAST_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "google/protobuf/message.h"
#include "simdjson.h"

namespace roadpulse::ingest_internal {

class FastJsonParser {
 public:
  // The longest text handled here (the parser keeps buffers as large as the
  // largest text it saw; an event's line is under a kilobyte).
  static constexpr size_t kMaxBytes = size_t{1} << 20;

  // Parses `json` (one object) into `message`, which is cleared first. False:
  // not handled here (the message is then unspecified), also for a text
  // longer than kMaxBytes.
  bool Parse(std::string_view json, google::protobuf::Message* message);

 private:
  // A message type's fields by their JSON name and by their proto name (the
  // two names protobuf's parser accepts), built at the type's first use.
  using FieldTable = std::unordered_map<std::string, const google::protobuf::FieldDescriptor*>;
  const FieldTable& FieldsOf(const google::protobuf::Descriptor* type);
  bool ParseObject(const simdjson::dom::element& json, google::protobuf::Message* message);
  bool ParseValue(const simdjson::dom::element& e, const google::protobuf::FieldDescriptor* field,
                  google::protobuf::Message* message);

  std::unordered_map<const google::protobuf::Descriptor*, std::unique_ptr<FieldTable>> fields_;
  std::string key_;  // scratch for a lookup
  simdjson::dom::parser parser_;
  std::string padded_;  // the text, followed by simdjson's padding
};

}  // namespace roadpulse::ingest_internal

#endif  // ROADPULSE_INGEST_INTERNAL_JSON_FAST_H_
