#include "ingest/checkpoint_store.h"

#include <zlib.h>

#include <random>
#include <set>

#include "fmt/format.h"
#include "ingest/partitioner.h"
#include "ingest/topic_reader.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t at = 0;
  while (at < bytes.size()) {
    const uInt n = static_cast<uInt>(std::min<size_t>(bytes.size() - at, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), n);
    at += n;
  }
  return static_cast<uint32_t>(crc);
}

std::string InputKey(const std::string& group, const InputPartition& input) {
  return fmt::format("{}/{}/{}", group, input.first, input.second);
}

uint64_t RandomWriterId() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointStore::Create(
    const CheckpointStoreOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("checkpoints: bootstrap servers are required");
  }
  if (options.group.empty()) return absl::InvalidArgumentError("checkpoints: group is required");
  if (options.max_chunk_bytes < 1024) {
    return absl::InvalidArgumentError("checkpoints: max_chunk_bytes must be at least 1024");
  }
  ProducerOptions producer_options;
  producer_options.bootstrap_servers = options.bootstrap_servers;
  producer_options.properties = options.properties;
  // A chunk is close to 1 MB: send it alone rather than batched with others.
  producer_options.properties.emplace("batch.size", "1000000");
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(producer_options);
  if (!producer.ok()) return producer.status();
  // The partition count, and the producer knows the topic before the first
  // round (else that round waits up to a second for its metadata,
  // KafkaProducer::Prepare, and a worker stopping at the end with it).
  absl::StatusOr<int> n = (*producer)->Prepare(options.topic, options.timeout);
  if (!n.ok()) return n.status();
  return std::unique_ptr<CheckpointStore>(
      new CheckpointStore(options, *n, *std::move(producer)));
}

CheckpointStore::CheckpointStore(const CheckpointStoreOptions& options, int32_t partitions,
                                 std::unique_ptr<KafkaProducer> producer)
    : options_(options),
      partitions_(partitions),
      writer_(RandomWriterId()),
      producer_(std::move(producer)) {}

int32_t CheckpointStore::PartitionFor(const InputPartition& input) const {
  return KafkaPartitionForKey(InputKey(options_.group, input), partitions_);
}

absl::Status CheckpointStore::Write(const InputPartition& input, int64_t next_offset,
                                    uint64_t checkpoint_id, const v1::PartitionState& state) {
  const std::string bytes = state.SerializeAsString();
  const uint32_t crc = Crc32(bytes);
  const size_t chunk = options_.max_chunk_bytes;
  const int32_t count = static_cast<int32_t>(std::max<size_t>(1, (bytes.size() + chunk - 1) / chunk));
  const char slot = checkpoint_id % 2 == 0 ? 'a' : 'b';
  const int32_t partition = PartitionFor(input);
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (int32_t i = 0; i < count; ++i) {
    v1::PartitionCheckpoint record;
    record.set_group(options_.group);
    record.set_topic(input.first);
    record.set_partition(input.second);
    record.set_next_offset(next_offset);
    record.set_checkpoint_id(checkpoint_id);
    record.set_chunk_index(i);
    record.set_chunk_count(count);
    *record.mutable_reconciliation() = state.tally();
    record.set_writer(writer_);
    record.set_state_size(static_cast<int64_t>(bytes.size()));
    record.set_state_crc32(crc);
    const size_t from = static_cast<size_t>(i) * chunk;
    record.set_state_chunk(bytes.substr(from, std::min(chunk, bytes.size() - from)));
    record.set_written_at_unix_ms(now_ms);
    const std::string key = fmt::format("{}/{}/{}", InputKey(options_.group, input), slot, i);
    if (absl::Status s =
            producer_->Produce(options_.topic, key, record.SerializeAsString(), {}, partition);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckpointStore::Flush(absl::Duration timeout) { return producer_->Flush(timeout); }

absl::StatusOr<std::map<InputPartition, Checkpoint>> CheckpointStore::ReadLatest(
    const std::vector<InputPartition>& inputs) const {
  std::map<InputPartition, Checkpoint> result;
  if (inputs.empty()) return result;
  std::set<int32_t> wanted_partitions;
  std::set<InputPartition> wanted(inputs.begin(), inputs.end());
  for (const InputPartition& input : inputs) wanted_partitions.insert(PartitionFor(input));

  TopicReaderOptions reader_options;
  reader_options.bootstrap_servers = options_.bootstrap_servers;
  reader_options.topics = {options_.topic};
  reader_options.partitions.assign(wanted_partitions.begin(), wanted_partitions.end());
  reader_options.timeout = options_.timeout;
  reader_options.properties = options_.properties;
  absl::StatusOr<std::unique_ptr<TopicReader>> reader = TopicReader::Create(reader_options);
  if (!reader.ok()) return reader.status();

  // Candidates by (input, writer, checkpoint id): the chunks seen so far.
  struct Candidate {
    int64_t next_offset = 0;
    int32_t count = 0;
    int64_t size = 0;
    uint32_t crc = 0;
    int64_t written_at_unix_ms = 0;
    std::map<int32_t, std::string> chunks;
  };
  std::map<std::tuple<InputPartition, uint64_t, uint64_t>, Candidate> candidates;
  absl::Status read = (*reader)->ReadAll([&](const TopicRecord& r) -> absl::Status {
    if (r.null_value) return absl::OkStatus();
    v1::PartitionCheckpoint record;
    if (!record.ParseFromArray(r.value.data(), static_cast<int>(r.value.size()))) {
      spdlog::warn("checkpoints: {}[{}]@{} is not a PartitionCheckpoint; skipped", r.topic,
                   r.partition, r.offset);
      return absl::OkStatus();
    }
    const InputPartition input{record.topic(), record.partition()};
    if (record.group() != options_.group || wanted.count(input) == 0) return absl::OkStatus();
    Candidate& c = candidates[{input, record.writer(), record.checkpoint_id()}];
    if (c.chunks.empty()) {
      c.next_offset = record.next_offset();
      c.count = record.chunk_count();
      c.size = record.state_size();
      c.crc = record.state_crc32();
      c.written_at_unix_ms = record.written_at_unix_ms();
    }
    if (record.chunk_count() != c.count || record.next_offset() != c.next_offset ||
        record.chunk_index() < 0 || record.chunk_index() >= c.count) {
      spdlog::warn("checkpoints: inconsistent chunk {}[{}]@{} for {}/{}; skipped", r.topic,
                   r.partition, r.offset, input.first, input.second);
      return absl::OkStatus();
    }
    c.chunks[record.chunk_index()] = std::move(*record.mutable_state_chunk());
    return absl::OkStatus();
  });
  if (!read.ok()) return read;

  for (auto& [key, c] : candidates) {
    const auto& [input, writer, id] = key;
    if (static_cast<int32_t>(c.chunks.size()) != c.count) continue;  // cut short
    std::string bytes;
    bytes.reserve(static_cast<size_t>(c.size));
    for (auto& [index, chunk] : c.chunks) bytes += chunk;
    if (static_cast<int64_t>(bytes.size()) != c.size || Crc32(bytes) != c.crc) {
      spdlog::warn("checkpoints: checkpoint {} of {}/{} fails its size or CRC check; skipped", id,
                   input.first, input.second);
      continue;
    }
    auto it = result.find(input);
    if (it != result.end() && (it->second.next_offset > c.next_offset ||
                               (it->second.next_offset == c.next_offset &&
                                it->second.checkpoint_id >= id))) {
      continue;
    }
    Checkpoint checkpoint;
    if (!checkpoint.state.ParseFromString(bytes)) {
      spdlog::warn("checkpoints: checkpoint {} of {}/{} does not parse; skipped", id, input.first,
                   input.second);
      continue;
    }
    checkpoint.next_offset = c.next_offset;
    checkpoint.checkpoint_id = id;
    checkpoint.state_bytes = static_cast<int64_t>(bytes.size());
    checkpoint.chunks = c.count;
    checkpoint.written_at_unix_ms = c.written_at_unix_ms;
    result[input] = std::move(checkpoint);
  }
  return result;
}

}  // namespace roadpulse
