#include "sinks/count_reader.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ingest/internal/rdkafka_handles.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace sinks_internal {

using ingest_internal::ConfHandle;
using ingest_internal::KafkaHandle;
using ingest_internal::MessageHandle;
using ingest_internal::NewClientConf;
using ingest_internal::PartitionListHandle;
using ingest_internal::QueueHandle;
using ingest_internal::ToStatus;

namespace {
constexpr size_t kBatch = 10000;
constexpr int kMetadataTimeoutMs = 10000;
constexpr int kCancellableSliceMs = 250;
}  // namespace

class CountReaderImpl {
 public:
  explicit CountReaderImpl(const CountReaderOptions& options) : options_(options) {}
  ~CountReaderImpl() {
    queue_.reset();
    if (consumer_ != nullptr) rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }

  absl::Status Init() {
    if (options_.bootstrap_servers.empty()) {
      return absl::InvalidArgumentError("count reader: bootstrap_servers is required");
    }
    ConfHandle conf = NewClientConf();
    // A group id is needed for the consumer queue API; assign() never joins
    // the group and nothing is committed, so it is only a name.
    const KafkaProperties defaults = {
        {"bootstrap.servers", options_.bootstrap_servers},
        {"group.id", absl::StrCat("roadpulse-count-reader-", reinterpret_cast<uintptr_t>(this))},
        {"client.id", "roadpulse-count-reader"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"auto.offset.reset", "earliest"},
    };
    if (absl::Status s = ingest_internal::SetProperties(conf.get(), defaults); !s.ok()) return s;
    if (absl::Status s =
            ingest_internal::SetPropertiesFor(RD_KAFKA_CONSUMER, conf.get(), options_.properties);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<KafkaHandle> rk = ingest_internal::NewClient(RD_KAFKA_CONSUMER, std::move(conf));
    if (!rk.ok()) return rk.status();
    consumer_ = *std::move(rk);
    if (absl::Status s = ToStatus(rd_kafka_poll_set_consumer(consumer_.get()),
                                  "count reader: redirect the main queue");
        !s.ok()) {
      return s;
    }
    queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
    // With a cancel flag, ask in slices, so that a cluster that cannot be
    // reached does not hold up a stop for the whole timeout.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kMetadataTimeoutMs);
    absl::StatusOr<int> partitions;
    for (;;) {
      const auto asked = std::chrono::steady_clock::now();
      partitions = ingest_internal::PartitionCount(
          consumer_.get(), options_.topic,
          options_.cancel == nullptr ? kMetadataTimeoutMs : kCancellableSliceMs);
      if (options_.cancel == nullptr || partitions.ok() ||
          !(absl::IsUnavailable(partitions.status()) ||
            absl::IsDeadlineExceeded(partitions.status())) ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      if (options_.cancel->load()) return absl::CancelledError("count reader: stopped");
      // Never faster than one request per slice, even if the client fails at once.
      std::this_thread::sleep_until(asked + std::chrono::milliseconds(kCancellableSliceMs));
    }
    if (!partitions.ok()) return partitions.status();
    stats_.partitions = *partitions;
    return absl::OkStatus();
  }

  absl::StatusOr<CountReadStats> ReadToEnd(CountStore& store) {
    // The end of every partition, as it is now.
    std::vector<int64_t> end(static_cast<size_t>(stats_.partitions), 0);
    std::vector<bool> done(end.size(), true);
    size_t remaining = 0;
    for (int p = 0; p < stats_.partitions; ++p) {
      int64_t low = 0;
      int64_t high = 0;
      if (absl::Status s = ToStatus(
              rd_kafka_query_watermark_offsets(consumer_.get(), options_.topic.c_str(), p, &low,
                                               &high, kMetadataTimeoutMs),
              absl::StrCat("count reader: watermarks of ", options_.topic, "[", p, "]"));
          !s.ok()) {
        return s;
      }
      end[static_cast<size_t>(p)] = high;
      if (high > low) {
        done[static_cast<size_t>(p)] = false;
        ++remaining;
      }
    }
    if (absl::Status s = AssignAll(); !s.ok()) return s;

    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(options_.timeout);
    std::vector<rd_kafka_message_t*> batch(kBatch);
    while (remaining > 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "count reader: ", remaining, " partitions of ", options_.topic,
            " not read to their end within ", absl::FormatDuration(options_.timeout)));
      }
      const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 100, batch.data(), kBatch);
      if (n < 0) return ToStatus(rd_kafka_last_error(), "count reader: consume");
      for (ssize_t i = 0; i < n; ++i) {
        MessageHandle message(batch[static_cast<size_t>(i)]);
        if (!Apply(*message, store)) continue;
        const auto p = static_cast<size_t>(message->partition);
        if (p < end.size() && !done[p] && message->offset + 1 >= end[p]) {
          done[p] = true;
          --remaining;
        }
      }
    }
    return stats_;
  }

  absl::Status Follow(CountStore& store, const std::atomic<bool>& stop,
                      const std::function<void(const CountReadStats&)>& after_batch) {
    if (!assigned_) {
      if (absl::Status s = AssignAll(); !s.ok()) return s;
    }
    std::vector<rd_kafka_message_t*> batch(kBatch);
    while (!stop.load()) {
      const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 100, batch.data(), kBatch);
      if (n < 0) return ToStatus(rd_kafka_last_error(), "count reader: consume");
      int64_t applied = 0;
      for (ssize_t i = 0; i < n; ++i) {
        MessageHandle message(batch[static_cast<size_t>(i)]);
        if (Apply(*message, store)) ++applied;
      }
      if (applied > 0 && after_batch) after_batch(stats_);
      char reason[256];
      if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(consumer_.get(), reason, sizeof(reason));
          fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return ToStatus(fatal, absl::StrCat("count reader: ", reason));
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status AssignAll() {
    PartitionListHandle list(rd_kafka_topic_partition_list_new(stats_.partitions));
    for (int p = 0; p < stats_.partitions; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    assigned_ = true;
    return ToStatus(rd_kafka_assign(consumer_.get(), list.get()), "count reader: assign");
  }

  // True when `message` was a record (applied or refused by the store).
  bool Apply(const rd_kafka_message_t& message, CountStore& store) {
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("count reader: {}", rd_kafka_message_errstr(&message));
      }
      return false;
    }
    const std::string_view value(static_cast<const char*>(message.payload), message.len);
    absl::Status s;
    if (message.payload == nullptr) {
      // A tombstone: the worker evicted a minute/hour bucket.
      s = store.ApplyTombstone(
          message.key == nullptr
              ? std::string_view()
              : std::string_view(static_cast<const char*>(message.key), message.key_len));
    } else {
      s = store.ApplySerialized(value);
    }
    if (s.ok()) {
      ++stats_.records;
    } else {
      if (stats_.invalid < 10) {
        spdlog::warn("count reader: {}[{}]@{} refused: {}", options_.topic, message.partition,
                     message.offset, s.ToString());
      }
      ++stats_.invalid;
    }
    return true;
  }

  const CountReaderOptions options_;
  CountReadStats stats_;
  bool assigned_ = false;
  KafkaHandle consumer_;
  QueueHandle queue_;
};

}  // namespace sinks_internal

absl::StatusOr<std::unique_ptr<CountReader>> CountReader::Create(
    const CountReaderOptions& options) {
  auto impl = std::make_unique<sinks_internal::CountReaderImpl>(options);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<CountReader>(new CountReader(std::move(impl)));
}

CountReader::CountReader(std::unique_ptr<sinks_internal::CountReaderImpl> impl)
    : impl_(std::move(impl)) {}
CountReader::~CountReader() = default;

absl::StatusOr<CountReadStats> CountReader::ReadToEnd(CountStore& store) {
  return impl_->ReadToEnd(store);
}

absl::Status CountReader::Follow(CountStore& store, const std::atomic<bool>& stop,
                                 const std::function<void(const CountReadStats&)>& after_batch) {
  return impl_->Follow(store, stop, after_batch);
}

}  // namespace roadpulse
