#include "app/config_cli.h"

#include "absl/strings/numbers.h"

namespace roadpulse {

CLI::Option* ConfigCli::Bind(CLI::Option* option, std::string key) {
  bound_.emplace_back(option, std::move(key));
  return option;
}

CLI::Option* ConfigCli::BindProperties(CLI::Option* option) {
  properties_ = option;
  return option;
}

std::vector<FlagValue> ConfigCli::Given() const {
  std::vector<FlagValue> out;
  for (const auto& [option, key] : bound_) {
    if (option->count() == 0) continue;
    // The last occurrence wins, as CLI11 does for a single value.
    const std::vector<std::string>& results = option->results();
    const std::string value = results.empty() ? "" : results.back();
    out.push_back({key, value, option->get_name()});
  }
  if (log_format_option_ != nullptr && log_format_option_->count() > 0) {
    out.push_back({"log.format", log_format, "--log-format"});
  }
  if (properties_ != nullptr) {
    for (const std::string& kv : properties_->results()) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;  // refused by the option's own check
      out.push_back({"kafka." + kv.substr(0, eq), kv.substr(eq + 1), "-X " + kv.substr(0, eq)});
    }
  }
  return out;
}

absl::StatusOr<Config> ConfigCli::Load() const { return LoadConfig(file, Given()); }

absl::StatusOr<Config> ConfigCli::LoadForCluster() const {
  absl::StatusOr<Config> config = Load();
  if (config.ok() && config->BootstrapServers().empty()) {
    return absl::InvalidArgumentError(
        "--bootstrap-servers is required (or kafka.\"bootstrap.servers\" in --config FILE, or "
        "ROADPULSE_KAFKA_BOOTSTRAP_SERVERS)");
  }
  return config;
}

void AddConfigOptions(CLI::App* cmd, ConfigCli* cli) {
  cmd->add_option("--config", cli->file,
                  "Configuration file (TOML; deploy/config/roadpulse.toml documents every key). "
                  "Default: $ROADPULSE_CONFIG. Precedence: file < ROADPULSE_<SECTION>_<KEY> "
                  "environment variables < flags");
  cli->log_format_option_ =
      cmd->add_option("--log-format", cli->log_format,
                      "Log format: text, or json (one JSON object per line, with command, "
                      "worker id, topic, partition and offsets as fields) [default: log.format, "
                      "text]")
          ->check(CLI::IsMember({"text", "json"}));
}

CLI::Option* AddBootstrapServersOption(CLI::App* cmd, ConfigCli* cli, std::string* servers,
                                       const std::string& help) {
  return cli->Bind(
      cmd->add_option("--bootstrap-servers,--bootstrap-server", *servers,
                      help.empty() ? "Kafka bootstrap servers, HOST:PORT[,...] (required here or "
                                     "as kafka.\"bootstrap.servers\" in the configuration)"
                                   : help),
      "kafka.bootstrap.servers");
}

CLI::Option* AddPropertiesOption(CLI::App* cmd, ConfigCli* cli,
                                 std::vector<std::string>* properties) {
  return cli->BindProperties(
      cmd->add_option("-X", *properties,
                      "librdkafka property key=value for every client (repeatable), e.g. "
                      "-X security.protocol=SSL; secrets belong in --config or ROADPULSE_KAFKA_* "
                      "variables, where other users' `ps` cannot see them")
          ->check([](const std::string& kv) -> std::string {
            const size_t eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) return "expected key=value, got '" + kv + "'";
            return {};
          }));
}

CLI::Option* AddSeedOption(CLI::App* cmd, uint64_t* seed, const std::string& help) {
  return cmd->add_option("--seed", *seed, help)
      ->check([](const std::string& text) -> std::string {
        uint64_t value = 0;
        const bool digits =
            !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && absl::SimpleAtoi(text, &value)) return {};
        return "expected a whole number from 0 to 18446744073709551615, got '" + text + "'";
      })
      ->capture_default_str();
}

}  // namespace roadpulse
