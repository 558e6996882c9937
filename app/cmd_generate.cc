// `roadpulse generate`: synthetic events of a scenario to Kafka or a file,
// with the ground-truth manifest. See app/generator.h.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "app/commands.h"
#include "app/config_cli.h"
#include "app/event_writer.h"
#include "app/generator.h"
#include "app/scenario.h"
#include "ingest/kafka_producer.h"
#include "processors/region_table.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_give_up{false};

// The first SIGINT/SIGTERM stops the generating (what was handed to Kafka is
// still delivered, and the manifest says what was); the second gives up
// waiting for the cluster.
extern "C" void OnStopSignal(int) {
  if (g_stop.exchange(true)) g_give_up.store(true);
}

// How long `generate` waits for the cluster to describe its topics.
constexpr absl::Duration kClusterWait = absl::Seconds(10);

// The --truth file. Open() creates (or empties) it before anything is
// generated, so that a path that cannot be written is named first; unless
// Write() then succeeds, the destructor removes it: a run that did not
// deliver all it generated leaves no manifest to be mistaken for its truth.
class TruthFile {
 public:
  TruthFile() = default;
  TruthFile(const TruthFile&) = delete;
  TruthFile& operator=(const TruthFile&) = delete;
  ~TruthFile() {
    if (path_.empty() || written_) return;
    out_.close();
    std::remove(path_.c_str());
    spdlog::warn("generate: no manifest: {} removed, as the run failed", path_);
  }

  absl::Status Open(const std::string& path) {
    out_.open(path, std::ios::binary | std::ios::trunc);
    if (!out_) {
      return absl::PermissionDeniedError(
          absl::StrCat("--truth ", path, ": cannot open for writing: ", std::strerror(errno)));
    }
    path_ = path;
    return absl::OkStatus();
  }

  absl::Status Write(const Manifest& manifest) {
    out_ << manifest.ToJson().dump(1) << "\n";
    out_.close();
    if (!out_) return absl::DataLossError(absl::StrCat("--truth ", path_, ": cannot write"));
    written_ = true;
    spdlog::info("generate: manifest written to {}", path_);
    return absl::OkStatus();
  }

 private:
  std::string path_;  // empty: not opened
  std::ofstream out_;
  bool written_ = false;
};

struct GenerateFlags {
  uint64_t seed = 1;
  std::string scenario = "binzhou-2025";
  std::string scenario_file;
  std::string regions_file;
  int this_year = 0;
  std::string through;
  std::string output;
  std::string bootstrap_servers;
  std::string incidents_topic = "roadpulse.incidents";
  std::string violations_topic = "roadpulse.violations";
  std::vector<std::string> properties;
  std::string truth;
  double rate = 0;
  int64_t events = -1;  // -1: the whole history
  bool events_given = false;
  int64_t scale = 1;
  bool live = false;
  double live_rate = 0;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "roadpulse generate: %s\n", message.c_str());
  return 2;
}

int RunGenerate(const GenerateFlags& f) {
  // Flags first, so that a bad value is named before anything is loaded.
  if (f.output.empty() == f.bootstrap_servers.empty()) {
    return Fail("give exactly one of --output FILE or --bootstrap-servers HOST:PORT,...");
  }
  if (f.rate < 0) return Fail(absl::StrCat("--rate ", f.rate, ": must be >= 0"));
  if (f.events < -1 || (f.events_given && f.events < 0)) {
    return Fail(absl::StrCat("--events ", f.events, ": must be >= 0"));
  }
  if (f.live_rate < 0) return Fail(absl::StrCat("--live-rate ", f.live_rate, ": must be >= 0"));
  std::optional<int> this_year;
  if (f.this_year != 0) {
    if (f.this_year < 1971 || f.this_year > 2999) {
      return Fail(absl::StrCat("--this-year ", f.this_year, ": expected a year like 2025"));
    }
    this_year = f.this_year;
  }
  std::optional<absl::CivilDay> through;
  if (!f.through.empty()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(f.through, &day)) {
      return Fail(absl::StrCat("--through ", f.through, ": expected a date YYYY-MM-DD"));
    }
    through = day;
  }
  KafkaProperties properties;
  for (const std::string& p : f.properties) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(absl::StrCat("--property ", p, ": expected KEY=VALUE"));
    }
    properties[p.substr(0, eq)] = p.substr(eq + 1);
  }

  const std::string regions_path =
      f.regions_file.empty() ? DefaultRegionTablePath() : f.regions_file;
  absl::StatusOr<RegionTable> regions = RegionTable::LoadFile(regions_path);
  if (!regions.ok()) return Fail(absl::StrCat("--regions: ", regions.status().message()));
  const std::string scenario_path =
      f.scenario_file.empty() ? DefaultScenarioPath(f.scenario) : f.scenario_file;
  absl::StatusOr<Scenario> scenario = LoadScenarioFile(scenario_path);
  if (!scenario.ok()) {
    return Fail(absl::StrCat(f.scenario_file.empty() ? "--scenario: " : "--scenario-file: ",
                             scenario.status().message()));
  }
  absl::Status st = scenario->MovePeriods(this_year, through);
  if (!st.ok()) return Fail(std::string(st.message()));
  st = scenario->Scale(f.scale);
  if (!st.ok()) return Fail(std::string(st.message()));

  GeneratorOptions options;
  options.seed = f.seed;
  options.scenario = *std::move(scenario);
  options.max_events = f.events;
  options.rate = f.rate;
  options.live_rate = f.live_rate;
  // Nothing is generated in the future: a period reaching past now is cut at
  // now (only then does the output depend on when it runs).
  options.not_after = absl::Now();

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);

  TruthFile truth;
  if (!f.truth.empty()) {
    if (absl::Status opened = truth.Open(f.truth); !opened.ok()) {
      return Fail(std::string(opened.message()));
    }
  }

  // Where the records go, before the history is built: a file that cannot be
  // written or a cluster that does not answer is named at once.
  std::unique_ptr<EventWriter> writer;
  FileEventWriter* file_writer = nullptr;  // writer, when it writes a file
  std::unique_ptr<KafkaProducer> producer;
  if (!f.output.empty()) {
    absl::StatusOr<std::unique_ptr<FileEventWriter>> fw = FileEventWriter::Create(f.output);
    if (!fw.ok()) return Fail(absl::StrCat("--output: ", fw.status().message()));
    file_writer = fw->get();
    writer = *std::move(fw);
  } else {
    ProducerOptions po;
    po.bootstrap_servers = f.bootstrap_servers;
    po.properties = properties;
    absl::StatusOr<std::unique_ptr<KafkaProducer>> p = KafkaProducer::Create(po);
    if (!p.ok()) return Fail(absl::StrCat("--bootstrap-servers: ", p.status().message()));
    producer = *std::move(p);
    for (const std::string* topic : {&f.incidents_topic, &f.violations_topic}) {
      absl::StatusOr<int> partitions = producer->Prepare(*topic, kClusterWait);
      if (partitions.ok()) continue;
      // A topic the cluster refuses is a setting to mend; a cluster that does
      // not answer may answer later.
      const absl::StatusCode code = partitions.status().code();
      if (code == absl::StatusCode::kNotFound || code == absl::StatusCode::kInvalidArgument) {
        return Fail(std::string(partitions.status().message()));
      }
      spdlog::error("generate: cannot reach the cluster at {}: {}", f.bootstrap_servers,
                    partitions.status().ToString());
      return 1;
    }
    KafkaWriterOptions ko;
    ko.incidents_topic = f.incidents_topic;
    ko.violations_topic = f.violations_topic;
    ko.stop = &g_stop;
    ko.give_up = &g_give_up;
    writer = std::make_unique<KafkaEventWriter>(*producer, ko);
  }

  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Generator>> gen = Generator::Create(options, *regions);
  if (!gen.ok()) return Fail(std::string(gen.status().message()));
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("generate: scenario {} seed {}: {} records of history built in {:.2f} s",
               options.scenario.name, f.seed, (*gen)->history_size(), build_s);

  const auto t1 = std::chrono::steady_clock::now();
  st = (*gen)->Run(*writer, g_stop);
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  if (st.ok()) {
    const int64_t n = (*gen)->emitted();
    spdlog::info("generate: {} records written in {:.2f} s ({:.0f} records/s){}", n, run_s,
                 run_s > 0 ? static_cast<double>(n) / run_s : 0.0,
                 g_stop.load() ? ", stopped before the end of the history" : "");
    if (f.live && !g_stop.load()) {
      spdlog::info("generate: live, stamped with the current time, until SIGINT/SIGTERM");
      st = (*gen)->RunLive(*writer, g_stop);
      if (!st.ok()) st = absl::Status(st.code(), absl::StrCat("live: ", st.message()));
    }
  }
  // The file takes its name only now, complete (a failed run leaves none).
  if (st.ok() && file_writer != nullptr) st = file_writer->Close();

  const Manifest& manifest = (*gen)->manifest();
  const Manifest::Tally& t = manifest.tally();
  if (!st.ok()) {
    spdlog::error("generate: {} (after {} records)", st.ToString(), t.total());
    // The run failed: nothing waits for the records still queued (the
    // producer's destructor would, up to 5 s).
    if (producer != nullptr) producer->Purge();
    return 1;
  }
  spdlog::info(
      "generate: produced {} (incidents {}, violations {}); expected counted {}, amended {}, "
      "duplicates {}, rejected {}",
      t.total(), t.incidents, t.violations, t.counted, t.amended, t.duplicates, t.rejected);
  if (!f.truth.empty()) {
    if (absl::Status written = truth.Write(manifest); !written.ok()) {
      spdlog::error("generate: {}", std::string(written.message()));
      return 1;
    }
  }
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Generate a scenario's synthetic accidents and violations (deterministic for a seed),\n"
      "with amendments, duplicates and bad records mixed in, to Kafka or an event-log file,\n"
      "and write the ground-truth manifest of what was produced.");
  AddSeedOption(cmd, &flags->seed,
                "Random seed; the same seed and flags give the same records (byte-identical "
                "files)");
  cmd->add_option("--scenario", flags->scenario,
                  "Scenario name: loads deploy/config/scenarios/NAME.toml")
      ->capture_default_str();
  cmd->add_option("--scenario-file", flags->scenario_file,
                  "Scenario file to load instead of the named one");
  cmd->add_option("--regions", flags->regions_file,
                  "Region table file (default: deploy/config/regions/binzhou.toml)");
  cmd->add_option("--this-year", flags->this_year,
                  "Move the scenario's periods so that its last period is in this year (YYYY)");
  cmd->add_option("--through", flags->through,
                  "End every period on this month and day (YYYY-MM-DD, inclusive); periods are "
                  "cut at the current time");
  cmd->add_option("--output", flags->output,
                  "Write an event-log file, as export does and replay reads it: "
                  "length-delimited roadpulse.v1.LoggedRecord (record time = reported_at), or "
                  "JSON Lines for a name ending in .jsonl; .gz/.zst compress it. It takes its "
                  "name once complete (\"-\": stdout)");
  cmd->add_option(
      "--bootstrap-servers,--bootstrap-server", flags->bootstrap_servers,
      "Produce to Kafka at HOST:PORT,... (key = event id); exits 1 if the cluster does not "
      "describe both topics within 10 s");
  cmd->add_option("--incidents-topic", flags->incidents_topic, "Topic for accidents")
      ->capture_default_str();
  cmd->add_option("--violations-topic", flags->violations_topic, "Topic for violations")
      ->capture_default_str();
  cmd->add_option("--property,-X", flags->properties,
                  "Raw librdkafka producer property KEY=VALUE (repeatable)");
  cmd->add_option("--truth", flags->truth,
                  "Write the ground-truth manifest (JSON) to FILE once every record is written "
                  "(delivered, for Kafka); a run that fails leaves no FILE");
  cmd->add_option("--rate", flags->rate,
                  "Records per second (EVENTS_PER_S); 0 = as fast as possible")
      ->capture_default_str();
  cmd->add_option("--events", flags->events,
                  "Emit at most the first N records of the history (N >= 0), in time order: a "
                  "small N covers only the start of the first period");
  cmd->add_option("--scale", flags->scale,
                  "Multiply every period's totals by N (1-100): about N times the records, "
                  "with the same year-over-year changes (the history is built in memory: "
                  "binzhou-2025 takes ~110 MB per unit of N)")
      ->check(CLI::Range(int64_t{1}, Scenario::kMaxScale))
      ->capture_default_str();
  cmd->add_flag("--live", flags->live,
                "After the history, keep producing events stamped with the current time until "
                "SIGINT/SIGTERM");
  cmd->add_option("--live-rate", flags->live_rate,
                  "Events per second in --live mode (default: the scenario's live.rate)");
  cmd->callback([flags, cmd, exit_code] {
    flags->events_given = cmd->count("--events") > 0;
    *exit_code = RunGenerate(*flags);
  });
}

}  // namespace roadpulse
