// `roadpulse bench-latency`: end-to-end latency of the live view. In one
// process: the embedded broker, a worker and a view (`serve`'s components,
// default settings) on loopback. It produces accidents at --rate events/s
// for --duration seconds and polls /api/v1/counts over HTTP; event i counts
// as visible when the city's accident count first reaches i + 1 (events of
// different partitions may be counted out of order, so this is the usual
// "count-based" latency). Prints p50, p90, p99 and max.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/scenario.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "nlohmann/json.hpp"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"
#include "sinks/count_reader.h"
#include "sinks/count_view.h"
#include "sinks/http_view.h"
#include "sinks/kafka_count_sink.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchFlags {
  double rate = 5000;
  double duration_s = 20;
  double warmup_s = 3;
  int partitions = 8;
  int poll_ms = 5;
  int reader_fetch_wait_ms = -1;  // -1 keeps the default
  int worker_fetch_wait_ms = -1;
};

std::string AccidentEvent(int64_t i, absl::Time now) {
  v1::IncidentEvent e;
  e.set_id("bench-" + std::to_string(i));
  e.set_revision(1);
  const int64_t ms = absl::ToUnixMillis(now);
  e.mutable_occurred_at()->set_seconds(ms / 1000);
  e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  *e.mutable_reported_at() = e.occurred_at();
  e.mutable_location()->set_region_code("371602");
  e.mutable_location()->set_road_class(v1::ROAD_CLASS_URBAN_STREET);
  e.set_injuries(1);
  e.set_severity(v1::SEVERITY_GENERAL);
  e.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
  e.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
  return e.SerializeAsString();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t idx = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[idx];
}

int RunBench(const BenchFlags& flags) {
  spdlog::set_level(spdlog::level::warn);
  absl::StatusOr<RegionTable> regions = RegionTable::LoadFile(DefaultRegionTablePath());
  if (!regions.ok()) {
    std::fprintf(stderr, "bench-latency: %s\n", regions.status().ToString().c_str());
    return 2;
  }
  const int p = flags.partitions;
  absl::StatusOr<std::unique_ptr<MockBroker>> broker = MockBroker::Create(
      1, {{"roadpulse.incidents", p, 1}, {"roadpulse.violations", p, 1},
          {"roadpulse.counts", p, 1}, {"roadpulse.dlq", p, 1}});
  if (!broker.ok()) {
    std::fprintf(stderr, "bench-latency: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  const std::string bootstrap = (*broker)->bootstrap_servers();
  ProducerOptions producer_options;
  producer_options.bootstrap_servers = bootstrap;
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(producer_options);
  ProducerOptions count_options = producer_options;
  count_options.properties.emplace("message.timeout.ms",
                                   absl::StrCat(CountRecordTimeoutMs(WorkerOptions{})));
  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink = KafkaCountSink::Create(count_options);
  if (!producer.ok() || !sink.ok()) {
    std::fprintf(stderr, "bench-latency: producer failed\n");
    return 1;
  }
  WorkerOptions worker_options;  // defaults, as `roadpulse run`
  worker_options.bootstrap_servers = bootstrap;
  if (flags.worker_fetch_wait_ms >= 0) {
    worker_options.properties["fetch.wait.max.ms"] = std::to_string(flags.worker_fetch_wait_ms);
  }
  absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(worker_options, *regions, **sink);
  CountReaderOptions reader_options;
  reader_options.bootstrap_servers = bootstrap;
  SetLiveReaderDefaults(reader_options);
  if (flags.reader_fetch_wait_ms >= 0) {
    reader_options.properties["fetch.wait.max.ms"] = std::to_string(flags.reader_fetch_wait_ms);
  }
  absl::StatusOr<std::unique_ptr<CountReader>> reader = CountReader::Create(reader_options);
  if (!worker.ok() || !reader.ok()) {
    std::fprintf(stderr, "bench-latency: %s\n",
                 (!worker.ok() ? worker.status() : reader.status()).ToString().c_str());
    return 1;
  }
  CountView view(*regions);  // default snapshot interval, as `roadpulse serve`
  HttpViewOptions http_options;
  http_options.port = 0;
  absl::StatusOr<std::unique_ptr<HttpView>> http = HttpView::Start(http_options, view);
  if (!http.ok()) {
    std::fprintf(stderr, "bench-latency: %s\n", http.status().ToString().c_str());
    return 1;
  }
  std::atomic<bool> stop{false};
  std::thread worker_thread([&] { (void)(*worker)->Run(&stop); });
  std::thread view_thread([&] { (void)view.Run(**reader, stop); });

  // Wait until the worker owns its partitions (first join of the group).
  const auto join_deadline = Clock::now() + std::chrono::seconds(30);
  while ((*worker)->stats().partitions.size() < static_cast<size_t>(2 * p) &&
         Clock::now() < join_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("bench-latency: broker %s, view %s, %d partitions, %.0f events/s for %.0f s "
              "(first %.0f s not measured)\n",
              bootstrap.c_str(), (*http)->url().c_str(), p, flags.rate, flags.duration_s,
              flags.warmup_s);
  std::fflush(stdout);

  const int64_t total = static_cast<int64_t>(flags.rate * flags.duration_s);
  std::vector<Clock::time_point> sent(static_cast<size_t>(total));
  std::vector<double> latency_ms(static_cast<size_t>(total), -1);
  std::atomic<int64_t> produced{0};

  std::thread poller([&] {
    httplib::Client client("127.0.0.1", (*http)->port());
    client.set_keep_alive(true);
    int64_t seen = 0;
    while (!stop.load()) {
      auto res = client.Get("/api/v1/counts?metric=accidents&region=371600&window=ytd");
      const auto now = Clock::now();
      if (res && res->status == 200) {
        const int64_t value = nlohmann::json::parse(res->body)["value"].get<int64_t>();
        const int64_t limit = std::min<int64_t>(value, produced.load());
        for (; seen < limit; ++seen) {
          latency_ms[static_cast<size_t>(seen)] =
              std::chrono::duration<double, std::milli>(now - sent[static_cast<size_t>(seen)])
                  .count();
        }
        if (seen >= total) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(flags.poll_ms));
    }
  });

  const auto start = Clock::now();
  for (int64_t i = 0; i < total;) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const int64_t due = std::min<int64_t>(total, static_cast<int64_t>(elapsed * flags.rate) + 1);
    for (; i < due; ++i) {
      const std::string value = AccidentEvent(i, absl::Now());
      sent[static_cast<size_t>(i)] = Clock::now();
      produced.store(i + 1);
      if (absl::Status s = (*producer)->Produce("roadpulse.incidents", "bench-" + std::to_string(i),
                                                value);
          !s.ok()) {
        std::fprintf(stderr, "bench-latency: produce: %s\n", s.ToString().c_str());
        stop.store(true);
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  const double send_s = std::chrono::duration<double>(Clock::now() - start).count();
  (void)(*producer)->Flush(absl::Seconds(30));
  // Wait (bounded) for the last counts.
  const auto end_deadline = Clock::now() + std::chrono::seconds(30);
  while (latency_ms.back() < 0 && Clock::now() < end_deadline && !stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  poller.join();
  worker_thread.join();
  view_thread.join();
  (*http)->Stop();

  std::vector<double> measured;
  int64_t missing = 0;
  const int64_t skip = static_cast<int64_t>(flags.rate * flags.warmup_s);
  for (int64_t i = skip; i < total; ++i) {
    if (latency_ms[static_cast<size_t>(i)] < 0) {
      ++missing;
    } else {
      measured.push_back(latency_ms[static_cast<size_t>(i)]);
    }
  }
  std::printf("bench-latency: produced %lld events in %.1f s (%.0f/s); measured %zu, not seen %lld\n",
              static_cast<long long>(total), send_s, static_cast<double>(total) / send_s,
              measured.size(), static_cast<long long>(missing));
  std::printf("bench-latency: event produced -> visible in /api/v1/counts: p50 %.0f ms, "
              "p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
              Percentile(measured, 50), Percentile(measured, 90), Percentile(measured, 99),
              Percentile(measured, 100));
  return missing == 0 ? 0 : 1;
}

}  // namespace

void AddBenchLatencyCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench-latency",
      "Measure the latency from an event produced to its count visible in /api/v1/counts\n"
      "(embedded broker, worker and view with default settings, in one process); prints\n"
      "p50/p90/p99/max.");
  cmd->add_option("--rate", flags->rate, "Events per second")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--duration", flags->duration_s, "Seconds of producing")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--warmup", flags->warmup_s, "Seconds at the start left out of the figures")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--partitions", flags->partitions, "Partitions per topic")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--poll-ms", flags->poll_ms, "How often /api/v1/counts is polled")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--reader-fetch-wait-ms", flags->reader_fetch_wait_ms,
                  "Override fetch.wait.max.ms of the view's reader (-1: the default, 100)");
  cmd->add_option("--worker-fetch-wait-ms", flags->worker_fetch_wait_ms,
                  "Override fetch.wait.max.ms of the worker (-1: the default, 100)");
  cmd->callback([flags, exit_code] { *exit_code = RunBench(*flags); });
}

}  // namespace roadpulse
