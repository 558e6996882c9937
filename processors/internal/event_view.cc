#include "processors/internal/event_view.h"

#include <cstddef>
#include <cstring>

#include "processors/internal/load.h"

namespace roadpulse {
namespace processors_internal {
namespace {

// The decoder takes the fast path only where it is sure to agree with
// protobuf 3.21's parser, and gives up (returns false) otherwise:
//  - tags must be one byte (all our field numbers are below 16) with the wire
//    type the schema declares; protobuf would keep any other field as an
//    unknown field, or fail: either way protobuf decides;
//  - varints are at most 9 bytes (63 bits): protobuf reads up to 10, and a
//    negative int32/int64 takes 10 - such records are refused anyway, by
//    protobuf's path;
//  - strings (id, region and township codes) must be ASCII: protobuf refuses
//    proto3 strings that are not UTF-8, and ASCII needs no further check;
//  - a sub-message (timestamps, location) may appear once: protobuf merges
//    repeated occurrences;
//  - scalars may repeat (the last one wins, as in protobuf), and repeated
//    vehicles may come packed or not, as protobuf accepts both.
// Integer conversions are protobuf's: int32 and enum fields keep the low 32
// bits of the varint, bool is "varint != 0".
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // One-byte tag; false when the tag is longer (field numbers >= 16) or the
  // input ended.
  bool Tag(uint8_t* tag) {
    if (p_ == end_ || (*p_ & 0x80) != 0) return false;
    *tag = *p_++;
    return true;
  }

  // Most varints here are one byte (tags' values, enums, small counts); the
  // rest are timestamps' seconds (five bytes) and nanos. The loop over the
  // bytes is unrolled, with the end of the input checked once up front.
  bool Varint(uint64_t* value) {
    const uint8_t* p = p_;
    const ptrdiff_t left = end_ - p;
    if (left <= 0) return false;
    uint64_t b = p[0];
    if (b < 0x80) {
      p_ = p + 1;
      *value = b;
      return true;
    }
    const int n = left < 9 ? static_cast<int>(left) : 9;
    uint64_t v = b & 0x7F;
#pragma GCC unroll 8
    for (int i = 1; i < 9; ++i) {
      if (i >= n) return false;
      b = p[i];
      v |= (b & 0x7F) << (7 * i);
      if (b < 0x80) {
        p_ = p + i + 1;
        *value = v;
        return true;
      }
    }
    return false;
  }

  bool Fixed64(uint64_t* value) {
    if (end_ - p_ < 8) return false;
    std::memcpy(value, p_, 8);
    p_ += 8;
    return true;
  }

  // A length-delimited field's bytes.
  bool Bytes(std::string_view* out) {
    uint64_t len = 0;
    if (!Varint(&len) || len > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(len));
    p_ += len;
    return true;
  }

  // A string field: its bytes, which must be ASCII. Eight bytes at a time:
  // the high bits of all of them are or'ed together and tested once. A tail
  // is read as an overlapping last word where the string has 8 bytes or
  // more; a string of fewer as one integer (LoadPartial64).
  bool Ascii(std::string_view* out) {
    if (!Bytes(out)) return false;
    const char* p = out->data();
    const size_t n = out->size();
    uint64_t high = 0;
    if (n >= 8) {
      for (size_t i = 0; i + 8 <= n; i += 8) high |= Load64(p + i);
      high |= Load64(p + n - 8);
    } else {
      high = LoadPartial64(p, n);
    }
    return (high & 0x8080808080808080ULL) == 0;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

constexpr uint8_t Tag(int field, int wire) { return static_cast<uint8_t>(field << 3 | wire); }
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLen = 2;

bool IsE3E4(int32_t vehicle) {
  return vehicle == v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE ||
         vehicle == v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_QUADRICYCLE;
}

// google.protobuf.Timestamp: seconds = 1 (int64), nanos = 2 (int32).
bool DecodeTimestamp(std::string_view bytes, TimestampView* out) {
  if (out->present) return false;  // a repeated sub-message: protobuf merges
  out->present = true;
  Reader r(bytes);
  while (!r.done()) {
    uint8_t tag;
    uint64_t v;
    if (!r.Tag(&tag) || !r.Varint(&v)) return false;
    switch (tag) {
      case Tag(1, kVarint):
        out->seconds = static_cast<int64_t>(v);
        break;
      case Tag(2, kVarint):
        out->nanos = static_cast<int32_t>(static_cast<uint32_t>(v));
        break;
      default:
        return false;
    }
  }
  return true;
}

// roadpulse.v1.Location. `*seen` guards against a second occurrence.
bool DecodeLocation(std::string_view bytes, bool* seen, LocationView* out) {
  if (*seen) return false;
  *seen = true;
  Reader r(bytes);
  while (!r.done()) {
    uint8_t tag;
    uint64_t v;
    if (!r.Tag(&tag)) return false;
    switch (tag) {
      case Tag(1, kLen):
        if (!r.Ascii(&out->region_code)) return false;
        break;
      case Tag(2, kLen):
        if (!r.Ascii(&out->township_code)) return false;
        break;
      case Tag(3, kVarint):  // an enum: int32, as protobuf reads it
        if (!r.Varint(&v)) return false;
        out->road_class = static_cast<int32_t>(v);
        break;
      case Tag(4, kVarint):
        if (!r.Varint(&v)) return false;
        out->has_main_urban = true;
        out->main_urban = v != 0;
        break;
      case Tag(5, kFixed64):  // latitude, longitude: not used
      case Tag(6, kFixed64):
        if (!r.Fixed64(&v)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

bool DecodeIncident(std::string_view bytes, IncidentView* out) {
  *out = IncidentView{};
  bool location_seen = false;
  Reader r(bytes);
  while (!r.done()) {
    uint8_t tag;
    uint64_t v;
    std::string_view sub;
    if (!r.Tag(&tag)) return false;
    switch (tag) {
      case Tag(1, kLen):
        if (!r.Ascii(&out->id)) return false;
        break;
      case Tag(2, kVarint):
        if (!r.Varint(&v)) return false;
        out->revision = static_cast<uint32_t>(v);
        break;
      case Tag(3, kLen):
        if (!r.Bytes(&sub) || !DecodeTimestamp(sub, &out->occurred_at)) return false;
        break;
      case Tag(4, kLen):
        if (!r.Bytes(&sub) || !DecodeTimestamp(sub, &out->reported_at)) return false;
        break;
      case Tag(5, kLen):
        if (!r.Bytes(&sub) || !DecodeLocation(sub, &location_seen, &out->location)) return false;
        break;
      case Tag(6, kVarint):
        if (!r.Varint(&v)) return false;
        out->deaths = static_cast<int32_t>(static_cast<uint32_t>(v));
        break;
      case Tag(7, kVarint):
        if (!r.Varint(&v)) return false;
        out->injuries = static_cast<int32_t>(static_cast<uint32_t>(v));
        break;
      case Tag(8, kVarint):
        if (!r.Varint(&v)) return false;
        out->severity = static_cast<int32_t>(static_cast<uint32_t>(v));
        break;
      case Tag(9, kVarint):
        if (!r.Varint(&v)) return false;
        out->handling = static_cast<int32_t>(static_cast<uint32_t>(v));
        break;
      case Tag(10, kVarint):  // one vehicle
        if (!r.Varint(&v)) return false;
        out->any_e3e4 |= IsE3E4(static_cast<int32_t>(static_cast<uint32_t>(v)));
        break;
      case Tag(10, kLen): {  // packed vehicles
        if (!r.Bytes(&sub)) return false;
        Reader packed(sub);
        while (!packed.done()) {
          if (!packed.Varint(&v)) return false;
          out->any_e3e4 |= IsE3E4(static_cast<int32_t>(static_cast<uint32_t>(v)));
        }
        break;
      }
      case Tag(11, kVarint):
        if (!r.Varint(&v)) return false;
        out->alcohol_involved = v != 0;
        break;
      case Tag(12, kVarint):
        if (!r.Varint(&v)) return false;
        out->property_loss_yuan = static_cast<int64_t>(v);
        break;
      default:
        return false;
    }
  }
  return true;
}

bool DecodeViolation(std::string_view bytes, ViolationView* out) {
  *out = ViolationView{};
  bool location_seen = false;
  Reader r(bytes);
  while (!r.done()) {
    uint8_t tag;
    uint64_t v;
    std::string_view sub;
    if (!r.Tag(&tag)) return false;
    switch (tag) {
      case Tag(1, kLen):
        if (!r.Ascii(&out->id)) return false;
        break;
      case Tag(2, kLen):
        if (!r.Bytes(&sub) || !DecodeTimestamp(sub, &out->occurred_at)) return false;
        break;
      case Tag(3, kLen):
        if (!r.Bytes(&sub) || !DecodeTimestamp(sub, &out->reported_at)) return false;
        break;
      case Tag(4, kLen):
        if (!r.Bytes(&sub) || !DecodeLocation(sub, &location_seen, &out->location)) return false;
        break;
      case Tag(5, kVarint):
        if (!r.Varint(&v)) return false;
        out->type = static_cast<int32_t>(static_cast<uint32_t>(v));
        break;
      case Tag(6, kFixed64):
        if (!r.Fixed64(&v)) return false;
        out->has_blood_alcohol = true;
        std::memcpy(&out->blood_alcohol_mg_100ml, &v, sizeof(double));
        break;
      case Tag(7, kVarint):  // vehicle: not used
        if (!r.Varint(&v)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

namespace {

TimestampView ViewOfTimestamp(bool present, const google::protobuf::Timestamp& ts) {
  return TimestampView{present, ts.seconds(), ts.nanos()};
}

LocationView ViewOfLocation(const v1::Location& l) {
  return LocationView{l.region_code(), l.township_code(), l.has_main_urban(), l.main_urban(),
                      l.road_class()};
}

}  // namespace

void ViewOf(const v1::IncidentEvent& e, IncidentView* out) {
  out->id = e.id();
  out->revision = e.revision();
  out->occurred_at = ViewOfTimestamp(e.has_occurred_at(), e.occurred_at());
  out->reported_at = ViewOfTimestamp(e.has_reported_at(), e.reported_at());
  out->location = ViewOfLocation(e.location());
  out->deaths = e.deaths();
  out->injuries = e.injuries();
  out->severity = e.severity();
  out->handling = e.handling();
  out->any_e3e4 = false;
  for (int v : e.vehicles()) out->any_e3e4 |= IsE3E4(v);
  out->alcohol_involved = e.alcohol_involved();
  out->property_loss_yuan = e.property_loss_yuan();
}

void ViewOf(const v1::ViolationEvent& e, ViolationView* out) {
  out->id = e.id();
  out->occurred_at = ViewOfTimestamp(e.has_occurred_at(), e.occurred_at());
  out->reported_at = ViewOfTimestamp(e.has_reported_at(), e.reported_at());
  out->location = ViewOfLocation(e.location());
  out->type = e.type();
  out->has_blood_alcohol = e.has_blood_alcohol_mg_100ml();
  out->blood_alcohol_mg_100ml = e.blood_alcohol_mg_100ml();
}

}  // namespace processors_internal
}  // namespace roadpulse
