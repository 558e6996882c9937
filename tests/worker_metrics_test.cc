// The worker's Prometheus text (sinks/worker_metrics.h): the per-partition
// reconciliation the chaos test reads.
#include "sinks/worker_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace roadpulse {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

PartitionStats Partition(const std::string& topic, int32_t partition, PartitionTally tally) {
  PartitionStats p;
  p.topic = topic;
  p.partition = partition;
  p.next_offset = tally.read;
  p.high_watermark = tally.read + 5;
  p.tally = tally;
  return p;
}

TEST(WorkerMetricsTest, PartitionRecordsByOutcomePerPartition) {
  WorkerStats stats;
  stats.partitions.push_back(Partition("roadpulse.incidents", 3, {100, 90, 4, 5, 1}));
  stats.partitions.push_back(Partition("roadpulse.violations", 0, {7, 6, 0, 1, 0}));
  const std::string text = WorkerMetricsText(stats, absl::FromUnixSeconds(1000));

  EXPECT_THAT(text, HasSubstr("# TYPE roadpulse_worker_partition_records gauge\n"));
  const std::string in3 = "roadpulse_worker_partition_records{topic=\"roadpulse.incidents\","
                          "partition=\"3\",outcome=";
  EXPECT_THAT(text, HasSubstr("roadpulse_worker_partition_records_read{topic=\"roadpulse."
                              "incidents\",partition=\"3\"} 100\n"));
  // Read is not an outcome: a sum over the label is the records read.
  EXPECT_THAT(text, Not(HasSubstr(in3 + "\"read\"")));
  EXPECT_THAT(text, HasSubstr(in3 + "\"counted\"} 90\n"));
  EXPECT_THAT(text, HasSubstr(in3 + "\"amended\"} 4\n"));
  EXPECT_THAT(text, HasSubstr(in3 + "\"duplicate\"} 5\n"));
  EXPECT_THAT(text, HasSubstr(in3 + "\"rejected\"} 1\n"));
  const std::string vi0 = "roadpulse_worker_partition_records{topic=\"roadpulse.violations\","
                          "partition=\"0\",outcome=";
  EXPECT_THAT(text, HasSubstr("roadpulse_worker_partition_records_read{topic=\"roadpulse."
                              "violations\",partition=\"0\"} 7\n"));
  EXPECT_THAT(text, HasSubstr(vi0 + "\"duplicate\"} 1\n"));
  // Lag next to it, from the high watermark.
  EXPECT_THAT(text, HasSubstr("roadpulse_worker_consumer_lag{topic=\"roadpulse.incidents\","
                              "partition=\"3\"} 5\n"));
}

// Totals over the assigned partitions: 100 + 7 read = 96 counted + 4 amended
// + 6 duplicate + 1 rejected, with read on its own.
TEST(WorkerMetricsTest, AssignedRecordsSumOverOutcomeToTheRecordsRead) {
  WorkerStats stats;
  stats.totals = {107, 96, 4, 6, 1};
  const std::string text = WorkerMetricsText(stats, absl::FromUnixSeconds(1000));
  EXPECT_THAT(text, HasSubstr("\nroadpulse_worker_assigned_records_read 107\n"));
  EXPECT_THAT(text, HasSubstr("\nroadpulse_worker_assigned_records{outcome=\"counted\"} 96\n"
                              "roadpulse_worker_assigned_records{outcome=\"amended\"} 4\n"
                              "roadpulse_worker_assigned_records{outcome=\"duplicate\"} 6\n"
                              "roadpulse_worker_assigned_records{outcome=\"rejected\"} 1\n#"));
  EXPECT_THAT(text, HasSubstr("\nroadpulse_worker_starting 0\n"));
}

// Before the worker exists (`run --http` while it sets up) only the
// starting gauge is served.
TEST(WorkerMetricsTest, StartingTextSaysStartingAndNothingElse) {
  const std::string text = WorkerStartingMetricsText();
  EXPECT_THAT(text, HasSubstr("# TYPE roadpulse_worker_starting gauge\n"));
  EXPECT_THAT(text, ::testing::EndsWith("\nroadpulse_worker_starting 1\n"));
  EXPECT_EQ(text.find("# TYPE"), text.rfind("# TYPE")) << text;  // one metric
}

// Count deliveries the producer gave up on: a counter, with the stats' value.
TEST(WorkerMetricsTest, CountDeliveryFailuresIsACounter) {
  WorkerStats stats;
  stats.count_delivery_failures = 3;
  const std::string text = WorkerMetricsText(stats, absl::FromUnixSeconds(1000));
  EXPECT_THAT(text, HasSubstr("# TYPE roadpulse_worker_count_delivery_failures_total counter\n"));
  EXPECT_THAT(text, HasSubstr("\nroadpulse_worker_count_delivery_failures_total 3\n"));
}

TEST(WorkerMetricsTest, NoPartitionLinesWithoutAssignment) {
  const std::string text = WorkerMetricsText(WorkerStats{}, absl::FromUnixSeconds(1000));
  EXPECT_THAT(text, HasSubstr("# HELP roadpulse_worker_partition_records "));
  EXPECT_THAT(text, Not(HasSubstr("roadpulse_worker_partition_records{")));
}

}  // namespace
}  // namespace roadpulse
