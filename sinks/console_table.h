// The demo's live terminal table: per county-level unit, this year's counts so
// far against the same period last year, and today's.
#ifndef ROADPULSE_SINKS_CONSOLE_TABLE_H_
#define ROADPULSE_SINKS_CONSOLE_TABLE_H_

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "processors/count_store.h"
#include "processors/metrics.h"

namespace roadpulse {

struct ConsoleTableOptions {
  Language language = Language::kZh;
  // The local day the table is for; this year = [1 January, today].
  absl::CivilDay today;
  // Wall-clock time shown in the title.
  absl::Time now;
  // Metrics to show, one column pair (value, change) each.
  std::vector<Metric> metrics = {Metric::kAccidents, Metric::kDeaths, Metric::kInjuries,
                                 Metric::kDrinkDriving, Metric::kDrunkDriving};
};

// Renders the table as text with CJK-aware column alignment (no colours).
std::string RenderConsoleTable(const CountStore& store, const ConsoleTableOptions& options);

// Terminal display width of UTF-8 text: East Asian wide characters count 2.
size_t DisplayWidth(std::string_view utf8);

// `text` padded with spaces to `width` display columns, on the right
// (left-aligned text) or on the left (right-aligned numbers).
std::string PadRight(std::string_view text, size_t width);
std::string PadLeft(std::string_view text, size_t width);

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_CONSOLE_TABLE_H_
