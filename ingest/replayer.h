// Replayer: counts input records exactly as the live path (producer ->
// Kafka -> Worker) would, with no broker: one PartitionProcessor per (kind,
// partition), records placed in partitions by the producer's partitioner
// (murmur2 of the key, see partitioner.h), each partition's records in order.
// At the end its buckets go into a CountStore through MakeCountRecord, as the
// worker publishes them, so a report over it is the live report.
//
// Usage:
//   Replayer replay(regions, options);
//   for each record: replay.Process(record);      // or ProcessAt(kind, partition, ...)
//   CountStore store(regions);
//   replay.PublishTo(store);
//
// With options.threads > 1, records go in through Submit() instead, and are
// processed on that many worker threads; worker t owns the partitions p with
// p % threads == t, so each partition's records are still processed in
// order by one processor, and every count, tally and refusal is exactly what
// one thread gives (dedup, amendments and the retention horizon are per
// partition). Finish() waits for them; refusals come back in input order,
// as soon as every record before them is processed:
//   for each record: replay.Submit(record); ... replay.TakeRefusals() ...
//   replay.Finish();
//   for (const Refusal& r : replay.TakeRefusals()) ...
//   replay.PublishTo(store);
#ifndef ROADPULSE_INGEST_REPLAYER_H_
#define ROADPULSE_INGEST_REPLAYER_H_

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ingest/record_source.h"
#include "processors/count_store.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"
#include "processors/reject_reason.h"

namespace roadpulse {

struct ReplayOptions {
  // Partitions of each input topic on the live path (`roadpulse broker`'s
  // default is 8). Only matters for results when the retention horizon cuts
  // (its watermark is per partition).
  int32_t partitions = 8;
  // Topic names written into the CountRecords (source_topic).
  std::string incidents_topic = "roadpulse.incidents";
  std::string violations_topic = "roadpulse.violations";
  // Same meaning as the worker's.
  ProcessorOptions processor;
  // Worker threads for Submit() (1: Submit processes on the calling thread).
  // More threads never change the results, only the speed.
  int32_t threads = 1;
  // Day buckets that start outside [days_from_unix_s, days_to_unix_s) are
  // counted (dedup, amendments, horizons, tallies as ever) but left out of
  // PublishTo(). A report of a known period and its last-year base reads
  // only those days; with this a replay of many years holds only them, not
  // every day of the input. Default: every day.
  int64_t days_from_unix_s = std::numeric_limits<int64_t>::min();
  int64_t days_to_unix_s = std::numeric_limits<int64_t>::max();
};

// A record that Submit() refused: its place in the input (the n-th record
// submitted, from 1, and the position in its file given to Submit), and why.
struct Refusal {
  int64_t record = 0;
  RecordPosition position;
  RejectReason reason = RejectReason::kNotProtobuf;
  std::string detail;
  absl::Time too_late_occurred_at = absl::InfinitePast();  // as ProcessResult's
};

// Totals over every partition, and refusals by reason.
struct ReplayTally {
  PartitionTally totals;
  std::array<int64_t, kRejectReasonCount> rejected_by_reason{};
};

// Not thread-safe: one thread calls its methods (its own workers are
// internal).
class Replayer {
 public:
  // `regions` must outlive this object. REQUIRES: options.partitions >= 1,
  // options.threads >= 1.
  Replayer(const RegionTable& regions, ReplayOptions options);
  // Finishes (waits for the workers) if Finish() was not called.
  ~Replayer();

  // Hands one record over (its bytes are copied). With one thread it is
  // processed at once; otherwise on the worker owning its partition. A
  // refusal is held for TakeRefusals(). Do not mix with Process()/ProcessAt().
  // `position` is handed back with a refusal (RecordSource::Position()).
  void Submit(const SourceRecord& record, RecordPosition position = {});
  // Waits until every submitted record is processed. REQUIRES: no Submit()
  // after it. Needed before PublishTo() and tally() when records were
  // submitted.
  void Finish();
  // The refusals not taken yet whose records, and every record before
  // them, are processed: in input order, each once. Call it now and then
  // while submitting (held refusals take memory) and after Finish() (then
  // it returns all that are left).
  std::vector<Refusal> TakeRefusals();

  // Processes one record in the partition its key maps to. The record time
  // for the future-time check is its timestamp, when it has one.
  const ProcessResult& Process(const SourceRecord& record);
  // Processes one record in a given partition (records read from Kafka).
  const ProcessResult& ProcessAt(v1::EventKind kind, int32_t partition, std::string_view value,
                                 absl::Time record_time);

  // Applies every bucket of every partition to `store`, as the worker would
  // have published them (the newest absolute values; days outside
  // options' days_from/days_to left out). Errors from the store (unknown
  // region/metric) are returned.
  absl::Status PublishTo(CountStore& store) const;

  ReplayTally tally() const;
  // The oldest and newest occurred_at of the valid events processed, over
  // every partition (after Finish() when records were submitted); nullopt
  // before the first. Tells where the input's events lie when a report's
  // period has none of them.
  struct EventSpan {
    absl::Time earliest;
    absl::Time latest;
  };
  std::optional<EventSpan> event_span() const;
  const ReplayOptions& options() const { return options_; }

 private:
  struct Partition;
  struct Batch;
  class Worker;
  // Days settled by processors, summed over partitions: (unit, local
  // day start) -> values. A replay of many years holds one total per unit
  // and day here instead of a bucket in every partition's processor.
  using SettledSums = absl::flat_hash_map<std::pair<uint16_t, int64_t>, MetricValues>;
  Partition& Get(v1::EventKind kind, int32_t partition);
  void Refuse(int64_t record, RecordPosition position, const ProcessResult& result);
  // Moves p's settled days into `sums` (those options_ publishes).
  void TakeSettled(PartitionProcessor& p, SettledSums& sums) const;
  bool Publishes(const BucketKey& key) const {
    return key.width != BucketWidth::kDay || (key.start_unix_s >= options_.days_from_unix_s &&
                                              key.start_unix_s < options_.days_to_unix_s);
  }

  const RegionTable& regions_;
  ReplayOptions options_;
  // [kind][partition], created on first use.
  std::array<std::vector<std::unique_ptr<Partition>>, 2> partitions_;
  std::array<int64_t, kRejectReasonCount> rejected_by_reason_{};
  int64_t unknown_kind_ = 0;
  SettledSums settled_;  // of the partitions processed on this thread
  ProcessResult last_;
  // Submit(): records submitted so far, the workers (threads > 1) with the
  // batch being filled for each, and the refusals.
  int64_t submitted_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Batch>> filling_;
  std::vector<int64_t> last_pushed_;  // per worker: record number of its last pushed item
  std::vector<Refusal> refusals_;     // taken from the workers, not yet returned
  bool finished_ = false;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_REPLAYER_H_
