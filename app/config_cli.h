// Glue between CLI11 flags and the configuration (app/config.h) for the
// commands that talk to Kafka: `--config FILE` and `--log-format`, and flags bound to config keys
// so that a flag given on the command line overrides the file and the environment, while a flag
// left out does not.
//
//   auto cli = std::make_shared<ConfigCli>();
//   AddConfigOptions(cmd, cli.get());
//   cli->Bind(cmd->add_option("--group", flags->group, ...), "worker.group");
//   cli->BindProperties(cmd->add_option("-X", flags->properties, ...));
//   ... in the callback: absl::StatusOr<Config> config = cli->Load();
#ifndef ROADPULSE_APP_CONFIG_CLI_H_
#define ROADPULSE_APP_CONFIG_CLI_H_

#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "app/config.h"

namespace roadpulse {

struct ConfigCli {
  std::string file;        // --config
  std::string log_format;  // --log-format (empty: from the configuration)

  // `option` (given on the command line) sets config `key`. Returns option.
  CLI::Option* Bind(CLI::Option* option, std::string key);
  // `option` holds librdkafka key=value pairs (-X): each sets kafka.<key>.
  CLI::Option* BindProperties(CLI::Option* option);

  // The flags given on the command line, as config values.
  std::vector<FlagValue> Given() const;
  // defaults < file < environment < the flags given (LoadConfig).
  absl::StatusOr<Config> Load() const;
  // Load(), and kInvalidArgument when no cluster is named (neither
  // --bootstrap-servers, the file nor ROADPULSE_KAFKA_BOOTSTRAP_SERVERS).
  absl::StatusOr<Config> LoadForCluster() const;

 private:
  std::vector<std::pair<CLI::Option*, std::string>> bound_;
  CLI::Option* properties_ = nullptr;
  CLI::Option* log_format_option_ = nullptr;
  friend void AddConfigOptions(CLI::App* cmd, ConfigCli* cli);
};

// Adds --config and --log-format to `cmd`. `cli` must outlive `cmd`.
void AddConfigOptions(CLI::App* cmd, ConfigCli* cli);
// Adds --bootstrap-servers into `servers`, bound to kafka.bootstrap.servers
// (LoadForCluster requires it from somewhere). Both must outlive `cmd`.
// `help`: the option's text (default: says where else it may come from).
CLI::Option* AddBootstrapServersOption(CLI::App* cmd, ConfigCli* cli, std::string* servers,
                                       const std::string& help = "");
// Adds -X key=value (repeatable) into `properties`, bound to kafka.<key>.
// Both must outlive `cmd`.
CLI::Option* AddPropertiesOption(CLI::App* cmd, ConfigCli* cli,
                                 std::vector<std::string>* properties);

// Adds --seed into `seed`: decimal digits only, 0 to 2^64 - 1 (CLI11 alone
// would wrap "-1" around to 2^64 - 1). `seed` must outlive `cmd`.
CLI::Option* AddSeedOption(CLI::App* cmd, uint64_t* seed, const std::string& help);

}  // namespace roadpulse

#endif  // ROADPULSE_APP_CONFIG_CLI_H_
