#include "processors/count_store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "processors/count_record.h"

namespace roadpulse {
namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
const absl::CivilDay kEpochDay(1970, 1, 1);

int64_t FloorTo(int64_t s, int64_t unit) {
  const int64_t q = s / unit - ((s % unit != 0) && (s < 0));
  return q * unit;
}
int64_t CeilTo(int64_t s, int64_t unit) {
  const int64_t f = FloorTo(s, unit);
  return f == s ? s : f + unit;
}

}  // namespace

std::string_view WindowName(Window window) {
  switch (window) {
    case Window::kLastHour:
      return "1h";
    case Window::kLast24Hours:
      return "24h";
    case Window::kLast7Days:
      return "7d";
    case Window::kLast30Days:
      return "30d";
    case Window::kToday:
      return "today";
    case Window::kMonthToDate:
      return "month";
    case Window::kYearToDate:
      return "ytd";
  }
  return "";
}

std::optional<Window> WindowFromName(std::string_view name) {
  for (Window w : {Window::kLastHour, Window::kLast24Hours, Window::kLast7Days,
                   Window::kLast30Days, Window::kToday, Window::kMonthToDate,
                   Window::kYearToDate}) {
    if (WindowName(w) == name) return w;
  }
  return std::nullopt;
}

CountStore::CountStore(const RegionTable& regions)
    : regions_(regions), containers_(regions.size()) {
  for (size_t r = 0; r < regions.size(); ++r) {
    for (const Region* unit : regions.UnitsOf(regions.at(static_cast<uint16_t>(r)).code)) {
      containers_[unit->index].push_back(static_cast<uint16_t>(r));
    }
  }
}

absl::Status CountStore::ApplySerialized(std::string_view value) {
  v1::CountRecord record;
  if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::InvalidArgumentError("not a protobuf CountRecord");
  }
  return Apply(record);
}

int64_t CountStore::DayNumber(int64_t day_start_unix_s) const {
  return absl::ToCivilDay(absl::FromUnixSeconds(day_start_unix_s), regions_.zone()) - kEpochDay;
}

void CountStore::AddToTotals(uint16_t unit, BucketWidth width, int64_t start_unix_s,
                             const MetricValues& values, int sign) {
  const size_t w = static_cast<size_t>(width);
  const int64_t start = width == BucketWidth::kDay ? DayNumber(start_unix_s) : start_unix_s;
  for (uint16_t region : containers_[unit]) {
    MetricValues& total = rolled_[w][RegionTime{region, start}];
    for (size_t i = 0; i < kMetricCount; ++i) total[i] += sign * values[i];
  }
  if (width == BucketWidth::kDay) {
    MetricValues& total = unit_days_[RegionTime{unit, start}];
    for (size_t i = 0; i < kMetricCount; ++i) total[i] += sign * values[i];
  }
}

absl::Status CountStore::Apply(const v1::CountRecord& record) {
  const std::optional<BucketWidth> width = FromProto(record.width());
  if (!width.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported bucket width ", static_cast<int>(record.width())));
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
  Key key{TopicIndex(record.source_topic()), record.source_partition(), region->index, *width,
          record.bucket_start_unix_s()};
  auto [it, inserted] = latest_.try_emplace(std::move(key));  // zero-initialized when new
  if (inserted) {
    ++width_counts_[static_cast<size_t>(*width)];
  } else if (record.source_next_offset() < it->second.source_next_offset) {
    ++stale_records_;  // an older state, published late: the held one is newer
    return absl::OkStatus();
  }
  MetricValues delta;
  for (size_t i = 0; i < kMetricCount; ++i) delta[i] = values[i] - it->second.values[i];
  AddToTotals(region->index, *width, record.bucket_start_unix_s(), delta, +1);
  it->second.values = values;
  it->second.source_next_offset = record.source_next_offset();
  if (record.published_at_unix_ms() > latest_publish_ms_) {
    latest_publish_ms_ = record.published_at_unix_ms();
  }
  return absl::OkStatus();
}

absl::Status CountStore::AddSettledDay(uint16_t unit, int64_t day_start_unix_s,
                                       const MetricValues& values) {
  if (unit >= regions_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("settled day of unit index ", unit,
                                                   ", the region table has ", regions_.size()));
  }
  AddToTotals(unit, BucketWidth::kDay, day_start_unix_s, values, +1);
  return absl::OkStatus();
}

absl::Status CountStore::ApplyTombstone(std::string_view key_text) {
  absl::StatusOr<v1::CountRecord> parsed = ParseCountRecordKey(key_text);
  if (!parsed.ok()) return parsed.status();
  const Region* region = regions_.Find(parsed->region_code());
  if (region == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tombstone for unknown region \"", parsed->region_code(), "\""));
  }
  const BucketWidth width = *FromProto(parsed->width());
  const int topic = FindTopic(parsed->source_topic());
  if (topic < 0) return absl::OkStatus();  // nothing of that topic is held
  auto it = latest_.find(Key{static_cast<uint32_t>(topic), parsed->source_partition(),
                             region->index, width, parsed->bucket_start_unix_s()});
  if (it == latest_.end()) return absl::OkStatus();
  AddToTotals(region->index, width, parsed->bucket_start_unix_s(), it->second.values, -1);
  latest_.erase(it);
  --width_counts_[static_cast<size_t>(width)];
  return absl::OkStatus();
}

uint32_t CountStore::TopicIndex(std::string_view topic) {
  const int found = FindTopic(topic);
  if (found >= 0) return static_cast<uint32_t>(found);
  topics_.emplace_back(topic);
  return static_cast<uint32_t>(topics_.size() - 1);
}

int CountStore::FindTopic(std::string_view topic) const {
  for (size_t i = 0; i < topics_.size(); ++i) {
    if (topics_[i] == topic) return static_cast<int>(i);
  }
  return -1;
}

int CountStore::RegionIndex(std::string_view code) const {
  const Region* r = regions_.Find(code);
  return r == nullptr ? -1 : r->index;
}

void CountStore::AddRange(MetricValues& sum, int region, BucketWidth width, int64_t from,
                          int64_t to) const {
  const Totals& totals = rolled_[static_cast<size_t>(width)];
  const int64_t step =
      width == BucketWidth::kDay ? 1 : (width == BucketWidth::kHour ? kHour : kMinute);
  const uint16_t r = static_cast<uint16_t>(region);
  for (int64_t t = from; t < to; t += step) {
    auto it = totals.find(RegionTime{r, t});
    if (it == totals.end()) continue;
    for (size_t i = 0; i < kMetricCount; ++i) sum[i] += it->second[i];
  }
}

MetricValues CountStore::SumAll(std::string_view region_code, absl::CivilDay from,
                                absl::CivilDay to) const {
  MetricValues sum{};
  const int region = RegionIndex(region_code);
  if (region < 0 || from >= to) return sum;
  AddRange(sum, region, BucketWidth::kDay, from - kEpochDay, to - kEpochDay);
  return sum;
}

int64_t CountStore::Sum(Metric metric, std::string_view region_code, absl::CivilDay from,
                        absl::CivilDay to) const {
  return At(SumAll(region_code, from, to), metric);
}

void CountStore::AddHoursAndMinutes(MetricValues& sum, int region, int64_t from_s,
                                    int64_t to_s) const {
  if (from_s >= to_s) return;
  const int64_t h0 = CeilTo(from_s, kHour);
  const int64_t h1 = FloorTo(to_s, kHour);
  if (h0 < h1) {
    AddRange(sum, region, BucketWidth::kMinute, from_s, h0);
    AddRange(sum, region, BucketWidth::kHour, h0, h1);
    AddRange(sum, region, BucketWidth::kMinute, h1, to_s);
  } else {
    AddRange(sum, region, BucketWidth::kMinute, from_s, to_s);
  }
}

MetricValues CountStore::SumInstants(std::string_view region_code, absl::Time from,
                                     absl::Time to) const {
  MetricValues sum{};
  const int region = RegionIndex(region_code);
  if (region < 0 || from >= to) return sum;
  const int64_t from_s = FloorTo(absl::ToUnixSeconds(from), kMinute);
  const int64_t to_s = FloorTo(absl::ToUnixSeconds(to), kMinute);
  // Whole local days inside [from, to).
  absl::CivilDay first = absl::ToCivilDay(absl::FromUnixSeconds(from_s), regions_.zone());
  if (absl::ToUnixSeconds(absl::FromCivil(first, regions_.zone())) < from_s) first += 1;
  const absl::CivilDay last =
      absl::ToCivilDay(absl::FromUnixSeconds(to_s), regions_.zone());  // exclusive
  if (first < last) {
    const int64_t d0 = absl::ToUnixSeconds(absl::FromCivil(first, regions_.zone()));
    const int64_t d1 = absl::ToUnixSeconds(absl::FromCivil(last, regions_.zone()));
    AddHoursAndMinutes(sum, region, from_s, d0);
    AddRange(sum, region, BucketWidth::kDay, first - kEpochDay, last - kEpochDay);
    AddHoursAndMinutes(sum, region, d1, to_s);
  } else {
    AddHoursAndMinutes(sum, region, from_s, to_s);
  }
  return sum;
}

std::optional<Period> CountStore::WindowPeriod(Window window, absl::Time now) const {
  const absl::CivilDay today = absl::ToCivilDay(now, regions_.zone());
  switch (window) {
    case Window::kToday:
      return Period{today, today + 1};
    case Window::kMonthToDate:
      return Period{absl::CivilDay(absl::CivilMonth(today)), today + 1};
    case Window::kYearToDate:
      return Period{absl::CivilDay(absl::CivilYear(today)), today + 1};
    case Window::kLastHour:
    case Window::kLast24Hours:
    case Window::kLast7Days:
    case Window::kLast30Days:
      return std::nullopt;
  }
  return std::nullopt;
}

CountStore::Range CountStore::WindowRange(Window window, absl::Time now) const {
  const int64_t now_s = absl::ToUnixSeconds(now);
  const int64_t minute_end = FloorTo(now_s, kMinute) + kMinute;
  const int64_t hour_end = FloorTo(now_s, kHour) + kHour;
  auto range = [](int64_t from, int64_t to) {
    return Range{absl::FromUnixSeconds(from), absl::FromUnixSeconds(to)};
  };
  switch (window) {
    case Window::kLastHour:
      return range(minute_end - kHour, minute_end);
    case Window::kLast24Hours:
      return range(minute_end - 24 * kHour, minute_end);
    case Window::kLast7Days:
      return range(hour_end - 7 * 24 * kHour, hour_end);
    case Window::kLast30Days:
      return range(hour_end - 30 * 24 * kHour, hour_end);
    case Window::kToday:
    case Window::kMonthToDate:
    case Window::kYearToDate:
      break;
  }
  const Period p = *WindowPeriod(window, now);
  return Range{absl::FromCivil(p.from, regions_.zone()), absl::FromCivil(p.to, regions_.zone())};
}

MetricValues CountStore::WindowSumAll(std::string_view region_code, Window window,
                                      absl::Time now) const {
  if (std::optional<Period> p = WindowPeriod(window, now); p.has_value()) {
    return SumAll(region_code, p->from, p->to);
  }
  const Range r = WindowRange(window, now);
  return SumInstants(region_code, r.from, r.to);
}

int64_t CountStore::WindowSum(Metric metric, std::string_view region_code, Window window,
                              absl::Time now) const {
  return At(WindowSumAll(region_code, window, now), metric);
}

Change CountStore::PeriodYoY(Metric metric, std::string_view region_code,
                             const Period& period) const {
  const Period base = SamePeriodLastYear(period);
  return YearOverYear(Sum(metric, region_code, period.from, period.to),
                      Sum(metric, region_code, base.from, base.to));
}

std::optional<Change> CountStore::WindowYoY(Metric metric, std::string_view region_code,
                                            Window window, absl::Time now) const {
  const std::optional<Period> p = WindowPeriod(window, now);
  if (!p.has_value()) return std::nullopt;
  return PeriodYoY(metric, region_code, *p);
}

std::map<std::pair<std::string, absl::CivilDay>, MetricValues> CountStore::ByUnitAndDay() const {
  std::map<std::pair<std::string, absl::CivilDay>, MetricValues> out;
  for (const auto& [key, values] : unit_days_) {
    bool any = false;
    for (int64_t v : values) any = any || v != 0;
    if (!any) continue;
    out[{regions_.at(key.region_index).code, kEpochDay + key.start}] = values;
  }
  return out;
}

std::optional<Period> CountStore::DaysWithCounts() const {
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t last = std::numeric_limits<int64_t>::min();
  for (const auto& [key, values] : unit_days_) {
    bool any = false;
    for (int64_t v : values) any = any || v != 0;
    if (!any) continue;
    first = std::min(first, key.start);
    last = std::max(last, key.start);
  }
  if (first > last) return std::nullopt;
  return Period{kEpochDay + first, kEpochDay + last + 1};
}

}  // namespace roadpulse
