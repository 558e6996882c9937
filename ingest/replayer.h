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
#ifndef ROADPULSE_INGEST_REPLAYER_H_
#define ROADPULSE_INGEST_REPLAYER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
};

// Totals over every partition, and refusals by reason.
struct ReplayTally {
  PartitionTally totals;
  std::array<int64_t, kRejectReasonCount> rejected_by_reason{};
};

// Not thread-safe.
class Replayer {
 public:
  // `regions` must outlive this object. REQUIRES: options.partitions >= 1.
  Replayer(const RegionTable& regions, ReplayOptions options);
  ~Replayer();

  // Processes one record in the partition its key maps to. The record time
  // for the future-time check is its timestamp, when it has one.
  const ProcessResult& Process(const SourceRecord& record);
  // Processes one record in a given partition (records read from Kafka).
  const ProcessResult& ProcessAt(v1::EventKind kind, int32_t partition, std::string_view value,
                                 absl::Time record_time);

  // Applies every bucket of every partition to `store`, as the worker would
  // have published them (the newest absolute values). Errors from the store
  // (unknown region/metric) are returned.
  absl::Status PublishTo(CountStore& store) const;

  ReplayTally tally() const;
  const ReplayOptions& options() const { return options_; }

 private:
  struct Partition;
  Partition& Get(v1::EventKind kind, int32_t partition);

  const RegionTable& regions_;
  ReplayOptions options_;
  // [kind][partition], created on first use.
  std::array<std::vector<std::unique_ptr<Partition>>, 2> partitions_;
  std::array<int64_t, kRejectReasonCount> rejected_by_reason_{};
  int64_t unknown_kind_ = 0;
  ProcessResult last_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_REPLAYER_H_
