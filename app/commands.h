// Subcommands of the `roadpulse` executable. Each Add*Command registers its
// subcommand, flags and callback on `app`; the callback returns the process
// exit code through `*exit_code` (must outlive `app`).
#ifndef ROADPULSE_APP_COMMANDS_H_
#define ROADPULSE_APP_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace roadpulse {

void AddBrokerCommand(CLI::App& app, int* exit_code);
void AddRunCommand(CLI::App& app, int* exit_code);
void AddGenerateCommand(CLI::App& app, int* exit_code);
void AddDemoCommand(CLI::App& app, int* exit_code);
void AddReplayCommand(CLI::App& app, int* exit_code);
void AddExportCommand(CLI::App& app, int* exit_code);
void AddInspectCommand(CLI::App& app, int* exit_code);
void AddRedriveCommand(CLI::App& app, int* exit_code);
void AddReportCommand(CLI::App& app, int* exit_code);
void AddConfigCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddBenchLatencyCommand(CLI::App& app, int* exit_code);

}  // namespace roadpulse

#endif  // ROADPULSE_APP_COMMANDS_H_
