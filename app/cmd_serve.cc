// `roadpulse serve`: the live view. Reads roadpulse.counts (to the end, then
// following it) and serves the HTTP API, the live stream, Prometheus metrics
// and the dashboard (sinks/http_view.h). Any number of replicas can run: each
// reads the whole topic on its own.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/logging.h"
#include "app/scenario.h"
#include "processors/region_table.h"
#include "sinks/count_reader.h"
#include "sinks/count_view.h"
#include "sinks/http_view.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

std::atomic<bool> serve_stop{false};
void OnServeSignal(int) { serve_stop.store(true); }

struct ServeFlags {
  std::string bootstrap_servers;
  std::string topic = "roadpulse.counts";
  std::string regions;
  std::string http = "127.0.0.1:8080";
  std::string token;
  double stale_after_s = 30;
  int snapshot_interval_ms = 100;
  std::string log_level = "info";
  std::vector<std::string> properties_flags;      // -X key=value as given
  std::map<std::string, std::string> properties;  // effective [kafka] (file < env < -X)
};

int RunServe(const ServeFlags& flags) {
  auto fail = [](const std::string& what, const absl::Status& s) {
    std::fprintf(stderr, "roadpulse serve: %s%s\n", what.c_str(), std::string(s.message()).c_str());
    return 2;
  };
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(flags.regions.empty() ? DefaultRegionTablePath() : flags.regions);
  if (!regions.ok()) return fail("--regions: ", regions.status());
  HttpViewOptions http;
  if (absl::Status s = ParseHostPort(flags.http, &http.host, &http.port); !s.ok()) {
    return fail("--http: ", s);
  }
  http.token = flags.token;  // --token, ROADPULSE_VIEW_TOKEN, view.token, ROADPULSE_TOKEN
  http.stale_after = absl::Seconds(flags.stale_after_s);

  CountReaderOptions reader_options;
  reader_options.bootstrap_servers = flags.bootstrap_servers;
  reader_options.topic = flags.topic;
  for (const auto& [k, v] : flags.properties) {
    if (k != "bootstrap.servers") reader_options.properties[k] = v;
  }
  SetLiveReaderDefaults(reader_options);
  reader_options.timeout = absl::Minutes(10);

  CountViewOptions view_options;
  view_options.min_snapshot_interval = absl::Milliseconds(flags.snapshot_interval_ms);
  CountView view(*regions, view_options);
  // Listen first: /healthz answers, and /readyz says 503 while catching up
  // or while the cluster cannot be reached (with the reason).
  absl::StatusOr<std::unique_ptr<HttpView>> server = HttpView::Start(http, view);
  if (!server.ok()) return fail("--http: ", server.status());
  std::printf("roadpulse serve: listening on %s (token %s)\n", (*server)->url().c_str(),
              http.token.empty() ? "off" : "on");
  std::fflush(stdout);

  std::signal(SIGINT, OnServeSignal);
  std::signal(SIGTERM, OnServeSignal);
  absl::Status status = view.RunWithRetries(reader_options, serve_stop);
  (*server)->Stop();
  if (!status.ok()) return fail("", status);  // only bad options end it early
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve the live view: read roadpulse.counts and answer the HTTP API\n"
      "(/api/v1/counts, /api/v1/report, /api/v1/stream), /metrics, /healthz, /readyz and the\n"
      "dashboard at /. Read-only; binds 127.0.0.1:8080 unless --http says otherwise.\n"
      "Waits for the cluster: while the counts topic cannot be read, /readyz answers 503 with\n"
      "the reason and serve tries again (after 1 s, doubling up to 15 s). Reaches the cluster\n"
      "like `run`: --config FILE, ROADPULSE_KAFKA_* variables (SASL, TLS) and -X.\n"
      "Exit code 0 after SIGINT/SIGTERM; 2 when it cannot start (bad configuration, port in use).");
  auto cli = std::make_shared<ConfigCli>();
  AddConfigOptions(cmd, cli.get());
  AddBootstrapServersOption(cmd, cli.get(), &flags->bootstrap_servers);
  cli->Bind(cmd->add_option("--topic,--counts-topic", flags->topic,
                            "Counts topic (as run --counts-topic)")
                ->capture_default_str(),
            "topics.counts");
  cli->Bind(cmd->add_option("--regions", flags->regions, "Region table file"), "regions.file");
  cli->Bind(cmd->add_option("--http", flags->http, "Listen on HOST:PORT (port 0: any free port)")
                ->capture_default_str(),
            "view.http");
  cli->Bind(cmd->add_option("--token", flags->token,
                            "Bearer token required by every endpoint except /healthz (default: "
                            "view.token, else $ROADPULSE_TOKEN; none when empty)"),
            "view.token");
  cli->Bind(cmd->add_option("--stale-after", flags->stale_after_s,
                            "Seconds without a new count before the data is called stale")
                ->check(CLI::Range(1.0, 86400.0))
                ->capture_default_str(),
            "view.stale_after_s");
  cli->Bind(cmd->add_option("--snapshot-interval-ms", flags->snapshot_interval_ms,
                            "Least time between two published snapshots of the counts")
                ->check(CLI::Range(1, 60000))
                ->capture_default_str(),
            "view.snapshot_interval_ms");
  cli->Bind(cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error")
                ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
                ->capture_default_str(),
            "log.level");
  AddPropertiesOption(cmd, cli.get(), &flags->properties_flags);
  cmd->callback([flags, cli, exit_code] {
    // defaults < --config FILE < ROADPULSE_* < flags.
    absl::StatusOr<Config> config = cli->LoadForCluster();
    if (!config.ok()) {
      std::fprintf(stderr, "roadpulse serve: %s\n", std::string(config.status().message()).c_str());
      *exit_code = 2;
      return;
    }
    ServeFlags& f = *flags;
    f.bootstrap_servers = config->BootstrapServers();
    f.topic = config->GetString("topics.counts");
    f.regions = config->GetString("regions.file");
    f.http = config->GetString("view.http");
    f.token = config->GetString("view.token");
    f.stale_after_s = config->GetDouble("view.stale_after_s");
    f.snapshot_interval_ms = static_cast<int>(config->GetInt("view.snapshot_interval_ms"));
    f.log_level = config->GetString("log.level");
    for (const auto& [k, v] : config->ClientProperties()) f.properties[k] = v;
    if (absl::Status s = SetUpLogging(LogOptionsFromConfig(*config, "serve")); !s.ok()) {
      std::fprintf(stderr, "roadpulse serve: %s\n", std::string(s.message()).c_str());
      *exit_code = 2;
      return;
    }
    spdlog::info("serve: configuration (defaults < file < environment < flags; secrets masked):\n{}",
                 config->ToToml());
    *exit_code = RunServe(*flags);
  });
}

}  // namespace roadpulse
