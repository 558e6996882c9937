// CheckpointStore: writes and reads the checkpoints of input partitions in
// the compacted topic roadpulse.checkpoints (schema: PartitionCheckpoint in
// proto/roadpulse/v1/counts.proto).
//
// A checkpoint is one input partition's PartitionState together with the
// offset it is exact up to. Its serialized state is split into chunks of at
// most `max_chunk_bytes` (Kafka's default message limit is 1 MB), keyed
// "<group>/<topic>/<partition>/<slot>/<chunk>", where the slot alternates a/b with
// the checkpoint id: a crash halfway through writing checkpoint n leaves
// checkpoint n-1 whole under the other slot. All chunks of one input
// partition go to one checkpoint partition (murmur2 of
// "<group>/<topic>/<partition>"),
// so a restore reads only the checkpoint partitions of its assignment. The
// consumer group is part of the key: two groups (say production and a
// staging deployment with other settings) never share a checkpoint.
//
// Any complete checkpoint is a consistent (state, offset) pair, whoever wrote
// it: the reader picks, per input partition, the complete one with the
// highest next_offset (then the highest id). So a zombie writer that lost a
// partition can at worst make the next owner re-read a few records; it can
// never make it count one twice.
//
//   auto store = CheckpointStore::Create(options);            // looks up the topic
//   (*store)->Write("roadpulse.incidents", 3, next_offset, id, state);
//   (*store)->Flush(absl::Seconds(30));                        // now durable
//   auto latest = (*store)->ReadLatest({{"roadpulse.incidents", 3}});
#ifndef ROADPULSE_INGEST_CHECKPOINT_STORE_H_
#define ROADPULSE_INGEST_CHECKPOINT_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest/kafka_producer.h"
#include "ingest/kafka_properties.h"
#include "roadpulse/v1/counts.pb.h"

namespace roadpulse {

struct CheckpointStoreOptions {
  std::string bootstrap_servers;  // required
  std::string topic = "roadpulse.checkpoints";
  // Consumer group whose checkpoints these are (required).
  std::string group;
  // Largest state_chunk per record; with the other fields a record stays
  // under Kafka's default 1 MB message.max.bytes.
  size_t max_chunk_bytes = 900 * 1024;
  // Metadata lookups and each ReadLatest must finish within this.
  absl::Duration timeout = absl::Seconds(60);
  // Raw librdkafka properties for the producer and the reader.
  KafkaProperties properties;
};

// An input partition: (topic, partition).
using InputPartition = std::pair<std::string, int32_t>;

struct Checkpoint {
  int64_t next_offset = 0;
  uint64_t checkpoint_id = 0;
  v1::PartitionState state;
  int64_t state_bytes = 0;  // serialized size
  int32_t chunks = 0;
  int64_t written_at_unix_ms = 0;
};

// Thread-compatible.
class CheckpointStore {
 public:
  // kNotFound when the topic does not exist; kInvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<CheckpointStore>> Create(
      const CheckpointStoreOptions& options);

  // Queues the chunks of checkpoint `checkpoint_id` of `input` (does not
  // wait: Flush() does). REQUIRES: checkpoint ids of one partition increase.
  absl::Status Write(const InputPartition& input, int64_t next_offset, uint64_t checkpoint_id,
                     const v1::PartitionState& state);
  // Waits until every queued chunk is acknowledged (acks=all); the first
  // delivery error, or kDeadlineExceeded.
  absl::Status Flush(absl::Duration timeout);

  // The latest complete checkpoint of each of `inputs` that has one.
  // Incomplete or corrupt checkpoints are skipped (and logged).
  absl::StatusOr<std::map<InputPartition, Checkpoint>> ReadLatest(
      const std::vector<InputPartition>& inputs) const;

  // The checkpoint partition that holds `input`'s checkpoints.
  int32_t PartitionFor(const InputPartition& input) const;
  int32_t partitions() const { return partitions_; }
  const std::string& topic() const { return options_.topic; }

 private:
  CheckpointStore(const CheckpointStoreOptions& options, int32_t partitions,
                  std::unique_ptr<KafkaProducer> producer);

  const CheckpointStoreOptions options_;
  const int32_t partitions_;
  const uint64_t writer_;  // random, per process
  std::unique_ptr<KafkaProducer> producer_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_CHECKPOINT_STORE_H_
