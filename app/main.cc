// roadpulse: a traffic-incident stream processor. See README.md.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "app/commands.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{
      "roadpulse: live road-traffic accident and violation counts from Kafka.\n"
      "Counts accidents, deaths, injuries, drink/drunk driving and the other metrics of\n"
      "a traffic police report, per region and day, against the same period last year."};
  // Logs go to stderr, whatever the command: stdout carries what a command
  // makes (a report, JSON, CSV, an event log with `--output -`), and
  // spdlog's own default logger writes to stdout. `run` and `serve` replace
  // this logger with the configured one (SetUpLogging), `broker` and
  // `report` with one of their own name, `demo` with its log file.
  spdlog::set_default_logger(spdlog::stderr_color_mt("roadpulse"));
  app.require_subcommand(1);
  app.set_version_flag("--version", "roadpulse 0.1.0");
  int exit_code = 0;
  roadpulse::AddBrokerCommand(app, &exit_code);
  roadpulse::AddRunCommand(app, &exit_code);
  roadpulse::AddGenerateCommand(app, &exit_code);
  roadpulse::AddDemoCommand(app, &exit_code);
  roadpulse::AddReplayCommand(app, &exit_code);
  roadpulse::AddExportCommand(app, &exit_code);
  roadpulse::AddInspectCommand(app, &exit_code);
  roadpulse::AddRedriveCommand(app, &exit_code);
  roadpulse::AddReportCommand(app, &exit_code);
  roadpulse::AddConfigCommand(app, &exit_code);
  roadpulse::AddServeCommand(app, &exit_code);
  roadpulse::AddBenchLatencyCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::shutdown();
  return exit_code;
}
