// The consumer-group worker. Single-threaded: the rebalance callback runs
// inside rd_kafka_consume_batch_queue on the Run() thread, so the partition
// map needs no lock; only the stats snapshot is shared with other threads.
#include "ingest/worker.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "ingest/internal/rdkafka_handles.h"
#include "processors/count_record.h"
#include "processors/reject_reason.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace ingest_internal {
namespace {

using Clock = std::chrono::steady_clock;

// How long the worker waits for published records at each flush, before it
// goes on consuming (the records stay queued and are retried by librdkafka).
constexpr absl::Duration kFlushWait = absl::Seconds(10);
// Final flush when stopping or losing partitions.
constexpr absl::Duration kFinalFlushWait = absl::Seconds(60);

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

class WorkerImpl {
 public:
  WorkerImpl(const WorkerOptions& options, const RegionTable& regions, CountSink& sink)
      : options_(options), regions_(regions), sink_(sink) {}

  ~WorkerImpl() {
    // Destroy the consumer before the state its callbacks use.
    queue_.reset();
    consumer_.reset();
  }

  absl::Status Init() {
    if (options_.bootstrap_servers.empty()) {
      return absl::InvalidArgumentError("worker: bootstrap_servers is required");
    }
    if (options_.group_id.empty()) return absl::InvalidArgumentError("worker: group_id is empty");
    if (options_.flush_interval <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("worker: flush_interval must be positive");
    }
    if (options_.max_batch < 1) return absl::InvalidArgumentError("worker: max_batch must be >= 1");

    ConfHandle conf(rd_kafka_conf_new());
    const KafkaProperties defaults = {
        {"bootstrap.servers", options_.bootstrap_servers},
        {"group.id", options_.group_id},
        {"client.id", "roadpulse-worker"},
        // Offsets are committed by hand, for lag monitoring only.
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "true"},
        {"session.timeout.ms", absl::StrCat(options_.session_timeout_ms)},
        // Fetches return when data arrives or after this: librdkafka's 500 ms
        // default dominated the latency from an event to its live count.
        {"fetch.wait.max.ms", "100"},
    };
    if (absl::Status s = SetProperties(conf.get(), defaults); !s.ok()) return s;
    if (absl::Status s = SetProperties(conf.get(), options_.properties); !s.ok()) return s;
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &WorkerImpl::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf.get(), &WorkerImpl::OnCommit);

    absl::StatusOr<KafkaHandle> rk = NewClient(RD_KAFKA_CONSUMER, std::move(conf));
    if (!rk.ok()) return rk.status();
    consumer_ = *std::move(rk);
    if (absl::Status s = ToStatus(rd_kafka_poll_set_consumer(consumer_.get()),
                                  "worker: redirect the main queue");
        !s.ok()) {
      return s;
    }
    queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));

    ProducerOptions producer_options;
    producer_options.bootstrap_servers = options_.bootstrap_servers;
    producer_options.properties = options_.properties;
    absl::StatusOr<std::unique_ptr<KafkaProducer>> dlq = KafkaProducer::Create(producer_options);
    if (!dlq.ok()) return dlq.status();
    dlq_ = *std::move(dlq);
    return absl::OkStatus();
  }

  absl::Status Run(const std::atomic<bool>* stop) {
    PartitionListHandle topics(rd_kafka_topic_partition_list_new(2));
    rd_kafka_topic_partition_list_add(topics.get(), options_.incidents_topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics.get(), options_.violations_topic.c_str(),
                                      RD_KAFKA_PARTITION_UA);
    if (absl::Status s = ToStatus(rd_kafka_subscribe(consumer_.get(), topics.get()),
                                  "worker: subscribe");
        !s.ok()) {
      return s;
    }
    spdlog::info("worker: joined group '{}' on {} and {} at {}", options_.group_id,
                 options_.incidents_topic, options_.violations_topic,
                 options_.bootstrap_servers);

    const auto flush_interval = absl::ToChronoMilliseconds(options_.flush_interval);
    const auto log_interval = absl::ToChronoMilliseconds(options_.log_interval);
    const auto start = Clock::now();
    auto next_flush = start + flush_interval;
    auto next_log = start + log_interval;
    last_log_time_ = start;
    std::vector<rd_kafka_message_t*> batch(static_cast<size_t>(options_.max_batch));
    absl::Status result;

    while (result.ok()) {
      if ((stop != nullptr && stop->load()) || stop_requested_.load()) break;
      const auto now = Clock::now();
      const int64_t wait_ms = std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_flush - now).count(), 0,
          100);
      const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), static_cast<int>(wait_ms),
                                                     batch.data(), batch.size());
      if (n < 0) {
        result = ToStatus(rd_kafka_last_error(), "worker: consume");
        break;
      }
      for (ssize_t i = 0; i < n; ++i) {
        MessageHandle message(batch[static_cast<size_t>(i)]);
        if (i + 1 < n) PrefetchFor(*batch[static_cast<size_t>(i + 1)]);
        if (result.ok()) result = HandleMessage(*message);
      }
      if (!result.ok()) break;
      if (!callback_error_.ok()) {
        result = callback_error_;
        break;
      }
      char fatal_reason[256];
      if (rd_kafka_resp_err_t fatal =
              rd_kafka_fatal_error(consumer_.get(), fatal_reason, sizeof(fatal_reason));
          fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = ToStatus(fatal, absl::StrCat("worker: fatal consumer error: ", fatal_reason));
        break;
      }
      const auto after = Clock::now();
      const bool at_end = options_.stop_at_end && AllAtEnd();
      if (after >= next_flush || at_end) {
        result = PublishAndFlush(kFlushWait);
        RecordPublish(after);
        CommitAsync();
        UpdateStats();
        next_flush = after + flush_interval;
      }
      if (after >= next_log) {
        LogProgress(after);
        next_log = after + log_interval;
      }
      if (result.ok() && at_end) {
        spdlog::info("worker: every assigned partition reached its end; stopping");
        break;
      }
    }

    // Publish what is left, then leave the group (the revoke callback runs
    // inside rd_kafka_consumer_close and publishes again: harmless).
    absl::Status final_flush = PublishAndFlush(kFinalFlushWait);
    if (result.ok()) result = final_flush;
    CommitSync();
    LogProgress(Clock::now());
    // Keep the last snapshot: leaving the group revokes (and forgets) every
    // partition, but callers want the final tallies.
    closing_ = true;
    if (absl::Status s = ToStatus(rd_kafka_consumer_close(consumer_.get()), "worker: close");
        !s.ok()) {
      spdlog::warn("{}", s.ToString());
    }
    if (result.ok() && !callback_error_.ok()) result = callback_error_;
    return result;
  }

  void RequestStop() { stop_requested_.store(true); }

  WorkerStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  struct Partition {
    std::string topic;
    int32_t partition = 0;
    std::unique_ptr<PartitionProcessor> processor;
    int64_t next_offset = 0;
    bool reached_end = false;
    bool seen_first = false;
  };
  using PartitionKey = std::pair<std::string, int32_t>;

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* list, void* opaque) {
    static_cast<WorkerImpl*>(opaque)->HandleRebalance(rk, err, list);
  }

  static void OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t*,
                       void*) {
    // Commits only feed lag monitoring; a failed one (e.g. during a
    // rebalance) is retried by the next flush.
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      spdlog::debug("worker: offset commit failed: {}", rd_kafka_err2name(err));
    }
  }

  void HandleRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* list) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      for (int i = 0; i < list->cnt; ++i) {
        rd_kafka_topic_partition_t& tp = list->elems[i];
        const std::string topic = tp.topic;
        // No checkpoints yet: rebuild the state from the start of the log.
        tp.offset = RD_KAFKA_OFFSET_BEGINNING;
        Partition state;
        state.topic = topic;
        state.partition = tp.partition;
        state.processor = std::make_unique<PartitionProcessor>(
            topic == options_.violations_topic ? EventKind::kViolation : EventKind::kIncident,
            regions_, options_.processor);
        partitions_[{topic, tp.partition}] = std::move(state);
        spdlog::info("worker: assigned {}[{}], reading from the beginning", topic, tp.partition);
      }
      last_partition_ = nullptr;
      ++rebalances_;
      absl::Status s =
          cooperative ? ToStatus(rd_kafka_incremental_assign(rk, list), "worker: assign")
                      : ToStatus(rd_kafka_assign(rk, list), "worker: assign");
      if (!s.ok() && callback_error_.ok()) callback_error_ = s;
      UpdateStats();
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      if (lost) {
        // Another member may already own these partitions and have published
        // newer values: publishing ours now could overwrite them.
        spdlog::warn("worker: {} partitions lost; dropping their state unpublished", list->cnt);
      } else {
        absl::Status s;
        const int64_t now_ms = NowUnixMs();
        for (int i = 0; i < list->cnt; ++i) {
          auto it = partitions_.find({list->elems[i].topic, list->elems[i].partition});
          if (it != partitions_.end() && s.ok()) s = PublishDirty(it->second, now_ms);
        }
        if (s.ok()) s = FlushAll(kFinalFlushWait);
        if (!s.ok()) {
          spdlog::error("worker: publishing revoked partitions failed: {}", s.ToString());
          if (callback_error_.ok()) callback_error_ = s;
        }
      }
      for (int i = 0; i < list->cnt; ++i) {
        partitions_.erase({list->elems[i].topic, list->elems[i].partition});
        spdlog::info("worker: revoked {}[{}]", list->elems[i].topic, list->elems[i].partition);
      }
      last_partition_ = nullptr;
      absl::Status s = cooperative
                           ? ToStatus(rd_kafka_incremental_unassign(rk, list), "worker: unassign")
                           : ToStatus(rd_kafka_assign(rk, nullptr), "worker: unassign");
      if (!s.ok()) spdlog::warn("{}", s.ToString());
      if (!closing_) UpdateStats();
      return;
    }
    spdlog::error("worker: rebalance error: {}", rd_kafka_err2str(err));
    rd_kafka_assign(rk, nullptr);
    partitions_.clear();
    last_partition_ = nullptr;
    UpdateStats();
  }

  Partition* FindPartition(const rd_kafka_message_t& message) {
    if (last_partition_ != nullptr && message.rkt == last_rkt_ &&
        message.partition == last_partition_->partition) {
      return last_partition_;
    }
    auto it = partitions_.find({rd_kafka_topic_name(message.rkt), message.partition});
    if (it == partitions_.end()) return nullptr;
    last_rkt_ = message.rkt;
    last_partition_ = &it->second;
    return last_partition_;
  }

  // A cache hint for the record handled next (see PartitionProcessor::Prefetch).
  void PrefetchFor(const rd_kafka_message_t& message) {
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR || message.payload == nullptr) return;
    if (Partition* p = FindPartition(message); p != nullptr) {
      p->processor->Prefetch(
          std::string_view(static_cast<const char*>(message.payload), message.len));
    }
  }

  absl::Status HandleMessage(const rd_kafka_message_t& message) {
    if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (message.rkt == nullptr) return absl::OkStatus();
      if (Partition* p = FindPartition(message); p != nullptr) {
        p->reached_end = true;
        if (message.offset > p->next_offset) p->next_offset = message.offset;
      }
      return absl::OkStatus();
    }
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Consumer errors are informational (librdkafka recovers by itself);
      // fatal ones are checked after the batch.
      spdlog::warn("worker: consumer: {}{}",
                   message.rkt != nullptr
                       ? absl::StrCat(rd_kafka_topic_name(message.rkt), "[", message.partition,
                                      "]: ")
                       : std::string(),
                   rd_kafka_message_errstr(&message));
      return absl::OkStatus();
    }
    Partition* p = FindPartition(message);
    if (p == nullptr) return absl::OkStatus();  // a partition no longer assigned
    if (message.offset < p->next_offset) return absl::OkStatus();  // already processed
    if (!p->seen_first) {
      p->seen_first = true;
      if (message.offset > 0) {
        spdlog::warn(
            "worker: {}[{}] starts at offset {}: earlier records were deleted by the broker "
            "(retention) and are not counted",
            p->topic, p->partition, message.offset);
      }
    }
    ++records_consumed_;
    rd_kafka_timestamp_type_t ts_type;
    const int64_t ts_ms = rd_kafka_message_timestamp(&message, &ts_type);
    const absl::Time record_time =
        ts_ms < 0 ? absl::InfinitePast() : absl::FromUnixMillis(ts_ms);
    const std::string_view payload(static_cast<const char*>(message.payload), message.len);
    ProcessResult result = p->processor->Process(payload, record_time);
    absl::Status status;
    if (result.outcome == Outcome::kRejected) status = DeadLetter(*p, message, result);
    p->next_offset = message.offset + 1;
    p->reached_end = false;
    return status;
  }

  absl::Status DeadLetter(const Partition& p, const rd_kafka_message_t& message,
                          const ProcessResult& result) {
    KafkaHeaders headers = {
        {kDlqReasonHeader, std::string(RejectReasonName(result.reason))},
        {kDlqDetailHeader, result.detail},
        {kDlqSourceTopicHeader, p.topic},
        {kDlqSourcePartitionHeader, absl::StrCat(p.partition)},
        {kDlqSourceOffsetHeader, absl::StrCat(message.offset)},
    };
    rd_kafka_headers_t* original = nullptr;
    // The headers stay owned by the message.
    if (rd_kafka_message_headers(&message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(original, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        headers.emplace_back(name, value == nullptr
                                       ? std::string()
                                       : std::string(static_cast<const char*>(value), size));
      }
    }
    const std::string_view key =
        message.key == nullptr ? std::string_view()
                               : std::string_view(static_cast<const char*>(message.key),
                                                  message.key_len);
    const std::string_view value(static_cast<const char*>(message.payload), message.len);
    ++dead_lettered_;
    ++dead_lettered_by_reason_[std::string(RejectReasonName(result.reason))];
    return dlq_->Produce(options_.dlq_topic, key, value, headers);
  }

  absl::Status PublishDirty(Partition& p, int64_t now_ms) {
    absl::Status status;
    // Tombstones first: a key evicted and never re-created (horizons only
    // move forward), so order against the dirty records does not matter.
    for (const BucketKey& key : p.processor->tombstones()) {
      status = sink_.PublishTombstone(TombstoneRecord(regions_, p.topic, p.partition, key));
      if (!status.ok()) return status;
      ++counts_published_;
    }
    p.processor->ClearTombstones();
    p.processor->ForEachDirty([&](const BucketKey& key, const MetricValues& values) {
      if (!status.ok()) return;
      status = sink_.Publish(
          MakeCountRecord(regions_, p.topic, p.partition, key, values, p.next_offset, now_ms));
      ++counts_published_;
    });
    if (!status.ok()) return status;
    p.processor->ClearDirty();
    return absl::OkStatus();
  }

  // Waits for the DLQ and count records. A flush that merely timed out is not
  // an error (the records stay queued); a failed delivery is.
  absl::Status FlushAll(absl::Duration wait) {
    absl::Status dlq = dlq_->Flush(wait);
    absl::Status counts = sink_.Flush(wait);
    for (absl::Status* s : {&dlq, &counts}) {
      if (absl::IsDeadlineExceeded(*s)) {
        spdlog::warn("worker: {} (still queued, will retry)", s->ToString());
        *s = absl::OkStatus();
      }
    }
    if (!dlq.ok()) return dlq;
    return counts;
  }

  absl::Status PublishAndFlush(absl::Duration wait) {
    const int64_t now_ms = NowUnixMs();
    for (auto& [key, p] : partitions_) {
      if (absl::Status s = PublishDirty(p, now_ms); !s.ok()) return s;
    }
    return FlushAll(wait);
  }

  bool AllAtEnd() const {
    if (partitions_.empty()) return false;
    for (const auto& [key, p] : partitions_) {
      if (!p.reached_end) return false;
    }
    return true;
  }

  PartitionListHandle CommitList() const {
    PartitionListHandle list(
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (const auto& [key, p] : partitions_) {
      if (p.next_offset <= 0) continue;
      rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset =
          p.next_offset;
    }
    return list;
  }

  void CommitAsync() {
    PartitionListHandle list = CommitList();
    if (list->cnt > 0) rd_kafka_commit(consumer_.get(), list.get(), 1);
  }

  void CommitSync() {
    PartitionListHandle list = CommitList();
    if (list->cnt == 0) return;
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), 0);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::debug("worker: final offset commit failed: {}", rd_kafka_err2name(err));
    }
  }

  void UpdateStats() {
    WorkerStats stats;
    for (const auto& [key, p] : partitions_) {
      PartitionStats ps;
      ps.topic = p.topic;
      ps.partition = p.partition;
      ps.next_offset = p.next_offset;
      ps.reached_end = p.reached_end;
      ps.tally = p.processor->tally();
      int64_t low = 0;
      int64_t high = -1;
      if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic.c_str(), p.partition, &low,
                                         &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        high = -1;
      }
      ps.high_watermark = high;
      stats.totals.read += ps.tally.read;
      stats.totals.counted += ps.tally.counted;
      stats.totals.amended += ps.tally.amended;
      stats.totals.duplicates += ps.tally.duplicates;
      stats.totals.rejected += ps.tally.rejected;
      stats.partitions.push_back(std::move(ps));
    }
    stats.records_consumed = records_consumed_;
    stats.dead_lettered = dead_lettered_;
    stats.counts_published = counts_published_;
    stats.rebalances = rebalances_;
    stats.dead_lettered_by_reason = dead_lettered_by_reason_;
    stats.publish_flushes = publish_flushes_;
    stats.publish_seconds_sum = publish_seconds_sum_;
    stats.last_publish_seconds = last_publish_seconds_;
    stats.last_publish_unix_ms = last_publish_unix_ms_;
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_ = std::move(stats);
  }

  // Publish latency, for /metrics: the flush that started at `started`.
  void RecordPublish(Clock::time_point started) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    ++publish_flushes_;
    publish_seconds_sum_ += seconds;
    last_publish_seconds_ = seconds;
    last_publish_unix_ms_ = NowUnixMs();
  }

  void LogProgress(Clock::time_point now) {
    const double seconds = std::chrono::duration<double>(now - last_log_time_).count();
    const double rate =
        seconds > 0 ? static_cast<double>(records_consumed_ - last_log_consumed_) / seconds : 0;
    last_log_time_ = now;
    last_log_consumed_ = records_consumed_;
    UpdateStats();
    const WorkerStats s = stats();
    spdlog::info(
        "worker: {:.0f} events/s; {} partitions; read {} = counted {} + amended {} + "
        "duplicates {} + rejected {}{}; dlq {}; counts published {}",
        rate, s.partitions.size(), s.totals.read, s.totals.counted, s.totals.amended,
        s.totals.duplicates, s.totals.rejected, s.totals.Balanced() ? "" : " (UNBALANCED)",
        s.dead_lettered, s.counts_published);
    // One line per input topic: partition next-offset read/counted/amended/duplicates/rejected.
    for (const std::string* topic : {&options_.incidents_topic, &options_.violations_topic}) {
      std::string line;
      for (const PartitionStats& p : s.partitions) {
        if (p.topic != *topic) continue;
        absl::StrAppend(&line, " [", p.partition, "]@", p.next_offset, p.reached_end ? "(end)" : "",
                        " ", p.tally.read, "/", p.tally.counted, "/", p.tally.amended, "/",
                        p.tally.duplicates, "/", p.tally.rejected);
        if (!p.tally.Balanced()) {
          spdlog::error("worker: {}[{}] tally does not balance", p.topic, p.partition);
        }
      }
      if (!line.empty()) {
        spdlog::info("worker:   {} read/counted/amended/duplicates/rejected:{}", *topic, line);
      }
    }
  }

  const WorkerOptions options_;
  const RegionTable& regions_;
  CountSink& sink_;
  std::unique_ptr<KafkaProducer> dlq_;

  std::map<PartitionKey, Partition> partitions_;
  Partition* last_partition_ = nullptr;  // cache for FindPartition
  const rd_kafka_topic_t* last_rkt_ = nullptr;
  absl::Status callback_error_;  // first error raised inside the rebalance callback
  std::atomic<bool> stop_requested_{false};
  bool closing_ = false;  // inside rd_kafka_consumer_close

  int64_t records_consumed_ = 0;
  int64_t dead_lettered_ = 0;
  int64_t counts_published_ = 0;
  int64_t rebalances_ = 0;
  std::map<std::string, int64_t> dead_lettered_by_reason_;
  int64_t publish_flushes_ = 0;
  double publish_seconds_sum_ = 0;
  double last_publish_seconds_ = 0;
  int64_t last_publish_unix_ms_ = 0;
  Clock::time_point last_log_time_;
  int64_t last_log_consumed_ = 0;

  mutable std::mutex stats_mu_;
  WorkerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  // Last: destroyed first (see ~WorkerImpl).
  KafkaHandle consumer_;
  QueueHandle queue_;
};

}  // namespace ingest_internal

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options,
                                                       const RegionTable& regions,
                                                       CountSink& sink) {
  auto impl = std::make_unique<ingest_internal::WorkerImpl>(options, regions, sink);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Worker::Worker(std::unique_ptr<ingest_internal::WorkerImpl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

absl::Status Worker::Run(const std::atomic<bool>* stop) { return impl_->Run(stop); }
void Worker::RequestStop() { impl_->RequestStop(); }
WorkerStats Worker::stats() const { return impl_->stats(); }

}  // namespace roadpulse
