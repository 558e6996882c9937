// KafkaProducer over librdkafka's C API.
//
// Why the defaults: acks=all + idempotence so a retried send never duplicates
// or reorders a partition's records (the DLQ and the counts topic rely on the
// newest record per key being the newest produced); linger.ms=5 batches the
// worker's bursts without adding visible latency; lz4 is the cheapest codec
// per byte saved; murmur2_random hashes keys like the Java client, so a key
// lands on the same partition whichever client produced it.
#include "ingest/kafka_producer.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "ingest/internal/rdkafka_handles.h"

namespace roadpulse {
namespace {

// The payload that marks Produce's refusal of a record over message.max.bytes.
constexpr char kRecordTooLargeUrl[] = "type.roadpulse/kafka.record_too_large";

using ingest_internal::ConfHandle;
using ingest_internal::HeadersHandle;
using ingest_internal::KafkaHandle;
using ingest_internal::NewClientConf;
using ingest_internal::ToStatus;

class RdKafkaProducer final : public KafkaProducer {
 public:
  RdKafkaProducer() = default;
  ~RdKafkaProducer() override {
    if (rk_ != nullptr) {
      // Best effort: give queued records a moment, then drop them.
      rd_kafka_flush(rk_.get(), 5000);
    }
    prepared_.clear();  // topic handles go before their client
  }

  absl::Status Init(const ProducerOptions& options) {
    if (options.bootstrap_servers.empty()) {
      return absl::InvalidArgumentError("producer: bootstrap_servers is required");
    }
    ConfHandle conf = NewClientConf();
    const KafkaProperties defaults = {
        {"bootstrap.servers", options.bootstrap_servers},
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"compression.type", "lz4"},
        {"partitioner", "murmur2_random"},
    };
    if (absl::Status s = ingest_internal::SetProperties(conf.get(), defaults); !s.ok()) return s;
    if (absl::Status s =
            ingest_internal::SetPropertiesFor(RD_KAFKA_PRODUCER, conf.get(), options.properties);
        !s.ok()) {
      return s;
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &RdKafkaProducer::OnDelivery);
    absl::StatusOr<KafkaHandle> rk =
        ingest_internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf));
    if (!rk.ok()) return rk.status();
    rk_ = *std::move(rk);
    return absl::OkStatus();
  }

  absl::Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                       const KafkaHeaders& headers, int32_t partition) override {
    topic_name_.assign(topic.data(), topic.size());
    while (true) {
      HeadersHandle hdrs;
      if (!headers.empty()) {
        hdrs.reset(rd_kafka_headers_new(headers.size()));
        for (const auto& [name, header_value] : headers) {
          rd_kafka_header_add(hdrs.get(), name.data(), static_cast<ssize_t>(name.size()),
                              header_value.data(), static_cast<ssize_t>(header_value.size()));
        }
      }
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_TOPIC(topic_name_.c_str()),
          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_HEADERS(hdrs.get()), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        hdrs.release();  // the message owns them now
        rd_kafka_poll(rk_.get(), 0);  // serve delivery reports
        return absl::OkStatus();
      }
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        absl::Status refused = ToStatus(err, absl::StrCat("produce to ", topic_name_));
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
          refused.SetPayload(kRecordTooLargeUrl,
                             absl::Cord(absl::StrCat(key.size() + value.size(), " bytes")));
        }
        return refused;
      }
      // The local queue is full: deliver some, then try again.
      rd_kafka_poll(rk_.get(), 100);
    }
  }

  absl::Status Flush(absl::Duration timeout) override {
    const rd_kafka_resp_err_t err =
        rd_kafka_flush(rk_.get(), static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (absl::Status first = TakeFirstError(); !first.ok()) return first;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(err, absl::StrCat("flush (", InFlight(), " records still in flight)"));
    }
    return FatalError();
  }

  absl::Status Poll(absl::Duration timeout) override {
    rd_kafka_poll(rk_.get(), static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (absl::Status first = TakeFirstError(); !first.ok()) return first;
    return FatalError();
  }

  absl::StatusOr<int> Prepare(std::string_view topic, absl::Duration timeout) override {
    const std::string name(topic);
    // The handle keeps the topic, and the partitions the answer gives it,
    // alive in librdkafka until the producer goes.
    ingest_internal::TopicHandle rkt(rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr));
    if (rkt == nullptr) {
      return ToStatus(rd_kafka_last_error(), absl::StrCat("producer: topic ", name));
    }
    prepared_.push_back(std::move(rkt));
    return ingest_internal::PartitionCount(rk_.get(), name,
                                           static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  }

  int64_t Purge() override {
    const int64_t in_flight = InFlight();
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_.get(), 0);  // their delivery reports, which OnDelivery ignores
    return in_flight;
  }

  int64_t InFlight() const override { return in_flight_.load(std::memory_order_relaxed); }
  int64_t Delivered() const override { return delivered_.load(std::memory_order_relaxed); }

 private:
  // Runs on the thread calling rd_kafka_poll/flush (a Produce or Flush caller).
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<RdKafkaProducer*>(opaque);
    self->in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (message->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
        message->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
      return;  // Purge()d: the caller gave up on it
    }
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->first_error_.ok()) {
      self->first_error_ = ToStatus(
          message->err, absl::StrCat("delivery to ", rd_kafka_topic_name(message->rkt), "[",
                                     message->partition, "]"));
    }
  }

  absl::Status TakeFirstError() {
    std::lock_guard<std::mutex> lock(mu_);
    absl::Status first = std::move(first_error_);
    first_error_ = absl::OkStatus();
    return first;
  }

  absl::Status FatalError() {
    if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_.get(), nullptr, 0);
        fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ToStatus(fatal, "producer fatal error");
    }
    return absl::OkStatus();
  }

  std::string topic_name_;  // NUL-terminated copy of the current topic
  std::vector<ingest_internal::TopicHandle> prepared_;  // Prepare()d topics
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> delivered_{0};
  std::mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  KafkaHandle rk_;  // last: destroyed first, while the callback's state still exists
};

}  // namespace

bool IsRecordTooLarge(const absl::Status& status) {
  return status.GetPayload(kRecordTooLargeUrl).has_value();
}

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const ProducerOptions& options) {
  auto producer = std::make_unique<RdKafkaProducer>();
  if (absl::Status s = producer->Init(options); !s.ok()) return s;
  return std::unique_ptr<KafkaProducer>(std::move(producer));
}

}  // namespace roadpulse
