// libFuzzer target for the JSON Lines fast path (ingest/internal/json_fast.h),
// differential against protobuf's JSON parser. Input bytes: one line of
// text. Checked: whenever the fast path takes the text, protobuf's parser
// (unknown fields refused, as ParseEventLogJson asks it) accepts it too and
// makes the same EventLogLine, byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "ingest/internal/json_fast.h"
#include "roadpulse/v1/event_log.pb.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (roadpulse::fuzz::QuietProtobufLogs(), true);
  (void)quiet;
  static roadpulse::ingest_internal::FastJsonParser fast;
  const std::string text(reinterpret_cast<const char*>(data), size);
  roadpulse::v1::EventLogLine line;
  if (!fast.Parse(text, &line)) return 0;
  roadpulse::v1::EventLogLine truth;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(text, &truth, options).ok());
  FUZZ_CHECK(line.SerializeAsString() == truth.SerializeAsString());
  return 0;
}
