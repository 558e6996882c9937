#include "processors/reject_reason.h"

namespace roadpulse {
namespace {

// Order matches the enum.
constexpr std::string_view kNames[kRejectReasonCount] = {
    "not_protobuf",
    "truncated",
    "empty_id",
    "missing_time",
    "unknown_region",
    "main_urban_mismatch",
    "negative_count",
    "absurd_count",
    "alcohol_contradiction",
    "missing_blood_alcohol",
    "handling_contradiction",
    "missing_field",
    "future_time",
    "reported_before_occurred",
    "too_late",
};

constexpr std::array<RejectReason, kRejectReasonCount> MakeAll() {
  std::array<RejectReason, kRejectReasonCount> all{};
  for (size_t i = 0; i < kRejectReasonCount; ++i) all[i] = static_cast<RejectReason>(i);
  return all;
}

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  return kNames[static_cast<size_t>(reason)];
}

std::optional<RejectReason> RejectReasonFromName(std::string_view name) {
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    if (kNames[i] == name) return static_cast<RejectReason>(i);
  }
  return std::nullopt;
}

const std::array<RejectReason, kRejectReasonCount>& AllRejectReasons() {
  static constexpr std::array<RejectReason, kRejectReasonCount> kAll = MakeAll();
  return kAll;
}

}  // namespace roadpulse
