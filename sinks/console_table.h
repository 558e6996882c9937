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
  // Metrics to show, one column pair (this year, change) each, most wanted
  // first: when `width` is too narrow for all, the first that fit are shown
  // (the first always) and the others are named under the table.
  std::vector<Metric> metrics = {Metric::kAccidents,      Metric::kDeaths,
                                 Metric::kInjuries,       Metric::kDrinkDriving,
                                 Metric::kDrunkDriving,   Metric::kKeyViolations,
                                 Metric::kRuralAccidents, Metric::kVideoHandled};
  // The terminal's width in columns; 0: no limit. If even the first metric
  // does not fit, region names are cut short (with "…") to make room, to no
  // fewer than 8 columns: a narrower terminal wraps the lines.
  size_t width = 0;
};

// A change as a table cell, rounded to `decimals` places: "+20.0%", "-5.0%",
// "0.0%" (no sign on what rounds to zero, as the dashboard shows it), or
// "无基数" / "n/a" when last year's value is 0. The report's table uses it
// too.
std::string ChangeText(const Change& c, int decimals, Language lang);

// Renders the table as text with CJK-aware column alignment (no colours).
// Besides the metrics, each row has today's accidents (the `accidents`
// metric, as the dashboard) and today's violations (all of them).
std::string RenderConsoleTable(const CountStore& store, const ConsoleTableOptions& options);

// The width in columns of the terminal stdout writes to, asked anew at each
// call (a window may be resized); 0 when stdout is not a terminal.
size_t TerminalColumns();

// Terminal display width of UTF-8 text: East Asian wide characters count 2.
size_t DisplayWidth(std::string_view utf8);

// `text` padded with spaces to `width` display columns, on the right
// (left-aligned text) or on the left (right-aligned numbers).
std::string PadRight(std::string_view text, size_t width);
std::string PadLeft(std::string_view text, size_t width);

// `text` cut to at most `width` display columns, ending in "…" if it was cut.
std::string CutToWidth(std::string_view text, size_t width);

// A text table's column widths: the display width of each column's widest
// cell (rows may have fewer cells than others).
std::vector<size_t> ColumnWidths(const std::vector<std::vector<std::string>>& rows);

// One line of a text table, ending in "\n": the first cell left-aligned, the
// others right-aligned, each padded to its column's width and two spaces
// after the one before.
std::string TableLine(const std::vector<std::string>& cells, const std::vector<size_t>& widths);

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_CONSOLE_TABLE_H_
