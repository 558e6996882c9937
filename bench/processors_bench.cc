// Hot-path benchmarks (Google Benchmark; they print numbers, nothing asserts):
//  - BM_DecodeValidateAggregate: serialized IncidentEvent/ViolationEvent mix
//    (pre-generated) through PartitionProcessor::Process on one core: parse,
//    validate, dedup, day + hour + minute buckets. items_per_second = events/s.
//    Fresh processors per pass: the dedup tables grow while timed.
//  - BM_DecodeValidateAggregateSteady: the same work for a running worker,
//    whose dedup tables hold the retention horizon and have stopped growing.
//  - BM_DecodeOnly: protobuf's parse alone; BM_DecodeInPlace: the in-place
//    decode the processor uses for ordinary records.
//  - BM_DayStart: an event's local day start, for events in random order over
//    two years: absl's conversion (arg 0) against LocalDays (arg 1).
//  - BM_WindowQuery / BM_YoYQuery: a CountStore holding two years of day
//    buckets (and the recent minute/hour buckets) for every Binzhou unit and
//    8 source partitions; one query for the whole city.
//
//   build/bench/processors_bench [--benchmark_filter=...]
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "bench/bench_events.h"
#include "benchmark/benchmark.h"
#include "processors/count_record.h"
#include "processors/count_store.h"
#include "processors/internal/event_view.h"
#include "processors/internal/local_days.h"
#include "processors/partition_processor.h"
#include "tests/test_regions.h"

namespace roadpulse {
namespace {

using testing::Binzhou;
using testing::Shanghai;

// `months` busy months of 1 M events each (30 days), from 2025-06-01 on,
// serialized once.
std::vector<bench::SerializedEvent>* MakeEvents(uint64_t months) {
  auto* v = new std::vector<bench::SerializedEvent>();
  const uint64_t n = 1'000'000 * months;
  std::mt19937_64 rng(42);
  const absl::Time start = absl::FromCivil(absl::CivilDay(2025, 6, 1), Shanghai());
  v->reserve(n + n / 100);
  for (uint64_t i = 0; i < n; ++i) {
    v->push_back(bench::MakeEvent(Binzhou(), i, n, start,
                                  absl::Hours(24 * 30 * static_cast<int64_t>(months)), rng));
    // 1% exact duplicates of a recent event.
    if (i % 100 == 99) v->push_back(v->at(v->size() - 1 - rng() % 50));
  }
  return v;
}

// One month: 1 M events over 30 days.
const std::vector<bench::SerializedEvent>& Events() {
  static const std::vector<bench::SerializedEvent>* events = MakeEvents(1);
  return *events;
}

// Two such months, for the steady state: the first fills the dedup table,
// the second is timed.
const std::vector<bench::SerializedEvent>& TwoMonths() {
  static const std::vector<bench::SerializedEvent>* events = MakeEvents(2);
  return *events;
}

// Records per consumed batch (the worker's default max_batch).
constexpr size_t kBatch = 10000;

struct Processors {
  explicit Processors(const ProcessorOptions& options)
      : incidents(EventKind::kIncident, Binzhou(), options),
        violations(EventKind::kViolation, Binzhou(), options) {}
  PartitionProcessor incidents;
  PartitionProcessor violations;
};

// Feeds events [from, to) through `p` as the worker does: a cache hint for
// the record `ahead` positions on (0: none; the worker and replay give it one
// record ahead), and after every kBatch records the changed and evicted
// buckets handed to the publisher. Returns a checksum of what was published.
int64_t Feed(const std::vector<bench::SerializedEvent>& events, size_t from, size_t to,
             size_t ahead, absl::Time record_time, Processors& p) {
  int64_t published = 0;
  size_t in_batch = 0;
  for (size_t i = from; i < to; ++i) {
    const bench::SerializedEvent& e = events[i];
    if (ahead > 0 && i + ahead < to) {
      const bench::SerializedEvent& next = events[i + ahead];
      (next.incident ? p.incidents : p.violations).Prefetch(next.bytes);
    }
    PartitionProcessor& q = e.incident ? p.incidents : p.violations;
    benchmark::DoNotOptimize(q.Process(e.bytes, record_time));
    if (++in_batch == kBatch) {
      in_batch = 0;
      for (PartitionProcessor* r : {&p.incidents, &p.violations}) {
        r->ForEachDirty([&](const BucketKey&, const MetricValues& v) { published += v[0]; });
        r->ClearDirty();
        r->ClearSettled();
        published += static_cast<int64_t>(r->tombstones().size());
        r->ClearTombstones();
      }
    }
  }
  return published;
}

// A fresh pair of processors per pass (a worker starting from offset 0): the
// dedup tables grow from empty to ~1 M ids while they are timed, moving
// every id a few times (processors/internal/id_table.h). Argument: `ahead`.
void BM_DecodeValidateAggregate(benchmark::State& state) {
  const std::vector<bench::SerializedEvent>& events = Events();
  const size_t ahead = static_cast<size_t>(state.range(0));
  const absl::Time record_time = absl::FromCivil(absl::CivilDay(2025, 8, 1), Shanghai());
  int64_t processed = 0;
  for (auto _ : state) {
    // Fresh state per pass, so every pass counts the same events (not
    // duplicates of the last pass); construction is outside the timing.
    state.PauseTiming();
    auto p = std::make_unique<Processors>(ProcessorOptions());
    state.ResumeTiming();
    benchmark::DoNotOptimize(Feed(events, 0, events.size(), ahead, record_time, *p));
    processed += static_cast<int64_t>(events.size());
    state.PauseTiming();
    p.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(processed);
}
BENCHMARK(BM_DecodeValidateAggregate)
    ->ArgName("ahead")
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);

// A running worker: its dedup tables already hold the retention horizon's
// ids and no longer grow (each sweep forgets a day as the next one comes in;
// memory_bench shows the same at the default horizon). Here the horizon is
// 30 days, so that one month of 1 M events fills it: the same density and a
// table of the same size (~1 M ids) as the fresh pass above ends with. Each
// pass fills fresh processors with the first month (not timed), then times
// the second month: every record new to them, ids forgotten a day at a time.
void BM_DecodeValidateAggregateSteady(benchmark::State& state) {
  const std::vector<bench::SerializedEvent>& events = TwoMonths();
  const size_t half = events.size() / 2;
  const absl::Time record_time = absl::FromCivil(absl::CivilDay(2025, 9, 1), Shanghai());
  ProcessorOptions options;
  options.retention_horizon = absl::Hours(24 * 30);
  int64_t processed = 0;
  size_t ids = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto p = std::make_unique<Processors>(options);
    benchmark::DoNotOptimize(Feed(events, 0, half, 1, record_time, *p));
    state.ResumeTiming();
    benchmark::DoNotOptimize(Feed(events, half, events.size(), 1, record_time, *p));
    processed += static_cast<int64_t>(events.size() - half);
    state.PauseTiming();
    ids = p->incidents.remembered_ids() + p->violations.remembered_ids();
    p.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(processed);
  state.counters["ids_held"] = static_cast<double>(ids);
}
BENCHMARK(BM_DecodeValidateAggregateSteady)->Unit(benchmark::kMillisecond)->MinTime(3.0);

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

// The day bucket of an event (its local day's start) for events in random
// order over January-August of two years, as the end-to-end benchmark's
// generated load has them: arg 0 asks absl for the day and its start each
// time (a one-day cache, whose day changes with nearly every event, also
// asked for the next midnight), arg 1 LocalDays.
void BM_DayStart(benchmark::State& state) {
  const absl::TimeZone tz = Shanghai();
  std::mt19937_64 rng(42);
  std::vector<int64_t> seconds;
  for (const int year : {2024, 2025}) {
    const int64_t from = absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(year, 1, 1), tz));
    const int64_t to = absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(year, 9, 1), tz));
    std::uniform_int_distribution<int64_t> in(from, to - 1);
    for (int i = 0; i < 50'000; ++i) seconds.push_back(in(rng));
  }
  std::shuffle(seconds.begin(), seconds.end(), rng);
  processors_internal::LocalDays days(tz);
  int64_t sum = 0;
  for (auto _ : state) {
    for (const int64_t s : seconds) {
      if (state.range(0) == 0) {
        sum += absl::ToUnixSeconds(
            absl::FromCivil(absl::ToCivilDay(absl::FromUnixSeconds(s), tz), tz));
      } else {
        sum += days.DayOf(s).start;
      }
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(seconds.size()));
}
BENCHMARK(BM_DayStart)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

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
