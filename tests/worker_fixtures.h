// What the worker tests put on their mock cluster: its topics and the input
// events they produce; and a run of a worker to the end of its input.
#ifndef ROADPULSE_TESTS_WORKER_FIXTURES_H_
#define ROADPULSE_TESTS_WORKER_FIXTURES_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"
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
