// IncidentView / ViolationView: what PartitionProcessor reads from an
// IncidentEvent or ViolationEvent, as plain fields, and a decoder that fills
// them straight from the wire bytes without building a protobuf message.
//
// Why: parsing into a v1::IncidentEvent costs ~190 ns an event, most of it
// allocating and freeing the three sub-messages that Clear() deletes (protobuf
// 3.21 without an arena) and the location's strings. The processor needs a
// dozen scalars and three short strings; reading them in place costs a
// fraction of that.
//
// Exactness: DecodeIncident / DecodeViolation accept only input whose meaning
// is certain to be what protobuf's parser gives (see the .cc: every field
// with its declared wire type, at most once for a sub-message, varints of at
// most 9 bytes, ASCII strings, nothing unknown). For anything else they return
// false without a verdict, and the caller parses with protobuf and fills the
// view from the message (ViewOf), so a record never gets a different outcome
// than protobuf would give it. tests/event_view_test.cc checks both paths
// against each other on valid, mutated and random bytes.
//
// Views hold string_views into the bytes decoded (or into the message for
// ViewOf): valid while those are.
//
// Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_EVENT_VIEW_H_
#define ROADPULSE_PROCESSORS_INTERNAL_EVENT_VIEW_H_

#include <cstdint>
#include <string_view>

#include "roadpulse/v1/events.pb.h"

namespace roadpulse {
namespace processors_internal {

struct TimestampView {
  bool present = false;
  int64_t seconds = 0;
  int32_t nanos = 0;
};

struct LocationView {
  std::string_view region_code;
  std::string_view township_code;
  bool has_main_urban = false;
  bool main_urban = false;
  int32_t road_class = 0;  // v1::RoadClass, possibly unknown
};

struct IncidentView {
  std::string_view id;
  uint32_t revision = 0;
  TimestampView occurred_at;
  TimestampView reported_at;
  LocationView location;
  int32_t deaths = 0;
  int32_t injuries = 0;
  int32_t severity = 0;  // v1::Severity, possibly a value this build does not know
  int32_t handling = 0;  // v1::Handling, likewise
  bool any_e3e4 = false;  // some vehicle is a low-speed electric tri/quadricycle
  bool alcohol_involved = false;
  int64_t property_loss_yuan = 0;
};

struct ViolationView {
  std::string_view id;
  TimestampView occurred_at;
  TimestampView reported_at;
  LocationView location;
  int32_t type = 0;  // v1::ViolationType, possibly unknown
  bool has_blood_alcohol = false;
  double blood_alcohol_mg_100ml = 0;
};

// Fills *out from the serialized event `bytes`: true when the bytes are a
// well-formed event of the usual shape (then *out is what parsing them with
// protobuf would give); false when they need protobuf's parser to decide
// (*out is then unspecified).
bool DecodeIncident(std::string_view bytes, IncidentView* out);
bool DecodeViolation(std::string_view bytes, ViolationView* out);

// The view of a parsed message. `e` must outlive the view.
void ViewOf(const v1::IncidentEvent& e, IncidentView* out);
void ViewOf(const v1::ViolationEvent& e, ViolationView* out);

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_EVENT_VIEW_H_
