// LocalDays: the local day, in one time zone, that contains a Unix second,
// as the processors look it up for every event (the day bucket it counts in).
//
// A lookup through absl (ToCivilDay, then FromCivil twice) costs two time-zone
// searches. Events of one partition come in nearly in time order when live,
// but a replay or a generated load may put them in any order over months, and
// a one-day cache then misses on nearly every event. So the days already seen
// are kept in a direct-mapped table of kSlots entries, indexed by the day
// number the zone's offset at the first lookup gives (exact for zones whose
// offset stays the same; elsewhere a day may take two or three slots). An
// entry is used only when its day contains the second looked up, so a stale or
// shared slot costs a lookup through absl, never a wrong day.
//
// Not thread-safe. Internal to processors/.
#ifndef ROADPULSE_PROCESSORS_INTERNAL_LOCAL_DAYS_H_
#define ROADPULSE_PROCESSORS_INTERNAL_LOCAL_DAYS_H_

#include <cstdint>
#include <memory>

#include "absl/time/time.h"

namespace roadpulse {
namespace processors_internal {

class LocalDays {
 public:
  // Almost three years of days before two share a slot (this year and last
  // year fit); 16 KiB, allocated at the first change of day.
  static constexpr uint64_t kSlots = 1024;

  // Unix seconds [start, end): a local day from midnight to the next midnight
  // (where a zone skipped midnight, from the first second that exists).
  struct Day {
    int64_t start = 1;  // empty until filled
    int64_t end = 0;
  };

  explicit LocalDays(absl::TimeZone tz) : tz_(tz) {}
  LocalDays(const LocalDays&) = delete;
  LocalDays& operator=(const LocalDays&) = delete;

  // The local day containing Unix second `s`: the same answer as
  // absl::FromCivil(absl::ToCivilDay(s)) and the day after, in `tz`. Where a
  // clock went back across midnight (America/St_Johns, 2006-2010: 00:01 back
  // to 23:01), a second of the repeated hour gets the day before, as absl
  // says, and that day's end is before it.
  Day DayOf(int64_t s) {
    if (s >= last_.start && s < last_.end) return last_;
    return Lookup(s);
  }

 private:
  Day Lookup(int64_t s);
  Day Compute(int64_t s) const;

  const absl::TimeZone tz_;
  Day last_;
  // The zone's UTC offset (seconds east) at the first lookup, which turns a
  // second into the slot of its day.
  int32_t slot_offset_ = 0;
  std::unique_ptr<Day[]> slots_;  // kSlots entries once allocated
};

}  // namespace processors_internal
}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_INTERNAL_LOCAL_DAYS_H_
