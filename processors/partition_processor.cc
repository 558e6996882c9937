#include "processors/partition_processor.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/util/time_util.h"
#include "processors/internal/event_view.h"
#include "processors/internal/prefetch.h"

namespace roadpulse {
namespace {

constexpr uint8_t kOrdinary = 1;
constexpr uint8_t kVideo = 2;
constexpr uint8_t kE3E4 = 4;
constexpr uint8_t kAlcohol = 8;
constexpr uint8_t kRural = 16;  // on a township or village road

// GB 19522: drink driving from 20, drunk driving from 80 mg/100 mL.
constexpr double kDrinkThreshold = 20.0;
constexpr double kDrunkThreshold = 80.0;

enum class WireCheck { kOk, kTruncated, kMalformed };

// Why a payload failed to parse: it ran out in the middle of a field
// (truncated) or it is not protobuf wire format at all. Only called after
// ParseFromArray failed, so it need not be fast.
WireCheck ScanWire(std::string_view bytes) {
  size_t pos = 0;
  auto read_varint = [&](uint64_t* out) -> WireCheck {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.size()) return WireCheck::kTruncated;
      const uint8_t b = static_cast<uint8_t>(bytes[pos++]);
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *out = value;
        return WireCheck::kOk;
      }
    }
    return WireCheck::kMalformed;
  };
  while (pos < bytes.size()) {
    uint64_t tag = 0;
    if (WireCheck c = read_varint(&tag); c != WireCheck::kOk) return c;
    if ((tag >> 3) == 0) return WireCheck::kMalformed;
    switch (tag & 7) {
      case 0: {
        uint64_t ignored = 0;
        if (WireCheck c = read_varint(&ignored); c != WireCheck::kOk) return c;
        break;
      }
      case 1:
        if (bytes.size() - pos < 8) return WireCheck::kTruncated;
        pos += 8;
        break;
      case 2: {
        uint64_t len = 0;
        if (WireCheck c = read_varint(&len); c != WireCheck::kOk) return c;
        if (len > bytes.size() - pos) return WireCheck::kTruncated;
        pos += len;
        break;
      }
      case 5:
        if (bytes.size() - pos < 4) return WireCheck::kTruncated;
        pos += 4;
        break;
      default:  // groups (3, 4) are not used by our schema; 6 and 7 do not exist
        return WireCheck::kMalformed;
    }
  }
  return WireCheck::kOk;
}

ProcessorOptions Clamped(ProcessorOptions o) {
  o.max_deaths = std::min<int32_t>(o.max_deaths, std::numeric_limits<uint16_t>::max());
  o.max_injuries = std::min<int32_t>(o.max_injuries, std::numeric_limits<uint16_t>::max());
  return o;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// A fine bucket of a width kept for `keep_s` that ends at or before this is
// in no rolling window asked at `now_s` or later (a day of slack for clocks
// that disagree).
int64_t UnwatchableEnd(int64_t now_s, int64_t keep_s) { return now_s - keep_s - 86400; }

int64_t UnitSeconds(BucketWidth width) {
  return width == BucketWidth::kHour ? 3600 : width == BucketWidth::kMinute ? 60 : 86400;
}

}  // namespace

// Each kind's metrics are contiguous, and fit a bucket's slots.
static_assert(static_cast<size_t>(Metric::kRuralAccidents) + 1 ==
              static_cast<size_t>(Metric::kDrinkDriving));
static_assert(static_cast<size_t>(Metric::kDrinkDriving) <= 11 &&
              kMetricCount - static_cast<size_t>(Metric::kDrinkDriving) <= 11);

PartitionProcessor::PartitionProcessor(EventKind kind, const RegionTable& regions,
                                       ProcessorOptions options)
    : kind_(kind),
      first_metric_(kind == EventKind::kIncident ? 0 : static_cast<size_t>(Metric::kDrinkDriving)),
      kind_metrics_(kind == EventKind::kIncident
                        ? static_cast<size_t>(Metric::kDrinkDriving)
                        : kMetricCount - static_cast<size_t>(Metric::kDrinkDriving)),
      regions_(regions),
      options_(Clamped(options)),
      days_(regions.zone()) {
  keep_s_[static_cast<size_t>(BucketWidth::kDay)] = 0;
  keep_s_[static_cast<size_t>(BucketWidth::kHour)] =
      absl::ToInt64Seconds(options_.hour_buckets_for);
  keep_s_[static_cast<size_t>(BucketWidth::kMinute)] =
      absl::ToInt64Seconds(options_.minute_buckets_for);
  for (size_t w = 0; w < 3; ++w) {
    unwatchable_end_[w] = std::numeric_limits<int64_t>::min();
    horizon_[w] = (w == 0 || keep_s_[w] > 0) ? std::numeric_limits<int64_t>::min()
                                             : std::numeric_limits<int64_t>::max();
    // Kept starts lie in [horizon, watermark]: keep / unit + 1 of them.
    if (w > 0 && keep_s_[w] > 0) {
      // A power of two, so that SlotIndex is a mask.
      size_t slots = 1;
      while (slots < static_cast<size_t>(keep_s_[w] / UnitSeconds(static_cast<BucketWidth>(w))) + 2) {
        slots *= 2;
      }
      ring_[w].resize(slots);
    }
  }
  cursors_.resize(regions.size() * 3);
  // Forget old ids in steps of 1/32 of the horizon (at least a day): a sweep
  // scans the whole table, so this bounds its cost per event, and the table
  // holds at most ~3% more than the horizon's ids.
  sweep_every_s_ =
      std::max<int64_t>(86400, absl::ToInt64Seconds(options_.retention_horizon) / 32);
}

int64_t PartitionProcessor::DayStartOf(int64_t s) { return days_.DayOf(s).start; }

void PartitionProcessor::SetWatermark(absl::Time watermark) {
  watermark_ = watermark;
  oldest_allowed_ = watermark - options_.retention_horizon;
}

void PartitionProcessor::Advance(absl::Time occurred) {
  if (occurred < earliest_) earliest_ = occurred;
  if (occurred <= watermark_) return;
  SetWatermark(occurred);
  const int64_t minute = FloorDiv(absl::ToUnixSeconds(occurred), 60);
  if (minute == watermark_minute_) return;
  watermark_minute_ = minute;
  EvictFine();
  const int64_t horizon_s = absl::ToUnixSeconds(watermark_ - options_.retention_horizon);
  if (swept_at_s_ == std::numeric_limits<int64_t>::min()) swept_at_s_ = horizon_s;
  if (horizon_s - swept_at_s_ >= sweep_every_s_) {
    swept_at_s_ = horizon_s;
    SweepIds();
    SettleDays();
  }
}

void PartitionProcessor::EvictFine() {
  const int64_t w_s = watermark_minute_ * 60;
  for (BucketWidth width : {BucketWidth::kHour, BucketWidth::kMinute}) {
    const size_t w = static_cast<size_t>(width);
    if (keep_s_[w] <= 0) continue;
    const int64_t unit = UnitSeconds(width);
    const int64_t horizon = FloorDiv(w_s, unit) * unit - keep_s_[w];
    const int64_t old = horizon_[w];
    if (horizon <= old) continue;
    horizon_[w] = horizon;
    // Nothing to evict (a worker catching up on history keeps no fine
    // buckets, SetWallClock): an emptied slot's start is reset below, so
    // every slot is empty already.
    if (bucket_count_[w] == 0) continue;
    std::vector<RingSlot>& ring = ring_[w];
    const int64_t n = static_cast<int64_t>(ring.size());
    // Every kept start was >= old: visit the slots of [old, horizon), or the
    // whole ring when that is shorter.
    const int64_t steps = old == std::numeric_limits<int64_t>::min() || (horizon - old) / unit >= n
                              ? n
                              : (horizon - old) / unit;
    const int64_t first = steps == n ? 0 : FloorDiv(old, unit);
    for (int64_t i = 0; i < steps; ++i) {
      RingSlot& slot = ring[static_cast<size_t>(first + i) & static_cast<size_t>(n - 1)];
      if (slot.start == std::numeric_limits<int64_t>::min() || slot.start >= horizon) continue;
      // The evicted buckets were last touched long ago: ask for all of them
      // before walking them.
      for (const auto& [unit, index] : slot.buckets) PrefetchBucket(index);
      for (const auto& [unit, index] : slot.buckets) Evict(index);
      slot.buckets.clear();
      slot.start = std::numeric_limits<int64_t>::min();
    }
  }
}

void PartitionProcessor::Evict(uint32_t index) {
  const Bucket& b = pool_[index];
  // A bucket born and evicted between two publishes was never published:
  // there is nothing to delete (this saves most minute-bucket traffic while
  // a worker catches up on history).
  if (b.published) tombstones_.push_back(b.key);
  if (b.dirty) --dirty_count_;
  FreeSlot(index);
}

void PartitionProcessor::FreeSlot(uint32_t index) {
  Bucket& b = pool_[index];
  const size_t w = static_cast<size_t>(b.key.width);
  Cursor& cursor = cursors_[b.key.region_index * 3 + w];
  if (cursor.start == b.key.start_unix_s) cursor = Cursor{};
  b.dirty = false;
  b.live = false;
  --bucket_count_[w];
  // Reusable at once: if the slot is still listed in dirty_, the `listed`
  // flag keeps its next bucket from being listed twice.
  free_.push_back(index);
}

uint32_t PartitionProcessor::NewBucket(const BucketKey& key) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = pool_.Add();
  }
  Bucket& b = pool_[index];
  b.key = key;
  b.values = KindValues{};
  b.dirty = false;  // `listed` is left as it is: see Evict()
  b.published = false;
  b.live = true;
  ++bucket_count_[static_cast<size_t>(key.width)];
  return index;
}

size_t PartitionProcessor::SlotIndex(BucketWidth width, int64_t start) const {
  const size_t n = ring_[static_cast<size_t>(width)].size();
  // Two's complement: the mask of a negative unit count is its floor modulo n.
  return static_cast<size_t>(FloorDiv(start, UnitSeconds(width))) & (n - 1);
}

uint32_t PartitionProcessor::BucketFor(const BucketKey& key) {
  const size_t w = static_cast<size_t>(key.width);
  Cursor& cursor = cursors_[key.region_index * 3 + w];
  if (cursor.start == key.start_unix_s) return cursor.bucket;
  uint32_t index;
  if (key.width == BucketWidth::kDay) {
    auto [it, inserted] = day_index_.try_emplace(DayIndexKey(key), 0);
    if (inserted) {
      it->second = NewBucket(key);
      days_by_start_.emplace_back(key.start_unix_s, it->second);
      std::push_heap(days_by_start_.begin(), days_by_start_.end(), std::greater<>());
    }
    index = it->second;
  } else {
    // Fine buckets are found through their time slot: a short list.
    RingSlot& slot = ring_[w][SlotIndex(key.width, key.start_unix_s)];
    // A slot's previous start was evicted when the horizon passed it.
    slot.start = key.start_unix_s;
    auto found = std::find_if(slot.buckets.begin(), slot.buckets.end(),
                              [&](const auto& e) { return e.first == key.region_index; });
    if (found != slot.buckets.end()) {
      index = found->second;
    } else {
      index = NewBucket(key);
      slot.buckets.emplace_back(key.region_index, index);
    }
  }
  cursor.start = key.start_unix_s;
  cursor.bucket = index;
  return index;
}

void PartitionProcessor::MarkDirty(uint32_t index) {
  Bucket& b = pool_[index];
  if (b.dirty) return;
  b.dirty = true;
  ++dirty_count_;
  if (!b.listed) {
    b.listed = true;
    dirty_.push_back(index);
  }
}

void PartitionProcessor::SweepIds() {
  // Exact: an id is forgotten only when every instant of its stored day or
  // minute is before the horizon, so a record carrying its occurred_at is
  // refused as kTooLate by CheckCommon.
  // With h = swept_at_s_ (the horizon): (day + 1) * 86400 <= h holds exactly
  // when day < floor(h / 86400), and likewise for minutes. One compare per
  // slot.
  const int64_t first_kept_day = FloorDiv(swept_at_s_, 86400);
  const int64_t first_kept_minute = FloorDiv(swept_at_s_, 60);
  violations_.EraseIf(
      [first_kept_day](uint16_t day) { return static_cast<int64_t>(day) < first_kept_day; });
  accidents_.EraseIf([first_kept_minute](const SeenAccident& a) {
    return static_cast<int64_t>(a.occurred_minute) < first_kept_minute;
  });
}

void PartitionProcessor::SettleDays() {
  // Every id of a day before the horizon's day is forgotten (SweepIds), and
  // any record for such a day is kTooLate: its buckets are final.
  const int64_t before = DayStartOf(swept_at_s_);
  if (before <= settled_before_s_) return;
  settled_before_s_ = before;
  while (!days_by_start_.empty() && days_by_start_.front().first < before) {
    const uint32_t index = days_by_start_.front().second;
    std::pop_heap(days_by_start_.begin(), days_by_start_.end(), std::greater<>());
    days_by_start_.pop_back();
    const Bucket& b = pool_[index];
    // A dirty day stays dirty (and counted in dirty_count_) in settled_; a
    // clean one is published with its final values already: dropped.
    if (b.dirty) settled_.push_back(SettledDay{b.key, Expand(b.values), true});
    day_index_.erase(DayIndexKey(b.key));
    FreeSlot(index);
  }
}

void PartitionProcessor::ClearSettled() {
  for (const SettledDay& d : settled_) {
    if (d.dirty) --dirty_count_;
  }
  // A worker catching up settles many days between two publishes: give the
  // room back rather than keep the largest list's.
  std::vector<SettledDay>().swap(settled_);
}

template <typename Fn>
void PartitionProcessor::ForEachBucketOf(uint16_t unit, int64_t occurred_s, Fn fn) {
  for (BucketWidth width : {BucketWidth::kDay, BucketWidth::kHour, BucketWidth::kMinute}) {
    const size_t w = static_cast<size_t>(width);
    int64_t start;
    if (width == BucketWidth::kDay) {
      start = DayStartOf(occurred_s);
    } else {
      const int64_t size = UnitSeconds(width);
      start = FloorDiv(occurred_s, size) * size;
      if (start < horizon_[w]) continue;
    }
    // The cursor's hit (over half the calls) checked here: BucketFor's
    // prologue saves six registers for its slow paths.
    const Cursor& cursor = cursors_[unit * 3 + w];
    uint32_t index;
    if (cursor.start == start) {
      index = cursor.bucket;
    } else if (width != BucketWidth::kDay && start + UnitSeconds(width) <= unwatchable_end_[w]) {
      // No rolling window can show it any more (SetWallClock): not created.
      // One that exists, perhaps published, is kept exact.
      const std::optional<uint32_t> found = FindFine(BucketKey{unit, start, width});
      if (!found.has_value()) continue;
      index = *found;
    } else {
      index = BucketFor(BucketKey{unit, start, width});
    }
    Bucket& b = pool_[index];
    fn(b.values);
    if (!b.dirty) MarkDirty(index);
  }
}

void PartitionProcessor::Prefetch(std::string_view payload) const {
  // Both events carry the id as field 1 (string): tag byte 0x0A, written
  // first by every protobuf serializer we know of. Anything else: no hint.
  if (payload.size() < 2 || static_cast<uint8_t>(payload[0]) != 0x0A) return;
  size_t len = 0;
  size_t pos = 1;
  for (int shift = 0; pos < payload.size() && shift < 35; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(payload[pos++]);
    len |= static_cast<size_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      if (len > payload.size() - pos) return;
      const processors_internal::Fingerprint fp =
          processors_internal::FingerprintOf(payload.substr(pos, len));
      if (kind_ == EventKind::kIncident) {
        accidents_.Prefetch(fp);
      } else {
        violations_.Prefetch(fp);
      }
      return;
    }
  }
}

void PartitionProcessor::PrefetchBucket(uint32_t index) const {
  const char* p = reinterpret_cast<const char*>(&pool_[index]);
  using processors_internal::PrefetchIntent;
  for (size_t at = 0; at < sizeof(Bucket); at += 64) {
    processors_internal::Prefetch(p + at, PrefetchIntent::kWrite);
  }
  processors_internal::Prefetch(p + sizeof(Bucket) - 1, PrefetchIntent::kWrite);
}

ProcessResult PartitionProcessor::Process(std::string_view payload, absl::Time record_time) {
  ++tally_.read;
  // A new fine bucket (most events start one) reuses the slot freed last,
  // which was evicted a horizon ago and is cold: start loading it while the
  // record is decoded and checked.
  if (!free_.empty()) PrefetchBucket(free_.back());
  // Zero bytes parse as a message with every field unset, which would be
  // refused as empty_id: a record without a value (null, or a tombstone
  // produced to an input topic) is no event at all.
  const bool incident = kind_ == EventKind::kIncident;
  ProcessResult result;
  if (payload.empty()) {
    result = Reject(RejectReason::kNotProtobuf,
                    absl::StrCat("the record has no value (null or empty): no ",
                                 incident ? "IncidentEvent" : "ViolationEvent"));
  } else {
    result =
        incident ? ProcessIncident(payload, record_time) : ProcessViolation(payload, record_time);
  }
  switch (result.outcome) {
    case Outcome::kCounted:
      ++tally_.counted;
      break;
    case Outcome::kAmended:
      ++tally_.amended;
      break;
    case Outcome::kDuplicate:
      ++tally_.duplicates;
      break;
    case Outcome::kRejected:
      ++tally_.rejected;
      break;
  }
  return result;
}

ProcessResult PartitionProcessor::Reject(RejectReason reason, std::string detail) {
  ProcessResult r;
  r.outcome = Outcome::kRejected;
  r.reason = reason;
  r.detail = std::move(detail);
  return r;
}

namespace {

using processors_internal::IncidentView;
using processors_internal::LocationView;
using processors_internal::TimestampView;
using processors_internal::ViolationView;

// google.protobuf.Timestamp's own range: 0001-01-01T00:00:00Z through
// 9999-12-31T23:59:59.999999999Z, nanos in [0, 1e9). Outside it a record
// carries no usable time, and the bucket arithmetic (minutes, hours, days as
// int64 Unix seconds) could overflow.
bool IsValidTimestamp(const TimestampView& ts) {
  using google::protobuf::util::TimeUtil;
  return ts.seconds >= TimeUtil::kTimestampMinSeconds &&
         ts.seconds <= TimeUtil::kTimestampMaxSeconds && ts.nanos >= 0 &&
         ts.nanos <= 999'999'999;
}

// Valid timestamps within about 292 years of 1970 (all real ones) are
// converted through int64 nanoseconds, which absl does inline; the rest
// through Duration addition, which it does not.
absl::Time ToTime(const TimestampView& ts) {
  constexpr int64_t kNanosFitBelow = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (ts.seconds > -kNanosFitBelow && ts.seconds < kNanosFitBelow) {
    return absl::FromUnixNanos(ts.seconds * 1'000'000'000 + ts.nanos);
  }
  return absl::FromUnixSeconds(ts.seconds) + absl::Nanoseconds(ts.nanos);
}

// "400 days", or absl's form for a horizon that is no whole number of days.
std::string HorizonText(const ProcessorOptions& options) {
  const absl::Duration day = absl::Hours(24);
  if (options.retention_horizon % day == absl::ZeroDuration()) {
    return absl::StrCat(options.retention_horizon / day, " days");
  }
  return absl::FormatDuration(options.retention_horizon);
}

// Checks shared by both event kinds: returns the counting unit and sets
// *occurred, or returns nullptr and sets *reject. `oldest_allowed` is
// watermark - options.retention_horizon (InfinitePast before any event).
const Region* CheckCommon(const RegionTable& regions, const ProcessorOptions& options,
                          std::string_view id, const TimestampView& occurred_at,
                          const TimestampView& reported_at, const LocationView& location,
                          absl::Time record_time, absl::Time watermark, absl::Time oldest_allowed,
                          absl::Time* occurred, ProcessResult* reject) {
  auto fail = [reject](RejectReason reason, std::string detail) -> const Region* {
    reject->outcome = Outcome::kRejected;
    reject->reason = reason;
    reject->detail = std::move(detail);
    return nullptr;
  };
  if (id.empty()) return fail(RejectReason::kEmptyId, "id is empty");
  if (!occurred_at.present) return fail(RejectReason::kMissingTime, "occurred_at is missing");
  if (!reported_at.present) return fail(RejectReason::kMissingTime, "reported_at is missing");
  for (const auto& [name, ts] :
       {std::pair<const char*, const TimestampView&>{"occurred_at", occurred_at},
        {"reported_at", reported_at}}) {
    if (!IsValidTimestamp(ts)) {
      return fail(RejectReason::kMissingTime,
                  absl::StrCat(name, " {seconds: ", ts.seconds, ", nanos: ", ts.nanos,
                               "} is not a valid timestamp (0001-01-01 to 9999-12-31 UTC)"));
    }
  }
  const Region* unit = regions.CountingUnit(location.region_code, location.township_code);
  if (unit == nullptr) {
    return fail(RejectReason::kUnknownRegion,
                absl::StrCat("region_code \"", std::string(location.region_code),
                             "\" / township_code \"", std::string(location.township_code),
                             "\" is not in the region table"));
  }
  if (location.has_main_urban && location.main_urban != unit->main_urban) {
    return fail(
        RejectReason::kMainUrbanMismatch,
        absl::StrCat("main_urban=", location.main_urban ? "true" : "false", " but region ",
                     unit->code, " is ", unit->main_urban ? "" : "not ", "in the main urban area"));
  }
  *occurred = ToTime(occurred_at);
  const absl::Time reported = ToTime(reported_at);
  if (record_time != absl::InfinitePast()) {
    const absl::Time limit = record_time + options.max_clock_skew;
    if (*occurred > limit || reported > limit) {
      return fail(RejectReason::kFutureTime,
                  absl::StrCat("occurred_at ", absl::FormatTime(*occurred), " / reported_at ",
                               absl::FormatTime(reported), " is after the record time ",
                               absl::FormatTime(record_time)));
    }
  }
  if (reported < *occurred) {
    return fail(RejectReason::kReportedBeforeOccurred,
                absl::StrCat("reported_at ", absl::FormatTime(reported), " is before occurred_at ",
                             absl::FormatTime(*occurred)));
  }
  if (*occurred < oldest_allowed) {
    reject->too_late_occurred_at = *occurred;
    return fail(RejectReason::kTooLate,
                absl::StrCat("occurred_at ", absl::FormatTime(*occurred),
                             " is older than the retention horizon (", HorizonText(options),
                             " before the newest event ", absl::FormatTime(watermark), ")"));
  }
  return unit;
}

}  // namespace

ProcessResult PartitionProcessor::ProcessIncident(std::string_view payload,
                                                  absl::Time record_time) {
  // The usual record is read in place; anything unusual goes through
  // protobuf's parser, which decides (processors/internal/event_view.h).
  IncidentView e;
  if (!processors_internal::DecodeIncident(payload, &e)) {
    if (!incident_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return ScanWire(payload) == WireCheck::kTruncated
                 ? Reject(RejectReason::kTruncated, "IncidentEvent is truncated")
                 : Reject(RejectReason::kNotProtobuf, "not a protobuf IncidentEvent");
    }
    processors_internal::ViewOf(incident_, &e);
  }
  absl::Time occurred;
  ProcessResult rejected;
  const Region* unit =
      CheckCommon(regions_, options_, e.id, e.occurred_at, e.reported_at, e.location, record_time,
                  watermark_, oldest_allowed_, &occurred, &rejected);
  if (unit == nullptr) return rejected;
  if (e.deaths < 0 || e.injuries < 0 || e.property_loss_yuan < 0) {
    return Reject(RejectReason::kNegativeCount,
                  absl::StrCat("deaths=", e.deaths, " injuries=", e.injuries,
                               " property_loss_yuan=", e.property_loss_yuan));
  }
  if (e.deaths > options_.max_deaths || e.injuries > options_.max_injuries ||
      e.property_loss_yuan > options_.max_property_loss_yuan) {
    return Reject(RejectReason::kAbsurdCount,
                  absl::StrCat("deaths=", e.deaths, " injuries=", e.injuries,
                               " property_loss_yuan=", e.property_loss_yuan,
                               " exceed the configured bounds"));
  }
  if (e.handling == v1::HANDLING_UNSPECIFIED || !v1::Handling_IsValid(e.handling)) {
    return Reject(RejectReason::kMissingField, "handling is unspecified or unknown");
  }
  if (e.severity == v1::SEVERITY_UNSPECIFIED || !v1::Severity_IsValid(e.severity)) {
    return Reject(RejectReason::kMissingField, "severity is unspecified or unknown");
  }
  if (e.handling != v1::HANDLING_ORDINARY_PROCEDURE && e.deaths > 0) {
    return Reject(RejectReason::kHandlingContradiction,
                  "an accident with deaths must be handled under the ordinary procedure");
  }
  if (e.handling == v1::HANDLING_VIDEO_QUICK && e.injuries > 0) {
    return Reject(RejectReason::kHandlingContradiction,
                  "video quick handling is for property-damage-only accidents");
  }
  Advance(occurred);

  SeenAccident next;
  next.revision = e.revision;
  next.region_index = unit->index;
  next.occurred_minute = static_cast<int32_t>(FloorDiv(absl::ToUnixSeconds(occurred), 60));
  next.deaths = static_cast<uint16_t>(e.deaths);
  next.injuries = static_cast<uint16_t>(e.injuries);
  const uint64_t loss = static_cast<uint64_t>(e.property_loss_yuan);
  next.loss_lo = static_cast<uint32_t>(loss);
  next.loss_hi = static_cast<uint32_t>(loss >> 32);
  if (e.handling == v1::HANDLING_ORDINARY_PROCEDURE) next.flags |= kOrdinary;
  if (e.handling == v1::HANDLING_VIDEO_QUICK) next.flags |= kVideo;
  if (e.alcohol_involved) next.flags |= kAlcohol;
  if (e.location.road_class == v1::ROAD_CLASS_TOWNSHIP_VILLAGE) next.flags |= kRural;
  if (e.any_e3e4) next.flags |= kE3E4;

  const processors_internal::Fingerprint fp = processors_internal::FingerprintOf(e.id);
  bool inserted = false;
  SeenAccident* seen = accidents_.FindOrInsert(fp, next, &inserted);
  if (inserted) {
    Apply(next, +1);
    return ProcessResult{Outcome::kCounted, {}, {}};
  }
  if (next.revision <= seen->revision) return ProcessResult{Outcome::kDuplicate, {}, {}};
  const SeenAccident previous = *seen;
  *seen = next;
  Apply(previous, -1);
  Apply(next, +1);
  return ProcessResult{Outcome::kAmended, {}, {}};
}

ProcessResult PartitionProcessor::ProcessViolation(std::string_view payload,
                                                   absl::Time record_time) {
  ViolationView e;
  if (!processors_internal::DecodeViolation(payload, &e)) {
    if (!violation_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return ScanWire(payload) == WireCheck::kTruncated
                 ? Reject(RejectReason::kTruncated, "ViolationEvent is truncated")
                 : Reject(RejectReason::kNotProtobuf, "not a protobuf ViolationEvent");
    }
    processors_internal::ViewOf(violation_, &e);
  }
  absl::Time occurred;
  ProcessResult rejected;
  const Region* unit =
      CheckCommon(regions_, options_, e.id, e.occurred_at, e.reported_at, e.location, record_time,
                  watermark_, oldest_allowed_, &occurred, &rejected);
  if (unit == nullptr) return rejected;
  if (e.type == v1::VIOLATION_TYPE_UNSPECIFIED || !v1::ViolationType_IsValid(e.type)) {
    return Reject(RejectReason::kMissingField, "type is unspecified or unknown");
  }
  const bool has_bac = e.has_blood_alcohol;
  const double bac = e.blood_alcohol_mg_100ml;
  if (has_bac) {
    if (std::isnan(bac) || bac > options_.max_blood_alcohol_mg_100ml) {
      return Reject(RejectReason::kAbsurdCount,
                    absl::StrCat("blood_alcohol_mg_100ml=", bac, " is beyond any measurement"));
    }
    if (bac < 0) {
      return Reject(RejectReason::kNegativeCount,
                    absl::StrCat("blood_alcohol_mg_100ml=", bac, " is negative"));
    }
  }
  Metric metric = Metric::kOtherViolations;
  switch (e.type) {
    case v1::VIOLATION_TYPE_DRINK_DRIVING:
      if (has_bac && (bac < kDrinkThreshold || bac >= kDrunkThreshold)) {
        return Reject(RejectReason::kAlcoholContradiction,
                      absl::StrCat("drink driving needs 20 <= BAC < 80 mg/100 mL, measured ", bac));
      }
      metric = Metric::kDrinkDriving;
      break;
    case v1::VIOLATION_TYPE_DRUNK_DRIVING:
      if (has_bac && bac < kDrunkThreshold) {
        return Reject(RejectReason::kAlcoholContradiction,
                      absl::StrCat("drunk driving needs BAC >= 80 mg/100 mL, measured ", bac));
      }
      metric = Metric::kDrunkDriving;
      break;
    case v1::VIOLATION_TYPE_ALCOHOL:
      if (!has_bac) {
        return Reject(RejectReason::kMissingBloodAlcohol,
                      "VIOLATION_TYPE_ALCOHOL needs blood_alcohol_mg_100ml");
      }
      if (bac < kDrinkThreshold) {
        return Reject(RejectReason::kAlcoholContradiction,
                      absl::StrCat("BAC ", bac, " mg/100 mL is below the drink-driving threshold"));
      }
      metric = bac >= kDrunkThreshold ? Metric::kDrunkDriving : Metric::kDrinkDriving;
      break;
    case v1::VIOLATION_TYPE_SPEEDING:
      metric = Metric::kSpeeding;
      break;
    case v1::VIOLATION_TYPE_OVERLOAD:
      metric = Metric::kOverload;
      break;
    case v1::VIOLATION_TYPE_OVER_CAPACITY:
      metric = Metric::kOverCapacity;
      break;
    case v1::VIOLATION_TYPE_FATIGUE:
      metric = Metric::kFatigue;
      break;
    case v1::VIOLATION_TYPE_OTHER:
    case v1::VIOLATION_TYPE_UNSPECIFIED:
    default:
      metric = Metric::kOtherViolations;
      break;
  }
  Advance(occurred);
  const processors_internal::Fingerprint fp = processors_internal::FingerprintOf(e.id);
  const int64_t occurred_s = absl::ToUnixSeconds(occurred);
  bool inserted = false;
  violations_.FindOrInsert(
      fp, static_cast<uint16_t>(std::clamp<int64_t>(FloorDiv(occurred_s, 86400), 0, 65535)),
      &inserted);
  if (!inserted) return ProcessResult{Outcome::kDuplicate, {}, {}};
  const bool key_violation = metric != Metric::kOtherViolations;
  const size_t slot = static_cast<size_t>(metric) - first_metric_;
  const size_t key_slot = static_cast<size_t>(Metric::kKeyViolations) - first_metric_;
  ForEachBucketOf(unit->index, occurred_s, [slot, key_slot, key_violation](KindValues& values) {
    ++values[slot];
    if (key_violation) ++values[key_slot];
  });
  return ProcessResult{Outcome::kCounted, {}, {}};
}

MetricValues PartitionProcessor::Contribution(const SeenAccident& a) {
  MetricValues v{};
  At(v, Metric::kDeaths) = a.deaths;
  At(v, Metric::kInjuries) = a.injuries;
  At(v, Metric::kPropertyLossYuan) =
      static_cast<int64_t>((static_cast<uint64_t>(a.loss_hi) << 32) | a.loss_lo);
  if (a.flags & kOrdinary) {
    At(v, Metric::kAccidents) = 1;
    if (a.flags & kE3E4) {
      At(v, Metric::kE3E4Accidents) = 1;
      At(v, Metric::kE3E4Deaths) = a.deaths;
      At(v, Metric::kE3E4Injuries) = a.injuries;
    }
    if (a.flags & kAlcohol) At(v, Metric::kAlcoholAccidents) = 1;
    if (a.flags & kRural) At(v, Metric::kRuralAccidents) = 1;
  } else {
    At(v, Metric::kMinorAccidents) = 1;
    if (a.flags & kVideo) At(v, Metric::kVideoHandled) = 1;
  }
  return v;
}

void PartitionProcessor::Apply(const SeenAccident& accident, int sign) {
  const MetricValues delta = Contribution(accident);
  ForEachBucketOf(accident.region_index, static_cast<int64_t>(accident.occurred_minute) * 60,
                  [&delta, sign](KindValues& values) {
                    // Accidents' metrics are the first ones.
                    for (size_t i = 0; i < kKindSlots; ++i) values[i] += sign * delta[i];
                  });
}

void PartitionProcessor::ForEachDirty(
    const std::function<void(const BucketKey&, const MetricValues&)>& fn) const {
  for (uint32_t index : dirty_) {
    const Bucket& b = pool_[index];
    if (b.dirty) fn(b.key, Expand(b.values));
  }
  for (const SettledDay& d : settled_) {
    if (d.dirty) fn(d.key, d.values);
  }
}

void PartitionProcessor::ClearDirty() {
  for (uint32_t index : dirty_) {
    Bucket& b = pool_[index];
    if (b.dirty) b.published = true;  // ForEachDirty reported it
    b.dirty = false;
    b.listed = false;
  }
  dirty_.clear();
  for (SettledDay& d : settled_) d.dirty = false;
  dirty_count_ = 0;
}

size_t PartitionProcessor::SkipUnwatchable(absl::Time now) {
  if (now == absl::InfinitePast()) return 0;
  const int64_t now_s = absl::ToUnixSeconds(now);
  size_t skipped = 0;
  for (uint32_t index : dirty_) {
    Bucket& b = pool_[index];
    if (!b.dirty || b.published || b.key.width == BucketWidth::kDay) continue;
    const size_t w = static_cast<size_t>(b.key.width);
    const int64_t end = b.key.start_unix_s + UnitSeconds(b.key.width);
    if (end > UnwatchableEnd(now_s, keep_s_[w])) continue;
    // Stays listed in dirty_ (ClearDirty unlists it), as an evicted one does.
    b.dirty = false;
    --dirty_count_;
    ++skipped;
  }
  return skipped;
}

void PartitionProcessor::SetWallClock(absl::Time now) {
  if (now == absl::InfinitePast() || now == absl::InfiniteFuture()) return;
  const int64_t now_s = absl::ToUnixSeconds(now);
  if (now_s <= wall_clock_s_) return;
  wall_clock_s_ = now_s;
  for (BucketWidth width : {BucketWidth::kHour, BucketWidth::kMinute}) {
    const size_t w = static_cast<size_t>(width);
    if (keep_s_[w] > 0) unwatchable_end_[w] = UnwatchableEnd(now_s, keep_s_[w]);
  }
}

void PartitionProcessor::MarkAllDirty() {
  for (uint32_t index = 0; index < pool_.size(); ++index) {
    if (pool_[index].live) MarkDirty(index);
  }
}

MetricValues PartitionProcessor::Expand(const KindValues& values) const {
  MetricValues all{};
  for (size_t i = 0; i < kind_metrics_; ++i) all[first_metric_ + i] = values[i];
  return all;
}

std::optional<MetricValues> PartitionProcessor::FindBucket(const BucketKey& key) const {
  if (key.width == BucketWidth::kDay) {
    auto it = day_index_.find(DayIndexKey(key));
    // A start outside the Timestamp range can share its index key.
    if (it == day_index_.end() || !(pool_[it->second].key == key)) return std::nullopt;
    return Expand(pool_[it->second].values);
  }
  const std::optional<uint32_t> index = FindFine(key);
  if (!index.has_value()) return std::nullopt;
  return Expand(pool_[*index].values);
}

std::optional<uint32_t> PartitionProcessor::FindFine(const BucketKey& key) const {
  const size_t w = static_cast<size_t>(key.width);
  if (bucket_count_[w] == 0 || key.start_unix_s < horizon_[w]) return std::nullopt;
  const RingSlot& slot = ring_[w][SlotIndex(key.width, key.start_unix_s)];
  if (slot.start != key.start_unix_s) return std::nullopt;
  for (const auto& [unit, index] : slot.buckets) {
    if (unit == key.region_index) return index;
  }
  return std::nullopt;
}

void PartitionProcessor::ForEachBucket(
    const std::function<void(const BucketKey&, const MetricValues&)>& fn) const {
  for (uint32_t index = 0; index < pool_.size(); ++index) {
    const Bucket& b = pool_[index];
    if (b.live) fn(b.key, Expand(b.values));
  }
  for (const SettledDay& d : settled_) fn(d.key, d.values);
}

}  // namespace roadpulse
