// Worker: one member of the roadpulse consumer group. It consumes the two
// input topics in batches, runs every record through the PartitionProcessor of
// its input partition, dead-letters bad records, and publishes the changed
// (dirty) absolute bucket counts through a CountSink every flush interval.
//
// Lifecycle: Create() -> Run(stop) (blocks) -> destroy. Run() returns when
// `stop` becomes true, when Options::stop_at_end is set and every assigned
// partition has reached its end with everything published, or on a fatal
// error.
//
// State: no checkpoints yet (issue 4). On every assignment a partition's state
// is rebuilt by reading it from offset 0, which is correct (counts are
// absolute values, republishing changes nothing) but slow for long topics. On
// revocation the partition's dirty buckets are published and flushed, then its
// state is dropped. Consequence: a record dead-lettered before a rebalance is
// dead-lettered again by the partition's next owner; DLQ readers identify a
// record by its roadpulse.source.{topic,partition,offset} headers.
//
// Group offset commits (async) are made only for lag monitoring; they are
// never read back.
#ifndef ROADPULSE_INGEST_WORKER_H_
#define ROADPULSE_INGEST_WORKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/kafka_producer.h"
#include "processors/count_sink.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"

namespace roadpulse {

namespace ingest_internal {
class WorkerImpl;
}  // namespace ingest_internal

// DLQ headers added to every dead-lettered record (before its own headers).
inline constexpr char kDlqReasonHeader[] = "roadpulse.reason";  // RejectReasonName
inline constexpr char kDlqDetailHeader[] = "roadpulse.detail";  // human-readable
inline constexpr char kDlqSourceTopicHeader[] = "roadpulse.source.topic";
inline constexpr char kDlqSourcePartitionHeader[] = "roadpulse.source.partition";  // decimal
inline constexpr char kDlqSourceOffsetHeader[] = "roadpulse.source.offset";        // decimal

struct WorkerOptions {
  // "host:port,..." of the Kafka cluster (required).
  std::string bootstrap_servers;
  // Consumer group the worker joins.
  std::string group_id = "roadpulse";
  // Input topic of IncidentEvent records.
  std::string incidents_topic = "roadpulse.incidents";
  // Input topic of ViolationEvent records.
  std::string violations_topic = "roadpulse.violations";
  // Where refused records go, with the kDlq* headers.
  std::string dlq_topic = "roadpulse.dlq";
  // Validation bounds and retention of every PartitionProcessor.
  ProcessorOptions processor;
  // How often dirty buckets are published (and group offsets committed).
  absl::Duration flush_interval = absl::Milliseconds(250);
  // How often progress is logged through spdlog.
  absl::Duration log_interval = absl::Seconds(5);
  // Consumer group session timeout. The mock broker's rebalance waits about
  // this minus 1 s, hence a low default; raise it for a real cluster.
  int session_timeout_ms = 6000;
  // Most records taken from the consumer queue at once.
  int max_batch = 10000;
  // Exit Run() once every assigned partition has reached its end (partition
  // EOF) and everything is published. For tests and batch runs.
  bool stop_at_end = false;
  // Raw librdkafka properties applied to the consumer and the DLQ producer
  // after roadpulse's defaults (e.g. "security.protocol").
  KafkaProperties properties;
};

// Counters of one assigned input partition.
struct PartitionStats {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;  // next offset to process
  bool reached_end = false; // the partition's end was reached and nothing newer was read since
  PartitionTally tally;     // since the partition was (re)assigned
  // The partition's high watermark as librdkafka last saw it (no broker
  // round trip), -1 when not known yet; consumer lag = high_watermark - next_offset.
  int64_t high_watermark = -1;
};

// A snapshot of the worker's progress (for logs and, later, /metrics).
struct WorkerStats {
  std::vector<PartitionStats> partitions;  // the current assignment
  PartitionTally totals;                   // sum over `partitions`
  int64_t records_consumed = 0;   // since start, including re-reads after rebalances
  int64_t dead_lettered = 0;      // DLQ records produced since start
  int64_t counts_published = 0;   // CountRecords handed to the sink since start
  int64_t rebalances = 0;         // assignments received since start
  // DLQ records produced since start, by reject reason name.
  std::map<std::string, int64_t> dead_lettered_by_reason;
  // Publishing counts: each flush publishes the dirty buckets and waits for
  // their delivery; its duration is the publish latency.
  int64_t publish_flushes = 0;            // flushes since start
  double publish_seconds_sum = 0;         // their total duration
  double last_publish_seconds = 0;        // the last one's duration
  int64_t last_publish_unix_ms = 0;       // when the last one ended, 0 before the first
};

// Thread-compatible; Run() is called from one thread. stats() and
// RequestStop() may be called from any thread.
class Worker {
 public:
  // `regions` and `sink` are borrowed and must outlive the worker.
  // kInvalidArgument for a missing bootstrap server or a bad property.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(const WorkerOptions& options,
                                                        const RegionTable& regions,
                                                        CountSink& sink);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Consumes until `*stop` is true (e.g. set by a SIGINT handler; may be
  // nullptr), until the end with stop_at_end, or until a fatal error
  // (returned: a DLQ or count delivery that failed, a fatal client error).
  // On return everything processed is published and the worker has left the
  // group. REQUIRES: called once.
  absl::Status Run(const std::atomic<bool>* stop);

  // Makes Run() return soon, as if *stop became true.
  void RequestStop();

  WorkerStats stats() const;

 private:
  explicit Worker(std::unique_ptr<ingest_internal::WorkerImpl> impl);
  std::unique_ptr<ingest_internal::WorkerImpl> impl_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_WORKER_H_
