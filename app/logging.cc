#include "app/logging.h"

#include <time.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <string_view>
#include <utility>

#include "fmt/format.h"
#include "google/protobuf/stubs/logging.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out->push_back(c);  // UTF-8 passes through
        }
    }
  }
  out->push_back('"');
}

bool IsNumber(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

// Fields lifted from a message: key=value, topic[N], "offset N", "offsets N..M".
std::vector<std::pair<std::string, std::string>> LiftFields(std::string_view msg) {
  std::vector<std::pair<std::string, std::string>> fields;
  auto add = [&fields](std::string key, std::string value) {
    for (const auto& f : fields) {
      if (f.first == key) return;
    }
    fields.emplace_back(std::move(key), std::move(value));
  };
  // Split on whitespace; trim trailing punctuation of each token.
  std::vector<std::string_view> tokens;
  for (size_t i = 0; i < msg.size();) {
    while (i < msg.size() && std::isspace(static_cast<unsigned char>(msg[i]))) ++i;
    size_t j = i;
    while (j < msg.size() && !std::isspace(static_cast<unsigned char>(msg[j]))) ++j;
    std::string_view t = msg.substr(i, j - i);
    while (!t.empty() && (t.back() == ',' || t.back() == ';' || t.back() == ':' || t.back() == ')' ||
                          t.back() == '.')) {
      t.remove_suffix(1);
    }
    while (!t.empty() && (t.front() == '(' || t.front() == '\'')) t.remove_prefix(1);
    if (!t.empty()) tokens.push_back(t);
    i = j;
  }
  for (size_t n = 0; n < tokens.size(); ++n) {
    const std::string_view t = tokens[n];
    const size_t eq = t.find('=');
    if (eq != std::string_view::npos && eq > 0 && eq + 1 < t.size() &&
        std::isalpha(static_cast<unsigned char>(t[0]))) {
      bool key_ok = true;
      for (size_t k = 0; k < eq; ++k) key_ok = key_ok && IsKeyChar(t[k]);
      if (key_ok) add(std::string(t.substr(0, eq)), std::string(t.substr(eq + 1)));
      continue;
    }
    const size_t open = t.find('[');
    if (open != std::string_view::npos && open > 0 && t.back() == ']' &&
        IsNumber(t.substr(open + 1, t.size() - open - 2))) {
      add("topic", std::string(t.substr(0, open)));
      add("partition", std::string(t.substr(open + 1, t.size() - open - 2)));
      continue;
    }
    if ((t == "offset" || t == "offsets") && n + 1 < tokens.size()) {
      const std::string_view v = tokens[n + 1];
      const size_t dots = v.find("..");
      if (IsNumber(v)) {
        add("offset", std::string(v));
      } else if (dots != std::string_view::npos && IsNumber(v.substr(0, dots)) &&
                 IsNumber(v.substr(dots + 2))) {
        add("offset_from", std::string(v.substr(0, dots)));
        add("offset_to", std::string(v.substr(dots + 2)));
      }
    }
  }
  return fields;
}

void Redact(const std::vector<std::string>& secrets, std::string* s) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = 0; (at = s->find(secret, at)) != std::string::npos;) {
      s->replace(at, secret.size(), kMaskedSecret);
      at += sizeof(kMaskedSecret) - 1;
    }
  }
}

class RoadpulseFormatter final : public spdlog::formatter {
 public:
  explicit RoadpulseFormatter(LogOptions options)
      : options_(std::move(options)),
        text_(std::make_unique<spdlog::pattern_formatter>(
            options_.worker_id.empty() ? "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v"
                                       : "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [" + options_.worker_id +
                                             "] %v")) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    if (options_.format == "json") {
      line = Json(msg);
    } else {
      spdlog::memory_buf_t buf;
      text_->format(msg, buf);
      line.assign(buf.data(), buf.size());
    }
    Redact(options_.secrets, &line);
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<RoadpulseFormatter>(options_);
  }

 private:
  std::string Json(const spdlog::details::log_msg& msg) const {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs);
    const time_t t = static_cast<time_t>(secs.count());
    struct tm tm;
    gmtime_r(&t, &tm);
    std::string out = fmt::format(
        "{{\"time\":\"{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z\",\"level\":", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis.count()));
    const auto level_name = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string_view(level_name.data(), level_name.size()), &out);
    if (!options_.command.empty()) {
      out += ",\"command\":";
      AppendJsonString(options_.command, &out);
    }
    if (!options_.worker_id.empty()) {
      out += ",\"worker\":";
      AppendJsonString(options_.worker_id, &out);
    }
    // Redact before lifting, so no field carries a secret either.
    std::string text(msg.payload.data(), msg.payload.size());
    Redact(options_.secrets, &text);
    out += ",\"msg\":";
    AppendJsonString(text, &out);
    for (const auto& [key, value] : LiftFields(text)) {
      if (key == "time" || key == "level" || key == "command" || key == "worker" || key == "msg") {
        continue;
      }
      out += ",";
      AppendJsonString(key, &out);
      out += ":";
      if (IsNumber(value)) {
        out += value;
      } else {
        AppendJsonString(value, &out);
      }
    }
    out += "}\n";
    return out;
  }

  LogOptions options_;
  std::unique_ptr<spdlog::formatter> text_;
};

}  // namespace

LogOptions LogOptionsFromConfig(const Config& config, const std::string& command) {
  LogOptions options;
  options.level = config.GetString("log.level");
  options.format = config.GetString("log.format");
  options.command = command;
  // A worker's lines name it (serve's too, when configured); a one-shot
  // command is no worker.
  if (command == "run" || command == "serve") options.worker_id = config.GetString("worker.id");
  if (options.worker_id.empty() && command == "run") {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) == 0) options.worker_id = host;
  }
  options.secrets = config.SecretValues();
  return options;
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(const LogOptions& options) {
  return std::make_unique<RoadpulseFormatter>(options);
}

absl::Status SetUpLogging(const LogOptions& options) {
  const spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(fmt::format("log.level: unknown level '{}'", options.level));
  }
  if (options.format != "text" && options.format != "json") {
    return absl::InvalidArgumentError(
        fmt::format("log.format: '{}' is not one of text, json", options.format));
  }
  // Plain (uncoloured) stderr: JSON must stay parseable, and a log collector
  // wants no escape codes either.
  auto logger = std::make_shared<spdlog::logger>(
      options.command.empty() ? "roadpulse" : options.command,
      std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_formatter(MakeLogFormatter(options));
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

void RouteProtobufLogs() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char* filename,
                                     int line, const std::string& message) {
    if (level == google::protobuf::LOGLEVEL_FATAL) {
      spdlog::critical("protobuf: {}:{}: {}", filename, line, message);
    } else {
      spdlog::debug("protobuf: {}:{}: {}", filename, line, message);
    }
  });
}

}  // namespace roadpulse
