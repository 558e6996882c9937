// The producer's partitioner, reproduced: librdkafka's "murmur2_random"
// (roadpulse's producer default, see kafka_producer.cc) hashes a non-null key
// exactly like the Java client's default partitioner, so a replay can put
// every record in the partition the live path would have.
#ifndef ROADPULSE_INGEST_PARTITIONER_H_
#define ROADPULSE_INGEST_PARTITIONER_H_

#include <cstdint>
#include <string_view>

namespace roadpulse {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c.
int32_t KafkaMurmur2(std::string_view key);

// The partition of `key` among `partitions` (>= 1):
// (murmur2(key) & 0x7fffffff) % partitions.
inline int32_t KafkaPartitionForKey(std::string_view key, int32_t partitions) {
  return static_cast<int32_t>(static_cast<uint32_t>(KafkaMurmur2(key)) & 0x7fffffffu) %
         partitions;
}

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_PARTITIONER_H_
