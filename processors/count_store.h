// The read side of roadpulse.counts: keeps the newest CountRecord per key and
// answers sums over source partitions, regions and days. Used by `report`,
// `serve`, the demo's table and the tests.
#ifndef ROADPULSE_PROCESSORS_COUNT_STORE_H_
#define ROADPULSE_PROCESSORS_COUNT_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "processors/metrics.h"
#include "processors/region_table.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {

// Not thread-safe; guard externally when one thread applies and others read.
class CountStore {
 public:
  // `regions` must outlive this object.
  explicit CountStore(const RegionTable& regions);

  // Applies one record: it replaces the previous record of the same
  // (source_topic, source_partition, region, width, bucket). kInvalidArgument
  // for an unknown region or metric (the record is not applied).
  absl::Status Apply(const v1::CountRecord& record);
  // Same, from the serialized value of a roadpulse.counts message.
  absl::Status ApplySerialized(std::string_view value);

  // Sum over source partitions and over the units of `region_code` (a
  // township, county, the city or the main urban area; see
  // RegionTable::UnitsOf) for local days in [from, to).
  int64_t Sum(Metric metric, std::string_view region_code, absl::CivilDay from,
              absl::CivilDay to) const;
  MetricValues SumAll(std::string_view region_code, absl::CivilDay from, absl::CivilDay to) const;

  // Per counting unit and local day, the values summed over source
  // partitions (only buckets with a non-zero metric).
  std::map<std::pair<std::string, absl::CivilDay>, MetricValues> ByUnitAndDay() const;

  // Newest published_at_unix_ms seen, 0 when empty.
  int64_t latest_publish_ms() const { return latest_publish_ms_; }
  size_t record_count() const { return latest_.size(); }
  const RegionTable& regions() const { return regions_; }

 private:
  struct Key {
    std::string source_topic;
    int32_t source_partition;
    uint16_t region_index;
    int64_t day_start_unix_s;
    friend bool operator==(const Key& a, const Key& b) {
      return std::tie(a.source_topic, a.source_partition, a.region_index, a.day_start_unix_s) ==
             std::tie(b.source_topic, b.source_partition, b.region_index, b.day_start_unix_s);
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.source_topic, k.source_partition, k.region_index,
                        k.day_start_unix_s);
    }
  };
  struct UnitDay {
    uint16_t region_index;
    int64_t day_start_unix_s;
    friend bool operator==(const UnitDay& a, const UnitDay& b) {
      return a.region_index == b.region_index && a.day_start_unix_s == b.day_start_unix_s;
    }
    template <typename H>
    friend H AbslHashValue(H h, const UnitDay& k) {
      return H::combine(std::move(h), k.region_index, k.day_start_unix_s);
    }
  };

  const RegionTable& regions_;
  absl::TimeZone tz_;
  absl::flat_hash_map<Key, MetricValues> latest_;
  // Sum over source partitions, kept up to date by Apply.
  absl::flat_hash_map<UnitDay, MetricValues> totals_;
  int64_t latest_publish_ms_ = 0;
};

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_COUNT_STORE_H_
