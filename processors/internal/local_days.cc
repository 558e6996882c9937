#include "processors/internal/local_days.h"

#include "absl/time/civil_time.h"

namespace roadpulse {
namespace processors_internal {
namespace {

constexpr int64_t kDaySeconds = 86400;

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
  // The guessed local day number picks the slot (before 1970 the division
  // truncates, so days -1 and 0 share one: the check below keeps it right).
  Day& slot = slots_[static_cast<size_t>(((s + slot_offset_) / kDaySeconds) & (kSlots - 1))];
  if (!(s >= slot.start && s < slot.end)) slot = Compute(s);
  last_ = slot;
  return last_;
}

}  // namespace processors_internal
}  // namespace roadpulse
