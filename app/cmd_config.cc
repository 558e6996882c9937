// `roadpulse config check [FILE]`: validates a configuration (file, then the
// ROADPULSE_* environment) and prints the effective one with secrets masked.
// `roadpulse config topics [FILE]`: the topics to create and their settings,
// as a table or as kafka-topics.sh commands (deploy/create-topics.sh).
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_replace.h"
#include "app/commands.h"
#include "app/config.h"
#include "fmt/format.h"
#include "processors/region_table.h"

namespace roadpulse {
namespace {

struct ConfigFlags {
  std::string file;
  bool script = false;
  std::string bootstrap;  // --bootstrap-server; empty: see Topics()
};

// What --script writes when neither the flag nor the configuration names the
// cluster: a shell expansion, as deploy/create-topics.sh reads it.
constexpr char kBootstrapPlaceholder[] = "${BOOTSTRAP:-localhost:9092}";

absl::StatusOr<Config> Load(const std::string& file) {
  absl::StatusOr<Config> config = LoadConfig(file, {});
  if (!config.ok()) return config;
  if (const std::string& regions = config->GetString("regions.file"); !regions.empty()) {
    if (absl::StatusOr<RegionTable> t = RegionTable::LoadFile(regions); !t.ok()) {
      return absl::InvalidArgumentError(fmt::format("regions.file: {}", std::string(t.status().message())));
    }
  }
  return config;
}

int Check(const ConfigFlags& flags) {
  absl::StatusOr<Config> config = Load(flags.file);
  if (!config.ok()) {
    std::fprintf(stderr, "roadpulse config check: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  std::fputs(config->ToToml().c_str(), stdout);
  std::fprintf(stderr, "roadpulse config check: %s: ok\n",
               flags.file.empty() ? "defaults and environment" : flags.file.c_str());
  return 0;
}

int Topics(const ConfigFlags& flags) {
  absl::StatusOr<Config> config = Load(flags.file);
  if (!config.ok()) {
    std::fprintf(stderr, "roadpulse config topics: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  const int64_t partitions = config->GetInt("topics.partitions");
  const int64_t replication = config->GetInt("topics.replication_factor");
  // The flag, else the cluster the configuration (file, environment) names.
  std::string bootstrap = flags.bootstrap;
  if (bootstrap.empty()) bootstrap = config->BootstrapServers();
  if (bootstrap.empty()) {
    bootstrap = kBootstrapPlaceholder;
  } else if (bootstrap.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789.:,-_[]") != std::string::npos) {
    // Anything beyond host:port lists is single-quoted for the shell.
    bootstrap = "'" + absl::StrReplaceAll(bootstrap, {{"'", "'\\''"}}) + "'";
  }
  for (const TopicSettings& t : config->Topics()) {
    const std::string retention =
        t.retention_ms < 0 ? "" : fmt::format(" retention.ms={}", t.retention_ms);
    if (flags.script) {
      std::printf(
          "kafka-topics.sh --bootstrap-server %s --create --if-not-exists --topic %s "
          "--partitions %lld --replication-factor %lld --config cleanup.policy=%s%s\n",
          bootstrap.c_str(), t.name.c_str(), static_cast<long long>(partitions),
          static_cast<long long>(replication), t.cleanup_policy.c_str(),
          t.retention_ms < 0 ? ""
                             : fmt::format(" --config retention.ms={}", t.retention_ms).c_str());
    } else {
      std::printf("%s partitions=%lld replication.factor=%lld cleanup.policy=%s%s\n", t.name.c_str(),
                  static_cast<long long>(partitions), static_cast<long long>(replication),
                  t.cleanup_policy.c_str(), retention.c_str());
    }
  }
  return 0;
}

}  // namespace

void AddConfigCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "config",
      "Check a configuration file and show the topics it implies. The configuration is\n"
      "one TOML file (deploy/config/roadpulse.toml documents every key), overridden by\n"
      "ROADPULSE_<SECTION>_<KEY> environment variables, then by flags.");
  // Not require_subcommand(): CLI11 would then report a missing subcommand
  // before an unknown flag, and the flag would go unnamed.
  cmd->callback([cmd, exit_code] {
    if (cmd->get_subcommands().empty()) {
      std::fprintf(stderr, "roadpulse config: a subcommand is required: check or topics\n");
      *exit_code = 2;
    }
  });

  auto check = std::make_shared<ConfigFlags>();
  CLI::App* check_cmd = cmd->add_subcommand(
      "check",
      "Validate FILE (default: $ROADPULSE_CONFIG, else none) and the ROADPULSE_* environment;\n"
      "print the effective configuration as TOML with secrets masked and where each value\n"
      "came from. Exit code 0 valid, 2 invalid (the message names the key).");
  check_cmd->add_option("FILE", check->file, "Configuration file (TOML)");
  check_cmd->callback([check, exit_code] { *exit_code = Check(*check); });

  auto topics = std::make_shared<ConfigFlags>();
  CLI::App* topics_cmd = cmd->add_subcommand(
      "topics",
      "Print the topics roadpulse uses with their partitions, replication factor and\n"
      "cleanup.policy (compact for counts and checkpoints), from FILE or the defaults.");
  topics_cmd->add_option("FILE", topics->file, "Configuration file (TOML)");
  topics_cmd->add_flag("--script", topics->script, "Print kafka-topics.sh commands instead");
  topics_cmd->add_option(
      "--bootstrap-server,--bootstrap-servers", topics->bootstrap,
      fmt::format("Bootstrap server written into the --script commands. Default: "
                  "the configuration's kafka.\"bootstrap.servers\", else {}",
                  kBootstrapPlaceholder));
  topics_cmd->callback([topics, exit_code] { *exit_code = Topics(*topics); });
}

}  // namespace roadpulse
