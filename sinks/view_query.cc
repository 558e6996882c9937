#include "sinks/view_query.h"

#include <cctype>
#include <set>

#include "fmt/format.h"

namespace roadpulse {
namespace {

absl::Status Bad(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Shortened, printable form of user input for error messages.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < 40; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out += (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : static_cast<char>(c);
  }
  if (text.size() > 40) out += "...";
  return out + "\"";
}

absl::StatusOr<std::string> Decode(std::string_view part, std::string_view what) {
  std::string out;
  out.reserve(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    const char c = part[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= part.size()) {
        return Bad(fmt::format("malformed query: truncated %-escape in {}", what));
      }
      const int hi = HexValue(part[i + 1]);
      const int lo = HexValue(part[i + 2]);
      if (hi < 0 || lo < 0) return Bad(fmt::format("malformed query: bad %-escape in {}", what));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  for (char c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Bad(fmt::format("malformed query: control character in {}", what));
    }
  }
  return out;
}

const std::string* Get(const QueryParams& params, const char* name) {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

absl::Status CheckKnown(const QueryParams& params, const std::set<std::string>& known) {
  for (const auto& [name, value] : params) {
    if (known.count(name) == 0 && name != "access_token") {
      return Bad(fmt::format("unknown query parameter {}", Quote(name)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RegionParam(const QueryParams& params, const RegionTable& regions) {
  const std::string* region = Get(params, "region");
  if (region == nullptr) return regions.city().code;
  absl::StatusOr<const Region*> found = regions.Resolve(*region);
  if (!found.ok()) return Bad(std::string(found.status().message()));
  return (*found)->code;
}

absl::Status CheckRange(const Period& p, std::string_view what) {
  if (p.from > p.to) {
    return Bad(fmt::format("{}: from {} is after to {}", what, absl::FormatCivilTime(p.from),
                           absl::FormatCivilTime(p.to)));
  }
  if (p.from == p.to) {
    return Bad(fmt::format("{}: the range {}..{} is empty (to is exclusive)", what,
                           absl::FormatCivilTime(p.from), absl::FormatCivilTime(p.to)));
  }
  if (absl::Status s = CheckComparable(p); !s.ok()) {
    return Bad(fmt::format("{}: {}", what, std::string(s.message())));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<QueryParams> ParseQueryString(std::string_view query) {
  if (query.size() > kMaxQueryBytes) {
    return Bad(fmt::format("malformed query: longer than {} bytes", kMaxQueryBytes));
  }
  QueryParams params;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view part = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (part.empty()) {
      if (amp == query.size()) break;
      continue;  // "a=1&&b=2" or a trailing '&'
    }
    const size_t eq = part.find('=');
    const std::string_view raw_name = part.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    absl::StatusOr<std::string> name = Decode(raw_name, "a parameter name");
    if (!name.ok()) return name.status();
    if (name->empty()) return Bad("malformed query: a parameter without a name");
    absl::StatusOr<std::string> value = Decode(raw_value, fmt::format("parameter {}", Quote(*name)));
    if (!value.ok()) return value.status();
    if (name->size() > kMaxParamBytes || value->size() > kMaxParamBytes) {
      return Bad(fmt::format("malformed query: parameter {} is longer than {} bytes", Quote(*name),
                             kMaxParamBytes));
    }
    if (!params.emplace(*name, *value).second) {
      return Bad(fmt::format("malformed query: parameter {} is given twice", Quote(*name)));
    }
  }
  return params;
}

absl::StatusOr<absl::CivilDay> ParseDayParam(std::string_view what, std::string_view text) {
  std::string problem;
  const std::optional<absl::CivilDay> day = ReadDay(text, &problem);
  if (!day.has_value()) return Bad(fmt::format("{}: {} {}", what, Quote(text), problem));
  return *day;
}

absl::StatusOr<CountWindow> ParseWindow(std::string_view text, absl::CivilDay today) {
  CountWindow w;
  w.name = std::string(text);
  if (text == "1h" || text == "24h" || text == "7d" || text == "30d") {
    w.rolling = true;
    w.length = text == "1h"    ? absl::Hours(1)
               : text == "24h" ? absl::Hours(24)
               : text == "7d"  ? absl::Hours(24 * 7)
                               : absl::Hours(24 * 30);
    return w;
  }
  if (text == "today") {
    w.period = {today, today + 1};
    return w;
  }
  if (text == "month") {
    w.period = {absl::CivilDay(absl::CivilMonth(today)), today + 1};
    return w;
  }
  if (text == "ytd") {
    w.period = {absl::CivilDay(absl::CivilYear(today)), today + 1};
    return w;
  }
  const size_t dots = text.find("..");
  if (dots == std::string_view::npos) {
    return Bad(fmt::format("window: {} is not one of 1h, 24h, 7d, 30d, today, month, ytd or "
                           "YYYY-MM-DD..YYYY-MM-DD",
                           Quote(text)));
  }
  absl::StatusOr<absl::CivilDay> from = ParseDayParam("window FROM", text.substr(0, dots));
  if (!from.ok()) return from.status();
  absl::StatusOr<absl::CivilDay> to = ParseDayParam("window TO", text.substr(dots + 2));
  if (!to.ok()) return to.status();
  w.period = {*from, *to};
  if (absl::Status s = CheckRange(w.period, "window"); !s.ok()) return s;
  return w;
}

absl::StatusOr<CountsQuery> ParseCountsQuery(const QueryParams& params,
                                             const RegionTable& regions, absl::CivilDay today) {
  if (absl::Status s = CheckKnown(params, {"metric", "region", "window"}); !s.ok()) return s;
  CountsQuery q;
  const std::string* metric = Get(params, "metric");
  if (metric == nullptr) return Bad("metric: required (e.g. metric=accidents)");
  std::optional<Metric> m = MetricFromName(*metric);
  if (!m.has_value()) {
    std::string names;
    for (Metric known : AllMetrics()) {
      names += fmt::format("{}{}", names.empty() ? "" : ", ", MetricName(known));
    }
    return Bad(fmt::format("unknown metric {} (metrics: {})", Quote(*metric), names));
  }
  q.metric = *m;
  absl::StatusOr<std::string> region = RegionParam(params, regions);
  if (!region.ok()) return region.status();
  q.region = *std::move(region);
  const std::string* window = Get(params, "window");
  absl::StatusOr<CountWindow> w = ParseWindow(window == nullptr ? "today" : *window, today);
  if (!w.ok()) return w.status();
  q.window = *std::move(w);
  return q;
}

absl::StatusOr<ReportQuery> ParseReportQuery(const QueryParams& params,
                                             const RegionTable& regions, absl::CivilDay today) {
  if (absl::Status s = CheckKnown(params, {"from", "to", "region", "lang", "format", "bom"});
      !s.ok()) {
    return s;
  }
  ReportQuery q;
  q.period = {absl::CivilDay(absl::CivilYear(today)), today + 1};
  if (const std::string* from = Get(params, "from")) {
    absl::StatusOr<absl::CivilDay> d = ParseDayParam("from", *from);
    if (!d.ok()) return d.status();
    q.period.from = *d;
  }
  if (const std::string* to = Get(params, "to")) {
    absl::StatusOr<absl::CivilDay> d = ParseDayParam("to", *to);
    if (!d.ok()) return d.status();
    q.period.to = *d;
  }
  if (absl::Status s = CheckRange(q.period, "report"); !s.ok()) return s;
  absl::StatusOr<std::string> region = RegionParam(params, regions);
  if (!region.ok()) return region.status();
  q.region = *std::move(region);
  if (const std::string* lang = Get(params, "lang")) {
    if (*lang == "zh") {
      q.language = Language::kZh;
    } else if (*lang == "en") {
      q.language = Language::kEn;
    } else {
      return Bad(fmt::format("lang: {} is not zh or en", Quote(*lang)));
    }
  }
  if (const std::string* format = Get(params, "format")) {
    if (*format == "json") {
      q.format = ReportFormat::kJson;
    } else if (*format == "text") {
      q.format = ReportFormat::kText;
    } else if (*format == "md") {
      q.format = ReportFormat::kMarkdown;
    } else if (*format == "csv") {
      q.format = ReportFormat::kCsv;
    } else {
      return Bad(fmt::format("format: {} is not json, text, md or csv", Quote(*format)));
    }
  }
  if (const std::string* bom = Get(params, "bom")) {
    if (*bom != "0" && *bom != "1") return Bad(fmt::format("bom: {} is not 0 or 1", Quote(*bom)));
    q.bom = *bom == "1";
    if (q.bom && q.format != ReportFormat::kCsv) return Bad("bom: only with format=csv");
  }
  return q;
}

}  // namespace roadpulse
