// CountView: the read model of `roadpulse serve` (and of `roadpulse demo`).
//
// One thread runs Run(): it reads roadpulse.counts with a CountReader into a
// live CountStore that only that thread touches (CountStore is not
// thread-safe), first to the end (ReadToEnd, then the view is *ready*), then
// following new records. After applied batches, at most every
// `min_snapshot_interval`, it publishes an immutable copy of the store: a
// ViewSnapshot. Any number of other threads (HTTP handlers, the SSE stream,
// /metrics) read snapshots; they never see the live store, so they can never
// race the reader. Snapshots are shared_ptr<const>: a handler keeps the one it
// started with while newer ones are published.
#ifndef ROADPULSE_SINKS_COUNT_VIEW_H_
#define ROADPULSE_SINKS_COUNT_VIEW_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "processors/count_store.h"
#include "processors/region_table.h"
#include "sinks/count_reader.h"

namespace roadpulse {

// An immutable state of the view.
struct ViewSnapshot {
  uint64_t version = 0;                      // 0: nothing read yet; +1 per published snapshot
  std::shared_ptr<const CountStore> store;   // never null
  CountReadStats reads;                      // of the reader, when taken
  bool ready = false;                        // caught up with roadpulse.counts (ReadToEnd done)
  // Why the counts topic cannot be read now (the last attempt's error), while
  // RunWithRetries waits to try again; empty while reading or caught up.
  std::string waiting;
  absl::Time taken_at = absl::InfinitePast();
};

struct CountViewOptions {
  // Least time between two snapshots (copies of the store) while records
  // keep arriving; the last change is always published.
  absl::Duration min_snapshot_interval = absl::Milliseconds(100);
  // RunWithRetries: the wait after the first failed attempt, doubled after
  // each further one up to `max_retry_wait`.
  absl::Duration first_retry_wait = absl::Seconds(1);
  absl::Duration max_retry_wait = absl::Seconds(15);
};

// Reader properties for a live view: the broker answers a fetch as soon as
// data arrives, or after fetch.wait.max.ms (librdkafka's 500 ms default would
// add up to half a second to the time a new count takes to show).
inline void SetLiveReaderDefaults(CountReaderOptions& options) {
  options.properties.emplace("fetch.wait.max.ms", "100");
}

// Thread-safe, except that Run() and RunWithRetries() are called by one
// thread at a time.
class CountView {
 public:
  // `regions` must outlive this object.
  explicit CountView(const RegionTable& regions, CountViewOptions options = {});
  CountView(const CountView&) = delete;
  CountView& operator=(const CountView&) = delete;

  // Reads `reader` to the end, publishes a ready snapshot, then follows it
  // until `stop` is true. `after_batch` (may be empty) is called on this
  // thread after each applied batch with the live store, which it may read
  // but not keep (the demo's terminal table). Returns the reader's errors.
  // `reader` must outlive the call.
  absl::Status Run(CountReader& reader, const std::atomic<bool>& stop,
                   const std::function<void(const CountStore&, const CountReadStats&)>&
                       after_batch = {});

  // Creates a CountReader from `options` and Runs it, and keeps doing so
  // until `stop`: while the cluster cannot be reached, the topic is missing
  // or a read fails, the view is not ready, its snapshot says why
  // (ViewSnapshot::waiting, keeping the counts it had), and the next attempt
  // follows after a wait (CountViewOptions). So a server started before its
  // broker answers /healthz, and /readyz with 503 and the reason, instead of
  // exiting. Returns OK once `stop` is true, or kInvalidArgument at once when
  // the options are bad (no attempt can succeed).
  absl::Status RunWithRetries(const CountReaderOptions& options, const std::atomic<bool>& stop);

  // The newest snapshot (never null).
  std::shared_ptr<const ViewSnapshot> snapshot() const;
  // Blocks until a snapshot with a version above `version` exists, or
  // `timeout` passed; returns the newest snapshot either way.
  std::shared_ptr<const ViewSnapshot> WaitNewer(uint64_t version, absl::Duration timeout) const;
  // Wakes every WaitNewer (e.g. at shutdown).
  void WakeAll();

  const RegionTable& regions() const { return regions_; }
  const absl::TimeZone& time_zone() const { return regions_.zone(); }

 private:
  void Publish(const CountStore& live, const CountReadStats& stats, bool ready);
  // Publishes the current snapshot again, not ready, with `reason`.
  void SetWaiting(std::string reason);

  const RegionTable& regions_;
  const CountViewOptions options_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::shared_ptr<const ViewSnapshot> snapshot_;  // guarded by mu_
};

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_COUNT_VIEW_H_
