// roadpulse: a traffic-incident stream processor. See README.md.
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "CLI/CLI.hpp"
#include "app/commands.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

// `roadpulse --help` lists each subcommand with the first sentence of its
// description; `roadpulse CMD --help` shows the whole of it.
class FirstSentenceFormatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    // One line: a line break becomes a space, except after a CJK character
    // (any multi-byte UTF-8 one), where Chinese puts none.
    std::string text;
    for (char c : sub->get_description()) {
      if (c != '\n') {
        text.push_back(c);
      } else if (!text.empty() && static_cast<unsigned char>(text.back()) < 0x80) {
        text.push_back(' ');
      }
    }
    for (size_t at = text.find('.'); at != std::string::npos; at = text.find('.', at + 1)) {
      if (at + 1 == text.size() || text[at + 1] == ' ') {
        text.resize(at + 1);
        break;
      }
    }
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), text, column_width_);
    return out.str();
  }
};

}  // namespace

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
  app.formatter(std::make_shared<FirstSentenceFormatter>());  // before the subcommands copy it
  app.require_subcommand(1);
  app.set_version_flag("--version", "roadpulse 0.1.0");
  int exit_code = 0;
  // In the order a newcomer meets them: try it, run it, look at it, then
  // the analysts' and operators' tools.
  roadpulse::AddDemoCommand(app, &exit_code);
  roadpulse::AddRunCommand(app, &exit_code);
  roadpulse::AddServeCommand(app, &exit_code);
  roadpulse::AddReportCommand(app, &exit_code);
  roadpulse::AddReplayCommand(app, &exit_code);
  roadpulse::AddInspectCommand(app, &exit_code);
  roadpulse::AddRedriveCommand(app, &exit_code);
  roadpulse::AddExportCommand(app, &exit_code);
  roadpulse::AddConfigCommand(app, &exit_code);
  roadpulse::AddGenerateCommand(app, &exit_code);
  roadpulse::AddBrokerCommand(app, &exit_code);
  roadpulse::AddBenchLatencyCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::shutdown();
  return exit_code;
}
