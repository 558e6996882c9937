#include "ingest/dead_letter.h"

#include <string>

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
  bool is_dead_letter = false;
  std::optional<std::string> source_topic;
  std::optional<int32_t> source_partition;
  std::optional<int64_t> source_offset;
  std::optional<int64_t> value_omitted;
  std::optional<int64_t> key_omitted;
  bool has_detail = false;
  // The worker writes its headers before the record's own, so the first of
  // each name is the worker's: a record refused again after a replay of the
  // DLQ may carry an earlier refusal's headers among its own.
  for (const auto& [name, value] : record.headers) {
    int64_t n;  // a number header that does not parse is kept as -1: left out
    if (name == kDlqReasonHeader && !is_dead_letter) {
      d.set_reason(std::string(value));
      is_dead_letter = true;
    } else if (name == kDlqDetailHeader && !has_detail) {
      d.set_detail(std::string(value));
      has_detail = true;
    } else if (name == kDlqSourceTopicHeader && !source_topic) {
      source_topic = std::string(value);
    } else if (name == kDlqSourcePartitionHeader && !source_partition) {
      int32_t p;
      source_partition = ParseNumber(value, &p) ? p : -1;
    } else if (name == kDlqSourceOffsetHeader && !source_offset) {
      source_offset = ParseNumber(value, &n) ? n : -1;
    } else if (name == kDlqValueOmittedHeader && !value_omitted) {
      value_omitted = ParseNumber(value, &n) ? n : -1;
    } else if (name == kDlqKeyOmittedHeader && !key_omitted) {
      key_omitted = ParseNumber(value, &n) ? n : -1;
    }
  }
  if (!is_dead_letter) return std::nullopt;
  d.set_topic(std::string(record.topic));
  d.set_partition(record.partition);
  d.set_offset(record.offset);
  if (value_omitted && *value_omitted >= 0) d.set_value_omitted_bytes(*value_omitted);
  if (key_omitted && *key_omitted >= 0) d.set_key_omitted_bytes(*key_omitted);
  if (source_topic && source_partition && *source_partition >= 0 && source_offset &&
      *source_offset >= 0) {
    out.source = KafkaPosition{*std::move(source_topic), *source_partition, *source_offset};
  }
  return out;
}

}  // namespace roadpulse
