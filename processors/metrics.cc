#include "processors/metrics.h"

namespace roadpulse {
namespace {

struct MetricInfo {
  Metric metric;
  std::string_view name;
  std::string_view label_zh;
  std::string_view label_en;
};

// Order matches the enum.
constexpr MetricInfo kMetrics[kMetricCount] = {
    {Metric::kAccidents, "accidents", "事故起数", "Accidents"},
    {Metric::kDeaths, "deaths", "死亡人数", "Deaths"},
    {Metric::kInjuries, "injuries", "受伤人数", "Injuries"},
    {Metric::kPropertyLossYuan, "property_loss_yuan", "直接财产损失(元)", "Property loss (yuan)"},
    {Metric::kMinorAccidents, "minor_accidents", "轻微事故", "Minor accidents"},
    {Metric::kVideoHandled, "video_handled", "视频快处", "Settled over video"},
    {Metric::kE3E4Accidents, "e3e4_accidents", "涉电三电四事故",
     "Low-speed EV 3/4-wheel accidents"},
    {Metric::kE3E4Deaths, "e3e4_deaths", "涉电三电四死亡", "Low-speed EV 3/4-wheel deaths"},
    {Metric::kE3E4Injuries, "e3e4_injuries", "涉电三电四受伤", "Low-speed EV 3/4-wheel injuries"},
    {Metric::kAlcoholAccidents, "alcohol_accidents", "涉酒事故", "Alcohol-related accidents"},
    {Metric::kRuralAccidents, "rural_accidents", "农村道路事故", "Rural-road accidents"},
    {Metric::kDrinkDriving, "drink_driving", "饮酒驾驶", "Drink driving"},
    {Metric::kDrunkDriving, "drunk_driving", "醉酒驾驶", "Drunk driving"},
    {Metric::kSpeeding, "speeding", "超速", "Speeding"},
    {Metric::kOverload, "overload", "超载", "Overloading"},
    {Metric::kOverCapacity, "over_capacity", "超员", "Over capacity"},
    {Metric::kFatigue, "fatigue", "疲劳驾驶", "Fatigue driving"},
    {Metric::kOtherViolations, "other_violations", "其他违法", "Other violations"},
    {Metric::kKeyViolations, "key_violations", "重点交通违法", "Key violations"},
};

constexpr std::array<Metric, kMetricCount> MakeAll() {
  std::array<Metric, kMetricCount> all{};
  for (size_t i = 0; i < kMetricCount; ++i) all[i] = static_cast<Metric>(i);
  return all;
}

}  // namespace

const std::array<Metric, kMetricCount>& AllMetrics() {
  static constexpr std::array<Metric, kMetricCount> kAll = MakeAll();
  return kAll;
}

std::string_view MetricName(Metric metric) { return kMetrics[static_cast<size_t>(metric)].name; }
std::string_view MetricLabelZh(Metric metric) {
  return kMetrics[static_cast<size_t>(metric)].label_zh;
}
std::string_view MetricLabelEn(Metric metric) {
  return kMetrics[static_cast<size_t>(metric)].label_en;
}

std::optional<Metric> MetricFromName(std::string_view name) {
  for (const MetricInfo& info : kMetrics) {
    if (info.name == name) return info.metric;
  }
  return std::nullopt;
}

}  // namespace roadpulse
