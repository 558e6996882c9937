#include "sinks/count_view.h"

#include <thread>
#include <utility>

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
