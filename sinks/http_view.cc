#include "sinks/http_view.h"

#include <httplib.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "fmt/format.h"
#include "processors/period.h"
#include "sinks/dashboard_assets.h"
#include "sinks/report.h"
#include "spdlog/spdlog.h"

namespace roadpulse {

using json = nlohmann::ordered_json;

namespace {

// The dashboard's metrics, in the order it shows them: the report's accident
// figures, rural-road accidents (a named concern) and video quick handling
// (the report's 3万余), then the violations.
constexpr Metric kDashboardMetrics[] = {
    Metric::kAccidents,    Metric::kDeaths,       Metric::kInjuries,     Metric::kRuralAccidents,
    Metric::kVideoHandled, Metric::kDrinkDriving, Metric::kDrunkDriving, Metric::kKeyViolations,
};
// The main urban area's own figures in the report: accidents and injuries
// with low-speed electric tricycles and quadricycles (电三电四).
constexpr Metric kMainUrbanMetrics[] = {Metric::kE3E4Accidents, Metric::kE3E4Injuries};

std::string DayText(absl::CivilDay d) { return absl::FormatCivilTime(d); }

// value, last year's value, the change (null with a reason for a zero base).
// `no_base_days`: the same period last year has no day at all (the period
// is 29 February alone).
json ChangeJson(int64_t value, int64_t previous, bool no_base_days = false) {
  const Change c = YearOverYear(value, previous);
  json j;
  j["value"] = value;
  j["last_year"] = previous;
  if (c.percent.has_value()) {
    j["change_percent"] = std::round(*c.percent * 100.0) / 100.0;
    j["change_text"] = FormatPercent(c, 2) + "%";
  } else {
    j["change_percent"] = nullptr;
    j["change_reason"] = no_base_days ? "the same period last year has no day (29 February has "
                                        "no twin): no percentage"
                                      : "last year's value is 0: no percentage";
  }
  return j;
}

json RegionJson(const Region& r) {
  return json{{"code", r.code}, {"name_zh", r.name_zh}, {"name_en", r.name_en}};
}

// Today and this year so far of each of `metrics` (the dashboard's cards by
// default), each against the same period last year.
json FiguresJson(const CountStore& store, const std::string& region, absl::CivilDay today,
                 absl::Span<const Metric> metrics = kDashboardMetrics) {
  const Period day{today, today + 1};
  const Period ytd{absl::CivilDay(absl::CivilYear(today)), today + 1};
  const Period day_ly = SamePeriodLastYear(day);
  const Period ytd_ly = SamePeriodLastYear(ytd);
  const MetricValues v_day = store.SumAll(region, day.from, day.to);
  const MetricValues v_day_ly = store.SumAll(region, day_ly.from, day_ly.to);
  const MetricValues v_ytd = store.SumAll(region, ytd.from, ytd.to);
  const MetricValues v_ytd_ly = store.SumAll(region, ytd_ly.from, ytd_ly.to);
  json today_j = json::object();
  json ytd_j = json::object();
  for (Metric m : metrics) {
    const std::string name(MetricName(m));
    today_j[name] = ChangeJson(At(v_day, m), At(v_day_ly, m), day_ly.from == day_ly.to);
    ytd_j[name] = ChangeJson(At(v_ytd, m), At(v_ytd_ly, m));
  }
  return json{{"today", std::move(today_j)}, {"ytd", std::move(ytd_j)}};
}

json ErrorJson(int status, std::string_view message) {
  return json{{"error", std::string(message)}, {"status", status}};
}

// Prometheus label value escaping.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

absl::Status ParseHostPort(std::string_view text, std::string* host, int* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("\"{}\" is not HOST:PORT", std::string(text)));
  }
  std::string h(text.substr(0, colon));
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "127.0.0.1";
  const std::string p(text.substr(colon + 1));
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("\"{}\": port must be a number 0..65535", std::string(text)));
  }
  *host = h;
  *port = std::stoi(p);
  return absl::OkStatus();
}

absl::StatusOr<json> CountsJson(const ViewSnapshot& snapshot, const CountsQuery& query) {
  const CountStore& store = *snapshot.store;
  const Region* region = store.regions().Find(query.region);
  json j;
  j["metric"] = std::string(MetricName(query.metric));
  j["metric_zh"] = std::string(MetricLabelZh(query.metric));
  j["metric_en"] = std::string(MetricLabelEn(query.metric));
  j["region"] = RegionJson(*region);
  j["window"] = query.window.name;
  if (query.window.rolling) {
    // From the minute and hour buckets, which are kept for about 25 h and 31
    // days: a rolling window has no same period last year to compare with.
    const std::optional<Window> window = WindowFromName(query.window.name);
    if (!window.has_value()) {
      return absl::InvalidArgumentError(fmt::format("window {}: unknown", query.window.name));
    }
    const absl::Time now = absl::Now();
    const CountStore::Range range = store.WindowRange(*window, now);
    j["from_ms"] = absl::ToUnixMillis(range.from);
    j["to_ms"] = absl::ToUnixMillis(range.to);
    j["value"] = store.WindowSum(query.metric, query.region, *window, now);
    j["last_year"] = nullptr;
    j["change_percent"] = nullptr;
    j["change_reason"] =
        "rolling windows are not compared with last year (minute and hour buckets are kept "
        "for about 25 hours and 31 days)";
    j["snapshot_version"] = snapshot.version;
    j["ready"] = snapshot.ready;
    j["latest_publish_ms"] = store.latest_publish_ms();
    return j;
  }
  const Period& p = query.window.period;
  const Period base = SamePeriodLastYear(p);
  j["from"] = DayText(p.from);
  j["to"] = DayText(p.to);  // exclusive
  j["last_year_from"] = DayText(base.from);
  j["last_year_to"] = DayText(base.to);
  j.update(ChangeJson(store.Sum(query.metric, query.region, p.from, p.to),
                      store.Sum(query.metric, query.region, base.from, base.to),
                      base.from == base.to));
  j["snapshot_version"] = snapshot.version;
  j["ready"] = snapshot.ready;
  j["latest_publish_ms"] = store.latest_publish_ms();
  return j;
}

namespace {
// Why the counts cannot be read (null while reading).
json WaitingJson(const ViewSnapshot& snapshot) {
  return snapshot.waiting.empty() ? json(nullptr) : json(snapshot.waiting);
}
}  // namespace

json SummaryJson(const ViewSnapshot& snapshot, absl::Time now, absl::Duration stale_after) {
  const CountStore& store = *snapshot.store;
  const RegionTable& regions = store.regions();
  const absl::TimeZone& tz = regions.zone();
  const absl::CivilDay today = absl::ToCivilDay(now, tz);
  json j;
  j["snapshot_version"] = snapshot.version;
  j["ready"] = snapshot.ready;
  j["waiting"] = WaitingJson(snapshot);
  j["now_ms"] = absl::ToUnixMillis(now);
  j["today"] = DayText(today);
  j["time_zone"] = regions.time_zone();
  j["latest_publish_ms"] = store.latest_publish_ms();
  j["stale_after_s"] = absl::ToDoubleSeconds(stale_after);
  j["stale"] = store.latest_publish_ms() == 0 ||
               now - absl::FromUnixMillis(store.latest_publish_ms()) > stale_after;
  auto labels = [](absl::Span<const Metric> metrics) {
    json out = json::array();
    for (Metric m : metrics) {
      out.push_back(json{{"id", std::string(MetricName(m))},
                         {"zh", std::string(MetricLabelZh(m))},
                         {"en", std::string(MetricLabelEn(m))}});
    }
    return out;
  };
  j["metrics"] = labels(kDashboardMetrics);
  json city = RegionJson(regions.city());
  city.update(FiguresJson(store, regions.city().code, today));
  j["city"] = std::move(city);
  j["main_urban_metrics"] = labels(kMainUrbanMetrics);
  json main_urban = RegionJson(regions.main_urban());
  main_urban.update(FiguresJson(store, regions.main_urban().code, today, kMainUrbanMetrics));
  j["main_urban"] = std::move(main_urban);
  json rows = json::array();
  for (const Region* r : regions.Counties()) {
    json row = RegionJson(*r);
    row.update(FiguresJson(store, r->code, today));
    rows.push_back(std::move(row));
  }
  j["regions"] = std::move(rows);
  // Accidents per clock hour over the last 24 h (the current hour so far),
  // from the hour and minute buckets.
  const int64_t this_hour = absl::ToUnixSeconds(now) / 3600 * 3600;
  json hours = json::array();
  for (int i = 23; i >= 0; --i) {
    const int64_t h = this_hour - int64_t{i} * 3600;
    const MetricValues v = store.SumInstants(regions.city().code, absl::FromUnixSeconds(h),
                                             absl::FromUnixSeconds(h + 3600));
    hours.push_back(json{{"start_ms", h * 1000}, {"accidents", At(v, Metric::kAccidents)}});
  }
  j["last_24h"] = json{{"metric", "accidents"}, {"hours", std::move(hours)}};
  return j;
}

std::string ViewMetricsText(const ViewSnapshot& snapshot, absl::Time now,
                            absl::Duration stale_after) {
  const CountStore& store = *snapshot.store;
  const RegionTable& regions = store.regions();
  const absl::TimeZone& tz = regions.zone();
  const absl::CivilDay today = absl::ToCivilDay(now, tz);
  const Period windows[] = {{today, today + 1}, {absl::CivilDay(absl::CivilYear(today)), today + 1}};
  const char* window_names[] = {"today", "ytd"};
  std::vector<const Region*> units = {&regions.city(), &regions.main_urban()};
  for (const Region* r : regions.Counties()) units.push_back(r);

  std::string cur =
      "# HELP roadpulse_figure Count of a metric in a region and window (today, ytd: 1 January "
      "to today), summed over source partitions.\n# TYPE roadpulse_figure gauge\n";
  std::string prev =
      "# HELP roadpulse_figure_last_year The same count for the same period last year.\n"
      "# TYPE roadpulse_figure_last_year gauge\n";
  for (int w = 0; w < 2; ++w) {
    const Period base = SamePeriodLastYear(windows[w]);
    for (const Region* r : units) {
      const MetricValues v = store.SumAll(r->code, windows[w].from, windows[w].to);
      const MetricValues b = store.SumAll(r->code, base.from, base.to);
      for (Metric m : AllMetrics()) {
        const std::string labels = fmt::format("{{metric=\"{}\",region=\"{}\",window=\"{}\"}}",
                                               std::string(MetricName(m)), Label(r->code),
                                               window_names[w]);
        cur += fmt::format("roadpulse_figure{} {}\n", labels, At(v, m));
        prev += fmt::format("roadpulse_figure_last_year{} {}\n", labels, At(b, m));
      }
    }
  }
  std::string out = cur + prev;
  const int64_t latest = store.latest_publish_ms();
  const double publish_age =
      latest == 0 ? -1 : absl::ToDoubleSeconds(now - absl::FromUnixMillis(latest));
  out += fmt::format(
      "# HELP roadpulse_view_ready 1 once the view has read roadpulse.counts to its end.\n"
      "# TYPE roadpulse_view_ready gauge\nroadpulse_view_ready {}\n"
      "# HELP roadpulse_view_records_read_total Count records read from roadpulse.counts.\n"
      "# TYPE roadpulse_view_records_read_total counter\nroadpulse_view_records_read_total {}\n"
      "# HELP roadpulse_view_records_refused_total Count records the view could not apply.\n"
      "# TYPE roadpulse_view_records_refused_total counter\n"
      "roadpulse_view_records_refused_total {}\n"
      "# HELP roadpulse_view_count_keys Distinct count record keys held.\n"
      "# TYPE roadpulse_view_count_keys gauge\nroadpulse_view_count_keys {}\n"
      "# HELP roadpulse_view_snapshot_version Snapshots published since start.\n"
      "# TYPE roadpulse_view_snapshot_version gauge\nroadpulse_view_snapshot_version {}\n"
      "# HELP roadpulse_view_snapshot_age_seconds Age of the snapshot being served.\n"
      "# TYPE roadpulse_view_snapshot_age_seconds gauge\n"
      "roadpulse_view_snapshot_age_seconds {:.3f}\n"
      "# HELP roadpulse_view_last_publish_age_seconds Time since a worker published the newest "
      "count the view holds (-1: none yet).\n"
      "# TYPE roadpulse_view_last_publish_age_seconds gauge\n"
      "roadpulse_view_last_publish_age_seconds {:.3f}\n"
      "# HELP roadpulse_view_stale 1 when no count was published for longer than the stale "
      "limit.\n# TYPE roadpulse_view_stale gauge\nroadpulse_view_stale {}\n",
      snapshot.ready ? 1 : 0, snapshot.reads.records, snapshot.reads.invalid,
      store.record_count(), snapshot.version,
      snapshot.taken_at == absl::InfinitePast() ? 0.0
                                                : absl::ToDoubleSeconds(now - snapshot.taken_at),
      publish_age,
      (latest == 0 || now - absl::FromUnixMillis(latest) > stale_after) ? 1 : 0);
  return out;
}

namespace sinks_internal {

// An httplib server on its own listening thread.
class HttpServerImpl {
 public:
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::string host;
  std::atomic<bool> stopping{false};

  absl::Status Listen(const std::string& h, int p, int threads) {
    host = h;
    server.new_task_queue = [threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server.set_keep_alive_max_count(100);
    server.set_read_timeout(5, 0);
    server.set_write_timeout(5, 0);
    server.set_payload_max_length(64 * 1024);
    // SO_REUSEADDR only: a restarted view takes its port back while the old
    // one's connections linger in TIME_WAIT. Not httplib's default
    // SO_REUSEPORT, with which a second view (or worker) on a port already
    // listened on would start too and take about half the connections,
    // token or no token.
    server.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Why binding failed, from errno (the bind or the name lookup).
    auto cannot_listen = [&h](int port_asked) {
      const int err = errno;
      std::string why = err != 0 ? std::string(": ") + std::strerror(err) : "";
      if (err == EADDRINUSE) why += " (another process has it; port 0 picks a free one)";
      return absl::UnavailableError(fmt::format("cannot listen on {}:{}{}", h, port_asked, why));
    };
    errno = 0;
    if (p == 0) {
      port = server.bind_to_any_port(h);
      if (port < 0) return cannot_listen(0);
    } else {
      if (!server.bind_to_port(h, p)) return cannot_listen(p);
      port = p;
    }
    thread = std::thread([this] { server.listen_after_bind(); });
    return absl::OkStatus();
  }

  void Stop() {
    stopping.store(true);
    if (thread.joinable()) {
      server.stop();
      thread.join();
    }
  }
  ~HttpServerImpl() { Stop(); }
};

}  // namespace sinks_internal

namespace {

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json; charset=utf-8");
}

void SendError(httplib::Response& res, int status, std::string_view message) {
  SendJson(res, status, ErrorJson(status, message));
}
void SendError(httplib::Response& res, int status, const absl::Status& error) {
  SendError(res, status, std::string(error.message()));
}

// The raw query of the request target ("" when none).
std::string_view RawQuery(const httplib::Request& req) {
  std::string_view target(req.target);
  const size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Whether the request carries `token` (any request does when it is empty):
// "Authorization: Bearer TOKEN", or ?access_token= without a header.
bool Authenticated(const httplib::Request& req, const std::string& token) {
  if (token.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  bool ok = auth.size() > 7 && auth.compare(0, 7, "Bearer ") == 0 &&
            ConstantTimeEquals(std::string_view(auth).substr(7), token);
  if (!ok && auth.empty()) {
    absl::StatusOr<QueryParams> params = ParseQueryString(RawQuery(req));
    if (params.ok()) {
      auto it = params->find("access_token");
      ok = it != params->end() && ConstantTimeEquals(it->second, token);
    }
  }
  return ok;
}

// The common front: methods, authentication. Returns true when handled (refused).
bool Refuse(const httplib::Request& req, httplib::Response& res, const std::string& token,
            bool allow_unauthenticated) {
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    SendError(res, 405, fmt::format("method {} not allowed: the view is read-only", req.method));
    return true;
  }
  if (allow_unauthenticated || Authenticated(req, token)) return false;
  res.set_header("WWW-Authenticate", "Bearer realm=\"roadpulse\"");
  SendError(res, 401,
            req.get_header_value("Authorization").empty()
                ? "missing bearer token (Authorization: Bearer TOKEN)"
                : "wrong bearer token");
  return true;
}

void InstallErrorHandler(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    SendError(res, res.status,
              res.status == 404 ? fmt::format("no such endpoint: {}", req.path)
                                : fmt::format("HTTP {}", res.status));
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = fmt::format("internal error: {}", e.what());
        } catch (...) {
        }
        SendError(res, 500, what);
      });
}

}  // namespace

HttpView::HttpView(std::unique_ptr<sinks_internal::HttpServerImpl> impl)
    : impl_(std::move(impl)) {}
HttpView::~HttpView() { Stop(); }
int HttpView::port() const { return impl_->port; }
std::string HttpView::url() const {
  const bool v6 = impl_->host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/", v6 ? "[" : "", impl_->host, v6 ? "]" : "",
                     impl_->port);
}
void HttpView::Stop() { impl_->Stop(); }

absl::StatusOr<std::unique_ptr<HttpView>> HttpView::Start(const HttpViewOptions& options,
                                                          const CountView& view) {
  auto impl = std::make_unique<sinks_internal::HttpServerImpl>();
  httplib::Server& s = impl->server;
  sinks_internal::HttpServerImpl* raw = impl.get();
  const HttpViewOptions opt = options;
  const CountView* v = &view;

  s.set_pre_routing_handler([opt](const httplib::Request& req, httplib::Response& res) {
    // Liveness and readiness answer probes that carry no secret (a
    // Kubernetes httpGet probe cannot read one); /readyz then leaves out
    // why it is not ready.
    return Refuse(req, res, opt.token, req.path == "/healthz" || req.path == "/readyz")
               ? httplib::Server::HandlerResponse::Handled
               : httplib::Server::HandlerResponse::Unhandled;
  });
  InstallErrorHandler(s);

  // Parses the raw query; on error answers 400 and returns nullopt.
  auto params_of = [](const httplib::Request& req,
                      httplib::Response& res) -> std::optional<QueryParams> {
    absl::StatusOr<QueryParams> p = ParseQueryString(RawQuery(req));
    if (!p.ok()) {
      SendError(res, 400, p.status());
      return std::nullopt;
    }
    return *std::move(p);
  };
  auto today = [v] { return absl::ToCivilDay(absl::Now(), v->time_zone()); };

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, json{{"status", "ok"}});
  });
  s.Get("/readyz", [v, opt](const httplib::Request& req, httplib::Response& res) {
    auto snap = v->snapshot();
    json body{{"ready", snap->ready}};
    if (Authenticated(req, opt.token)) {  // why not, and how far: for the token's holders
      body["waiting"] = WaitingJson(*snap);
      body["records_read"] = snap->reads.records;
      body["snapshot_version"] = snap->version;
    }
    SendJson(res, snap->ready ? 200 : 503, body);
  });
  s.Get("/api/v1/counts", [v, params_of, today](const httplib::Request& req,
                                                httplib::Response& res) {
    std::optional<QueryParams> params = params_of(req, res);
    if (!params) return;
    absl::StatusOr<CountsQuery> q = ParseCountsQuery(*params, v->regions(), today());
    if (!q.ok()) return SendError(res, 400, q.status());
    absl::StatusOr<json> body = CountsJson(*v->snapshot(), *q);
    if (absl::IsUnimplemented(body.status())) return SendError(res, 501, body.status());
    if (!body.ok()) return SendError(res, 500, body.status());
    SendJson(res, 200, *body);
  });
  s.Get("/api/v1/report", [v, params_of, today](const httplib::Request& req,
                                                httplib::Response& res) {
    std::optional<QueryParams> params = params_of(req, res);
    if (!params) return;
    absl::StatusOr<ReportQuery> q = ParseReportQuery(*params, v->regions(), today());
    if (!q.ok()) return SendError(res, 400, q.status());
    auto snap = v->snapshot();
    absl::StatusOr<Report> report = BuildReport(*snap->store, q->region, q->period, q->language);
    if (!report.ok()) return SendError(res, 400, report.status());
    res.set_header("Cache-Control", "no-store");
    switch (q->format) {
      case ReportFormat::kJson: {
        json j = ReportToJson(*report);
        j["snapshot_version"] = snap->version;
        // A period without a count, while the counts lie elsewhere: where
        // they are, and the period to ask for (as `report` warns). The walk
        // over the store's days only for such a period.
        if (const std::optional<EmptyPeriod> empty =
                HasNoCount(*report) ? FindEmptyPeriod(*report, snap->store->DaysWithCounts())
                                    : std::nullopt;
            empty.has_value()) {
          json e;
          if (empty->counts.has_value()) {
            e["counts"] = {{"from", DayText(empty->counts->from)},
                           {"to_exclusive", DayText(empty->counts->to)}};
            e["suggested"] = {{"from", DayText(empty->suggested.from)},
                              {"to", DayText(empty->suggested.to)}};
          } else {
            e["counts"] = nullptr;
          }
          j["empty_period"] = std::move(e);
        }
        return SendJson(res, 200, j);
      }
      case ReportFormat::kText:
        return res.set_content(RenderReport(*report, q->format), "text/plain; charset=utf-8");
      case ReportFormat::kMarkdown:
        return res.set_content(RenderReport(*report, q->format), "text/markdown; charset=utf-8");
      case ReportFormat::kCsv:
        return res.set_content(RenderReport(*report, q->format, q->bom), "text/csv; charset=utf-8");
    }
  });
  s.Get("/api/v1/summary", [v, opt, params_of](const httplib::Request& req,
                                               httplib::Response& res) {
    std::optional<QueryParams> params = params_of(req, res);
    if (!params) return;
    SendJson(res, 200, SummaryJson(*v->snapshot(), absl::Now(), opt.stale_after));
  });
  s.Get("/api/v1/stream", [v, opt, raw](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    auto last = std::make_shared<uint64_t>(0);
    res.set_chunked_content_provider(
        "text/event-stream", [v, opt, raw, last](size_t, httplib::DataSink& sink) {
          if (raw->stopping.load()) return false;
          // The first event is immediate; then on change or every heartbeat.
          // Short waits, so that stopping the server is not held up.
          auto snap = v->snapshot();
          const absl::Time until = absl::Now() + opt.stream_heartbeat;
          while (*last != 0 && snap->version <= *last && absl::Now() < until) {
            if (raw->stopping.load()) return false;
            snap = v->WaitNewer(*last, absl::Milliseconds(250));
          }
          if (raw->stopping.load()) return false;
          *last = std::max<uint64_t>(snap->version, 1);
          const std::string data =
              SummaryJson(*snap, absl::Now(), opt.stale_after)
                  .dump(-1, ' ', false, json::error_handler_t::replace);
          const std::string event = fmt::format("event: summary\nid: {}\ndata: {}\n\n",
                                                snap->version, data);
          return sink.write(event.data(), event.size());
        });
  });
  s.Get("/metrics", [v, opt](const httplib::Request&, httplib::Response& res) {
    std::string text = ViewMetricsText(*v->snapshot(), absl::Now(), opt.stale_after);
    if (opt.extra_metrics) text += opt.extra_metrics();
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get(R"(/(|index\.html|app\.js|style\.css))",
        [](const httplib::Request& req, httplib::Response& res) {
          const DashboardAsset* asset =
              FindDashboardAsset(req.path == "/" ? "/index.html" : req.path);
          if (asset == nullptr) return SendError(res, 404, "no such file");
          res.set_header("Cache-Control", "no-cache");
          res.set_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
          res.set_content(std::string(asset->body), asset->content_type);
        });

  if (absl::Status st = impl->Listen(options.host, options.port, options.threads); !st.ok()) {
    return st;
  }
  return std::unique_ptr<HttpView>(new HttpView(std::move(impl)));
}

MetricsServer::~MetricsServer() = default;
int MetricsServer::port() const { return impl_->port; }

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& host, int port, std::function<std::string()> metrics,
    std::function<bool()> healthy) {
  auto impl = std::make_unique<sinks_internal::HttpServerImpl>();
  httplib::Server& s = impl->server;
  s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    return Refuse(req, res, "", true) ? httplib::Server::HandlerResponse::Handled
                                      : httplib::Server::HandlerResponse::Unhandled;
  });
  InstallErrorHandler(s);
  s.Get("/healthz", [healthy](const httplib::Request&, httplib::Response& res) {
    const bool ok = !healthy || healthy();
    SendJson(res, ok ? 200 : 503, json{{"status", ok ? "ok" : "failing"}});
  });
  s.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (absl::Status st = impl->Listen(host, port, 4); !st.ok()) return st;
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->impl_ = std::move(impl);
  return server;
}

}  // namespace roadpulse
