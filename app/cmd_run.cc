// PLACEHOLDER: replaced by the real `roadpulse run` before this lands.
#include "app/commands.h"
namespace roadpulse {
void AddRunCommand(CLI::App& app, int* exit_code) {
  app.add_subcommand("run", "(not built yet)");
}
}  // namespace roadpulse
