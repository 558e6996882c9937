#include "ingest/internal/message_reaper.h"

#include <utility>

namespace roadpulse::ingest_internal {

MessageReaper::MessageReaper(DestroyFn destroy) : destroy_(destroy), thread_([this] { Loop(); }) {}

MessageReaper::~MessageReaper() {
  Drain();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void MessageReaper::Reap(std::vector<rd_kafka_message_t*>& messages) {
  if (messages.empty()) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_.empty(); });
    // The caller gets the empty pending_ back: a vector the helper emptied,
    // with room for a batch.
    std::swap(pending_, messages);
  }
  work_.notify_one();
}

void MessageReaper::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_.empty() && !busy_; });
}

void MessageReaper::Loop() {
  std::vector<rd_kafka_message_t*> taken;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stop_, and nothing left
    std::swap(taken, pending_);
    busy_ = true;
    lock.unlock();
    done_.notify_all();  // room for the next Reap
    for (rd_kafka_message_t* m : taken) {
      if (m != nullptr) destroy_(m);
    }
    taken.clear();
    lock.lock();
    busy_ = false;
    done_.notify_all();
  }
}

}  // namespace roadpulse::ingest_internal
