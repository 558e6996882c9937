// A generator scenario: the periods, their absolute totals, what is mixed in,
// and where and when events happen. Loaded from a TOML file
// (deploy/config/scenarios/<name>.toml); the numbers live there, not in code.
#ifndef ROADPULSE_APP_SCENARIO_H_
#define ROADPULSE_APP_SCENARIO_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "processors/reject_reason.h"

namespace roadpulse {

// Final-state totals of one period (newest revision of every accident).
struct PeriodTotals {
  // Accidents.
  int64_t ordinary = 0;                  // ordinary-procedure accidents (`accidents`)
  int64_t deaths = 0;                    // deaths, all in ordinary accidents
  int64_t injuries = 0;                  // injuries, all in ordinary accidents
  int64_t alcohol_involved = 0;          // ordinary accidents with alcohol involved
  int64_t e3e4_main_urban = 0;           // ordinary 电三电四 accidents in main-urban units
  int64_t e3e4_main_urban_injuries = 0;  // their injuries
  int64_t e3e4_elsewhere = 0;    // ordinary 电三电四 accidents outside the main urban area
  int64_t video_quick = 0;       // video quick handling (no casualties)
  int64_t simple_procedure = 0;  // simple procedure (no casualties)
  int64_t on_site = 0;           // settled on site (no casualties)
  // Violations.
  int64_t drink_driving = 0;
  int64_t drunk_driving = 0;
  int64_t speeding = 0;
  int64_t overload = 0;
  int64_t over_capacity = 0;
  int64_t fatigue = 0;
  int64_t other_violations = 0;

  int64_t KeyViolations() const {
    return drink_driving + drunk_driving + speeding + overload + over_capacity + fatigue;
  }
  int64_t MinorAccidents() const { return video_quick + simple_procedure + on_site; }
};

// A period: local days [start, end).
struct ScenarioPeriod {
  std::string label;  // "2024"
  absl::CivilDay start;
  absl::CivilDay end;  // exclusive
  PeriodTotals totals;
};

// A county-level unit where events happen.
struct ScenarioRegion {
  std::string code;
  double weight = 0;
  double township_share = 0;  // share of the unit's events placed in a township
  std::vector<std::pair<std::string, double>> townships;  // code, weight
  double lat = 0;
  double lon = 0;
};

struct Range {
  int64_t min = 0;
  int64_t max = 0;  // inclusive
};

struct Scenario {
  std::string name;
  std::string description;
  double main_urban_flag_share = 0.6;
  double coordinates_share = 0.8;
  std::vector<ScenarioPeriod> periods;  // in time order; the last is "this year"

  // Mix.
  double amendment_share = 0.05;
  Range amendment_delay_days{1, 7};
  double duplicate_share = 0.01;
  Range duplicate_delay_s{1, 7200};
  double bad_share = 0.005;
  int64_t bad_min_per_reason = 4;
  // Weight per reject reason; reasons not listed are not generated.
  std::vector<std::pair<RejectReason, double>> bad_reasons;

  // Alcohol record forms (shares, normalised).
  double typed_with_measurement = 0.6;
  double typed_without_measurement = 0.15;
  double untyped_with_measurement = 0.25;
  double drunk_max = 300.0;

  Range accident_report_min{5, 240};
  Range violation_report_min{1, 2880};

  std::array<double, 12> month_weights{};
  std::array<double, 7> weekday_weights{};  // Monday first
  std::array<double, 24> accident_hours{};
  std::array<double, 24> violation_hours{};
  std::array<double, 24> alcohol_hours{};

  // Road class weights, indexed by roadpulse.v1.RoadClass value (0 unused).
  std::array<double, 8> road_class_main_urban{};
  std::array<double, 8> road_class_elsewhere{};

  std::vector<ScenarioRegion> regions;

  double live_rate = 20.0;  // events per second
  Range live_amendment_delay_s{20, 120};

  // Moves the periods: with `this_year`, every period is shifted by whole
  // years so that the last one starts in that year; with `through`, every
  // period ends (inclusive) on through's month and day in its own year, and
  // this_year defaults to through's year. kInvalidArgument names the flag
  // when through is before the start of the last period or its year is not
  // this_year.
  absl::Status MovePeriods(std::optional<int> this_year, std::optional<absl::CivilDay> through);
  // Multiplies every total of every period by `factor`: about `factor` times
  // the records, with the same year-over-year changes, exactly (a load test
  // at a multiple of a real city's volume). kInvalidArgument unless
  // 1 <= factor <= kMaxScale.
  static constexpr int64_t kMaxScale = 100;
  absl::Status Scale(int64_t factor);
};

// Parses a scenario. Errors (kNotFound, kInvalidArgument) name the file and
// the key at fault; totals are checked for consistency (key_violations equals
// the sum of its parts, casualties fit the accidents, ...).
absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path);
absl::StatusOr<Scenario> LoadScenarioString(std::string_view toml, std::string_view source_name);

// Default locations of the shipped configuration: $ROADPULSE_CONFIG_DIR when
// set, else the source tree's deploy/config (compile definition).
std::string DefaultConfigDir();
std::string DefaultScenarioPath(std::string_view scenario_name);  // <dir>/scenarios/<name>.toml
std::string DefaultRegionTablePath();                             // <dir>/regions/binzhou.toml

}  // namespace roadpulse

#endif  // ROADPULSE_APP_SCENARIO_H_
