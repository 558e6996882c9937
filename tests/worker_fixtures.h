// What the worker tests put on their mock cluster: its topics and the input
// events they produce; and a run of a worker to the end of its input.
#ifndef ROADPULSE_TESTS_WORKER_FIXTURES_H_
#define ROADPULSE_TESTS_WORKER_FIXTURES_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "processors/count_store.h"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"
#include "sinks/count_reader.h"
#include "sinks/kafka_count_sink.h"
#include "tests/kafka_test_util.h"
#include "tests/test_regions.h"

namespace roadpulse::testing {

// The topics a worker reads and writes, at their default names: the two
// input topics with `input_partitions` each, the counts with 2, the DLQ with
// 1, each with one replica.
inline std::vector<TopicSpec> WorkerTopics(int input_partitions) {
  return {{"roadpulse.incidents", input_partitions, 1},
          {"roadpulse.violations", input_partitions, 1},
          {"roadpulse.counts", 2, 1},
          {"roadpulse.dlq", 1, 1}};
}

// Noon of yesterday in Asia/Shanghai: inside every retention horizon and
// every "last 7 days" window, never in the future.
inline absl::Time NoonYesterday() {
  const absl::TimeZone shanghai = Shanghai();
  return absl::FromCivil(absl::CivilSecond(absl::ToCivilDay(absl::Now(), shanghai) - 1) + 12 * 3600,
                         shanghai);
}

// A valid violation: a car speeding in Bincheng District (371602), occurred
// and reported at the given seconds after `base`.
inline v1::ViolationEvent BinchengSpeeding(const std::string& id, absl::Time base,
                                           int64_t occurred_s, int64_t reported_s) {
  v1::ViolationEvent e;
  e.set_id(id);
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(base) + occurred_s);
  e.mutable_reported_at()->set_seconds(absl::ToUnixSeconds(base) + reported_s);
  e.mutable_location()->set_region_code("371602");
  e.set_type(v1::VIOLATION_TYPE_SPEEDING);
  e.set_vehicle(v1::VEHICLE_CATEGORY_CAR);
  return e;
}

// Appends `n` valid violations to partition 0 of roadpulse.violations, ids
// `prefix` followed by first .. first + n - 1 (BinchengSpeeding, occurred i s
// and reported i + 300 s after `base`), and waits for their delivery. A fatal
// test failure when one is refused.
inline void AppendSpeeding(KafkaProducer& producer, const std::string& prefix, absl::Time base,
                           int first, int n) {
  for (int i = first; i < first + n; ++i) {
    const v1::ViolationEvent e = BinchengSpeeding(absl::StrCat(prefix, i), base, i, i + 300);
    ASSERT_TRUE(
        producer.Produce("roadpulse.violations", e.id(), e.SerializeAsString(), {}, 0).ok());
  }
  ASSERT_TRUE(producer.Flush(absl::Seconds(30)).ok());
}

// Runs `worker`'s Run(nullptr) on a thread of its own, from construction
// until Join() or the destructor (which asks the worker to stop first).
class WorkerThread {
 public:
  explicit WorkerThread(Worker& worker)
      : worker_(worker), thread_([this] {
          status_ = worker_.Run(nullptr);
          returned_ = true;
        }) {}
  ~WorkerThread() {
    worker_.RequestStop();
    if (thread_.joinable()) thread_.join();
  }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // True once Run() returned (by itself, or after Join asked it to).
  bool returned() const { return returned_.load(); }
  // What Run() returned; only after returned() is true.
  const absl::Status& status() const { return status_; }
  // Asks the worker to stop, waits for Run() to return, and returns its status.
  const absl::Status& Join() {
    worker_.RequestStop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  Worker& worker_;
  absl::Status status_;
  std::atomic<bool> returned_{false};
  std::thread thread_;  // last: started once the members above exist
};

// Polls `done` every 5 ms until it holds (true) or `patience` passes (false).
template <typename Pred>
bool Eventually(Pred done, absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Polls `worker`'s stats, the last kept in *last, until `done` holds them
// (true) or `patience` passes (false).
template <typename Pred>
bool WaitForStats(const Worker& worker, Pred done, absl::Duration patience, WorkerStats* last) {
  return Eventually(
      [&] {
        *last = worker.stats();
        return done(*last);
      },
      patience);
}

// Reads roadpulse.counts on `bootstrap_servers` from its beginning to its end
// into `store`, as `serve` and `report` do; a fatal test failure when the
// read fails or finds an invalid record.
inline void ReadCounts(const std::string& bootstrap_servers, CountStore& store) {
  CountReaderOptions reader_options;
  reader_options.bootstrap_servers = bootstrap_servers;
  absl::StatusOr<std::unique_ptr<CountReader>> reader = CountReader::Create(reader_options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<CountReadStats> read = (*reader)->ReadToEnd(store);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->invalid, 0);
}

// Runs a worker with `options` (stop_at_end set here) and a count sink on the
// same cluster until every partition it was assigned is read to its end, and
// puts its stats in `stats`. A fatal test failure when the worker cannot be
// made, Run returns an error, or `limit` passes first.
inline void RunWorkerToEnd(WorkerOptions options, const RegionTable& regions, absl::Duration limit,
                           WorkerStats* stats) {
  options.stop_at_end = true;
  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink =
      KafkaCountSink::Create({options.bootstrap_servers, {}});
  ASSERT_TRUE(sink.ok()) << sink.status();
  absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(options, regions, **sink);
  ASSERT_TRUE(worker.ok()) << worker.status();
  const BoundedRun run =
      RunWithWatchdog([&](const std::atomic<bool>* stop) { return (*worker)->Run(stop); }, limit);
  ASSERT_TRUE(run.status.ok()) << run.status;
  ASSERT_FALSE(run.timed_out) << options.group_id << " did not reach the end of its input within "
                              << limit;
  *stats = (*worker)->stats();
}

}  // namespace roadpulse::testing

#endif  // ROADPULSE_TESTS_WORKER_FIXTURES_H_
