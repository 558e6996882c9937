#include "ingest/replayer.h"

#include "ingest/partitioner.h"
#include "processors/count_record.h"

namespace roadpulse {

struct Replayer::Partition {
  Partition(EventKind kind, const RegionTable& regions, const ProcessorOptions& options)
      : processor(kind, regions, options) {}
  PartitionProcessor processor;
  int64_t next_offset = 0;  // records processed: the offset the next one would have
};

Replayer::Replayer(const RegionTable& regions, ReplayOptions options)
    : regions_(regions), options_(std::move(options)) {}

Replayer::~Replayer() = default;

Replayer::Partition& Replayer::Get(v1::EventKind kind, int32_t partition) {
  const size_t k = kind == v1::EVENT_KIND_VIOLATION ? 1 : 0;
  auto& list = partitions_[k];
  if (static_cast<size_t>(partition) >= list.size()) list.resize(partition + 1);
  std::unique_ptr<Partition>& p = list[partition];
  if (p == nullptr) {
    p = std::make_unique<Partition>(k == 1 ? EventKind::kViolation : EventKind::kIncident,
                                    regions_, options_.processor);
  }
  return *p;
}

const ProcessResult& Replayer::Process(const SourceRecord& record) {
  const absl::Time record_time = record.timestamp_unix_ms != 0
                                     ? absl::FromUnixMillis(record.timestamp_unix_ms)
                                     : absl::InfinitePast();
  return ProcessAt(record.kind, KafkaPartitionForKey(record.key, options_.partitions),
                   record.value, record_time);
}

const ProcessResult& Replayer::ProcessAt(v1::EventKind kind, int32_t partition,
                                         std::string_view value, absl::Time record_time) {
  if (kind != v1::EVENT_KIND_INCIDENT && kind != v1::EVENT_KIND_VIOLATION) {
    // No input topic would hold it; the producer refuses such records.
    ++unknown_kind_;
    last_.outcome = Outcome::kRejected;
    last_.reason = RejectReason::kMissingField;
    last_.detail = "record has no event kind (neither incident nor violation)";
    ++rejected_by_reason_[static_cast<size_t>(last_.reason)];
    return last_;
  }
  Partition& p = Get(kind, partition);
  last_ = p.processor.Process(value, record_time);
  ++p.next_offset;
  if (last_.outcome == Outcome::kRejected) ++rejected_by_reason_[static_cast<size_t>(last_.reason)];
  return last_;
}

absl::Status Replayer::PublishTo(CountStore& store) const {
  absl::Status status;
  for (size_t k = 0; k < partitions_.size(); ++k) {
    const std::string& topic = k == 1 ? options_.violations_topic : options_.incidents_topic;
    for (size_t i = 0; i < partitions_[k].size(); ++i) {
      const Partition* p = partitions_[k][i].get();
      if (p == nullptr) continue;
      p->processor.ForEachDirty([&](const BucketKey& key, const MetricValues& values) {
        if (!status.ok()) return;
        status = store.Apply(MakeCountRecord(regions_, topic, static_cast<int32_t>(i), key,
                                             values, p->next_offset, 0));
      });
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

ReplayTally Replayer::tally() const {
  ReplayTally t;
  for (const auto& list : partitions_) {
    for (const auto& p : list) {
      if (p == nullptr) continue;
      const PartitionTally& pt = p->processor.tally();
      t.totals.read += pt.read;
      t.totals.counted += pt.counted;
      t.totals.amended += pt.amended;
      t.totals.duplicates += pt.duplicates;
      t.totals.rejected += pt.rejected;
    }
  }
  t.totals.read += unknown_kind_;
  t.totals.rejected += unknown_kind_;
  t.rejected_by_reason = rejected_by_reason_;
  return t;
}

}  // namespace roadpulse
