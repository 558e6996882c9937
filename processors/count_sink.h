// Where a worker publishes absolute bucket counts (implemented in sinks/).
#ifndef ROADPULSE_PROCESSORS_COUNT_SINK_H_
#define ROADPULSE_PROCESSORS_COUNT_SINK_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {

// Publishing the same record twice must be harmless (records are absolute).
class CountSink {
 public:
  virtual ~CountSink() = default;
  // Queues one record for publishing.
  virtual absl::Status Publish(const v1::CountRecord& record) = 0;
  // Queues a tombstone for the key of `record` (only its key fields are
  // used): readers forget that bucket, and log compaction removes it.
  virtual absl::Status PublishTombstone(const v1::CountRecord& record) = 0;
  // Waits until everything queued is durably published.
  virtual absl::Status Flush(absl::Duration timeout) = 0;
};

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_COUNT_SINK_H_
