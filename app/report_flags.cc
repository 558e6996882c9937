#include "app/report_flags.h"

#include "absl/strings/str_cat.h"
#include "fmt/format.h"

namespace roadpulse {

void AddReportFlags(CLI::App* cmd, ReportFlags* flags) {
  cmd->add_option("--from", flags->from,
                  "Report period: first day, YYYY-MM-DD (default: 1 January this year)");
  cmd->add_option("--to", flags->to,
                  "Report period: day after the last, YYYY-MM-DD (default: tomorrow)");
  cmd->add_option(
         "--region", flags->region,
         "Region: the city, a county/district/zone, a township or the main urban area, by its "
         "code or name (371681, 邹平市, 邹平, Zouping)")
      ->capture_default_str();
  cmd->add_option("--lang", flags->lang, "zh or en")
      ->check(CLI::IsMember({"zh", "en"}))
      ->capture_default_str();
  cmd->add_option("--format", flags->format, "text, md, csv or json")
      ->check(CLI::IsMember({"text", "md", "csv", "json"}))
      ->capture_default_str();
  cmd->add_flag("--bom", flags->bom,
                "With --format csv: start with a UTF-8 byte-order mark, so that Excel shows the "
                "Chinese names (without it, Excel reads them in the system's code page)");
}

absl::StatusOr<ReportRequest> ReadReportFlags(const ReportFlags& flags, const RegionTable& regions,
                                              absl::CivilDay today) {
  ReportRequest request;
  const std::optional<ReportFormat> format = ReportFormatFromName(flags.format);
  if (!format.has_value()) {
    return absl::InvalidArgumentError(
        fmt::format("--format {}: expected text, md, csv or json", flags.format));
  }
  request.format = *format;
  if (flags.bom && request.format != ReportFormat::kCsv) {
    return absl::InvalidArgumentError("--bom: only with --format csv");
  }
  request.utf8_bom = flags.bom;
  if (flags.lang != "zh" && flags.lang != "en") {
    return absl::InvalidArgumentError(fmt::format("--lang {}: expected zh or en", flags.lang));
  }
  request.language = flags.lang == "en" ? Language::kEn : Language::kZh;
  absl::StatusOr<Period> period = PeriodFromFlags(flags.from, flags.to, today);
  if (!period.ok()) return period.status();
  request.period = *period;
  absl::StatusOr<const Region*> region = regions.Resolve(flags.region);
  if (!region.ok()) {
    // Not found or not one region: both are a bad flag (exit code 2).
    return absl::InvalidArgumentError(absl::StrCat("--region: ", region.status().message()));
  }
  request.region = (*region)->code;
  return request;
}

}  // namespace roadpulse
