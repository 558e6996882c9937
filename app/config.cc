#include "app/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "fmt/format.h"
#include "ingest/kafka_properties.h"
#include "toml++/toml.h"

extern char** environ;

namespace roadpulse {
namespace {

enum class Type { kString, kInt, kFloat };

// One fixed key. Strings may be limited to `choices` ("a|b|c") or be a
// HOST:PORT (`host_port`, empty allowed); numbers to [min, max].
struct KeySpec {
  const char* key;
  Type type;
  const char* default_value;
  const char* help;
  double min = 0;
  double max = 0;
  const char* choices = nullptr;
  bool host_port = false;
};

// The single list of keys. deploy/config/roadpulse.toml documents each one
// (config_test checks that the two agree).
const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec> specs = {
      {"topics.incidents", Type::kString, "roadpulse.incidents",
       "Input topic of IncidentEvent records"},
      {"topics.violations", Type::kString, "roadpulse.violations",
       "Input topic of ViolationEvent records"},
      {"topics.counts", Type::kString, "roadpulse.counts", "Published counts (compacted)"},
      {"topics.dlq", Type::kString, "roadpulse.dlq",
       "Dead-letter queue: refused records with the reason in headers"},
      {"topics.checkpoints", Type::kString, "roadpulse.checkpoints",
       "Per-partition worker state (compacted)"},
      {"topics.partitions", Type::kInt, "8",
       "Partitions of each topic when roadpulse's tools create them (config topics, the embedded "
       "broker)",
       1, 1024},
      {"topics.replication_factor", Type::kInt, "3", "Replication factor when topics are created",
       1, 16},
      {"regions.file", Type::kString, "",
       "Region table (TOML); empty: $ROADPULSE_REGIONS, else deploy/config/regions/binzhou.toml"},
      {"worker.id", Type::kString, "", "This worker's name in logs; empty: the host name"},
      {"worker.group", Type::kString, "roadpulse", "Consumer group id"},
      {"worker.http", Type::kString, "",
       "Serve /metrics and /healthz on HOST:PORT (port 0: any free port); empty: none", 0, 0,
       nullptr, true},
      {"worker.flush_interval_ms", Type::kInt, "250", "How often changed counts are published, ms",
       1, 3600000},
      {"worker.catchup_flush_interval_ms", Type::kInt, "2000",
       "How often changed counts are published while the worker reads a backlog (its consumer "
       "queue gives full batches), ms; never below worker.flush_interval_ms",
       1, 3600000},
      {"worker.retention_days", Type::kInt, "400",
       "Retention horizon in days: older events go to the DLQ as too_late", 1, 36600},
      {"worker.session_timeout_ms", Type::kInt, "6000",
       "Consumer group session timeout, ms (low for the embedded broker; 45000 suits a real "
       "cluster)",
       1000, 3600000},
      {"worker.max_batch", Type::kInt, "10000",
       "Most records taken from the consumer queue at once", 1, 1000000},
      {"worker.log_interval_s", Type::kInt, "5",
       "How often progress is logged, seconds (an idle worker: at most once a minute)", 1, 86400},
      {"worker.fetch_nudge_interval_ms", Type::kInt, "10",
       "Least time between two wake-ups of a fetcher that librdkafka paused on a full pre-fetch "
       "queue, ms; 0: never (a worker reading a backlog then waits up to 1 s each time the queue "
       "fills)",
       0, 60000},
      {"worker.checkpoint_interval_ms", Type::kInt, "10000",
       "How often each changed partition's state is checkpointed, ms; 0: no checkpoints (every "
       "assignment re-reads its partitions from offset 0)",
       0, 86400000},
      {"worker.offset_reset_policy", Type::kString, "stop",
       "When a checkpointed offset was deleted by retention (data loss): stop, or resume from the "
       "earliest offset and mark the partition",
       0, 0, "stop|earliest"},
      {"worker.instance_id", Type::kString, "",
       "Static group membership id (group.instance.id), unique per worker, stable across restarts; "
       "empty: dynamic membership"},
      {"view.http", Type::kString, "127.0.0.1:8080", "Listen on HOST:PORT (port 0: any free port)",
       0, 0, nullptr, true},
      {"view.token", Type::kString, "",
       "Bearer token required by every endpoint except /healthz; empty: none (a secret)"},
      {"view.stale_after_s", Type::kFloat, "30",
       "Seconds without a new count before the data is called stale", 1, 86400},
      {"view.snapshot_interval_ms", Type::kInt, "100",
       "Least time between two published snapshots, ms", 1, 60000},
      {"log.level", Type::kString, "info", "trace, debug, info, warn, error, critical or off", 0, 0,
       "trace|debug|info|warn|error|critical|off"},
      {"log.format", Type::kString, "text", "text (human) or json (one JSON object per line)", 0, 0,
       "text|json"},
  };
  return specs;
}

constexpr const char* kSections[] = {"kafka", "topics", "regions", "worker", "view", "log"};

// ROADPULSE_* variables that are not configuration keys.
constexpr const char* kOtherVariables[] = {"ROADPULSE_CONFIG", "ROADPULSE_CONFIG_DIR",
                                           "ROADPULSE_REGIONS", "ROADPULSE_TOKEN"};
// Of those, the ones that set a key that nothing else set (MergeEnv).
constexpr std::pair<const char*, const char*> kFallbackVariables[] = {
    {"ROADPULSE_REGIONS", "regions.file"}, {"ROADPULSE_TOKEN", "view.token"}};

// Topic key -> cleanup policy. Counts and checkpoints are keyed so that only
// the newest record per key matters: compact them.
constexpr std::pair<const char*, const char*> kTopicPolicies[] = {
    {"incidents", "delete"}, {"violations", "delete"}, {"counts", "compact"},
    {"dlq", "delete"},       {"checkpoints", "compact"},
};

const KeySpec* FindSpec(std::string_view key) {
  for (const KeySpec& s : Specs()) {
    if (key == s.key) return &s;
  }
  return nullptr;
}

bool IsSection(std::string_view s) {
  return std::find(std::begin(kSections), std::end(kSections), s) != std::end(kSections);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Levenshtein distance between a and b (bytes).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean worker.group?)" for a near miss, else "".
std::string Suggestion(std::string_view key) {
  std::vector<std::string> keys;
  for (const KeySpec& s : Specs()) keys.emplace_back(s.key);
  const std::string nearest = Nearest(key, keys, 3);
  return nearest.empty() ? "" : fmt::format(" (did you mean {}?)", nearest);
}

std::string UnknownKeyReason(std::string_view key) {
  const size_t dot = key.find('.');
  const std::string_view section = key.substr(0, dot);
  if (!IsSection(section)) {
    return fmt::format("unknown section '{}' (sections: kafka, topics, regions, worker, view, log){}",
                       section, Suggestion(key));
  }
  return fmt::format("unknown key{}", Suggestion(key));
}

// Checks `value` against the spec; returns the canonical text or an error
// reason (without the value when the key is a secret).
absl::StatusOr<std::string> Canonical(const KeySpec& spec, std::string_view value) {
  const std::string shown = IsSecretKey(spec.key) ? std::string(kMaskedSecret) : std::string(value);
  switch (spec.type) {
    case Type::kString: {
      if (spec.choices != nullptr) {
        std::string choices = spec.choices;
        std::stringstream ss(choices);
        bool found = false;
        for (std::string c; std::getline(ss, c, '|');) found = found || c == value;
        if (!found) {
          std::replace(choices.begin(), choices.end(), '|', ',');
          return absl::InvalidArgumentError(
              fmt::format("'{}' is not one of {}", shown, choices));
        }
      }
      if (spec.host_port && !value.empty()) {
        const size_t colon = value.rfind(':');
        const std::string port(colon == std::string_view::npos ? "" : value.substr(colon + 1));
        char* end = nullptr;
        const long p = port.empty() ? -1 : std::strtol(port.c_str(), &end, 10);
        if (colon == 0 || colon == std::string_view::npos || port.empty() || *end != '\0' ||
            p < 0 || p > 65535) {
          return absl::InvalidArgumentError(
              fmt::format("'{}' is not HOST:PORT (port 0-65535)", shown));
        }
      }
      return std::string(value);
    }
    case Type::kInt: {
      const std::string text(value);
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0) {
        return absl::InvalidArgumentError(fmt::format("'{}' is not an integer", shown));
      }
      if (v < spec.min || v > spec.max) {
        return absl::InvalidArgumentError(fmt::format("{} is outside [{}, {}]", shown,
                                                      static_cast<long long>(spec.min),
                                                      static_cast<long long>(spec.max)));
      }
      return std::to_string(v);
    }
    case Type::kFloat: {
      const std::string text(value);
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') {
        return absl::InvalidArgumentError(fmt::format("'{}' is not a number", shown));
      }
      if (!(v >= spec.min && v <= spec.max)) {
        return absl::InvalidArgumentError(
            fmt::format("{} is outside [{}, {}]", shown, spec.min, spec.max));
      }
      return fmt::format("{}", v);
    }
  }
  return absl::InternalError("unreachable");
}

// TOML basic string.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {  // TOML: escape controls
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// A scalar TOML node as text; nullopt-like empty + false for a non-scalar.
bool ScalarText(const toml::node& node, std::string* out, std::string* type) {
  if (const auto* s = node.as_string()) {
    *out = s->get(), *type = "string";
  } else if (const auto* i = node.as_integer()) {
    *out = std::to_string(i->get()), *type = "integer";
  } else if (const auto* f = node.as_floating_point()) {
    *out = fmt::format("{}", f->get()), *type = "float";
  } else if (const auto* b = node.as_boolean()) {
    *out = b->get() ? "true" : "false", *type = "boolean";
  } else {
    return false;
  }
  return true;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kString: return "string";
    case Type::kInt: return "integer";
    case Type::kFloat: return "float";
  }
  return "?";
}

}  // namespace

std::string Nearest(std::string_view word, const std::vector<std::string>& candidates,
                    size_t max_edits) {
  const std::string* best = nullptr;
  size_t best_distance = max_edits + 1;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance) best = &c, best_distance = d;
  }
  return best == nullptr ? "" : *best;
}

bool IsSecretKey(std::string_view key) {
  std::string_view name = key;
  if (name.substr(0, 6) == "kafka.") name.remove_prefix(6);
  return IsSecretPropertyName(name);
}

Config::Config() {
  for (const KeySpec& s : Specs()) fixed_[s.key] = Entry{s.default_value, Origin::kDefault, ""};
  kafka_["bootstrap.servers"] = Entry{"", Origin::kDefault, ""};
}

absl::Status Config::Set(std::string_view key, std::string_view value, Origin origin,
                         std::string_view where) {
  if (key.substr(0, 6) == "kafka.") {
    const std::string property(key.substr(6));
    if (property.empty()) return absl::InvalidArgumentError(fmt::format("{}: empty kafka property", where));
    kafka_[property] = Entry{std::string(value), origin, std::string(where)};
    return absl::OkStatus();
  }
  const KeySpec* spec = FindSpec(key);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(fmt::format("{}: {}: {}", where, key, UnknownKeyReason(key)));
  }
  absl::StatusOr<std::string> canonical = Canonical(*spec, value);
  if (!canonical.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}: {}", where, key, std::string(canonical.status().message())));
  }
  fixed_[spec->key] = Entry{*std::move(canonical), origin, std::string(where)};
  return absl::OkStatus();
}

absl::Status Config::MergeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open the configuration file", path));
  std::stringstream text;
  text << in.rdbuf();
  return MergeToml(text.str(), path);
}

absl::Status Config::MergeToml(std::string_view text, std::string_view name) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(name));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: {}", name, e.source().begin.line,
                                                  e.source().begin.column, e.description()));
  }
  auto where = [&](const toml::node& node) {
    return fmt::format("{}:{}", name, node.source().begin.line);
  };
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    if (!IsSection(section) || table == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}: {}", where(section_node), section,
                      IsSection(section) ? "must be a table ([" + section + "])"
                                         : UnknownKeyReason(section + ".")));
    }
    if (section == "kafka") {
      // librdkafka names contain dots: `bootstrap.servers = ...` unquoted is
      // a dotted key (nested tables), quoted it is one key; accept both.
      std::vector<std::pair<std::string, const toml::table*>> stack = {{"", table}};
      while (!stack.empty()) {
        auto [prefix, t] = stack.back();
        stack.pop_back();
        for (const auto& [k, node] : *t) {
          const std::string property = prefix + std::string(k.str());
          if (const toml::table* nested = node.as_table()) {
            stack.push_back({property + ".", nested});
            continue;
          }
          std::string value, type;
          if (!ScalarText(node, &value, &type)) {
            return absl::InvalidArgumentError(fmt::format(
                "{}: kafka.{}: a librdkafka property takes a string, number or boolean",
                where(node), property));
          }
          if (absl::Status s = Set("kafka." + property, value, Origin::kFile, where(node)); !s.ok()) {
            return s;
          }
        }
      }
      continue;
    }
    for (const auto& [k, node] : *table) {
      const std::string key = section + "." + std::string(k.str());
      const KeySpec* spec = FindSpec(key);
      if (spec == nullptr) {
        return absl::InvalidArgumentError(
            fmt::format("{}: {}: {}", where(node), key, UnknownKeyReason(key)));
      }
      std::string value, type;
      const bool scalar = ScalarText(node, &value, &type);
      const bool type_ok = scalar && (type == TypeName(spec->type) ||
                                      (spec->type == Type::kFloat && type == "integer"));
      if (!type_ok) {
        // "an integer", "a string".
        auto with_article = [](std::string_view name) {
          const bool vowel =
              !name.empty() && std::string_view("aeiou").find(name[0]) != std::string_view::npos;
          return fmt::format("{} {}", vowel ? "an" : "a", name);
        };
        return absl::InvalidArgumentError(fmt::format(
            "{}: {}: expected {}, got {}", where(node), key, with_article(TypeName(spec->type)),
            scalar ? with_article(type) : "a table or array"));
      }
      if (absl::Status s = Set(key, value, Origin::kFile, where(node)); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Config::MergeEnv(const std::map<std::string, std::string>& env) {
  constexpr std::string_view kPrefix = "ROADPULSE_";
  for (const auto& [name, value] : env) {
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    if (std::find(std::begin(kOtherVariables), std::end(kOtherVariables), name) !=
        std::end(kOtherVariables)) {
      continue;
    }
    const std::string rest = Lower(std::string_view(name).substr(kPrefix.size()));
    const size_t underscore = rest.find('_');
    const std::string section = rest.substr(0, underscore);
    std::string key = underscore == std::string::npos ? "" : rest.substr(underscore + 1);
    if (!IsSection(section) || key.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "environment: {}: not a configuration key (ROADPULSE_<SECTION>_<KEY>, sections: kafka, "
          "topics, regions, worker, view, log)",
          name));
    }
    if (section == "kafka") std::replace(key.begin(), key.end(), '_', '.');
    const std::string where = "environment " + name;
    if (section != "kafka" && FindSpec(section + "." + key) == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}.{}: {}", where, section, key, UnknownKeyReason(section + "." + key)));
    }
    if (absl::Status s = Set(section + "." + key, value, Origin::kEnv, where); !s.ok()) return s;
  }
  // The older variables, for a key still empty: ROADPULSE_REGIONS (the
  // systemd unit's) for regions.file, ROADPULSE_TOKEN for view.token. Set
  // here, every command reads them alike and `config check` shows them.
  for (const auto& [variable, key] : kFallbackVariables) {
    const auto it = env.find(variable);
    if (it == env.end() || it->second.empty() || !fixed_.at(key).value.empty()) continue;
    if (absl::Status s = Set(key, it->second, Origin::kEnv, std::string("environment ") + variable);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Config::MergeFlags(const std::vector<FlagValue>& flags) {
  for (const FlagValue& f : flags) {
    if (absl::Status s = Set(f.key, f.value, Origin::kFlag, "flag " + f.flag); !s.ok()) return s;
  }
  return absl::OkStatus();
}

const std::string& Config::GetString(std::string_view key) const {
  const auto it = fixed_.find(std::string(key));
  const KeySpec* spec = FindSpec(key);
  if (it == fixed_.end() || spec == nullptr || spec->type != Type::kString) {
    std::fprintf(stderr, "Config::GetString(%s): not a string key\n", std::string(key).c_str());
    std::abort();
  }
  return it->second.value;
}

int64_t Config::GetInt(std::string_view key) const {
  const auto it = fixed_.find(std::string(key));
  const KeySpec* spec = FindSpec(key);
  if (it == fixed_.end() || spec == nullptr || spec->type != Type::kInt) {
    std::fprintf(stderr, "Config::GetInt(%s): not an integer key\n", std::string(key).c_str());
    std::abort();
  }
  return std::strtoll(it->second.value.c_str(), nullptr, 10);
}

double Config::GetDouble(std::string_view key) const {
  const auto it = fixed_.find(std::string(key));
  const KeySpec* spec = FindSpec(key);
  if (it == fixed_.end() || spec == nullptr || spec->type != Type::kFloat) {
    std::fprintf(stderr, "Config::GetDouble(%s): not a float key\n", std::string(key).c_str());
    std::abort();
  }
  return std::strtod(it->second.value.c_str(), nullptr);
}

std::string Config::BootstrapServers() const {
  const auto it = kafka_.find("bootstrap.servers");
  return it == kafka_.end() ? "" : it->second.value;
}

KafkaProperties Config::ClientProperties() const {
  KafkaProperties out;
  for (const auto& [k, e] : kafka_) {
    if (k != "bootstrap.servers") out[k] = e.value;
  }
  return out;
}

std::vector<TopicSettings> Config::Topics() const {
  std::vector<TopicSettings> out;
  for (const auto& [key, policy] : kTopicPolicies) {
    TopicSettings t{key, GetString(std::string("topics.") + key), policy};
    if (t.key == "incidents" || t.key == "violations") {
      t.retention_ms = GetInt("worker.retention_days") * 24 * 3600 * 1000;
    }
    out.push_back(std::move(t));
  }
  return out;
}

absl::Status Config::Validate() const {
  for (const auto& [k, e] : kafka_) {
    if (k == "bootstrap.servers" && e.value.empty()) continue;
    if (absl::Status s = ValidateKafkaProperties({{k, e.value}}); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: kafka.{}: {}",
                                                    e.where.empty() ? "default" : e.where, k,
                                                    std::string(s.message())));
    }
  }
  return absl::OkStatus();
}

std::string Config::ToToml() const {
  auto origin = [](const Entry& e) -> std::string {
    switch (e.origin) {
      case Origin::kDefault: return "default";
      case Origin::kFile:
      case Origin::kEnv:
      case Origin::kFlag: return e.where;
    }
    return "";
  };
  auto shown = [](std::string_view key, const Entry& e) {
    return IsSecretKey(key) && !e.value.empty() ? Quote(kMaskedSecret) : Quote(e.value);
  };
  std::string out =
      "# roadpulse: effective configuration (defaults < file < environment < flags); secrets "
      "masked\n";
  out += "\n[kafka]\n";
  for (const auto& [k, e] : kafka_) {
    out += fmt::format("{} = {}  # {}\n", Quote(k), shown("kafka." + k, e), origin(e));
  }
  std::string section;
  for (const KeySpec& s : Specs()) {
    const std::string key = s.key;
    const std::string sec = key.substr(0, key.find('.'));
    if (sec != section) out += fmt::format("\n[{}]\n", sec), section = sec;
    const Entry& e = fixed_.at(key);
    std::string value = s.type == Type::kString ? shown(key, e) : e.value;
    if (s.type == Type::kFloat && value.find_first_of(".eEn") == std::string::npos) value += ".0";
    out += fmt::format("{} = {}  # {}\n", key.substr(sec.size() + 1), value, origin(e));
  }
  return out;
}

std::vector<std::string> Config::SecretValues() const {
  std::vector<std::string> out;
  for (const auto& [k, e] : fixed_) {
    if (IsSecretKey(k) && !e.value.empty()) out.push_back(e.value);
  }
  for (const auto& [k, e] : kafka_) {
    if (IsSecretKey("kafka." + k) && !e.value.empty()) out.push_back(e.value);
  }
  return out;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

absl::StatusOr<Config> LoadConfig(const std::string& file, const std::vector<FlagValue>& flags) {
  Config config;
  std::string path = file;
  if (path.empty()) {
    if (const char* env = std::getenv("ROADPULSE_CONFIG"); env != nullptr) path = env;
  }
  if (!path.empty()) {
    if (absl::Status s = config.MergeFile(path); !s.ok()) return s;
  }
  if (absl::Status s = config.MergeEnv(ProcessEnvironment()); !s.ok()) return s;
  if (absl::Status s = config.MergeFlags(flags); !s.ok()) return s;
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

std::vector<ConfigKeyInfo> ConfigKeys() {
  std::vector<ConfigKeyInfo> out;
  for (const KeySpec& s : Specs()) out.push_back({s.key, TypeName(s.type), s.default_value, s.help});
  return out;
}

}  // namespace roadpulse
