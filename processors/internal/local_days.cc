#include "processors/internal/local_days.h"

#include "absl/time/civil_time.h"

namespace roadpulse {
namespace processors_internal {
namespace {

constexpr uint64_t kDaySeconds = 86400;

}  // namespace

LocalDays::Day LocalDays::Compute(int64_t s) const {
  const absl::CivilDay day = absl::ToCivilDay(absl::FromUnixSeconds(s), tz_);
  return Day{absl::ToUnixSeconds(absl::FromCivil(day, tz_)),
             absl::ToUnixSeconds(absl::FromCivil(day + 1, tz_))};
}

LocalDays::Day LocalDays::Lookup(int64_t s) {
  if (slots_ == nullptr) {
    // The first change of day: from here on the order is unknown.
    if (last_.start > last_.end) {  // the very first lookup
      slot_offset_ = tz_.At(absl::FromUnixSeconds(s)).offset;
      last_ = Compute(s);
      return last_;
    }
    slots_ = std::make_unique<Day[]>(kSlots);
  }
  // The guessed local day number picks the slot. Unsigned, so that no
  // second overflows; before 1970 (and near the ends of int64) that is not
  // the day number, only a slot the check below keeps right.
  const uint64_t local = static_cast<uint64_t>(s) + static_cast<uint64_t>(int64_t{slot_offset_});
  Day& slot = slots_[(local / kDaySeconds) & (kSlots - 1)];
  if (!(s >= slot.start && s < slot.end)) slot = Compute(s);
  last_ = slot;
  return last_;
}

}  // namespace processors_internal
}  // namespace roadpulse
