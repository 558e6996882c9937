#include "app/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace roadpulse {
namespace {

// ---------------------------------------------------------------------------
// Randomness. Only the raw output of std::mt19937_64 is used (fully specified
// by the standard); the std::*_distribution classes are not, so every draw is
// made here, the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Next() { return engine_(); }

  // Uniform in [0, n), n > 0, without modulo bias.
  uint64_t Below(uint64_t n) {
    if (n <= 1) return 0;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // multiple of n
    uint64_t x;
    do {
      x = engine_();
    } while (x >= limit);
    return x % n;
  }

  // Uniform in [lo, hi], lo <= hi.
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  int64_t In(const Range& r) { return Between(r.min, r.max); }

  // Uniform in [0, 1) with 53 random bits.
  double Real() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  bool Chance(double p) { return Real() < p; }

  // Partial Fisher-Yates: `k` distinct indices of [0, n), in random order.
  std::vector<uint32_t> Sample(uint32_t n, uint32_t k) {
    std::vector<uint32_t> idx(n);
    for (uint32_t i = 0; i < n; ++i) idx[i] = i;
    k = std::min(k, n);
    for (uint32_t i = 0; i < k; ++i) {
      uint32_t j = i + static_cast<uint32_t>(Below(n - i));
      std::swap(idx[i], idx[j]);
    }
    idx.resize(k);
    return idx;
  }

 private:
  std::mt19937_64 engine_;
};

// Picks an index with probability proportional to its weight.
class Picker {
 public:
  Picker() = default;
  explicit Picker(const std::vector<double>& weights) {
    double sum = 0;
    cumulative_.reserve(weights.size());
    for (double w : weights) cumulative_.push_back(sum += std::max(0.0, w));
  }
  template <size_t N>
  explicit Picker(const std::array<double, N>& weights)
      : Picker(std::vector<double>(weights.begin(), weights.end())) {}

  bool empty() const { return cumulative_.empty() || cumulative_.back() <= 0; }

  size_t Pick(Rng& rng) const {
    double x = rng.Real() * cumulative_.back();
    size_t i = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), x) -
                                   cumulative_.begin());
    // Skip zero-weight entries at the end (x can only equal a bound from below).
    return std::min(i, cumulative_.size() - 1);
  }

 private:
  std::vector<double> cumulative_;
};

// A weighted choice among values of type T.
template <typename T>
class Choice {
 public:
  Choice(std::initializer_list<std::pair<T, double>> items) {
    std::vector<double> w;
    for (const auto& [v, weight] : items) {
      values_.push_back(v);
      w.push_back(weight);
    }
    picker_ = Picker(w);
  }
  T Pick(Rng& rng) const { return values_[picker_.Pick(rng)]; }

 private:
  std::vector<T> values_;
  Picker picker_;
};

using v1::VehicleCategory;
constexpr VehicleCategory kTricycle = v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE;
constexpr VehicleCategory kQuadricycle = v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_QUADRICYCLE;

// Other parties of an accident (never a 电三/电四).
const Choice<VehicleCategory>& OtherPartyUrban() {
  static const Choice<VehicleCategory> c{
      {v1::VEHICLE_CATEGORY_CAR, 40},        {v1::VEHICLE_CATEGORY_ELECTRIC_BICYCLE, 22},
      {v1::VEHICLE_CATEGORY_TRUCK, 6},       {v1::VEHICLE_CATEGORY_BUS, 4},
      {v1::VEHICLE_CATEGORY_MOTORCYCLE, 6},  {v1::VEHICLE_CATEGORY_BICYCLE, 6},
      {v1::VEHICLE_CATEGORY_PEDESTRIAN, 12}, {v1::VEHICLE_CATEGORY_OTHER, 2}};
  return c;
}
const Choice<VehicleCategory>& OtherPartyRural() {
  static const Choice<VehicleCategory> c{
      {v1::VEHICLE_CATEGORY_CAR, 32},        {v1::VEHICLE_CATEGORY_ELECTRIC_BICYCLE, 18},
      {v1::VEHICLE_CATEGORY_TRUCK, 16},      {v1::VEHICLE_CATEGORY_BUS, 3},
      {v1::VEHICLE_CATEGORY_MOTORCYCLE, 10}, {v1::VEHICLE_CATEGORY_BICYCLE, 4},
      {v1::VEHICLE_CATEGORY_PEDESTRIAN, 8},  {v1::VEHICLE_CATEGORY_AGRICULTURAL, 7},
      {v1::VEHICLE_CATEGORY_OTHER, 2}};
  return c;
}

VehicleCategory ViolationVehicle(v1::ViolationType type, Rng& rng) {
  static const Choice<VehicleCategory> kAlcohol{{v1::VEHICLE_CATEGORY_CAR, 70},
                                                {v1::VEHICLE_CATEGORY_MOTORCYCLE, 10},
                                                {v1::VEHICLE_CATEGORY_TRUCK, 10},
                                                {kTricycle, 6},
                                                {kQuadricycle, 4}};
  static const Choice<VehicleCategory> kSpeeding{{v1::VEHICLE_CATEGORY_CAR, 75},
                                                 {v1::VEHICLE_CATEGORY_TRUCK, 15},
                                                 {v1::VEHICLE_CATEGORY_BUS, 5},
                                                 {v1::VEHICLE_CATEGORY_MOTORCYCLE, 5}};
  static const Choice<VehicleCategory> kOverload{
      {v1::VEHICLE_CATEGORY_TRUCK, 85}, {v1::VEHICLE_CATEGORY_AGRICULTURAL, 10}, {kTricycle, 5}};
  static const Choice<VehicleCategory> kOverCapacity{{v1::VEHICLE_CATEGORY_BUS, 35},
                                                     {v1::VEHICLE_CATEGORY_CAR, 25},
                                                     {kTricycle, 20},
                                                     {kQuadricycle, 10},
                                                     {v1::VEHICLE_CATEGORY_AGRICULTURAL, 5},
                                                     {v1::VEHICLE_CATEGORY_MOTORCYCLE, 5}};
  static const Choice<VehicleCategory> kFatigue{{v1::VEHICLE_CATEGORY_TRUCK, 60},
                                                {v1::VEHICLE_CATEGORY_BUS, 30},
                                                {v1::VEHICLE_CATEGORY_CAR, 10}};
  static const Choice<VehicleCategory> kOther{{v1::VEHICLE_CATEGORY_CAR, 50},
                                              {v1::VEHICLE_CATEGORY_ELECTRIC_BICYCLE, 20},
                                              {v1::VEHICLE_CATEGORY_MOTORCYCLE, 10},
                                              {v1::VEHICLE_CATEGORY_TRUCK, 10},
                                              {kTricycle, 5},
                                              {kQuadricycle, 5}};
  switch (type) {
    case v1::VIOLATION_TYPE_DRINK_DRIVING:
    case v1::VIOLATION_TYPE_DRUNK_DRIVING:
    case v1::VIOLATION_TYPE_ALCOHOL:
      return kAlcohol.Pick(rng);
    case v1::VIOLATION_TYPE_SPEEDING:
      return kSpeeding.Pick(rng);
    case v1::VIOLATION_TYPE_OVERLOAD:
      return kOverload.Pick(rng);
    case v1::VIOLATION_TYPE_OVER_CAPACITY:
      return kOverCapacity.Pick(rng);
    case v1::VIOLATION_TYPE_FATIGUE:
      return kFatigue.Pick(rng);
    case v1::VIOLATION_TYPE_OTHER:
    case v1::VIOLATION_TYPE_UNSPECIFIED:
    default:
      return kOther.Pick(rng);
  }
}

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t ns = absl::ToUnixNanos(t);
  int64_t s = ns / 1'000'000'000;
  int64_t n = ns % 1'000'000'000;
  if (n < 0) {
    n += 1'000'000'000;
    --s;
  }
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>(n));
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// Severity by the deaths of the (revision of the) accident: 3+ deaths 特大,
// 1-2 重大, else 一般 for ordinary-procedure accidents; the others are 轻微.
v1::Severity SeverityOf(int32_t deaths, v1::Handling handling) {
  if (handling != v1::HANDLING_ORDINARY_PROCEDURE) return v1::SEVERITY_MINOR;
  if (deaths >= 3) return v1::SEVERITY_CATASTROPHIC;
  if (deaths >= 1) return v1::SEVERITY_SERIOUS;
  return v1::SEVERITY_GENERAL;
}

// Where one event can be placed: a counting unit.
struct Placement {
  const Region* county = nullptr;
  const Region* township = nullptr;  // nullptr: the county-level unit itself
  bool main_urban = false;           // of the counting unit (region table)
  double lat = 0;
  double lon = 0;
};

// One record of the history, in emission order after sorting.
struct Record {
  int64_t emit_ms = 0;  // record time: reported_at, or when a duplicate is re-sent
  uint64_t seq = 0;     // creation order, breaks ties
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  int reject = -1;  // RejectReason of a bad record, -1 for valid input
  std::string key;
  std::string value;
};

// A live record waiting for its time.
struct Pending {
  int64_t due_ms;
  uint64_t seq;
  v1::EventKind kind;
  int reject;
  std::string key;
  std::string value;
  bool operator>(const Pending& o) const {
    return std::tie(due_ms, seq) > std::tie(o.due_ms, o.seq);
  }
};

// Accident categories (also the live mix).
enum class AccidentGroup { kE3E4MainUrban, kE3E4Elsewhere, kOrdinary };

// Which kinds of record can carry a reject reason: 1 incidents, 2 violations,
// 3 both, 0 none.
int BadKinds(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNegativeCount:
    case RejectReason::kHandlingContradiction:
      return 1;
    case RejectReason::kAlcoholContradiction:
    case RejectReason::kMissingBloodAlcohol:
      return 2;
    case RejectReason::kNotProtobuf:
    case RejectReason::kTruncated:
    case RejectReason::kEmptyId:
    case RejectReason::kMissingTime:
    case RejectReason::kUnknownRegion:
    case RejectReason::kMainUrbanMismatch:
    case RejectReason::kAbsurdCount:
    case RejectReason::kMissingField:
    case RejectReason::kFutureTime:
    case RejectReason::kReportedBeforeOccurred:
    case RejectReason::kTooLate:
      return 3;
  }
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Metrics of one event, by the definitions in processors/metrics.h.

MetricValues IncidentMetrics(const v1::IncidentEvent& e) {
  MetricValues m{};
  const bool ordinary = e.handling() == v1::HANDLING_ORDINARY_PROCEDURE;
  bool e3e4 = false;
  for (int v : e.vehicles()) {
    if (v == kTricycle || v == kQuadricycle) e3e4 = true;
  }
  At(m, Metric::kDeaths) = e.deaths();
  At(m, Metric::kInjuries) = e.injuries();
  At(m, Metric::kPropertyLossYuan) = e.property_loss_yuan();
  if (ordinary) {
    At(m, Metric::kAccidents) = 1;
    if (e3e4) {
      At(m, Metric::kE3E4Accidents) = 1;
      At(m, Metric::kE3E4Deaths) = e.deaths();
      At(m, Metric::kE3E4Injuries) = e.injuries();
    }
    if (e.alcohol_involved()) At(m, Metric::kAlcoholAccidents) = 1;
    if (e.location().road_class() == v1::ROAD_CLASS_TOWNSHIP_VILLAGE) {
      At(m, Metric::kRuralAccidents) = 1;
    }
  } else {
    At(m, Metric::kMinorAccidents) = 1;
    if (e.handling() == v1::HANDLING_VIDEO_QUICK) At(m, Metric::kVideoHandled) = 1;
  }
  return m;
}

MetricValues ViolationMetrics(const v1::ViolationEvent& e) {
  MetricValues m{};
  v1::ViolationType type = e.type();
  if (type == v1::VIOLATION_TYPE_ALCOHOL ||
      ((type == v1::VIOLATION_TYPE_DRINK_DRIVING || type == v1::VIOLATION_TYPE_DRUNK_DRIVING) &&
       e.has_blood_alcohol_mg_100ml())) {
    type = e.blood_alcohol_mg_100ml() >= 80.0 ? v1::VIOLATION_TYPE_DRUNK_DRIVING
                                              : v1::VIOLATION_TYPE_DRINK_DRIVING;
  }
  bool key = true;
  switch (type) {
    case v1::VIOLATION_TYPE_DRINK_DRIVING:
      At(m, Metric::kDrinkDriving) = 1;
      break;
    case v1::VIOLATION_TYPE_DRUNK_DRIVING:
      At(m, Metric::kDrunkDriving) = 1;
      break;
    case v1::VIOLATION_TYPE_SPEEDING:
      At(m, Metric::kSpeeding) = 1;
      break;
    case v1::VIOLATION_TYPE_OVERLOAD:
      At(m, Metric::kOverload) = 1;
      break;
    case v1::VIOLATION_TYPE_OVER_CAPACITY:
      At(m, Metric::kOverCapacity) = 1;
      break;
    case v1::VIOLATION_TYPE_FATIGUE:
      At(m, Metric::kFatigue) = 1;
      break;
    case v1::VIOLATION_TYPE_OTHER:
    case v1::VIOLATION_TYPE_ALCOHOL:
    case v1::VIOLATION_TYPE_UNSPECIFIED:
    default:
      At(m, Metric::kOtherViolations) = 1;
      key = false;
      break;
  }
  if (key) At(m, Metric::kKeyViolations) = 1;
  return m;
}

// ---------------------------------------------------------------------------
// Manifest.

Manifest::Manifest(const RegionTable& regions, std::string scenario_name, uint64_t seed,
                   std::vector<ScenarioPeriod> periods)
    : regions_(&regions),
      scenario_name_(std::move(scenario_name)),
      seed_(seed),
      periods_(std::move(periods)) {}

const std::string& Manifest::UnitOf(const v1::Location& location) const {
  return location.township_code().empty() ? location.region_code() : location.township_code();
}

absl::CivilDay Manifest::DayOf(const google::protobuf::Timestamp& t) const {
  return absl::ToCivilDay(FromProto(t), regions_->zone());
}

void Manifest::Apply(const std::string& unit, absl::CivilDay day, const MetricValues& delta,
                     int sign) {
  auto& days = counts_[unit];
  MetricValues& v = days[day];
  bool zero = true;
  for (size_t i = 0; i < kMetricCount; ++i) {
    v[i] += sign * delta[i];
    if (v[i] != 0) zero = false;
  }
  if (zero) {
    days.erase(day);
    if (days.empty()) counts_.erase(unit);
  }
}

void Manifest::AddIncident(const v1::IncidentEvent& e) {
  ++tally_.incidents;
  const std::string& unit = UnitOf(e.location());
  const absl::CivilDay day = DayOf(e.occurred_at());
  auto it = accidents_.find(e.id());
  if (it == accidents_.end()) {
    ++tally_.counted;
    Seen seen{e.revision(), unit, day, IncidentMetrics(e)};
    Apply(unit, day, seen.contribution, +1);
    accidents_.emplace(e.id(), std::move(seen));
  } else if (e.revision() > it->second.revision) {
    ++tally_.amended;
    Seen& seen = it->second;
    Apply(seen.unit, seen.day, seen.contribution, -1);
    seen = Seen{e.revision(), unit, day, IncidentMetrics(e)};
    Apply(unit, day, seen.contribution, +1);
  } else {
    ++tally_.duplicates;
  }
}

void Manifest::AddViolation(const v1::ViolationEvent& e) {
  ++tally_.violations;
  if (violations_.insert(e.id()).second) {
    ++tally_.counted;
    Apply(UnitOf(e.location()), DayOf(e.occurred_at()), ViolationMetrics(e), +1);
  } else {
    ++tally_.duplicates;
  }
}

void Manifest::AddRejected(v1::EventKind kind, RejectReason reason, const std::string& key) {
  if (kind == v1::EVENT_KIND_INCIDENT) {
    ++tally_.incidents;
  } else {
    ++tally_.violations;
  }
  ++tally_.rejected;
  std::string name(RejectReasonName(reason));
  ++tally_.rejected_by_reason[name];
  rejects_[key] = std::move(name);
}

int64_t Manifest::PeriodSum(size_t period, Metric metric, bool main_urban_only) const {
  const ScenarioPeriod& p = periods_.at(period);
  int64_t sum = 0;
  for (const auto& [unit, days] : counts_) {
    if (main_urban_only) {
      const Region* r = regions_->Find(unit);
      if (r == nullptr || !r->main_urban) continue;
    }
    for (auto it = days.lower_bound(p.start); it != days.end() && it->first < p.end; ++it) {
      sum += At(it->second, metric);
    }
  }
  return sum;
}

namespace {
nlohmann::ordered_json ChangePct(int64_t last, int64_t now, int decimals) {
  if (last == 0) return nullptr;
  const double scale = std::pow(10.0, decimals);
  double pct = static_cast<double>(now - last) / static_cast<double>(last) * 100.0;
  return std::round(pct * scale) / scale;
}
}  // namespace

nlohmann::ordered_json Manifest::ToJson() const {
  using json = nlohmann::ordered_json;
  json doc;
  doc["scenario"] = scenario_name_;
  doc["seed"] = seed_;
  doc["time_zone"] = regions_->time_zone();
  json periods = json::array();
  for (const ScenarioPeriod& p : periods_) {
    periods.push_back({{"label", p.label},
                       {"start", absl::FormatCivilTime(p.start)},
                       {"end_exclusive", absl::FormatCivilTime(p.end)}});
  }
  doc["periods"] = periods;
  doc["produced"] = {{"incidents", tally_.incidents},
                     {"violations", tally_.violations},
                     {"total", tally_.total()}};
  json by_reason = json::object();
  for (RejectReason r : AllRejectReasons()) {
    auto it = tally_.rejected_by_reason.find(std::string(RejectReasonName(r)));
    if (it != tally_.rejected_by_reason.end()) by_reason[it->first] = it->second;
  }
  doc["expected"] = {{"counted", tally_.counted},
                     {"amended", tally_.amended},
                     {"duplicates", tally_.duplicates},
                     {"rejected", tally_.rejected},
                     {"rejected_by_reason", by_reason}};

  // Summary for humans: the report's figures per period, and the change of the
  // last period on the one before.
  struct Figure {
    const char* name;
    Metric metric;
    bool main_urban;
    int decimals;
  };
  const Figure kFigures[] = {
      {"accidents", Metric::kAccidents, false, 2},
      {"deaths", Metric::kDeaths, false, 2},
      {"injuries", Metric::kInjuries, false, 2},
      {"main_urban_e3e4_accidents", Metric::kE3E4Accidents, true, 1},
      {"main_urban_e3e4_injuries", Metric::kE3E4Injuries, true, 1},
      {"key_violations", Metric::kKeyViolations, false, 2},
      {"drink_driving", Metric::kDrinkDriving, false, 2},
      {"drunk_driving", Metric::kDrunkDriving, false, 2},
      {"video_handled", Metric::kVideoHandled, false, 2},
      {"minor_accidents", Metric::kMinorAccidents, false, 2},
      {"rural_accidents", Metric::kRuralAccidents, false, 2},
  };
  json summary;
  json by_period = json::object();
  for (size_t i = 0; i < periods_.size(); ++i) {
    json fig = json::object();
    for (const Figure& f : kFigures) fig[f.name] = PeriodSum(i, f.metric, f.main_urban);
    by_period[periods_[i].label] = fig;
  }
  summary["by_period"] = by_period;
  if (periods_.size() >= 2) {
    const size_t last = periods_.size() - 2, now = periods_.size() - 1;
    json change = json::object();
    for (const Figure& f : kFigures) {
      change[f.name] = ChangePct(PeriodSum(last, f.metric, f.main_urban),
                                 PeriodSum(now, f.metric, f.main_urban), f.decimals);
    }
    summary["change_pct"] = change;
  }
  doc["summary"] = summary;

  json counts = json::object();
  for (const auto& [unit, days] : counts_) {
    json per_day = json::object();
    for (const auto& [day, values] : days) {
      json v = json::object();
      for (Metric m : AllMetrics()) {
        if (At(values, m) != 0) v[std::string(MetricName(m))] = At(values, m);
      }
      per_day[absl::FormatCivilTime(day)] = v;
    }
    counts[unit] = per_day;
  }
  doc["counts"] = counts;
  json rejects = json::object();
  for (const auto& [key, reason] : rejects_) rejects[key] = reason;
  doc["rejects"] = rejects;
  return doc;
}

// ---------------------------------------------------------------------------
// Generator internals.

struct Generator::Impl {
  Impl(const GeneratorOptions& o, const RegionTable& r)
      : options(o), scenario(o.scenario), regions(r), rng(o.seed), tz(r.zone()) {}

  const GeneratorOptions& options;
  const Scenario& scenario;
  const RegionTable& regions;
  Rng rng;
  const absl::TimeZone& tz;

  std::vector<Placement> placements;
  Picker all_places, main_urban_places, elsewhere_places;
  Picker road_main_urban, road_elsewhere;
  Picker accident_hours, violation_hours, alcohol_hours;
  Picker alcohol_form;

  std::vector<Record> records;
  size_t next_record = 0;  // first record Run has not emitted
  uint64_t next_seq = 0;

  // Per-period day choice.
  std::vector<absl::CivilDay> days;
  Picker day_picker;

  absl::Status Init();
  absl::Status BuildHistory();

  // Building blocks.
  const Placement& Place(const Picker& picker) { return placements[picker.Pick(rng)]; }
  void FillLocation(const Placement& p, v1::Location* loc);
  absl::Time Instant(const Picker& hours);
  absl::Time Clamp(absl::Time t) const { return std::min(t, options.not_after); }
  absl::Time ReportAfter(absl::Time occurred, const Range& minutes);

  v1::IncidentEvent Accident(std::string id, AccidentGroup group, int32_t deaths, int32_t injuries,
                             bool alcohol, absl::Time occurred, absl::Time reported);
  v1::IncidentEvent MinorAccident(std::string id, v1::Handling handling, absl::Time occurred,
                                  absl::Time reported);
  v1::ViolationEvent Violation(std::string id, v1::ViolationType type, absl::Time occurred,
                               absl::Time reported);
  double DrinkBac() { return static_cast<double>(rng.Between(200, 799)) / 10.0; }
  double DrunkBac() {
    const int64_t hi = static_cast<int64_t>(scenario.drunk_max * 10);
    return static_cast<double>(std::min(rng.Between(800, hi), rng.Between(800, hi))) / 10.0;
  }

  // A bad record of `reason` at record time `t`; returns false when the
  // reason cannot be made here.
  bool Bad(RejectReason reason, bool incident, const std::string& id, absl::Time t, Record* out);
  // Draws the kind of a bad record of `reason`; false when none can carry it.
  bool BadKind(RejectReason reason, bool* incident) {
    const int kinds = BadKinds(reason);
    if (kinds == 0) return false;
    *incident = kinds == 1 || (kinds == 3 && rng.Chance(0.4));
    return true;
  }

  void Add(v1::EventKind kind, std::string key, std::string value, absl::Time emit,
           int reject = -1) {
    Record r;
    r.emit_ms = absl::ToUnixMillis(emit);
    r.seq = next_seq++;
    r.kind = kind;
    r.reject = reject;
    r.key = std::move(key);
    r.value = std::move(value);
    records.push_back(std::move(r));
  }
  void AddIncident(const v1::IncidentEvent& e) {
    Add(v1::EVENT_KIND_INCIDENT, e.id(), e.SerializeAsString(), FromProto(e.reported_at()));
  }
  void AddViolation(const v1::ViolationEvent& e) {
    Add(v1::EVENT_KIND_VIOLATION, e.id(), e.SerializeAsString(), FromProto(e.reported_at()));
  }

  absl::Status SetUpDays(const ScenarioPeriod& p);
};

absl::Status Generator::Impl::Init() {
  // Every county-level unit of the table must be in the scenario, and only those.
  std::vector<const Region*> counties = regions.Counties();
  for (const Region* c : counties) {
    bool found = false;
    for (const ScenarioRegion& sr : scenario.regions) found |= sr.code == c->code;
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name,
                                                     ": region table unit ", c->code, " (",
                                                     c->name_zh, ") has no [[regions]] entry"));
    }
  }
  std::vector<double> all_w, mu_w, else_w;
  for (const ScenarioRegion& sr : scenario.regions) {
    const Region* county = regions.Find(sr.code);
    if (county == nullptr || regions.CountingUnit(sr.code, "") != county) {
      return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name, ": region ",
                                                     sr.code,
                                                     " is not a county-level unit of the table"));
    }
    auto add = [&](const Region* township, double weight) {
      Placement p;
      p.county = county;
      p.township = township;
      p.main_urban = township != nullptr ? township->main_urban : county->main_urban;
      p.lat = sr.lat;
      p.lon = sr.lon;
      placements.push_back(p);
      all_w.push_back(weight);
      mu_w.push_back(p.main_urban ? weight : 0);
      else_w.push_back(p.main_urban ? 0 : weight);
    };
    add(nullptr, sr.weight * (1 - sr.township_share));
    double tw_sum = 0;
    for (const auto& [code, w] : sr.townships) tw_sum += w;
    for (const auto& [code, w] : sr.townships) {
      const Region* t = regions.CountingUnit(sr.code, code);
      if (t == nullptr || t == county) {
        return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name, ": township ",
                                                       code, " is not a township of ", sr.code));
      }
      add(t, tw_sum > 0 ? sr.weight * sr.township_share * w / tw_sum : 0);
    }
  }
  all_places = Picker(all_w);
  main_urban_places = Picker(mu_w);
  elsewhere_places = Picker(else_w);
  if (all_places.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario ", scenario.name, ": all region weights are 0"));
  }
  for (const ScenarioPeriod& p : scenario.periods) {
    if (p.totals.e3e4_main_urban > 0 && main_urban_places.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario ", scenario.name, ": period ", p.label,
                       " has e3e4_main_urban accidents but no main-urban unit has weight"));
    }
    if ((p.totals.e3e4_elsewhere > 0) && elsewhere_places.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario ", scenario.name, ": period ", p.label,
                       " has e3e4_elsewhere accidents but every unit is main-urban"));
    }
  }
  road_main_urban = Picker(scenario.road_class_main_urban);
  road_elsewhere = Picker(scenario.road_class_elsewhere);
  accident_hours = Picker(scenario.accident_hours);
  violation_hours = Picker(scenario.violation_hours);
  alcohol_hours = Picker(scenario.alcohol_hours);
  alcohol_form = Picker(std::vector<double>{scenario.typed_with_measurement,
                                            scenario.typed_without_measurement,
                                            scenario.untyped_with_measurement});
  return absl::OkStatus();
}

absl::Status Generator::Impl::SetUpDays(const ScenarioPeriod& p) {
  days.clear();
  std::vector<double> w;
  const absl::CivilDay last_allowed =
      options.not_after == absl::InfiniteFuture() ? p.end : absl::ToCivilDay(options.not_after, tz);
  for (absl::CivilDay d = p.start; d < p.end && d <= last_allowed; ++d) {
    days.push_back(d);
    const int weekday = static_cast<int>(absl::GetWeekday(d));  // Monday = 0
    w.push_back(scenario.month_weights[d.month() - 1] * scenario.weekday_weights[weekday]);
  }
  if (days.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "period ", p.label, " (", absl::FormatCivilTime(p.start),
        ") starts after the generator's time limit ", absl::FormatTime(options.not_after)));
  }
  day_picker = Picker(w);
  if (day_picker.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("period ", p.label, ": every day has weight 0 (month/weekday weights)"));
  }
  return absl::OkStatus();
}

absl::Time Generator::Impl::Instant(const Picker& hours) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    const absl::CivilDay d = days[day_picker.Pick(rng)];
    const int h = static_cast<int>(hours.Pick(rng));
    const int m = static_cast<int>(rng.Below(60));
    const int s = static_cast<int>(rng.Below(60));
    absl::Time t = absl::FromCivil(absl::CivilSecond(d.year(), d.month(), d.day(), h, m, s), tz);
    if (t <= options.not_after) return t;
  }
  // The limit cuts into the last day and the draws kept landing after it.
  return options.not_after;
}

absl::Time Generator::Impl::ReportAfter(absl::Time occurred, const Range& minutes) {
  absl::Time t = occurred + absl::Minutes(rng.In(minutes)) + absl::Seconds(rng.Below(60)) +
                 absl::Milliseconds(rng.Below(1000));
  return std::max(occurred, Clamp(t));
}

void Generator::Impl::FillLocation(const Placement& p, v1::Location* loc) {
  loc->set_region_code(p.county->code);
  if (p.township != nullptr) loc->set_township_code(p.township->code);
  const Picker& road = p.main_urban ? road_main_urban : road_elsewhere;
  loc->set_road_class(static_cast<v1::RoadClass>(road.Pick(rng)));
  if (rng.Chance(scenario.main_urban_flag_share)) loc->set_main_urban(p.main_urban);
  if ((p.lat != 0 || p.lon != 0) && rng.Chance(scenario.coordinates_share)) {
    // Within about 8 km of the unit's centre, to 6 decimals.
    const double dlat = (rng.Real() - 0.5) * 0.15;
    const double dlon = (rng.Real() - 0.5) * 0.15;
    loc->set_latitude(std::round((p.lat + dlat) * 1e6) / 1e6);
    loc->set_longitude(std::round((p.lon + dlon) * 1e6) / 1e6);
  }
}

v1::IncidentEvent Generator::Impl::Accident(std::string id, AccidentGroup group, int32_t deaths,
                                            int32_t injuries, bool alcohol, absl::Time occurred,
                                            absl::Time reported) {
  const Placement& p = Place(group == AccidentGroup::kE3E4MainUrban   ? main_urban_places
                             : group == AccidentGroup::kE3E4Elsewhere ? elsewhere_places
                                                                      : all_places);
  v1::IncidentEvent e;
  e.set_id(std::move(id));
  e.set_revision(1);
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(reported, e.mutable_reported_at());
  FillLocation(p, e.mutable_location());
  e.set_deaths(deaths);
  e.set_injuries(injuries);
  e.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
  e.set_severity(SeverityOf(deaths, e.handling()));
  const auto& others = p.main_urban ? OtherPartyUrban() : OtherPartyRural();
  int parties = 1 + static_cast<int>(rng.Below(3));  // 1..3
  if (group != AccidentGroup::kOrdinary) {
    e.add_vehicles(rng.Chance(0.65) ? kTricycle : kQuadricycle);
    --parties;
  }
  for (int i = 0; i < parties; ++i) e.add_vehicles(others.Pick(rng));
  e.set_alcohol_involved(alcohol);
  // 1,000 to 80,000 yuan, log-uniform, to the yuan.
  e.set_property_loss_yuan(static_cast<int64_t>(std::llround(1000.0 * std::pow(80.0, rng.Real()))));
  return e;
}

v1::IncidentEvent Generator::Impl::MinorAccident(std::string id, v1::Handling handling,
                                                 absl::Time occurred, absl::Time reported) {
  const Placement& p = Place(all_places);
  v1::IncidentEvent e;
  e.set_id(std::move(id));
  e.set_revision(1);
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(reported, e.mutable_reported_at());
  FillLocation(p, e.mutable_location());
  e.set_handling(handling);
  e.set_severity(v1::SEVERITY_MINOR);
  e.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
  // Outside the main urban area a 电三/电四 may be the other party of a minor accident.
  if (!p.main_urban && rng.Chance(0.04)) {
    e.add_vehicles(rng.Chance(0.65) ? kTricycle : kQuadricycle);
  } else if (rng.Chance(0.85)) {
    e.add_vehicles(rng.Chance(0.8)
                       ? v1::VEHICLE_CATEGORY_CAR
                       : (p.main_urban ? OtherPartyUrban() : OtherPartyRural()).Pick(rng));
  }
  // 300 to 8,000 yuan, log-uniform.
  e.set_property_loss_yuan(
      static_cast<int64_t>(std::llround(300.0 * std::pow(8000.0 / 300.0, rng.Real()))));
  return e;
}

v1::ViolationEvent Generator::Impl::Violation(std::string id, v1::ViolationType type,
                                              absl::Time occurred, absl::Time reported) {
  const Placement& p = Place(all_places);
  v1::ViolationEvent e;
  e.set_id(std::move(id));
  SetTime(occurred, e.mutable_occurred_at());
  SetTime(reported, e.mutable_reported_at());
  FillLocation(p, e.mutable_location());
  e.set_vehicle(ViolationVehicle(type, rng));
  if (type == v1::VIOLATION_TYPE_DRINK_DRIVING || type == v1::VIOLATION_TYPE_DRUNK_DRIVING) {
    const bool drunk = type == v1::VIOLATION_TYPE_DRUNK_DRIVING;
    switch (alcohol_form.Pick(rng)) {
      case 0:  // typed, measured
        e.set_type(type);
        e.set_blood_alcohol_mg_100ml(drunk ? DrunkBac() : DrinkBac());
        break;
      case 1:  // typed, no measurement
        e.set_type(type);
        break;
      default:  // VIOLATION_TYPE_ALCOHOL, classified by the measurement
        e.set_type(v1::VIOLATION_TYPE_ALCOHOL);
        e.set_blood_alcohol_mg_100ml(drunk ? DrunkBac() : DrinkBac());
        break;
    }
  } else {
    e.set_type(type);
  }
  return e;
}

namespace {

// Top-level length-delimited fields of a serialized message: (payload offset, length).
std::vector<std::pair<size_t, size_t>> LengthDelimitedFields(const std::string& bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; i < bytes.size() && shift < 64; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(bytes[i++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (i < bytes.size()) {
    uint64_t tag;
    if (!varint(&tag)) break;
    switch (tag & 7) {
      case 0: {
        uint64_t v;
        if (!varint(&v)) return out;
        break;
      }
      case 1:
        i += 8;
        break;
      case 5:
        i += 4;
        break;
      case 2: {
        uint64_t len;
        if (!varint(&len)) return out;
        out.emplace_back(i, static_cast<size_t>(len));
        i += len;
        break;
      }
      default:
        return out;
    }
  }
  return out;
}

}  // namespace

bool Generator::Impl::Bad(RejectReason reason, bool incident, const std::string& id, absl::Time t,
                          Record* out) {
  // A valid event first, then one defect.
  const absl::Time occurred = t - absl::Minutes(rng.Between(5, 180));
  v1::IncidentEvent inc;
  v1::ViolationEvent vio;
  if (incident) {
    inc = rng.Chance(0.5) ? Accident(id, AccidentGroup::kOrdinary, 0,
                                     static_cast<int32_t>(rng.Between(0, 2)), false, occurred, t)
                          : MinorAccident(id, v1::HANDLING_VIDEO_QUICK, occurred, t);
  } else {
    static constexpr v1::ViolationType kTypes[] = {
        v1::VIOLATION_TYPE_SPEEDING, v1::VIOLATION_TYPE_OVERLOAD, v1::VIOLATION_TYPE_FATIGUE,
        v1::VIOLATION_TYPE_DRINK_DRIVING, v1::VIOLATION_TYPE_OTHER};
    vio = Violation(id, kTypes[rng.Below(5)], occurred, t);
  }
  v1::Location* loc = incident ? inc.mutable_location() : vio.mutable_location();
  google::protobuf::Timestamp* occ =
      incident ? inc.mutable_occurred_at() : vio.mutable_occurred_at();
  google::protobuf::Timestamp* rep =
      incident ? inc.mutable_reported_at() : vio.mutable_reported_at();
  std::string value;
  auto serialize = [&] { return incident ? inc.SerializeAsString() : vio.SerializeAsString(); };

  switch (reason) {
    case RejectReason::kNotProtobuf: {
      // 'n' (0x6e) is field 13 with wire type 6, which does not exist.
      value = "not protobuf: ";
      const int n = static_cast<int>(rng.Between(8, 40));
      for (int i = 0; i < n; ++i) value.push_back(static_cast<char>(rng.Below(256)));
      break;
    }
    case RejectReason::kTruncated: {
      value = serialize();
      std::vector<std::pair<size_t, size_t>> fields = LengthDelimitedFields(value);
      fields.erase(
          std::remove_if(fields.begin(), fields.end(), [](const auto& f) { return f.second < 2; }),
          fields.end());
      if (fields.empty()) return false;
      const auto [start, len] = fields[rng.Below(fields.size())];
      // Strictly inside the payload: at least one byte of it kept, one missing.
      value.resize(start + 1 + rng.Below(len - 1));
      break;
    }
    case RejectReason::kEmptyId:
      if (incident) {
        inc.clear_id();
      } else {
        vio.clear_id();
      }
      value = serialize();
      break;
    case RejectReason::kMissingTime:
      if (rng.Chance(0.6)) {
        incident ? inc.clear_occurred_at() : vio.clear_occurred_at();
      } else {
        incident ? inc.clear_reported_at() : vio.clear_reported_at();
      }
      value = serialize();
      break;
    case RejectReason::kUnknownRegion:
      loc->clear_main_urban();
      if (rng.Chance(0.75)) {
        loc->set_region_code("999999");
        loc->clear_township_code();
      } else {
        loc->set_township_code(loc->region_code() + "999");
      }
      value = serialize();
      break;
    case RejectReason::kMainUrbanMismatch: {
      const Region* unit = regions.CountingUnit(loc->region_code(), loc->township_code());
      loc->set_main_urban(!unit->main_urban);
      value = serialize();
      break;
    }
    case RejectReason::kNegativeCount:
      inc.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
      inc.set_severity(v1::SEVERITY_GENERAL);
      switch (rng.Below(3)) {
        case 0:
          inc.set_deaths(-1);
          break;
        case 1:
          inc.set_injuries(-static_cast<int32_t>(rng.Between(1, 3)));
          break;
        default:
          inc.set_property_loss_yuan(-rng.Between(100, 5000));
          break;
      }
      value = serialize();
      break;
    case RejectReason::kAbsurdCount:
      if (incident) {
        inc.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
        inc.set_severity(v1::SEVERITY_CATASTROPHIC);
        if (rng.Chance(0.5)) {
          inc.set_deaths(100000);
        } else {
          inc.set_injuries(100000);
        }
      } else {
        vio.set_type(v1::VIOLATION_TYPE_DRUNK_DRIVING);
        vio.set_blood_alcohol_mg_100ml(5000.0);
      }
      value = serialize();
      break;
    case RejectReason::kAlcoholContradiction:
      if (rng.Chance(0.5)) {
        vio.set_type(v1::VIOLATION_TYPE_DRUNK_DRIVING);
        vio.set_blood_alcohol_mg_100ml(30.0);
      } else {
        vio.set_type(v1::VIOLATION_TYPE_DRINK_DRIVING);
        vio.set_blood_alcohol_mg_100ml(120.0);
      }
      value = serialize();
      break;
    case RejectReason::kMissingBloodAlcohol:
      vio.set_type(v1::VIOLATION_TYPE_ALCOHOL);
      vio.clear_blood_alcohol_mg_100ml();
      value = serialize();
      break;
    case RejectReason::kHandlingContradiction:
      inc.set_handling(v1::HANDLING_VIDEO_QUICK);
      inc.set_severity(v1::SEVERITY_MINOR);
      inc.set_deaths(static_cast<int32_t>(rng.Between(1, 2)));
      value = serialize();
      break;
    case RejectReason::kMissingField:
      // The handling (or the type) unspecified; severity left alone, since
      // whether an unspecified severity is refused is the worker's choice.
      if (incident) {
        inc.set_handling(v1::HANDLING_UNSPECIFIED);
        inc.set_deaths(0);
      } else {
        vio.set_type(v1::VIOLATION_TYPE_UNSPECIFIED);
        vio.clear_blood_alcohol_mg_100ml();
      }
      value = serialize();
      break;
    case RejectReason::kFutureTime: {
      // occurred_at far in the future (2099), reported a little after it.
      const absl::Time future =
          absl::FromCivil(absl::CivilSecond(2099, 1 + rng.Below(12), 1 + rng.Below(28),
                                            rng.Below(24), rng.Below(60), 0),
                          tz);
      SetTime(future, occ);
      SetTime(future + absl::Minutes(rng.Between(5, 120)), rep);
      value = serialize();
      break;
    }
    case RejectReason::kReportedBeforeOccurred:
      SetTime(occurred - absl::Seconds(rng.Between(3600, 2 * 86400)), rep);
      value = serialize();
      break;
    case RejectReason::kTooLate:
      // Occurred more than two years before the record: beyond any retention
      // horizon of the worker (400 days by default).
      SetTime(occurred - absl::Hours(24 * rng.Between(800, 900)), occ);
      value = serialize();
      break;
    default:
      return false;
  }
  out->emit_ms = absl::ToUnixMillis(t);
  out->kind = incident ? v1::EVENT_KIND_INCIDENT : v1::EVENT_KIND_VIOLATION;
  out->reject = static_cast<int>(reason);
  out->key = id;
  out->value = std::move(value);
  return true;
}

absl::Status Generator::Impl::BuildHistory() {
  for (size_t pi = 0; pi < scenario.periods.size(); ++pi) {
    const ScenarioPeriod& period = scenario.periods[pi];
    const PeriodTotals& t = period.totals;
    absl::Status st = SetUpDays(period);
    if (!st.ok()) return st;
    const size_t first_record = records.size();
    int64_t next_incident = 1, next_violation = 1;
    auto incident_id = [&] { return absl::StrFormat("A-%s-%07d", period.label, next_incident++); };
    auto violation_id = [&] {
      return absl::StrFormat("V-%s-%07d", period.label, next_violation++);
    };

    // Ordinary accidents: group sizes, then deaths and injuries spread so the
    // totals are exact.
    const uint32_t n = static_cast<uint32_t>(t.ordinary);
    const uint32_t n_mu = static_cast<uint32_t>(t.e3e4_main_urban);
    const uint32_t n_else = static_cast<uint32_t>(t.e3e4_elsewhere);
    std::vector<int32_t> deaths(n, 0), injuries(n, 0);
    std::vector<bool> alcohol(n, false);
    for (int64_t k = 0; k < t.deaths; ++k) ++deaths[rng.Below(n)];
    for (int64_t k = 0; k < t.e3e4_main_urban_injuries; ++k) ++injuries[rng.Below(n_mu)];
    for (int64_t k = 0; k < t.injuries - t.e3e4_main_urban_injuries; ++k) {
      ++injuries[n_mu + rng.Below(n - n_mu)];
    }
    for (uint32_t i : rng.Sample(n, static_cast<uint32_t>(t.alcohol_involved))) alcohol[i] = true;
    for (uint32_t i = 0; i < n; ++i) {
      const AccidentGroup group = i < n_mu            ? AccidentGroup::kE3E4MainUrban
                                  : i < n_mu + n_else ? AccidentGroup::kE3E4Elsewhere
                                                      : AccidentGroup::kOrdinary;
      const absl::Time occurred = Instant(alcohol[i] ? alcohol_hours : accident_hours);
      const absl::Time reported = ReportAfter(occurred, scenario.accident_report_min);
      v1::IncidentEvent e =
          Accident(incident_id(), group, deaths[i], injuries[i], alcohol[i], occurred, reported);
      if (deaths[i] > 0 && rng.Chance(scenario.amendment_share)) {
        // Revision 1: one of the deaths still an injury. Revision 2, days later: final.
        v1::IncidentEvent first = e;
        first.set_deaths(e.deaths() - 1);
        first.set_injuries(e.injuries() + 1);
        first.set_severity(SeverityOf(first.deaths(), first.handling()));
        AddIncident(first);
        e.set_revision(2);
        const absl::Time amended = reported +
                                   absl::Hours(24 * rng.In(scenario.amendment_delay_days)) +
                                   absl::Seconds(rng.Below(86400));
        SetTime(std::max(reported, Clamp(amended)), e.mutable_reported_at());
      }
      AddIncident(e);
    }

    // Minor accidents, no casualties.
    const std::pair<v1::Handling, int64_t> minors[] = {
        {v1::HANDLING_VIDEO_QUICK, t.video_quick},
        {v1::HANDLING_SIMPLE_PROCEDURE, t.simple_procedure},
        {v1::HANDLING_ON_SITE, t.on_site}};
    for (const auto& [handling, count] : minors) {
      for (int64_t k = 0; k < count; ++k) {
        const absl::Time occurred = Instant(accident_hours);
        const absl::Time reported = ReportAfter(occurred, scenario.accident_report_min);
        AddIncident(MinorAccident(incident_id(), handling, occurred, reported));
      }
    }

    // Violations.
    const std::pair<v1::ViolationType, int64_t> violations[] = {
        {v1::VIOLATION_TYPE_DRINK_DRIVING, t.drink_driving},
        {v1::VIOLATION_TYPE_DRUNK_DRIVING, t.drunk_driving},
        {v1::VIOLATION_TYPE_SPEEDING, t.speeding},
        {v1::VIOLATION_TYPE_OVERLOAD, t.overload},
        {v1::VIOLATION_TYPE_OVER_CAPACITY, t.over_capacity},
        {v1::VIOLATION_TYPE_FATIGUE, t.fatigue},
        {v1::VIOLATION_TYPE_OTHER, t.other_violations}};
    for (const auto& [type, count] : violations) {
      const bool drinking =
          type == v1::VIOLATION_TYPE_DRINK_DRIVING || type == v1::VIOLATION_TYPE_DRUNK_DRIVING;
      for (int64_t k = 0; k < count; ++k) {
        const absl::Time occurred = Instant(drinking ? alcohol_hours : violation_hours);
        const absl::Time reported = ReportAfter(occurred, scenario.violation_report_min);
        AddViolation(Violation(violation_id(), type, occurred, reported));
      }
    }

    // Duplicates of this period's valid records: byte-identical, re-sent later.
    const size_t valid_end = records.size();
    for (size_t i = first_record; i < valid_end; ++i) {
      if (!rng.Chance(scenario.duplicate_share)) continue;
      const Record& orig = records[i];
      const int64_t delay_ms =
          rng.In(scenario.duplicate_delay_s) * 1000 + static_cast<int64_t>(rng.Below(1000));
      const absl::Time emit = std::max(absl::FromUnixMillis(orig.emit_ms),
                                       Clamp(absl::FromUnixMillis(orig.emit_ms + delay_ms)));
      Add(orig.kind, orig.key, orig.value, emit);
    }

    // Bad records: at least bad_min_per_reason of each, the rest by weight.
    double weight_sum = 0;
    for (const auto& [reason, w] : scenario.bad_reasons) weight_sum += w;
    const int64_t n_bad =
        std::llround(scenario.bad_share * static_cast<double>(valid_end - first_record));
    const absl::Time period_start = absl::FromCivil(period.start, tz);
    for (const auto& [reason, w] : scenario.bad_reasons) {
      const int64_t count = std::max<int64_t>(
          scenario.bad_min_per_reason,
          static_cast<int64_t>(std::floor(static_cast<double>(n_bad) * w / weight_sum)));
      for (int64_t k = 0; k < count; ++k) {
        absl::Time t;
        int attempts = 0;
        do {
          t = ReportAfter(Instant(violation_hours), scenario.violation_report_min);
          // A too-late record needs a month of newer events before it, so
          // that every partition has seen them.
        } while (reason == RejectReason::kTooLate && t < period_start + absl::Hours(24 * 30) &&
                 ++attempts < 100);
        if (reason == RejectReason::kTooLate && t < period_start + absl::Hours(24 * 30)) break;
        bool incident;
        if (!BadKind(reason, &incident)) break;
        Record r;
        if (!Bad(reason, incident, incident ? incident_id() : violation_id(), t, &r)) continue;
        r.seq = next_seq++;
        records.push_back(std::move(r));
      }
    }
  }
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return a.emit_ms != b.emit_ms ? a.emit_ms < b.emit_ms : a.seq < b.seq;
  });
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Generator.

Generator::Generator(GeneratorOptions options, const RegionTable& regions)
    : options_(std::move(options)),
      regions_(regions),
      manifest_(regions, options_.scenario.name, options_.seed, options_.scenario.periods) {}

Generator::~Generator() = default;

absl::StatusOr<std::unique_ptr<Generator>> Generator::Create(GeneratorOptions options,
                                                             const RegionTable& regions) {
  if (options.rate < 0 || !std::isfinite(options.rate)) {
    return absl::InvalidArgumentError(absl::StrCat("rate ", options.rate, ": must be >= 0"));
  }
  if (options.live_rate < 0 || !std::isfinite(options.live_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("live rate ", options.live_rate, ": must be >= 0"));
  }
  if (options.scenario.periods.empty()) {
    return absl::InvalidArgumentError("scenario has no periods");
  }
  std::unique_ptr<Generator> g(new Generator(std::move(options), regions));
  g->impl_ = std::make_unique<Impl>(g->options_, regions);
  absl::Status st = g->impl_->Init();
  if (!st.ok()) return st;
  st = g->impl_->BuildHistory();
  if (!st.ok()) return st;
  return g;
}

size_t Generator::history_size() const { return impl_->records.size(); }

Manifest Generator::ManifestSnapshot() const {
  absl::MutexLock lock(&mu_);
  return manifest_;
}

absl::Status Generator::Emit(EventWriter& writer, v1::EventKind kind, int reject,
                             const std::string& key, const std::string& value,
                             int64_t timestamp_ms) {
  absl::Status st = writer.Write(kind, key, value, timestamp_ms);
  if (!st.ok()) return st;
  emitted_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  if (reject >= 0) {
    manifest_.AddRejected(kind, static_cast<RejectReason>(reject), key);
  } else if (kind == v1::EVENT_KIND_INCIDENT) {
    incident_.ParseFromString(value);
    manifest_.AddIncident(incident_);
  } else {
    violation_.ParseFromString(value);
    manifest_.AddViolation(violation_);
  }
  return absl::OkStatus();
}

absl::Status Generator::Run(EventWriter& writer, const std::atomic<bool>& stop) {
  std::vector<Record>& records = impl_->records;
  size_t limit = records.size();
  if (options_.max_events >= 0) {
    limit = std::min(limit, static_cast<size_t>(options_.max_events));
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = impl_->next_record; i < limit; ++i) {
    if (stop.load(std::memory_order_relaxed)) break;
    if (options_.rate > 0) {
      const auto due =
          start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i - impl_->next_record) /
                                                    options_.rate));
      std::this_thread::sleep_until(due);
    }
    const Record& r = records[i];
    absl::Status st = Emit(writer, r.kind, r.reject, r.key, r.value, r.emit_ms);
    if (!st.ok()) return st;
    if ((i + 1) % 100000 == 0) spdlog::debug("generate: {} of {} records written", i + 1, limit);
  }
  impl_->next_record = limit;
  return writer.Flush();
}

absl::Status Generator::RunLive(EventWriter& writer, const std::atomic<bool>& stop) {
  Impl& im = *impl_;
  Rng& rng = im.rng;
  const Scenario& s = options_.scenario;
  const PeriodTotals& t = s.periods.back().totals;
  const double rate = options_.live_rate > 0 ? options_.live_rate : s.live_rate;

  // The mix of one live event, weighted like this year's period.
  enum Kind { kOrdinary, kE3E4, kVideo, kSimple, kOnSite, kViolation, kBad };
  const double valid =
      static_cast<double>(t.ordinary + t.MinorAccidents() + t.KeyViolations() + t.other_violations);
  Picker kind_picker(std::vector<double>{
      static_cast<double>(t.ordinary - t.e3e4_main_urban - t.e3e4_elsewhere),
      static_cast<double>(t.e3e4_elsewhere), static_cast<double>(t.video_quick),
      static_cast<double>(t.simple_procedure), static_cast<double>(t.on_site),
      static_cast<double>(t.KeyViolations() + t.other_violations), s.bad_share * valid});
  const std::pair<v1::ViolationType, int64_t> vtypes[] = {
      {v1::VIOLATION_TYPE_DRINK_DRIVING, t.drink_driving},
      {v1::VIOLATION_TYPE_DRUNK_DRIVING, t.drunk_driving},
      {v1::VIOLATION_TYPE_SPEEDING, t.speeding},
      {v1::VIOLATION_TYPE_OVERLOAD, t.overload},
      {v1::VIOLATION_TYPE_OVER_CAPACITY, t.over_capacity},
      {v1::VIOLATION_TYPE_FATIGUE, t.fatigue},
      {v1::VIOLATION_TYPE_OTHER, t.other_violations}};
  std::vector<double> vw;
  for (const auto& [type, count] : vtypes) vw.push_back(static_cast<double>(count));
  Picker vtype_picker(vw);
  std::vector<double> bw;
  std::vector<RejectReason> live_reasons;
  for (const auto& [reason, w] : s.bad_reasons) {
    if (reason == RejectReason::kTooLate) continue;  // needs old events on every partition
    live_reasons.push_back(reason);
    bw.push_back(w);
  }
  Picker reason_picker(bw);
  // Casualties: geometric counts with this year's mean per ordinary accident.
  const double mean_deaths =
      t.ordinary > 0 ? static_cast<double>(t.deaths) / static_cast<double>(t.ordinary) : 0;
  const double mean_injuries =
      t.ordinary > 0 ? static_cast<double>(t.injuries) / static_cast<double>(t.ordinary) : 0;
  auto geometric = [&](double mean, int cap) {
    const double p = mean / (1 + mean);
    int32_t k = 0;
    while (k < cap && rng.Chance(p)) ++k;
    return k;
  };

  // Every instant of the live stream is real time: occurred a little before
  // now, reported now. Ids carry the start second so that runs do not collide.
  const int64_t run_id = absl::ToUnixSeconds(absl::Now());
  int64_t next_id = 1;
  auto live_id = [&](char prefix) {
    return absl::StrFormat("%c-live-%d-%07d", prefix, run_id, next_id++);
  };
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> pending;
  uint64_t seq = 0;

  const auto start = std::chrono::steady_clock::now();
  for (int64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
    const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(n) / rate));
    // Sleep in slices so that stop is noticed quickly.
    while (std::chrono::steady_clock::now() < due && !stop.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_until(
          std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    }
    if (stop.load(std::memory_order_relaxed)) break;
    const absl::Time now = absl::Now();
    const int64_t now_ms = absl::ToUnixMillis(now);
    while (!pending.empty() && pending.top().due_ms <= now_ms) {
      const Pending& p = pending.top();
      absl::Status st = Emit(writer, p.kind, p.reject, p.key, p.value, now_ms);
      if (!st.ok()) return st;
      pending.pop();
    }
    const absl::Time occurred = now - absl::Seconds(rng.Between(30, 1800));
    const size_t kind = kind_picker.Pick(rng);
    v1::EventKind ek = v1::EVENT_KIND_INCIDENT;
    int reject = -1;
    std::string key, value;
    if (kind == kOrdinary || kind == kE3E4) {
      const int32_t deaths = geometric(mean_deaths, 5);
      const int32_t injuries = geometric(mean_injuries, 10);
      const bool alcohol = rng.Chance(t.ordinary > 0 ? static_cast<double>(t.alcohol_involved) /
                                                           static_cast<double>(t.ordinary)
                                                     : 0);
      v1::IncidentEvent e = im.Accident(
          live_id('A'), kind == kE3E4 ? AccidentGroup::kE3E4Elsewhere : AccidentGroup::kOrdinary,
          deaths, injuries, alcohol, occurred, now);
      if (deaths > 0 && rng.Chance(s.amendment_share)) {
        v1::IncidentEvent final_rev = e;
        e.set_deaths(deaths - 1);
        e.set_injuries(injuries + 1);
        e.set_severity(SeverityOf(e.deaths(), e.handling()));
        final_rev.set_revision(2);
        const absl::Time when = now + absl::Seconds(rng.In(s.live_amendment_delay_s));
        SetTime(when, final_rev.mutable_reported_at());
        pending.push(Pending{absl::ToUnixMillis(when), seq++, v1::EVENT_KIND_INCIDENT, -1,
                             final_rev.id(), final_rev.SerializeAsString()});
      }
      key = e.id();
      value = e.SerializeAsString();
    } else if (kind == kVideo || kind == kSimple || kind == kOnSite) {
      const v1::Handling h = kind == kVideo    ? v1::HANDLING_VIDEO_QUICK
                             : kind == kSimple ? v1::HANDLING_SIMPLE_PROCEDURE
                                               : v1::HANDLING_ON_SITE;
      v1::IncidentEvent e = im.MinorAccident(live_id('A'), h, occurred, now);
      key = e.id();
      value = e.SerializeAsString();
    } else if (kind == kViolation) {
      v1::ViolationEvent e =
          im.Violation(live_id('V'), vtypes[vtype_picker.Pick(rng)].first, occurred, now);
      ek = v1::EVENT_KIND_VIOLATION;
      key = e.id();
      value = e.SerializeAsString();
    } else {
      if (live_reasons.empty()) continue;
      Record r;
      const RejectReason reason = live_reasons[reason_picker.Pick(rng)];
      bool incident;
      if (!im.BadKind(reason, &incident)) continue;
      if (!im.Bad(reason, incident, live_id(incident ? 'A' : 'V'), now, &r)) continue;
      ek = r.kind;
      reject = r.reject;
      key = std::move(r.key);
      value = std::move(r.value);
    }
    if (reject < 0 && rng.Chance(s.duplicate_share)) {
      pending.push(Pending{now_ms + 1000 * rng.Between(1, 30), seq++, ek, -1, key, value});
    }
    absl::Status st = Emit(writer, ek, reject, key, value, now_ms);
    if (!st.ok()) return st;
  }
  return writer.Flush();
}

}  // namespace roadpulse
