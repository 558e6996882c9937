// HttpView: the HTTP face of a CountView (`roadpulse serve`, `roadpulse demo`).
//
//   GET /api/v1/counts?metric=&region=&window=   one figure, last year's, the change
//   GET /api/v1/report?from=&to=&region=&lang=&format=&bom=   the report (sinks/report.h)
//   GET /api/v1/summary                          what the dashboard shows, as JSON
//   GET /api/v1/stream                           Server-Sent Events: the summary on change
//   GET /metrics                                 Prometheus text format
//   GET /healthz, /readyz                        alive; caught up with roadpulse.counts
//                                                (503 while not; "waiting" says why when
//                                                the topic cannot be read)
//   GET /                                        the dashboard (embedded, no CDN)
//
// Security: binds 127.0.0.1 unless told otherwise; read-only (GET and HEAD,
// anything else is 405); with a token every endpoint except /healthz wants
// "Authorization: Bearer TOKEN" (or ?access_token=TOKEN, for the browser's
// EventSource which cannot set headers), else 401. Errors are JSON:
// {"error": "...", "status": N}.
#ifndef ROADPULSE_SINKS_HTTP_VIEW_H_
#define ROADPULSE_SINKS_HTTP_VIEW_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "sinks/count_view.h"
#include "sinks/view_query.h"

namespace roadpulse {

namespace sinks_internal {
class HttpServerImpl;
}  // namespace sinks_internal

// Splits "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080" = 127.0.0.1).
absl::Status ParseHostPort(std::string_view text, std::string* host, int* port);

struct HttpViewOptions {
  // Address to listen on; port 0 picks a free port (see HttpView::port()).
  std::string host = "127.0.0.1";
  int port = 8080;
  // Bearer token required by every endpoint except /healthz; empty: none.
  std::string token;
  // The dashboard and /metrics call the data stale when the newest count was
  // published longer ago than this.
  absl::Duration stale_after = absl::Seconds(30);
  // The stream sends the summary at least this often (heartbeat).
  absl::Duration stream_heartbeat = absl::Seconds(5);
  // Worker threads serving requests (each open stream holds one).
  int threads = 32;
  // Extra Prometheus text appended to /metrics (e.g. the demo's worker); may be empty.
  std::function<std::string()> extra_metrics;
};

// Serves the endpoints above from `view`'s snapshots.
class HttpView {
 public:
  // Binds the port (kUnavailable when it cannot) and starts serving on a
  // thread of its own. `view` must outlive the object.
  static absl::StatusOr<std::unique_ptr<HttpView>> Start(const HttpViewOptions& options,
                                                         const CountView& view);
  ~HttpView();  // stops serving
  HttpView(const HttpView&) = delete;
  HttpView& operator=(const HttpView&) = delete;

  int port() const;
  // "http://HOST:PORT/".
  std::string url() const;
  void Stop();

 private:
  explicit HttpView(std::unique_ptr<sinks_internal::HttpServerImpl> impl);
  std::unique_ptr<sinks_internal::HttpServerImpl> impl_;
};

// The pieces behind the endpoints, for tests and other front ends.

// /api/v1/counts: calendar windows with last year's value and the change;
// rolling windows (1h, 24h, 7d, 30d, ending now) with the value only.
absl::StatusOr<nlohmann::ordered_json> CountsJson(const ViewSnapshot& snapshot,
                                                  const CountsQuery& query);
// /api/v1/summary: per metric of the dashboard, today and this year so far
// against last year, for the city and each county-level unit; and the main
// urban area's 电三电四 accidents and injuries ("main_urban_metrics",
// "main_urban"), as the report gives them.
nlohmann::ordered_json SummaryJson(const ViewSnapshot& snapshot, absl::Time now,
                                   absl::Duration stale_after);
// /metrics of the view: business gauges and the view's health.
std::string ViewMetricsText(const ViewSnapshot& snapshot, absl::Time now,
                            absl::Duration stale_after);

// A minimal server for a worker (`roadpulse run --http`): /metrics from
// `metrics()` and /healthz; GET only.
class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& host, int port, std::function<std::string()> metrics,
      std::function<bool()> healthy);
  ~MetricsServer();
  int port() const;

 private:
  MetricsServer() = default;
  std::unique_ptr<sinks_internal::HttpServerImpl> impl_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_HTTP_VIEW_H_
