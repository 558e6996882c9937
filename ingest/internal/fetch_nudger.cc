#include "ingest/internal/fetch_nudger.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace roadpulse::ingest_internal {
namespace {

// Long enough for a leader's answer, short enough for Stop().
constexpr int kQueryTimeoutMs = 5000;

}  // namespace

FetchNudger::FetchNudger(rd_kafka_t* consumer) : consumer_(consumer), thread_([this] { Loop(); }) {}

FetchNudger::~FetchNudger() { Stop(); }

void FetchNudger::Nudge(PartitionListHandle partitions) {
  if (partitions == nullptr || partitions->cnt == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    pending_ = std::move(partitions);
  }
  wake_.notify_one();
}

void FetchNudger::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

int64_t FetchNudger::nudges() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nudges_;
}

void FetchNudger::Loop() {
  while (true) {
    PartitionListHandle partitions;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stop_ || pending_ != nullptr; });
      if (stop_) return;
      partitions = std::move(pending_);
      ++nudges_;
    }
    for (int i = 0; i < partitions->cnt; ++i) partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
    // Blocks until every leader answered or the timeout; the request itself
    // did the work (the fetcher's broker thread woke up to send it).
    if (rd_kafka_resp_err_t err =
            rd_kafka_offsets_for_times(consumer_, partitions.get(), kQueryTimeoutMs);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::debug("worker: end-offset query (fetch nudge) failed: {}", rd_kafka_err2name(err));
    }
  }
}

}  // namespace roadpulse::ingest_internal
