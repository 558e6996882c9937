#include "app/scenario.h"

#include <array>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "toml++/toml.h"

#ifndef ROADPULSE_SOURCE_DIR
#define ROADPULSE_SOURCE_DIR "."
#endif

namespace roadpulse {
namespace {

// Reads one TOML table, remembering which keys were used so that unknown keys
// (typos) are refused instead of silently ignored.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, const std::string& source)
      : table_(table), path_(std::move(path)), source_(source) {}

  std::string Where(std::string_view key) const {
    return absl::StrCat(source_, ": ", path_.empty() ? "" : path_ + ".", std::string(key));
  }

  const toml::node* Get(std::string_view key) {
    used_.insert(std::string(key));
    return table_.get(key);
  }

  // Integers in a scenario are counts of events: 1e9 is far above any city's
  // yearly figures and keeps the sums the loader checks far from overflow.
  static constexpr int64_t kMaxCount = 1'000'000'000;

  absl::Status Int(std::string_view key, int64_t* out, bool required, int64_t min = 0,
                   int64_t max = kMaxCount) {
    const toml::node* node = Get(key);
    if (node == nullptr) {
      return required ? absl::InvalidArgumentError(Where(key) + ": missing") : absl::OkStatus();
    }
    // The type first: toml++ converts a float to int64_t without a range
    // check (undefined behaviour for 3e30).
    if (!node->is_integer()) {
      return absl::InvalidArgumentError(Where(key) + ": expected an integer");
    }
    const int64_t v = *node->value<int64_t>();
    if (v < min) {
      return absl::InvalidArgumentError(absl::StrCat(Where(key), ": must be >= ", min));
    }
    if (v > max) {
      return absl::InvalidArgumentError(absl::StrCat(Where(key), ": must be <= ", max));
    }
    *out = v;
    return absl::OkStatus();
  }

  absl::Status Real(std::string_view key, double* out, bool required, double min = 0,
                    double max = 1e300) {
    const toml::node* node = Get(key);
    if (node == nullptr) {
      return required ? absl::InvalidArgumentError(Where(key) + ": missing") : absl::OkStatus();
    }
    if (!node->is_number()) return absl::InvalidArgumentError(Where(key) + ": expected a number");
    double v = *node->value<double>();
    if (!(v >= min && v <= max)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(key), ": must be in [", min, ", ", max, "]"));
    }
    *out = v;
    return absl::OkStatus();
  }

  absl::Status String(std::string_view key, std::string* out, bool required) {
    const toml::node* node = Get(key);
    if (node == nullptr) {
      return required ? absl::InvalidArgumentError(Where(key) + ": missing") : absl::OkStatus();
    }
    if (!node->is_string()) return absl::InvalidArgumentError(Where(key) + ": expected a string");
    *out = *node->value<std::string>();
    return absl::OkStatus();
  }

  absl::Status Date(std::string_view key, absl::CivilDay* out) {
    const toml::node* node = Get(key);
    if (node == nullptr) return absl::InvalidArgumentError(Where(key) + ": missing");
    if (!node->is_date()) {
      return absl::InvalidArgumentError(Where(key) + ": expected a date (YYYY-MM-DD)");
    }
    toml::date d = *node->value<toml::date>();
    *out = absl::CivilDay(d.year, d.month, d.day);
    return absl::OkStatus();
  }

  absl::Status RangeOf(std::string_view key, Range* out, int64_t min) {
    const toml::node* node = Get(key);
    if (node == nullptr) return absl::OkStatus();
    const toml::array* arr = node->as_array();
    if (arr == nullptr || arr->size() != 2 || !(*arr)[0].is_integer() || !(*arr)[1].is_integer()) {
      return absl::InvalidArgumentError(Where(key) + ": expected [min, max] integers");
    }
    Range r{*(*arr)[0].value<int64_t>(), *(*arr)[1].value<int64_t>()};
    if (r.min < min || r.max < r.min) {
      return absl::InvalidArgumentError(absl::StrCat(Where(key), ": need ", min, " <= min <= max"));
    }
    *out = r;
    return absl::OkStatus();
  }

  template <size_t N>
  absl::Status Weights(std::string_view key, std::array<double, N>* out) {
    const toml::node* node = Get(key);
    if (node == nullptr) return absl::InvalidArgumentError(Where(key) + ": missing");
    const toml::array* arr = node->as_array();
    if (arr == nullptr || arr->size() != N) {
      return absl::InvalidArgumentError(absl::StrCat(Where(key), ": expected ", N, " numbers"));
    }
    double sum = 0;
    for (size_t i = 0; i < N; ++i) {
      if (!(*arr)[i].is_number() || *(*arr)[i].value<double>() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(key), "[", i, "]: expected a number >= 0"));
      }
      (*out)[i] = *(*arr)[i].value<double>();
      sum += (*out)[i];
    }
    if (sum <= 0) return absl::InvalidArgumentError(Where(key) + ": all weights are 0");
    return absl::OkStatus();
  }

  // A sub-table; `required` or else an empty table stands in.
  absl::StatusOr<const toml::table*> Table(std::string_view key, bool required) {
    const toml::node* node = Get(key);
    if (node == nullptr) {
      if (required) return absl::InvalidArgumentError(Where(key) + ": missing table");
      static const toml::table kEmpty;
      return &kEmpty;
    }
    if (!node->is_table()) return absl::InvalidArgumentError(Where(key) + ": expected a table");
    return node->as_table();
  }

  // Refuses keys that were never asked for.
  absl::Status NoUnknownKeys() const {
    for (const auto& [k, v] : table_) {
      if (used_.count(std::string(k.str())) == 0) {
        return absl::InvalidArgumentError(Where(k.str()) + ": unknown key");
      }
    }
    return absl::OkStatus();
  }

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }

 private:
  const toml::table& table_;
  std::string path_;
  std::string source_;
  std::set<std::string> used_;
};

#define RP_RETURN_IF_ERROR(expr)             \
  do {                                       \
    absl::Status rp_status_ = (expr);        \
    if (!rp_status_.ok()) return rp_status_; \
  } while (0)

absl::Status ReadTotals(const toml::table& period, const std::string& path,
                        const std::string& source, PeriodTotals* t) {
  TableReader r(period, path, source);
  // label/start/end are read by the caller.
  r.Get("label");
  r.Get("start");
  r.Get("end");
  absl::StatusOr<const toml::table*> acc = r.Table("accidents", true);
  if (!acc.ok()) return acc.status();
  absl::StatusOr<const toml::table*> vio = r.Table("violations", true);
  if (!vio.ok()) return vio.status();
  RP_RETURN_IF_ERROR(r.NoUnknownKeys());

  TableReader a(**acc, path + ".accidents", source);
  RP_RETURN_IF_ERROR(a.Int("ordinary", &t->ordinary, true));
  RP_RETURN_IF_ERROR(a.Int("deaths", &t->deaths, true));
  RP_RETURN_IF_ERROR(a.Int("injuries", &t->injuries, true));
  RP_RETURN_IF_ERROR(a.Int("alcohol_involved", &t->alcohol_involved, false));
  RP_RETURN_IF_ERROR(a.Int("e3e4_main_urban", &t->e3e4_main_urban, true));
  RP_RETURN_IF_ERROR(a.Int("e3e4_main_urban_injuries", &t->e3e4_main_urban_injuries, true));
  RP_RETURN_IF_ERROR(a.Int("e3e4_elsewhere", &t->e3e4_elsewhere, false));
  RP_RETURN_IF_ERROR(a.Int("video_quick", &t->video_quick, true));
  RP_RETURN_IF_ERROR(a.Int("simple_procedure", &t->simple_procedure, false));
  RP_RETURN_IF_ERROR(a.Int("on_site", &t->on_site, false));
  RP_RETURN_IF_ERROR(a.NoUnknownKeys());

  TableReader v(**vio, path + ".violations", source);
  RP_RETURN_IF_ERROR(v.Int("drink_driving", &t->drink_driving, true));
  RP_RETURN_IF_ERROR(v.Int("drunk_driving", &t->drunk_driving, true));
  RP_RETURN_IF_ERROR(v.Int("speeding", &t->speeding, true));
  RP_RETURN_IF_ERROR(v.Int("overload", &t->overload, true));
  RP_RETURN_IF_ERROR(v.Int("over_capacity", &t->over_capacity, true));
  RP_RETURN_IF_ERROR(v.Int("fatigue", &t->fatigue, true));
  RP_RETURN_IF_ERROR(v.Int("other", &t->other_violations, false));
  int64_t key = -1;
  RP_RETURN_IF_ERROR(v.Int("key_violations", &key, false));
  RP_RETURN_IF_ERROR(v.NoUnknownKeys());
  if (key >= 0 && key != t->KeyViolations()) {
    return absl::InvalidArgumentError(absl::StrCat(v.Where("key_violations"), ": ", key,
                                                   " is not the sum of the six types (",
                                                   t->KeyViolations(), ")"));
  }

  // Consistency of the accident totals.
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", path, ".accidents: ", what));
  };
  if (t->e3e4_main_urban + t->e3e4_elsewhere > t->ordinary) {
    return bad("e3e4_main_urban + e3e4_elsewhere exceed ordinary");
  }
  if (t->alcohol_involved > t->ordinary) return bad("alcohol_involved exceeds ordinary");
  if (t->e3e4_main_urban_injuries > t->injuries) {
    return bad("e3e4_main_urban_injuries exceed injuries");
  }
  if (t->e3e4_main_urban == 0 && t->e3e4_main_urban_injuries > 0) {
    return bad("e3e4_main_urban_injuries without e3e4_main_urban accidents");
  }
  if (t->ordinary - t->e3e4_main_urban == 0 && t->injuries > t->e3e4_main_urban_injuries) {
    return bad("injuries outside e3e4_main_urban but no other ordinary accidents");
  }
  if (t->ordinary == 0 && t->deaths > 0) return bad("deaths without ordinary accidents");
  return absl::OkStatus();
}

constexpr std::pair<std::string_view, int> kRoadClasses[] = {
    {"expressway", 1},       {"national", 2},     {"provincial", 3}, {"county", 4},
    {"township_village", 5}, {"urban_street", 6}, {"other", 7},
};

absl::Status ReadRoadClasses(const toml::table& t, const std::string& path,
                             const std::string& source, std::array<double, 8>* out) {
  TableReader r(t, path, source);
  out->fill(0);
  double sum = 0;
  for (const auto& [name, value] : kRoadClasses) {
    RP_RETURN_IF_ERROR(r.Real(std::string(name), &(*out)[value], false));
    sum += (*out)[value];
  }
  RP_RETURN_IF_ERROR(r.NoUnknownKeys());
  if (sum <= 0) return absl::InvalidArgumentError(absl::StrCat(source, ": ", path, ": all 0"));
  return absl::OkStatus();
}

absl::StatusOr<Scenario> Parse(const toml::table& root, const std::string& source) {
  Scenario s;
  TableReader r(root, "", source);
  RP_RETURN_IF_ERROR(r.String("name", &s.name, true));
  RP_RETURN_IF_ERROR(r.String("description", &s.description, false));
  RP_RETURN_IF_ERROR(r.Real("main_urban_flag_share", &s.main_urban_flag_share, false, 0, 1));
  RP_RETURN_IF_ERROR(r.Real("coordinates_share", &s.coordinates_share, false, 0, 1));

  // Periods.
  const toml::node* periods = r.Get("periods");
  if (periods == nullptr || !periods->is_array_of_tables() || periods->as_array()->empty()) {
    return absl::InvalidArgumentError(r.Where("periods") + ": expected [[periods]] tables");
  }
  size_t i = 0;
  for (const toml::node& node : *periods->as_array()) {
    std::string path = absl::StrCat("periods[", i++, "]");
    TableReader pr(*node.as_table(), path, source);
    ScenarioPeriod p;
    RP_RETURN_IF_ERROR(pr.String("label", &p.label, true));
    RP_RETURN_IF_ERROR(pr.Date("start", &p.start));
    RP_RETURN_IF_ERROR(pr.Date("end", &p.end));
    if (p.end <= p.start) return absl::InvalidArgumentError(pr.Where("end") + ": not after start");
    if (!s.periods.empty() && p.start < s.periods.back().end) {
      return absl::InvalidArgumentError(pr.Where("start") + ": periods overlap or are unordered");
    }
    RP_RETURN_IF_ERROR(ReadTotals(*node.as_table(), path, source, &p.totals));
    s.periods.push_back(std::move(p));
  }

  // Mix.
  absl::StatusOr<const toml::table*> mix = r.Table("mix", false);
  if (!mix.ok()) return mix.status();
  {
    TableReader m(**mix, "mix", source);
    RP_RETURN_IF_ERROR(m.Real("amendment_share", &s.amendment_share, false, 0, 1));
    RP_RETURN_IF_ERROR(m.RangeOf("amendment_delay_days", &s.amendment_delay_days, 1));
    RP_RETURN_IF_ERROR(m.Real("duplicate_share", &s.duplicate_share, false, 0, 1));
    RP_RETURN_IF_ERROR(m.RangeOf("duplicate_delay_s", &s.duplicate_delay_s, 1));
    RP_RETURN_IF_ERROR(m.Real("bad_share", &s.bad_share, false, 0, 1));
    RP_RETURN_IF_ERROR(m.Int("bad_min_per_reason", &s.bad_min_per_reason, false));
    absl::StatusOr<const toml::table*> reasons = m.Table("bad_reasons", false);
    if (!reasons.ok()) return reasons.status();
    RP_RETURN_IF_ERROR(m.NoUnknownKeys());
    for (const auto& [k, v] : **reasons) {
      std::optional<RejectReason> reason = RejectReasonFromName(k.str());
      std::string where = absl::StrCat(source, ": mix.bad_reasons.", std::string(k.str()));
      if (!reason) return absl::InvalidArgumentError(where + ": unknown reject reason");
      if (!v.is_number() || *v.value<double>() < 0) {
        return absl::InvalidArgumentError(where + ": expected a weight >= 0");
      }
      if (*v.value<double>() > 0) s.bad_reasons.emplace_back(*reason, *v.value<double>());
    }
  }

  // Alcohol.
  absl::StatusOr<const toml::table*> alcohol = r.Table("alcohol", false);
  if (!alcohol.ok()) return alcohol.status();
  {
    TableReader a(**alcohol, "alcohol", source);
    RP_RETURN_IF_ERROR(a.Real("typed_with_measurement", &s.typed_with_measurement, false, 0, 1));
    RP_RETURN_IF_ERROR(
        a.Real("typed_without_measurement", &s.typed_without_measurement, false, 0, 1));
    RP_RETURN_IF_ERROR(
        a.Real("untyped_with_measurement", &s.untyped_with_measurement, false, 0, 1));
    RP_RETURN_IF_ERROR(a.Real("drunk_max", &s.drunk_max, false, 80.0, 1000.0));
    RP_RETURN_IF_ERROR(a.NoUnknownKeys());
    if (s.typed_with_measurement + s.typed_without_measurement + s.untyped_with_measurement <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": alcohol: all shares are 0"));
    }
  }

  // Delays.
  absl::StatusOr<const toml::table*> delays = r.Table("delays", false);
  if (!delays.ok()) return delays.status();
  {
    TableReader d(**delays, "delays", source);
    RP_RETURN_IF_ERROR(d.RangeOf("accident_report_min", &s.accident_report_min, 0));
    RP_RETURN_IF_ERROR(d.RangeOf("violation_report_min", &s.violation_report_min, 0));
    RP_RETURN_IF_ERROR(d.NoUnknownKeys());
  }

  // Time.
  absl::StatusOr<const toml::table*> time = r.Table("time", true);
  if (!time.ok()) return time.status();
  {
    TableReader t(**time, "time", source);
    RP_RETURN_IF_ERROR(t.Weights("month_weights", &s.month_weights));
    RP_RETURN_IF_ERROR(t.Weights("weekday_weights", &s.weekday_weights));
    RP_RETURN_IF_ERROR(t.Weights("accident_hours", &s.accident_hours));
    RP_RETURN_IF_ERROR(t.Weights("violation_hours", &s.violation_hours));
    RP_RETURN_IF_ERROR(t.Weights("alcohol_hours", &s.alcohol_hours));
    RP_RETURN_IF_ERROR(t.NoUnknownKeys());
  }

  // Road classes.
  absl::StatusOr<const toml::table*> road = r.Table("road_class", true);
  if (!road.ok()) return road.status();
  {
    TableReader rc(**road, "road_class", source);
    absl::StatusOr<const toml::table*> mu = rc.Table("main_urban", true);
    if (!mu.ok()) return mu.status();
    absl::StatusOr<const toml::table*> el = rc.Table("elsewhere", true);
    if (!el.ok()) return el.status();
    RP_RETURN_IF_ERROR(rc.NoUnknownKeys());
    RP_RETURN_IF_ERROR(
        ReadRoadClasses(**mu, "road_class.main_urban", source, &s.road_class_main_urban));
    RP_RETURN_IF_ERROR(
        ReadRoadClasses(**el, "road_class.elsewhere", source, &s.road_class_elsewhere));
  }

  // Regions.
  const toml::node* regions = r.Get("regions");
  if (regions == nullptr || !regions->is_array_of_tables() || regions->as_array()->empty()) {
    return absl::InvalidArgumentError(r.Where("regions") + ": expected [[regions]] tables");
  }
  i = 0;
  for (const toml::node& node : *regions->as_array()) {
    std::string path = absl::StrCat("regions[", i++, "]");
    TableReader rr(*node.as_table(), path, source);
    ScenarioRegion reg;
    RP_RETURN_IF_ERROR(rr.String("code", &reg.code, true));
    RP_RETURN_IF_ERROR(rr.Real("weight", &reg.weight, true));
    RP_RETURN_IF_ERROR(rr.Real("township_share", &reg.township_share, false, 0, 1));
    RP_RETURN_IF_ERROR(rr.Real("lat", &reg.lat, false, -90, 90));
    RP_RETURN_IF_ERROR(rr.Real("lon", &reg.lon, false, -180, 180));
    absl::StatusOr<const toml::table*> towns = rr.Table("townships", false);
    if (!towns.ok()) return towns.status();
    RP_RETURN_IF_ERROR(rr.NoUnknownKeys());
    for (const auto& [k, v] : **towns) {
      if (!v.is_number() || *v.value<double>() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": ", path, ".townships.", std::string(k.str()), ": expected a weight >= 0"));
      }
      reg.townships.emplace_back(std::string(k.str()), *v.value<double>());
    }
    if (reg.township_share > 0 && reg.townships.empty()) {
      return absl::InvalidArgumentError(rr.Where("townships") + ": township_share without them");
    }
    s.regions.push_back(std::move(reg));
  }

  // Live.
  absl::StatusOr<const toml::table*> live = r.Table("live", false);
  if (!live.ok()) return live.status();
  {
    TableReader l(**live, "live", source);
    RP_RETURN_IF_ERROR(l.Real("rate", &s.live_rate, false, 0.001, 1e7));
    RP_RETURN_IF_ERROR(l.RangeOf("amendment_delay_s", &s.live_amendment_delay_s, 0));
    RP_RETURN_IF_ERROR(l.NoUnknownKeys());
  }

  RP_RETURN_IF_ERROR(r.NoUnknownKeys());
  return s;
}

// Year shift of a civil day; 29 February becomes 28 February in a common year.
absl::CivilDay ShiftYears(absl::CivilDay d, int64_t years) {
  int64_t y = d.year() + years;
  int m = d.month();
  int day = d.day();
  absl::CivilDay shifted(y, m, day);
  if (shifted.month() != m) shifted = absl::CivilDay(y, m, 28);
  return shifted;
}

// Year shift of an exclusive end: the day after the shifted last day, so that
// a period through 29 February ends, a year away, after 28 February.
absl::CivilDay ShiftEnd(absl::CivilDay end, int64_t years) {
  return ShiftYears(end - 1, years) + 1;
}

// Year shift of a start: 29 February becomes 1 March in a common year, where
// a period that ended on 29 February (exclusive) now ends, so that periods
// meeting on the leap day still meet instead of overlapping by a day.
absl::CivilDay ShiftStart(absl::CivilDay start, int64_t years) {
  const absl::CivilDay shifted = ShiftYears(start, years);
  return start.month() == 2 && start.day() == 29 && shifted.day() == 28 ? shifted + 1 : shifted;
}

}  // namespace

absl::Status Scenario::Scale(int64_t factor) {
  if (factor < 1 || factor > kMaxScale) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scale ", factor, ": expected 1 to ", kMaxScale));
  }
  static_assert(sizeof(PeriodTotals) == 17 * sizeof(int64_t),
                "Scale() multiplies each field of PeriodTotals: add the new one");
  auto fields = [](PeriodTotals& t) {
    return std::array<int64_t*, 17>{
        &t.ordinary,         &t.deaths,          &t.injuries,
        &t.alcohol_involved, &t.e3e4_main_urban, &t.e3e4_main_urban_injuries,
        &t.e3e4_elsewhere,   &t.video_quick,     &t.simple_procedure,
        &t.on_site,          &t.drink_driving,   &t.drunk_driving,
        &t.speeding,         &t.overload,        &t.over_capacity,
        &t.fatigue,          &t.other_violations};
  };
  // Checked first, so that a refusal leaves the scenario as it was.
  for (ScenarioPeriod& p : periods) {
    for (const int64_t* v : fields(p.totals)) {
      if (*v > TableReader::kMaxCount / factor) {
        return absl::InvalidArgumentError(absl::StrCat("--scale ", factor, ": period ", p.label,
                                                       " would have a total over ",
                                                       TableReader::kMaxCount));
      }
    }
  }
  for (ScenarioPeriod& p : periods) {
    for (int64_t* v : fields(p.totals)) *v *= factor;
  }
  return absl::OkStatus();
}

absl::Status Scenario::MovePeriods(std::optional<int> this_year,
                                   std::optional<absl::CivilDay> through) {
  if (periods.empty()) return absl::OkStatus();
  if (through && !this_year) this_year = static_cast<int>(through->year());
  if (through && through->year() != *this_year) {
    return absl::InvalidArgumentError(absl::StrCat("--through ", absl::FormatCivilTime(*through),
                                                   ": not in --this-year ", *this_year));
  }
  if (this_year) {
    if (*this_year < 1971 || *this_year > 2999) {
      return absl::InvalidArgumentError(absl::StrCat("--this-year ", *this_year, ": out of range"));
    }
    int64_t shift = *this_year - periods.back().start.year();
    for (ScenarioPeriod& p : periods) {
      p.start = ShiftStart(p.start, shift);
      p.end = ShiftEnd(p.end, shift);
      if (p.label == std::to_string(p.start.year() - shift))
        p.label = std::to_string(p.start.year());
    }
  }
  if (through) {
    const ScenarioPeriod& last = periods.back();
    if (*through < last.start) {
      return absl::InvalidArgumentError(absl::StrCat("--through ", absl::FormatCivilTime(*through),
                                                     ": before the start of the period (",
                                                     absl::FormatCivilTime(last.start), ")"));
    }
    absl::CivilDay end = *through + 1;  // exclusive
    int64_t last_year = last.start.year();
    for (ScenarioPeriod& p : periods) {
      // Same month and day as `end`, in the year that keeps p's offset from the last period.
      p.end = ShiftEnd(end, p.start.year() - last_year);
      if (p.end <= p.start) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--through ", absl::FormatCivilTime(*through), ": empty period ", p.label));
      }
    }
    for (size_t i = 1; i < periods.size(); ++i) {
      if (periods[i].start < periods[i - 1].end) {
        return absl::InvalidArgumentError(
            absl::StrCat("--through ", absl::FormatCivilTime(*through), ": periods would overlap"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Scenario> LoadScenarioString(std::string_view toml_text,
                                            std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return absl::InvalidArgumentError(msg.str());
  }
  return Parse(root, std::string(source_name));
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open scenario file"));
  std::ostringstream text;
  text << in.rdbuf();
  return LoadScenarioString(text.str(), path);
}

std::string DefaultConfigDir() {
  const char* env = std::getenv("ROADPULSE_CONFIG_DIR");
  if (env != nullptr && *env != '\0') return env;
  return std::string(ROADPULSE_SOURCE_DIR) + "/deploy/config";
}

std::string DefaultScenarioPath(std::string_view scenario_name) {
  return absl::StrCat(DefaultConfigDir(), "/scenarios/", std::string(scenario_name), ".toml");
}

std::string DefaultRegionTablePath() { return DefaultConfigDir() + "/regions/binzhou.toml"; }

}  // namespace roadpulse
