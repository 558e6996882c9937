// `roadpulse run`: one worker of the consumer group (ingest/worker.h),
// publishing counts to roadpulse.counts.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/logging.h"
#include "ingest/worker.h"
#include "processors/region_table.h"
#include "sinks/http_view.h"
#include "sinks/kafka_count_sink.h"
#include "sinks/worker_metrics.h"
#include "spdlog/spdlog.h"

#ifndef ROADPULSE_DEFAULT_REGIONS
#define ROADPULSE_DEFAULT_REGIONS "deploy/config/regions/binzhou.toml"
#endif

namespace roadpulse {
namespace {

constexpr char kRegionsRelative[] = "deploy/config/regions/binzhou.toml";

std::atomic<bool> run_stop{false};
// Until the worker runs, nothing has been consumed, counted or produced: a
// stop then ends the program at once, although setting up may wait more
// than a minute for a cluster that cannot be reached (systemd's and
// Kubernetes' stop timeouts are 60 s). Once it runs, a stop is the worker's
// to finish (publish, checkpoint, leave the group).
std::atomic<bool> run_started{false};
void OnRunSignal(int) {
  if (!run_started.load()) {
    constexpr char kStopped[] = "roadpulse run: stopped while starting, before consuming\n";
    if (write(STDERR_FILENO, kStopped, sizeof(kStopped) - 1) < 0) {
      // Nothing to do: the exit code says it.
    }
    _exit(0);
  }
  run_stop.store(true);
}

// The exit code of a worker that could not start: 2 for a bad setting or a
// topic the cluster does not have (restarting will not help, and systemd's
// RestartPreventExitStatus=2 does not), 1 for a cluster that did not answer
// (it may later: systemd restarts the worker).
int StartFailed(const absl::Status& status) {
  spdlog::error("run: cannot start: {}", status.ToString());
  return absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
}

struct RunFlags {
  std::string bootstrap_servers;
  std::string regions;
  std::string group = "roadpulse";
  bool stop_at_end = false;
  int flush_interval_ms = 250;
  int retention_days = 400;
  std::vector<std::string> properties;  // -X key=value as given; see `client`
  KafkaProperties client;               // effective (file < env < -X), from `config`
  std::string counts_topic = "roadpulse.counts";
  std::string log_level = "info";
  std::string http;  // HOST:PORT for /metrics and /healthz; empty: none
  int checkpoint_interval_ms = 10000;
  std::string offset_reset_policy = "stop";
  std::string instance_id;
  Config config;     // effective configuration; the fields above are copied from it
};

// The region table file: regions.file (--regions, ROADPULSE_REGIONS_FILE, the
// file, $ROADPULSE_REGIONS: Config::MergeEnv), else the default relative to
// the working directory, to the executable (and its parent: the build dir),
// else the source tree's file.
std::string ResolveRegions(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  std::vector<fs::path> candidates = {fs::path(kRegionsRelative)};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
         dir = dir.parent_path()) {
      candidates.push_back(dir / kRegionsRelative);
    }
  }
  for (const fs::path& c : candidates) {
    if (fs::exists(c, ec)) return c.string();
  }
  return ROADPULSE_DEFAULT_REGIONS;
}

int RunWorker(const RunFlags& flags) {
  // First: a stop asked for while the worker starts up is a graceful stop
  // too (exit code 0, OnRunSignal), not a death by signal.
  std::signal(SIGINT, OnRunSignal);
  std::signal(SIGTERM, OnRunSignal);
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  const std::string regions_path = ResolveRegions(flags.regions);
  absl::StatusOr<RegionTable> regions = RegionTable::LoadFile(regions_path);
  if (!regions.ok()) {
    spdlog::error("--regions: {}", regions.status().ToString());
    return 2;
  }

  // Declared before the server, whose /metrics reads the worker: destroyed
  // after it.
  std::unique_ptr<KafkaCountSink> sink;
  std::unique_ptr<Worker> worker;
  std::atomic<const Worker*> running{nullptr};
  // Served from the start: setting up may wait ~70 s for a cluster that
  // cannot be reached, and a liveness probe (deploy/k8s/worker.yaml: 6 x
  // 10 s) that found no /healthz meanwhile killed the worker before it could
  // say why. A port in use is also found before any waiting.
  std::unique_ptr<MetricsServer> metrics_server;
  if (!flags.http.empty()) {
    std::string host;
    int port = 0;
    if (absl::Status s = ParseHostPort(flags.http, &host, &port); !s.ok()) {
      spdlog::error("--http: {}", s.ToString());
      return 2;
    }
    absl::StatusOr<std::unique_ptr<MetricsServer>> started = MetricsServer::Start(
        host, port,
        [&running] {
          const Worker* w = running.load();
          return w == nullptr ? WorkerStartingMetricsText()
                              : WorkerMetricsText(w->stats(), absl::Now());
        },
        nullptr);
    if (!started.ok()) {
      spdlog::error("--http: {}", started.status().ToString());
      return 2;
    }
    metrics_server = *std::move(started);
    spdlog::info("run: /metrics and /healthz on http://{}:{}/", host, metrics_server->port());
  }

  WorkerOptions options;
  options.bootstrap_servers = flags.bootstrap_servers;
  options.group_id = flags.group;
  options.stop_at_end = flags.stop_at_end;
  options.flush_interval = absl::Milliseconds(flags.flush_interval_ms);
  options.catchup_flush_interval =
      absl::Milliseconds(flags.config.GetInt("worker.catchup_flush_interval_ms"));
  options.processor.retention_horizon = absl::Hours(24) * flags.retention_days;
  options.properties = flags.client;
  options.incidents_topic = flags.config.GetString("topics.incidents");
  options.violations_topic = flags.config.GetString("topics.violations");
  options.dlq_topic = flags.config.GetString("topics.dlq");
  options.session_timeout_ms = static_cast<int>(flags.config.GetInt("worker.session_timeout_ms"));
  options.max_batch = static_cast<int>(flags.config.GetInt("worker.max_batch"));
  options.checkpoint_topic = flags.config.GetString("topics.checkpoints");
  options.checkpoint_interval =
      absl::Milliseconds(flags.config.GetInt("worker.checkpoint_interval_ms"));
  // The configuration checked the value against stop|earliest.
  options.offset_reset_policy =
      OffsetResetPolicyFromName(flags.config.GetString("worker.offset_reset_policy"))
          .value_or(WorkerOptions::OffsetResetPolicy::kStop);
  options.instance_id = flags.config.GetString("worker.instance_id");
  options.log_interval = absl::Seconds(flags.config.GetInt("worker.log_interval_s"));
  options.fetch_nudge_interval =
      absl::Milliseconds(flags.config.GetInt("worker.fetch_nudge_interval_ms"));

  ProducerOptions producer_options;
  producer_options.bootstrap_servers = flags.bootstrap_servers;
  producer_options.properties = flags.client;
  // A paused worker's queued records expire instead of landing after the new
  // owner's (CountRecordTimeoutMs); -X message.timeout.ms still wins.
  producer_options.properties.emplace("message.timeout.ms",
                                      absl::StrCat(CountRecordTimeoutMs(options)));
  absl::StatusOr<std::unique_ptr<KafkaCountSink>> created_sink =
      KafkaCountSink::Create(producer_options, flags.counts_topic);
  if (!created_sink.ok()) return StartFailed(created_sink.status());
  sink = *std::move(created_sink);
  absl::StatusOr<std::unique_ptr<Worker>> created_worker = Worker::Create(options, *regions, *sink);
  if (!created_worker.ok()) return StartFailed(created_worker.status());
  worker = *std::move(created_worker);
  running.store(worker.get());
  spdlog::info("run: regions from {} ({} units, time zone {})", regions_path, regions->size(),
               regions->time_zone());
  run_started.store(true);  // a stop from here on is Run()'s to finish
  absl::Status status = worker->Run(&run_stop);
  const WorkerStats stats = worker->stats();
  spdlog::info("run: done: read {} = counted {} + amended {} + duplicates {} + rejected {}; "
               "dlq {}; counts published {}",
               stats.totals.read, stats.totals.counted, stats.totals.amended,
               stats.totals.duplicates, stats.totals.rejected, stats.dead_lettered,
               stats.counts_published);
  if (!status.ok()) {
    spdlog::error("run: {}", status.ToString());
    return 1;
  }
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a worker: join the consumer group on roadpulse.incidents and roadpulse.violations,\n"
      "count per input partition, dead-letter bad records to roadpulse.dlq, and publish\n"
      "absolute counts to roadpulse.counts. Stops on SIGINT/SIGTERM (or at the end with\n"
      "--stop-at-end). Exit code 0 ok, 1 runtime failure, 2 bad configuration.");
  auto cli = std::make_shared<ConfigCli>();
  AddConfigOptions(cmd, cli.get());
  AddBootstrapServersOption(cmd, cli.get(), &flags->bootstrap_servers);
  cli->Bind(cmd->add_option("--regions", flags->regions,
                  "Region table (TOML). Default: $ROADPULSE_REGIONS, else "
                  "deploy/config/regions/binzhou.toml found from the working directory or "
                  "the executable"), "regions.file");
  cli->Bind(cmd->add_option("--group", flags->group, "Consumer group id")->capture_default_str(),
            "worker.group");
  cmd->add_flag("--stop-at-end", flags->stop_at_end,
                "Exit once every assigned partition is read to its end and published");
  cli->Bind(cmd->add_option("--flush-interval-ms", flags->flush_interval_ms,
                            "How often changed counts are published, in milliseconds")
                ->check(CLI::Range(1, 3600 * 1000))
                ->capture_default_str(),
            "worker.flush_interval_ms");
  cmd->add_option("--retention-days", flags->retention_days,
                  "Retention horizon in days: events whose occurred_at is older than this before "
                  "the newest event of their partition go to the DLQ as too_late, and their ids "
                  "are forgotten (keep it above 366 so last year's same period stays comparable)")
      ->check(CLI::Range(1, 36600))
      ->capture_default_str();
  cli->Bind(cmd->get_option("--retention-days"), "worker.retention_days");
  cli->Bind(cmd->add_option("--counts-topic", flags->counts_topic, "Topic the counts are published to")
                ->capture_default_str(),
            "topics.counts");
  AddPropertiesOption(cmd, cli.get(), &flags->properties);
  cli->Bind(cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error")
                ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
                ->capture_default_str(),
            "log.level");
  cli->Bind(cmd->add_option("--checkpoint-interval-ms", flags->checkpoint_interval_ms,
                            "How often each changed partition's state is checkpointed to "
                            "topics.checkpoints, ms; 0: no checkpoints (assignments re-read "
                            "their partitions from offset 0)")
                ->check(CLI::Range(0, 86400000))
                ->capture_default_str(),
            "worker.checkpoint_interval_ms");
  cli->Bind(cmd->add_option("--offset-reset-policy", flags->offset_reset_policy,
                            "A checkpointed offset deleted by retention is data loss: 'stop', or "
                            "'earliest' to resume from the earliest offset and mark the partition")
                ->check(CLI::IsMember({"stop", "earliest"}))
                ->capture_default_str(),
            "worker.offset_reset_policy");
  cli->Bind(cmd->add_option("--instance-id", flags->instance_id,
                            "Static group membership id (group.instance.id): unique per worker and "
                            "stable across its restarts, so a quick restart keeps its partitions"),
            "worker.instance_id");
  cmd->add_option("--http", flags->http,
                  "Serve /metrics (Prometheus) and /healthz on HOST:PORT (port 0: any free port)");
  cli->Bind(cmd->get_option("--http"), "worker.http");
  cmd->callback([flags, cli, exit_code] {
    // defaults < --config FILE < ROADPULSE_* < flags; the flags' fields then
    // take the effective values.
    absl::StatusOr<Config> config = cli->LoadForCluster();
    if (!config.ok()) {
      std::fprintf(stderr, "roadpulse run: %s\n", std::string(config.status().message()).c_str());
      *exit_code = 2;
      return;
    }
    RunFlags& f = *flags;
    f.config = *config;
    f.bootstrap_servers = config->BootstrapServers();
    f.regions = config->GetString("regions.file");
    f.group = config->GetString("worker.group");
    f.http = config->GetString("worker.http");
    f.flush_interval_ms = static_cast<int>(config->GetInt("worker.flush_interval_ms"));
    f.retention_days = static_cast<int>(config->GetInt("worker.retention_days"));
    f.counts_topic = config->GetString("topics.counts");
    f.log_level = config->GetString("log.level");
    f.client = config->ClientProperties();
    if (absl::Status s = SetUpLogging(LogOptionsFromConfig(*config, "run")); !s.ok()) {
      std::fprintf(stderr, "roadpulse run: %s\n", std::string(s.message()).c_str());
      *exit_code = 2;
      return;
    }
    spdlog::info("run: configuration (defaults < file < environment < flags; secrets masked):\n{}",
                 config->ToToml());
    *exit_code = RunWorker(*flags);
  });
}

}  // namespace roadpulse
