// The synthetic event generator behind `roadpulse generate` and the demo.
//
// A Generator builds a scenario's whole history in memory (deterministic for
// a seed: the same options give byte-identical records), then writes it to an
// EventWriter in order of record time; optionally it goes on "live",
// producing events stamped with the current time until asked to stop. While
// writing it keeps a Manifest, the ground truth of what it emitted, computed
// independently of processors/*.cc.
//
// Usage (the demo):
//   absl::StatusOr<std::unique_ptr<Generator>> gen = Generator::Create(options, regions);
//   KafkaEventWriter writer(*producer);                 // or a FileEventWriter
//   absl::Status st = (*gen)->Run(writer, stop);          // the history, fast (~1 s to build)
//   st = (*gen)->RunLive(writer, stop);                   // events stamped now, until `stop`
//   nlohmann::ordered_json truth = (*gen)->ManifestSnapshot().ToJson();
#ifndef ROADPULSE_APP_GENERATOR_H_
#define ROADPULSE_APP_GENERATOR_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "app/event_writer.h"
#include "app/scenario.h"
#include "nlohmann/json.hpp"
#include "processors/metrics.h"
#include "processors/region_table.h"
#include "processors/reject_reason.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {

struct GeneratorOptions {
  // Seed of the std::mt19937_64 behind every random choice.
  uint64_t seed = 1;
  // The scenario, periods already moved (Scenario::MovePeriods).
  Scenario scenario;
  // Run() emits at most this many records; < 0: the whole history.
  int64_t max_events = -1;
  // Run() emits this many records per second; 0: as fast as the writer takes them.
  double rate = 0;
  // No instant of the history (occurred_at, reported_at, record time) is later
  // than this; events that would be are drawn again within the limit. The demo
  // passes absl::Now() so that "this year" ends now. Changes the output when
  // it cuts into a period.
  absl::Time not_after = absl::InfiniteFuture();
  // RunLive() rate, events per second; 0: the scenario's live.rate.
  double live_rate = 0;
};

// Ground truth of what a generator emitted. Not thread-safe (the Generator
// guards its own).
class Manifest {
 public:
  // `regions` must outlive this object.
  Manifest(const RegionTable& regions, std::string scenario_name, uint64_t seed,
           std::vector<ScenarioPeriod> periods);

  // A record that is valid input, with its decoded event.
  void AddIncident(const v1::IncidentEvent& event);
  void AddViolation(const v1::ViolationEvent& event);
  // A deliberately bad record (never counted), with its key.
  void AddRejected(v1::EventKind kind, RejectReason reason, const std::string& key);

  struct Tally {
    int64_t incidents = 0;   // records produced to roadpulse.incidents
    int64_t violations = 0;  // records produced to roadpulse.violations
    int64_t counted = 0;     // first sight of an id
    int64_t amended = 0;     // a higher revision of a counted accident
    int64_t duplicates = 0;  // same/older revision, or a violation id again
    int64_t rejected = 0;
    std::map<std::string, int64_t> rejected_by_reason;  // reason name -> records
    int64_t total() const { return incidents + violations; }
  };
  const Tally& tally() const { return tally_; }

  // Counts per counting unit (township when given, else county-level code)
  // and local day of occurred_at, newest revision of every accident.
  using Counts = std::map<std::string, std::map<absl::CivilDay, MetricValues>>;
  const Counts& counts() const { return counts_; }
  // Keys of the bad records and their reasons.
  const std::map<std::string, std::string>& rejects() const { return rejects_; }

  // Per period: the sum of `metric` over all units, or over the main-urban
  // units only, for local days in [period.start, period.end).
  int64_t PeriodSum(size_t period, Metric metric, bool main_urban_only = false) const;
  const std::vector<ScenarioPeriod>& periods() const { return periods_; }

  // The manifest document: scenario, seed, time_zone, periods, produced,
  // expected, summary, counts (non-zero metrics only), rejects.
  nlohmann::ordered_json ToJson() const;

 private:
  struct Seen {
    uint32_t revision = 0;
    std::string unit;
    absl::CivilDay day;
    MetricValues contribution{};
  };
  void Apply(const std::string& unit, absl::CivilDay day, const MetricValues& delta, int sign);
  const std::string& UnitOf(const v1::Location& location) const;
  absl::CivilDay DayOf(const google::protobuf::Timestamp& t) const;

  const RegionTable* regions_;
  std::string scenario_name_;
  uint64_t seed_;
  std::vector<ScenarioPeriod> periods_;
  Tally tally_;
  Counts counts_;
  absl::flat_hash_map<std::string, Seen> accidents_;
  absl::flat_hash_set<std::string> violations_;
  std::map<std::string, std::string> rejects_;
};

// Metric contributions of one valid event (its newest revision, for accidents),
// by the definitions of processors/metrics.h.
MetricValues IncidentMetrics(const v1::IncidentEvent& event);
MetricValues ViolationMetrics(const v1::ViolationEvent& event);

class Generator {
 public:
  // Builds the history. `regions` must outlive the generator. kInvalidArgument
  // when the scenario does not fit the region table (unknown codes, a county-
  // level unit missing, no main-urban unit for e3e4_main_urban, ...) or the
  // options are out of range.
  static absl::StatusOr<std::unique_ptr<Generator>> Create(GeneratorOptions options,
                                                           const RegionTable& regions);
  ~Generator();

  // Writes the history in order of record time (reported_at; amendments and
  // duplicates after their originals), at most options.max_events records, at
  // options.rate, then flushes. Returns OK early when `stop` becomes true; the
  // first writer error otherwise. Call once.
  absl::Status Run(EventWriter& writer, const std::atomic<bool>& stop);

  // After Run: produces events stamped with the current time (occurred a few
  // minutes ago, reported now) at the live rate, with the scenario's mix of
  // kinds, amendments (due live.amendment_delay_s later), duplicates and bad
  // records, until `stop` becomes true; then flushes. Not deterministic.
  absl::Status RunLive(EventWriter& writer, const std::atomic<bool>& stop);

  // Records in the history (before any max_events cap).
  size_t history_size() const;
  // Records written so far by Run and RunLive. Thread-safe.
  int64_t emitted() const { return emitted_.load(std::memory_order_relaxed); }

  // REQUIRES: Run/RunLive not running.
  const Manifest& manifest() const { return manifest_; }
  // A copy of the manifest; safe while Run/RunLive are running on another thread.
  Manifest ManifestSnapshot() const;

 private:
  struct Impl;
  Generator(GeneratorOptions options, const RegionTable& regions);
  absl::Status Emit(EventWriter& writer, v1::EventKind kind, int reject, const std::string& key,
                    const std::string& value, int64_t timestamp_ms);

  GeneratorOptions options_;
  const RegionTable& regions_;
  std::unique_ptr<Impl> impl_;
  std::atomic<int64_t> emitted_{0};
  mutable absl::Mutex mu_;
  Manifest manifest_ ABSL_GUARDED_BY(mu_);
  // Reused parse targets for the manifest.
  v1::IncidentEvent incident_;
  v1::ViolationEvent violation_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_APP_GENERATOR_H_
