// The report's own flags, shared by `roadpulse report` (from roadpulse.counts)
// and `roadpulse replay` (from events): the period, the region, the language
// and the output format.
#ifndef ROADPULSE_APP_REPORT_FLAGS_H_
#define ROADPULSE_APP_REPORT_FLAGS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "processors/period.h"
#include "processors/region_table.h"
#include "sinks/report.h"

namespace roadpulse {

// As given on the command line.
struct ReportFlags {
  std::string from;
  std::string to;
  std::string region = "371600";
  std::string lang = "zh";
  std::string format = "text";
  bool bom = false;
};

// Adds --from, --to, --region, --lang, --format and --bom, bound to `flags`
// (which must outlive the command).
void AddReportFlags(CLI::App* cmd, ReportFlags* flags);

// What the flags ask for, checked.
struct ReportRequest {
  Period period;
  std::string region;
  Language language = Language::kZh;
  ReportFormat format = ReportFormat::kText;
  bool utf8_bom = false;
};

// Reads `flags` for `regions`, with "this year" and "tomorrow" taken from
// `today`. kInvalidArgument names the flag: --bom without --format csv, a
// day that does not parse or an empty period, a region not in the table.
absl::StatusOr<ReportRequest> ReadReportFlags(const ReportFlags& flags, const RegionTable& regions,
                                              absl::CivilDay today);

}  // namespace roadpulse

#endif  // ROADPULSE_APP_REPORT_FLAGS_H_
