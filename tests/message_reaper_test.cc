// MessageReaper (ingest/internal/message_reaper.h): every message handed over
// is destroyed exactly once, by Drain() or the destructor, and at most one
// batch waits for the helper. The messages here are plain structs that only
// the counting destroy function below ever touches.
#include "ingest/internal/message_reaper.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace roadpulse::ingest_internal {
namespace {

// What the destroy function saw. Function pointers carry no state: one
// global, reset by each test.
struct Seen {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<int> destroyed_times;  // per message index (the struct's `partition`)
  bool hold = false;                 // destroy blocks while true
  int entered = 0;                   // destroy calls begun
};
Seen* seen = nullptr;

void CountingDestroy(rd_kafka_message_t* m) {
  std::unique_lock<std::mutex> lock(seen->mu);
  ++seen->entered;
  seen->changed.notify_all();
  seen->changed.wait(lock, [] { return !seen->hold; });
  ++seen->destroyed_times[static_cast<size_t>(m->partition)];
}

class MessageReaperTest : public ::testing::Test {
 protected:
  static constexpr int kMessages = 1000;
  void SetUp() override {
    seen = &seen_;
    seen_.destroyed_times.assign(kMessages, 0);
    messages_.resize(kMessages);
    for (int i = 0; i < kMessages; ++i) messages_[static_cast<size_t>(i)].partition = i;
  }
  void TearDown() override { seen = nullptr; }

  // Messages [from, to) as a batch, with a nullptr where `gap` says.
  std::vector<rd_kafka_message_t*> Batch(int from, int to, int gap = -1) {
    std::vector<rd_kafka_message_t*> batch;
    for (int i = from; i < to; ++i) batch.push_back(&messages_[static_cast<size_t>(i)]);
    if (gap >= 0) batch.insert(batch.begin() + gap, nullptr);
    return batch;
  }
  // Hands messages [0, n) to `reaper` (whose destroy is held) and returns
  // once its helper is stuck destroying them.
  void ReapAndWaitUntilHeld(MessageReaper& reaper, int n) {
    std::vector<rd_kafka_message_t*> batch = Batch(0, n);
    reaper.Reap(batch);
    std::unique_lock<std::mutex> lock(seen_.mu);
    seen_.changed.wait(lock, [this] { return seen_.entered > 0; });
  }
  // Messages [0, n) were destroyed exactly once.
  void ExpectDestroyedOnce(int n) {
    std::lock_guard<std::mutex> lock(seen_.mu);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(seen_.destroyed_times[static_cast<size_t>(i)], 1) << "message " << i;
    }
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(seen_.mu);
      seen_.hold = false;
    }
    seen_.changed.notify_all();
  }

  Seen seen_;
  std::vector<rd_kafka_message_t> messages_;
};

TEST_F(MessageReaperTest, DrainDestroysEveryMessageOnce) {
  MessageReaper reaper(&CountingDestroy);
  for (int from = 0; from < kMessages; from += 100) {
    std::vector<rd_kafka_message_t*> batch = Batch(from, from + 100, /*gap=*/7);
    reaper.Reap(batch);
    EXPECT_TRUE(batch.empty()) << "the caller's vector comes back empty";
  }
  reaper.Drain();
  ExpectDestroyedOnce(kMessages);
}

TEST_F(MessageReaperTest, DestructorDestroysWhatIsLeft) {
  {
    MessageReaper reaper(&CountingDestroy);
    std::vector<rd_kafka_message_t*> batch = Batch(0, kMessages);
    reaper.Reap(batch);
  }
  ExpectDestroyedOnce(kMessages);
}

TEST_F(MessageReaperTest, AtMostOneBatchWaits) {
  seen_.hold = true;
  MessageReaper reaper(&CountingDestroy);
  ReapAndWaitUntilHeld(reaper, 10);  // the first batch
  std::vector<rd_kafka_message_t*> second = Batch(10, 20);
  reaper.Reap(second);  // waits in the helper's queue
  std::promise<void> third_taken;
  std::thread third_caller([&] {
    std::vector<rd_kafka_message_t*> third = Batch(20, 30);
    reaper.Reap(third);  // must wait for the second batch to be taken
    third_taken.set_value();
  });
  std::future<void> taken = third_taken.get_future();
  EXPECT_EQ(taken.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "a third batch was accepted while one was still waiting";
  Release();
  taken.wait();
  third_caller.join();
  reaper.Drain();
  ExpectDestroyedOnce(30);
}

TEST_F(MessageReaperTest, DrainWaitsForTheBatchBeingDestroyed) {
  seen_.hold = true;
  MessageReaper reaper(&CountingDestroy);
  ReapAndWaitUntilHeld(reaper, 10);
  // The helper holds the batch (nothing is pending): Drain must still wait.
  std::future<void> drained = std::async(std::launch::async, [&] { reaper.Drain(); });
  EXPECT_EQ(drained.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "Drain returned while a batch was still being destroyed";
  Release();
  drained.wait();
  ExpectDestroyedOnce(10);
}

}  // namespace
}  // namespace roadpulse::ingest_internal
