// The per-input-partition aggregation state of the worker: decode, validate,
// deduplicate and apply amendments, and keep absolute bucket counts.
#ifndef ROADPULSE_PROCESSORS_PARTITION_PROCESSOR_H_
#define ROADPULSE_PROCESSORS_PARTITION_PROCESSOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "processors/metrics.h"
#include "processors/region_table.h"
#include "processors/reject_reason.h"
#include "roadpulse/v1/counts.pb.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

// Which schema the records of an input partition carry.
enum class EventKind : uint8_t { kIncident, kViolation };

struct ProcessorOptions {
  // Events whose occurred_at is more than this before the newest occurred_at
  // seen on the partition are refused as kTooLate.
  absl::Duration retention_horizon = absl::Hours(24 * 400);
  // An instant more than this after the record's timestamp is kFutureTime.
  absl::Duration max_clock_skew = absl::Hours(1);
  // Sanity bounds: above them a record is kAbsurdCount.
  int32_t max_deaths = 500;
  int32_t max_injuries = 5000;
  int64_t max_property_loss_yuan = 10'000'000'000;
  double max_blood_alcohol_mg_100ml = 1000.0;
};

// Key of one bucket: counting unit (RegionTable index) and local day start.
struct BucketKey {
  uint16_t region_index = 0;
  int64_t day_start_unix_s = 0;  // local midnight in the region table's time zone

  friend bool operator==(const BucketKey& a, const BucketKey& b) {
    return a.region_index == b.region_index && a.day_start_unix_s == b.day_start_unix_s;
  }
  template <typename H>
  friend H AbslHashValue(H h, const BucketKey& k) {
    return H::combine(std::move(h), k.region_index, k.day_start_unix_s);
  }
};

enum class Outcome : uint8_t {
  kCounted,    // first sight of the id: counts moved
  kAmended,    // a higher revision of a counted accident: counts moved by the difference
  kDuplicate,  // same or older revision, or a violation id seen before: nothing moved
  kRejected,   // bad input: nothing moved; send to the DLQ with `reason`
};

struct ProcessResult {
  Outcome outcome = Outcome::kCounted;
  RejectReason reason = RejectReason::kNotProtobuf;  // meaningful when kRejected
  std::string detail;                                // human-readable, when kRejected
};

// Counters of one partition: read == counted + amended + duplicates + rejected.
struct PartitionTally {
  int64_t read = 0;
  int64_t counted = 0;
  int64_t amended = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  bool Balanced() const { return read == counted + amended + duplicates + rejected; }
};

// Not thread-safe: one partition is processed by one thread at a time.
class PartitionProcessor {
 public:
  // `regions` must outlive this object.
  PartitionProcessor(EventKind kind, const RegionTable& regions, ProcessorOptions options);

  // Processes one record's value. `record_time` is the Kafka record timestamp
  // (or the replay's reference time) used for the kFutureTime check;
  // absl::InfinitePast() disables that check.
  ProcessResult Process(std::string_view payload, absl::Time record_time);

  // Calls fn for every bucket changed since the last ClearDirty(), with its
  // absolute values.
  void ForEachDirty(const std::function<void(const BucketKey&, const MetricValues&)>& fn) const;
  void ClearDirty() { dirty_.clear(); }
  // Marks every bucket dirty (after a restore, to republish everything).
  void MarkAllDirty();
  size_t dirty_count() const { return dirty_.size(); }

  // All buckets with their absolute values.
  const absl::flat_hash_map<BucketKey, MetricValues>& buckets() const { return buckets_; }
  const PartitionTally& tally() const { return tally_; }
  EventKind kind() const { return kind_; }
  const RegionTable& regions() const { return regions_; }

  // Local-midnight start of the day containing `t`, in the table's time zone.
  int64_t DayStart(absl::Time t);

 private:
  // What the counted revision of an accident contributed, compactly, so an
  // amendment can take it back.
  struct SeenAccident {
    uint32_t revision = 0;
    uint16_t region_index = 0;
    uint8_t flags = 0;  // kOrdinary | kVideo | kE3E4 | kAlcohol
    int32_t deaths = 0;
    int32_t injuries = 0;
    int64_t day_start_unix_s = 0;
    int64_t property_loss_yuan = 0;
  };
  static MetricValues Contribution(const SeenAccident& a);

  ProcessResult ProcessIncident(std::string_view payload, absl::Time record_time);
  ProcessResult ProcessViolation(std::string_view payload, absl::Time record_time);
  ProcessResult Reject(RejectReason reason, std::string detail);
  void Apply(const SeenAccident& accident, int sign);
  void Bump(const BucketKey& key, Metric metric);

  const EventKind kind_;
  const RegionTable& regions_;
  const ProcessorOptions options_;
  absl::TimeZone tz_;
  // Cache of the last day looked up: [cached_day_start_, cached_day_end_).
  int64_t cached_day_start_ = 1;
  int64_t cached_day_end_ = 0;

  v1::IncidentEvent incident_;  // reused parse targets
  v1::ViolationEvent violation_;
  absl::flat_hash_map<BucketKey, MetricValues> buckets_;
  absl::flat_hash_set<BucketKey> dirty_;
  absl::flat_hash_map<std::string, SeenAccident> accidents_;
  absl::flat_hash_set<std::string> violations_;
  absl::Time watermark_ = absl::InfinitePast();  // newest occurred_at seen
  PartitionTally tally_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_PARTITION_PROCESSOR_H_
