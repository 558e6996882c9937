// The consumer-group worker. Single-threaded: the rebalance callback runs
// inside rd_kafka_consumer_poll on the Run() thread, so the partition
// map needs no lock; only the stats snapshot is shared with other threads.
#include "ingest/worker.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ingest/checkpoint_store.h"
#include "ingest/internal/fetch_nudger.h"
#include "ingest/internal/message_reaper.h"
#include "ingest/internal/rdkafka_handles.h"
#include "nlohmann/json.hpp"
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
// How long a dead letter may wait to be batched with others (linger.ms of
// the DLQ producer, unless the properties set it). Bad records are sparse
// among good ones, so at the producer's 5 ms nearly each one found its
// partition's queue empty and cost a wake-up of librdkafka's broker thread
// and a batch of its own (BENCHMARKS.md, session 18: the DLQ producer's
// thread used 0.3-0.4 s of CPU on ~9,800 dead letters among 2 M events; at
// 1 s under 0.1 s). Nobody waits on the DLQ by the second, and every flush
// (before a checkpoint, on revoke, on stopping) sends at once regardless of
// linger.
constexpr const char* kDlqLingerMs = "1000";
// Checkpoint bytes handed to the producer before the worker waits for their
// delivery (a bound on the memory a checkpoint round takes).
constexpr int64_t kCheckpointQueueBytes = int64_t{8} << 20;
// librdkafka's statistics interval, unless the properties set another: the
// statistics carry the group's join state, which gates offset commits.
constexpr const char* kStatsIntervalMs = "1000";
// A statistics report older than this when it is served says too little
// about the join state now to commit on it.
constexpr std::chrono::milliseconds kStatsFreshness{100};
// A turn of the loop takes well under a second (the consumer waits at most
// 100 ms). One that stood still longer (the process paused: SIGSTOP, a VM or
// container freeze, swapping) may have outlasted the group session: the
// partitions may belong to another worker by now, which may have published
// newer counts. Before publishing again, the group must confirm the
// membership (ConfirmMembership).
constexpr std::chrono::seconds kStandstill{3};
// A publish round looks at the clock after this many count records
// (PausedInPublish): a look costs ~20 ns, a record ~1 us.
constexpr int64_t kRecordsPerLook = 64;
// How long a worker stopped during its first join waits for the group to
// answer its SyncGroup (see WorkerImpl::InFirstJoin). It is normally
// answered within a second of the JoinGroup; a stop must end well inside
// the 10 s that deployments give a worker after SIGTERM.
constexpr absl::Duration kFirstJoinWait = absl::Seconds(5);

// Consumers kept alive on purpose until the process exits (WorkerImpl::
// ~WorkerImpl); held here so that leak checkers see them as reachable.
std::vector<rd_kafka_t*>& KeptConsumers() {
  static auto* kept = new std::vector<rd_kafka_t*>();
  return *kept;
}
std::mutex kept_consumers_mu;

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

class WorkerImpl {
 public:
  WorkerImpl(const WorkerOptions& options, const RegionTable& regions, CountSink& sink)
      : options_(options), regions_(regions), sink_(sink) {}

  ~WorkerImpl() {
    // Destroy the consumer before the state its callbacks use; the nudger
    // borrows it.
    nudger_.reset();
    queue_.reset();
    input_topics_.clear();
    if (keep_consumer_) {
      // rd_kafka_destroy() would abort the process (InFirstJoin). The
      // consumer was closed; its threads idle until the process exits. Its
      // callbacks run only inside a poll, which no one makes any more, and
      // it stops logging, so that it never calls into spdlog while the
      // process's statics are being destroyed.
      rd_kafka_set_log_level(consumer_.get(), 0);
      std::lock_guard<std::mutex> lock(kept_consumers_mu);
      KeptConsumers().push_back(consumer_.release());
    }
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
    if (options_.checkpoint_interval < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("worker: checkpoint_interval must not be negative");
    }
    const bool checkpoints = options_.checkpoint_interval > absl::ZeroDuration();

    ConfHandle conf = NewClientConf();
    const KafkaProperties defaults = {
        {"bootstrap.servers", options_.bootstrap_servers},
        {"group.id", options_.group_id},
        {"client.id", "roadpulse-worker"},
        // Offsets are committed by hand, for lag monitoring only.
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        // With checkpoints, an offset that is no longer in the log is data
        // loss and must surface (HandleOffsetReset), not be skipped over.
        {"auto.offset.reset", checkpoints ? "error" : "earliest"},
        // Incremental rebalances: a member joining or leaving moves only
        // the partitions that change owner; the others keep counting.
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.partition.eof", "true"},
        {"session.timeout.ms", absl::StrCat(options_.session_timeout_ms)},
        // Fetches return when data arrives or after this: librdkafka's 500 ms
        // default dominated the latency from an event to its live count.
        {"fetch.wait.max.ms", "100"},
        // The pre-fetch queue: 20 k records (~10 MB here) instead of 100 k
        // (~45 MB). A fetcher that stopped on a full queue is woken as soon
        // as the worker has emptied it (fetch_nudge_interval), so a longer
        // queue would buy no speed.
        {"queued.min.messages", "20000"},
        // Carries the group's join state: see WorkerOptions::commit_interval.
        {"statistics.interval.ms", kStatsIntervalMs},
    };
    if (absl::Status s = SetProperties(conf.get(), defaults); !s.ok()) return s;
    if (!options_.instance_id.empty()) {
      if (absl::Status s =
              SetProperties(conf.get(), {{"group.instance.id", options_.instance_id}});
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = SetPropertiesFor(RD_KAFKA_CONSUMER, conf.get(), options_.properties);
        !s.ok()) {
      return s;
    }
    char stats_ms[32];
    size_t stats_ms_size = sizeof(stats_ms);
    int stats_interval = 0;
    if (rd_kafka_conf_get(conf.get(), "statistics.interval.ms", stats_ms, &stats_ms_size) ==
            RD_KAFKA_CONF_OK &&
        absl::SimpleAtoi(stats_ms, &stats_interval) && stats_interval <= 0) {
      spdlog::warn(
          "worker: statistics.interval.ms=0: group offsets (lag monitoring only) are committed "
          "only when the worker stops");
    }
    char strategy[256];
    size_t strategy_size = sizeof(strategy);
    cooperative_sticky_ = rd_kafka_conf_get(conf.get(), "partition.assignment.strategy", strategy,
                                            &strategy_size) == RD_KAFKA_CONF_OK &&
                          std::strstr(strategy, "cooperative-sticky") != nullptr;
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &WorkerImpl::OnRebalance);
    rd_kafka_conf_set_offset_commit_cb(conf.get(), &WorkerImpl::OnCommit);
    rd_kafka_conf_set_stats_cb(conf.get(), &WorkerImpl::OnStats);

    absl::StatusOr<KafkaHandle> rk = NewClient(RD_KAFKA_CONSUMER, std::move(conf));
    if (!rk.ok()) return rk.status();
    consumer_ = *std::move(rk);
    if (absl::Status s = ToStatus(rd_kafka_poll_set_consumer(consumer_.get()),
                                  "worker: redirect the main queue");
        !s.ok()) {
      return s;
    }
    queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
    // Creating the input topics' handles asks for their metadata now, so
    // that their partitions are with their leaders before the group assigns
    // them. librdkafka 2.0.2 defers the offset lookup of an assigned
    // partition not yet with its leader by 500 ms (rd_kafka_toppar_offset_
    // request): a worker reading from the beginning idled that long in about
    // a third of its starts (BENCHMARKS.md, session 17). Not fatal when it
    // fails: the assignment learns the topics as before.
    for (const std::string* topic : {&options_.incidents_topic, &options_.violations_topic}) {
      TopicHandle rkt(rd_kafka_topic_new(consumer_.get(), topic->c_str(), nullptr));
      if (rkt == nullptr) {
        spdlog::warn("worker: topic {}: {}", *topic, rd_kafka_err2str(rd_kafka_last_error()));
        continue;
      }
      input_topics_.push_back(std::move(rkt));
    }
    if (options_.fetch_nudge_interval > absl::ZeroDuration()) {
      nudger_ = std::make_unique<FetchNudger>(consumer_.get());
    }

    ProducerOptions producer_options;
    producer_options.bootstrap_servers = options_.bootstrap_servers;
    producer_options.properties = options_.properties;
    producer_options.properties.emplace("linger.ms", kDlqLingerMs);
    absl::StatusOr<std::unique_ptr<KafkaProducer>> dlq = KafkaProducer::Create(producer_options);
    if (!dlq.ok()) return dlq.status();
    dlq_ = *std::move(dlq);
    // The first bad record is not held for the topic's metadata (up to a
    // second, KafkaProducer::Prepare). Not fatal: producing learns it later.
    if (absl::StatusOr<int> n = dlq_->Prepare(options_.dlq_topic, absl::Seconds(5)); !n.ok()) {
      spdlog::warn("worker: {} (the first dead letter will wait for it)", n.status().ToString());
    }

    if (checkpoints) {
      CheckpointStoreOptions store_options;
      store_options.bootstrap_servers = options_.bootstrap_servers;
      store_options.topic = options_.checkpoint_topic;
      store_options.group = options_.group_id;
      store_options.properties = options_.properties;
      absl::StatusOr<std::unique_ptr<CheckpointStore>> store =
          CheckpointStore::Create(store_options);
      if (!store.ok()) {
        return absl::Status(store.status().code(),
                            absl::StrCat("worker: checkpoint topic ", options_.checkpoint_topic,
                                         ": ", store.status().message()));
      }
      checkpoints_ = *std::move(store);
    }
    return absl::OkStatus();
  }

  absl::Status Run(const std::atomic<bool>* stop) {
    if (options_.assign_all_partitions) {
      if (absl::Status s = AssignAll(); !s.ok()) return s;
    } else {
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
    }

    const auto flush_interval = absl::ToChronoMilliseconds(options_.flush_interval);
    const auto catchup_interval = std::max(
        flush_interval, absl::ToChronoMilliseconds(options_.catchup_flush_interval));
    bool catching_up = false;
    const auto log_interval = absl::ToChronoMilliseconds(options_.log_interval);
    const auto start = Clock::now();
    auto next_flush = start + flush_interval;
    auto next_log = start + log_interval;
    const auto checkpoint_interval = absl::ToChronoMilliseconds(options_.checkpoint_interval);
    auto next_checkpoint = start + checkpoint_interval;
    last_log_time_ = start;
    batch_.assign(static_cast<size_t>(options_.max_batch), nullptr);
    absl::Status result;

    turn_started_ = start;
    while (result.ok()) {
      if ((stop != nullptr && stop->load()) || stop_requested_.load()) break;
      const auto now = Clock::now();
      NoteStandstill(turn_started_, now);
      turn_started_ = now;
      const int wait_ms = static_cast<int>(std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              (nudge_held_back_ ? std::min(next_flush, next_nudge_) : next_flush) - now)
              .count(),
          0, 100));
      const size_t n = CollectBatch(wait_ms);
      // A full batch means a backlog: publish less often until it is read
      // (each publish repeats every bucket changed since the last one).
      const bool backlog = n == batch_.size();
      if (backlog && !catching_up) {
        catching_up = true;
        next_flush = std::max(next_flush, Clock::now() + catchup_interval - flush_interval);
      } else if (!backlog && catching_up) {
        catching_up = false;
        next_flush = std::min(next_flush, Clock::now() + flush_interval);
      }
      // The wall clock of this batch: the processors skip fine buckets no
      // rolling window can show (PartitionProcessor::SetWallClock).
      batch_wall_clock_ = absl::Now();
      for (size_t i = 0; i < n; ++i) {
        if (batch_[i] == nullptr) continue;  // dropped by a rebalance (DropCollected)
        rd_kafka_message_t* message = batch_[i];
        batch_[i] = nullptr;
        if (i + 1 < n && batch_[i + 1] != nullptr) PrefetchFor(*batch_[i + 1]);
        if (result.ok()) result = HandleMessage(*message);
        handled_.push_back(message);
      }
      // Destroyed on the reaper's thread, off this one (message_reaper.h).
      reaper_.Reap(handled_);
      if (!result.ok()) break;
      // A short batch emptied the consumer queue.
      if (n < batch_.size()) MaybeNudgeFetcher();
      if (!callback_error_.ok()) {
        result = callback_error_;
        break;
      }
      if (pending_checkpoint_.has_value()) {
        result = ConfirmCheckpoint(absl::ZeroDuration());
        if (!result.ok()) break;
      }
      char fatal_reason[256];
      if (rd_kafka_resp_err_t fatal =
              rd_kafka_fatal_error(consumer_.get(), fatal_reason, sizeof(fatal_reason));
          fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = ToStatus(fatal, absl::StrCat("worker: fatal consumer error: ", fatal_reason));
        break;
      }
      const auto after = Clock::now();
      NoteStandstill(now, after);
      const bool at_end = options_.stop_at_end && AllAtEnd();
      if ((after >= next_flush || at_end) && !ConfirmMembership()) {
        // Not now: the counts stay dirty, for the next turn or (when the
        // partitions were lost) for nobody.
        next_flush = after + flush_interval;
      } else if (after >= next_flush || at_end) {
        // Publishing hands the dirty counts to the producer and goes on
        // consuming; it waits for their delivery only before a checkpoint,
        // which may be written only once everything before its offset is
        // delivered.
        // A round still in flight defers the next one (the counting never
        // waits for the checkpoint topic here); it is due again once
        // ConfirmCheckpoint() settles the first.
        const bool checkpoint_due = checkpoints_ != nullptr && !pending_checkpoint_.has_value() &&
                                    (after >= next_checkpoint || at_end);
        bool delivered_all = false;
        result = PublishAndFlush(checkpoint_due || at_end ? kFlushWait : absl::ZeroDuration(),
                                 &delivered_all);
        RecordPublish(after);
        if (result.ok() && checkpoint_due && delivered_all) {
          // Written, not waited for: ConfirmCheckpoint() below marks it once
          // the chunks are acknowledged, while the counting goes on.
          result = CheckpointAll(/*only_changed=*/true, /*wait=*/false);
          next_checkpoint = Clock::now() + checkpoint_interval;
        }
        UpdateStats();
        next_flush = after + (catching_up ? catchup_interval : flush_interval);
      }
      if (after >= next_log) {
        LogProgress(after);
        next_log = after + log_interval;
      }
      // Not before the counts are published: after a standstill, once the
      // group confirms the membership (or the partitions are lost, and the
      // new assignment is read to its end).
      if (result.ok() && at_end && standstill_ == Clock::duration::zero()) {
        spdlog::info("worker: every assigned partition reached its end; stopping");
        break;
      }
    }

    // From here on an assignment is taken but not read (HandleRebalance).
    stopping_ = true;
    // Publish what is left, then leave the group (the revoke callback runs
    // inside rd_kafka_consumer_close and publishes again: harmless).
    bool delivered_all = false;
    absl::Status final_flush =
        ConfirmMembership() ? PublishAndFlush(kFinalFlushWait, &delivered_all) : absl::OkStatus();
    if (result.ok()) result = final_flush;
    // A round still in flight covers counts delivered before it: confirm it
    // whatever happens to the final one.
    if (pending_checkpoint_.has_value()) {
      absl::Status confirmed = ConfirmCheckpoint(kFinalFlushWait);
      if (result.ok()) result = confirmed;
    }
    if (result.ok() && checkpoints_ != nullptr && delivered_all) {
      const int64_t before = checkpoints_written_;
      const auto started = Clock::now();
      result = CheckpointAll(/*only_changed=*/true, /*wait=*/true);
      const int64_t written = checkpoints_written_ - before;
      const auto unchanged = static_cast<int64_t>(partitions_.size()) - written;
      if (result.ok() && written > 0) {
        spdlog::info(
            "worker: stopping: final checkpoint of {} partitions in {:.3f} s ({} "
            "unchanged since their last one)",
            written, SecondsSince(started), unchanged);
      } else if (result.ok()) {
        spdlog::info(
            "worker: stopping: no final checkpoint needed, all {} partitions are "
            "unchanged since their last one",
            unchanged);
      }
    } else if (checkpoints_ != nullptr) {
      spdlog::warn("worker: stopping without a final checkpoint ({}): the next owner resumes "
                   "from the previous one",
                   result.ok() ? "counts not all delivered" : result.ToString());
    }
    CommitSync();
    if (nudger_ != nullptr) nudger_->Stop();  // before the consumer closes
    reaper_.Drain();
    LogProgress(Clock::now());
    const bool first_join = InFirstJoin();
    if (first_join) FinishFirstJoin();
    // Keep the last snapshot: leaving the group revokes (and forgets) every
    // partition, but callers want the final tallies.
    closing_ = true;
    if (absl::Status s = ToStatus(rd_kafka_consumer_close(consumer_.get()), "worker: close");
        !s.ok()) {
      spdlog::warn("{}", s.ToString());
    }
    if (first_join && !assigned_once_) {
      keep_consumer_ = true;
      spdlog::warn(
          "worker: the group did not finish its join within {} s of the stop; the "
          "consumer is left to the process's exit (librdkafka before 2.3.0 would abort "
          "destroying it: confluentinc/librdkafka#4381)",
          absl::ToInt64Seconds(kFirstJoinWait));
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
    bool restored = false;
    bool data_loss = false;
    int64_t checkpointed_offset = -1;  // next offset of the last checkpoint, -1: none
    int64_t committed_offset = -1;     // offset of the last group commit sent, -1: none
    uint64_t checkpoint_id = 0;        // id of the last checkpoint written or restored
  };
  using PartitionKey = std::pair<std::string, int32_t>;

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* list, void* opaque) {
    static_cast<WorkerImpl*>(opaque)->HandleRebalance(rk, err, list);
  }

  // Served inside rd_kafka_consumer_poll on the Run() thread, like the
  // rebalance callback.
  static int OnStats(rd_kafka_t*, char* json, size_t json_len, void* opaque) {
    static_cast<WorkerImpl*>(opaque)->HandleStats(std::string_view(json, json_len));
    return 0;  // librdkafka frees json
  }

  // Commits the offsets (see WorkerOptions::commit_interval) when a fresh
  // report says the group is steady: the window in which a JoinGroup can have
  // been sent since is the report's age, kept under kStatsFreshness.
  void HandleStats(std::string_view json) {
    const nlohmann::json stats = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (!stats.is_object()) return;
    const auto cgrp = stats.find("cgrp");
    const auto ts = stats.find("ts");  // librdkafka's monotonic clock, in microseconds
    if (cgrp == stats.end() || !cgrp->is_object() || ts == stats.end() || !ts->is_number()) {
      return;
    }
    const auto join_state = cgrp->find("join_state");
    group_steady_ = options_.assign_all_partitions ||  // no group to rebalance
                    (join_state != cgrp->end() && join_state->is_string() &&
                     join_state->get<std::string>() == "steady");
    // rd_clock() and steady_clock both read CLOCK_MONOTONIC on Linux.
    const auto now = Clock::now();
    const auto age = now.time_since_epoch() - std::chrono::microseconds(ts->get<int64_t>());
    if (!group_steady_ || age > kStatsFreshness || age < -kStatsFreshness) return;
    if (now < next_commit_) return;
    CommitAsync();
    next_commit_ = now + absl::ToChronoMilliseconds(options_.commit_interval);
  }

  // Served on the Run() thread too.
  static void OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    static_cast<WorkerImpl*>(opaque)->HandleCommit(err, offsets);
  }

  // Commits only feed lag monitoring; a partition whose commit failed (e.g.
  // during a rebalance) is committed again at the next commit interval.
  void HandleCommit(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      spdlog::debug("worker: offset commit failed: {}", rd_kafka_err2name(err));
    }
    if (offsets == nullptr || closing_) return;
    for (int i = 0; i < offsets->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = offsets->elems[i];
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      auto it = partitions_.find({tp.topic, tp.partition});
      if (it != partitions_.end()) it->second.committed_offset = -1;
    }
  }

  // Takes the partitions of an assignment: added to the current ones under
  // the COOPERATIVE protocol, replacing them under EAGER.
  static absl::Status Assign(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* list,
                             bool cooperative) {
    return cooperative ? ToStatus(rd_kafka_incremental_assign(rk, list), "worker: assign")
                       : ToStatus(rd_kafka_assign(rk, list), "worker: assign");
  }

  void HandleRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* list) {
    // NULL once the consumer's group handler has terminated: librdkafka
    // 2.0.2 can still serve a revocation then, inside
    // rd_kafka_consumer_close. The configured assignor decides the protocol.
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    const bool cooperative =
        protocol != nullptr ? std::strcmp(protocol, "COOPERATIVE") == 0 : cooperative_sticky_;
    commit_accepted_ = false;  // a rebalance: ConfirmMembership starts over
    // Settle a round still in flight before partitions come or go, so that
    // its confirmation never lands on a partition's next incarnation.
    if (pending_checkpoint_.has_value()) {
      if (absl::Status s = ConfirmCheckpoint(kFinalFlushWait); !s.ok() && callback_error_.ok()) {
        callback_error_ = s;
      }
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      assigned_once_ = true;
      standstill_ = Clock::duration::zero();  // the group just confirmed the member
      standstill_reported_ = false;
      if (stopping_) {
        // Stopping (after the last batch, in FinishFirstJoin or inside
        // rd_kafka_consumer_close): the group needs the assignment taken;
        // the close hands it back unread, from where it was.
        spdlog::info("worker: assigned {} partitions while stopping; leaving them unread",
                     list->cnt);
        if (absl::Status s = Assign(rk, list, cooperative); !s.ok()) {
          spdlog::warn("{}", s.ToString());
        }
        ++rebalances_;
        UpdateStats();
        return;
      }
      DropCollected(*list);
      absl::Status restored = Restore(list);
      if (!restored.ok()) {
        spdlog::error("{}", restored.ToString());
        if (callback_error_.ok()) callback_error_ = restored;
      }
      last_partition_ = nullptr;
      ++rebalances_;
      absl::Status s = Assign(rk, list, cooperative);
      if (!s.ok() && callback_error_.ok()) callback_error_ = s;
      UpdateStats();
      // The restore's time was this thread's, not a pause of the process
      // (the session's heartbeats went on): no standstill.
      callback_done_at_ = Clock::now();
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      // A revoke served by the first poll after a pause: the group may have
      // given the partitions to another member meanwhile, and librdkafka,
      // rejoining, revokes them as if this worker had owned them all along.
      if (collecting_) NoteStandstill(turn_started_, Clock::now());
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      if (lost) {
        // Another member may already own these partitions and have published
        // newer values: publishing ours now could overwrite them.
        spdlog::warn("worker: {} partitions lost; dropping their state unpublished", list->cnt);
      } else if (standstill_ != Clock::duration::zero()) {
        spdlog::warn(
            "worker: {} partitions revoked after the loop stood still for {:.1f} s, before the "
            "group confirmed this worker's membership; dropping their state unpublished (their "
            "next owner restores their last checkpoint)",
            list->cnt, std::chrono::duration<double>(standstill_).count());
      } else {
        absl::Status s;
        const int64_t now_ms = NowUnixMs();
        publish_seen_ = Clock::now();
        bool paused = false;
        for (int i = 0; i < list->cnt && s.ok() && !paused; ++i) {
          auto it = partitions_.find({list->elems[i].topic, list->elems[i].partition});
          if (it != partitions_.end()) s = PublishDirty(it->second, now_ms, &paused);
        }
        // Paused halfway: no checkpoint either. The next owner restores the
        // last one and publishes every bucket again.
        bool delivered_all = false;
        if (s.ok()) s = FlushAll(paused ? absl::ZeroDuration() : kFinalFlushWait, &delivered_all);
        if (paused) delivered_all = false;
        if (s.ok() && checkpoints_ != nullptr && delivered_all) {
          std::vector<Partition*> revoked;
          for (int i = 0; i < list->cnt; ++i) {
            auto it = partitions_.find({list->elems[i].topic, list->elems[i].partition});
            if (it != partitions_.end()) revoked.push_back(&it->second);
          }
          s = Checkpoint(revoked, /*only_changed=*/true, /*wait=*/true);
        }
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

  // librdkafka before 2.3.0 aborts in rd_kafka_destroy() when a
  // cooperative-sticky consumer is closed after a JoinGroup was answered and
  // before its first SyncGroup was: the assignor's state is still null
  // (confluentinc/librdkafka#4381; Debian 12 ships 2.0.2). A member id is
  // set by the JoinGroup's answer. (A SyncGroup refused with
  // UNKNOWN_MEMBER_ID clears the id but not the assignor: that narrower case
  // is not covered.)
  bool InFirstJoin() const {
    if (options_.assign_all_partitions || !cooperative_sticky_ || assigned_once_) return false;
    char* member_id = rd_kafka_memberid(consumer_.get());
    const bool joined = member_id != nullptr && member_id[0] != '\0';
    if (member_id != nullptr) rd_kafka_mem_free(consumer_.get(), member_id);
    return joined;
  }

  // Serves the consumer until the first assignment arrives (and is handed
  // back unread, see HandleRebalance), for at most kFirstJoinWait.
  void FinishFirstJoin() {
    spdlog::info(
        "worker: stopping in the group's first join: waiting up to {} s for the "
        "assignment, so that the consumer can be closed safely",
        absl::ToInt64Seconds(kFirstJoinWait));
    const auto deadline = Clock::now() + absl::ToChronoMilliseconds(kFirstJoinWait);
    while (!assigned_once_ && Clock::now() < deadline) {
      // Records of the assignment taken are dropped unread: nothing after
      // the stop is processed, and nothing read here is checkpointed.
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100); m != nullptr) {
        rd_kafka_message_destroy(m);
      }
    }
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

  // WorkerOptions::assign_all_partitions: every partition of both input
  // topics, restored and assigned as a group assignment would be.
  absl::Status AssignAll() {
    PartitionListHandle list(rd_kafka_topic_partition_list_new(16));
    for (const std::string* topic : {&options_.incidents_topic, &options_.violations_topic}) {
      absl::StatusOr<int> partitions = PartitionCount(consumer_.get(), *topic, 10000);
      if (!partitions.ok()) {
        return absl::Status(partitions.status().code(),
                            absl::StrCat("worker: ", partitions.status().message()));
      }
      for (int p = 0; p < *partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic->c_str(), p);
      }
    }
    if (absl::Status s = Restore(list.get()); !s.ok()) return s;
    ++rebalances_;
    if (absl::Status s = ToStatus(rd_kafka_assign(consumer_.get(), list.get()), "worker: assign");
        !s.ok()) {
      return s;
    }
    UpdateStats();
    spdlog::info("worker: owns all {} partitions of {} and {} (no group) at {}", list->cnt,
                 options_.incidents_topic, options_.violations_topic, options_.bootstrap_servers);
    return absl::OkStatus();
  }

  // Takes up to batch_.size() records (and serves callbacks) into batch_,
  // waiting up to wait_ms for the first. One rd_kafka_consumer_poll per record
  // rather than rd_kafka_consume_batch_queue: in librdkafka 2.0.2 the batch
  // call advances the application position past records that it then purges
  // from the batch when a pause/resume (every cooperative rebalance) bumps the
  // partition's version, and the fetcher resumes after them: they are never
  // delivered (its CHANGELOG's "Known Issues", fixed in 2.1.0). A polled
  // record is handed over before the position moves past it.
  size_t CollectBatch(int wait_ms) {
    collected_ = 0;
    collecting_ = true;
    int wait = wait_ms;
    while (collected_ < batch_.size()) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), wait);
      if (message == nullptr) break;
      batch_[collected_++] = message;
      wait = 0;
    }
    collecting_ = false;
    return collected_;
  }

  // The partition's high watermark as librdkafka last saw it (no broker
  // round trip), -1 when not known.
  int64_t HighWatermark(const Partition& p) const {
    int64_t low = 0;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic.c_str(), p.partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return -1;
    }
    return high;
  }

  // Called when the consumer queue ran empty. If the broker holds records
  // this worker has not read (a partition's high watermark, as the last fetch
  // saw it, is past its next offset), the fetcher may be waiting out
  // librdkafka's one-second pause after the queue filled up
  // (ingest/internal/fetch_nudger.h): wake the leaders of those partitions,
  // at most once per fetch_nudge_interval; a nudge held back by that limit
  // is retried when it expires (nudge_held_back_ shortens the consumer's wait). A
  // live worker reads every record a fetch brought, high watermark included,
  // so it rarely nudges.
  void MaybeNudgeFetcher() {
    nudge_held_back_ = false;
    if (nudger_ == nullptr) return;
    const auto now = Clock::now();
    if (now < next_nudge_) {
      // Within the interval of the last nudge: look again when it expires
      // (a catching-up worker empties its queue often; asking librdkafka for
      // every partition's watermark each time cost more than the nudges).
      nudge_held_back_ = true;
      return;
    }
    PartitionListHandle lagging;  // allocated only when some partition lags
    for (const auto& [key, p] : partitions_) {
      if (HighWatermark(p) <= p.next_offset) continue;
      if (lagging == nullptr) lagging.reset(rd_kafka_topic_partition_list_new(8));
      rd_kafka_topic_partition_list_add(lagging.get(), p.topic.c_str(), p.partition);
    }
    if (lagging == nullptr) return;
    nudger_->Nudge(std::move(lagging));
    next_nudge_ = now + absl::ToChronoMilliseconds(options_.fetch_nudge_interval);
  }

  // A partition assigned while a batch is being collected may have had
  // records in it from an earlier assignment (revoked and assigned again):
  // they are dropped, its restored position decides where it resumes.
  void DropCollected(const rd_kafka_topic_partition_list_t& list) {
    if (!collecting_) return;
    for (size_t i = 0; i < collected_; ++i) {
      rd_kafka_message_t* m = batch_[i];
      if (m == nullptr || m->rkt == nullptr) continue;
      for (int j = 0; j < list.cnt; ++j) {
        if (m->partition == list.elems[j].partition &&
            std::strcmp(rd_kafka_topic_name(m->rkt), list.elems[j].topic) == 0) {
          rd_kafka_message_destroy(m);
          batch_[i] = nullptr;
          break;
        }
      }
    }
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
    if (message.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) return HandleOffsetReset(message);
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
      if (message.offset > 0) LogFirstOffset(*p, message.offset);
    }
    ++records_consumed_;
    rd_kafka_timestamp_type_t ts_type;
    const int64_t ts_ms = rd_kafka_message_timestamp(&message, &ts_type);
    const absl::Time record_time =
        ts_ms < 0 ? absl::InfinitePast() : absl::FromUnixMillis(ts_ms);
    const std::string_view payload(static_cast<const char*>(message.payload), message.len);
    p->processor->SetWallClock(batch_wall_clock_);
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
    const size_t roadpulse_headers = headers.size();  // the record's own follow
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
    absl::Status produced = dlq_->Produce(options_.dlq_topic, key, value, headers);
    if (IsRecordTooLarge(produced)) {
      // Refusing the record for good would stop every owner of the
      // partition at it. Its coordinates and reason still go to the DLQ.
      spdlog::error(
          "worker: {}[{}]@{} ({}) is {} bytes, too large for {} (message.max.bytes of its "
          "producer): dead-lettered without its value and own headers; the original stays at its "
          "source offset until the topic's retention",
          p.topic, p.partition, message.offset, RejectReasonName(result.reason),
          key.size() + value.size(), options_.dlq_topic);
      headers.resize(roadpulse_headers);
      std::string& detail = headers[1].second;  // may quote a field of any size
      if (detail.size() > kDlqKeptBytes) {
        size_t cut = kDlqKeptBytes;
        while (cut > 0 && (static_cast<unsigned char>(detail[cut]) & 0xC0) == 0x80) --cut;
        detail.resize(cut);
        detail += "...";
      }
      headers.emplace_back(kDlqValueOmittedHeader, absl::StrCat(value.size()));
      std::string_view kept_key = key;
      if (key.size() > kDlqKeptBytes) {
        headers.emplace_back(kDlqKeyOmittedHeader, absl::StrCat(key.size()));
        kept_key = std::string_view();
      }
      produced = dlq_->Produce(options_.dlq_topic, kept_key, std::string_view(), headers);
    }
    if (!produced.ok()) return produced;
    ++dead_lettered_;
    ++dead_lettered_by_reason_[std::string(RejectReasonName(result.reason))];
    return absl::OkStatus();
  }

  // Hands the dirty buckets and tombstones of `p` to the sink and clears
  // them; stops early, leaving them all dirty, with *paused set, when the
  // process stood still meanwhile (PausedInPublish).
  absl::Status PublishDirty(Partition& p, int64_t now_ms, bool* paused) {
    absl::Status status;
    counts_unwatchable_ +=
        static_cast<int64_t>(p.processor->SkipUnwatchable(absl::FromUnixMillis(now_ms)));
    if ((*paused = PausedInPublish())) return status;
    // Tombstones first: a key evicted and never re-created (horizons only
    // move forward), so order against the dirty records does not matter.
    for (const BucketKey& key : p.processor->tombstones()) {
      status = sink_.PublishTombstone(TombstoneRecord(regions_, p.topic, p.partition, key));
      if (!status.ok()) return status;
      ++counts_published_;
    }
    p.processor->ClearTombstones();
    int64_t since_look = 0;
    p.processor->ForEachDirty([&](const BucketKey& key, const MetricValues& values) {
      if (!status.ok() || *paused) return;
      MakeCountRecord(regions_, p.topic, p.partition, key, values, p.next_offset, now_ms, &record_);
      status = sink_.Publish(record_);
      ++counts_published_;
      if (++since_look == kRecordsPerLook) {
        since_look = 0;
        *paused = PausedInPublish();
      }
    });
    if (!status.ok() || *paused) return status;
    p.processor->ClearDirty();
    // Settled days can no longer change, and their newest values are now
    // published (the dirty ones just above): the counts topic keeps them.
    p.processor->ClearSettled();
    return absl::OkStatus();
  }

  // Within a publish round (publish_seen_ set at its start): true when the
  // process stood still for more than kStandstill since the last look, as
  // NoteStandstill would find at the next turn. A round paused halfway (a
  // SIGSTOP, a frozen container) would otherwise hand the rest of its
  // records to the producer as soon as it woke, before the loop could ask
  // the group whether the partitions are still this worker's: published
  // over the new owner's newer counts. The round stops there, and the
  // publishing waits for ConfirmMembership. (Records queued before the
  // pause are the producer's to drop: CountRecordTimeoutMs.)
  bool PausedInPublish() {
    const auto now = Clock::now();
    const auto from = std::exchange(publish_seen_, now);
    if (!NoteStandstill(from, now)) return false;
    spdlog::warn(
        "worker: a publish round stood still for {:.1f} s; publishing the rest only once the "
        "group confirms this worker's membership",
        std::chrono::duration<double>(now - from).count());
    return true;
  }

  // Waits for the DLQ and count records. A flush that merely timed out is not
  // an error (the records stay queued); a failed delivery is.
  absl::Status FlushAll(absl::Duration wait, bool* delivered_all) {
    absl::Status dlq = dlq_->Flush(wait);
    absl::Status counts = sink_.Flush(wait);
    *delivered_all = true;
    for (absl::Status* s : {&dlq, &counts}) {
      if (absl::IsDeadlineExceeded(*s)) {
        if (wait > absl::ZeroDuration()) {
          spdlog::warn("worker: {} (still queued, will retry)", s->ToString());
        }
        *s = absl::OkStatus();
        *delivered_all = false;
      }
    }
    if (absl::IsUnavailable(counts)) {
      // The producer gave up on a count record (it drops one it could not
      // deliver within CountRecordTimeoutMs rather than deliver it late):
      // every bucket is published again, and no checkpoint is written
      // before that is delivered.
      ++count_delivery_failures_;
      spdlog::warn("worker: {}; publishing every bucket of its {} partitions again",
                   counts.ToString(), partitions_.size());
      for (auto& [key, p] : partitions_) p.processor->MarkAllDirty();
      counts = absl::OkStatus();
      *delivered_all = false;
    }
    if (!dlq.ok()) return dlq;
    return counts;
  }

  // Notes a turn of the loop (or a stretch of a publish round) from `from`
  // to `to`, less any time in the rebalance callback (HandleRebalance: a
  // long restore is no pause). True when it stood still.
  bool NoteStandstill(Clock::time_point from, Clock::time_point to) {
    const Clock::duration turn = to - std::max(from, callback_done_at_);
    if (turn <= kStandstill || options_.assign_all_partitions) return false;
    standstill_ = std::max(standstill_, turn);
    commit_accepted_ = false;
    return true;
  }

  // After a standstill (NoteStandstill): true once the group confirms that
  // this worker is still the member that owns its partitions, by accepting a
  // synchronous commit of their offsets with its generation (a worker the
  // group dropped gets UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION; the lost
  // partitions are then revoked and dropped unpublished, HandleRebalance),
  // and then by no rebalance in the next turn's poll. A worker that rejoined
  // meanwhile commits with its new generation, accepted, while the revoke of
  // the partitions the group moved away during the pause waits in its queue
  // for that poll. Until then nothing is published: a late older state
  // would replace the new owner's newer counts in roadpulse.counts.
  bool ConfirmMembership() {
    if (standstill_ == Clock::duration::zero() || partitions_.empty()) return true;
    const double stood = std::chrono::duration<double>(standstill_).count();
    if (commit_accepted_) {
      spdlog::info(
          "worker: the loop stood still for {:.1f} s; the group still counts this worker "
          "the owner of its {} partitions: publishing",
          stood, partitions_.size());
      standstill_ = Clock::duration::zero();
      standstill_reported_ = false;
      commit_accepted_ = false;
      return true;
    }
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST;
    if (rd_kafka_assignment_lost(consumer_.get()) == 0) {
      PartitionListHandle list = CommitList(/*only_changed=*/false);
      err = list->cnt == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
                           : rd_kafka_commit(consumer_.get(), list.get(), 0);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < list->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
          err = list->elems[i].err;
      }
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      commit_accepted_ = true;  // confirmed at the next call, unless a rebalance comes first
      return false;
    }
    if (!standstill_reported_) {
      spdlog::warn(
          "worker: the loop stood still for {:.1f} s and the group does not confirm this "
          "worker's membership ({}): publishing nothing until it does; partitions it lost "
          "are counted by their new owner",
          stood, rd_kafka_err2name(err));
      standstill_reported_ = true;
    }
    return false;
  }

  absl::Status PublishAndFlush(absl::Duration wait, bool* delivered_all) {
    const int64_t now_ms = NowUnixMs();
    publish_seen_ = Clock::now();
    bool paused = false;
    for (auto& [key, p] : partitions_) {
      if (absl::Status s = PublishDirty(p, now_ms, &paused); !s.ok()) return s;
      if (paused) break;
    }
    absl::Status flushed = FlushAll(paused ? absl::ZeroDuration() : wait, delivered_all);
    if (paused) *delivered_all = false;
    return flushed;
  }

  // Restores the partitions of an assignment from their checkpoints (or
  // creates them empty, read from offset 0), setting each list element's
  // start offset.
  absl::Status Restore(rd_kafka_topic_partition_list_t* list) {
    const auto started = Clock::now();
    std::vector<InputPartition> inputs;
    for (int i = 0; i < list->cnt; ++i) inputs.emplace_back(list->elems[i].topic, list->elems[i].partition);
    std::map<InputPartition, roadpulse::Checkpoint> latest;
    if (checkpoints_ != nullptr && !inputs.empty()) {
      // The checkpoint topic may be briefly unavailable (a broker down):
      // retry for a while rather than start from offset 0 or give up.
      absl::StatusOr<std::map<InputPartition, roadpulse::Checkpoint>> read;
      for (int attempt = 1;; ++attempt) {
        read = checkpoints_->ReadLatest(inputs);
        if (read.ok() || attempt == kRestoreAttempts) break;
        spdlog::warn("worker: reading checkpoints failed (attempt {} of {}): {}", attempt,
                     kRestoreAttempts, read.status().ToString());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      if (!read.ok()) {
        return absl::Status(read.status().code(),
                            absl::StrCat("worker: cannot read checkpoints: ", read.status().message()));
      }
      latest = *std::move(read);
    }
    absl::Status status;
    int restored = 0;
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_t& tp = list->elems[i];
      const InputPartition input{tp.topic, tp.partition};
      const EventKind kind =
          input.first == options_.violations_topic ? EventKind::kViolation : EventKind::kIncident;
      Partition state;
      state.topic = input.first;
      state.partition = input.second;
      auto cp = latest.find(input);
      if (cp != latest.end()) {
        absl::StatusOr<std::unique_ptr<PartitionProcessor>> processor =
            PartitionProcessor::Restore(kind, regions_, options_.processor, cp->second.state);
        if (!processor.ok()) {
          if (status.ok()) {
            status = absl::InvalidArgumentError(absl::StrCat(
                "worker: checkpoint ", cp->second.checkpoint_id, " of ", input.first, "[",
                input.second, "] cannot be restored: ", processor.status().message()));
          }
          tp.offset = RD_KAFKA_OFFSET_END;  // not consumed: the worker stops
          continue;
        }
        state.processor = *std::move(processor);
        // Republish every restored bucket: absolute values, so harmless,
        // and it rebuilds a counts topic that lost records.
        state.processor->MarkAllDirty();
        state.next_offset = cp->second.next_offset;
        state.restored = true;
        state.seen_first = true;  // the checkpoint covers what came before
        state.checkpointed_offset = cp->second.next_offset;
        state.checkpoint_id = cp->second.checkpoint_id;
        tp.offset = cp->second.next_offset;
        ++restored;
        ++restores_;
        spdlog::info(
            "worker: assigned {}[{}], restored checkpoint {} ({} bytes in {} chunks, {} records "
            "read so far), resuming at offset {}",
            input.first, input.second, cp->second.checkpoint_id, cp->second.state_bytes,
            cp->second.chunks, cp->second.state.tally().read(), cp->second.next_offset);
      } else {
        state.processor = std::make_unique<PartitionProcessor>(kind, regions_, options_.processor);
        tp.offset = RD_KAFKA_OFFSET_BEGINNING;
        spdlog::info("worker: assigned {}[{}], {}; reading from the beginning", input.first,
                     input.second, checkpoints_ != nullptr ? "no checkpoint" : "checkpoints off");
      }
      partitions_[input] = std::move(state);
    }
    // An empty incremental assignment (a rebalance that moved nothing to
    // this worker) restores nothing: the last real restore's time stays.
    if (!inputs.empty()) {
      last_restore_seconds_ = SecondsSince(started);
      spdlog::info("worker: assignment of {} partitions ready in {:.3f} s ({} from checkpoints)",
                   inputs.size(), last_restore_seconds_, restored);
    }
    return status;
  }

  // Checkpoints every partition (only those whose offset moved since their
  // last checkpoint, with only_changed). REQUIRES: every record before each
  // partition's next_offset was delivered.
  absl::Status CheckpointAll(bool only_changed, bool wait) {
    std::vector<Partition*> all;
    for (auto& [key, p] : partitions_) all.push_back(&p);
    return Checkpoint(all, only_changed, wait);
  }

  // Not fatal: the previous checkpoints stay valid; retried next round.
  static absl::Status NotConfirmed(const absl::Status& flushed) {
    spdlog::warn("worker: checkpoints not confirmed: {}", flushed.ToString());
    return absl::IsDeadlineExceeded(flushed) ? absl::OkStatus() : flushed;
  }

  // Serializes and queues the checkpoints of `partitions`. With `wait`, waits
  // until they are acknowledged and marks them written; without, leaves that
  // to ConfirmCheckpoint() (the state is copied into the producer now, so
  // the counting may go on meanwhile). REQUIRES: no round in flight (the
  // loop starts none while one is; rebalances and shutdown settle it first).
  absl::Status Checkpoint(const std::vector<Partition*>& partitions, bool only_changed, bool wait) {
    const auto started = Clock::now();
    std::vector<std::pair<PartitionKey, int64_t>> written;
    int64_t round_bytes = 0;
    int64_t queued_bytes = 0;
    for (Partition* p : partitions) {
      if (only_changed && p->checkpointed_offset == p->next_offset) continue;
      const v1::PartitionState state = p->processor->SaveState();
      const uint64_t id = p->checkpoint_id + 1;
      if (absl::Status s = checkpoints_->Write({p->topic, p->partition}, p->next_offset, id, state);
          !s.ok()) {
        return s;
      }
      const auto bytes = static_cast<int64_t>(state.ByteSizeLong());
      round_bytes += bytes;
      written.emplace_back(PartitionKey(p->topic, p->partition), p->next_offset);
      p->checkpoint_id = id;
      // The producer holds a copy of every chunk until it is delivered, and
      // a round writes the whole state of every changed partition: without
      // a wait now and then it would hold all of them at once.
      queued_bytes += bytes;
      if (queued_bytes >= kCheckpointQueueBytes) {
        if (absl::Status flushed = checkpoints_->Flush(kFinalFlushWait); !flushed.ok()) {
          return NotConfirmed(flushed);
        }
        queued_bytes = 0;
      }
    }
    if (written.empty()) return absl::OkStatus();
    pending_checkpoint_ =
        PendingCheckpoint{std::move(written), round_bytes, started, /*warned=*/false};
    return wait ? ConfirmCheckpoint(kFinalFlushWait) : absl::OkStatus();
  }

  // Marks the pending round written once every chunk is acknowledged,
  // waiting up to `timeout` (zero: only looks). Still in flight after a zero
  // timeout: stays pending. Any other outcome settles the round; a failed
  // or timed-out one leaves its partitions' previous checkpoints in force
  // (see NotConfirmed).
  absl::Status ConfirmCheckpoint(absl::Duration timeout) {
    absl::Status flushed = checkpoints_->Flush(timeout);
    if (absl::IsDeadlineExceeded(flushed) && timeout == absl::ZeroDuration()) {
      // As long as a waited-for round may take before it is given up on.
      if (!pending_checkpoint_->warned &&
          SecondsSince(pending_checkpoint_->started) > absl::ToDoubleSeconds(kFinalFlushWait)) {
        pending_checkpoint_->warned = true;
        spdlog::warn(
            "worker: checkpoint round of {} partitions still unconfirmed after {:.0f} s; "
            "the next round waits for it: {}",
            pending_checkpoint_->written.size(), SecondsSince(pending_checkpoint_->started),
            flushed.ToString());
      }
      return absl::OkStatus();
    }
    PendingCheckpoint round = *std::move(pending_checkpoint_);
    pending_checkpoint_.reset();
    if (!flushed.ok()) return NotConfirmed(flushed);
    for (const auto& [key, offset] : round.written) {
      // Partitions leave only through a rebalance, which settles the round
      // first; the lookup is a guard.
      if (auto it = partitions_.find(key); it != partitions_.end()) {
        it->second.checkpointed_offset = offset;
      }
    }
    checkpoints_written_ += static_cast<int64_t>(round.written.size());
    checkpoint_bytes_ += round.bytes;
    last_checkpoint_seconds_ = SecondsSince(round.started);
    spdlog::debug("worker: checkpointed {} partitions in {:.3f} s", round.written.size(),
                  last_checkpoint_seconds_);
    return absl::OkStatus();
  }

  // A partition read from its beginning whose first record is at `offset` >
  // 0. Offsets before the log's start were deleted by the broker (retention);
  // offsets from its start hold no record a consumer is given: transaction
  // markers, aborted transactions, compacted records. The log start is the
  // one librdkafka last fetched (no request).
  void LogFirstOffset(const Partition& p, int64_t offset) {
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic.c_str(), p.partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        low < 0 || low > offset) {
      spdlog::warn(
          "worker: {}[{}] starts at offset {}: the offsets before it were deleted by the broker "
          "(retention), or hold no record (transaction markers, aborted transactions, "
          "compaction); none is counted",
          p.topic, p.partition, offset);
      return;
    }
    if (low > 0) {
      spdlog::warn(
          "worker: {}[{}] starts at offset {}: the records before it were deleted by the broker "
          "(retention) and are not counted",
          p.topic, p.partition, low);
    }
    if (low < offset) {
      spdlog::info(
          "worker: {}[{}]: offsets {} to {} hold no record to count (transaction markers, "
          "aborted transactions, or records removed by compaction); reading from offset {}",
          p.topic, p.partition, low, offset - 1, offset);
    }
  }

  // The checkpointed offset of a partition is no longer in the log.
  absl::Status HandleOffsetReset(const rd_kafka_message_t& message) {
    ++offset_resets_;
    Partition* p = message.rkt != nullptr ? FindPartition(message) : nullptr;
    const std::string where =
        p != nullptr ? absl::StrCat(p->topic, "[", p->partition, "] at offset ", p->next_offset)
                     : std::string("a partition");
    spdlog::error(
        "worker: DATA LOSS: {} is out of range: the broker deleted records (retention) that "
        "were never counted. {}",
        where, rd_kafka_message_errstr(&message));
    if (options_.offset_reset_policy == WorkerOptions::OffsetResetPolicy::kStop || p == nullptr) {
      return absl::DataLossError(absl::StrCat(
          "worker: ", where,
          " is out of range (records deleted before they were counted); stopping, as "
          "offset_reset_policy=stop asks. Use offset_reset_policy=earliest to resume from the "
          "earliest offset and mark the partition"));
    }
    p->data_loss = true;
    // The failed fetch stopped the partition: a seek is refused (_STATE).
    // It is taken out of the assignment and put back, from its beginning;
    // the group's assignment is the same. (Only for cooperative-sticky: an
    // eager re-assignment would re-read the other partitions too.)
    if (!cooperative_sticky_ && !options_.assign_all_partitions) {
      return absl::DataLossError(
          absl::StrCat("worker: ", where,
                       " is out of range, and offset_reset_policy=earliest needs the "
                       "cooperative-sticky assignor to resume it (partition.assignment.strategy)"));
    }
    PartitionListHandle again(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(again.get(), p->topic.c_str(), p->partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    ErrorHandle error(rd_kafka_incremental_unassign(consumer_.get(), again.get()));
    if (error == nullptr) error.reset(rd_kafka_incremental_assign(consumer_.get(), again.get()));
    if (error != nullptr) {
      return ToStatus(error.get(),
                      absl::StrCat("worker: resume ", where, " at the earliest offset"));
    }
    spdlog::error("worker: {}[{}] resumes at its earliest offset; marked as missing records",
                  p->topic, p->partition);
    return absl::OkStatus();
  }

  bool AllAtEnd() const {
    if (partitions_.empty()) return false;
    for (const auto& [key, p] : partitions_) {
      if (!p.reached_end) return false;
    }
    return true;
  }

  PartitionListHandle CommitList(bool only_changed) const {
    PartitionListHandle list(
        rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (const auto& [key, p] : partitions_) {
      if (p.next_offset <= 0) continue;
      if (only_changed && p.next_offset == p.committed_offset) continue;
      rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset =
          p.next_offset;
    }
    return list;
  }

  // Commits the partitions whose offset moved since their last commit.
  void CommitAsync() {
    PartitionListHandle list = CommitList(/*only_changed=*/true);
    if (list->cnt == 0) return;
    if (rd_kafka_commit(consumer_.get(), list.get(), 1) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    for (auto& [key, p] : partitions_) p.committed_offset = p.next_offset;
  }

  // When stopping: a failure here costs nothing (everything is published and
  // checkpointed), so it is not gated on the join state.
  void CommitSync() {
    PartitionListHandle list = CommitList(/*only_changed=*/false);
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
      ps.high_watermark = HighWatermark(p);
      ps.restored = p.restored;
      ps.data_loss = p.data_loss;
      ps.checkpointed_offset = p.checkpointed_offset;
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
    stats.count_delivery_failures = count_delivery_failures_;
    stats.counts_unwatchable = counts_unwatchable_;
    stats.rebalances = rebalances_;
    stats.dead_lettered_by_reason = dead_lettered_by_reason_;
    stats.publish_flushes = publish_flushes_;
    stats.publish_seconds_sum = publish_seconds_sum_;
    stats.last_publish_seconds = last_publish_seconds_;
    stats.last_publish_unix_ms = last_publish_unix_ms_;
    stats.checkpoints_written = checkpoints_written_;
    stats.checkpoint_bytes = checkpoint_bytes_;
    stats.last_checkpoint_seconds = last_checkpoint_seconds_;
    stats.restores = restores_;
    stats.last_restore_seconds = last_restore_seconds_;
    stats.offset_resets = offset_resets_;
    stats.fetch_nudges = nudger_ != nullptr ? nudger_->nudges() : 0;
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
    // An idle worker says so once a minute (at most), not every interval.
    const ProgressSignature signature{records_consumed_, s.counts_published, s.dead_lettered,
                                      rebalances_};
    if (signature == last_logged_ && now - last_logged_at_ < kIdleLogInterval) return;
    last_logged_ = signature;
    last_logged_at_ = now;
    // The partitions' figures cover their whole history as this worker holds
    // them; the rest counts since this worker started.
    spdlog::info(
        "worker: {:.0f} events/s; {} partitions, over their history: read {} = counted {} + "
        "amended {} + duplicates {} + rejected {}{}; since start: dlq {}, counts published {} "
        "({} older than any window left unpublished), fetch nudges {}",
        rate, s.partitions.size(), s.totals.read, s.totals.counted, s.totals.amended,
        s.totals.duplicates, s.totals.rejected, s.totals.Balanced() ? "" : " (UNBALANCED)",
        s.dead_lettered, s.counts_published, s.counts_unwatchable, s.fetch_nudges);
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
  std::unique_ptr<CheckpointStore> checkpoints_;  // null: checkpoints off
  // A checkpoint round queued and not yet acknowledged: each partition and
  // the offset its checkpoint covers.
  struct PendingCheckpoint {
    std::vector<std::pair<PartitionKey, int64_t>> written;
    int64_t bytes = 0;  // their serialized state, in all
    Clock::time_point started;
    bool warned = false;  // logged as slow
  };
  std::optional<PendingCheckpoint> pending_checkpoint_;
  static constexpr int kRestoreAttempts = 30;

  std::map<PartitionKey, Partition> partitions_;
  Partition* last_partition_ = nullptr;  // cache for FindPartition
  const rd_kafka_topic_t* last_rkt_ = nullptr;
  absl::Status callback_error_;  // first error raised inside the rebalance callback
  std::atomic<bool> stop_requested_{false};
  bool closing_ = false;  // inside rd_kafka_consumer_close
  // partition.assignment.strategy has cooperative-sticky, the one
  // COOPERATIVE assignor (InFirstJoin, HandleRebalance).
  bool cooperative_sticky_ = false;
  bool assigned_once_ = false;       // an assignment (even empty) was received
  bool stopping_ = false;            // Run() left its loop: assignments are not read
  bool keep_consumer_ = false;       // never destroy the consumer (InFirstJoin)
  // The batch being collected (CollectBatch); entries dropped by a rebalance
  // are null.
  std::vector<rd_kafka_message_t*> batch_;
  size_t collected_ = 0;
  bool collecting_ = false;
  bool group_steady_ = false;  // the last statistics saw join state "steady"
  // The longest turn of the loop since the group last confirmed the
  // membership (zero: confirmed; ConfirmMembership).
  Clock::duration standstill_ = Clock::duration::zero();
  bool standstill_reported_ = false;  // its warning is logged (once a standstill)
  // After a standstill, the group accepted a commit and no rebalance came
  // since (ConfirmMembership).
  bool commit_accepted_ = false;
  Clock::time_point turn_started_{};      // the current turn of Run()'s loop began
  Clock::time_point callback_done_at_{};  // the last assignment's handling ended
  v1::CountRecord record_;     // reused for every count record published
  Clock::time_point next_commit_{};
  Clock::time_point next_nudge_{};  // earliest next nudge
  bool nudge_held_back_ = false;    // a nudge waits for next_nudge_

  int64_t records_consumed_ = 0;
  int64_t dead_lettered_ = 0;
  int64_t counts_published_ = 0;
  // Count deliveries the producer gave up on (FlushAll), since start.
  int64_t count_delivery_failures_ = 0;
  // The last look at the clock in a publish round (PausedInPublish).
  Clock::time_point publish_seen_{};
  int64_t counts_unwatchable_ = 0;
  absl::Time batch_wall_clock_ = absl::InfinitePast();  // absl::Now() at the current batch
  int64_t rebalances_ = 0;
  std::map<std::string, int64_t> dead_lettered_by_reason_;
  int64_t publish_flushes_ = 0;
  double publish_seconds_sum_ = 0;
  double last_publish_seconds_ = 0;
  int64_t last_publish_unix_ms_ = 0;
  int64_t checkpoints_written_ = 0;
  int64_t checkpoint_bytes_ = 0;
  double last_checkpoint_seconds_ = 0;
  int64_t restores_ = 0;
  double last_restore_seconds_ = 0;
  int64_t offset_resets_ = 0;
  Clock::time_point last_log_time_;
  int64_t last_log_consumed_ = 0;
  // What the last progress line reported: consumed, published, dead-lettered,
  // rebalances.
  using ProgressSignature = std::array<int64_t, 4>;
  static constexpr Clock::duration kIdleLogInterval = std::chrono::seconds(60);
  ProgressSignature last_logged_{-1, -1, -1, -1};
  Clock::time_point last_logged_at_;

  mutable std::mutex stats_mu_;
  WorkerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  // Last: destroyed first (see ~WorkerImpl).
  KafkaHandle consumer_;
  QueueHandle queue_;
  std::vector<TopicHandle> input_topics_;  // kept from Init() on (see there)
  std::unique_ptr<FetchNudger> nudger_;  // null: fetch_nudge_interval is zero
  // Destroys handled messages on its own thread; drained before the
  // consumer closes.
  MessageReaper reaper_;
  std::vector<rd_kafka_message_t*> handled_;  // the batch's, for reaper_
};

}  // namespace ingest_internal

std::optional<WorkerOptions::OffsetResetPolicy> OffsetResetPolicyFromName(std::string_view name) {
  if (name == "stop") return WorkerOptions::OffsetResetPolicy::kStop;
  if (name == "earliest") return WorkerOptions::OffsetResetPolicy::kEarliest;
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options,
                                                       const RegionTable& regions,
                                                       CountSink& sink) {
  auto impl = std::make_unique<ingest_internal::WorkerImpl>(options, regions, sink);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Worker::Worker(std::unique_ptr<ingest_internal::WorkerImpl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;

int CountRecordTimeoutMs(const WorkerOptions& options) { return options.session_timeout_ms / 2; }

absl::Status Worker::Run(const std::atomic<bool>* stop) { return impl_->Run(stop); }
void Worker::RequestStop() { impl_->RequestStop(); }
WorkerStats Worker::stats() const { return impl_->stats(); }

}  // namespace roadpulse
