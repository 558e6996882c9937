#include "sinks/report.h"

#include <cmath>

#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "fmt/format.h"
#include "sinks/console_table.h"

namespace roadpulse {
namespace {

constexpr Metric kTableMetrics[] = {
    Metric::kAccidents,     Metric::kDeaths,         Metric::kInjuries,     Metric::kE3E4Accidents,
    Metric::kE3E4Injuries,  Metric::kRuralAccidents, Metric::kDrinkDriving, Metric::kDrunkDriving,
    Metric::kKeyViolations, Metric::kVideoHandled,
};

std::string Thousands(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string Unsigned(const std::string& pct) { return pct[0] == '-' ? pct.substr(1) : pct; }

// "下降11.29%" / "上升3.10%" / "持平" / "无同比（去年同期为0）", or English.
std::string Direction(const Change& c, int decimals, Language lang) {
  const bool zh = lang == Language::kZh;
  if (!c.percent.has_value()) {
    return zh ? "无法同比（去年同期为0）" : "cannot be compared (zero last year)";
  }
  const std::string pct = FormatPercent(c, decimals);
  if (c.current == c.previous) return zh ? "持平" : "were level";
  const bool down = c.current < c.previous;
  if (zh) return fmt::format("{}{}%", down ? "下降" : "上升", Unsigned(pct));
  return fmt::format("{} {}%", down ? "fell" : "rose", Unsigned(pct));
}

// The changes of several figures as the report words them: "分别下降a、b、c"
// when they all went the same way, each with its own direction otherwise,
// and "去年同期均为0，无法同比" when none has a base.
std::string DescribeChanges(const std::vector<Change>& changes,
                            const std::vector<std::string>& names_en, int decimals, Language lang) {
  const bool zh = lang == Language::kZh;
  bool all_down = true;
  bool all_up = true;
  bool none_comparable = true;
  for (const Change& c : changes) {
    const bool comparable = c.percent.has_value() && c.current != c.previous;
    all_down = all_down && comparable && c.current < c.previous;
    all_up = all_up && comparable && c.current > c.previous;
    none_comparable = none_comparable && !c.percent.has_value();
  }
  if (none_comparable) {
    if (zh) return changes.size() >= 2 ? "去年同期均为0，无法同比" : "去年同期为0，无法同比";
    return "cannot be compared year over year (zero last year)";
  }
  std::vector<std::string> parts;
  if (all_down || all_up) {
    for (const Change& c : changes) parts.push_back(Unsigned(FormatPercent(c, decimals)) + "%");
    if (zh) {
      return fmt::format("同比{}{}{}", changes.size() >= 3 ? "分别" : "",
                         all_down ? "下降" : "上升", absl::StrJoin(parts, "、"));
    }
    const std::string last = parts.back();
    parts.pop_back();
    return fmt::format("{} {} and {} year over year", all_down ? "fell" : "rose",
                       absl::StrJoin(parts, ", "), last);
  }
  for (size_t i = 0; i < changes.size(); ++i) {
    parts.push_back(zh ? Direction(changes[i], decimals, lang)
                       : names_en[i] + " " + Direction(changes[i], decimals, lang));
  }
  if (zh)
    return fmt::format("同比{}{}", changes.size() >= 3 ? "分别" : "", absl::StrJoin(parts, "、"));
  const std::string last = parts.back();
  parts.pop_back();
  return fmt::format("changed year over year: {} and {}", absl::StrJoin(parts, ", "), last);
}

const ReportFigure& Find(const std::vector<ReportFigure>& figures, Metric m) {
  for (const ReportFigure& f : figures) {
    if (f.metric == m) return f;
  }
  static const ReportFigure kNone{Metric::kAccidents, Change{}};
  return kNone;
}

std::vector<ReportFigure> Figures(const CountStore& store, std::string_view region,
                                  const Period& period, const Period& base) {
  const MetricValues now = store.SumAll(region, period.from, period.to);
  const MetricValues before = store.SumAll(region, base.from, base.to);
  std::vector<ReportFigure> out;
  for (Metric m : AllMetrics()) out.push_back({m, YearOverYear(At(now, m), At(before, m))});
  return out;
}

std::string DayText(absl::CivilDay d) { return absl::FormatCivilTime(d); }

}  // namespace

std::optional<ReportFormat> ReportFormatFromName(std::string_view name) {
  if (name == "text") return ReportFormat::kText;
  if (name == "md") return ReportFormat::kMarkdown;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "json") return ReportFormat::kJson;
  return std::nullopt;
}

std::string FormatWan(int64_t value) {
  if (value < 10000) return std::to_string(value);
  // One decimal of 万, rounded half up: 139,000 -> 13.9万, 125,050 -> 12.5万.
  const int64_t tenths = (value + 500) / 1000;
  if (tenths % 10 == 0) return fmt::format("{}万", tenths / 10);
  return fmt::format("{}.{}万", tenths / 10, tenths % 10);
}

std::string FormatWanYu(int64_t value) {
  if (value < 10000) return std::to_string(value);
  const int64_t wan = value / 10000;
  return fmt::format("{}万{}", wan, value % 10000 == 0 ? "" : "余");
}

absl::StatusOr<Report> BuildReport(const CountStore& store, std::string_view region_code,
                                   const Period& period, Language language) {
  const RegionTable& regions = store.regions();
  const Region* region = regions.Find(region_code);
  if (region == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("unknown region \"{}\" (not in the region table)", region_code));
  }
  if (period.from >= period.to) {
    return absl::InvalidArgumentError(fmt::format("empty period: from {} is not before to {}",
                                                  DayText(period.from), DayText(period.to)));
  }
  const bool zh = language == Language::kZh;
  Report report;
  report.language = language;
  report.period = period;
  report.base = SamePeriodLastYear(period);
  report.region_code = region->code;
  report.region_name = zh ? region->name_zh : region->name_en;

  const std::vector<ReportFigure> all = Figures(store, region->code, period, report.base);
  // The 电三电四 figures are the main urban area's when the report is for the city.
  const bool city = region->kind == RegionKind::kCity;
  const Region& e3e4_region = city ? regions.main_urban() : *region;
  const std::vector<ReportFigure> e3e4 = Figures(store, e3e4_region.code, period, report.base);
  for (Metric m : {Metric::kAccidents, Metric::kDeaths, Metric::kInjuries}) {
    report.headline.push_back(Find(all, m));
  }
  report.headline.push_back(Find(e3e4, Metric::kE3E4Accidents));
  report.headline.push_back(Find(e3e4, Metric::kE3E4Injuries));
  report.headline.push_back(Find(all, Metric::kKeyViolations));
  report.headline.push_back(Find(all, Metric::kVideoHandled));

  // English names the main urban area in a sentence as "the main urban
  // area" (its table label is "Main urban area").
  const bool main_urban = region == &regions.main_urban();
  const std::string in_region =
      city || main_urban ? "in the main urban area" : "in " + report.region_name;
  const std::string place =
      city ? (zh ? "全市" : "Citywide")
           : (zh ? report.region_name
                 : (main_urban ? "In the main urban area" : "In " + report.region_name));
  const std::string e3e4_place = zh ? (city ? e3e4_region.name_zh : report.region_name) : in_region;
  const std::vector<Change> casualties = {Find(all, Metric::kAccidents).change,
                                          Find(all, Metric::kDeaths).change,
                                          Find(all, Metric::kInjuries).change};
  const std::vector<Change> e3e4_changes = {Find(e3e4, Metric::kE3E4Accidents).change,
                                            Find(e3e4, Metric::kE3E4Injuries).change};
  const int64_t key = Find(all, Metric::kKeyViolations).change.current;
  const int64_t video = Find(all, Metric::kVideoHandled).change.current;
  if (zh) {
    report.sentences.push_back(fmt::format("{}道路交通事故起数、死亡人数、受伤人数{}", place,
                                           DescribeChanges(casualties, {}, 2, language)));
    report.sentences.push_back(fmt::format("{}涉低速电动三四轮车道路交通事故起数、受伤人数{}",
                                           e3e4_place,
                                           DescribeChanges(e3e4_changes, {}, 1, language)));
    report.sentences.push_back(
        fmt::format("查处“酒醉驾”“三超一疲劳”等重点交通违法行为{}起", FormatWan(key)));
    report.sentences.push_back(fmt::format("视频快处轻微交通事故{}起", FormatWanYu(video)));
  } else {
    report.sentences.push_back(
        fmt::format("{}, road traffic accidents, deaths and injuries {}", place,
                    DescribeChanges(casualties, {"accidents", "deaths", "injuries"}, 2, language)));
    report.sentences.push_back(fmt::format(
        "Accidents involving low-speed electric tricycles and quadricycles {}, and their "
        "injuries, {}",
        e3e4_place, DescribeChanges(e3e4_changes, {"accidents", "injuries"}, 1, language)));
    // The exact count: 万 is the Chinese sentence's unit, not English's.
    report.sentences.push_back(
        fmt::format("{} key traffic {} handled: drink and drunk driving, speeding, "
                    "overloading, carrying too many passengers and fatigue driving",
                    Thousands(key), key == 1 ? "violation was" : "violations were"));
    // "3万余" is "more than 30,000".
    const bool more_than = video > 10000 && video % 10000 != 0;
    report.sentences.push_back(fmt::format("{}{} minor {} settled over video",
                                           more_than ? "More than " : "",
                                           Thousands(more_than ? video / 10000 * 10000 : video),
                                           video == 1 ? "accident was" : "accidents were"));
  }

  std::vector<const Region*> units = regions.Children(region->code);
  if (city) units.push_back(&regions.main_urban());
  units.push_back(region);
  for (const Region* unit : units) {
    ReportRow row;
    row.region_code = unit->code;
    row.region_name = zh ? unit->name_zh : unit->name_en;
    const std::vector<ReportFigure> figures = Figures(store, unit->code, period, report.base);
    for (Metric m : kTableMetrics) row.figures.push_back(Find(figures, m));
    report.rows.push_back(std::move(row));
  }
  return report;
}

bool HasNoCount(const Report& report) {
  if (report.rows.empty()) return false;
  for (const ReportFigure& f : report.rows.back().figures) {
    if (f.change.current != 0) return false;
  }
  return true;
}

std::optional<EmptyPeriod> FindEmptyPeriod(const Report& report,
                                           const std::optional<Period>& days) {
  if (!HasNoCount(report)) return std::nullopt;
  EmptyPeriod empty;
  if (days.has_value()) {
    if (days->from < report.period.to && report.period.from < days->to) return std::nullopt;
    empty.counts = days;
    empty.suggested = Period{absl::CivilDay(absl::CivilYear(days->to - 1).year(), 1, 1), days->to};
  }
  return empty;
}

std::string EmptyPeriodHint(const Report& report, const std::optional<Period>& days,
                            std::string_view what) {
  const std::optional<EmptyPeriod> empty = FindEmptyPeriod(report, days);
  if (!empty.has_value()) return "";
  const std::string period =
      fmt::format("{} to {}", DayText(report.period.from), DayText(report.period.to - 1));
  if (!empty->counts.has_value()) {
    return fmt::format("no counts for {} ({}) from {}; {} has no counts at all", report.region_name,
                       report.region_code, period, what);
  }
  return fmt::format(
      "no counts for {} ({}) from {}; {} has counts from {} to {}: for their last year use "
      "--from {} --to {}",
      report.region_name, report.region_code, period, what, DayText(empty->counts->from),
      DayText(empty->counts->to - 1), DayText(empty->suggested.from), DayText(empty->suggested.to));
}

nlohmann::ordered_json ReportToJson(const Report& report) {
  auto figure = [](const ReportFigure& f) {
    nlohmann::ordered_json j;
    j["metric"] = std::string(MetricName(f.metric));
    j["value"] = f.change.current;
    j["last_year"] = f.change.previous;
    if (f.change.percent.has_value()) {
      j["change_percent"] = std::stod(FormatPercent(f.change, 2));
      j["change_text"] = FormatPercent(f.change, 2);
    } else {
      j["change_percent"] = nullptr;
      j["change_text"] = "no base";
    }
    return j;
  };
  nlohmann::ordered_json j;
  j["region"] = {{"code", report.region_code}, {"name", report.region_name}};
  j["period"] = {{"from", DayText(report.period.from)},
                 {"to_exclusive", DayText(report.period.to)},
                 {"last_year_from", DayText(report.base.from)},
                 {"last_year_to_exclusive", DayText(report.base.to)}};
  j["language"] = report.language == Language::kZh ? "zh" : "en";
  j["sentences"] = report.sentences;
  nlohmann::ordered_json headline = nlohmann::ordered_json::array();
  for (const ReportFigure& f : report.headline) headline.push_back(figure(f));
  j["headline"] = headline;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const ReportRow& row : report.rows) {
    nlohmann::ordered_json r;
    r["region_code"] = row.region_code;
    r["region_name"] = row.region_name;
    nlohmann::ordered_json figures = nlohmann::ordered_json::array();
    for (const ReportFigure& f : row.figures) figures.push_back(figure(f));
    r["metrics"] = figures;
    rows.push_back(r);
  }
  j["rows"] = rows;
  return j;
}

std::string RenderReport(const Report& report, ReportFormat format, bool utf8_bom) {
  const bool zh = report.language == Language::kZh;
  switch (format) {
    case ReportFormat::kJson:
      return ReportToJson(report).dump(2) + "\n";
    case ReportFormat::kCsv: {
      std::string out = utf8_bom ? "\xEF\xBB\xBF" : "";
      // Each line carries the days it covers (first and last, both
      // included), so a file read on its own or pasted into another says
      // which period it is; the new columns come last, after the figures.
      const std::string days =
          fmt::format("{},{},{},{}", DayText(report.period.from), DayText(report.period.to - 1),
                      DayText(report.base.from), DayText(report.base.to - 1));
      out +=
          "region_code,region_name,metric,value,last_year,change_percent,first_day,last_day,"
          "last_year_first_day,last_year_last_day\n";
      for (const ReportRow& row : report.rows) {
        for (const ReportFigure& f : row.figures) {
          out += fmt::format("{},{},{},{},{},{},{}\n", row.region_code, row.region_name,
                             MetricName(f.metric), f.change.current, f.change.previous,
                             f.change.percent.has_value() ? FormatPercent(f.change, 2) : "", days);
        }
      }
      return out;
    }
    case ReportFormat::kMarkdown:
    case ReportFormat::kText: {
      const bool md = format == ReportFormat::kMarkdown;
      std::string out;
      const absl::CivilDay last_day = report.period.to - 1;
      out += md ? "## " : "";
      out += zh ? fmt::format("{} {} 至 {} 道路交通统计（同比：{} 至 {}）", report.region_name,
                              DayText(report.period.from), DayText(last_day),
                              DayText(report.base.from), DayText(report.base.to - 1))
                : fmt::format("{}: road traffic, {} to {} (against {} to {})", report.region_name,
                              DayText(report.period.from), DayText(last_day),
                              DayText(report.base.from), DayText(report.base.to - 1));
      out += "\n\n";
      for (const std::string& s : report.sentences) {
        out += (md ? "- " : "") + s + (zh ? "。" : ".") + "\n";
      }
      out += "\n";
      std::vector<std::string> header = {zh ? "区域" : "Region"};
      for (const ReportFigure& f : report.rows.front().figures) {
        header.push_back(std::string(MetricLabel(f.metric, report.language)));
        header.push_back(zh ? "去年同期" : "last year");
        header.push_back(zh ? "同比" : "change");
      }
      std::vector<std::vector<std::string>> lines;
      for (const ReportRow& row : report.rows) {
        std::vector<std::string> line = {row.region_name};
        for (const ReportFigure& f : row.figures) {
          line.push_back(std::to_string(f.change.current));
          line.push_back(std::to_string(f.change.previous));
          line.push_back(ChangeText(f.change, 2, report.language));
        }
        lines.push_back(std::move(line));
      }
      if (md) {
        out += "| " + absl::StrJoin(header, " | ") + " |\n|";
        for (size_t i = 0; i < header.size(); ++i) out += i == 0 ? "---|" : "---:|";
        out += "\n";
        for (const auto& line : lines) out += "| " + absl::StrJoin(line, " | ") + " |\n";
        return out;
      }
      lines.insert(lines.begin(), std::move(header));
      const std::vector<size_t> widths = ColumnWidths(lines);
      for (const auto& line : lines) out += TableLine(line, widths);
      return out;
    }
  }
  return "";
}

}  // namespace roadpulse
