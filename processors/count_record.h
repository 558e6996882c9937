// Building and keying roadpulse.counts records.
#ifndef ROADPULSE_PROCESSORS_COUNT_RECORD_H_
#define ROADPULSE_PROCESSORS_COUNT_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "processors/metrics.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {

// A day-bucket record with every non-zero metric of `values`.
v1::CountRecord MakeCountRecord(const RegionTable& regions, std::string_view source_topic,
                                int32_t source_partition, const BucketKey& key,
                                const MetricValues& values, int64_t source_next_offset,
                                int64_t published_at_unix_ms);

// The compaction key:
// "<source_topic>/<source_partition>/<region_code>/<width>/<bucket_start>".
std::string CountRecordKey(const v1::CountRecord& record);

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_COUNT_RECORD_H_
