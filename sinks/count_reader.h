// CountReader: reads a counts topic (roadpulse.counts) into a CountStore.
// It assigns every partition itself (no consumer group, no commits), so any
// number of readers can read the same topic independently.
//
//  - ReadToEnd(): from the beginning of every partition up to the high
//    watermark each had when the call started; then returns. For tests,
//    `report` and start-up of a view.
//  - Follow(): keeps consuming (after ReadToEnd or from the beginning) and
//    calls back after each applied batch. For the live demo and `serve`.
#ifndef ROADPULSE_SINKS_COUNT_READER_H_
#define ROADPULSE_SINKS_COUNT_READER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/kafka_producer.h"
#include "processors/count_store.h"
#include "sinks/kafka_count_sink.h"

namespace roadpulse {

namespace sinks_internal {
class CountReaderImpl;
}  // namespace sinks_internal

struct CountReaderOptions {
  // "host:port,..." of the Kafka cluster (required).
  std::string bootstrap_servers;
  // The counts topic to read.
  std::string topic = kCountsTopic;
  // ReadToEnd() fails with kDeadlineExceeded when it has not reached the
  // watermarks within this time.
  absl::Duration timeout = absl::Seconds(60);
  // Raw librdkafka consumer properties, applied after roadpulse's defaults.
  KafkaProperties properties;
  // When set, Create gives up with kCancelled within about 0.25 s of
  // `*cancel` turning true, instead of waiting out its 10 s for the topic's
  // metadata from a cluster it cannot reach. Must outlive Create.
  const std::atomic<bool>* cancel = nullptr;
};

struct CountReadStats {
  int64_t records = 0;  // messages applied to the store
  int64_t invalid = 0;  // messages the store refused (unknown region/metric, bad bytes)
  int partitions = 0;   // partitions of the topic
};

// Thread-compatible: one thread calls ReadToEnd/Follow; the store is only
// touched from that thread (guard it externally if others read it, e.g.
// inside the Follow callback).
class CountReader {
 public:
  // kNotFound when the topic does not exist; kInvalidArgument for bad options;
  // kUnavailable or kDeadlineExceeded when the cluster does not answer within
  // 10 s; kCancelled (see CountReaderOptions::cancel).
  static absl::StatusOr<std::unique_ptr<CountReader>> Create(const CountReaderOptions& options);
  ~CountReader();
  CountReader(const CountReader&) = delete;
  CountReader& operator=(const CountReader&) = delete;

  // Applies every record up to the current high watermarks to `store`.
  // REQUIRES: called before Follow.
  absl::StatusOr<CountReadStats> ReadToEnd(CountStore& store);

  // Applies records as they arrive until `*stop` is true, calling
  // `after_batch` (may be empty) after each batch that applied >= 1 record,
  // with the running totals. Errors of the client are returned.
  absl::Status Follow(CountStore& store, const std::atomic<bool>& stop,
                      const std::function<void(const CountReadStats&)>& after_batch);

 private:
  explicit CountReader(std::unique_ptr<sinks_internal::CountReaderImpl> impl);
  std::unique_ptr<sinks_internal::CountReaderImpl> impl_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_COUNT_READER_H_
