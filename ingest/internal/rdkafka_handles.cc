#include "ingest/internal/rdkafka_handles.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ingest/kafka_properties.h"
#include "spdlog/spdlog.h"

namespace roadpulse::ingest_internal {
namespace {

absl::StatusCode CodeOf(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::StatusCode::kOk;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
      return absl::StatusCode::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
      return absl::StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
      return absl::StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
      return absl::StatusCode::kAborted;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      return absl::StatusCode::kOutOfRange;
    // A record that could not be delivered within message.timeout.ms is a
    // failed delivery, not a caller's deadline.
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

// librdkafka log callback (any thread): syslog levels to spdlog levels.
void LogThroughSpdlog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  spdlog::level::level_enum l = spdlog::level::debug;
  if (level <= 2) {
    l = spdlog::level::critical;
  } else if (level == 3) {
    l = spdlog::level::err;
  } else if (level == 4) {
    l = spdlog::level::warn;
  } else if (level <= 6) {
    l = spdlog::level::info;
  }
  spdlog::log(l, "librdkafka {} {}: {}", rd_kafka_name(rk), fac, buf);
}

}  // namespace

absl::Status ToStatus(rd_kafka_resp_err_t err, std::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::Status(CodeOf(err), absl::StrCat(std::string(context), ": ", rd_kafka_err2name(err), " (",
                                                rd_kafka_err2str(err), ")"));
}

absl::Status ToStatus(rd_kafka_error_t* error, std::string_view context) {
  if (error == nullptr) return absl::OkStatus();
  ErrorHandle owned(error);
  const rd_kafka_resp_err_t err = rd_kafka_error_code(error);
  return absl::Status(CodeOf(err), absl::StrCat(std::string(context), ": ", rd_kafka_error_name(error), " (",
                                                rd_kafka_error_string(error), ")"));
}

absl::Status SetProperty(rd_kafka_conf_t* conf, const std::string& name,
                         const std::string& value) {
  char errstr[512];
  const rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr));
  if (res == RD_KAFKA_CONF_UNKNOWN) {
    // Named without its value: an unknown name may be a secret's, misspelt
    // ("sasl.pasword"), and the name alone says what is wrong.
    return absl::InvalidArgumentError(absl::StrCat("Kafka property ", name, ": ", errstr));
  }
  if (res != RD_KAFKA_CONF_OK) {
    // A secret's value is never echoed, not even through librdkafka's reason.
    if (IsSecretPropertyName(name)) {
      std::string reason = errstr;
      for (size_t at; !value.empty() && (at = reason.find(value)) != std::string::npos;) {
        reason.replace(at, value.size(), "********");
      }
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property ", name, "=********: ", reason));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("Kafka property ", name, "=", value, ": ", errstr));
  }
  return absl::OkStatus();
}

absl::Status SetProperties(rd_kafka_conf_t* conf, const KafkaProperties& properties) {
  for (const auto& [name, value] : properties) {
    if (absl::Status s = SetProperty(conf, name, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

char PropertyScope(std::string_view name) {
  // Parsed once from the table librdkafka prints for CONFIGURATION.md:
  // "name | C/P | range | default | importance | description" rows (the
  // global table, then the topic table; a name in both keeps the first).
  static const absl::flat_hash_map<std::string, char>* const scopes = [] {
    auto* table = new absl::flat_hash_map<std::string, char>();
    char* text = nullptr;
    size_t size = 0;
    if (FILE* out = open_memstream(&text, &size); out != nullptr) {
      rd_kafka_conf_properties_show(out);
      std::fclose(out);
    }
    if (text == nullptr) return table;
    for (absl::string_view line : absl::StrSplit(absl::string_view(text, size), '\n')) {
      std::vector<absl::string_view> columns = absl::StrSplit(line, '|');
      if (columns.size() < 3) continue;
      const absl::string_view scope = absl::StripAsciiWhitespace(columns[1]);
      if (scope != "C" && scope != "P" && scope != "*") continue;
      table->try_emplace(std::string(absl::StripAsciiWhitespace(columns[0])), scope[0]);
    }
    std::free(text);
    return table;
  }();
  auto it = scopes->find(absl::string_view(name.data(), name.size()));
  return it == scopes->end() ? '*' : it->second;
}

absl::Status SetPropertiesFor(rd_kafka_type_t type, rd_kafka_conf_t* conf,
                              const KafkaProperties& properties) {
  const char other = type == RD_KAFKA_PRODUCER ? 'C' : 'P';
  for (const auto& [name, value] : properties) {
    if (PropertyScope(name) == other) {
      spdlog::debug("Kafka property {} is for {} only: not set on this {}", name,
                    other == 'C' ? "consumers" : "producers",
                    type == RD_KAFKA_PRODUCER ? "producer" : "consumer");
      continue;
    }
    if (absl::Status s = SetProperty(conf, name, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

ConfHandle NewClientConf() {
  ConfHandle conf(rd_kafka_conf_new());
  char errstr[512];
  // A known property with a valid value: cannot fail.
  rd_kafka_conf_set(conf.get(), "socket.nagle.disable", "true", errstr, sizeof(errstr));
  return conf;
}

absl::StatusOr<KafkaHandle> NewClient(rd_kafka_type_t type, ConfHandle conf) {
  char errstr[512];
  // librdkafka's own messages go through spdlog like everything else, so they
  // follow --log-format (JSON lines stay parseable) and secret redaction.
  rd_kafka_conf_set_log_cb(conf.get(), &LogThroughSpdlog);
  // rd_kafka_new takes ownership of conf only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot create Kafka client: ", errstr));
  }
  conf.release();
  return KafkaHandle(rk);
}

absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return ToStatus(rd_kafka_last_error(), absl::StrCat("topic ", topic));
  }
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &raw, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ToStatus(err, absl::StrCat("metadata of topic ", topic));
  }
  MetadataHandle metadata(raw);
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(t.err, absl::StrCat("metadata of topic ", topic));
    }
    return t.partition_cnt;
  }
  return absl::NotFoundError(absl::StrCat("topic ", topic, " not in the cluster's metadata"));
}

}  // namespace roadpulse::ingest_internal
