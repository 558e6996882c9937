// `roadpulse report`: reads roadpulse.counts and prints a period's report for
// a region against the same period last year, in the report's own wording.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/logging.h"
#include "app/report_flags.h"
#include "app/scenario.h"
#include "processors/count_store.h"
#include "processors/region_table.h"
#include "sinks/count_reader.h"
#include "sinks/report.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

struct ReportCommandFlags {
  std::string bootstrap_servers;
  std::string topic = "roadpulse.counts";
  std::string regions;
  ReportFlags report;                   // --from, --to, --region, --lang, --format, --bom
  std::vector<std::string> properties;  // -X key=value
  KafkaProperties client;               // from the configuration (file < env < -X)
};

int RunReport(const ReportCommandFlags& flags) {
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "roadpulse report: %s\n", std::string(s.message()).c_str());
    return 2;
  };
  absl::StatusOr<RegionTable> regions =
      RegionTable::LoadFile(flags.regions.empty() ? DefaultRegionTablePath() : flags.regions);
  if (!regions.ok()) return fail(regions.status());
  const absl::TimeZone& tz = regions->zone();
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz);
  absl::StatusOr<ReportRequest> request = ReadReportFlags(flags.report, *regions, today);
  if (!request.ok()) return fail(request.status());

  CountReaderOptions reader_options;
  reader_options.bootstrap_servers = flags.bootstrap_servers;
  reader_options.topic = flags.topic;
  reader_options.properties = flags.client;
  // The cluster failing is not a bad configuration: exit code 1.
  auto cannot_read = [&flags](const absl::Status& s) {
    std::fprintf(stderr, "roadpulse report: cannot read %s from %s: %s\n", flags.topic.c_str(),
                 flags.bootstrap_servers.c_str(), std::string(s.message()).c_str());
    return 1;
  };
  absl::StatusOr<std::unique_ptr<CountReader>> reader = CountReader::Create(reader_options);
  if (absl::IsInvalidArgument(reader.status())) return fail(reader.status());
  if (!reader.ok()) return cannot_read(reader.status());
  CountStore store(*regions);
  absl::StatusOr<CountReadStats> stats = (*reader)->ReadToEnd(store);
  if (!stats.ok()) return cannot_read(stats.status());
  if (stats->invalid > 0 && stats->records == 0) {
    // The wrong topic (an input topic, say): a report of zeros would pass for
    // one of a quiet period.
    std::fprintf(stderr,
                 "roadpulse report: no report: none of the %lld records of %s is a count record "
                 "(is --topic the counts topic?)\n",
                 static_cast<long long>(stats->invalid), flags.topic.c_str());
    return 1;
  }
  if (stats->invalid > 0) {
    spdlog::warn("{} records of {} could not be applied (see the log above)", stats->invalid,
                 flags.topic);
  }
  absl::StatusOr<Report> report =
      BuildReport(store, request->region, request->period, request->language);
  if (!report.ok()) return fail(report.status());
  if (const std::string hint = EmptyPeriodHint(*report, store.DaysWithCounts(), flags.topic);
      !hint.empty()) {
    spdlog::warn("{}", hint);
  }
  std::string text = RenderReport(*report, request->format, request->utf8_bom);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

void AddReportCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ReportCommandFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Read roadpulse.counts and print the report for a period and region against the same\n"
      "period last year: the report's own sentences (全市道路交通事故起数、死亡人数、受伤人数\n"
      "同比分别下降…), and a table per county. Reaches the cluster like `run`: --config FILE,\n"
      "ROADPULSE_KAFKA_* variables (SASL, TLS) and -X.\n"
      "Exit code 0 ok, 1 the cluster could not be read, 2 bad flags or configuration.");
  auto cli = std::make_shared<ConfigCli>();
  AddConfigOptions(cmd, cli.get());
  AddBootstrapServersOption(cmd, cli.get(), &flags->bootstrap_servers);
  cli->Bind(cmd->add_option("--topic,--counts-topic", flags->topic,
                            "Counts topic (as run --counts-topic)")
                ->capture_default_str(),
            "topics.counts");
  cli->Bind(
      cmd->add_option("--regions", flags->regions, "Region table file")->check(CLI::ExistingFile),
      "regions.file");
  AddPropertiesOption(cmd, cli.get(), &flags->properties);
  AddReportFlags(cmd, &flags->report);
  cmd->callback([flags, cli, exit_code] {
    // defaults < --config FILE < ROADPULSE_* < flags, as for run and serve.
    absl::StatusOr<Config> config = cli->LoadForCluster();
    if (!config.ok()) {
      std::fprintf(stderr, "roadpulse report: %s\n",
                   std::string(config.status().message()).c_str());
      *exit_code = 2;
      return;
    }
    ReportCommandFlags& f = *flags;
    f.bootstrap_servers = config->BootstrapServers();
    f.topic = config->GetString("topics.counts");
    f.regions = config->GetString("regions.file");
    f.client = config->ClientProperties();
    if (absl::Status s = SetUpLogging(LogOptionsFromConfig(*config, "report")); !s.ok()) {
      std::fprintf(stderr, "roadpulse report: %s\n", std::string(s.message()).c_str());
      *exit_code = 2;
      return;
    }
    *exit_code = RunReport(*flags);
  });
}

}  // namespace roadpulse
