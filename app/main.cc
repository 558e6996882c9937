// roadpulse: a traffic-incident stream processor. See README.md.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "CLI/CLI.hpp"
#include "app/commands.h"
#include "app/config.h"
#include "app/logging.h"
#include "sinks/console_table.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

// Help text fits the terminal: descriptions are wrapped at word boundaries
// (between any two characters of a Chinese run) to the terminal's width, or
// 100 columns when stdout is not a terminal. `roadpulse --help` lists each
// subcommand with the first sentence of its description; `roadpulse CMD
// --help` shows the whole of it.
class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() {
    if (const size_t columns = roadpulse::TerminalColumns(); columns > 0) {
      width_ = std::clamp<size_t>(columns, 60, 160);
    }
  }

  std::string make_option_desc(const CLI::Option* opt) const override {
    return Wrap(opt->get_description());
  }

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
    CLI::detail::format_help(out, sub->get_display_name(true), Wrap(text), column_width_);
    return out.str();
  }

 private:
  // `text` with line breaks so that no line, printed from column
  // column_width_, passes width_ (a word longer than a line stays whole).
  // CLI11 indents each line after a break to column_width_.
  std::string Wrap(const std::string& text) const {
    const size_t room = width_ > column_width_ + 20 ? width_ - column_width_ : 20;
    std::string out;
    size_t line = 0;  // display columns on the current line
    size_t i = 0;
    while (i < text.size()) {
      if (text[i] == '\n') {
        out += '\n';
        line = 0;
        ++i;
        continue;
      }
      // The next piece: a run of ASCII up to a space or a break, or one
      // multi-byte character (a line may break after any of those).
      size_t end = i;
      if (static_cast<unsigned char>(text[i]) < 0x80) {
        while (end < text.size() && text[end] != ' ' && text[end] != '\n' &&
               static_cast<unsigned char>(text[end]) < 0x80) {
          ++end;
        }
        if (end == i) end = i + 1;  // a space
      } else {
        end = i + 1;
        while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      }
      const std::string_view piece(text.data() + i, end - i);
      const size_t w = roadpulse::DisplayWidth(piece);
      if (piece == " ") {
        if (line > 0 && line + 1 <= room) {
          out += ' ';
          ++line;
        }
      } else {
        if (line > 0 && line + w > room) {
          while (!out.empty() && out.back() == ' ') out.pop_back();
          out += '\n';
          line = 0;
        }
        out.append(piece);
        line += w;
      }
      i = end;
    }
    return out;
  }

  size_t width_ = 100;
};

// Every subcommand of `parent`, chosen on the command line or not.
std::vector<const CLI::App*> AllSubcommands(const CLI::App& parent) {
  return parent.get_subcommands([](const CLI::App*) { return true; });
}

// The subcommand of `parent` named `word`, or nullptr.
const CLI::App* FindSubcommand(const CLI::App& parent, std::string_view word) {
  for (const CLI::App* sub : AllSubcommands(parent)) {
    if (sub->check_name(std::string(word))) return sub;
  }
  return nullptr;
}

// Says that `word` names none of `parent`'s subcommands, with the nearest
// one (at most two edits away); returns the exit code, 2.
int UnknownCommand(const CLI::App& parent, const std::string& path, std::string_view word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : AllSubcommands(parent)) names.push_back(sub->get_name());
  const std::string nearest = roadpulse::Nearest(word, names, 2);
  std::fprintf(stderr, "%s: unknown command '%s'%s; `%s --help` lists them\n", path.c_str(),
               std::string(word).c_str(),
               nearest.empty() ? "" : (" (did you mean '" + nearest + "'?)").c_str(), path.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "roadpulse: live road-traffic accident and violation counts from Kafka.\n"
      "Counts accidents, deaths, injuries, drink/drunk driving and the other metrics of\n"
      "a traffic police report, per region and day, against the same period last year."};
  // Logs go to stderr, whatever the command: stdout carries what a command
  // makes (a report, JSON, CSV, an event log with `--output -`), and
  // spdlog's own default logger writes to stdout. The commands that take
  // --config replace this logger with the configured one (SetUpLogging),
  // `broker` with one of its own name, `demo` with its log file.
  spdlog::set_default_logger(spdlog::stderr_color_mt("roadpulse"));
  roadpulse::RouteProtobufLogs();
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands copy it
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
  // A first word that names no command: CLI11 would say "A subcommand is
  // required", as if none were given. Name it, and the nearest command; the
  // same for the word after `config`.
  if (argc > 1 && argv[1][0] != '-') {
    if (std::string_view(argv[1]) == "help") {  // `roadpulse help [COMMAND]`
      const CLI::App* about = argc > 2 ? FindSubcommand(app, argv[2]) : nullptr;
      app.name(argv[0]);  // as parse() would have, for the usage line
      std::fputs(about == nullptr ? app.help().c_str() : about->help(argv[0]).c_str(), stdout);
      return 0;
    }
    const CLI::App* chosen = FindSubcommand(app, argv[1]);
    if (chosen == nullptr) return UnknownCommand(app, "roadpulse", argv[1]);
    if (!AllSubcommands(*chosen).empty() && argc > 2 && argv[2][0] != '-' &&
        FindSubcommand(*chosen, argv[2]) == nullptr) {
      return UnknownCommand(*chosen, "roadpulse " + chosen->get_name(), argv[2]);
    }
  }
  const auto command = [&app] {
    const std::vector<CLI::App*> chosen = app.get_subcommands();
    return chosen.empty() ? std::string("roadpulse") : "roadpulse " + chosen[0]->get_name();
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the problem (or the help or version asked for) and
    // returns its own code, one per kind of problem (105, 106, 109, ...).
    // Every bad flag exits 2, as a bad value caught after parsing does.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::system_error& e) {
    // fmt's print to a stream that refuses the bytes ("cannot write to file:
    // No space left on device", behind a redirection): a failure while
    // working, not an abort.
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", command().c_str(), e.what());
    return 1;
  }
  // What a command printed must have reached its standard output: a report
  // redirected to a full disk fails (exit 1) rather than leave a cut file
  // behind an exit code of 0. A command that failed already said why.
  errno = 0;
  if ((std::fflush(stdout) != 0 || std::ferror(stdout)) && exit_code == 0) {
    std::fprintf(stderr, "%s: cannot write to standard output%s%s\n", command().c_str(),
                 errno != 0 ? ": " : "", errno != 0 ? std::strerror(errno) : "");
    exit_code = 1;
  }
  spdlog::shutdown();
  return exit_code;
}
