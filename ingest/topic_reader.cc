#include "ingest/topic_reader.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/time/civil_time.h"
#include "fmt/format.h"
#include "ingest/internal/rdkafka_handles.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace ingest_internal {

class TopicReaderImpl {
 public:
  explicit TopicReaderImpl(TopicReaderOptions options) : options_(std::move(options)) {}
  ~TopicReaderImpl() {
    queue_.reset();
    if (consumer_ != nullptr) rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }

  absl::Status Init() {
    if (options_.bootstrap_servers.empty()) {
      return absl::InvalidArgumentError("topic reader: bootstrap servers are required");
    }
    if (options_.topics.empty()) return absl::InvalidArgumentError("topic reader: no topic given");
    ConfHandle conf = NewClientConf();
    const KafkaProperties defaults = {
        {"bootstrap.servers", options_.bootstrap_servers},
        // Needed for the consumer queue API; assign() never joins the group.
        {"group.id", fmt::format("roadpulse-topic-reader-{}", reinterpret_cast<uintptr_t>(this))},
        {"client.id", "roadpulse-topic-reader"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"fetch.max.bytes", "52428800"},
        {"max.partition.fetch.bytes", "8388608"},
    };
    if (absl::Status s = SetProperties(conf.get(), defaults); !s.ok()) return s;
    if (absl::Status s = SetPropertiesFor(RD_KAFKA_CONSUMER, conf.get(), options_.properties);
        !s.ok()) {
      return s;
    }
    // Not the properties' to change: ReadAll learns from these events that a
    // partition whose last offsets are transaction markers is read.
    if (absl::Status s = SetProperties(conf.get(), {{"enable.partition.eof", "true"}}); !s.ok()) {
      return s;
    }
    absl::StatusOr<KafkaHandle> rk = NewClient(RD_KAFKA_CONSUMER, std::move(conf));
    if (!rk.ok()) return rk.status();
    consumer_ = *std::move(rk);
    if (absl::Status s = ToStatus(rd_kafka_poll_set_consumer(consumer_.get()),
                                  "topic reader: redirect the main queue");
        !s.ok()) {
      return s;
    }
    queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.timeout));
    for (const std::string& topic : options_.topics) {
      absl::StatusOr<int> n = PartitionCount(consumer_.get(), topic, std::min(timeout_ms, 30000));
      if (!n.ok()) return n.status();
      std::vector<int32_t> wanted = options_.partitions;
      if (wanted.empty()) {
        for (int p = 0; p < *n; ++p) wanted.push_back(p);
      }
      for (int32_t p : wanted) {
        if (p < 0 || p >= *n) {
          return absl::InvalidArgumentError(
              fmt::format("topic reader: {} has no partition {} (it has {})", topic, p, *n));
        }
        int64_t low = 0, high = 0;
        if (absl::Status s = ToStatus(
                rd_kafka_query_watermark_offsets(consumer_.get(), topic.c_str(), p, &low, &high,
                                                 std::min(timeout_ms, 30000)),
                fmt::format("topic reader: watermarks of {}[{}]", topic, p));
            !s.ok()) {
          return s;
        }
        ranges_.push_back(PartitionRange{topic, p, low, high});
      }
    }
    // offsetsForTimes: the earliest offset whose timestamp is >= the time
    // (-1 when there is none: then the end).
    auto lookup = [&](absl::Time t, bool is_start) -> absl::Status {
      PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(ranges_.size())));
      for (const PartitionRange& r : ranges_) {
        rd_kafka_topic_partition_list_add(list.get(), r.topic.c_str(), r.partition)->offset =
            absl::ToUnixMillis(t);
      }
      if (absl::Status s =
              ToStatus(rd_kafka_offsets_for_times(consumer_.get(), list.get(), timeout_ms),
                       "topic reader: offsets for times");
          !s.ok()) {
        return s;
      }
      int holding = 0;  // partitions with records in their range
      int none = 0;     // of those, how many have none at or after `t`
      for (int i = 0; i < list->cnt; ++i) {
        const rd_kafka_topic_partition_t& e = list->elems[i];
        if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          return ToStatus(e.err, fmt::format("topic reader: offsets for times of {}[{}]", e.topic,
                                             e.partition));
        }
        for (PartitionRange& r : ranges_) {
          if (r.topic != e.topic || r.partition != e.partition) continue;
          if (r.end > r.start) {
            ++holding;
            if (e.offset < 0) ++none;
          }
          const int64_t off = e.offset < 0 ? r.end : std::clamp<int64_t>(e.offset, r.start, r.end);
          if (is_start) {
            r.start = off;
          } else {
            r.end = off;
          }
        }
      }
      if (holding > 0 && none == holding) {
        // Right when `t` is after every record; also what a broker that
        // cannot look times up answers, silently.
        spdlog::warn(
            "topic reader: no partition holds a record at or after {}, so {}. The embedded "
            "broker (roadpulse broker, librdkafka's mock cluster) cannot look up record times "
            "and answers every lookup this way",
            absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()),
            is_start ? "the range is empty" : "the range runs to the current end");
      }
      return absl::OkStatus();
    };
    if (options_.to.has_value()) {
      if (absl::Status s = lookup(*options_.to, false); !s.ok()) return s;
    }
    if (options_.from.has_value()) {
      if (absl::Status s = lookup(*options_.from, true); !s.ok()) return s;
    }
    for (PartitionRange& r : ranges_) {
      if (r.start > r.end) r.start = r.end;
      total_ += r.end - r.start;
    }
    return absl::OkStatus();
  }

  absl::Status ReadAll(const std::function<absl::Status(const TopicRecord&)>& fn) {
    PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(ranges_.size())));
    std::map<std::pair<std::string, int32_t>, int64_t> ends;
    for (const PartitionRange& r : ranges_) {
      if (r.start >= r.end) continue;
      rd_kafka_topic_partition_list_add(list.get(), r.topic.c_str(), r.partition)->offset = r.start;
      ends[{r.topic, r.partition}] = r.end;
    }
    if (ends.empty()) return absl::OkStatus();
    if (absl::Status s = ToStatus(rd_kafka_assign(consumer_.get(), list.get()), "topic reader: assign");
        !s.ok()) {
      return s;
    }
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(options_.timeout);
    constexpr size_t kBatch = 10000;
    std::vector<rd_kafka_message_t*> batch(kBatch);
    size_t remaining = ends.size();
    absl::Status status;
    while (remaining > 0) {
      if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) {
        return absl::CancelledError(fmt::format(
            "topic reader: stopped with {} partitions not read to their end", remaining));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return absl::DeadlineExceededError(
            fmt::format("topic reader: {} partitions not read to their end within {}", remaining,
                        absl::FormatDuration(options_.timeout)));
      }
      const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 100, batch.data(), kBatch);
      if (n < 0) return ToStatus(rd_kafka_last_error(), "topic reader: consume");
      for (ssize_t i = 0; i < n; ++i) {
        MessageHandle m(batch[static_cast<size_t>(i)]);
        if (!status.ok()) continue;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          status = ToStatus(m->err, fmt::format("topic reader: {}", rd_kafka_message_errstr(m.get())));
          continue;
        }
        if (m->rkt == nullptr) continue;
        const char* topic = rd_kafka_topic_name(m->rkt);
        auto it = ends.find({topic, m->partition});
        if (it == ends.end() || it->second < 0) continue;
        // Offsets are delivered in order, but not every offset is a record: a
        // transaction marker (or a record compacted away) takes one and is
        // never delivered. So a partition is read once a record at or past
        // its end arrives, or its end-of-partition event does at or past it
        // (that event's offset is where the next fetch would start).
        if (m->offset >= it->second) {
          it->second = -1;
          --remaining;
          continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        TopicRecord r;
        r.topic = topic;
        r.partition = m->partition;
        r.offset = m->offset;
        r.key = m->key == nullptr ? std::string_view()
                                  : std::string_view(static_cast<const char*>(m->key), m->key_len);
        r.null_value = m->payload == nullptr;
        r.value = r.null_value ? std::string_view()
                               : std::string_view(static_cast<const char*>(m->payload), m->len);
        rd_kafka_timestamp_type_t type;
        r.timestamp_unix_ms = rd_kafka_message_timestamp(m.get(), &type);
        rd_kafka_headers_t* headers = nullptr;  // owned by the message
        if (options_.headers &&
            rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* value;
          size_t size;
          for (size_t h = 0; rd_kafka_header_get_all(headers, h, &name, &value, &size) ==
                             RD_KAFKA_RESP_ERR_NO_ERROR;
               ++h) {
            r.headers.emplace_back(
                name, value == nullptr ? std::string_view()
                                       : std::string_view(static_cast<const char*>(value), size));
          }
        }
        status = fn(r);
        if (m->offset + 1 >= it->second) {
          it->second = -1;  // done
          --remaining;
        }
      }
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  const std::vector<PartitionRange>& ranges() const { return ranges_; }
  int64_t total() const { return total_; }

 private:
  TopicReaderOptions options_;
  KafkaHandle consumer_;
  QueueHandle queue_;
  std::vector<PartitionRange> ranges_;
  int64_t total_ = 0;
};

}  // namespace ingest_internal

TopicReader::TopicReader(std::unique_ptr<ingest_internal::TopicReaderImpl> impl)
    : impl_(std::move(impl)) {}
TopicReader::~TopicReader() = default;

absl::StatusOr<std::unique_ptr<TopicReader>> TopicReader::Create(const TopicReaderOptions& options) {
  auto impl = std::make_unique<ingest_internal::TopicReaderImpl>(options);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<TopicReader>(new TopicReader(std::move(impl)));
}

const std::vector<PartitionRange>& TopicReader::ranges() const { return impl_->ranges(); }
int64_t TopicReader::total() const { return impl_->total(); }
absl::Status TopicReader::ReadAll(const std::function<absl::Status(const TopicRecord&)>& fn) {
  return impl_->ReadAll(fn);
}

absl::StatusOr<absl::Time> ParseTimeFlag(std::string_view flag, const std::string& text,
                                         absl::TimeZone tz) {
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day) && absl::FormatCivilTime(day) == text) {
    return absl::FromCivil(day, tz);
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  int64_t ms;
  if (absl::SimpleAtoi(text, &ms)) return absl::FromUnixMillis(ms);
  return absl::InvalidArgumentError(fmt::format(
      "{}: \"{}\" is not a time: give YYYY-MM-DD, an RFC 3339 instant "
      "(2025-01-01T08:00:00+08:00) or Unix milliseconds",
      flag, text));
}

}  // namespace roadpulse
