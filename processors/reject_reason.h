// Why a record was refused. Every refused record goes to roadpulse.dlq with
// its original bytes and the reason's name in the `roadpulse.reason` header.
#ifndef ROADPULSE_PROCESSORS_REJECT_REASON_H_
#define ROADPULSE_PROCESSORS_REJECT_REASON_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace roadpulse {

enum class RejectReason : uint8_t {
  kNotProtobuf = 0,         // bytes are not a protobuf message of the topic's type, or
                            // there are none (a null or empty value)
  kTruncated,               // a protobuf message cut short
  kEmptyId,                 // id missing or empty
  kMissingTime,             // occurred_at or reported_at missing, or not a valid Timestamp
  kUnknownRegion,           // region or township code not in the region table
  kMainUrbanMismatch,       // main_urban flag disagrees with the region table
  kNegativeCount,           // deaths, injuries, loss or blood alcohol below 0
  kAbsurdCount,             // a count or measurement beyond any real accident
  kAlcoholContradiction,    // drink/drunk type disagrees with blood alcohol
  kMissingBloodAlcohol,     // VIOLATION_TYPE_ALCOHOL without a measurement
  kHandlingContradiction,   // e.g. deaths in a video-handled accident
  kMissingField,            // a required enum (type, handling, severity) unspecified
  kFutureTime,              // an instant far after the record's own timestamp
  kReportedBeforeOccurred,  // reported_at earlier than occurred_at
  kTooLate,                 // older than the retention horizon
};

inline constexpr size_t kRejectReasonCount = static_cast<size_t>(RejectReason::kTooLate) + 1;

// snake_case name, e.g. "not_protobuf", "unknown_region".
std::string_view RejectReasonName(RejectReason reason);
std::optional<RejectReason> RejectReasonFromName(std::string_view name);
const std::array<RejectReason, kRejectReasonCount>& AllRejectReasons();

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_REJECT_REASON_H_
