// Hot-path benchmarks (Google Benchmark; they print numbers, nothing asserts):
//  - BM_DecodeValidateAggregate: serialized IncidentEvent/ViolationEvent mix
//    (pre-generated) through PartitionProcessor::Process on one core: parse,
//    validate, dedup, day + hour + minute buckets. items_per_second = events/s.
//  - BM_DecodeOnly: protobuf's parse alone; BM_DecodeInPlace: the in-place
//    decode the processor uses for ordinary records.
//  - BM_WindowQuery / BM_YoYQuery: a CountStore holding two years of day
//    buckets (and the recent minute/hour buckets) for every Binzhou unit and
//    8 source partitions; one query for the whole city.
//
//   build/bench/processors_bench [--benchmark_filter=...]
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "bench/bench_events.h"
#include "benchmark/benchmark.h"
#include "processors/count_record.h"
#include "processors/count_store.h"
#include "processors/internal/event_view.h"
#include "processors/partition_processor.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;
using testing::Shanghai;

// 1 M events over 30 days (a busy month), serialized once.
const std::vector<bench::SerializedEvent>& Events() {
  static const std::vector<bench::SerializedEvent>* events = [] {
    auto* v = new std::vector<bench::SerializedEvent>();
    constexpr uint64_t kN = 1'000'000;
    std::mt19937_64 rng(42);
    const absl::Time start = absl::FromCivil(absl::CivilDay(2025, 6, 1), Shanghai());
    v->reserve(kN);
    for (uint64_t i = 0; i < kN; ++i) {
      v->push_back(bench::MakeEvent(Binzhou(), i, kN, start, absl::Hours(24 * 30), rng));
      // 1% exact duplicates of a recent event.
      if (i % 100 == 99) v->push_back(v->at(v->size() - 1 - rng() % 50));
    }
    return v;
  }();
  return *events;
}

// Records per consumed batch (the worker's default max_batch).
constexpr size_t kBatch = 10000;

void BM_DecodeValidateAggregate(benchmark::State& state) {
  const std::vector<bench::SerializedEvent>& events = Events();
  const absl::Time record_time = absl::FromCivil(absl::CivilDay(2025, 8, 1), Shanghai());
  int64_t processed = 0;
  for (auto _ : state) {
    // Fresh state per pass, so every pass counts the same events (not
    // duplicates of the last pass); construction is outside the timing.
    state.PauseTiming();
    auto incidents =
        std::make_unique<PartitionProcessor>(EventKind::kIncident, Binzhou(), ProcessorOptions());
    auto violations =
        std::make_unique<PartitionProcessor>(EventKind::kViolation, Binzhou(), ProcessorOptions());
    state.ResumeTiming();
    int64_t published = 0;
    size_t in_batch = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      const bench::SerializedEvent& e = events[i];
      // As the worker does: a hint for the next record of the batch.
      if (i + 1 < events.size()) {
        const bench::SerializedEvent& next = events[i + 1];
        (next.incident ? *incidents : *violations).Prefetch(next.bytes);
      }
      PartitionProcessor& p = e.incident ? *incidents : *violations;
      benchmark::DoNotOptimize(p.Process(e.bytes, record_time));
      // What the worker does after each consumed batch: hand the changed
      // buckets and the evicted ones to the publisher.
      if (++in_batch == kBatch) {
        in_batch = 0;
        for (PartitionProcessor* q : {incidents.get(), violations.get()}) {
          q->ForEachDirty([&](const BucketKey&, const MetricValues& v) { published += v[0]; });
          q->ClearDirty();
          q->ClearSettled();
          published += static_cast<int64_t>(q->tombstones().size());
          q->ClearTombstones();
        }
      }
    }
    benchmark::DoNotOptimize(published);
    processed += static_cast<int64_t>(events.size());
    state.PauseTiming();
    incidents.reset();
    violations.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(processed);
}
BENCHMARK(BM_DecodeValidateAggregate)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// The decode step alone (protobuf parse into reused messages), for the
// breakdown of the figure above.
void BM_DecodeOnly(benchmark::State& state) {
  const std::vector<bench::SerializedEvent>& events = Events();
  v1::IncidentEvent incident;
  v1::ViolationEvent violation;
  int64_t processed = 0;
  for (auto _ : state) {
    for (const bench::SerializedEvent& e : events) {
      const bool ok = e.incident ? incident.ParseFromString(e.bytes)
                                 : violation.ParseFromString(e.bytes);
      benchmark::DoNotOptimize(ok);
    }
    processed += static_cast<int64_t>(events.size());
  }
  state.SetItemsProcessed(processed);
}
BENCHMARK(BM_DecodeOnly)->Unit(benchmark::kMillisecond);

// The decode step as PartitionProcessor does it now: the fields it reads,
// in place (processors/internal/event_view.h; unusual bytes would go to
// protobuf's parser, none here).
void BM_DecodeInPlace(benchmark::State& state) {
  const std::vector<bench::SerializedEvent>& events = Events();
  processors_internal::IncidentView incident;
  processors_internal::ViolationView violation;
  int64_t processed = 0;
  for (auto _ : state) {
    for (const bench::SerializedEvent& e : events) {
      const bool ok = e.incident ? processors_internal::DecodeIncident(e.bytes, &incident)
                                 : processors_internal::DecodeViolation(e.bytes, &violation);
      benchmark::DoNotOptimize(ok);
      benchmark::DoNotOptimize(incident);
      benchmark::DoNotOptimize(violation);
    }
    processed += static_cast<int64_t>(events.size());
  }
  state.SetItemsProcessed(processed);
}
BENCHMARK(BM_DecodeInPlace)->Unit(benchmark::kMillisecond);

// Two years of day buckets for every unit and 8 source partitions, and the
// last day's minute and hour buckets, in a CountStore.
const CountStore& TwoYearStore() {
  static const CountStore* store = [] {
    auto* s = new CountStore(Binzhou());
    const absl::TimeZone tz = Shanghai();
    std::mt19937_64 rng(7);
    const absl::CivilDay first(2024, 1, 1);
    const absl::CivilDay last(2025, 12, 31);
    for (int partition = 0; partition < 8; ++partition) {
      for (uint16_t unit = 2; unit < Binzhou().size(); ++unit) {
        for (absl::CivilDay d = first; d <= last; ++d) {
          MetricValues v{};
          for (size_t m = 0; m < kMetricCount; ++m) v[m] = static_cast<int64_t>(rng() % 50);
          const BucketKey key{unit, absl::ToUnixSeconds(absl::FromCivil(d, tz)),
                              BucketWidth::kDay};
          (void)s->Apply(MakeCountRecord(Binzhou(), "roadpulse.violations", partition, key, v,
                                         1, 1));
        }
        const int64_t end = absl::ToUnixSeconds(absl::FromCivil(last + 1, tz));
        for (int64_t t = end - 31 * 86400; t < end; t += 3600) {
          MetricValues v{};
          v[0] = 1;
          (void)s->Apply(MakeCountRecord(Binzhou(), "roadpulse.violations", partition,
                                         BucketKey{unit, t, BucketWidth::kHour}, v, 1, 1));
        }
        for (int64_t t = end - 25 * 3600; t < end; t += 60) {
          MetricValues v{};
          v[0] = 1;
          (void)s->Apply(MakeCountRecord(Binzhou(), "roadpulse.violations", partition,
                                         BucketKey{unit, t, BucketWidth::kMinute}, v, 1, 1));
        }
      }
    }
    return s;
  }();
  return *store;
}

void BM_WindowQuery(benchmark::State& state) {
  const CountStore& store = TwoYearStore();
  const Window window = static_cast<Window>(state.range(0));
  const absl::Time now = absl::FromCivil(absl::CivilSecond(2025, 12, 31, 23, 17, 0), Shanghai());
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.WindowSumAll("371600", window, now));
  }
  state.SetLabel(std::string(WindowName(window)));
}
BENCHMARK(BM_WindowQuery)->DenseRange(0, 6)->Unit(benchmark::kMicrosecond);

// The report's question: this year so far against the same period last year,
// all metrics, for the whole city.
void BM_YoYQuery(benchmark::State& state) {
  const CountStore& store = TwoYearStore();
  const Period period{absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 12, 31)};
  for (auto _ : state) {
    const Period base = SamePeriodLastYear(period);
    benchmark::DoNotOptimize(store.SumAll("371600", period.from, period.to));
    benchmark::DoNotOptimize(store.SumAll("371600", base.from, base.to));
  }
  state.SetLabel("ytd 2025 vs 2024, all metrics, city");
}
BENCHMARK(BM_YoYQuery)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace roadpulse

BENCHMARK_MAIN();
