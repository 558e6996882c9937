// Parsing and validation of the view's HTTP query strings (`roadpulse serve`).
// Pure functions without I/O, so they can be unit-tested and fuzzed
// (tests/fuzz/view_query_fuzzer.cc): every malformed input is an
// kInvalidArgument status whose message names the problem, never a crash.
#ifndef ROADPULSE_SINKS_VIEW_QUERY_H_
#define ROADPULSE_SINKS_VIEW_QUERY_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "processors/metrics.h"
#include "processors/period.h"
#include "processors/region_table.h"
#include "sinks/report.h"

namespace roadpulse {

// Decoded query parameters, name -> value. Each name appears at most once.
using QueryParams = std::map<std::string, std::string>;

// Limits on what a client may send.
inline constexpr size_t kMaxQueryBytes = 2048;
inline constexpr size_t kMaxParamBytes = 256;

// Splits and percent-decodes a raw query string ("a=1&b=x%20y", without the
// '?'). '+' decodes to a space. kInvalidArgument for a bad %-escape, an empty
// or repeated name, a name or value with control characters, or more than
// kMaxQueryBytes / kMaxParamBytes.
absl::StatusOr<QueryParams> ParseQueryString(std::string_view query);

// A window of `/api/v1/counts`.
struct CountWindow {
  std::string name;  // as given: "today", "1h", "2025-01-01..2025-09-01"
  // Rolling windows (1h, 24h, 7d, 30d) end now; `length` is their length.
  bool rolling = false;
  absl::Duration length;
  // Calendar windows: local days [period.from, period.to).
  Period period;
};

// Parses a window relative to the local day `today`:
//   1h, 24h, 7d, 30d               rolling
//   today, month, ytd              calendar, up to and including today
//   YYYY-MM-DD..YYYY-MM-DD         days [FROM, TO), TO exclusive, at most a year
//                                  (CheckComparable: it is compared with last year)
absl::StatusOr<CountWindow> ParseWindow(std::string_view text, absl::CivilDay today);

// Parses a YYYY-MM-DD day (years 1900..9999); `what` names the field in errors.
absl::StatusOr<absl::CivilDay> ParseDayParam(std::string_view what, std::string_view text);

struct CountsQuery {
  Metric metric = Metric::kAccidents;
  std::string region;  // a code of the region table
  CountWindow window;
};

// `/api/v1/counts?metric=&region=&window=`; metric is required, region
// defaults to the city, window to "today". Unknown parameters are refused
// (except access_token, see HttpView).
absl::StatusOr<CountsQuery> ParseCountsQuery(const QueryParams& params,
                                             const RegionTable& regions, absl::CivilDay today);

struct ReportQuery {
  std::string region;
  Period period;
  Language language = Language::kZh;
  ReportFormat format = ReportFormat::kJson;
  bool bom = false;  // a CSV starting with a UTF-8 byte-order mark (for Excel)
};

// `/api/v1/report?from=&to=&region=&lang=&format=&bom=`; from defaults to 1
// January of this year, to (exclusive) to tomorrow, region to the city, lang
// to zh, format to json (or text, md, csv); bom=1 (or 0) only with format=csv,
// as `report --bom`.
absl::StatusOr<ReportQuery> ParseReportQuery(const QueryParams& params,
                                             const RegionTable& regions, absl::CivilDay today);

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_VIEW_QUERY_H_
