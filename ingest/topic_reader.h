// TopicReader: reads a time range of one or more Kafka topics, every
// partition from the offset of the first record at or after `from` to the
// first at or after `to` (Kafka's offsetsForTimes, i.e.
// rd_kafka_offsets_for_times), or from the beginning / to the current end.
// No consumer group: partitions are assigned directly and nothing is
// committed. For `roadpulse replay --bootstrap-servers`, `export` and `inspect`.
#ifndef ROADPULSE_INGEST_TOPIC_READER_H_
#define ROADPULSE_INGEST_TOPIC_READER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/kafka_producer.h"

namespace roadpulse {

namespace ingest_internal {
class TopicReaderImpl;
}  // namespace ingest_internal

struct TopicReaderOptions {
  // "host:port,..." of the Kafka cluster (required).
  std::string bootstrap_servers;
  // Topics to read (required, each must exist).
  std::vector<std::string> topics;
  // Record-time range [from, to) by Kafka record timestamps; nullopt: from
  // the beginning / to the end offsets as they are when reading starts.
  std::optional<absl::Time> from;
  std::optional<absl::Time> to;
  // Only these partitions of every topic (each must exist); empty: all.
  std::vector<int32_t> partitions;
  // Metadata and offset lookups, and the whole read, must finish within this.
  absl::Duration timeout = absl::Minutes(10);
  // Raw librdkafka consumer properties, applied after roadpulse's defaults.
  KafkaProperties properties;
  // Fill TopicRecord::headers (they cost a parse per record; off for replay).
  bool headers = false;
  // Optional; must outlive the reader. Once *stop is set (from a signal
  // handler, say), ReadAll returns kCancelled within about 100 ms, also while
  // it waits for the cluster.
  const std::atomic<bool>* stop = nullptr;
};

// One record. Views are valid only during the callback.
struct TopicRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string_view key;
  std::string_view value;
  bool null_value = false;  // a tombstone
  int64_t timestamp_unix_ms = 0;  // -1 when the record has none
  // Name and value of each header, in order (a null value as empty); only
  // with TopicReaderOptions::headers.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

// The planned range of one partition.
struct PartitionRange {
  std::string topic;
  int32_t partition = 0;
  int64_t start = 0;  // first offset to read
  int64_t end = 0;    // one past the last
};

class TopicReader {
 public:
  // Looks up partitions and the offset range of each. kNotFound for a
  // missing topic; kInvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<TopicReader>> Create(const TopicReaderOptions& options);
  ~TopicReader();

  const std::vector<PartitionRange>& ranges() const;
  // Offsets in all ranges: the records, plus any offsets that hold none
  // (transaction markers, records compacted away). An upper bound on the
  // records ReadAll delivers.
  int64_t total() const;

  // Calls `fn` for every record of the ranges, in offset order within each
  // partition; stops at the first error `fn` returns, or a client error.
  // Returns once every partition is read to its end, also when its last
  // offsets hold no record (a topic written by transactional producers ends
  // each transaction with a marker no consumer is given); kDeadlineExceeded
  // after `timeout` otherwise; kCancelled once *options.stop is set. Reads
  // committed records only (librdkafka's isolation.level default): records of
  // an aborted transaction are skipped, and those of a transaction still open
  // are waited for.
  // REQUIRES: called once.
  absl::Status ReadAll(const std::function<absl::Status(const TopicRecord&)>& fn);

 private:
  explicit TopicReader(std::unique_ptr<ingest_internal::TopicReaderImpl> impl);
  std::unique_ptr<ingest_internal::TopicReaderImpl> impl_;
};

// Parses a time flag: "YYYY-MM-DD" (local midnight in `tz`), an RFC 3339
// instant ("2025-01-01T08:00:00+08:00", "...Z"), or Unix milliseconds.
// kInvalidArgument names the flag.
absl::StatusOr<absl::Time> ParseTimeFlag(std::string_view flag, const std::string& text,
                                         absl::TimeZone tz);

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_TOPIC_READER_H_
