// Checks on raw librdkafka properties (the `[kafka]` table of the
// configuration, `-X key=value` flags) before any client is created, and the
// rule for which properties are secrets. No rd_kafka_* type leaks out.
#ifndef ROADPULSE_INGEST_KAFKA_PROPERTIES_H_
#define ROADPULSE_INGEST_KAFKA_PROPERTIES_H_

#include <string_view>

#include "absl/status/status.h"
#include "ingest/kafka_producer.h"

namespace roadpulse {

// True for a property whose value must never be printed or logged:
// sasl.password, ssl.key.password, ssl.key.pem, sasl.oauthbearer.config,
// ssl.keystore.password, and any name containing "password", "secret" or
// "token" (case-insensitive).
bool IsSecretPropertyName(std::string_view name);

// Applies every property to a scratch librdkafka configuration.
// kInvalidArgument naming the first unknown property or bad value (the value
// itself is named only for a known property that is not a secret). Says
// nothing about whether the cluster accepts the values (credentials,
// certificates).
absl::Status ValidateKafkaProperties(const KafkaProperties& properties);

}  // namespace roadpulse

#endif  // ROADPULSE_INGEST_KAFKA_PROPERTIES_H_
