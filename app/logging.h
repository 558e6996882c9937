// Process-wide logging set-up for every command that takes --config (run, serve, report,
// replay, export, inspect, redrive): the level, the format (human text, or JSON lines for log
// collectors), the fields every line carries (command, worker id) and the redaction of secrets.
//
// JSON lines look like
//   {"time":"2025-09-05T08:00:00.123Z","level":"info","command":"run","worker":"w-1",
//    "msg":"worker: assigned roadpulse.incidents[3] from offset 1200",
//    "topic":"roadpulse.incidents","partition":3,"offset":1200}
// Fields are lifted from the message text: `key=value` tokens, `topic[N]`
// (topic and partition) and "offset N" / "offsets N..M". Messages keep their
// wording, so text and JSON logs say the same thing.
//
// Every configured secret value (Config::SecretValues) is replaced by
// "********" in every line, whatever logged it.
#ifndef ROADPULSE_APP_LOGGING_H_
#define ROADPULSE_APP_LOGGING_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "app/config.h"
#include "spdlog/formatter.h"

namespace roadpulse {

struct LogOptions {
  std::string level = "info";    // spdlog level name
  std::string format = "text";   // "text" or "json"
  std::string command;           // e.g. "run"
  std::string worker_id;         // empty: none
  std::vector<std::string> secrets;  // values never to print
};

// From log.level, log.format and the config's secrets; for `run` and
// `serve` also worker.id (run's default: the host name). Other commands'
// lines carry no worker id.
LogOptions LogOptionsFromConfig(const Config& config, const std::string& command);

// The formatter for `options` (exposed for tests).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(const LogOptions& options);

// Applies `options` to spdlog's default logger (stderr). kInvalidArgument for
// an unknown level or format.
absl::Status SetUpLogging(const LogOptions& options);

// Sends protobuf's own log lines through spdlog's default logger, its
// warnings and errors at debug level: protobuf logs one for every string of
// invalid UTF-8 it refuses to parse, and the caller reports the refusal
// itself (a dead letter, a reader's count). A fatal one stays critical.
// Once, at start, before any thread parses.
void RouteProtobufLogs();

}  // namespace roadpulse

#endif  // ROADPULSE_APP_LOGGING_H_
