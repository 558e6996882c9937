#include "ingest/replayer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "ingest/partitioner.h"
#include "processors/count_record.h"

namespace roadpulse {
namespace {

// Records per batch handed to a worker, and batches queued per worker (so
// that memory stays a few MiB whatever the input's size).
constexpr size_t kBatchRecords = 2048;
constexpr size_t kMaxQueued = 8;
// How far ahead in a batch a worker prefetches dedup state.
constexpr size_t kPrefetchAhead = 4;

absl::Time RecordTime(const SourceRecord& record) {
  return record.timestamp_unix_ms != 0 ? absl::FromUnixMillis(record.timestamp_unix_ms)
                                       : absl::InfinitePast();
}

}  // namespace

struct Replayer::Partition {
  Partition(EventKind kind, const RegionTable& regions, const ProcessorOptions& options)
      : processor(kind, regions, options) {}
  PartitionProcessor processor;
  int64_t next_offset = 0;  // records processed: the offset the next one would have
};

// Submitted records on their way to a worker: the values' bytes, copied.
struct Replayer::Batch {
  struct Item {
    uint32_t kind = 0;  // index into partitions_
    int32_t partition = 0;
    size_t offset = 0;
    size_t size = 0;
    absl::Time record_time;
    int64_t record = 0;
    RecordPosition position;
  };
  std::string bytes;
  std::vector<Item> items;
};

// A thread processing the batches of the partitions it owns.
class Replayer::Worker {
 public:
  explicit Worker(Replayer* owner) : owner_(owner) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Worker() { Close(); }

  // Queues a batch; waits while kMaxQueued are queued.
  void Push(std::unique_ptr<Batch> batch) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [this] { return queue_.size() < kMaxQueued; });
    queue_.push_back(std::move(batch));
    not_empty_.notify_one();
  }

  // An empty batch, reusing a processed one's memory when there is one.
  std::unique_ptr<Batch> TakeEmpty() {
    std::lock_guard<std::mutex> lock(mu_);
    if (spare_.empty()) return std::make_unique<Batch>();
    std::unique_ptr<Batch> b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }

  // Processes what is queued, then stops the thread. Idempotent.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      not_empty_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

  // Moves out the refusals of processed batches; *done_through is the
  // record number of the last item processed (0 before any).
  void TakeDone(std::vector<Refusal>* out, int64_t* done_through) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Refusal& r : done_) out->push_back(std::move(r));
    done_.clear();
    *done_through = done_through_;
  }

  // Read after Close() only.
  std::array<int64_t, kRejectReasonCount> rejected_by_reason{};
  SettledSums settled;  // of this worker's partitions

 private:
  void Run() {
    while (true) {
      std::unique_ptr<Batch> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        not_empty_.wait(lock, [this] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
        not_full_.notify_one();
      }
      std::vector<Refusal> refusals;
      const std::vector<Batch::Item>& items = batch->items;
      for (size_t i = 0; i < items.size(); ++i) {
        const Batch::Item& item = items[i];
        // As the worker does: a hint for a record a little ahead (its dedup
        // state is a cache miss otherwise).
        if (i + kPrefetchAhead < items.size()) {
          const Batch::Item& next = items[i + kPrefetchAhead];
          owner_->partitions_[next.kind][static_cast<size_t>(next.partition)]->processor.Prefetch(
              std::string_view(batch->bytes).substr(next.offset, next.size));
        }
        Partition& p = *owner_->partitions_[item.kind][static_cast<size_t>(item.partition)];
        const ProcessResult r = p.processor.Process(
            std::string_view(batch->bytes).substr(item.offset, item.size), item.record_time);
        ++p.next_offset;
        if (!p.processor.settled().empty()) owner_->TakeSettled(p.processor, settled);
        if (r.outcome == Outcome::kRejected) {
          ++rejected_by_reason[static_cast<size_t>(r.reason)];
          refusals.push_back(
              Refusal{item.record, item.position, r.reason, r.detail, r.too_late_occurred_at});
        }
      }
      const int64_t last = batch->items.empty() ? 0 : batch->items.back().record;
      batch->bytes.clear();
      batch->items.clear();
      std::lock_guard<std::mutex> lock(mu_);
      for (Refusal& r : refusals) done_.push_back(std::move(r));
      done_through_ = std::max(done_through_, last);
      spare_.push_back(std::move(batch));
    }
  }

  Replayer* const owner_;
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::unique_ptr<Batch>> queue_;
  std::vector<std::unique_ptr<Batch>> spare_;
  std::vector<Refusal> done_;  // refusals of processed batches, in record order
  int64_t done_through_ = 0;
  bool closed_ = false;
  std::thread thread_;
};


Replayer::Replayer(const RegionTable& regions, ReplayOptions options)
    : regions_(regions), options_(std::move(options)) {
  if (options_.threads > 1) {
    // Every partition exists before the workers start: they only read
    // partitions_, each touching its own processors.
    for (v1::EventKind kind : {v1::EVENT_KIND_INCIDENT, v1::EVENT_KIND_VIOLATION}) {
      for (int32_t p = 0; p < options_.partitions; ++p) Get(kind, p);
    }
    for (int32_t t = 0; t < options_.threads; ++t) {
      workers_.push_back(std::make_unique<Worker>(this));
      filling_.push_back(workers_.back()->TakeEmpty());
      last_pushed_.push_back(0);
    }
  }
}

Replayer::~Replayer() { Finish(); }

void Replayer::Refuse(int64_t record, RecordPosition position, const ProcessResult& result) {
  refusals_.push_back(
      Refusal{record, position, result.reason, result.detail, result.too_late_occurred_at});
}

void Replayer::Submit(const SourceRecord& record, RecordPosition position) {
  const int64_t n = ++submitted_;
  if (workers_.empty()) {
    const ProcessResult& r = Process(record);
    if (r.outcome == Outcome::kRejected) Refuse(n, position, r);
    return;
  }
  if (record.kind != v1::EVENT_KIND_INCIDENT && record.kind != v1::EVENT_KIND_VIOLATION) {
    // As ProcessAt: refused here, on this thread.
    Refuse(n, position, ProcessAt(record.kind, 0, record.value, absl::InfinitePast()));
    return;
  }
  const int32_t partition = KafkaPartitionForKey(record.key, options_.partitions);
  const size_t t = static_cast<size_t>(partition % options_.threads);
  Batch& b = *filling_[t];
  Batch::Item item;
  item.kind = record.kind == v1::EVENT_KIND_VIOLATION ? 1 : 0;
  item.partition = partition;
  item.offset = b.bytes.size();
  item.size = record.value.size();
  item.record_time = RecordTime(record);
  item.record = n;
  item.position = position;
  b.bytes.append(record.value.data(), record.value.size());
  b.items.push_back(item);
  if (b.items.size() >= kBatchRecords) {
    last_pushed_[t] = n;
    workers_[t]->Push(std::move(filling_[t]));
    filling_[t] = workers_[t]->TakeEmpty();
  }
}

void Replayer::Finish() {
  if (finished_) return;
  finished_ = true;
  for (size_t t = 0; t < workers_.size(); ++t) {
    if (!filling_[t]->items.empty()) {
      last_pushed_[t] = filling_[t]->items.back().record;
      workers_[t]->Push(std::move(filling_[t]));
    }
    workers_[t]->Close();
    for (size_t r = 0; r < kRejectReasonCount; ++r) {
      rejected_by_reason_[r] += workers_[t]->rejected_by_reason[r];
    }
  }
}

std::vector<Refusal> Replayer::TakeRefusals() {
  // Everything up to `frontier` is processed: for each worker, the records
  // before its first unprocessed one.
  int64_t frontier = submitted_;
  for (size_t t = 0; t < workers_.size(); ++t) {
    int64_t done_through = 0;
    workers_[t]->TakeDone(&refusals_, &done_through);
    if (done_through < last_pushed_[t]) {
      frontier = std::min(frontier, done_through);  // its next one is after this
    } else if (!finished_ && !filling_[t]->items.empty()) {
      frontier = std::min(frontier, filling_[t]->items.front().record - 1);
    }
  }
  // Held refusals, this thread's own (records of no kind) and the workers'
  // come in separate runs: sort them (record numbers are unique).
  std::sort(refusals_.begin(), refusals_.end(),
            [](const Refusal& a, const Refusal& b) { return a.record < b.record; });
  const auto end = std::find_if(refusals_.begin(), refusals_.end(),
                                [frontier](const Refusal& r) { return r.record > frontier; });
  std::vector<Refusal> out(std::make_move_iterator(refusals_.begin()),
                           std::make_move_iterator(end));
  refusals_.erase(refusals_.begin(), end);
  return out;
}

Replayer::Partition& Replayer::Get(v1::EventKind kind, int32_t partition) {
  const size_t k = kind == v1::EVENT_KIND_VIOLATION ? 1 : 0;
  auto& list = partitions_[k];
  if (static_cast<size_t>(partition) >= list.size()) list.resize(partition + 1);
  std::unique_ptr<Partition>& p = list[partition];
  if (p == nullptr) {
    p = std::make_unique<Partition>(k == 1 ? EventKind::kViolation : EventKind::kIncident,
                                    regions_, options_.processor);
  }
  return *p;
}

const ProcessResult& Replayer::Process(const SourceRecord& record) {
  return ProcessAt(record.kind, KafkaPartitionForKey(record.key, options_.partitions),
                   record.value, RecordTime(record));
}

const ProcessResult& Replayer::ProcessAt(v1::EventKind kind, int32_t partition,
                                         std::string_view value, absl::Time record_time) {
  if (kind != v1::EVENT_KIND_INCIDENT && kind != v1::EVENT_KIND_VIOLATION) {
    // No input topic would hold it; the producer refuses such records.
    ++unknown_kind_;
    last_.outcome = Outcome::kRejected;
    last_.reason = RejectReason::kMissingField;
    last_.detail = "record has no event kind (neither incident nor violation)";
    ++rejected_by_reason_[static_cast<size_t>(last_.reason)];
    return last_;
  }
  Partition& p = Get(kind, partition);
  last_ = p.processor.Process(value, record_time);
  ++p.next_offset;
  if (!p.processor.settled().empty()) TakeSettled(p.processor, settled_);
  if (last_.outcome == Outcome::kRejected) ++rejected_by_reason_[static_cast<size_t>(last_.reason)];
  return last_;
}

void Replayer::TakeSettled(PartitionProcessor& p, SettledSums& sums) const {
  for (const PartitionProcessor::SettledDay& d : p.settled()) {
    if (!Publishes(d.key)) continue;
    MetricValues& sum = sums[{d.key.region_index, d.key.start_unix_s}];
    for (size_t i = 0; i < kMetricCount; ++i) sum[i] += d.values[i];
  }
  p.ClearSettled();
}

absl::Status Replayer::PublishTo(CountStore& store) const {
  size_t records = store.record_count();
  for (const auto& list : partitions_) {
    for (const auto& p : list) {
      if (p != nullptr) records += p->processor.dirty_count();
    }
  }
  store.Reserve(records);
  absl::Status status;
  for (size_t k = 0; k < partitions_.size(); ++k) {
    const std::string& topic = k == 1 ? options_.violations_topic : options_.incidents_topic;
    for (size_t i = 0; i < partitions_[k].size(); ++i) {
      const Partition* p = partitions_[k][i].get();
      if (p == nullptr) continue;
      p->processor.ForEachDirty([&](const BucketKey& key, const MetricValues& values) {
        if (!status.ok() || !Publishes(key)) return;
        status = store.Apply(MakeCountRecord(regions_, topic, static_cast<int32_t>(i), key,
                                             values, p->next_offset, 0));
      });
      if (!status.ok()) return status;
    }
  }
  // Settled days: final, and summed over partitions already.
  std::vector<const SettledSums*> settled = {&settled_};
  for (const auto& w : workers_) settled.push_back(&w->settled);
  for (const SettledSums* sums : settled) {
    for (const auto& [unit_day, values] : *sums) {
      status = store.AddSettledDay(unit_day.first, unit_day.second, values);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

ReplayTally Replayer::tally() const {
  ReplayTally t;
  for (const auto& list : partitions_) {
    for (const auto& p : list) {
      if (p == nullptr) continue;
      const PartitionTally& pt = p->processor.tally();
      t.totals.read += pt.read;
      t.totals.counted += pt.counted;
      t.totals.amended += pt.amended;
      t.totals.duplicates += pt.duplicates;
      t.totals.rejected += pt.rejected;
    }
  }
  t.totals.read += unknown_kind_;
  t.totals.rejected += unknown_kind_;
  t.rejected_by_reason = rejected_by_reason_;
  return t;
}

std::optional<Replayer::EventSpan> Replayer::event_span() const {
  std::optional<EventSpan> span;
  for (const auto& list : partitions_) {
    for (const auto& p : list) {
      if (p == nullptr || p->processor.earliest() == absl::InfiniteFuture()) continue;
      if (!span.has_value()) span = EventSpan{absl::InfiniteFuture(), absl::InfinitePast()};
      span->earliest = std::min(span->earliest, p->processor.earliest());
      span->latest = std::max(span->latest, p->processor.watermark());
    }
  }
  return span;
}

}  // namespace roadpulse
