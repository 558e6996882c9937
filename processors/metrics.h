// Metric ids and per-bucket metric values.
//
// A metric id is a short snake_case word, the same in roadpulse.counts, the
// HTTP API, the Prometheus metrics and the report. The definitions (which
// events each one counts) are in processors/README.md.
#ifndef ROADPULSE_PROCESSORS_METRICS_H_
#define ROADPULSE_PROCESSORS_METRICS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace roadpulse {

enum class Metric : uint8_t {
  // Accidents (IncidentEvent, newest revision of each id).
  kAccidents = 0,     // accidents handled under the ordinary procedure (事故起数)
  kDeaths,            // deaths in all accidents (死亡人数)
  kInjuries,          // injuries in all accidents (受伤人数)
  kPropertyLossYuan,  // direct property loss of all accidents, yuan
  kMinorAccidents,    // accidents not under the ordinary procedure (on site, simple, video)
  kVideoHandled,      // accidents settled by video quick handling (视频快处)
  kE3E4Accidents,     // `accidents` involving a low-speed electric tri/quadricycle (电三电四)
  kE3E4Deaths,        // deaths in those accidents
  kE3E4Injuries,      // injuries in those accidents
  kAlcoholAccidents,  // `accidents` with alcohol involved (涉酒)
  kRuralAccidents,    // `accidents` on township and village roads (农村道路)
  // Violations (ViolationEvent, each id once).
  kDrinkDriving,     // 饮酒驾驶, by blood alcohol where measured
  kDrunkDriving,     // 醉酒驾驶, by blood alcohol where measured
  kSpeeding,         // 超速
  kOverload,         // 超载
  kOverCapacity,     // 超员
  kFatigue,          // 疲劳驾驶
  kOtherViolations,  // any other violation type
  kKeyViolations,    // drink + drunk + speeding + overload + over-capacity + fatigue
};

inline constexpr size_t kMetricCount = static_cast<size_t>(Metric::kKeyViolations) + 1;

// All metrics, in enum order.
const std::array<Metric, kMetricCount>& AllMetrics();

// The metric id, e.g. "accidents", "drink_driving".
std::string_view MetricName(Metric metric);

// Inverse of MetricName; nullopt for an unknown id.
std::optional<Metric> MetricFromName(std::string_view name);

// Language of user-facing text: Chinese first, English available.
enum class Language : uint8_t { kZh, kEn };

// Human labels for the dashboard and tables: Chinese ("事故起数") or English.
std::string_view MetricLabelZh(Metric metric);
std::string_view MetricLabelEn(Metric metric);
inline std::string_view MetricLabel(Metric metric, Language lang) {
  return lang == Language::kZh ? MetricLabelZh(metric) : MetricLabelEn(metric);
}

// Values of every metric of one bucket, indexed by Metric.
using MetricValues = std::array<int64_t, kMetricCount>;

inline int64_t& At(MetricValues& values, Metric metric) {
  return values[static_cast<size_t>(metric)];
}
inline int64_t At(const MetricValues& values, Metric metric) {
  return values[static_cast<size_t>(metric)];
}

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_METRICS_H_
