#include "processors/count_record.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace roadpulse {

v1::BucketWidth ToProto(BucketWidth width) {
  switch (width) {
    case BucketWidth::kDay:
      return v1::BUCKET_WIDTH_DAY;
    case BucketWidth::kHour:
      return v1::BUCKET_WIDTH_HOUR;
    case BucketWidth::kMinute:
      return v1::BUCKET_WIDTH_MINUTE;
  }
  return v1::BUCKET_WIDTH_UNSPECIFIED;
}

std::optional<BucketWidth> FromProto(v1::BucketWidth width) {
  switch (width) {
    case v1::BUCKET_WIDTH_DAY:
      return BucketWidth::kDay;
    case v1::BUCKET_WIDTH_HOUR:
      return BucketWidth::kHour;
    case v1::BUCKET_WIDTH_MINUTE:
      return BucketWidth::kMinute;
    case v1::BUCKET_WIDTH_UNSPECIFIED:
    default:
      return std::nullopt;
  }
}

v1::CountRecord TombstoneRecord(const RegionTable& regions, std::string_view source_topic,
                                int32_t source_partition, const BucketKey& key) {
  v1::CountRecord record;
  record.set_source_topic(std::string(source_topic));
  record.set_source_partition(source_partition);
  record.set_region_code(regions.at(key.region_index).code);
  record.set_width(ToProto(key.width));
  record.set_bucket_start_unix_s(key.start_unix_s);
  return record;
}

absl::StatusOr<v1::CountRecord> ParseCountRecordKey(std::string_view key) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(key.data(), key.size()), '/');
  auto bad = [&key](const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("count record key \"", std::string(key), "\": ", why));
  };
  if (parts.size() != 5) return bad("expected 5 '/'-separated fields");
  v1::CountRecord record;
  int32_t partition = 0;
  int64_t start = 0;
  v1::BucketWidth width = v1::BUCKET_WIDTH_UNSPECIFIED;
  if (parts[0].empty()) return bad("empty topic");
  if (!absl::SimpleAtoi(parts[1], &partition)) return bad("bad partition");
  if (!v1::BucketWidth_Parse(std::string(parts[3]), &width) || !FromProto(width).has_value()) {
    return bad("bad bucket width");
  }
  if (!absl::SimpleAtoi(parts[4], &start)) return bad("bad bucket start");
  record.set_source_topic(std::string(parts[0]));
  record.set_source_partition(partition);
  record.set_region_code(std::string(parts[2]));
  record.set_width(width);
  record.set_bucket_start_unix_s(start);
  return record;
}

v1::CountRecord MakeCountRecord(const RegionTable& regions, std::string_view source_topic,
                                int32_t source_partition, const BucketKey& key,
                                const MetricValues& values, int64_t source_next_offset,
                                int64_t published_at_unix_ms) {
  v1::CountRecord record;
  MakeCountRecord(regions, source_topic, source_partition, key, values, source_next_offset,
                  published_at_unix_ms, &record);
  return record;
}

void MakeCountRecord(const RegionTable& regions, std::string_view source_topic,
                     int32_t source_partition, const BucketKey& key, const MetricValues& values,
                     int64_t source_next_offset, int64_t published_at_unix_ms,
                     v1::CountRecord* record) {
  // Clear() keeps the cleared values for the next add_values(), and the
  // strings' buffers: the setters below assign into them.
  record->Clear();
  record->set_source_topic(source_topic.data(), source_topic.size());
  record->set_source_partition(source_partition);
  const std::string& code = regions.at(key.region_index).code;
  record->set_region_code(code.data(), code.size());
  record->set_width(ToProto(key.width));
  record->set_bucket_start_unix_s(key.start_unix_s);
  for (Metric m : AllMetrics()) {
    const int64_t value = At(values, m);
    if (value == 0) continue;
    v1::MetricValue* mv = record->add_values();
    const std::string_view name = MetricName(m);
    mv->set_metric(name.data(), name.size());
    mv->set_value(value);
  }
  record->set_source_next_offset(source_next_offset);
  record->set_published_at_unix_ms(published_at_unix_ms);
}

std::string CountRecordKey(const v1::CountRecord& record) {
  std::string key;
  CountRecordKey(record, &key);
  return key;
}

void CountRecordKey(const v1::CountRecord& record, std::string* key) {
  key->clear();
  absl::StrAppend(key, record.source_topic(), "/", record.source_partition(), "/",
                  record.region_code(), "/", v1::BucketWidth_Name(record.width()), "/",
                  record.bucket_start_unix_s());
}

}  // namespace roadpulse
