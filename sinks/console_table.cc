#include "sinks/console_table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "processors/period.h"

namespace roadpulse {
namespace {

// Decodes one UTF-8 code point at `*pos` (invalid bytes count as one column).
char32_t NextCodePoint(std::string_view s, size_t* pos) {
  const auto b = static_cast<unsigned char>(s[*pos]);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (*pos + len > s.size()) len = 1;
  char32_t cp = len == 1 ? b : b & (0x7F >> len);
  for (int i = 1; i < len; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[*pos + i]) & 0x3F);
  *pos += len;
  return cp;
}

bool IsWide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6);
}

}  // namespace

std::string ChangeText(const Change& c, int decimals, Language lang) {
  if (!c.percent.has_value()) return lang == Language::kZh ? "无基数" : "n/a";
  const std::string pct = FormatPercent(c, decimals);
  const bool zero = pct.find_first_not_of("0.") == std::string::npos;
  return (pct[0] == '-' || zero ? "" : "+") + pct + "%";
}

size_t TerminalColumns() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) return ws.ws_col;
  return 0;
}

size_t DisplayWidth(std::string_view utf8) {
  size_t width = 0;
  for (size_t pos = 0; pos < utf8.size();) width += IsWide(NextCodePoint(utf8, &pos)) ? 2 : 1;
  return width;
}

std::string PadRight(std::string_view s, size_t width) {
  const size_t w = DisplayWidth(s);
  return std::string(s) + std::string(w < width ? width - w : 0, ' ');
}

std::string PadLeft(std::string_view s, size_t width) {
  const size_t w = DisplayWidth(s);
  return std::string(w < width ? width - w : 0, ' ') + std::string(s);
}

std::string CutToWidth(std::string_view s, size_t width) {
  if (DisplayWidth(s) <= width) return std::string(s);
  if (width == 0) return "";
  // Whole code points while they and the ellipsis (one column) fit.
  size_t used = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t next = pos;
    const size_t w = IsWide(NextCodePoint(s, &next)) ? 2 : 1;
    if (used + w + 1 > width) break;
    used += w;
    pos = next;
  }
  return std::string(s.substr(0, pos)) + "…";
}

std::vector<size_t> ColumnWidths(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (row.size() > widths.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  return widths;
}

std::string TableLine(const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += i == 0 ? PadRight(cells[i], widths[i]) : "  " + PadLeft(cells[i], widths[i]);
  }
  return line + "\n";
}

std::string RenderConsoleTable(const CountStore& store, const ConsoleTableOptions& options) {
  const bool zh = options.language == Language::kZh;
  const RegionTable& regions = store.regions();
  const Period ytd{absl::CivilDay(options.today.year(), 1, 1), options.today + 1};
  const Period last = SamePeriodLastYear(ytd);
  const Period today{options.today, options.today + 1};

  const absl::TimeZone& tz = regions.zone();
  std::string out;
  out += fmt::format(
      "{}  {}  {}\n",
      zh ? fmt::format("roadpulse 实时交通事故与违法统计 · {}", regions.city().name_zh)
         : fmt::format("roadpulse live road-traffic counts · {}", regions.city().name_en),
      absl::FormatTime("%Y-%m-%d %H:%M:%S", options.now, tz), regions.time_zone());
  out += fmt::format(
      "{}\n\n", zh ? fmt::format("今年 {}-01-01 至今，同比 = 与去年同期相比", options.today.year())
                   : fmt::format("This year from {}-01-01 to date; YoY = "
                                 "against the same period last year",
                                 options.today.year()));

  // Every cell of every metric first: the widths decide how many fit.
  // Columns: name, (this year, change) per metric, today's accidents and
  // today's violations.
  const size_t n = options.metrics.size();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {zh ? "区县" : "County / district / zone"};
  for (Metric m : options.metrics) {
    header.emplace_back(MetricLabel(m, options.language));
    header.emplace_back(zh ? "同比" : "YoY");
  }
  header.emplace_back(zh ? "今日事故起数" : "Today: accidents");
  header.emplace_back(zh ? "今日违法" : "Today: violations");
  rows.push_back(std::move(header));
  auto add_row = [&](const Region& region) {
    const MetricValues now = store.SumAll(region.code, ytd.from, ytd.to);
    const MetricValues before = store.SumAll(region.code, last.from, last.to);
    const MetricValues day = store.SumAll(region.code, today.from, today.to);
    std::vector<std::string> row = {zh ? region.name_zh : region.name_en};
    for (Metric m : options.metrics) {
      const Change c = YearOverYear(At(now, m), At(before, m));
      row.push_back(std::to_string(c.current));
      row.push_back(ChangeText(c, 1, options.language));
    }
    row.push_back(std::to_string(At(day, Metric::kAccidents)));
    row.push_back(
        std::to_string(At(day, Metric::kKeyViolations) + At(day, Metric::kOtherViolations)));
    rows.push_back(std::move(row));
  };
  const std::vector<const Region*> counties = regions.Counties();
  for (const Region* county : counties) add_row(*county);
  add_row(regions.main_urban());
  add_row(regions.city());

  std::vector<size_t> widths = ColumnWidths(rows);
  auto line_width = [&](size_t metrics_shown) {
    size_t w = widths[0];
    for (size_t i = 0; i < 2 * metrics_shown; ++i) w += 2 + widths[1 + i];
    return w + 2 + widths[1 + 2 * n] + 2 + widths[2 + 2 * n];
  };
  size_t shown = n;
  if (options.width > 0) {
    while (shown > 1 && line_width(shown) > options.width) --shown;
    if (line_width(shown) > options.width) {
      const size_t rest = line_width(shown) - widths[0];
      widths[0] = std::max<size_t>(8, options.width > rest ? options.width - rest : 0);
    }
  }
  // The columns shown: the name, the first `shown` pairs, today's two.
  std::vector<size_t> columns = {0};
  for (size_t i = 1; i <= 2 * shown; ++i) columns.push_back(i);
  columns.push_back(1 + 2 * n);
  columns.push_back(2 + 2 * n);
  std::vector<size_t> shown_widths;
  for (size_t c : columns) shown_widths.push_back(widths[c]);
  auto line = [&](const std::vector<std::string>& row) {
    std::vector<std::string> cells;
    for (size_t c : columns) cells.push_back(c == 0 ? CutToWidth(row[0], widths[0]) : row[c]);
    return TableLine(cells, shown_widths);
  };
  const std::string rule(line_width(shown), '-');
  out += line(rows[0]) + rule + "\n";
  for (size_t r = 1; r < rows.size(); ++r) {
    if (r == 1 + counties.size()) out += rule + "\n";
    out += line(rows[r]);
  }
  if (shown < n) {
    std::vector<std::string> left_out;
    for (size_t i = shown; i < n; ++i) {
      left_out.emplace_back(MetricLabel(options.metrics[i], options.language));
    }
    out += zh ? fmt::format("（{} 列宽放不下：{}；加宽终端或打开看板）\n", options.width,
                            fmt::join(left_out, "、"))
              : fmt::format("(Not in {} columns: {}; widen the terminal or open the dashboard)\n",
                            options.width, fmt::join(left_out, ", "));
  }
  return out;
}

}  // namespace roadpulse
