// Input events the worker tests produce.
#ifndef ROADPULSE_TESTS_TEST_EVENTS_H_
#define ROADPULSE_TESTS_TEST_EVENTS_H_

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "roadpulse/v1/events.pb.h"
#include "tests/test_regions.h"

namespace roadpulse::testing {

// Noon of yesterday in Asia/Shanghai: inside every retention horizon and
// every "last 7 days" window, never in the future.
inline absl::Time NoonYesterday() {
  const absl::TimeZone shanghai = Shanghai();
  return absl::FromCivil(absl::CivilSecond(absl::ToCivilDay(absl::Now(), shanghai) - 1) + 12 * 3600,
                         shanghai);
}

// A valid violation: a car speeding in Bincheng District (371602), occurred
// and reported at the given seconds after `base`.
inline v1::ViolationEvent BinchengSpeeding(const std::string& id, absl::Time base,
                                           int64_t occurred_s, int64_t reported_s) {
  v1::ViolationEvent e;
  e.set_id(id);
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(base) + occurred_s);
  e.mutable_reported_at()->set_seconds(absl::ToUnixSeconds(base) + reported_s);
  e.mutable_location()->set_region_code("371602");
  e.set_type(v1::VIOLATION_TYPE_SPEEDING);
  e.set_vehicle(v1::VEHICLE_CATEGORY_CAR);
  return e;
}

}  // namespace roadpulse::testing

#endif  // ROADPULSE_TESTS_TEST_EVENTS_H_
