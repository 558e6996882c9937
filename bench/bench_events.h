// Synthetic serialized events for the benchmarks: a realistic mix (about one
// accident for four violations, as in binzhou-2025), ids unique, occurred_at
// spread evenly over a span, a few duplicates and amendments.
#ifndef ROADPULSE_BENCH_BENCH_EVENTS_H_
#define ROADPULSE_BENCH_BENCH_EVENTS_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "processors/region_table.h"
#include "roadpulse/v1/events.pb.h"

namespace roadpulse {
namespace bench {

struct SerializedEvent {
  bool incident = false;
  std::string bytes;
};

// Event `i` of `n` spread over [start, start + span): deterministic.
inline SerializedEvent MakeEvent(const RegionTable& regions, uint64_t i, uint64_t n,
                                 absl::Time start, absl::Duration span, std::mt19937_64& rng) {
  const absl::Time occurred = start + span * (static_cast<double>(i) / static_cast<double>(n)) -
                              absl::Seconds(static_cast<int64_t>(rng() % 3600));
  const auto set = [](absl::Time t, google::protobuf::Timestamp* ts) {
    ts->set_seconds(absl::ToUnixSeconds(t));
  };
  // Counting units: county-level codes and townships, skipping the city (0)
  // and the main urban area (1).
  const Region& unit = regions.at(static_cast<uint16_t>(2 + rng() % (regions.size() - 2)));
  std::string county = unit.code;
  std::string township;
  if (!unit.parent.empty() && unit.parent != regions.city().code) {
    county = unit.parent;
    township = unit.code;
  }
  SerializedEvent out;
  const uint64_t kind = rng() % 100;
  if (kind < 20) {
    v1::IncidentEvent e;
    e.set_id(absl::StrCat("BZ-A-", i));
    e.set_revision(1);
    set(occurred, e.mutable_occurred_at());
    set(occurred + absl::Minutes(20), e.mutable_reported_at());
    e.mutable_location()->set_region_code(county);
    e.mutable_location()->set_township_code(township);
    e.mutable_location()->set_latitude(37.38);
    e.mutable_location()->set_longitude(117.97);
    const bool ordinary = kind < 3;
    e.set_handling(ordinary ? v1::HANDLING_ORDINARY_PROCEDURE : v1::HANDLING_VIDEO_QUICK);
    e.set_severity(ordinary ? v1::SEVERITY_GENERAL : v1::SEVERITY_MINOR);
    if (ordinary) e.set_injuries(static_cast<int32_t>(rng() % 3));
    e.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
    if (kind == 0) e.add_vehicles(v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE);
    e.set_property_loss_yuan(static_cast<int64_t>(rng() % 20000));
    out.incident = true;
    out.bytes = e.SerializeAsString();
  } else {
    v1::ViolationEvent e;
    e.set_id(absl::StrCat("BZ-V-", i));
    set(occurred, e.mutable_occurred_at());
    set(occurred + absl::Minutes(5), e.mutable_reported_at());
    e.mutable_location()->set_region_code(county);
    e.mutable_location()->set_township_code(township);
    const uint64_t t = rng() % 10;
    if (t == 0) {
      e.set_type(v1::VIOLATION_TYPE_DRUNK_DRIVING);
      e.set_blood_alcohol_mg_100ml(95.0);
    } else if (t == 1) {
      e.set_type(v1::VIOLATION_TYPE_DRINK_DRIVING);
      e.set_blood_alcohol_mg_100ml(35.0);
    } else {
      e.set_type(t < 7 ? v1::VIOLATION_TYPE_SPEEDING : v1::VIOLATION_TYPE_OVERLOAD);
    }
    e.set_vehicle(v1::VEHICLE_CATEGORY_CAR);
    out.bytes = e.SerializeAsString();
  }
  return out;
}

}  // namespace bench
}  // namespace roadpulse

#endif  // ROADPULSE_BENCH_BENCH_EVENTS_H_
