// `roadpulse demo`: the whole pipeline in one process on the embedded broker,
// needing no configuration. The generator loads the binzhou-2025 scenario's
// history (moved so that "this year" is the current year up to now), then
// keeps producing events stamped with the current time; a worker counts them;
// a reader follows roadpulse.counts and the terminal shows a live table per
// county with the change on last year, refreshed every second.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/event_writer.h"
#include "app/generator.h"
#include "app/scenario.h"
#include "ingest/kafka_producer.h"
#include "ingest/mock_broker.h"
#include "ingest/worker.h"
#include "processors/count_store.h"
#include "processors/region_table.h"
#include "sinks/console_table.h"
#include "sinks/count_reader.h"
#include "sinks/count_view.h"
#include "sinks/http_view.h"
#include "sinks/kafka_count_sink.h"
#include "sinks/worker_metrics.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

std::atomic<bool> demo_stop{false};
void OnDemoSignal(int) { demo_stop.store(true); }

// The table's width: the terminal's, asked at every rendering (the window may
// have been resized); $COLUMNS when stdout is not a terminal; 0 (no limit)
// without either.
size_t TableColumns() {
  if (const size_t terminal = TerminalColumns(); terminal > 0) return terminal;
  size_t columns = 0;
  const char* env = std::getenv("COLUMNS");
  if (env != nullptr && absl::SimpleAtoi(absl::string_view(env), &columns)) return columns;
  return 0;
}

struct DemoFlags {
  std::string bootstrap_servers;  // empty: start the embedded broker
  std::string regions;
  std::string scenario = "binzhou-2025";
  uint64_t seed = 1;
  double rate = 20;
  int partitions = 8;
  std::string lang = "zh";
  int refresh_ms = 1000;
  double duration_s = 0;
  std::string log_file = "roadpulse-demo.log";
  std::string http = "127.0.0.1:8080";  // the live view (dashboard, API)
  std::string token;
};

// Runs `fn` on a thread; a failure is logged and stops the demo.
std::thread Spawn(const char* what, std::function<absl::Status()> fn) {
  return std::thread([what, fn = std::move(fn)] {
    absl::Status s = fn();
    if (!s.ok()) {
      spdlog::error("{} failed: {}", what, s.ToString());
      std::fprintf(stderr, "roadpulse demo: %s failed: %s\n", what, s.ToString().c_str());
      demo_stop.store(true);
    }
  });
}

int RunDemo(const DemoFlags& flags) {
  // Logs go to a file so they do not scroll the live table away.
  spdlog::set_default_logger(spdlog::basic_logger_mt("demo", flags.log_file, /*truncate=*/true));
  spdlog::flush_every(std::chrono::seconds(1));
  const Language lang = flags.lang == "en" ? Language::kEn : Language::kZh;
  const bool zh = lang == Language::kZh;

  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(flags.regions.empty() ? DefaultRegionTablePath() : flags.regions);
  if (!regions.ok()) {
    std::fprintf(stderr, "roadpulse demo: %s\n", regions.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<Scenario> scenario = LoadScenarioFile(DefaultScenarioPath(flags.scenario));
  if (!scenario.ok()) {
    std::fprintf(stderr, "roadpulse demo: --scenario: %s\n", scenario.status().ToString().c_str());
    return 2;
  }
  const absl::TimeZone& tz = regions->zone();
  const absl::Time start = absl::Now();
  const absl::CivilDay today = absl::ToCivilDay(start, tz);
  if (absl::Status s = scenario->MovePeriods(static_cast<int>(today.year()), today); !s.ok()) {
    std::fprintf(stderr, "roadpulse demo: %s\n", s.ToString().c_str());
    return 2;
  }

  std::unique_ptr<MockBroker> broker;
  std::string bootstrap = flags.bootstrap_servers;
  if (bootstrap.empty()) {
    const std::vector<TopicSpec> topics = {
        {"roadpulse.incidents", flags.partitions, 1},
        {"roadpulse.violations", flags.partitions, 1},
        {"roadpulse.counts", flags.partitions, 1},
        {"roadpulse.dlq", flags.partitions, 1},
        {"roadpulse.checkpoints", flags.partitions, 1},
    };
    absl::StatusOr<std::unique_ptr<MockBroker>> created = MockBroker::Create(1, topics);
    if (!created.ok()) {
      std::fprintf(stderr, "roadpulse demo: embedded broker: %s\n",
                   created.status().ToString().c_str());
      return 1;
    }
    broker = *std::move(created);
    bootstrap = broker->bootstrap_servers();
  }
  std::printf("%s %s\n", zh ? "roadpulse 演示: Kafka 地址" : "roadpulse demo: Kafka at",
              bootstrap.c_str());
  std::fflush(stdout);

  GeneratorOptions gen_options;
  gen_options.seed = flags.seed;
  gen_options.scenario = *std::move(scenario);
  gen_options.not_after = start;
  gen_options.live_rate = flags.rate;
  absl::StatusOr<std::unique_ptr<Generator>> generator =
      Generator::Create(std::move(gen_options), *regions);
  if (!generator.ok()) {
    std::fprintf(stderr, "roadpulse demo: %s\n", generator.status().ToString().c_str());
    return 2;
  }
  ProducerOptions producer_options;
  producer_options.bootstrap_servers = bootstrap;
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(producer_options);
  ProducerOptions count_options = producer_options;
  count_options.properties.emplace("message.timeout.ms",
                                   absl::StrCat(CountRecordTimeoutMs(WorkerOptions{})));
  absl::StatusOr<std::unique_ptr<KafkaCountSink>> sink = KafkaCountSink::Create(count_options);
  if (!producer.ok() || !sink.ok()) {
    std::fprintf(stderr, "roadpulse demo: %s\n",
                 (!producer.ok() ? producer.status() : sink.status()).ToString().c_str());
    return 1;
  }
  WorkerOptions worker_options;
  worker_options.bootstrap_servers = bootstrap;
  worker_options.group_id = "roadpulse-demo";
  if (broker != nullptr) {
    // The demo's one worker shares a process with the embedded broker: it
    // owns every partition without joining a group, whose first join the mock
    // broker holds for 3 s. With --bootstrap-servers it joins the group as
    // `roadpulse run` does.
    worker_options.assign_all_partitions = true;
  }
  absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(worker_options, *regions, **sink);
  CountReaderOptions reader_options;
  reader_options.bootstrap_servers = bootstrap;
  SetLiveReaderDefaults(reader_options);
  absl::StatusOr<std::unique_ptr<CountReader>> reader = CountReader::Create(reader_options);
  if (!worker.ok() || !reader.ok()) {
    std::fprintf(stderr, "roadpulse demo: %s\n",
                 (!worker.ok() ? worker.status() : reader.status()).ToString().c_str());
    return 1;
  }

  std::signal(SIGINT, OnDemoSignal);
  std::signal(SIGTERM, OnDemoSignal);
  KafkaEventWriter writer(**producer);
  std::atomic<int64_t> counts_read{0};

  std::thread gen_thread = Spawn("generator", [&]() -> absl::Status {
    if (absl::Status s = (*generator)->Run(writer, demo_stop); !s.ok()) return s;
    spdlog::info("history loaded: {} records; going live at {} events/s", (*generator)->emitted(),
                 flags.rate);
    return (*generator)->RunLive(writer, demo_stop);
  });
  std::thread worker_thread = Spawn("worker", [&] { return (*worker)->Run(&demo_stop); });
  // CountStore is not thread-safe and Follow applies records on the reader's
  // thread, so the table body is rendered there, between batches (at most
  // every 200 ms), and the main thread prints the latest rendering.
  std::mutex text_mu;
  std::string table_text = zh ? "正在加载历史数据……\n" : "Loading the history...\n";
  absl::Time rendered_at = absl::InfinitePast();
  auto render = [&](const CountStore& store) {
    ConsoleTableOptions table;
    table.language = lang;
    table.now = absl::Now();
    table.today = absl::ToCivilDay(table.now, tz);
    table.width = TableColumns();
    std::string text = RenderConsoleTable(store, table);
    std::lock_guard<std::mutex> lock(text_mu);
    table_text = std::move(text);
    rendered_at = table.now;
  };
  // The live view (as `roadpulse serve`) reads the counts; the table is
  // rendered from its live store on the reader's thread.
  CountView view(*regions);
  HttpViewOptions http_options;
  if (absl::Status s = ParseHostPort(flags.http, &http_options.host, &http_options.port);
      !s.ok()) {
    std::fprintf(stderr, "roadpulse demo: --http: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  http_options.token = flags.token;
  Worker* worker_ptr = worker->get();
  http_options.extra_metrics = [worker_ptr] {
    return WorkerMetricsText(worker_ptr->stats(), absl::Now());
  };
  absl::StatusOr<std::unique_ptr<HttpView>> http = HttpView::Start(http_options, view);
  if (!http.ok()) {
    std::fprintf(stderr, "roadpulse demo: --http: %s\n",
                 std::string(http.status().message()).c_str());
    demo_stop.store(true);
    gen_thread.join();
    worker_thread.join();
    return 1;
  }
  std::printf("%s %s\n", zh ? "roadpulse 演示: 实时看板" : "roadpulse demo: dashboard at",
              (*http)->url().c_str());
  std::fflush(stdout);
  std::thread reader_thread = Spawn("count reader", [&] {
    return view.Run(**reader, demo_stop,
                    [&](const CountStore& live, const CountReadStats& stats) {
                      counts_read.store(stats.records);
                      if (absl::Now() - rendered_at >= absl::Milliseconds(200)) render(live);
                    });
  });

  const bool tty = isatty(STDOUT_FILENO) == 1;
  const absl::Time deadline =
      flags.duration_s > 0 ? start + absl::Seconds(flags.duration_s) : absl::InfiniteFuture();
  while (!demo_stop.load() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(flags.refresh_ms));
    const WorkerStats ws = (*worker)->stats();
    std::string text;
    {
      std::lock_guard<std::mutex> lock(text_mu);
      text = table_text;
    }
    text += "\n";
    text += fmt::format(
        zh ? "已产生 {} 条事件 · 已处理 {} 条 (计入 {}, 修订 {}, 重复 {}, 死信 {}) · 计数记录 {}\n"
           : "produced {} · processed {} (counted {}, amended {}, duplicates {}, dead-lettered "
             "{}) · count records {}\n",
        (*generator)->emitted(), ws.totals.read, ws.totals.counted, ws.totals.amended,
        ws.totals.duplicates, ws.totals.rejected, counts_read.load());
    text += fmt::format(
        zh ? "Kafka: {} · 看板: {} · 日志: {} · Ctrl-C 退出\n"
           : "Kafka: {} · dashboard: {} · log: {} · Ctrl-C to stop\n",
        bootstrap, (*http)->url(), flags.log_file);
    std::fputs(tty ? "\x1b[H\x1b[2J" : "\n", stdout);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  }
  demo_stop.store(true);
  gen_thread.join();
  worker_thread.join();
  reader_thread.join();
  (*http)->Stop();
  return 0;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<DemoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run everything in one process with no configuration: the embedded broker, the\n"
      "generator (scenario binzhou-2025, moved to the current year), a worker, and a live\n"
      "table per county of this year's counts against last year's, refreshed every second.");
  cmd->add_option("--bootstrap-servers,--bootstrap-server", flags->bootstrap_servers,
                  "Use this Kafka cluster instead of starting the embedded broker");
  cmd->add_option("--regions", flags->regions, "Region table file")->check(CLI::ExistingFile);
  cmd->add_option("--scenario", flags->scenario, "Generator scenario")->capture_default_str();
  AddSeedOption(cmd, &flags->seed, "Generator seed");
  cmd->add_option("--rate", flags->rate, "Live events per second after the history")
      ->check(CLI::Range(0.1, 1e6))
      ->capture_default_str();
  cmd->add_option("--partitions", flags->partitions, "Partitions of the embedded broker's topics")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--lang", flags->lang, "Language of the table: zh or en")
      ->check(CLI::IsMember({"zh", "en"}))
      ->capture_default_str();
  cmd->add_option("--refresh-ms", flags->refresh_ms, "Table refresh interval")
      ->check(CLI::Range(100, 60000))
      ->capture_default_str();
  cmd->add_option("--duration", flags->duration_s, "Stop after this many seconds (0: Ctrl-C)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--http", flags->http,
                  "Serve the live view (dashboard, API, /metrics) on HOST:PORT (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--token", flags->token, "Bearer token for the live view (default: none)");
  cmd->add_option("--log-file", flags->log_file, "Where the demo's logs go")->capture_default_str();
  cmd->callback([flags, exit_code] { *exit_code = RunDemo(*flags); });
}

}  // namespace roadpulse
