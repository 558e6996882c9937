// MessageReaper: destroys consumed librdkafka messages on a helper thread.
// Internal to ingest/.
//
// Why. librdkafka allocates each consumed message (and the fetch buffer its
// payload points into) on its broker thread; the worker's thread frees them.
// With glibc's malloc such a free takes the lock of the broker thread's arena
// and competes with that thread's allocations: about a tenth of a worker's
// time while it catches up (BENCHMARKS.md, session 13). Handing the frees to
// a helper takes them off the thread that processes records.
//
// Thread-safe. Every message handed over is destroyed by Drain() or the
// destructor, whichever comes first; call Drain() before the consumer the
// messages came from is closed.
#ifndef ROADPULSE_INGEST_INTERNAL_MESSAGE_REAPER_H_
#define ROADPULSE_INGEST_INTERNAL_MESSAGE_REAPER_H_

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace roadpulse::ingest_internal {

class MessageReaper {
 public:
  // How a message is destroyed; tests count instead.
  using DestroyFn = void (*)(rd_kafka_message_t*);

  // Starts the helper thread.
  explicit MessageReaper(DestroyFn destroy = &rd_kafka_message_destroy);
  ~MessageReaper();  // Drain(), then ends the helper
  MessageReaper(const MessageReaper&) = delete;
  MessageReaper& operator=(const MessageReaper&) = delete;

  // Takes ownership of every message in `messages` (nullptr entries are
  // skipped) and leaves `messages` empty (swapped with a vector the helper
  // emptied, so its capacity is reused). At most one batch waits for the
  // helper: Reap() blocks while one does, so that no more than two batches
  // of messages (and the fetch buffers they hold) are alive in here.
  void Reap(std::vector<rd_kafka_message_t*>& messages);

  // Returns once every message handed over so far is destroyed.
  void Drain();

 private:
  void Loop();

  const DestroyFn destroy_;
  std::mutex mu_;
  std::condition_variable work_;  // pending_ is not empty, or stop_
  std::condition_variable done_;  // pending_ shrank, or the helper went idle
  std::vector<rd_kafka_message_t*> pending_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // the helper is destroying a taken batch
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the rest is initialized
};

}  // namespace roadpulse::ingest_internal

#endif  // ROADPULSE_INGEST_INTERNAL_MESSAGE_REAPER_H_
