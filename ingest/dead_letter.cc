#include "ingest/dead_letter.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"

namespace roadpulse {
namespace {

template <typename Int>
bool ParseNumber(std::string_view text, Int* n) {
  return absl::SimpleAtoi(absl::string_view(text.data(), text.size()), n);
}

}  // namespace

std::optional<DeadLetterRecord> ReadDeadLetter(const TopicRecord& record) {
  DeadLetterRecord out;
  v1::DeadLetter& d = out.dead_letter;
  std::optional<std::string> source_topic;
  std::optional<int32_t> source_partition;
  std::optional<int64_t> source_offset;
  // The worker writes its headers before the record's own, so the first of
  // each name is the worker's: a record refused again after a replay of the
  // DLQ may carry an earlier refusal's headers among its own.
  absl::flat_hash_set<std::string_view> seen;
  for (const auto& [name, value] : record.headers) {
    if (!seen.insert(name).second) continue;
    int32_t p;
    int64_t n;  // a number header that does not parse is left out
    if (name == kDlqReasonHeader) {
      d.set_reason(std::string(value));
    } else if (name == kDlqDetailHeader) {
      d.set_detail(std::string(value));
    } else if (name == kDlqSourceTopicHeader) {
      source_topic = std::string(value);
    } else if (name == kDlqSourcePartitionHeader) {
      if (ParseNumber(value, &p) && p >= 0) source_partition = p;
    } else if (name == kDlqSourceOffsetHeader) {
      if (ParseNumber(value, &n) && n >= 0) source_offset = n;
    } else if (name == kDlqValueOmittedHeader) {
      if (ParseNumber(value, &n) && n >= 0) d.set_value_omitted_bytes(n);
    } else if (name == kDlqKeyOmittedHeader) {
      if (ParseNumber(value, &n) && n >= 0) d.set_key_omitted_bytes(n);
    }
  }
  if (!seen.contains(kDlqReasonHeader)) return std::nullopt;
  d.set_topic(std::string(record.topic));
  d.set_partition(record.partition);
  d.set_offset(record.offset);
  if (source_topic && source_partition && source_offset) {
    out.source = KafkaPosition{*std::move(source_topic), *source_partition, *source_offset};
  }
  return out;
}

}  // namespace roadpulse
