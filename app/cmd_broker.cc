// PLACEHOLDER: replaced by the real `roadpulse broker` before this lands.
#include "app/commands.h"
namespace roadpulse {
void AddBrokerCommand(CLI::App& app, int* exit_code) {
  app.add_subcommand("broker", "(not built yet)");
}
}  // namespace roadpulse
