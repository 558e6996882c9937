// The worker keeps fetching while it reads a backlog (WorkerOptions::
// fetch_nudge_interval, ingest/internal/fetch_nudger.h), on librdkafka's mock
// cluster over TCP. The input partition holds many small record batches and
// the consumer's pre-fetch queue is cut to 10 records, so librdkafka 2.0's
// fetcher stops after every fetch. Unwoken, it would look again only a
// second later: about 120 s for this input, past the watchdog. With the
// worker waking it, every record is read and counted once, and the worker
// says it nudged.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"
#include "sinks/kafka_count_sink.h"
#include "tests/kafka_test_util.h"
#include "tests/worker_fixtures.h"

namespace roadpulse {
namespace {

constexpr char kViolations[] = "roadpulse.violations";
constexpr int kBatches = 120;
constexpr int kPerBatch = 50;

TEST(FetchNudgeTest, AWorkerReadingABacklogIsNotHeldBackByAFullPrefetchQueue) {
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(ROADPULSE_SOURCE_DIR "/deploy/config/regions/binzhou.toml");
  ASSERT_TRUE(regions.ok()) << regions.status();
  absl::StatusOr<std::unique_ptr<MockBroker>> broker =
      MockBroker::Create(1, testing::WorkerTopics(1));
  ASSERT_TRUE(broker.ok()) << broker.status();
  const std::string servers = (*broker)->bootstrap_servers();

  const absl::Time noon_yesterday = testing::NoonYesterday();

  // kBatches record batches: each flush sends what was produced since the
  // last one as one batch, and the mock broker returns one batch per fetch.
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create({servers, {}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kPerBatch; ++i) {
      const v1::ViolationEvent e =
          testing::BinchengSpeeding(absl::StrCat("nudge-", b, "-", i), noon_yesterday, i, i + 300);
      ASSERT_TRUE((*producer)->Produce(kViolations, e.id(), e.SerializeAsString(), {}, 0).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  }

  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink = KafkaCountSink::Create({servers, {}});
  ASSERT_TRUE(sink.ok()) << sink.status();
  WorkerOptions options;
  options.bootstrap_servers = servers;
  options.group_id = "fetch-nudge-test";
  options.stop_at_end = true;
  options.checkpoint_interval = absl::ZeroDuration();
  options.properties.emplace("queued.min.messages", "10");
  absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(options, *regions, **sink);
  ASSERT_TRUE(worker.ok()) << worker.status();
  const absl::Time started = absl::Now();
  const testing::BoundedRun run = testing::RunWithWatchdog(
      [&](const std::atomic<bool>* stop) { return (*worker)->Run(stop); }, absl::Seconds(60));
  ASSERT_TRUE(run.status.ok()) << run.status;
  ASSERT_FALSE(run.timed_out) << "the worker did not read " << kBatches * kPerBatch
                              << " records within 60 s";
  const WorkerStats stats = (*worker)->stats();
  std::printf("%d records in %d batches read in %.1f s with %lld fetch nudges\n",
              kBatches * kPerBatch, kBatches, absl::ToDoubleSeconds(absl::Now() - started),
              static_cast<long long>(stats.fetch_nudges));

  ASSERT_EQ(stats.partitions.size(), 2u);
  for (const PartitionStats& p : stats.partitions) {
    const int64_t expected = p.topic == kViolations ? kBatches * kPerBatch : 0;
    EXPECT_TRUE(p.tally.Balanced()) << p.topic;
    EXPECT_EQ(p.tally.read, expected) << p.topic;
    EXPECT_EQ(p.tally.counted, expected) << p.topic;
    EXPECT_EQ(p.next_offset, expected) << p.topic;
  }
  EXPECT_GT(stats.fetch_nudges, 0);
}

}  // namespace
}  // namespace roadpulse
