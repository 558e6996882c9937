// Test helpers for the Kafka tests: an independent reader of a whole topic
// (librdkafka's C API directly, not our Worker/CountReader), the Java
// client's murmur2 partitioner as ground truth for key placement, a writer
// of transaction markers, a capture of the log, and a watchdog for runs that
// stop on a flag (Worker::Run).
#ifndef ROADPULSE_TESTS_KAFKA_TEST_UTIL_H_
#define ROADPULSE_TESTS_KAFKA_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

namespace roadpulse::testing {

struct ReadRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  int64_t timestamp_ms = -1;
  std::vector<std::pair<std::string, std::string>> headers;

  // Value of the first header named `name`, or "<absent>".
  std::string Header(std::string_view name) const;
};

// Every record of every partition of `topic`, up to the high watermarks at
// the time of the call, ordered by (partition, offset).
absl::StatusOr<std::vector<ReadRecord>> ReadTopic(const std::string& bootstrap_servers,
                                                  const std::string& topic,
                                                  absl::Duration timeout = absl::Seconds(30));

// The partition the Java client (and librdkafka's murmur2_random) picks for
// a non-empty key: (murmur2(key) & 0x7fffffff) % partitions.
int32_t JavaPartition(std::string_view key, int32_t partitions);

// Appends a transaction marker to `topic`[`partition`]: a control batch of
// one COMMIT record, what a real broker writes to each partition of
// a transaction when a transactional producer (an exactly-once pipeline) ends
// it. The marker takes an offset, and consumers are never given it, so the
// partition's last record is no longer at its high watermark minus one.
// librdkafka's mock cluster writes no markers (its EndTxn handler only
// answers), so this sends a Produce request (v3, acks=1) with that batch
// straight to `leader` ("host:port", the partition's leader). Returns the
// marker's offset.
absl::StatusOr<int64_t> AppendTransactionMarker(const std::string& leader, const std::string& topic,
                                                int32_t partition);

// Everything logged through spdlog while it lives (librdkafka's log lines
// go there too): it replaces the default logger, then puts it back.
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string Text() const { return absl::StrJoin(sink_->last_formatted(), ""); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Calls run(&stop) on this thread and sets `stop` once `limit` has passed
// (a watchdog thread). `timed_out`: the watchdog had to set it.
struct BoundedRun {
  absl::Status status;
  bool timed_out = false;
};
BoundedRun RunWithWatchdog(const std::function<absl::Status(const std::atomic<bool>*)>& run,
                           absl::Duration limit);

}  // namespace roadpulse::testing

#endif  // ROADPULSE_TESTS_KAFKA_TEST_UTIL_H_
