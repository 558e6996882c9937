// Building and keying roadpulse.counts records.
#ifndef ROADPULSE_PROCESSORS_COUNT_RECORD_H_
#define ROADPULSE_PROCESSORS_COUNT_RECORD_H_

#include <cstdint>
#include <string>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "processors/metrics.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {

// Proto width of a bucket width, and back (nullopt for UNSPECIFIED/unknown).
v1::BucketWidth ToProto(BucketWidth width);
std::optional<BucketWidth> FromProto(v1::BucketWidth width);

// A bucket record (any width) with every non-zero metric of `values`.
v1::CountRecord MakeCountRecord(const RegionTable& regions, std::string_view source_topic,
                                int32_t source_partition, const BucketKey& key,
                                const MetricValues& values, int64_t source_next_offset,
                                int64_t published_at_unix_ms);
// The same into *record, which is cleared first: a record reused for many
// (as a publisher does) keeps its strings' and values' memory, so this
// allocates nothing once it has held a record with as many values.
void MakeCountRecord(const RegionTable& regions, std::string_view source_topic,
                     int32_t source_partition, const BucketKey& key, const MetricValues& values,
                     int64_t source_next_offset, int64_t published_at_unix_ms,
                     v1::CountRecord* record);

// The compaction key:
// "<source_topic>/<source_partition>/<region_code>/<width>/<bucket_start>".
std::string CountRecordKey(const v1::CountRecord& record);
// The same into *key (replacing its contents, keeping its memory).
void CountRecordKey(const v1::CountRecord& record, std::string* key);

// The key fields of a record (no values): what a tombstone deletes.
v1::CountRecord TombstoneRecord(const RegionTable& regions, std::string_view source_topic,
                                int32_t source_partition, const BucketKey& key);

// Parses a CountRecordKey back into its fields (values left empty).
// kInvalidArgument when it is not of that form. Topic names cannot contain
// '/', so the split is unambiguous.
absl::StatusOr<v1::CountRecord> ParseCountRecordKey(std::string_view key);

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_COUNT_RECORD_H_
