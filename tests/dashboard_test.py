#!/usr/bin/python3
"""End-to-end browser test of the dashboard (issue 5).

`roadpulse demo` (the default; or, with --target pipeline, broker + generate
(this year's history, then live events) + run + serve), then Debian's
chromium, headless, driven over the DevTools protocol (standard library only):
the page renders, receives a live update over /api/v1/stream without a reload,
and every number it shows (cards, the main urban area's 电三电四 strip and the
county table) equals /api/v1/counts; the report panel shows /api/v1/report's
sentences and its CSV link gives the report's CSV after a UTF-8 BOM, in
Chinese and in English; in both, at 1600x1000, 1500x900, 1280x800, 1024x768
and 390x844, every metric has a card and a table column, the strip has its
figures, and the layout holds (check_layout). Saves a screenshot and prints
its path. Then a `serve` whose broker cannot be reached: the page shows the
waiting banner with /readyz's reason, in Chinese and in English; and a
`serve` whose counts topic is empty: the report panel says there are no
counts yet.

Usage: dashboard_test.py --roadpulse BIN [--target demo|pipeline] [--screenshot PATH]
"""
import argparse
import base64
import contextlib
import json
import os
import re
import sys
import tempfile
import time

import kafka_harness as h
import view_harness as v

PAGE_NUMBERS = """JSON.stringify({
  version: Number(document.getElementById('app').getAttribute('data-version')),
  state: document.getElementById('app').getAttribute('data-state'),
  title: document.getElementById('title').textContent,
  numbers: Array.from(document.querySelectorAll('[data-metric]')).map(e => ({
    metric: e.dataset.metric, region: e.dataset.region, window: e.dataset.window,
    text: e.textContent}))})"""


def freshness(base, tmp):
    """What the server says about the age of its counts, and the demo
    worker's progress, for a failure message."""
    parts = []
    try:
        summary = v.get_json(base + "/api/v1/summary")[1]
        latest = summary.get("latest_publish_ms") or 0
        parts.append("server: newest count published %.1f s ago (stale after %s s, stale=%s)" %
                     ((summary["now_ms"] - latest) / 1000.0, summary.get("stale_after_s"),
                      summary.get("stale")))
        metrics = v.get(base + "/metrics")[1].decode()
        parts += [line for line in metrics.splitlines() if line.startswith(
            ("roadpulse_worker_rebalances_total", "roadpulse_worker_records_consumed_total",
             "roadpulse_worker_last_publish_seconds"))]
    except Exception as e:  # noqa: BLE001 (a diagnosis only)
        parts.append("no summary: %r" % e)
    try:
        with open(os.path.join(tmp, "demo-internal.log"), errors="replace") as f:
            warnings = [line.rstrip() for line in f if "warn" in line or "error" in line]
        parts.append("demo log warnings/errors (last 10):\n  " + "\n  ".join(warnings[-10:]))
    except OSError as e:
        parts.append("no demo log: %r" % e)
    return "\n".join(parts)


REPORT_PANEL = """JSON.stringify({
  version: document.getElementById('report-text').getAttribute('data-version'),
  sentences: Array.from(document.querySelectorAll('#report-text p:not(.report-hint)'))
    .map(p => p.textContent),
  hint: (document.getElementById('report-hint') || {}).textContent || null,
  csv: document.getElementById('dl-csv').href,
  csv_name: document.getElementById('dl-csv').getAttribute('download'),
  md: document.getElementById('dl-md').href})"""


BANNER = "JSON.stringify({state: document.getElementById('app').getAttribute('data-state'), " \
    "badge: document.getElementById('badge').textContent, " \
    "text: document.getElementById('stale').textContent, " \
    "hidden: document.getElementById('stale').classList.contains('hidden')})"


def check_today_bases(cdp, base):
    """Today is not over: each of today's figures is set beside last year's
    whole same day, as a count (that of /api/v1/counts?window=today), not a
    percentage of part of a day against a whole one."""
    bases = json.loads(cdp.evaluate(
        "JSON.stringify(Array.from(document.querySelectorAll('[data-ly-metric]')).map(e => ({"
        "metric: e.dataset.lyMetric, region: e.dataset.lyRegion, text: e.textContent, "
        "whole: e.parentElement.textContent})))"))
    problems = []
    for b in bases:
        body = v.get_json(base + "/api/v1/counts?metric=%s&region=%s&window=today" %
                          (b["metric"], b["region"]))[1]
        if int(b["text"].replace(",", "")) != body["last_year"] or \
                not b["whole"].startswith("去年同日全天 ") or "%" in b["whole"]:
            problems.append("%s/%s: %r, API last_year %r" % (b["metric"], b["region"], b["whole"],
                                                           body["last_year"]))
    if not bases or problems:
        h.fail("today's bases (%d): %s" % (len(bases), "; ".join(problems[:5])))
    h.log("today's %d figures each beside last year's whole day, equal to /api/v1/counts, e.g. %r"
          % (len(bases), bases[0]["whole"]))


def check_report_panel(cdp, base, lang):
    """The report panel shows /api/v1/report's sentences for this year so far
    (in the page's language), and its CSV link gives that report's CSV after a
    UTF-8 byte-order mark. Counts move while events arrive: the sentences are
    compared when the page's report and the API's come from the same snapshot
    of the counts (then they must be equal), the CSVs when two fetches in a row
    saw the same counts."""
    last = None
    compared = False
    for attempt in range(120):
        api = v.get_json(base + "/api/v1/report?format=json&lang=" + lang)[1]
        page = json.loads(cdp.evaluate(REPORT_PANEL))
        last = (page, api.get("snapshot_version"), api.get("sentences"))
        if page["version"] == str(api["snapshot_version"]):
            # Each ends as in the text report: 。 in Chinese, a full stop in English.
            stop = "。" if lang == "zh" else "."
            if page["sentences"] != [s + stop for s in api["sentences"]]:
                h.fail("report panel (%s) at snapshot %s: %r, /api/v1/report: %r" % (
                    lang, page["version"], page["sentences"], api["sentences"]))
            compared = True
            break
        time.sleep(0.5)
    if not compared or not page["sentences"]:
        h.fail("report panel (%s) never showed the API's snapshot: %r" % (lang, last))
    for attempt in range(40):
        status, csv, headers = v.get(page["csv"])
        plain = v.get(base + "/api/v1/report?format=csv&lang=" + lang)[1]
        if status == 200 and csv == b"\xef\xbb\xbf" + plain:
            break
        time.sleep(0.5)
    else:
        h.fail("report panel (%s): the CSV link gives %r..., not the report's CSV after a BOM" %
               (lang, csv[:60]))
    if not page["csv_name"].endswith("-%s.csv" % lang) or v.get(page["md"])[0] != 200:
        h.fail("report panel (%s): download names or the Markdown link: %r" % (lang, page))
    h.log("report panel (%s): %d sentences equal /api/v1/report at snapshot %s, e.g. %r; the CSV "
          "link gives the report's CSV after a BOM (%d bytes, %s)" % (
              lang, len(page["sentences"]), page["version"], page["sentences"][0][:60], len(csv),
              headers.get("Content-Type")))


LAYOUT = """(() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth)
    out.push(`the page is ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);
  // Down to 1024 px the county table fits its panel; narrower, it scrolls
  // sideways in it with the region names kept in view.
  const table = document.getElementById('regions');
  const panel = table.parentElement;
  const scrolls = table.offsetWidth > panel.clientWidth;
  if (window.innerWidth >= 1024 && scrolls)
    out.push(`the county table is ${table.offsetWidth} px wide in a ${panel.clientWidth} px panel`);
  if (scrolls) {
    if (!['auto', 'scroll'].includes(getComputedStyle(panel).overflowX))
      out.push(`the county table is ${table.offsetWidth} px wide in a ${panel.clientWidth} px panel that does not scroll`);
    const name = table.querySelector('tbody td');
    if (getComputedStyle(name).position !== 'sticky')
      out.push('the county table scrolls its region names out of view');
  }
  // The title, the clock and the badge: none broken over two lines.
  for (const e of [document.getElementById('title'), ...document.querySelectorAll('header .status > *')]) {
    const range = document.createRange();
    range.selectNodeContents(e);
    const boxes = Array.from(range.getClientRects()).filter((b) => b.width > 0)
      .sort((a, b) => a.top - b.top);
    let lines = 0, bottom = -Infinity;
    for (const b of boxes) if (b.top >= bottom - 2) { lines++; bottom = b.bottom; }
    if (lines > 1) out.push(`the header's ${JSON.stringify(e.textContent)} takes ${lines} lines`);
  }
  const rows = {};
  for (const card of document.querySelectorAll('.card')) {
    const top = Math.round(card.getBoundingClientRect().top);
    rows[top] = (rows[top] || 0) + 1;
    if (card.scrollWidth > card.clientWidth)
      out.push(`card ${card.querySelector('h3').textContent} overflows: ${card.scrollWidth} > ${card.clientWidth} px`);
    for (const row of card.querySelectorAll('.row')) {
      const [a, b] = Array.from(row.children).map((e) => e.getBoundingClientRect());
      if (a && b && a.width > 0 && a.right > b.left)
        out.push(`card ${card.querySelector('h3').textContent}: label and number overlap`);
    }
  }
  if (new Set(Object.values(rows)).size > 1)
    out.push(`the cards stand in rows of ${Object.values(rows).join(', ')}`);
  // The main urban area's 电三电四 strip: inside its panel, and no figure's
  // number runs into the text before it.
  const strip = document.getElementById('main-urban-panel');
  if (strip.scrollWidth > strip.clientWidth)
    out.push(`the main urban strip overflows: ${strip.scrollWidth} > ${strip.clientWidth} px`);
  for (const cell of strip.querySelectorAll('.fig-cell')) {
    const [a, b] = Array.from(cell.children).map((e) => e.getBoundingClientRect());
    if (a.right > b.left + 0.5 && a.bottom > b.top + 0.5)
      out.push(`main urban strip: ${JSON.stringify(cell.textContent)} overlaps`);
  }
  const svg = document.getElementById('bars');
  for (const t of svg.querySelectorAll('text')) {
    const box = t.getBBox();
    if (box.x < 0 || box.x + box.width > svg.clientWidth + 1)
      out.push(`bar chart text ${JSON.stringify(t.textContent)} is outside the chart (x ${box.x.toFixed(0)}, width ${box.width.toFixed(0)} of ${svg.clientWidth})`);
  }
  return JSON.stringify({problems: out, size: `${window.innerWidth}x${window.innerHeight}`,
    scrolls,
    cards: Array.from(document.querySelectorAll('#cards [data-window=today]')).map((e) => e.dataset.metric),
    main_urban: Array.from(document.querySelectorAll('#main-urban [data-window=ytd]')).map((e) => e.dataset.metric),
    columns: document.querySelectorAll('#regions thead th').length});
})()"""


def check_layout(cdp, base, lang):
    """At the window's size, in either language: a card for every
    metric of /api/v1/summary and a county-table column for each, and the
    main urban area's 电三电四 figures in their strip; nothing
    wider than the window, and from 1024 px up, nothing wider than its panel
    (narrower, the county table scrolls in its panel with its region names
    kept in view); rows of cards of one length (not seven and one); no item
    of the header broken over two lines, no card's label running into its
    number, and every name in the bar chart inside the chart."""
    summary = v.get_json(base + "/api/v1/summary")[1]
    metrics = [m["id"] for m in summary["metrics"]]
    main_urban = [m["id"] for m in summary["main_urban_metrics"]]
    # The page re-renders on every update: a problem must last over a few
    # renders (not one frame of a language switch) to count.
    for attempt in range(6):
        page = json.loads(cdp.evaluate(LAYOUT))
        if not page["problems"] and page["cards"] == metrics and page["main_urban"] == main_urban:
            break
        h.log("layout (%s), attempt %d: %s" % (lang, attempt + 1, page["problems"][:3] or
                                               page["cards"]))
        time.sleep(1)
    if page["cards"] != metrics:
        h.fail("layout (%s): cards %r, /api/v1/summary's metrics %r" % (lang, page["cards"], metrics))
    if page["main_urban"] != main_urban:
        h.fail("layout (%s): the main urban strip shows %r, /api/v1/summary's main_urban_metrics "
               "%r" % (lang, page["main_urban"], main_urban))
    # Region, one column per metric, and today's first metric.
    if page["columns"] != len(metrics) + 2:
        h.fail("layout (%s): %d table columns for %d metrics" % (lang, page["columns"], len(metrics)))
    if page["problems"]:
        h.fail("layout (%s) at %s:\n  %s" % (lang, page["size"], "\n  ".join(page["problems"])))
    h.log("layout (%s): %d cards and table columns for %r, the main urban strip for %r; "
          "nothing overflows at %s%s" %
          (lang, len(metrics), metrics, main_urban, page["size"],
           " (the county table scrolls in its panel)" if page["scrolls"] else ""))


def waiting_banner(procs, roadpulse, tmp):
    """A serve whose cluster cannot be reached (nothing listens on its
    bootstrap port): the page says so, in Chinese and in English, with the
    reason /readyz gives."""
    dead = "127.0.0.1:%d" % v.free_port()
    base = v.serve(procs, roadpulse, tmp, dead, v.free_port(), "serve-no-broker")
    status, ready = v.wait_for("/readyz to say why", lambda: (
        lambda r: r if r[1].get("waiting") else None)(v.get_json(base + "/readyz")), 60)
    h.log("serve with no broker: /readyz %d %s" % (status, ready))
    if status != 503 or dead not in ready["waiting"]:
        h.fail("/readyz: expected 503 naming %s, got %d %s" % (dead, status, ready))
    banner = BANNER
    with v.Chromium(base + "/", tmp) as cdp:
        page = v.wait_for("the page to say waiting", lambda: (
            lambda p: p if p["state"] == "waiting" else None)(json.loads(cdp.evaluate(banner))), 30)
        h.log("page: %s" % page)
        if page["hidden"] or "暂时读不到计数数据" not in page["text"] or \
                ready["waiting"] not in page["text"] or page["badge"] != "等待数据":
            h.fail("the waiting banner is missing or wrong: %s" % page)
        cdp.evaluate("document.getElementById('lang').click()")
        page = json.loads(cdp.evaluate(banner))
        h.log("page in English: %s" % page)
        if "Cannot read the counts" not in page["text"] or ready["waiting"] not in page["text"]:
            h.fail("the English waiting banner is missing or wrong: %s" % page)


def empty_counts_hint(procs, roadpulse, tmp):
    """A serve on a cluster whose counts topic holds nothing yet: the report
    panel says so (rather than show sentences of zeros alone), in Chinese and
    in English, as /api/v1/report's empty_period says."""
    with h.broker(roadpulse, partitions=2) as servers:
        base = v.serve(procs, roadpulse, tmp, servers, v.free_port(), "serve-empty")
        v.wait_for("serve-empty ready", lambda: v.get(base + "/readyz")[0] == 200, 60)
        api = v.get_json(base + "/api/v1/report?format=json")[1]
        if api.get("empty_period") != {"counts": None}:
            h.fail("/api/v1/report on an empty counts topic: empty_period %r, expected "
                   "{'counts': None}" % api.get("empty_period"))
        with v.Chromium(base + "/", tmp) as cdp:
            for lang, says in (("zh", "没有任何计数；roadpulse.counts 中还没有计数。"),
                               ("en", "No counts at all from %s to " % api["period"]["from"])):
                if lang == "en":
                    cdp.evaluate("document.getElementById('lang').click()")
                page = v.wait_for("the report panel's hint (%s)" % lang, lambda: (
                    lambda p: p if p["hint"] and says in p["hint"] else None)(
                    json.loads(cdp.evaluate(REPORT_PANEL))), 30)
                h.log("report panel on an empty counts topic (%s): %r" % (lang, page["hint"]))
                if api["period"]["from"] not in page["hint"]:
                    h.fail("the hint does not name the period's first day %s: %r" % (
                        api["period"]["from"], page["hint"]))
                # The status banner: no counts yet, not "published — ago".
                banner = json.loads(cdp.evaluate(BANNER))
                h.log("status on an empty counts topic (%s): %s" % (lang, banner))
                wanted = {"zh": ("暂无数据", "roadpulse.counts 中还没有任何计数"),
                          "en": ("NO DATA", "roadpulse.counts holds no counts yet")}[lang]
                if banner["state"] != "nocounts" or banner["hidden"] or \
                        banner["badge"] != wanted[0] or wanted[1] not in banner["text"] or \
                        "—" in banner["text"]:
                    h.fail("the banner on an empty counts topic (%s): %s" % (lang, banner))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--roadpulse", required=True)
    ap.add_argument("--screenshot", default="")
    ap.add_argument("--target", choices=["demo", "pipeline"], default="demo")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="roadpulse-dashboard-") as tmp, \
            contextlib.ExitStack() as stack:
        procs = stack.enter_context(v.Procs())
        if args.target == "demo":
            # As the README starts it, on a free port instead of 8080.
            port = v.free_port()
            procs.start([args.roadpulse, "demo", "--http", "127.0.0.1:%d" % port, "--log-file",
                         os.path.join(tmp, "demo-internal.log")], "demo",
                        os.path.join(tmp, "demo.log"))
            base = "http://127.0.0.1:%d" % port
            v.wait_for("demo /healthz", lambda: v.get(base + "/healthz")[0] == 200, 60)
        else:
            servers = stack.enter_context(h.broker(args.roadpulse, partitions=4))
            v.pipeline(procs, args.roadpulse, tmp, servers, live_rate=0.5)
            base = v.serve(procs, args.roadpulse, tmp, servers, v.free_port(), "serve")
        h.log("target: %s at %s" % (args.target, base))
        # Wait until this year's history is counted (the count stops moving
        # fast; live events still trickle in).
        def settled():
            url = base + "/api/v1/counts?metric=accidents&window=ytd"
            a = v.get_json(url)[1]["value"]
            time.sleep(1.5)
            return a > 0 and v.get_json(url)[1]["value"] - a <= 1
        v.wait_for("this year's history to be counted", settled, 180)
        with v.Chromium(base + "/", tmp) as cdp:
            cdp.call("Emulation.setDeviceMetricsOverride", width=1600, height=1000,
                     deviceScaleFactor=1, mobile=False)
            first = v.wait_for("the page to render", lambda: (lambda p: p if p["version"] > 0
                                and p["numbers"] else None)(json.loads(cdp.evaluate(PAGE_NUMBERS))),
                               30)
            h.log("page rendered: snapshot %d, %d numbers, title %r" %
                  (first["version"], len(first["numbers"]), first["title"]))
            if "滨州市" not in first["title"]:
                h.fail("the page is not in Chinese by default: %r" % first["title"])
            live = v.wait_for("a live update over the stream", lambda: (
                lambda p: p if p["version"] > first["version"] else None)(
                json.loads(cdp.evaluate(PAGE_NUMBERS))), 60)
            h.log("live update without reload: snapshot %d -> %d" %
                  (first["version"], live["version"]))
            # Compare with the API; values move while events arrive, so retry.
            mismatches = None
            for attempt in range(40):
                page = json.loads(cdp.evaluate(PAGE_NUMBERS))
                cache = {}
                mismatches = []
                for n in page["numbers"]:
                    key = (n["metric"], n["region"], n["window"])
                    if key not in cache:
                        status, body = v.get_json(
                            base + "/api/v1/counts?metric=%s&region=%s&window=%s" % key)
                        if status != 200:
                            h.fail("/api/v1/counts %s: %d %s" % (key, status, body))
                        cache[key] = body["value"]
                    shown = int(n["text"].replace(",", ""))
                    if shown != cache[key]:
                        mismatches.append("%s shows %d, API says %d" % (key, shown, cache[key]))
                if not mismatches:
                    h.log("all %d numbers on the page equal /api/v1/counts (%d queries, "
                          "attempt %d)" % (len(page["numbers"]), len(cache), attempt + 1))
                    break
                time.sleep(0.5)
            if mismatches:
                h.fail("page and API disagree:\n  " + "\n  ".join(mismatches[:10]))
            check_today_bases(cdp, base)
            # The badge says live while the newest count the view has read is
            # less than stale_after_s (30 s) old. Right after the history the
            # view is still reading the worker's backlog of count records: in
            # the sanitizer build on a loaded machine their age reached 25 s
            # (and 30 s once, with other tests in parallel) before it fell to
            # ~2 s. So give it a minute to become live, and say when it had to.
            state = page["state"]
            if state != "live":
                h.log("the page says %r; waiting for live: %s" % (state, freshness(base, tmp)))
                t0 = time.monotonic()
                try:
                    page = v.wait_for("the page to say live", lambda: (
                        lambda p: p if p["state"] == "live" else None)(
                        json.loads(cdp.evaluate(PAGE_NUMBERS))), 60)
                except RuntimeError:
                    h.fail("the page says %r, expected live; %s" % (
                        json.loads(cdp.evaluate(PAGE_NUMBERS))["state"], freshness(base, tmp)))
                h.log("the page says live after %.1f s" % (time.monotonic() - t0))
            check_report_panel(cdp, base, "zh")
            check_layout(cdp, base, "zh")
            shot = cdp.call("Page.captureScreenshot", format="png")
            path = args.screenshot or os.path.join(tempfile.gettempdir(),
                                                   "roadpulse-dashboard.png")
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            h.log("screenshot: %s" % path)
            # The English switch.
            cdp.evaluate("document.getElementById('lang').click()")
            title = json.loads(cdp.evaluate(PAGE_NUMBERS))["title"]
            if "Binzhou" not in title:
                h.fail("English switch did not work: %r" % title)
            h.log("English switch: %r" % title)
            check_report_panel(cdp, base, "en")
            # Not a Chinese character or full-width sign left in English
            # (the button that switches back to 中文 aside).
            text = cdp.evaluate("(() => { const b = document.body.cloneNode(true); "
                                "b.querySelector('#lang').remove(); return b.textContent; })()")
            chinese = sorted(set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", text)))
            if chinese:
                h.fail("the English page still shows %s: %r" % ("".join(chinese), text[:2000]))
            h.log("English page: %d characters of text, none Chinese" % len(text))
            check_layout(cdp, base, "en")
            # Smaller windows: the narrowest with one row of cards, a laptop
            # (four cards a row, the table over the whole width), a small
            # laptop or tablet (the table's cells drop 同比) and a phone (two
            # cards a row, the table scrolls). Each in both languages (the
            # page is in English here).
            for width, height in ((1500, 900), (1280, 800), (1024, 768), (390, 844)):
                cdp.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                         deviceScaleFactor=1, mobile=False)
                for lang in ("en", "zh"):
                    check_layout(cdp, base, lang)
                    cdp.evaluate("document.getElementById('lang').click()")
        waiting_banner(procs, args.roadpulse, tmp)
        empty_counts_hint(procs, args.roadpulse, tmp)
    h.log("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
