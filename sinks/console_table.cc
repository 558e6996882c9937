#include "sinks/console_table.h"

#include "fmt/format.h"
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

std::string ChangeText(const Change& c, Language lang) {
  if (!c.percent.has_value()) return lang == Language::kZh ? "无基数" : "n/a";
  const std::string pct = FormatPercent(c, 1);
  return (pct[0] == '-' ? "" : "+") + pct + "%";
}

}  // namespace

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
                   : fmt::format("This year from {}-01-01 to date; change = "
                                 "against the same period last year",
                                 options.today.year()));
  constexpr size_t kNameWidth = 24;
  constexpr size_t kValueWidth = 9;
  constexpr size_t kChangeWidth = 9;
  std::string header = PadRight(zh ? "区县" : "County / district / zone", kNameWidth);
  for (Metric m : options.metrics) {
    header += PadLeft(MetricLabel(m, options.language), kValueWidth + 1);
    header += PadLeft(zh ? "同比" : "change", kChangeWidth + 1);
  }
  header += PadLeft(zh ? "今日事故" : "today acc.", 11);
  header += PadLeft(zh ? "今日违法" : "today viol.", 12);
  out += header + "\n";
  out += std::string(DisplayWidth(header), '-') + "\n";

  auto row = [&](const Region& region) {
    const MetricValues now = store.SumAll(region.code, ytd.from, ytd.to);
    const MetricValues before = store.SumAll(region.code, last.from, last.to);
    const MetricValues day = store.SumAll(region.code, today.from, today.to);
    std::string line = PadRight(zh ? region.name_zh : region.name_en, kNameWidth);
    for (Metric m : options.metrics) {
      const Change c = YearOverYear(At(now, m), At(before, m));
      line += PadLeft(std::to_string(c.current), kValueWidth + 1);
      line += PadLeft(ChangeText(c, options.language), kChangeWidth + 1);
    }
    line +=
        PadLeft(std::to_string(At(day, Metric::kAccidents) + At(day, Metric::kMinorAccidents)), 11);
    line += PadLeft(
        std::to_string(At(day, Metric::kKeyViolations) + At(day, Metric::kOtherViolations)), 12);
    return line + "\n";
  };
  for (const Region* county : regions.Counties()) out += row(*county);
  out += std::string(DisplayWidth(header), '-') + "\n";
  out += row(regions.main_urban());
  out += row(regions.city());
  return out;
}

}  // namespace roadpulse
