// The in-place event decoder (processors/internal/event_view.h) against
// protobuf's parser: whenever the decoder gives a verdict it must be what
// parsing with protobuf gives, and it must give one for ordinary events.
#include "processors/internal/event_view.h"

#include <cstring>
#include <random>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"

namespace roadpulse {
namespace processors_internal {
namespace {

bool SameTime(const TimestampView& a, const TimestampView& b) {
  return a.present == b.present && a.seconds == b.seconds && a.nanos == b.nanos;
}
bool SameLocation(const LocationView& a, const LocationView& b) {
  return a.region_code == b.region_code && a.township_code == b.township_code &&
         a.has_main_urban == b.has_main_urban && a.main_urban == b.main_urban &&
         a.road_class == b.road_class;
}
bool Same(const IncidentView& a, const IncidentView& b) {
  return a.id == b.id && a.revision == b.revision && SameTime(a.occurred_at, b.occurred_at) &&
         SameTime(a.reported_at, b.reported_at) && SameLocation(a.location, b.location) &&
         a.deaths == b.deaths && a.injuries == b.injuries && a.severity == b.severity &&
         a.handling == b.handling && a.any_e3e4 == b.any_e3e4 &&
         a.alcohol_involved == b.alcohol_involved &&
         a.property_loss_yuan == b.property_loss_yuan;
}
bool Same(const ViolationView& a, const ViolationView& b) {
  return a.id == b.id && SameTime(a.occurred_at, b.occurred_at) &&
         SameTime(a.reported_at, b.reported_at) && SameLocation(a.location, b.location) &&
         a.type == b.type && a.has_blood_alcohol == b.has_blood_alcohol &&
         std::memcmp(&a.blood_alcohol_mg_100ml, &b.blood_alcohol_mg_100ml, sizeof(double)) == 0;
}

// Checks one input both ways; returns whether the fast path decided.
bool CheckIncident(const std::string& bytes) {
  IncidentView fast;
  const bool decided = DecodeIncident(bytes, &fast);
  v1::IncidentEvent e;
  const bool parsed = e.ParseFromString(bytes);
  if (decided) {
    EXPECT_TRUE(parsed) << "fast path accepted bytes protobuf refuses";
    IncidentView slow;
    ViewOf(e, &slow);
    EXPECT_TRUE(Same(fast, slow)) << e.ShortDebugString();
  }
  return decided;
}

bool CheckViolation(const std::string& bytes) {
  ViolationView fast;
  const bool decided = DecodeViolation(bytes, &fast);
  v1::ViolationEvent e;
  const bool parsed = e.ParseFromString(bytes);
  if (decided) {
    EXPECT_TRUE(parsed) << "fast path accepted bytes protobuf refuses";
    ViolationView slow;
    ViewOf(e, &slow);
    EXPECT_TRUE(Same(fast, slow)) << e.ShortDebugString();
  }
  return decided;
}

int64_t RandomInt(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0:
      return 0;
    case 1:
      return static_cast<int64_t>(rng() % 10);
    case 2:
      return -static_cast<int64_t>(rng() % 10);
    case 3:
      return static_cast<int64_t>(rng() % 100000);
    default:
      return static_cast<int64_t>(rng());
  }
}

std::string RandomText(std::mt19937_64& rng) {
  static const char* kSamples[] = {"", "371602", "371602001", "BZ-A-17", "滨城区", "x"};
  return kSamples[rng() % 6];
}

v1::IncidentEvent RandomIncident(std::mt19937_64& rng) {
  v1::IncidentEvent e;
  e.set_id(RandomText(rng) + std::to_string(rng() % 1000));
  e.set_revision(static_cast<uint32_t>(RandomInt(rng)));
  if (rng() % 8 != 0) {
    e.mutable_occurred_at()->set_seconds(RandomInt(rng));
    e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(RandomInt(rng)));
  }
  if (rng() % 8 != 0) e.mutable_reported_at()->set_seconds(RandomInt(rng));
  if (rng() % 8 != 0) {
    e.mutable_location()->set_region_code(RandomText(rng));
    e.mutable_location()->set_township_code(RandomText(rng));
    if (rng() % 2) e.mutable_location()->set_main_urban(rng() % 2 == 0);
    e.mutable_location()->set_latitude(37.4);
    e.mutable_location()->set_road_class(static_cast<v1::RoadClass>(rng() % 9));
  }
  e.set_deaths(static_cast<int32_t>(RandomInt(rng)));
  e.set_injuries(static_cast<int32_t>(RandomInt(rng)));
  e.set_severity(static_cast<v1::Severity>(rng() % 7));
  e.set_handling(static_cast<v1::Handling>(rng() % 7));
  for (uint64_t i = rng() % 4; i > 0; --i) e.add_vehicles(static_cast<v1::VehicleCategory>(rng() % 13));
  e.set_alcohol_involved(rng() % 2 == 0);
  e.set_property_loss_yuan(RandomInt(rng));
  return e;
}

v1::ViolationEvent RandomViolation(std::mt19937_64& rng) {
  v1::ViolationEvent e;
  e.set_id(RandomText(rng) + std::to_string(rng() % 1000));
  if (rng() % 8 != 0) e.mutable_occurred_at()->set_seconds(RandomInt(rng));
  if (rng() % 8 != 0) e.mutable_reported_at()->set_seconds(RandomInt(rng));
  if (rng() % 8 != 0) {
    e.mutable_location()->set_region_code(RandomText(rng));
    if (rng() % 2) e.mutable_location()->set_main_urban(rng() % 2 == 0);
  }
  e.set_type(static_cast<v1::ViolationType>(rng() % 10));
  if (rng() % 2) e.set_blood_alcohol_mg_100ml(static_cast<double>(RandomInt(rng)) / 3.0);
  e.set_vehicle(static_cast<v1::VehicleCategory>(rng() % 13));
  return e;
}

std::string Mutate(std::string s, std::mt19937_64& rng) {
  for (uint64_t n = 1 + rng() % 3; n > 0; --n) {
    switch (rng() % 4) {
      case 0:  // flip a byte
        if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
        break;
      case 1:  // truncate
        if (!s.empty()) s.resize(rng() % s.size());
        break;
      case 2:  // insert a byte
        s.insert(s.begin() + static_cast<long>(rng() % (s.size() + 1)), static_cast<char>(rng()));
        break;
      default:  // repeat a slice (repeated fields, sub-messages)
        if (!s.empty()) {
          const size_t from = rng() % s.size();
          s += s.substr(from, rng() % (s.size() - from + 1));
        }
        break;
    }
  }
  return s;
}

TEST(EventViewTest, OrdinaryEventsTakeTheFastPath) {
  v1::IncidentEvent inc;
  inc.set_id("BZ-A-1");
  inc.set_revision(2);
  inc.mutable_occurred_at()->set_seconds(1750000000);
  inc.mutable_reported_at()->set_seconds(1750001200);
  inc.mutable_location()->set_region_code("371602");
  inc.mutable_location()->set_township_code("371602001");
  inc.mutable_location()->set_main_urban(true);
  inc.set_injuries(2);
  inc.set_severity(v1::SEVERITY_GENERAL);
  inc.set_handling(v1::HANDLING_ORDINARY_PROCEDURE);
  inc.add_vehicles(v1::VEHICLE_CATEGORY_CAR);
  inc.add_vehicles(v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_QUADRICYCLE);
  inc.set_property_loss_yuan(12000);
  EXPECT_TRUE(CheckIncident(inc.SerializeAsString()));
  IncidentView v;
  ASSERT_TRUE(DecodeIncident(inc.SerializeAsString(), &v));
  EXPECT_TRUE(v.any_e3e4);
  EXPECT_EQ(v.location.township_code, "371602001");

  v1::ViolationEvent vio;
  vio.set_id("BZ-V-1");
  vio.mutable_occurred_at()->set_seconds(1750000000);
  vio.mutable_reported_at()->set_seconds(1750000300);
  vio.mutable_location()->set_region_code("371602");
  vio.set_type(v1::VIOLATION_TYPE_DRUNK_DRIVING);
  vio.set_blood_alcohol_mg_100ml(95.0);
  EXPECT_TRUE(CheckViolation(vio.SerializeAsString()));
  EXPECT_TRUE(CheckViolation(""));  // all defaults, as protobuf reads it
}

TEST(EventViewTest, UnpackedVehiclesAndRepeatedScalarsAsProtobufReadsThem) {
  v1::IncidentEvent inc;
  inc.set_id("A");
  inc.set_revision(1);
  std::string bytes = inc.SerializeAsString();
  bytes += std::string("\x50\x04\x50\x01", 4);  // vehicles 4, 1 unpacked
  bytes += std::string("\x10\x07", 2);          // revision again: the last wins
  bytes += std::string("\x52\x02\x04\x02", 4);  // packed 4, 2
  IncidentView v;
  ASSERT_TRUE(DecodeIncident(bytes, &v));
  EXPECT_EQ(v.revision, 7u);
  EXPECT_TRUE(v.any_e3e4);
  EXPECT_TRUE(CheckIncident(bytes));
}

TEST(EventViewTest, LeavesUnusualInputToProtobuf) {
  v1::IncidentEvent inc;
  inc.set_id("滨城区-1");  // not ASCII: protobuf checks the UTF-8
  EXPECT_FALSE(CheckIncident(inc.SerializeAsString()));
  inc.set_id("A");
  inc.set_deaths(-1);  // a 10-byte varint
  EXPECT_FALSE(CheckIncident(inc.SerializeAsString()));
  inc.set_deaths(0);
  inc.mutable_occurred_at()->set_seconds(5);
  std::string twice = inc.SerializeAsString() + inc.SerializeAsString();  // merged sub-message
  EXPECT_FALSE(CheckIncident(twice));
  std::string unknown = inc.SerializeAsString() + std::string("\xF8\x01\x01", 3);  // field 31
  EXPECT_FALSE(CheckIncident(unknown));
  std::string wrong_type = std::string("\x08\x01", 2);  // id as a varint: an unknown field
  EXPECT_FALSE(CheckIncident(wrong_type));
}

// Strings are checked for ASCII eight bytes at a time, a short tail as two
// overlapping words or byte by byte: a non-ASCII byte anywhere in a string of any length leaves the record to
// protobuf, and an ASCII string of any length takes the fast path.
TEST(EventViewTest, FindsNonAsciiAnywhereInAString) {
  google::protobuf::LogSilencer quiet;  // protobuf logs every invalid UTF-8 string it refuses
  for (size_t len = 0; len <= 20; ++len) {
    v1::ViolationEvent vio;
    vio.set_id(std::string(len, 'a'));
    vio.mutable_location()->set_region_code(std::string(len, '7'));
    EXPECT_TRUE(CheckViolation(vio.SerializeAsString())) << len;
    for (size_t at = 0; at < len; ++at) {
      // One byte with its high bit set and every other byte ASCII (not
      // UTF-8, so protobuf refuses the record; CheckViolation fails the test
      // if the fast path accepts it).
      std::string text(len, 'a');
      text[at] = '\xE9';
      vio.set_id(text);
      EXPECT_FALSE(CheckViolation(vio.SerializeAsString())) << len << " " << at;
      vio.set_id("a");
      vio.mutable_location()->set_township_code(text);
      EXPECT_FALSE(CheckViolation(vio.SerializeAsString())) << len << " " << at;
      vio.mutable_location()->clear_township_code();
    }
  }
}

TEST(EventViewTest, AgreesWithProtobufOnRandomAndMutatedEvents) {
  std::mt19937_64 rng(20261129);
  int fast = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string inc = RandomIncident(rng).SerializeAsString();
    const std::string vio = RandomViolation(rng).SerializeAsString();
    fast += CheckIncident(inc);
    fast += CheckViolation(vio);
    CheckIncident(Mutate(inc, rng));
    CheckViolation(Mutate(vio, rng));
    CheckIncident(Mutate(vio, rng));  // the wrong schema
    std::string noise(rng() % 40, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    CheckIncident(noise);
    CheckViolation(noise);
    if (HasFailure()) return;
  }
  // Random events often hold non-ASCII text or negative numbers (protobuf's
  // path); plenty of them are still decided in place.
  EXPECT_GT(fast, 5000);
}

}  // namespace
}  // namespace processors_internal
}  // namespace roadpulse
