// PLACEHOLDER: replaced by the real `roadpulse demo` before this lands.
#include "app/commands.h"
namespace roadpulse {
void AddDemoCommand(CLI::App& app, int* exit_code) {
  app.add_subcommand("demo", "(not built yet)");
}
}  // namespace roadpulse
