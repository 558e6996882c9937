#include "processors/count_record.h"

#include "absl/strings/str_cat.h"

namespace roadpulse {

v1::CountRecord MakeCountRecord(const RegionTable& regions, std::string_view source_topic,
                                int32_t source_partition, const BucketKey& key,
                                const MetricValues& values, int64_t source_next_offset,
                                int64_t published_at_unix_ms) {
  v1::CountRecord record;
  record.set_source_topic(std::string(source_topic));
  record.set_source_partition(source_partition);
  record.set_region_code(regions.at(key.region_index).code);
  record.set_width(v1::BUCKET_WIDTH_DAY);
  record.set_bucket_start_unix_s(key.day_start_unix_s);
  for (Metric m : AllMetrics()) {
    const int64_t value = At(values, m);
    if (value == 0) continue;
    v1::MetricValue* mv = record.add_values();
    mv->set_metric(std::string(MetricName(m)));
    mv->set_value(value);
  }
  record.set_source_next_offset(source_next_offset);
  record.set_published_at_unix_ms(published_at_unix_ms);
  return record;
}

std::string CountRecordKey(const v1::CountRecord& record) {
  return absl::StrCat(record.source_topic(), "/", record.source_partition(), "/",
                      record.region_code(), "/", v1::BucketWidth_Name(record.width()), "/",
                      record.bucket_start_unix_s());
}

}  // namespace roadpulse
