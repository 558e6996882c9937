// FetchNudger: keeps a librdkafka consumer fetching while its application
// works through a backlog. Internal to ingest/.
//
// Why. A consumer's fetcher stops asking a broker for records once the
// pre-fetch queue holds queued.min.messages records (or
// queued.max.messages.kbytes). librdkafka before 2.3.0 looks at the queue
// again only when that broker's thread next wakes: for a request to send, a
// response, or after one second (rd_kafka_max_block_ms). A consumer that
// processes records more slowly than the broker delivers them therefore
// waits out that second each time the queue fills: a worker catching up read
// about 150 k records/s, the queue's worth per second, however fast it
// processed (BENCHMARKS.md). librdkafka 2.3.0 added fetch.queue.backoff.ms
// for this; Debian 12 ships 2.0.2.
//
// What it does. Nudge() has a helper thread ask the leaders of some
// partitions for their end offsets (rd_kafka_offsets_for_times: one
// ListOffsets request per leader). Queuing the request wakes each leader's
// broker thread, which then looks at the queue again and fetches if there is
// room. Positions, assignments and fetched records are untouched; the answer
// is discarded.
//
// Thread-safe. The consumer is borrowed: Stop() (or the destructor) must
// return before it is closed or destroyed.
#ifndef ROADPULSE_INGEST_INTERNAL_FETCH_NUDGER_H_
#define ROADPULSE_INGEST_INTERNAL_FETCH_NUDGER_H_

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "ingest/internal/rdkafka_handles.h"

namespace roadpulse::ingest_internal {

class FetchNudger {
 public:
  // Starts the helper thread. `consumer` must outlive Stop().
  explicit FetchNudger(rd_kafka_t* consumer);
  ~FetchNudger();  // Stop()
  FetchNudger(const FetchNudger&) = delete;
  FetchNudger& operator=(const FetchNudger&) = delete;

  // Returns at once; the helper wakes the leaders of `partitions`
  // (non-empty; offsets are ignored) as soon as the nudge under way, if any,
  // is answered. A nudge still waiting for its turn is replaced: at most one
  // waits.
  void Nudge(PartitionListHandle partitions);

  // Waits for a nudge under way (at most its 5 s timeout), then ends the
  // helper. Idempotent.
  void Stop();

  // Nudges sent since construction.
  int64_t nudges() const;

 private:
  void Loop();

  rd_kafka_t* const consumer_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  PartitionListHandle pending_ ABSL_GUARDED_BY(mu_);  // the nudge waiting for its turn
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t nudges_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: started once the rest is initialized
};

}  // namespace roadpulse::ingest_internal

#endif  // ROADPULSE_INGEST_INTERNAL_FETCH_NUDGER_H_
