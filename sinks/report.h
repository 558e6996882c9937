// The report: a period's figures for a region against the same period last
// year, as the traffic police report states them ("全市道路交通事故起数、死亡人数、
// 受伤人数同比分别下降11.29%、14.04%、17.78%"), and as tables per county.
#ifndef ROADPULSE_SINKS_REPORT_H_
#define ROADPULSE_SINKS_REPORT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "processors/count_store.h"
#include "processors/metrics.h"
#include "processors/period.h"

namespace roadpulse {

enum class ReportFormat { kText, kMarkdown, kCsv, kJson };

// "text", "md", "csv" or "json"; nullopt for anything else.
std::optional<ReportFormat> ReportFormatFromName(std::string_view name);

// One metric of one region: this period, last year's, and the change.
struct ReportFigure {
  Metric metric;
  Change change;
};

struct ReportRow {
  std::string region_code;
  std::string region_name;  // in the report's language
  std::vector<ReportFigure> figures;
};

struct Report {
  Language language = Language::kZh;
  Period period;  // [from, to)
  Period base;    // the same period last year
  std::string region_code;
  std::string region_name;
  // The report's sentences, in its own wording.
  std::vector<std::string> sentences;
  // Headline figures: accidents, deaths, injuries, the main-urban (or the
  // region's) 电三电四 accidents and injuries, key violations, video-handled.
  std::vector<ReportFigure> headline;
  // One row per child unit of the region (counties for the city), then the region.
  std::vector<ReportRow> rows;
};

// Builds the report from `store`. kInvalidArgument names an unknown region or
// an empty period (from >= to).
absl::StatusOr<Report> BuildReport(const CountStore& store, std::string_view region_code,
                                   const Period& period, Language language);

// Renders it: text (the sentences and a table), Markdown, CSV (one line per
// region and metric, each with the period's and last year's first and last
// days) or JSON (everything, numbers as numbers). With
// `utf8_bom` a CSV starts with the UTF-8 byte-order mark (`report --bom`,
// `/api/v1/report?bom=1`), so that Excel reads its Chinese names as UTF-8
// rather than in the system's code page (GBK on Chinese Windows); the other
// formats never carry one.
std::string RenderReport(const Report& report, ReportFormat format, bool utf8_bom = false);
nlohmann::ordered_json ReportToJson(const Report& report);

// A report's period that holds no count at all for its region (every figure
// of its row 0) while the counts lie on other days.
struct EmptyPeriod {
  // The days that hold counts; nullopt when there are none at all.
  std::optional<Period> counts;
  // The period to ask for instead: the counts' last calendar year, up to
  // their last day (meaningful only with `counts`).
  Period suggested;
};
// Whether every figure of the report's region (its last row) is 0.
bool HasNoCount(const Report& report);
// The report's period as an EmptyPeriod, or nullopt when it has a count or
// when `days` (the days that hold counts; nullopt: none) overlap it.
std::optional<EmptyPeriod> FindEmptyPeriod(const Report& report, const std::optional<Period>& days);

// A warning for a report whose period holds no count at all for its region
// (every figure of its row 0) while the counts lie on other days. `days`
// are the days that hold counts (CountStore::DaysWithCounts, or the days of
// a replay's events); `what` names where they come from ("roadpulse.counts",
// "the input"). The warning names those days and the period to ask for
// instead: their last calendar year, up to their last day. Empty when the
// period has a count, or when `days` overlap it (a region with nothing to
// report, not a wrong period). nullopt `days`: "has no counts at all".
std::string EmptyPeriodHint(const Report& report, const std::optional<Period>& days,
                            std::string_view what);

// "13.9万" (one decimal of 万, as the report writes large counts) and
// "3万余" (whole 万 and "more than"); below 10,000 the plain number.
std::string FormatWan(int64_t value);
std::string FormatWanYu(int64_t value);

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_REPORT_H_
