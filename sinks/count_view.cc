#include "sinks/count_view.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace roadpulse {

CountView::CountView(const RegionTable& regions, CountViewOptions options)
    : regions_(regions), options_(options) {
  auto first = std::make_shared<ViewSnapshot>();
  first->store = std::make_shared<const CountStore>(regions_);
  snapshot_ = std::move(first);
}

std::shared_ptr<const ViewSnapshot> CountView::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

std::shared_ptr<const ViewSnapshot> CountView::WaitNewer(uint64_t version,
                                                         absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                    [&] { return snapshot_->version > version; });
  return snapshot_;
}

void CountView::WakeAll() { changed_.notify_all(); }

void CountView::Publish(const CountStore& live, const CountReadStats& stats, bool ready) {
  // The copy is made outside the lock; readers keep using the old snapshot.
  auto next = std::make_shared<ViewSnapshot>();
  const absl::Time now = absl::Now();
  next->store = std::make_shared<const CountStore>(live);
  next->reads = stats;
  next->ready = ready;
  next->taken_at = now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next->version = snapshot_->version + 1;
    snapshot_ = std::move(next);
  }
  changed_.notify_all();
}

void CountView::SetWaiting(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto next = std::make_shared<ViewSnapshot>(*snapshot_);  // shares the store
    next->version = snapshot_->version + 1;
    next->ready = false;
    next->waiting = std::move(reason);
    snapshot_ = std::move(next);
  }
  changed_.notify_all();
}

absl::Status CountView::RunWithRetries(const CountReaderOptions& options,
                                       const std::atomic<bool>& stop) {
  CountReaderOptions cancellable = options;
  cancellable.cancel = &stop;
  absl::Duration wait = options_.first_retry_wait;
  for (int attempt = 1; !stop.load(); ++attempt) {
    absl::Status s;
    if (absl::StatusOr<std::unique_ptr<CountReader>> reader = CountReader::Create(cancellable);
        reader.ok()) {
      if (!snapshot()->waiting.empty()) SetWaiting("");  // reading again: catching up
      s = Run(**reader, stop);
      if (s.ok()) return s;  // stopped
      // A view that got ready worked until now: start the waits afresh.
      if (snapshot()->ready) wait = options_.first_retry_wait;
    } else {
      s = reader.status();
    }
    if (absl::IsInvalidArgument(s)) return s;
    if (stop.load()) break;
    SetWaiting(absl::StrCat(s.message(), " (bootstrap.servers ", options.bootstrap_servers, ")"));
    spdlog::warn("view: cannot read {} (attempt {}): {}; trying again in {}", options.topic,
                 attempt, std::string(s.message()), absl::FormatDuration(wait));
    const absl::Time until = absl::Now() + wait;
    while (!stop.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
    wait = std::min(wait * 2, options_.max_retry_wait);
  }
  return absl::OkStatus();
}

absl::Status CountView::Run(
    CountReader& reader, const std::atomic<bool>& stop,
    const std::function<void(const CountStore&, const CountReadStats&)>& after_batch) {
  CountStore live(regions_);
  const absl::Time t0 = absl::Now();
  absl::StatusOr<CountReadStats> read = reader.ReadToEnd(live);
  if (!read.ok()) return read.status();
  spdlog::info("view: caught up with the counts topic in {}: {} records ({} refused)",
               absl::FormatDuration(absl::Now() - t0), read->records, read->invalid);
  CountReadStats stats = *read;
  Publish(live, stats, /*ready=*/true);
  if (after_batch) after_batch(live, stats);

  // Follow in slices: a batch that arrives less than min_snapshot_interval
  // after the last snapshot ends the slice, and its snapshot is published
  // once the interval has passed (so the last change is never held back).
  // librdkafka keeps fetching in the background meanwhile.
  // Follow() watches one flag, so a watcher turns `stop` into the slice's.
  absl::Time last_publish = absl::Now();
  std::atomic<bool> slice_stop{false};
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (stop.load()) slice_stop.store(true);
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  bool pending = false;
  absl::Status result;
  while (!stop.load()) {
    slice_stop.store(false);
    std::atomic<bool>* slice = &slice_stop;
    absl::Status s = reader.Follow(live, slice_stop, [&](const CountReadStats& st) {
      stats = st;
      if (after_batch) after_batch(live, stats);
      const absl::Time now = absl::Now();
      if (now - last_publish >= options_.min_snapshot_interval) {
        Publish(live, stats, true);
        last_publish = now;
        pending = false;
      } else {
        pending = true;
        slice->store(true);
      }
    });
    if (!s.ok()) {
      result = s;
      break;
    }
    if (pending && !stop.load()) {
      absl::SleepFor(last_publish + options_.min_snapshot_interval - absl::Now());
      Publish(live, stats, true);
      last_publish = absl::Now();
      pending = false;
    }
  }
  done.store(true);
  watcher.join();
  WakeAll();
  return result;
}

}  // namespace roadpulse
