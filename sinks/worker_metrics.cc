#include "sinks/worker_metrics.h"

#include "fmt/format.h"
#include "processors/reject_reason.h"

namespace roadpulse {

namespace {

void AppendHeader(std::string* out, const char* name, const char* type, const char* help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

std::string StartingText(bool starting) {
  std::string out;
  AppendHeader(&out, "roadpulse_worker_starting", "gauge",
               "1 while the worker sets up (connects to the cluster, learns its topics), before "
               "it consumes; 0 once it runs.");
  out += fmt::format("roadpulse_worker_starting {}\n", starting ? 1 : 0);
  return out;
}

}  // namespace

std::string WorkerStartingMetricsText() { return StartingText(true); }

std::string WorkerMetricsText(const WorkerStats& s, absl::Time now) {
  std::string out = StartingText(false);
  auto metric = [&out](const char* name, const char* type, const char* help) {
    AppendHeader(&out, name, type, help);
  };
  metric("roadpulse_worker_records_consumed_total", "counter",
         "Input records consumed since start, including re-reads after rebalances.");
  out += fmt::format("roadpulse_worker_records_consumed_total {}\n", s.records_consumed);
  // The records read are a metric of their own, not an outcome: a sum over
  // the outcome label is then the records read, not twice them.
  metric("roadpulse_worker_assigned_records_read", "gauge",
         "Records read of the currently assigned partitions (= the sum of "
         "roadpulse_worker_assigned_records over outcome).");
  out += fmt::format("roadpulse_worker_assigned_records_read {}\n", s.totals.read);
  metric("roadpulse_worker_assigned_records", "gauge",
         "Records of the currently assigned partitions by outcome.");
  for (const auto& [outcome, v] : {std::pair<const char*, int64_t>{"counted", s.totals.counted},
                                   {"amended", s.totals.amended},
                                   {"duplicate", s.totals.duplicates},
                                   {"rejected", s.totals.rejected}}) {
    out += fmt::format("roadpulse_worker_assigned_records{{outcome=\"{}\"}} {}\n", outcome, v);
  }
  metric("roadpulse_worker_dead_lettered_total", "counter",
         "Records sent to roadpulse.dlq since start, by reason.");
  for (RejectReason r : AllRejectReasons()) {
    const std::string name(RejectReasonName(r));
    auto it = s.dead_lettered_by_reason.find(name);
    out += fmt::format("roadpulse_worker_dead_lettered_total{{reason=\"{}\"}} {}\n", name,
                       it == s.dead_lettered_by_reason.end() ? 0 : it->second);
  }
  metric("roadpulse_worker_counts_published_total", "counter",
         "Count records published to roadpulse.counts since start.");
  out += fmt::format("roadpulse_worker_counts_published_total {}\n", s.counts_published);
  metric("roadpulse_worker_count_delivery_failures_total", "counter",
         "Count deliveries the producer gave up on since start (message.timeout.ms, half the "
         "session timeout); each time every bucket was published again.");
  out +=
      fmt::format("roadpulse_worker_count_delivery_failures_total {}\n", s.count_delivery_failures);
  metric("roadpulse_worker_counts_unwatchable_total", "counter",
         "Changed hour and minute buckets left unpublished since start: older than any "
         "rolling window can reach.");
  out += fmt::format("roadpulse_worker_counts_unwatchable_total {}\n", s.counts_unwatchable);
  metric("roadpulse_worker_fetch_nudges_total", "counter",
         "Times the worker woke a fetcher paused on a full pre-fetch queue since start.");
  out += fmt::format("roadpulse_worker_fetch_nudges_total {}\n", s.fetch_nudges);
  metric("roadpulse_worker_rebalances_total", "counter",
         "Group rebalances this worker took part in: partition assignments received, including "
         "the empty ones of an incremental rebalance that moved nothing to it.");
  out += fmt::format("roadpulse_worker_rebalances_total {}\n", s.rebalances);
  metric("roadpulse_worker_assigned_partitions", "gauge", "Input partitions assigned.");
  out += fmt::format("roadpulse_worker_assigned_partitions {}\n", s.partitions.size());
  metric("roadpulse_worker_consumer_lag", "gauge",
         "High watermark minus the next offset to process, per assigned input partition.");
  for (const PartitionStats& p : s.partitions) {
    if (p.high_watermark < 0) continue;
    out += fmt::format("roadpulse_worker_consumer_lag{{topic=\"{}\",partition=\"{}\"}} {}\n",
                       p.topic, p.partition, std::max<int64_t>(0, p.high_watermark - p.next_offset));
  }
  metric("roadpulse_worker_next_offset", "gauge",
         "Next offset to process, per assigned input partition.");
  for (const PartitionStats& p : s.partitions) {
    out += fmt::format("roadpulse_worker_next_offset{{topic=\"{}\",partition=\"{}\"}} {}\n",
                       p.topic, p.partition, p.next_offset);
  }
  metric("roadpulse_worker_partition_records_read", "gauge",
         "Records read of each assigned input partition, over the partition's whole history as "
         "this worker holds it: its end offset once it is caught up, and the sum of "
         "roadpulse_worker_partition_records over outcome.");
  for (const PartitionStats& p : s.partitions) {
    out +=
        fmt::format("roadpulse_worker_partition_records_read{{topic=\"{}\",partition=\"{}\"}} {}\n",
                    p.topic, p.partition, p.tally.read);
  }
  metric("roadpulse_worker_partition_records", "gauge",
         "Records of each assigned input partition by outcome, over the partition's whole "
         "history as this worker holds it.");
  for (const PartitionStats& p : s.partitions) {
    for (const auto& [outcome, v] : {std::pair<const char*, int64_t>{"counted", p.tally.counted},
                                     {"amended", p.tally.amended},
                                     {"duplicate", p.tally.duplicates},
                                     {"rejected", p.tally.rejected}}) {
      out += fmt::format(
          "roadpulse_worker_partition_records{{topic=\"{}\",partition=\"{}\",outcome=\"{}\"}} "
          "{}\n",
          p.topic, p.partition, outcome, v);
    }
  }
  metric("roadpulse_worker_publish_seconds", "summary",
         "Duration of the publish rounds (every flush interval, also with nothing changed): "
         "handing the changed counts to the producer, and before a checkpoint waiting for "
         "their delivery.");
  out += fmt::format("roadpulse_worker_publish_seconds_sum {:.6f}\n", s.publish_seconds_sum);
  out += fmt::format("roadpulse_worker_publish_seconds_count {}\n", s.publish_flushes);
  metric("roadpulse_worker_last_publish_seconds", "gauge", "Duration of the last publish.");
  out += fmt::format("roadpulse_worker_last_publish_seconds {:.6f}\n", s.last_publish_seconds);
  metric("roadpulse_worker_last_publish_age_seconds", "gauge",
         "Time since the last publish round ended (-1: none yet); grows only when the "
         "worker's loop stalls, idle or not.");
  out += fmt::format("roadpulse_worker_last_publish_age_seconds {:.3f}\n",
                     s.last_publish_unix_ms == 0
                         ? -1.0
                         : absl::ToDoubleSeconds(now - absl::FromUnixMillis(s.last_publish_unix_ms)));
  metric("roadpulse_worker_checkpoints_total", "counter",
         "Partition checkpoints written to the checkpoint topic since start.");
  out += fmt::format("roadpulse_worker_checkpoints_total {}\n", s.checkpoints_written);
  metric("roadpulse_worker_checkpoint_bytes_total", "counter",
         "Serialized partition state of the checkpoints written (acknowledged) since start.");
  out += fmt::format("roadpulse_worker_checkpoint_bytes_total {}\n", s.checkpoint_bytes);
  metric("roadpulse_worker_last_checkpoint_seconds", "gauge",
         "Duration of the last checkpoint round (serialize, write, confirm).");
  out += fmt::format("roadpulse_worker_last_checkpoint_seconds {:.6f}\n",
                     s.last_checkpoint_seconds);
  metric("roadpulse_worker_restores_total", "counter",
         "Assigned partitions restored from a checkpoint since start.");
  out += fmt::format("roadpulse_worker_restores_total {}\n", s.restores);
  metric("roadpulse_worker_last_restore_seconds", "gauge",
         "Time the last assignment that brought partitions took to read their checkpoints "
         "and restore.");
  out += fmt::format("roadpulse_worker_last_restore_seconds {:.6f}\n", s.last_restore_seconds);
  metric("roadpulse_worker_offset_resets_total", "counter",
         "Checkpointed offsets found deleted by retention: DATA LOSS, alert on any increase.");
  out += fmt::format("roadpulse_worker_offset_resets_total {}\n", s.offset_resets);
  metric("roadpulse_worker_partition_data_loss", "gauge",
         "1: the partition resumed past records deleted before they were counted.");
  for (const PartitionStats& p : s.partitions) {
    out += fmt::format("roadpulse_worker_partition_data_loss{{topic=\"{}\",partition=\"{}\"}} {}\n",
                       p.topic, p.partition, p.data_loss ? 1 : 0);
  }
  return out;
}

}  // namespace roadpulse
