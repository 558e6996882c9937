#!/usr/bin/python3
"""Live-view integration test (issue 5): broker + generate + `run --http` +
two `serve` replicas (with a bearer token), then:
  - bad requests get 400 with a JSON error naming the problem; rolling
    windows 501; other methods 405; a wrong or missing token 401, except
    /healthz and /readyz (which then says only whether it is ready);
  - the two replicas give identical numbers;
  - Debian's prometheus scrapes the worker and a view on loopback and its
    HTTP API returns a business count equal to /api/v1/counts;
  - `promtool check metrics` passes on both /metrics outputs.

Usage: view_test.py --roadpulse BIN
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import kafka_harness as h
import view_harness as v

TOKEN = "s3cret-token"


def check_empty_period(base, truth_path, failures):
    """A report for a period without a single count says where the counts
    lie: the first and last day with a count in the generator's manifest."""
    with open(truth_path) as f:
        counts = json.load(f)["counts"]
    days = sorted({day for unit in counts.values() for day, metrics in unit.items()
                   if any(metrics.values())})
    after_last = (datetime.date.fromisoformat(days[-1]) + datetime.timedelta(days=1)).isoformat()
    expected = {"counts": {"from": days[0], "to_exclusive": after_last},
                "suggested": {"from": days[-1][:4] + "-01-01", "to": after_last}}
    status, body = v.get_json(base + "/api/v1/report?from=2020-01-01&to=2020-02-01", TOKEN)
    got = body.get("empty_period")
    if status != 200 or got != expected:
        failures.append("/api/v1/report for 2020-01: %d, empty_period %r; the manifest's days "
                        "give %r" % (status, got, expected))
    else:
        h.log("report for 2020-01: empty_period %s, as the manifest's %d days with counts" %
              (json.dumps(got), len(days)))


def check_errors(base, failures):
    cases = [
        ("/api/v1/counts?metric=bogus", 400, "unknown metric"),
        ("/api/v1/counts", 400, "metric: required"),
        ("/api/v1/counts?metric=accidents&region=999999", 400, "unknown region"),
        ("/api/v1/counts?metric=accidents&window=2025-02-30..2025-03-01", 400, "not a day of the calendar"),
        ("/api/v1/counts?metric=accidents&window=2025-13-01..2025-12-01", 400, "not a day of the calendar"),
        ("/api/v1/counts?metric=accidents&window=2025-05-01..2025-01-01", 400, "is after"),
        ("/api/v1/counts?metric=accidents&window=1990-01-01..2025-01-01", 400, "longer than a year"),
        ("/api/v1/report?from=2024-01-01&to=2025-09-01", 400, "longer than a year"),
        ("/api/v1/counts?metric=accidents&window=yesterday", 400, "window"),
        ("/api/v1/counts?metric=accidents&metric=deaths", 400, "given twice"),
        ("/api/v1/counts?metric=accidents&x%zz=1", 400, "%-escape"),
        ("/api/v1/counts?metric=accidents&color=red", 400, "unknown query parameter"),
        ("/api/v1/report?from=2025-09-01&to=2025-01-01", 400, "is after"),
        ("/api/v1/report?from=20250101", 400, "YYYY-MM-DD"),
        ("/api/v1/report?lang=fr", 400, "lang"),
        ("/api/v1/report?format=pdf", 400, "format"),
        ("/api/v1/nothing", 404, "no such endpoint"),
    ]
    for path, want, text in cases:
        status, body, headers = v.get(base + path, TOKEN)
        try:
            err = json.loads(body)["error"]
        except Exception:  # noqa: BLE001
            err = None
        if status != want or err is None or text not in err:
            failures.append("%s: got %d %r, want %d with %r" % (path, status, body[:200], want, text))
    for w in ("1h", "24h", "7d", "30d"):
        status, body = v.get_json(base + "/api/v1/counts?metric=accidents&window=" + w, TOKEN)
        if status != 200 or body["last_year"] is not None or "rolling" not in body["change_reason"]:
            failures.append("window %s: got %d %s" % (w, status, body))
    status, body, _ = v.get(base + "/api/v1/counts?metric=accidents", TOKEN, method="POST")
    if status != 405:
        failures.append("POST: got %d, want 405" % status)
    for token, what in ((None, "missing"), ("wrong", "wrong")):
        for path in ("/api/v1/counts?metric=accidents", "/metrics", "/", "/api/v1/stream"):
            status, body, headers = v.get(base + path, token)
            if status != 401 or "error" not in json.loads(body):
                failures.append("%s token on %s: got %d, want 401 JSON" % (what, path, status))
    if v.get(base + "/healthz")[0] != 200:
        failures.append("/healthz must answer without a token")
    # A Kubernetes probe carries no secret: /readyz answers it, with `ready`
    # alone; with the token, also why it is not ready and how far it read.
    status, body, _ = v.get(base + "/readyz")
    with_token = v.get_json(base + "/readyz", TOKEN)[1]
    if status != 200 or json.loads(body) != {"ready": True} or \
            not {"ready", "waiting", "records_read"} <= set(with_token):
        failures.append("/readyz: without the token %d %r, with it %r" % (status, body,
                                                                           with_token))
    status, _, _ = v.get(base + "/api/v1/counts?metric=accidents&access_token=" + TOKEN)
    if status != 200:
        failures.append("?access_token= refused: %d" % status)
    h.log("error cases checked: %d" % (len(cases) + 12))


def promtool(text, name, failures):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        failures.append("promtool check metrics on %s: %s %s" % (name, r.stdout, r.stderr))
    else:
        h.log("promtool check metrics: %s OK" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    args = ap.parse_args()
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            h.fail("%s is missing: run deploy/setup.sh" % tool)
    failures = []
    with tempfile.TemporaryDirectory(prefix="roadpulse-view-") as tmp, \
            h.broker(args.roadpulse, partitions=4) as servers, v.Procs() as procs:
        worker_port = v.free_port()
        v.pipeline(procs, args.roadpulse, tmp, servers, worker_http="127.0.0.1:%d" % worker_port)
        worker = "http://127.0.0.1:%d" % worker_port
        # Let the worker finish the history, then start the replicas.
        v.wait_for("the worker to catch up", lambda: "roadpulse_worker_consumer_lag{" in
                   v.get(worker + "/metrics")[1].decode() and all(
                       line.endswith(" 0") for line in v.get(worker + "/metrics")[1].decode()
                       .splitlines() if line.startswith("roadpulse_worker_consumer_lag{")), 180)
        time.sleep(1)
        bases = [v.serve(procs, args.roadpulse, tmp, servers, v.free_port(), "serve%d" % i,
                         ["--token", TOKEN]) for i in (1, 2)]
        for b in bases:
            v.wait_for(b + " ready", lambda: v.get(b + "/readyz", TOKEN)[0] == 200, 120)
        def settled():
            a = v.get_json(bases[0] + "/api/v1/counts?metric=key_violations&window=ytd", TOKEN)[1]
            time.sleep(1.5)
            b = v.get_json(bases[0] + "/api/v1/counts?metric=key_violations&window=ytd", TOKEN)[1]
            return a["value"] > 0 and a["value"] == b["value"]
        v.wait_for("the counts to settle", settled, 180)
        check_errors(bases[0], failures)

        # Replicas: identical numbers (the input is complete, so nothing moves).
        queries = ["metric=%s&region=%s&window=%s" % (m, r, w)
                   for m in ("accidents", "deaths", "injuries", "drink_driving", "key_violations")
                   for r in ("371600", "371602", "371681", "371600-main")
                   for w in ("today", "month", "ytd", "2025-01-01..2025-09-01")]
        answers = [[v.get_json(b + "/api/v1/counts?" + q, TOKEN)[1] for q in queries]
                   for b in bases]
        for q, a, b in zip(queries, *answers):
            if (a["value"], a["last_year"], a["change_percent"]) != \
                    (b["value"], b["last_year"], b["change_percent"]):
                failures.append("replicas differ on %s: %s vs %s" % (q, a, b))
        reports = [v.get(b + "/api/v1/report?from=2025-01-01&to=2025-09-01", TOKEN)[1]
                   for b in bases]
        if json.loads(reports[0])["rows"] != json.loads(reports[1])["rows"]:
            failures.append("replicas give different reports")
        if "empty_period" in json.loads(reports[0]):
            failures.append("a report with counts carries empty_period: %s" %
                            json.loads(reports[0])["empty_period"])
        check_empty_period(bases[0], os.path.join(tmp, "truth.json"), failures)
        ytd = answers[0][queries.index("metric=accidents&region=371600&window=ytd")]
        h.log("replicas agree on %d queries and the report; city accidents ytd %d (last year "
              "%d, %s)" % (len(queries), ytd["value"], ytd["last_year"], ytd.get("change_text")))
        if ytd["value"] <= 0:
            failures.append("no accidents this year: the test data did not arrive")

        # promtool on both outputs.
        promtool(v.get(worker + "/metrics")[1].decode(), "worker", failures)
        promtool(v.get(bases[0] + "/metrics", TOKEN)[1].decode(), "view", failures)

        # Prometheus on loopback scraping both.
        prom_port = v.free_port()
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN)
        view_hostport = bases[0].split("//")[1]
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: worker
    static_configs: [{targets: ['127.0.0.1:%d']}]
  - job_name: view
    authorization: {type: Bearer, credentials_file: '%s'}
    static_configs: [{targets: ['%s']}]
""" % (worker_port, token_file, view_hostport))
        procs.start(["prometheus", "--config.file=" + config,
                     "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                     "--web.listen-address=127.0.0.1:%d" % prom_port,
                     "--web.enable-lifecycle"], "prometheus", os.path.join(tmp, "prometheus.log"))
        prom = "http://127.0.0.1:%d" % prom_port

        def query(expr):
            status, body = v.get_json(prom + "/api/v1/query?query=" + urllib.parse.quote(expr))
            res = body.get("data", {}).get("result", [])
            return res if status == 200 and res else None

        expr = 'roadpulse_figure{job="view",metric="accidents",region="371600",window="ytd"}'
        res = v.wait_for("prometheus to scrape the view", lambda: query(expr), 60)
        prom_value = int(float(res[0]["value"][1]))
        api_value = v.get_json(bases[0] + "/api/v1/counts?metric=accidents&region=371600&window=ytd",
                               TOKEN)[1]["value"]
        h.log("prometheus: %s = %d; /api/v1/counts = %d" % (expr, prom_value, api_value))
        if prom_value != api_value:
            failures.append("prometheus says %d, the API %d" % (prom_value, api_value))
        worker_res = v.wait_for("prometheus to scrape the worker", lambda: query(
            'sum(roadpulse_worker_records_consumed_total{job="worker"})'), 60)
        h.log("prometheus: worker records consumed = %s" % worker_res[0]["value"][1])
        up = query('up')
        h.log("prometheus targets up: %s" % sorted((r["metric"]["job"], r["value"][1]) for r in up))
        if not up or any(r["value"][1] != "1" for r in up):
            failures.append("a prometheus target is down: %s" % up)
    if failures:
        h.fail("\n".join(failures))
    h.log("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
