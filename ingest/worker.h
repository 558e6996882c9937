// Worker: one member of the roadpulse consumer group. It consumes the two
// input topics in batches, runs every record through the PartitionProcessor of
// its input partition, dead-letters bad records, and publishes the changed
// (dirty) absolute bucket counts through a CountSink every flush interval.
//
// Lifecycle: Create() -> Run(stop) (blocks) -> destroy. Run() returns when
// `stop` becomes true, when Options::stop_at_end is set and every assigned
// partition has reached its end with everything published, or on a fatal
// error. A worker stopped in the middle of its group's first join (its
// JoinGroup answered, its first assignment not yet received) first waits up
// to 5 s for that assignment and hands it back unread: librdkafka before
// 2.3.0 aborts when such a consumer is destroyed (confluentinc/librdkafka
// #4381). If the assignment does not come, the closed consumer is kept, idle,
// until the process exits, instead of being destroyed.
//
// State: on assignment a partition's state is restored from its latest
// checkpoint (WorkerOptions::checkpoint_*), every restored bucket is
// republished (counts are absolute values: publishing again changes nothing
// that is not already behind), and consumption resumes at the checkpoint's
// offset; a partition without a checkpoint is read from offset 0. A
// checkpoint is written only after everything before its offset (counts and
// DLQ records) was delivered, so a crash loses nothing and, since the state
// and the offset travel together, counts nothing twice. On revocation the
// partition's dirty buckets are published, it is checkpointed, then its state
// is dropped. Records between a checkpoint and a crash are processed again
// by the next owner: a bad one among them is dead-lettered again; DLQ readers
// identify a record by its roadpulse.source.{topic,partition,offset} headers.
//
// A paused process (SIGSTOP, a frozen container or VM) that outlasted its
// group session has lost its partitions to another member, which may have
// published newer counts: the paused one must not publish its older ones
// over them when it wakes. After a turn of its loop, or a stretch of a
// publish round, that stood still for more than 3 s, a worker publishes
// nothing until the group confirms its membership (a synchronous commit);
// records it had already queued are its count sink's producer's to drop
// (CountRecordTimeoutMs). A count delivery the producer gave up on
// (kUnavailable from CountSink::Flush) is not fatal: the worker publishes
// every bucket again and writes no checkpoint before that is delivered.
//
// Group offset commits (async) are made only for lag monitoring; they are
// never read back.
#ifndef ROADPULSE_INGEST_WORKER_H_
#define ROADPULSE_INGEST_WORKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/dead_letter.h"
#include "ingest/kafka_producer.h"
#include "processors/count_sink.h"
#include "processors/partition_processor.h"
#include "processors/region_table.h"

namespace roadpulse {

namespace ingest_internal {
class WorkerImpl;
}  // namespace ingest_internal

// The DLQ headers (kDlq*) are in ingest/dead_letter.h.

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
  // How often dirty buckets are published.
  absl::Duration flush_interval = absl::Milliseconds(250);
  // How often, at most, the group's offsets are committed (for lag
  // monitoring only: positions come from checkpoints). A commit is sent only
  // while librdkafka's statistics say the group is between rebalances: a
  // commit queued behind a JoinGroup fails with ILLEGAL_GENERATION, and
  // librdkafka then declares the whole assignment lost, which makes the member
  // rejoin and can keep a group rebalancing for ever. So the consumer runs
  // with statistics.interval.ms (default 1000 here); with it set to 0 through
  // `properties`, offsets are committed only when the worker stops.
  absl::Duration commit_interval = absl::Seconds(5);
  // The same while reading a backlog (a consume returned a full batch):
  // every publish repeats each bucket changed since the last one, so a
  // worker catching up on history publishes less often. Never less than
  // flush_interval (a shorter one is taken as flush_interval).
  absl::Duration catchup_flush_interval = absl::Seconds(2);
  // How often progress is logged through spdlog; a worker with nothing new
  // to report (no records, publishes, dead letters or rebalances) logs at
  // most once a minute.
  absl::Duration log_interval = absl::Seconds(5);
  // Consumer group session timeout. The mock broker's rebalance waits about
  // this minus 1 s, hence a low default; raise it for a real cluster.
  int session_timeout_ms = 6000;
  // Most records taken from the consumer queue at once.
  int max_batch = 10000;
  // When the consumer queue runs empty while the broker holds more records,
  // the worker wakes the fetcher (ingest/internal/fetch_nudger.h: one
  // ListOffsets request per partition leader), at most this often; else a
  // worker reading a backlog waits up to a second each time librdkafka's
  // pre-fetch queue fills. Zero: never.
  absl::Duration fetch_nudge_interval = absl::Milliseconds(10);
  // Exit Run() once every assigned partition has reached its end (partition
  // EOF) and everything is published. For tests and batch runs.
  bool stop_at_end = false;
  // Own every partition of the two input topics without joining the group
  // (rd_kafka_assign instead of subscribe): for a single worker that shares a
  // process with its broker, like `roadpulse demo`, where the group's first
  // join would cost seconds (the mock broker waits 3 s for more members).
  // Restores from checkpoints exactly as an assignment does; offsets are
  // still committed under group_id. Never with other workers in the group.
  bool assign_all_partitions = false;
  // Raw librdkafka properties applied to the consumer and the DLQ producer
  // after roadpulse's defaults (e.g. "security.protocol").
  KafkaProperties properties;

  // Checkpoints (ingest/checkpoint_store.h): every `checkpoint_interval`
  // (after a publish that delivered everything), on revocation and on
  // shutdown, each changed partition's state and next offset go to
  // `checkpoint_topic`; on assignment a partition is restored from its latest
  // checkpoint and consumption resumes at its offset. Zero interval: no
  // checkpoints at all; every assignment re-reads the partition from offset 0.
  // The periodic round does not stop the counting: the state is serialized
  // and queued, and the round counts as written (checkpoints_written,
  // checkpointed_offset) once the checkpoint topic acknowledges it; the next
  // round waits until then. Revocation and shutdown wait for their round.
  std::string checkpoint_topic = "roadpulse.checkpoints";
  absl::Duration checkpoint_interval = absl::Seconds(10);
  // What to do when a checkpointed offset is no longer in the log (retention
  // deleted records the worker never counted): that is data loss, always
  // logged as an error and counted in WorkerStats::offset_resets.
  enum class OffsetResetPolicy {
    kStop,      // Run() returns kDataLoss
    kEarliest,  // resume at the earliest offset; the partition is marked
  };
  OffsetResetPolicy offset_reset_policy = OffsetResetPolicy::kStop;
  // Static group membership (group.instance.id): a restarted worker with the
  // same id gets its partitions back without a rebalance, if it returns
  // within the session timeout. Empty: dynamic membership.
  std::string instance_id;
};

// "stop" / "earliest" <-> the policy; nullopt for anything else.
std::optional<WorkerOptions::OffsetResetPolicy> OffsetResetPolicyFromName(std::string_view name);

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
  // Restored from a checkpoint on assignment (else re-read from offset 0).
  bool restored = false;
  // Records between the checkpoint and the log were deleted by retention
  // (offset_reset_policy kEarliest): the counts of this partition miss them.
  bool data_loss = false;
  // Next offset of the last checkpoint written or restored, -1: none.
  int64_t checkpointed_offset = -1;
};

// A snapshot of the worker's progress (for logs and, later, /metrics).
struct WorkerStats {
  std::vector<PartitionStats> partitions;  // the current assignment
  PartitionTally totals;                   // sum over `partitions`
  int64_t records_consumed = 0;   // since start, including re-reads after rebalances
  int64_t dead_lettered = 0;      // DLQ records produced since start
  int64_t counts_published = 0;   // CountRecords handed to the sink since start
  // Count deliveries the producer gave up on since start (each time, every
  // bucket was published again).
  int64_t count_delivery_failures = 0;
  // Changed hour and minute buckets no rolling window can show any more,
  // left unpublished (PartitionProcessor::SkipUnwatchable), since start.
  int64_t counts_unwatchable = 0;
  int64_t rebalances = 0;  // assignments received since start, empty ones too
  // DLQ records produced since start, by reject reason name.
  std::map<std::string, int64_t> dead_lettered_by_reason;
  // Publishing counts: every flush interval the dirty buckets are handed to
  // the producer (which delivers them in the background); before a
  // checkpoint the worker also waits for their delivery.
  int64_t publish_flushes = 0;            // flushes since start
  double publish_seconds_sum = 0;         // their total duration
  double last_publish_seconds = 0;        // the last one's duration
  int64_t last_publish_unix_ms = 0;       // when the last one ended, 0 before the first
  // Checkpoints.
  // Partition checkpoints since start, counted once acknowledged (a round
  // that fails or times out counts in neither).
  int64_t checkpoints_written = 0;
  int64_t checkpoint_bytes = 0;           // their serialized state, in all
  double last_checkpoint_seconds = 0;     // the last round, from serializing to its acknowledgement
  int64_t restores = 0;                   // partitions restored from a checkpoint
  double last_restore_seconds = 0;        // the last non-empty assignment's restore
  int64_t offset_resets = 0;              // checkpointed offsets found out of range (data loss)
  // Times the worker woke a fetcher paused on a full pre-fetch queue
  // (WorkerOptions::fetch_nudge_interval) since start.
  int64_t fetch_nudges = 0;
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
  // (returned: a DLQ delivery that failed, a count delivery refused for
  // another reason than kUnavailable, a fatal client error).
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

// The message.timeout.ms that the producer of a worker's count sink must use:
// half the session timeout. A worker paused past its session loses its
// partitions no sooner than the session timeout minus one heartbeat interval
// after it stopped (librdkafka's heartbeat.interval.ms, 3 s by default, must
// be at most half the session), and their new owner publishes later still.
// So a record queued before the pause has expired when the worker wakes, and
// librdkafka drops an expired record before it would send it, instead of
// writing it after the new owner's. Not covered: a produce request already
// built, or half written to a slow broker, when the pause began; librdkafka
// writes it on waking before it looks for timed-out requests.
int CountRecordTimeoutMs(const WorkerOptions& options);

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_WORKER_H_
