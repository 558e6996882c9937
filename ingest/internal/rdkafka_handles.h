// Internal to ingest/ and sinks/: RAII owners for librdkafka handles (one
// std::unique_ptr with a deleter per handle type, as cppkafka does) and the
// conversion of librdkafka errors to absl::Status. Nothing above ingest/ and
// sinks/ may include this header: it exposes rd_kafka_* types.
#ifndef ROADPULSE_INGEST_INTERNAL_RDKAFKA_HANDLES_H_
#define ROADPULSE_INGEST_INTERNAL_RDKAFKA_HANDLES_H_

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ingest/kafka_producer.h"

namespace roadpulse::ingest_internal {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  void operator()(rd_kafka_headers_t* headers) const { rd_kafka_headers_destroy(headers); }
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
  void operator()(const rd_kafka_metadata_t* metadata) const { rd_kafka_metadata_destroy(metadata); }
  void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
};

using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionListHandle = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using MessageHandle = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using HeadersHandle = std::unique_ptr<rd_kafka_headers_t, KafkaDeleter>;
using ErrorHandle = std::unique_ptr<rd_kafka_error_t, KafkaDeleter>;
using MetadataHandle = std::unique_ptr<const rd_kafka_metadata_t, KafkaDeleter>;
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;

// Maps a librdkafka error to an absl::Status whose message starts with
// `context` and names the librdkafka error. OK for RD_KAFKA_RESP_ERR_NO_ERROR.
absl::Status ToStatus(rd_kafka_resp_err_t err, std::string_view context);
// Same for an rd_kafka_error_t (takes ownership; nullptr is OK).
absl::Status ToStatus(rd_kafka_error_t* error, std::string_view context);

// A fresh configuration holding roadpulse's defaults for every client, to
// which each client adds its own and then the user's properties (so `-X`
// and the `[kafka]` table can override any of them):
// - socket.nagle.disable=true: requests go out at once. With Nagle's
//   algorithm on (the default of Debian 12's librdkafka 2.0; later releases
//   turned it off, confluentinc/librdkafka#4986), a request written while an
//   earlier one is unacknowledged waits for the broker's delayed ACK, up to
//   40 ms on Linux: a worker's Fetch behind its fetch nudge (ListOffsets), a
//   producer's Produce behind the one before. librdkafka batches on its own
//   (linger.ms), so Nagle's coalescing buys nothing.
ConfHandle NewClientConf();

// Sets one property; kInvalidArgument naming the property and librdkafka's
// reason when it is unknown or its value is bad. The value is repeated only
// for a known property that is not a secret (an unknown name may be a
// secret's, misspelt).
absl::Status SetProperty(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);
absl::Status SetProperties(rd_kafka_conf_t* conf, const KafkaProperties& properties);

// The properties meant for a client of `type`: a property that librdkafka's
// own table (rd_kafka_conf_properties_show) marks as the other kind's only
// ("C" consumer, "P" producer) is skipped, with a debug log line. Processes
// share one property set (the `[kafka]` table) among their consumers and
// producers; set on the wrong kind, librdkafka would warn (CONFWARN) at every
// client's creation and ignore it anyway. Every value is still checked when
// the configuration is loaded (ValidateKafkaProperties).
absl::Status SetPropertiesFor(rd_kafka_type_t type, rd_kafka_conf_t* conf,
                              const KafkaProperties& properties);

// 'C' (consumers only), 'P' (producers only) or '*' (both) for a librdkafka
// property, from librdkafka's property table; '*' for a name not in it.
char PropertyScope(std::string_view name);

// Creates a client of `type`. Takes ownership of `conf` in every case.
absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, ConfHandle conf);

// Number of partitions of `topic` from the cluster's metadata.
// kNotFound when the topic does not exist.
absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms);

}  // namespace roadpulse::ingest_internal

#endif  // ROADPULSE_INGEST_INTERNAL_RDKAFKA_HANDLES_H_
