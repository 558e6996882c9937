// The per-input-partition aggregation state of the worker: decode, validate,
// deduplicate and apply amendments, and keep absolute bucket counts.
//
// Buckets (all by the event's occurred_at):
//  - day buckets (local days of the region table's time zone): they are what
//    the reports compare. A day is kept while a record can still change it;
//    once the dedup state has forgotten every id of it (below), no record can,
//    and the day is *settled*: it leaves the kept buckets. One published
//    since its last change is dropped; a dirty one goes to settled(), where
//    the caller takes it (publishes it, or a replay, which publishes nothing
//    until the end, sums it over partitions). So the kept days span the
//    retention horizon, not the processor's life;
//  - hour buckets (UTC-aligned hours, which are local hours in
//    Asia/Shanghai) for the last `hour_buckets_for` before the partition's
//    watermark, for exact rolling 7 d / 30 d windows;
//  - minute buckets for the last `minute_buckets_for`, for exact rolling
//    1 h / 24 h windows.
// A fine (hour/minute) bucket whose start falls behind its horizon is evicted
// and reported through ForEachTombstone, so the published record can be
// deleted (a Kafka tombstone). An event older than a width's horizon does not
// touch that width's buckets; the horizon only moves forward, so an evicted
// bucket is never recreated.
//
// Dedup state (bounded by time): the 80-bit fingerprint of every id whose
// occurred_at is inside the retention horizon (processors/internal/id_table.h).
// An id is forgotten once its whole occurred day (violations) or minute
// (accidents) is older than `watermark - retention_horizon`: any record that
// carries the same occurred_at is refused as kTooLate from then on, so
// forgetting can never count it twice. This covers exact duplicates and
// amendments (a revision carries the accident's occurred_at). A record that
// reuses a forgotten id with a *different*, newer occurred_at is a new event
// to the processor (while the id is remembered it is a duplicate or moves the
// accident).
#ifndef ROADPULSE_PROCESSORS_PARTITION_PROCESSOR_H_
#define ROADPULSE_PROCESSORS_PARTITION_PROCESSOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "processors/internal/id_table.h"
#include "processors/internal/local_days.h"
#include "processors/internal/stable_pool.h"
#include "processors/metrics.h"
#include "processors/region_table.h"
#include "processors/reject_reason.h"
#include "roadpulse/v1/counts.pb.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

// Which schema the records of an input partition carry.
enum class EventKind : uint8_t { kIncident, kViolation };

// Width of a time bucket (the proto's BucketWidth, without UNSPECIFIED).
enum class BucketWidth : uint8_t { kDay = 0, kHour = 1, kMinute = 2 };

struct ProcessorOptions {
  // Events whose occurred_at is more than this before the newest occurred_at
  // seen on the partition are refused as kTooLate; ids older than it are
  // forgotten by the dedup state.
  absl::Duration retention_horizon = absl::Hours(24 * 400);
  // Minute buckets are kept while their start is within this of the
  // watermark's minute (rolling 1 h / 24 h windows). Zero: no minute buckets.
  absl::Duration minute_buckets_for = absl::Hours(25);
  // Hour buckets, likewise (rolling 7 d / 30 d windows). Zero: none.
  absl::Duration hour_buckets_for = absl::Hours(24 * 31);
  // An instant more than this after the record's timestamp is kFutureTime.
  absl::Duration max_clock_skew = absl::Hours(1);
  // Sanity bounds: above them a record is kAbsurdCount. Deaths and injuries
  // are held in 16 bits: values above 65535 are clamped to it.
  int32_t max_deaths = 500;
  int32_t max_injuries = 5000;
  int64_t max_property_loss_yuan = 10'000'000'000;
  double max_blood_alcohol_mg_100ml = 1000.0;
};

// Key of one bucket: counting unit (RegionTable index), start and width.
struct BucketKey {
  uint16_t region_index = 0;
  // Day: local midnight in the region table's time zone. Hour / minute: the
  // UTC-aligned start, Unix seconds.
  int64_t start_unix_s = 0;
  BucketWidth width = BucketWidth::kDay;

  friend bool operator==(const BucketKey& a, const BucketKey& b) {
    return a.region_index == b.region_index && a.start_unix_s == b.start_unix_s &&
           a.width == b.width;
  }
  template <typename H>
  friend H AbslHashValue(H h, const BucketKey& k) {
    return H::combine(std::move(h), k.region_index, k.start_unix_s, k.width);
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
  // kTooLate: the refused event's occurred_at (a replay tells which of them
  // fall in its report's periods). Otherwise InfinitePast.
  absl::Time too_late_occurred_at = absl::InfinitePast();
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

  // A hint, for a record that Process() will see soon (the next one in the
  // batch): peeks at its id without parsing it and starts loading the dedup
  // state it will need into the cache. Never changes what Process() does.
  void Prefetch(std::string_view payload) const;

  // The whole state (tally, watermark, horizons, every kept bucket, the
  // dedup table) for a checkpoint. Dirty flags and pending tombstones are
  // not part of it: publish them first.
  v1::PartitionState SaveState() const;
  // A processor holding `state` (from SaveState, possibly in another
  // process). kInvalidArgument, naming the problem, for a state of the other
  // kind, a region code or metric this build or region table does not know,
  // or malformed id records.
  static absl::StatusOr<std::unique_ptr<PartitionProcessor>> Restore(
      EventKind kind, const RegionTable& regions, ProcessorOptions options,
      const v1::PartitionState& state);

  // Calls fn for every bucket (of any width) changed since the last
  // ClearDirty(), with its absolute values; settled days not yet cleared
  // that changed since they were last published are among them.
  void ForEachDirty(const std::function<void(const BucketKey&, const MetricValues&)>& fn) const;
  // The caller has published what ForEachDirty reported (settled days
  // included: they stay in settled(), no longer dirty).
  void ClearDirty();
  // Rolling windows end at the wall-clock time they are asked at and reach
  // back at most a fine width's keep (hour_buckets_for, minute_buckets_for).
  // A changed fine bucket that ended more than its keep plus a day (for
  // clocks that disagree) before `now`, and was never published, is marked
  // clean without being reported: no window can show it, and its record
  // would only be followed by a tombstone when it is evicted. A worker
  // catching up on months of history published about 1.2 such records
  // (values, then tombstones) per event. A published bucket stays dirty, so the counts topic
  // never keeps a stale value; day buckets are never skipped. Call it before
  // ForEachDirty. Returns how many buckets it skipped.
  size_t SkipUnwatchable(absl::Time now);
  // The same rule, applied before the work: from this call on, an event does
  // not create a fine bucket that ended more than its keep plus a day before
  // `now` (SkipUnwatchable would never report it). One that already exists
  // (perhaps published) is still changed, so it stays exact. A worker
  // catching up on history then keeps day buckets only, instead of creating
  // and evicting an hour and a minute bucket for almost every event. `now`
  // is the caller's wall clock, never a record's timestamp (which a producer
  // chooses); a `now` earlier than a previous one changes nothing. Without a
  // call (replay, tests) every fine bucket inside its horizon is kept. A
  // bucket not created is in neither FindBucket nor SaveState; day buckets,
  // the dedup state and the tally are unaffected.
  void SetWallClock(absl::Time now);
  // Marks every bucket dirty (after a restore, to republish everything).
  void MarkAllDirty();
  size_t dirty_count() const { return dirty_count_; }

  // Fine buckets evicted since the last ClearTombstones() that were
  // published before (reported by ForEachDirty, then ClearDirty): publish a
  // tombstone for each. A key is listed once.
  const std::vector<BucketKey>& tombstones() const { return tombstones_; }
  void ClearTombstones() { tombstones_.clear(); }

  // The absolute values of a kept bucket (day buckets until they settle;
  // hour and minute buckets inside their horizons), or nullopt.
  std::optional<MetricValues> FindBucket(const BucketKey& key) const;
  // Calls fn for every kept bucket of every width, and every settled day not
  // yet cleared, in no particular order.
  void ForEachBucket(const std::function<void(const BucketKey&, const MetricValues&)>& fn) const;

  // A day bucket that no record can change any more: its whole day is older
  // than the horizon of the last id sweep, so every id of it is forgotten
  // and any record for it is kTooLate. Listed once, with its final values,
  // if it changed since ForEachDirty last reported it (a day that did not is
  // dropped when it settles: its final values are published).
  struct SettledDay {
    BucketKey key;
    MetricValues values{};
    bool dirty = true;  // false after ClearDirty(): ForEachDirty reported it
  };
  // Days settled dirty since the last ClearSettled(), oldest sweep first.
  // They are in no checkpoint (SaveState): publish them before saving.
  const std::vector<SettledDay>& settled() const { return settled_; }
  // The caller has taken settled(): they are dropped. A long-lived caller
  // must call it (after publishing), or settled days pile up here.
  void ClearSettled();
  // Start of the oldest local day that is still kept (and may still
  // change): earlier days are settled. INT64_MIN before the first sweep.
  int64_t settled_before_unix_s() const { return settled_before_s_; }
  // Kept buckets of `width` (settled days not included).
  size_t bucket_count(BucketWidth width) const {
    return bucket_count_[static_cast<size_t>(width)];
  }
  // Start of the oldest bucket of `width` that is still kept (and may still
  // change); INT64_MIN before the first event. kDay: always INT64_MIN (see
  // settled_before_unix_s()).
  int64_t horizon_unix_s(BucketWidth width) const {
    return horizon_[static_cast<size_t>(width)];
  }
  // Ids remembered by the dedup state, and its approximate heap size.
  size_t remembered_ids() const { return accidents_.size() + violations_.size(); }
  size_t dedup_memory_bytes() const {
    return accidents_.memory_bytes() + violations_.memory_bytes();
  }
  absl::Time watermark() const { return watermark_; }
  // Oldest occurred_at of the valid events this object processed (not
  // restored from a checkpoint); InfiniteFuture before the first. With
  // watermark(), the span of time the input covers (replay's hint when a
  // report's period misses it).
  absl::Time earliest() const { return earliest_; }
  const PartitionTally& tally() const { return tally_; }
  EventKind kind() const { return kind_; }
  const RegionTable& regions() const { return regions_; }

  // Local-midnight start of the day containing `t`, in the table's time zone.
  int64_t DayStart(absl::Time t) { return DayStartOf(absl::ToUnixSeconds(t)); }
  int64_t DayStartOf(int64_t unix_s);

 private:
  // What the counted revision of an accident contributed, compactly (24
  // bytes), so an amendment can take it back.
  struct SeenAccident {
    uint32_t revision = 0;
    int32_t occurred_minute = 0;  // floor(occurred_at Unix seconds / 60)
    uint32_t loss_lo = 0;         // property_loss_yuan, low and high 32 bits
    uint32_t loss_hi = 0;
    uint16_t deaths = 0;
    uint16_t injuries = 0;
    uint16_t region_index = 0;
    uint8_t flags = 0;  // kOrdinary | kVideo | kE3E4 | kAlcohol | kRural
  };
  static MetricValues Contribution(const SeenAccident& a);

  ProcessResult ProcessIncident(std::string_view payload, absl::Time record_time);
  ProcessResult ProcessViolation(std::string_view payload, absl::Time record_time);
  ProcessResult Reject(RejectReason reason, std::string detail);
  // Moves the watermark; evicts fine buckets and forgets old ids as needed.
  void Advance(absl::Time occurred);
  // Sets watermark_ and oldest_allowed_ together.
  void SetWatermark(absl::Time watermark);
  void EvictFine();
  void SweepIds();
  // Drops the day buckets of days before the one holding swept_at_s_ (they
  // ended at or before it); the dirty ones go to settled_ first.
  void SettleDays();
  // Calls fn(KindValues&) for the day bucket and every kept fine bucket of
  // `unit` at `occurred_s`.
  template <typename Fn>
  void ForEachBucketOf(uint16_t unit, int64_t occurred_s, Fn fn);
  void Apply(const SeenAccident& accident, int sign);

  // A bucket holds the metrics of its processor's kind only: an incident
  // processor's Metric::kAccidents .. kRuralAccidents, a violation
  // processor's kDrinkDriving .. kKeyViolations (metrics.h keeps each kind's
  // together). 88 bytes instead of 152: most of a worker's memory is buckets.
  static constexpr size_t kKindSlots = 11;
  using KindValues = std::array<int64_t, kKindSlots>;
  // All metrics, zero outside the kind's.
  MetricValues Expand(const KindValues& values) const;

  const EventKind kind_;
  // The kind's metrics are [first_metric_, first_metric_ + kind_metrics_).
  const size_t first_metric_;
  const size_t kind_metrics_;
  const RegionTable& regions_;
  const ProcessorOptions options_;
  processors_internal::LocalDays days_;  // day starts in the table's zone

  v1::IncidentEvent incident_;  // reused parse targets
  v1::ViolationEvent violation_;

  // Bucket storage. Buckets live in `pool_` (stable addresses) and
  // are found through `day_index_` (days) or their time slot in `ring_`
  // (hours, minutes); each counting unit keeps a cursor on its
  // last bucket of each width, so events in time order (the usual case)
  // find their buckets without hashing. Evicted fine buckets' slots are
  // reused.
  struct Bucket {
    BucketKey key;
    KindValues values{};
    bool dirty = false;
    bool listed = false;     // the slot's index is in dirty_
    bool published = false;  // reported by ForEachDirty before a ClearDirty
    bool live = false;    // false: evicted, the slot is free
  };
  struct Cursor {
    int64_t start = std::numeric_limits<int64_t>::min();
    uint32_t bucket = 0;
  };
  // The pool index of the bucket of `key`, created (zero) if needed.
  // REQUIRES: a fine key's start is not behind its width's horizon.
  uint32_t BucketFor(const BucketKey& key);
  uint32_t NewBucket(const BucketKey& key);
  // The pool index of the kept fine bucket of `key`, or nullopt.
  std::optional<uint32_t> FindFine(const BucketKey& key) const;
  void MarkDirty(uint32_t index);
  void Evict(uint32_t index);
  // Frees a kept bucket's pool slot: its cursor, its count, not dirty. The
  // caller has settled its dirty count and its day_index_ or ring entry.
  void FreeSlot(uint32_t index);
  // Starts loading a pooled bucket into the cache (for writing).
  void PrefetchBucket(uint32_t index) const;
  processors_internal::StablePool<Bucket> pool_;
  // Day buckets only, by DayIndexKey: 16-byte map slots where a BucketKey
  // made 32.
  absl::flat_hash_map<uint64_t, uint32_t> day_index_;
  // The counting unit in the top 16 bits, the start's low 48 bits below
  // (every valid Timestamp's Unix seconds fit in 48-bit two's complement).
  static uint64_t DayIndexKey(const BucketKey& key) {
    return (static_cast<uint64_t>(key.region_index) << 48) |
           (static_cast<uint64_t>(key.start_unix_s) & ((uint64_t{1} << 48) - 1));
  }
  // Kept day buckets as (start, pool index), a min-heap by start: SettleDays
  // pops the days to settle instead of scanning day_index_.
  std::vector<std::pair<int64_t, uint32_t>> days_by_start_;
  std::vector<Cursor> cursors_;        // [unit * 3 + width]
  std::vector<uint32_t> free_;         // free slots of pool_
  std::vector<uint32_t> dirty_;        // pool indices, each once (`listed`)
  size_t dirty_count_ = 0;             // dirty buckets, kept or settled
  size_t bucket_count_[3] = {0, 0, 0};
  // Fine buckets by start, for eviction in time order: a ring per width with
  // one slot per hour / minute inside the horizon (plus slack).
  struct RingSlot {
    int64_t start = std::numeric_limits<int64_t>::min();
    std::vector<std::pair<uint16_t, uint32_t>> buckets;  // (unit, pool index)
  };
  // The ring_[width] slot of a bucket start. REQUIRES: the ring is not empty.
  // Ring sizes are powers of two, so this is a shift-free mask.
  size_t SlotIndex(BucketWidth width, int64_t start) const;
  std::vector<RingSlot> ring_[3];
  int64_t horizon_[3];  // per BucketWidth: oldest start still kept
  int64_t keep_s_[3];   // per BucketWidth: minute/hour_buckets_for in seconds (0: none)
  // Per BucketWidth: a fine bucket ending at or before this is not created
  // (SetWallClock); INT64_MIN until then.
  int64_t unwatchable_end_[3];
  int64_t wall_clock_s_ = std::numeric_limits<int64_t>::min();  // newest SetWallClock
  std::vector<BucketKey> tombstones_;
  std::vector<SettledDay> settled_;
  int64_t settled_before_s_ = std::numeric_limits<int64_t>::min();
  processors_internal::IdTable<SeenAccident> accidents_;
  // Value: occurred day, floor(s / 86400), clamped to [0, 65535] (1970-2149;
  // clamping only forgets a pre-1970 id early, when it is too late anyway).
  processors_internal::IdTable<uint16_t> violations_;
  absl::Time watermark_ = absl::InfinitePast();  // newest occurred_at seen
  absl::Time earliest_ = absl::InfiniteFuture();  // oldest occurred_at seen here
  // watermark_ - retention_horizon, kept with it (SetWatermark): an event that
  // occurred before it is too late. InfinitePast until the first event.
  absl::Time oldest_allowed_ = absl::InfinitePast();
  int64_t watermark_minute_ = INT64_MIN;          // floor(watermark / 60 s)
  int64_t swept_at_s_ = INT64_MIN;  // retention horizon (Unix s) of the last id sweep
  int64_t sweep_every_s_ = 0;
  PartitionTally tally_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_PARTITION_PROCESSOR_H_
