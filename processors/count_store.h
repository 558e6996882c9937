// The read side of roadpulse.counts: keeps the newest CountRecord per key
// (a tombstone deletes its key) and answers sums over source partitions,
// regions and time: calendar periods of days, rolling windows from the minute
// and hour buckets, and the same period last year. Used by `report`, `serve`,
// the demo's table and the tests.
//
// Sums are kept rolled up at apply time: every record updates the totals of
// its counting unit and of every region that contains the unit (its county,
// the city, the main urban area; RegionTable::UnitsOf), per bucket. A query
// then reads one total per bucket, whatever the region: a year-over-year
// comparison over two years of day buckets for the whole city is ~500 hash
// lookups (bench/processors_bench.cc measures it).
#ifndef ROADPULSE_PROCESSORS_COUNT_STORE_H_
#define ROADPULSE_PROCESSORS_COUNT_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "processors/metrics.h"
#include "processors/partition_processor.h"
#include "processors/period.h"
#include "processors/region_table.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {

// Windows a live view asks for. Rolling windows end with the minute (1 h,
// 24 h) or the hour (7 d, 30 d) that contains `now`, so they are exact sums of
// buckets: last hour at 10:17:30 is [09:18, 10:18); last 7 days at 10:17 is
// [10:00 seven days earlier + 1 h, 11:00). Calendar windows are local days of
// the region table's time zone, up to and including the day of `now`.
enum class Window : uint8_t {
  kLastHour,     // rolling 1 h, from minute buckets
  kLast24Hours,  // rolling 24 h, from minute and hour buckets
  kLast7Days,    // rolling 7 d, from hour and day buckets
  kLast30Days,   // rolling 30 d, from hour and day buckets
  kToday,        // the local day of `now`
  kMonthToDate,  // the 1st of the month to the day of `now`, inclusive
  kYearToDate,   // 1 January to the day of `now`, inclusive
};

// "1h", "24h", "7d", "30d", "today", "month", "ytd".
std::string_view WindowName(Window window);
std::optional<Window> WindowFromName(std::string_view name);

// Not thread-safe; guard externally when one thread applies and others read.
class CountStore {
 public:
  // `regions` must outlive this object.
  explicit CountStore(const RegionTable& regions);

  // Applies one record: it replaces the previous record of the same
  // (source_topic, source_partition, region, width, bucket), unless that one
  // was published further into the source partition (a higher
  // source_next_offset): a worker that lost the partition and published late
  // (a paused process, records delivered after an outage) wrote an older
  // state of the same deterministic count, which must not replace the new
  // owner's. kInvalidArgument for an unknown region, metric or bucket width
  // (the record is not applied).
  absl::Status Apply(const v1::CountRecord& record);
  // Same, from the serialized value of a roadpulse.counts message.
  absl::Status ApplySerialized(std::string_view value);
  // A tombstone (null value) for the message key `key` (CountRecordKey):
  // the record of that key is removed from every sum. An unknown key is a
  // no-op; a malformed one kInvalidArgument.
  absl::Status ApplyTombstone(std::string_view key);

  // Adds a day's final values, already summed over source partitions: a
  // day that every processor has settled (PartitionProcessor::settled()),
  // which no record will replace or delete. It is in every sum from then on,
  // but holds no record of its own (record_count() does not change): a
  // replay of many years keeps one total per unit and day, not one record
  // per partition. kInvalidArgument for a unit index outside the table.
  absl::Status AddSettledDay(uint16_t unit, int64_t day_start_unix_s, const MetricValues& values);

  // Sum over source partitions and over the units of `region_code` (a
  // township, county, the city or the main urban area; see
  // RegionTable::UnitsOf) for local days in [from, to). Unknown region: 0.
  int64_t Sum(Metric metric, std::string_view region_code, absl::CivilDay from,
              absl::CivilDay to) const;
  MetricValues SumAll(std::string_view region_code, absl::CivilDay from, absl::CivilDay to) const;

  // The instants [from, to) a window covers at `now`.
  struct Range {
    absl::Time from;
    absl::Time to;
  };
  Range WindowRange(Window window, absl::Time now) const;
  // For calendar windows, the local days they cover; nullopt for rolling ones.
  std::optional<Period> WindowPeriod(Window window, absl::Time now) const;

  // The window's values for the region. Rolling windows need the minute and
  // hour buckets, which workers keep for ~25 h and ~31 days before their
  // partition's watermark: older parts of a rolling window read as 0.
  MetricValues WindowSumAll(std::string_view region_code, Window window, absl::Time now) const;
  int64_t WindowSum(Metric metric, std::string_view region_code, Window window,
                    absl::Time now) const;
  // Sum over [from, to) for minute-aligned instants: whole local days from
  // day buckets, whole hours from hour buckets, the rest from minute buckets.
  MetricValues SumInstants(std::string_view region_code, absl::Time from, absl::Time to) const;

  // Year over year: the period against SamePeriodLastYear(period) (a bound on
  // 29 February moves to 1 March, so the leap day has no twin; see period.h).
  Change PeriodYoY(Metric metric, std::string_view region_code, const Period& period) const;
  // The same for a calendar window; nullopt for rolling windows (their fine
  // buckets are not kept for a year).
  std::optional<Change> WindowYoY(Metric metric, std::string_view region_code, Window window,
                                  absl::Time now) const;

  // Per counting unit and local day, the values summed over source
  // partitions (only buckets with a non-zero metric). Day buckets only.
  std::map<std::pair<std::string, absl::CivilDay>, MetricValues> ByUnitAndDay() const;

  // The local days from the first to the last (exclusive end: the day
  // after) that hold a non-zero day count of any unit; nullopt when none
  // does. Walks every unit and day: for a one-off question (a report's
  // hint that its period misses the counts), not per query.
  std::optional<Period> DaysWithCounts() const;

  // Newest published_at_unix_ms seen, 0 when empty.
  int64_t latest_publish_ms() const { return latest_publish_ms_; }
  // Records not applied because the held record of their key was published
  // further into the source partition (see Apply).
  int64_t stale_records() const { return stale_records_; }
  // Makes room for `records` records in all (a bulk load's size, known
  // ahead); a hint, never required.
  void Reserve(size_t records) { latest_.reserve(records); }
  // Records held (all widths), and those of `width`.
  size_t record_count() const { return latest_.size(); }
  size_t record_count(BucketWidth width) const {
    return width_counts_[static_cast<size_t>(width)];
  }
  const RegionTable& regions() const { return regions_; }

 private:
  struct Key {
    uint32_t source_topic;  // index into topics_
    int32_t source_partition;
    uint16_t region_index;
    BucketWidth width;
    int64_t start_unix_s;
    friend bool operator==(const Key& a, const Key& b) {
      return std::tie(a.source_topic, a.source_partition, a.region_index, a.width,
                      a.start_unix_s) == std::tie(b.source_topic, b.source_partition,
                                                  b.region_index, b.width, b.start_unix_s);
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.source_topic, k.source_partition, k.region_index,
                        k.width, k.start_unix_s);
    }
  };
  // A region (any level) and a bucket: for day buckets `start` is the local
  // day's number (days since 1970-01-01), else the Unix start.
  struct RegionTime {
    uint16_t region_index;
    int64_t start;
    friend bool operator==(const RegionTime& a, const RegionTime& b) {
      return a.region_index == b.region_index && a.start == b.start;
    }
    template <typename H>
    friend H AbslHashValue(H h, const RegionTime& k) {
      return H::combine(std::move(h), k.region_index, k.start);
    }
  };
  using Totals = absl::flat_hash_map<RegionTime, MetricValues>;

  // Adds `sign` * values to the unit's and its containing regions' totals.
  void AddToTotals(uint16_t unit, BucketWidth width, int64_t start_unix_s,
                   const MetricValues& values, int sign);
  int64_t DayNumber(int64_t day_start_unix_s) const;
  // Sums of one rolled-up region over bucket starts [from, to) (day numbers
  // for kDay, Unix seconds stepping by the width otherwise).
  void AddRange(MetricValues& sum, int region, BucketWidth width, int64_t from,
                int64_t to) const;
  void AddHoursAndMinutes(MetricValues& sum, int region, int64_t from_s, int64_t to_s) const;
  int RegionIndex(std::string_view code) const;
  // The index of a source topic in topics_, added when new (TopicIndex) or
  // -1 when unknown (FindTopic). A handful of topics: a linear search.
  uint32_t TopicIndex(std::string_view topic);
  int FindTopic(std::string_view topic) const;

  const RegionTable& regions_;
  // Source topic names, held once (not in every key).
  std::vector<std::string> topics_;
  // The values of each key's record, and how far into its source partition
  // the record was exact (source_next_offset).
  struct Held {
    MetricValues values{};
    int64_t source_next_offset = 0;
  };
  absl::flat_hash_map<Key, Held> latest_;
  // Per width: rolled-up totals over source partitions, by region and bucket.
  Totals rolled_[3];
  // Day totals of each counting unit alone (for ByUnitAndDay).
  Totals unit_days_;
  // For each region index, the regions whose totals include it.
  std::vector<std::vector<uint16_t>> containers_;
  size_t width_counts_[3] = {0, 0, 0};
  int64_t latest_publish_ms_ = 0;
  int64_t stale_records_ = 0;
};

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_COUNT_STORE_H_
