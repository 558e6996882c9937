// Prometheus text for a worker's own health (`roadpulse run --http`,
// `roadpulse demo`): events consumed, DLQ records by reason, consumer lag per
// partition, publish latency. Checkpoint age is added once checkpoints exist.
#ifndef ROADPULSE_SINKS_WORKER_METRICS_H_
#define ROADPULSE_SINKS_WORKER_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "ingest/worker.h"

namespace roadpulse {

std::string WorkerMetricsText(const WorkerStats& stats, absl::Time now);
// What a worker serves while it sets up (connects, learns its topics), before
// it has any stats: roadpulse_worker_starting 1. WorkerMetricsText says 0.
std::string WorkerStartingMetricsText();

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_WORKER_METRICS_H_
