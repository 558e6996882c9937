// A Kafka producer for roadpulse's own topics (events from the generator, the
// DLQ, counts, checkpoints). Wraps librdkafka; errors come back as absl::Status.
#ifndef ROADPULSE_INGEST_KAFKA_PRODUCER_H_
#define ROADPULSE_INGEST_KAFKA_PRODUCER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace roadpulse {

using KafkaProperties = std::map<std::string, std::string>;
using KafkaHeaders = std::vector<std::pair<std::string, std::string>>;

struct ProducerOptions {
  std::string bootstrap_servers;  // "host:port,..." (required)
  // Raw librdkafka properties, applied after roadpulse's defaults
  // (acks=all, enable.idempotence=true, linger.ms=5, compression lz4).
  KafkaProperties properties;
};

// Thread-compatible: Produce() may be called from one thread at a time.
// Delivery failures are remembered and returned by the next Flush() or Poll().
class KafkaProducer {
 public:
  // kInvalidArgument names a bad property; kUnavailable when the client
  // cannot be created.
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(const ProducerOptions& options);
  virtual ~KafkaProducer() = default;

  // Queues one record (copies key, value and headers). partition < 0 lets
  // librdkafka's partitioner choose by key. Blocks (polling) while the local
  // queue is full. A record larger than the producer's message.max.bytes
  // (1,000,000 by default) is refused with kInvalidArgument, nothing queued,
  // and IsRecordTooLarge(status) tells that case apart.
  virtual absl::Status Produce(std::string_view topic, std::string_view key,
                               std::string_view value, const KafkaHeaders& headers = {},
                               int32_t partition = -1) = 0;
  // Learns `topic`'s partitions now, with one metadata request (at most
  // `timeout`), and returns their count. Without it the first Produce to a
  // topic waits for librdkafka's once-a-second scan of unknown topics, up to
  // ~1 s in which records only queue up: a worker's first publish of a
  // backlog, which fills the local queue, was held that long. An error naming
  // the topic when the answer did not come in time or refused the topic;
  // Produce still works then, as without the call.
  virtual absl::StatusOr<int> Prepare(std::string_view topic, absl::Duration timeout) = 0;
  // Waits until every queued record is delivered or failed; returns the first
  // delivery error since the previous Flush or Poll (kDeadlineExceeded on
  // timeout).
  virtual absl::Status Flush(absl::Duration timeout) = 0;
  // Serves delivery reports, waiting up to `timeout` for the first one, and
  // returns the first delivery error since the previous Flush or Poll (each
  // error is returned once). Poll(absl::ZeroDuration()) does not block.
  virtual absl::Status Poll(absl::Duration timeout) = 0;
  // Drops every record queued and not yet delivered, for a caller that gives
  // up on them: they may or may not reach the cluster, their failures are not
  // reported, and the destructor does not wait for them. Returns how many
  // records were in flight.
  virtual int64_t Purge() = 0;
  // Records queued and not yet delivered.
  virtual int64_t InFlight() const = 0;
  // Records delivered successfully since creation.
  virtual int64_t Delivered() const = 0;
};

// True when `status` is Produce's refusal of a record larger than the
// producer's message.max.bytes.
bool IsRecordTooLarge(const absl::Status& status);

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_KAFKA_PRODUCER_H_
