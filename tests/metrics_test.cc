#include "processors/metrics.h"

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "processors/reject_reason.h"

namespace roadpulse {
namespace {

TEST(MetricsTest, NamesRoundTripAndAreUniqueSnakeCase) {
  std::set<std::string> seen;
  for (Metric m : AllMetrics()) {
    const std::string name(MetricName(m));
    ASSERT_FALSE(name.empty());
    EXPECT_TRUE(seen.insert(name).second) << name;
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    ASSERT_TRUE(MetricFromName(name).has_value());
    EXPECT_EQ(*MetricFromName(name), m);
    EXPECT_FALSE(MetricLabelZh(m).empty());
    EXPECT_FALSE(MetricLabelEn(m).empty());
  }
  EXPECT_EQ(seen.size(), kMetricCount);
  EXPECT_EQ(MetricName(Metric::kAccidents), "accidents");
  EXPECT_EQ(MetricName(Metric::kDrunkDriving), "drunk_driving");
  EXPECT_EQ(MetricName(Metric::kKeyViolations), "key_violations");
  EXPECT_FALSE(MetricFromName("accident").has_value());
}

TEST(RejectReasonTest, NamesRoundTripAndAreUnique) {
  std::set<std::string> seen;
  for (RejectReason r : AllRejectReasons()) {
    const std::string name(RejectReasonName(r));
    EXPECT_TRUE(seen.insert(name).second) << name;
    ASSERT_TRUE(RejectReasonFromName(name).has_value());
    EXPECT_EQ(*RejectReasonFromName(name), r);
  }
  EXPECT_EQ(RejectReasonName(RejectReason::kNotProtobuf), "not_protobuf");
  EXPECT_EQ(RejectReasonName(RejectReason::kTooLate), "too_late");
}

}  // namespace
}  // namespace roadpulse
