// PLACEHOLDER: replaced by the real `roadpulse generate` before this lands.
#include "app/commands.h"
namespace roadpulse {
void AddGenerateCommand(CLI::App& app, int* exit_code) {
  app.add_subcommand("generate", "(not built yet)");
}
}  // namespace roadpulse
