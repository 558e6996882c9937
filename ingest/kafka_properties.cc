#include "ingest/kafka_properties.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "ingest/internal/rdkafka_handles.h"

namespace roadpulse {

bool IsSecretPropertyName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Private key material and OAuth settings carry no "password" in their
  // names but are secrets all the same.
  if (lower == "ssl.key.pem" || lower == "sasl.oauthbearer.config") return true;
  for (const char* word : {"password", "secret", "token"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

absl::Status ValidateKafkaProperties(const KafkaProperties& properties) {
  ingest_internal::ConfHandle conf(rd_kafka_conf_new());
  // Each client applies the properties again when it is created; this only
  // finds unknown names and malformed values early, with the key named.
  return ingest_internal::SetProperties(conf.get(), properties);
}

}  // namespace roadpulse
