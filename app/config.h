// roadpulse's configuration: one TOML file, then environment variables, then
// command-line flags (each overrides the one before).
//
//   defaults  <  --config FILE ($ROADPULSE_CONFIG)  <  ROADPULSE_<SECTION>_<KEY>  <  flags
//
// Sections and keys are fixed (see kConfigKeys in config.cc and the documented
// example deploy/config/roadpulse.toml); an unknown section or key, in the
// file or in a ROADPULSE_* variable, is an error naming it. The `[kafka]`
// table is the exception: any librdkafka property passes through
// (bootstrap.servers, security.protocol, sasl.*, ssl.*, ...), and librdkafka
// itself checks the names and values in Validate().
//
// Environment variables: ROADPULSE_WORKER_FLUSH_INTERVAL_MS sets
// worker.flush_interval_ms; in the kafka section underscores become dots:
// ROADPULSE_KAFKA_SASL_PASSWORD sets kafka."sasl.password". ROADPULSE_CONFIG
// and ROADPULSE_CONFIG_DIR keep their own meanings and are not keys;
// ROADPULSE_REGIONS and ROADPULSE_TOKEN set regions.file and view.token when
// neither a file nor ROADPULSE_REGIONS_FILE / ROADPULSE_VIEW_TOKEN did.
//
// Secrets (IsSecretKey) are never printed: ToToml() and every log line show
// them as "********".
#ifndef ROADPULSE_APP_CONFIG_H_
#define ROADPULSE_APP_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ingest/kafka_producer.h"

namespace roadpulse {

// What a printed secret looks like.
inline constexpr char kMaskedSecret[] = "********";

// True for a key whose value is a secret: view.token, any kafka property that
// IsSecretPropertyName() names, any key containing password, secret or token.
// `key` is "section.key" or a bare librdkafka property name.
bool IsSecretKey(std::string_view key);

// For a "did you mean" hint: the candidate nearest to `word` (Levenshtein
// distance over bytes) if it is at most `max_edits` away, the first of
// equally near ones; "" when none is that near.
std::string Nearest(std::string_view word, const std::vector<std::string>& candidates,
                    size_t max_edits);

// One value given on the command line: the config key it sets
// ("worker.group", or "kafka.<property>") and the flag, for messages.
struct FlagValue {
  std::string key;
  std::string value;
  std::string flag;  // e.g. "--group" or "-X"
};

// A topic roadpulse reads or writes, with the settings it should be created
// with (`roadpulse config topics`, deploy/create-topics.sh, docker-compose).
struct TopicSettings {
  std::string key;             // config key under [topics], e.g. "counts"
  std::string name;            // e.g. "roadpulse.counts"
  std::string cleanup_policy;  // "delete" or "compact"
  // retention.ms to create it with; -1: the cluster's default. The input
  // topics keep worker.retention_days, so state can be rebuilt from them.
  int64_t retention_ms = -1;
};

// The effective configuration. Copyable value type; not thread-safe to
// mutate, safe to read from several threads.
class Config {
 public:
  enum class Origin { kDefault, kFile, kEnv, kFlag };

  // Every key at its default.
  Config();

  // Overrides with a TOML file. kNotFound / kInvalidArgument whose message
  // starts with the file name and names the key and the reason.
  absl::Status MergeFile(const std::string& path);
  // Same for TOML text; `name` stands for the file name in messages.
  absl::Status MergeToml(std::string_view text, std::string_view name);
  // Overrides with the ROADPULSE_* entries of `env` (name -> value), then
  // fills an empty regions.file / view.token from ROADPULSE_REGIONS /
  // ROADPULSE_TOKEN. kInvalidArgument naming the variable for an unknown key
  // or a bad value.
  absl::Status MergeEnv(const std::map<std::string, std::string>& env);
  // Overrides with flags given on the command line.
  absl::Status MergeFlags(const std::vector<FlagValue>& flags);

  // Sets one key ("section.key"; "kafka.<property>" for librdkafka);
  // `where` names the origin in messages and in ToToml's comments.
  absl::Status Set(std::string_view key, std::string_view value, Origin origin,
                   std::string_view where);

  // Typed reads of a fixed key ("worker.group"). REQUIRES: the key exists
  // and has that type (a programming error otherwise: aborts).
  const std::string& GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  double GetDouble(std::string_view key) const;

  // kafka."bootstrap.servers" (may be empty).
  std::string BootstrapServers() const;
  // Every [kafka] property except bootstrap.servers, for the clients.
  KafkaProperties ClientProperties() const;

  // The topics and how to create them, from [topics].
  std::vector<TopicSettings> Topics() const;

  // Checks what Set() could not check alone: every kafka property through
  // librdkafka. kInvalidArgument naming the key.
  absl::Status Validate() const;

  // The effective configuration as TOML, secrets masked, every value
  // followed by a comment saying where it came from (default, file, env, flag).
  std::string ToToml() const;
  // Every secret value set (for redacting logs).
  std::vector<std::string> SecretValues() const;

 private:
  struct Entry {
    std::string value;  // canonical text: strings as is, numbers as printed
    Origin origin = Origin::kDefault;
    std::string where;
  };
  std::map<std::string, Entry> fixed_;  // "section.key" -> value
  std::map<std::string, Entry> kafka_;  // librdkafka property -> value
};

// defaults < file < environment (the process's) < flags, then Validate().
// `file` empty: $ROADPULSE_CONFIG if set, else no file.
absl::StatusOr<Config> LoadConfig(const std::string& file, const std::vector<FlagValue>& flags);

// The process's environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

// The documented keys: "section.key", type ("string", "integer", "float"),
// default and meaning, in file order. For docs and the example file's test.
struct ConfigKeyInfo {
  std::string key;
  std::string type;
  std::string default_value;
  std::string help;
};
std::vector<ConfigKeyInfo> ConfigKeys();

}  // namespace roadpulse

#endif  // ROADPULSE_APP_CONFIG_H_
