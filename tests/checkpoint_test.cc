// Checkpoints: a restored PartitionProcessor continues exactly as the
// original would have (processors), and CheckpointStore writes chunked
// checkpoints to the mock cluster and reads back the latest complete one,
// skipping checkpoints cut short or corrupted (ingest).
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "bench/bench_events.h"
#include "gtest/gtest.h"
#include "ingest/checkpoint_store.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "processors/partition_processor.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;
using testing::Shanghai;

// Events over 3 days with duplicates, amendments (same id, higher revision,
// more injuries) and a few late ones, so every part of the state is used.
std::vector<bench::SerializedEvent> Events(size_t n) {
  std::mt19937_64 rng(11);
  const absl::Time start = absl::FromCivil(absl::CivilDay(2025, 6, 1), Shanghai());
  std::vector<bench::SerializedEvent> events;
  for (size_t i = 0; i < n; ++i) {
    events.push_back(bench::MakeEvent(Binzhou(), i, n, start, absl::Hours(72), rng));
    if (i % 37 == 0 && !events.empty()) events.push_back(events[rng() % events.size()]);
    if (events.back().incident && i % 11 == 0) {
      v1::IncidentEvent e;
      if (!e.ParseFromString(events.back().bytes)) std::abort();
      e.set_revision(e.revision() + 1);
      e.set_injuries(e.injuries() + 1);
      events.push_back({true, e.SerializeAsString()});
    }
  }
  return events;
}

using Snapshot = std::map<std::tuple<int, uint16_t, int64_t>, MetricValues>;
Snapshot Buckets(const PartitionProcessor& p) {
  Snapshot s;
  p.ForEachBucket([&](const BucketKey& k, const MetricValues& v) {
    s[{static_cast<int>(k.width), k.region_index, k.start_unix_s}] = v;
  });
  return s;
}

TEST(PartitionStateTest, RestoredProcessorContinuesExactlyAsTheOriginal) {
  const std::vector<bench::SerializedEvent> events = Events(60000);
  const absl::Time record_time = absl::FromCivil(absl::CivilDay(2025, 7, 1), Shanghai());
  for (EventKind kind : {EventKind::kIncident, EventKind::kViolation}) {
    ProcessorOptions options;
    PartitionProcessor original(kind, Binzhou(), options);
    std::unique_ptr<PartitionProcessor> restored;
    const size_t cut = events.size() / 2;
    for (size_t i = 0; i < events.size(); ++i) {
      if ((events[i].incident) != (kind == EventKind::kIncident)) continue;
      if (i >= cut && restored == nullptr) {
        original.ClearDirty();
        original.ClearTombstones();
        const v1::PartitionState state = original.SaveState();
        // Through bytes, as a checkpoint travels.
        v1::PartitionState parsed;
        ASSERT_TRUE(parsed.ParseFromString(state.SerializeAsString()));
        absl::StatusOr<std::unique_ptr<PartitionProcessor>> r =
            PartitionProcessor::Restore(kind, Binzhou(), options, parsed);
        ASSERT_TRUE(r.ok()) << r.status();
        restored = *std::move(r);
        EXPECT_EQ(Buckets(*restored), Buckets(original));
        EXPECT_EQ(restored->remembered_ids(), original.remembered_ids());
        EXPECT_EQ(restored->tally().read, original.tally().read);
        EXPECT_EQ(restored->watermark(), original.watermark());
      }
      const ProcessResult a = original.Process(events[i].bytes, record_time);
      if (restored != nullptr) {
        const ProcessResult b = restored->Process(events[i].bytes, record_time);
        ASSERT_EQ(a.outcome, b.outcome) << "event " << i;
      }
    }
    ASSERT_NE(restored, nullptr);
    EXPECT_GT(original.tally().amended + original.tally().duplicates, 0);
    EXPECT_EQ(Buckets(*restored), Buckets(original));
    const PartitionTally& x = original.tally();
    const PartitionTally& y = restored->tally();
    EXPECT_EQ(std::tie(x.read, x.counted, x.amended, x.duplicates, x.rejected),
              std::tie(y.read, y.counted, y.amended, y.duplicates, y.rejected));
    // The same state saved again is the same message.
    EXPECT_EQ(original.SaveState().ByteSizeLong(), restored->SaveState().ByteSizeLong());
  }
}

TEST(PartitionStateTest, RefusesAStateItCannotUse) {
  PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
  for (const bench::SerializedEvent& e : Events(2000)) {
    if (!e.incident) p.Process(e.bytes, absl::InfinitePast());
  }
  const v1::PartitionState good = p.SaveState();
  auto restore = [](EventKind kind, const v1::PartitionState& s) {
    return PartitionProcessor::Restore(kind, Binzhou(), ProcessorOptions(), s).status();
  };
  EXPECT_TRUE(restore(EventKind::kViolation, good).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(restore(EventKind::kIncident, good)));
  v1::PartitionState unknown_region = good;
  unknown_region.set_region_codes(0, "999999");
  EXPECT_NE(restore(EventKind::kViolation, unknown_region).message().find("999999"),
            std::string_view::npos);
  v1::PartitionState unknown_metric = good;
  unknown_metric.set_metric_names(0, "meteor_strikes");
  EXPECT_NE(restore(EventKind::kViolation, unknown_metric).message().find("meteor_strikes"),
            std::string_view::npos);
  v1::PartitionState truncated = good;
  truncated.mutable_violation_ids()->pop_back();
  EXPECT_TRUE(absl::IsInvalidArgument(restore(EventKind::kViolation, truncated)));
  v1::PartitionState ragged = good;
  ragged.add_bucket_start_unix_s(0);
  EXPECT_TRUE(absl::IsInvalidArgument(restore(EventKind::kViolation, ragged)));
  // A violation state whose bucket counts an accident metric: a violation
  // processor's buckets have no room for it, and it must not be dropped.
  v1::PartitionState other_kind = good;
  ASSERT_EQ(other_kind.metric_names(0), "accidents");
  ASSERT_GT(other_kind.bucket_metric_mask_size(), 0);
  other_kind.set_bucket_metric_mask(0, other_kind.bucket_metric_mask(0) | 1);
  other_kind.mutable_bucket_values()->Add(7);
  // The first bucket's values come first: move the new one to the front
  // (masks list values in metric order, and `accidents` is metric 0).
  auto* values = other_kind.mutable_bucket_values();
  for (int i = values->size() - 1; i > 0; --i) values->SwapElements(i, i - 1);
  const absl::Status s = restore(EventKind::kViolation, other_kind);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("accidents"), std::string_view::npos) << s;
  // A bucket start no record can name: 2^48 seconds past a real day's
  // start would share that day's index key.
  v1::PartitionState far_start = good;
  far_start.set_bucket_start_unix_s(0, far_start.bucket_start_unix_s(0) + (int64_t{1} << 48));
  const absl::Status far = restore(EventKind::kViolation, far_start);
  EXPECT_TRUE(absl::IsInvalidArgument(far)) << far;
  EXPECT_NE(far.message().find("outside the Timestamp range"), std::string_view::npos) << far;
}

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MockBroker>> broker =
        MockBroker::Create(1, {{"roadpulse.checkpoints", 4, 1}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    options_.bootstrap_servers = broker_->bootstrap_servers();
    options_.max_chunk_bytes = 4096;  // many chunks per checkpoint
    options_.group = "checkpoint-test";
  }

  v1::PartitionState StateAfter(size_t n) {
    PartitionProcessor p(EventKind::kViolation, Binzhou(), ProcessorOptions());
    for (const bench::SerializedEvent& e : Events(n)) {
      if (!e.incident) p.Process(e.bytes, absl::InfinitePast());
    }
    return p.SaveState();
  }

  std::unique_ptr<MockBroker> broker_;
  CheckpointStoreOptions options_;
};

TEST_F(CheckpointStoreTest, ReadsTheLatestCompleteCheckpointOfEachPartition) {
  absl::StatusOr<std::unique_ptr<CheckpointStore>> store = CheckpointStore::Create(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  const InputPartition a{"roadpulse.violations", 0};
  const InputPartition b{"roadpulse.violations", 5};
  const v1::PartitionState small = StateAfter(500);
  const v1::PartitionState big = StateAfter(3000);
  ASSERT_GT(big.ByteSizeLong(), 3 * options_.max_chunk_bytes);
  ASSERT_TRUE((*store)->Write(a, 100, 1, small).ok());
  ASSERT_TRUE((*store)->Write(a, 250, 2, big).ok());
  ASSERT_TRUE((*store)->Write(b, 40, 1, small).ok());
  ASSERT_TRUE((*store)->Flush(absl::Seconds(10)).ok());

  absl::StatusOr<std::map<InputPartition, Checkpoint>> latest =
      (*store)->ReadLatest({a, b, {"roadpulse.incidents", 3}});
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->size(), 2u);  // the incidents partition has none
  EXPECT_EQ(latest->at(a).next_offset, 250);
  EXPECT_EQ(latest->at(a).checkpoint_id, 2u);
  EXPECT_GT(latest->at(a).chunks, 3);
  EXPECT_EQ(latest->at(a).state.SerializeAsString(), big.SerializeAsString());
  EXPECT_EQ(latest->at(b).next_offset, 40);
  EXPECT_EQ(latest->at(b).state.SerializeAsString(), small.SerializeAsString());
}

TEST_F(CheckpointStoreTest, ACheckpointCutShortOrCorruptIsSkipped) {
  absl::StatusOr<std::unique_ptr<CheckpointStore>> store = CheckpointStore::Create(options_);
  ASSERT_TRUE(store.ok()) << store.status();
  const InputPartition a{"roadpulse.violations", 2};
  const v1::PartitionState state = StateAfter(1500);
  ASSERT_TRUE((*store)->Write(a, 500, 7, state).ok());
  ASSERT_TRUE((*store)->Flush(absl::Seconds(10)).ok());

  // A crash after the first chunk of checkpoint 8, and a checkpoint 9 whose
  // bytes do not match its CRC, written as another worker would.
  ProducerOptions po;
  po.bootstrap_servers = options_.bootstrap_servers;
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(po);
  ASSERT_TRUE(producer.ok());
  const int32_t partition = (*store)->PartitionFor(a);
  v1::PartitionCheckpoint cut;
  cut.set_group("checkpoint-test");
  cut.set_topic(a.first);
  cut.set_partition(a.second);
  cut.set_next_offset(900);
  cut.set_checkpoint_id(8);
  cut.set_chunk_index(0);
  cut.set_chunk_count(3);
  cut.set_writer(42);
  cut.set_state_size(3 * 10);
  cut.set_state_chunk(std::string(10, 'x'));
  ASSERT_TRUE((*producer)
                  ->Produce("roadpulse.checkpoints", "checkpoint-test/roadpulse.violations/2/a/0",
                            cut.SerializeAsString(), {}, partition)
                  .ok());
  v1::PartitionCheckpoint corrupt = cut;
  corrupt.set_checkpoint_id(9);
  corrupt.set_next_offset(950);
  corrupt.set_chunk_count(1);
  corrupt.set_state_size(10);
  corrupt.set_state_crc32(12345);
  ASSERT_TRUE((*producer)
                  ->Produce("roadpulse.checkpoints", "checkpoint-test/roadpulse.violations/2/b/0",
                            corrupt.SerializeAsString(), {}, partition)
                  .ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  absl::StatusOr<std::map<InputPartition, Checkpoint>> latest = (*store)->ReadLatest({a});
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->count(a), 1u);
  EXPECT_EQ(latest->at(a).checkpoint_id, 7u);
  EXPECT_EQ(latest->at(a).next_offset, 500);
  EXPECT_EQ(latest->at(a).state.SerializeAsString(), state.SerializeAsString());
}

}  // namespace
}  // namespace roadpulse
