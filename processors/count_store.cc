#include "processors/count_store.h"

#include "absl/strings/str_cat.h"

namespace roadpulse {

CountStore::CountStore(const RegionTable& regions) : regions_(regions) {
  absl::LoadTimeZone(regions.time_zone(), &tz_);
}

absl::Status CountStore::ApplySerialized(std::string_view value) {
  v1::CountRecord record;
  if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::InvalidArgumentError("not a protobuf CountRecord");
  }
  return Apply(record);
}

absl::Status CountStore::Apply(const v1::CountRecord& record) {
  if (record.width() != v1::BUCKET_WIDTH_DAY) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported bucket width ", v1::BucketWidth_Name(record.width())));
  }
  const Region* region = regions_.Find(record.region_code());
  if (region == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("count record for unknown region \"", record.region_code(), "\""));
  }
  MetricValues values{};
  for (const v1::MetricValue& mv : record.values()) {
    std::optional<Metric> metric = MetricFromName(mv.metric());
    if (!metric.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("count record with unknown metric \"", mv.metric(), "\""));
    }
    At(values, *metric) = mv.value();
  }
  Key key{record.source_topic(), record.source_partition(), region->index,
          record.bucket_start_unix_s()};
  MetricValues& old = latest_[key];  // zero-initialized when new
  MetricValues& total = totals_[UnitDay{region->index, record.bucket_start_unix_s()}];
  for (size_t i = 0; i < kMetricCount; ++i) total[i] += values[i] - old[i];
  old = values;
  if (record.published_at_unix_ms() > latest_publish_ms_) {
    latest_publish_ms_ = record.published_at_unix_ms();
  }
  return absl::OkStatus();
}

MetricValues CountStore::SumAll(std::string_view region_code, absl::CivilDay from,
                                absl::CivilDay to) const {
  MetricValues sum{};
  if (from >= to) return sum;
  const int64_t from_s = absl::ToUnixSeconds(absl::FromCivil(from, tz_));
  const int64_t to_s = absl::ToUnixSeconds(absl::FromCivil(to, tz_));
  std::vector<bool> in(regions_.size(), false);
  for (const Region* r : regions_.UnitsOf(region_code)) in[r->index] = true;
  for (const auto& [key, values] : totals_) {
    if (!in[key.region_index] || key.day_start_unix_s < from_s || key.day_start_unix_s >= to_s) {
      continue;
    }
    for (size_t i = 0; i < kMetricCount; ++i) sum[i] += values[i];
  }
  return sum;
}

int64_t CountStore::Sum(Metric metric, std::string_view region_code, absl::CivilDay from,
                        absl::CivilDay to) const {
  return At(SumAll(region_code, from, to), metric);
}

std::map<std::pair<std::string, absl::CivilDay>, MetricValues> CountStore::ByUnitAndDay() const {
  std::map<std::pair<std::string, absl::CivilDay>, MetricValues> out;
  for (const auto& [key, values] : totals_) {
    bool any = false;
    for (int64_t v : values) any = any || v != 0;
    if (!any) continue;
    const absl::CivilDay day = absl::ToCivilDay(absl::FromUnixSeconds(key.day_start_unix_s), tz_);
    out[{regions_.at(key.region_index).code, day}] = values;
  }
  return out;
}

}  // namespace roadpulse
