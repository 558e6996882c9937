// PartitionProcessor::SaveState / Restore: the checkpoint form of a
// partition's state (roadpulse.v1.PartitionState, see counts.proto).
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "processors/count_record.h"
#include "processors/partition_processor.h"

namespace roadpulse {
namespace {

using processors_internal::Fingerprint;

constexpr size_t kFingerprintBytes = 10;
constexpr size_t kViolationRecord = kFingerprintBytes + 2;
constexpr size_t kAccidentRecord = kFingerprintBytes + 4 + 4 + 8 + 2 + 2 + 2 + 1;

// Little-endian fixed-width writes and reads.
void Put(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t Get(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
void PutFingerprint(std::string* out, const Fingerprint& fp) {
  Put(out, fp.w0, 4);
  Put(out, fp.w1, 4);
  Put(out, fp.w2, 2);
}
Fingerprint GetFingerprint(const char* p) {
  return Fingerprint{static_cast<uint32_t>(Get(p, 4)), static_cast<uint32_t>(Get(p + 4, 4)),
                     static_cast<uint16_t>(Get(p + 8, 2))};
}

// Region codes used by the state, in first-use order.
class RegionDictionary {
 public:
  explicit RegionDictionary(v1::PartitionState* state) : state_(state) {}
  uint32_t IndexOf(const Region& region) {
    auto [it, inserted] = index_.try_emplace(region.index, state_->region_codes_size());
    if (inserted) state_->add_region_codes(region.code);
    return it->second;
  }

 private:
  v1::PartitionState* state_;
  absl::flat_hash_map<uint16_t, uint32_t> index_;
};

}  // namespace

v1::PartitionState PartitionProcessor::SaveState() const {
  v1::PartitionState state;
  state.set_kind(kind_ == EventKind::kIncident ? v1::EVENT_KIND_INCIDENT
                                               : v1::EVENT_KIND_VIOLATION);
  v1::Reconciliation* t = state.mutable_tally();
  t->set_read(tally_.read);
  t->set_counted(tally_.counted);
  t->set_amendments(tally_.amended);
  t->set_duplicates(tally_.duplicates);
  t->set_dead_lettered(tally_.rejected);
  if (watermark_ != absl::InfinitePast()) {
    state.set_watermark_unix_ns(absl::ToUnixNanos(watermark_));
  }
  state.set_hour_horizon_unix_s(horizon_[static_cast<size_t>(BucketWidth::kHour)]);
  state.set_minute_horizon_unix_s(horizon_[static_cast<size_t>(BucketWidth::kMinute)]);
  state.set_swept_at_unix_s(swept_at_s_);
  for (Metric m : AllMetrics()) state.add_metric_names(std::string(MetricName(m)));

  RegionDictionary dictionary(&state);
  for (uint32_t index = 0; index < pool_.size(); ++index) {
    const Bucket& b = pool_[index];
    if (!b.live) continue;
    state.add_bucket_region(dictionary.IndexOf(regions_.at(b.key.region_index)));
    state.add_bucket_start_unix_s(b.key.start_unix_s);
    state.add_bucket_width(ToProto(b.key.width));
    uint64_t mask = 0;
    for (size_t i = 0; i < kind_metrics_; ++i) {
      if (b.values[i] != 0) {
        mask |= uint64_t{1} << (first_metric_ + i);
        state.add_bucket_values(b.values[i]);
      }
    }
    state.add_bucket_metric_mask(mask);
  }

  std::string* violations = state.mutable_violation_ids();
  violations->reserve(violations_.size() * kViolationRecord);
  violations_.ForEach([violations](const Fingerprint& fp, uint16_t day) {
    PutFingerprint(violations, fp);
    Put(violations, day, 2);
  });
  std::string* accidents = state.mutable_accident_ids();
  accidents->reserve(accidents_.size() * kAccidentRecord);
  accidents_.ForEach([&](const Fingerprint& fp, const SeenAccident& a) {
    PutFingerprint(accidents, fp);
    Put(accidents, a.revision, 4);
    Put(accidents, static_cast<uint32_t>(a.occurred_minute), 4);
    Put(accidents, (static_cast<uint64_t>(a.loss_hi) << 32) | a.loss_lo, 8);
    Put(accidents, a.deaths, 2);
    Put(accidents, a.injuries, 2);
    Put(accidents, dictionary.IndexOf(regions_.at(a.region_index)), 2);
    Put(accidents, a.flags, 1);
  });
  return state;
}

absl::StatusOr<std::unique_ptr<PartitionProcessor>> PartitionProcessor::Restore(
    EventKind kind, const RegionTable& regions, ProcessorOptions options,
    const v1::PartitionState& state) {
  const v1::EventKind want =
      kind == EventKind::kIncident ? v1::EVENT_KIND_INCIDENT : v1::EVENT_KIND_VIOLATION;
  if (state.kind() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint state is for ", v1::EventKind_Name(state.kind()),
                     " records, the partition holds ", v1::EventKind_Name(want)));
  }
  // Region codes and metric names -> this process's indexes.
  std::vector<uint16_t> region_index;
  for (const std::string& code : state.region_codes()) {
    const Region* r = regions.Find(code);
    if (r == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint state counts region \"", code, "\", which the region table does not have"));
    }
    region_index.push_back(r->index);
  }
  std::vector<size_t> metric_slot;
  for (const std::string& name : state.metric_names()) {
    std::optional<Metric> m = MetricFromName(name);
    if (!m.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint state has metric \"", name, "\", unknown to this build"));
    }
    metric_slot.push_back(static_cast<size_t>(*m));
  }
  const int n = state.bucket_region_size();
  if (state.bucket_start_unix_s_size() != n || state.bucket_width_size() != n ||
      state.bucket_metric_mask_size() != n) {
    return absl::InvalidArgumentError("checkpoint state: bucket lists of different lengths");
  }
  if (state.violation_ids().size() % kViolationRecord != 0 ||
      state.accident_ids().size() % kAccidentRecord != 0) {
    return absl::InvalidArgumentError("checkpoint state: truncated id records");
  }

  auto p = std::make_unique<PartitionProcessor>(kind, regions, options);
  p->tally_.read = state.tally().read();
  p->tally_.counted = state.tally().counted();
  p->tally_.amended = state.tally().amendments();
  p->tally_.duplicates = state.tally().duplicates();
  p->tally_.rejected = state.tally().dead_lettered();
  if (state.has_watermark_unix_ns()) {
    p->SetWatermark(absl::FromUnixNanos(state.watermark_unix_ns()));
    p->watermark_minute_ = absl::ToUnixSeconds(p->watermark_) / 60 -
                           (absl::ToUnixSeconds(p->watermark_) % 60 < 0 ? 1 : 0);
    // Fine horizons: as saved, where this process keeps that width at all.
    for (BucketWidth w : {BucketWidth::kHour, BucketWidth::kMinute}) {
      const size_t i = static_cast<size_t>(w);
      if (p->keep_s_[i] <= 0) continue;
      p->horizon_[i] = w == BucketWidth::kHour ? state.hour_horizon_unix_s()
                                               : state.minute_horizon_unix_s();
    }
    p->swept_at_s_ = state.swept_at_unix_s();
    // Days before it were settled (and left out of the state) by the saver.
    if (p->swept_at_s_ != std::numeric_limits<int64_t>::min()) {
      p->settled_before_s_ = p->DayStartOf(p->swept_at_s_);
    }
  }

  int value_at = 0;
  for (int i = 0; i < n; ++i) {
    if (state.bucket_region(i) >= region_index.size()) {
      return absl::InvalidArgumentError("checkpoint state: bucket region out of range");
    }
    const std::optional<BucketWidth> parsed_width = FromProto(state.bucket_width(i));
    if (!parsed_width.has_value()) {
      return absl::InvalidArgumentError("checkpoint state: bucket of unknown width");
    }
    const BucketWidth width = *parsed_width;
    MetricValues values{};
    const uint64_t mask = state.bucket_metric_mask(i);
    for (size_t bit = 0; bit < 64; ++bit) {
      if ((mask & (uint64_t{1} << bit)) == 0) continue;
      if (bit >= metric_slot.size() || value_at >= state.bucket_values_size()) {
        return absl::InvalidArgumentError("checkpoint state: bucket values do not match masks");
      }
      values[metric_slot[bit]] = state.bucket_values(value_at++);
    }
    KindValues kind_values{};
    for (size_t m = 0; m < kMetricCount; ++m) {
      const bool of_kind = m >= p->first_metric_ && m < p->first_metric_ + p->kind_metrics_;
      if (of_kind) {
        kind_values[m - p->first_metric_] = values[m];
      } else if (values[m] != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "checkpoint state: a bucket of ", v1::EventKind_Name(want), " records counts metric \"",
            std::string(MetricName(static_cast<Metric>(m))), "\""));
      }
    }
    const int64_t start = state.bucket_start_unix_s(i);
    // Every bucket starts at an instant a record's timestamp can name (and
    // day buckets are indexed by the start's low 48 bits).
    if (start < google::protobuf::util::TimeUtil::kTimestampMinSeconds - 86400 ||
        start > google::protobuf::util::TimeUtil::kTimestampMaxSeconds) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint state: bucket start ", start,
                                                     " is outside the Timestamp range"));
    }
    const BucketKey key{region_index[state.bucket_region(i)], start, width};
    // A fine bucket behind this process's horizon (or of a width it does
    // not keep) is not restored; nothing will change it any more.
    if (width != BucketWidth::kDay && key.start_unix_s < p->horizon_[static_cast<size_t>(width)]) {
      continue;
    }
    const uint32_t index = p->BucketFor(key);
    p->pool_[index].values = kind_values;
    // Its record may be in the counts topic: evicting it needs a tombstone.
    p->pool_[index].published = true;
  }
  if (value_at != state.bucket_values_size()) {
    return absl::InvalidArgumentError("checkpoint state: more bucket values than masks name");
  }

  const std::string& violations = state.violation_ids();
  p->violations_.Reserve(violations.size() / kViolationRecord);
  for (size_t at = 0; at < violations.size(); at += kViolationRecord) {
    p->violations_.Insert(GetFingerprint(violations.data() + at),
                          static_cast<uint16_t>(Get(violations.data() + at + 10, 2)));
  }
  const std::string& accidents = state.accident_ids();
  p->accidents_.Reserve(accidents.size() / kAccidentRecord);
  for (size_t at = 0; at < accidents.size(); at += kAccidentRecord) {
    const char* r = accidents.data() + at;
    SeenAccident a;
    a.revision = static_cast<uint32_t>(Get(r + 10, 4));
    a.occurred_minute = static_cast<int32_t>(static_cast<uint32_t>(Get(r + 14, 4)));
    const uint64_t loss = Get(r + 18, 8);
    a.loss_lo = static_cast<uint32_t>(loss);
    a.loss_hi = static_cast<uint32_t>(loss >> 32);
    a.deaths = static_cast<uint16_t>(Get(r + 26, 2));
    a.injuries = static_cast<uint16_t>(Get(r + 28, 2));
    const uint64_t region = Get(r + 30, 2);
    if (region >= region_index.size()) {
      return absl::InvalidArgumentError("checkpoint state: accident region out of range");
    }
    a.region_index = region_index[region];
    a.flags = static_cast<uint8_t>(Get(r + 32, 1));
    p->accidents_.Insert(GetFingerprint(r), a);
  }
  return p;
}

}  // namespace roadpulse
