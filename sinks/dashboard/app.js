// roadpulse dashboard: renders /api/v1/summary and follows /api/v1/stream
// (Server-Sent Events). No libraries: the duty room has no internet.
'use strict';
(function () {
  const T = {
    zh: {
      title: '道路交通安全实时态势', latest: '最新数据', clock: '当前时间', live: '实时',
      stale: '数据停滞', offline: '连接中断', loading: '加载中', lang: 'English',
      today: '今日', ytd: '今年以来', yoy: '同比', region: '地区', with_total: (r) => `${r}（合计）`,
      by_region: '各县市区 · 今年以来（同比）', chart: '事故起数 · 今年以来与去年同期',
      this_year: '今年', last_year: '去年同期', spark: '近 24 小时事故起数（每小时）',
      spark_note: '按事故发生时间 · 本小时至今', no_base: '去年同期为 0，无同比',
      day_ly: '去年同日全天', day_ly_note: '今日尚未结束，去年同日为全天数，故不计算同比百分比',
      stale_msg: (s) => `⚠ 数据已停止更新：最近一次计数发布于 ${s}前，请检查采集与计算服务。`,
      nocounts: '暂无数据',
      nocounts_msg: '⚠ roadpulse.counts 中还没有任何计数，请检查采集与计算服务（roadpulse run）。',
      offline_msg: '⚠ 与服务器的实时连接已中断，正在重连……',
      report: '今年以来通报', dl_csv: '下载报表（CSV，可用 Excel 打开）', dl_md: '下载报表（Markdown）',
      report_period: (f, t) => `${f} 至 ${t}，与去年同期相比`,
      empty_period: (f, t, c) => `⚠ ${f} 至 ${t} 没有任何计数；` +
        (c ? `roadpulse.counts 中的计数在 ${c.from} 至 ${c.last} 之间。` : 'roadpulse.counts 中还没有计数。'),
      main_urban: (r) => `${r} · 低速电动三、四轮车（电三电四）`,
      waiting: '等待数据',
      waiting_msg: (why) => `⚠ 暂时读不到计数数据，正在重试，请检查 Kafka 集群。原因：${why}`,
      subtitle: (d, tz) => `${d}（${tz}）· 与去年同期相比`,
      footer: (v) => `roadpulse · 快照 ${v} · 数据来自 roadpulse.counts`,
      secs: (n) => n < 120 ? `${n} 秒` : `${Math.round(n / 60)} 分钟`,
    },
    en: {
      title: 'Road traffic safety, live', latest: 'Latest data', clock: 'Now', live: 'LIVE',
      stale: 'STALE', offline: 'OFFLINE', loading: 'loading', lang: '中文',
      today: 'Today', ytd: 'Year to date', yoy: 'YoY', region: 'Region', with_total: (r) => `${r} (total)`,
      by_region: 'Counties, districts and zones · year to date (YoY)',
      chart: 'Accidents · year to date vs same period last year',
      this_year: 'This year', last_year: 'Last year', spark: 'Accidents in the last 24 h (per hour)',
      spark_note: 'by time of the accident · this hour so far', no_base: 'last year was 0: no percentage',
      day_ly: 'Whole day last year', day_ly_note: 'Today is not over: last year\'s figure is its whole day, so no percentage is shown',
      stale_msg: (s) => `⚠ Data has stopped: the newest count was published ${s} ago. Check the workers.`,
      nocounts: 'NO DATA',
      nocounts_msg: '⚠ roadpulse.counts holds no counts yet. Check the workers (roadpulse run).',
      offline_msg: '⚠ Lost the live connection to the server; reconnecting…',
      report: 'Year to date, in the report\'s words', dl_csv: 'Download the report (CSV, opens in Excel)',
      dl_md: 'Download the report (Markdown)',
      report_period: (f, t) => `${f} to ${t}, against the same period last year`,
      empty_period: (f, t, c) => `⚠ No counts at all from ${f} to ${t}; ` +
        (c ? `roadpulse.counts holds counts from ${c.from} to ${c.last}.` : 'roadpulse.counts holds no counts yet.'),
      main_urban: (r) => `${r} · low-speed electric tricycles and quadricycles`,
      waiting: 'WAITING',
      waiting_msg: (why) => `⚠ Cannot read the counts; retrying. Check the Kafka cluster. Reason: ${why}`,
      subtitle: (d, tz) => `${d} (${tz}) · against the same period last year`,
      footer: (v) => `roadpulse · snapshot ${v} · data from roadpulse.counts`,
      secs: (n) => n < 120 ? `${n} s` : `${Math.round(n / 60)} min`,
    },
  };
  const params = new URLSearchParams(location.search);
  let lang = params.get('lang') === 'en' ? 'en' : 'zh';
  const token = params.get('access_token');
  let summary = null;
  let lastMessage = 0;
  let clockOffset = 0;  // server now - browser now
  const $ = (id) => document.getElementById(id);
  const app = $('app');
  const SVG = 'http://www.w3.org/2000/svg';

  function withToken(url) {
    return token ? url + (url.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token) : url;
  }
  function fmt(n) { return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'); }
  function name(r) { return lang === 'zh' ? r.name_zh : r.name_en; }
  function pad(n) { return String(n).padStart(2, '0'); }
  // Times are shown in the region table's zone (Asia/Shanghai), like the report.
  function timeText(ms) {
    const tz = summary ? summary.time_zone : undefined;
    return new Date(ms).toLocaleString('sv-SE', { timeZone: tz, hour12: false });
  }
  function hourText(ms) {
    const tz = summary ? summary.time_zone : undefined;
    return new Date(ms).toLocaleTimeString('sv-SE', { timeZone: tz, hour: '2-digit', minute: '2-digit', hour12: false });
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // A change against last year: ↓ green (fewer is better), ↑ red, — without base.
  function change(fig, win, metric, region) {
    const t = T[lang];
    if (win === 'today') {
      // Today is not over, last year's same day is: a percentage would set
      // part of a day against a whole one (at 9 in the morning, a fall of
      // most of it). Its whole count instead, to read beside today's.
      const span = el('span', { class: 'chg none base' }, `${t.day_ly} `);
      span.appendChild(el('span', { 'data-ly-metric': metric, 'data-ly-region': region }, fmt(fig.last_year)));
      span.title = t.day_ly_note;
      return span;
    }
    // The label is a span of its own: a narrow window's county table, whose
    // heading already says 同比, leaves it out.
    const span = el('span', { class: 'chg' });
    span.appendChild(el('span', { class: 'yoy' }, `${t.yoy} `));
    if (fig.change_percent === null) {
      span.classList.add('none');
      span.append('—');
      span.title = t.no_base;
    } else {
      const p = fig.change_percent;
      span.classList.add(p < 0 ? 'down' : p > 0 ? 'up' : 'none');
      span.append(`${p < 0 ? '↓' : p > 0 ? '↑' : ''}${Math.abs(p).toFixed(2)}%`);
      span.title = `${fmt(fig.last_year)}`;
    }
    return span;
  }
  function number(cls, fig, metric, region, win) {
    return el('span', { class: cls, 'data-metric': metric, 'data-region': region, 'data-window': win,
      'data-value': String(fig.value) }, fmt(fig.value));
  }

  function renderCards(s) {
    const t = T[lang];
    const box = $('cards');
    box.replaceChildren();
    for (const m of s.metrics) {
      const card = el('div', { class: 'card' });
      card.appendChild(el('h3', {}, m[lang]));
      for (const [win, cls] of [['today', 'big'], ['ytd', 'mid']]) {
        const fig = s.city[win][m.id];
        const row = el('div', { class: 'row' });
        row.appendChild(el('span', { class: 'lbl' }, t[win]));
        row.appendChild(number(cls, fig, m.id, s.city.code, win));
        card.appendChild(row);
        const row2 = el('div', { class: 'row' });
        row2.appendChild(el('span', { class: 'lbl' }, ''));
        row2.appendChild(change(fig, win, m.id, s.city.code));
        card.appendChild(row2);
      }
      box.appendChild(card);
    }
  }

  // The main urban area's 电三电四 accidents and injuries, the report's own
  // figures for it: today and this year so far, each against last year.
  function renderMainUrban(s) {
    const t = T[lang];
    $('main-urban-title').textContent = t.main_urban(name(s.main_urban));
    const box = $('main-urban');
    box.replaceChildren();
    for (const m of s.main_urban_metrics) {
      const fig = el('div', { class: 'fig' });
      fig.appendChild(el('span', { class: 'fig-name' }, m[lang]));
      for (const win of ['today', 'ytd']) {
        const cell = el('span', { class: 'fig-cell' });
        cell.appendChild(el('span', { class: 'lbl' }, t[win]));
        cell.appendChild(number('num', s.main_urban[win][m.id], m.id, s.main_urban.code, win));
        cell.appendChild(change(s.main_urban[win][m.id], win, m.id, s.main_urban.code));
        fig.appendChild(cell);
      }
      box.appendChild(fig);
    }
  }

  function renderTable(s) {
    const t = T[lang];
    const thead = $('regions').querySelector('thead');
    const tbody = $('regions').querySelector('tbody');
    const hr = el('tr');
    hr.appendChild(el('th', {}, t.region));
    for (const m of s.metrics) hr.appendChild(el('th', {}, m[lang]));
    hr.appendChild(el('th', {}, `${t.today} · ${s.metrics[0][lang]}`));
    thead.replaceChildren(hr);
    tbody.replaceChildren();
    const rows = s.regions.concat([Object.assign({}, s.city, { total: true })]);
    for (const r of rows) {
      const tr = el('tr', r.total ? { class: 'total' } : {});
      tr.appendChild(el('td', {}, r.total ? t.with_total(name(r)) : name(r)));
      for (const m of s.metrics) {
        const td = el('td');
        td.appendChild(number('', r.ytd[m.id], m.id, r.code, 'ytd'));
        td.appendChild(change(r.ytd[m.id], 'ytd'));
        tr.appendChild(td);
      }
      const td = el('td');
      td.appendChild(number('', r.today[s.metrics[0].id], s.metrics[0].id, r.code, 'today'));
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
  }

  function renderBars(s) {
    const svg = $('bars');
    const W = svg.clientWidth || 560, H = svg.clientHeight || 330;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const metric = s.metrics[0].id;
    const rows = s.regions;
    const max = Math.max(1, ...rows.map((r) => Math.max(r.ytd[metric].value, r.ytd[metric].last_year)));
    const rowH = (H - 6) / rows.length, barH = Math.max(4, rowH / 2 - 3);
    // The labels first: the bars start where the longest name ends.
    const labels = rows.map((r, i) => svg.appendChild(svgEl('text',
      { y: 3 + i * rowH + rowH / 2 + 5, 'text-anchor': 'end' }, name(r).replace(/^滨州/, ''))));
    // A name longer than 40% of the chart is cut short with an ellipsis; the
    // full name shows on hover.
    const limit = W * 0.4;
    for (const t of labels) {
      const full = t.textContent;
      if (t.getComputedTextLength() <= limit) continue;
      let n = full.length;
      while (n > 1 && t.getComputedTextLength() > limit) t.textContent = full.slice(0, --n).trimEnd() + '…';
      t.appendChild(svgEl('title', {}, full));
    }
    const widest = Math.max(0, ...labels.map((t) => t.getComputedTextLength()));
    const left = Math.ceil(widest) + 14, right = 70;
    labels.forEach((t) => t.setAttribute('x', left - 8));
    rows.forEach((r, i) => {
      const y = 3 + i * rowH;
      const f = r.ytd[metric];
      const w1 = (W - left - right) * f.value / max, w0 = (W - left - right) * f.last_year / max;
      svg.appendChild(svgEl('rect', { x: left, y: y + 2, width: Math.max(0, w1), height: barH, fill: '#4fc3f7', rx: 2 }));
      svg.appendChild(svgEl('rect', { x: left, y: y + 3 + barH, width: Math.max(0, w0), height: barH, fill: '#5c6f8a', rx: 2 }));
      svg.appendChild(svgEl('text', { x: left + w1 + 6, y: y + 2 + barH - 1 }, fmt(f.value)));
      svg.appendChild(svgEl('text', { x: left + w0 + 6, y: y + 3 + 2 * barH - 1, class: 'muted' }, fmt(f.last_year)));
    });
  }

  function renderSpark(s) {
    const svg = $('spark');
    const W = svg.clientWidth || 560, H = svg.clientHeight || 120;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const hours = s.last_24h.hours;
    const vals = hours.map((h) => h.accidents);
    const max = Math.max(1, ...vals.filter((v) => v !== null));
    const x = (i) => 40 + (W - 60) * i / (hours.length - 1);
    const y = (v) => H - 22 - (H - 40) * v / max;
    svg.appendChild(svgEl('line', { x1: 40, y1: H - 22, x2: W - 20, y2: H - 22, stroke: '#23395a' }));
    let d = '';
    vals.forEach((v, i) => { if (v !== null) d += (d ? ' L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1); });
    if (d) svg.appendChild(svgEl('path', { d, fill: 'none', stroke: '#4fc3f7', 'stroke-width': 2.5 }));
    vals.forEach((v, i) => {
      if (v !== null && i === vals.length - 1) svg.appendChild(svgEl('circle', { cx: x(i), cy: y(v), r: 4, fill: '#4fc3f7' }));
    });
    svg.appendChild(svgEl('text', { x: 34, y: 16, 'text-anchor': 'end', class: 'muted' }, fmt(max)));
    svg.appendChild(svgEl('text', { x: 34, y: H - 18, 'text-anchor': 'end', class: 'muted' }, '0'));
    for (const i of [0, 6, 12, 18, 23]) {
      svg.appendChild(svgEl('text', { x: x(i), y: H - 4, 'text-anchor': 'middle', class: 'muted' }, hourText(hours[i].start_ms)));
    }
    const last = vals[vals.length - 1];
    $('spark-note').textContent = `${T[lang].spark_note} · ${fmt(last)}`;
  }

  function renderStatus() {
    if (!summary) return;
    const t = T[lang];
    const now = Date.now() + clockOffset;
    $('clock').textContent = timeText(now);
    const latest = summary.latest_publish_ms;
    $('latest').textContent = latest ? timeText(latest) : '—';
    const offline = now - lastMessage > 3 * 5000 + 2000 && lastMessage > 0;
    const ageS = latest ? Math.max(0, Math.round((now - latest) / 1000)) : null;
    // The worst first: no server, then a server that cannot read the counts,
    // then a counts topic with nothing in it (no age to give).
    const state = offline ? 'offline' : summary.waiting ? 'waiting'
      : !latest ? 'nocounts' : ageS > summary.stale_after_s ? 'stale' : 'live';
    const badge = $('badge');
    badge.className = 'badge' + (state === 'live' ? ' live' : state === 'nocounts' ? '' : ' stale');
    badge.textContent = t[state];
    const banner = $('stale');
    banner.classList.toggle('hidden', state === 'live');
    banner.textContent = {
      offline: t.offline_msg, waiting: t.waiting_msg(summary.waiting),
      nocounts: t.nocounts_msg, stale: t.stale_msg(t.secs(ageS)), live: '',
    }[state];
    app.setAttribute('data-state', state);
  }

  function render() {
    if (!summary) return;
    const t = T[lang];
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = `roadpulse · ${t.title}`;
    $('title').textContent = lang === 'zh' ? `${summary.city.name_zh}${t.title}` : `${summary.city.name_en}: ${t.title}`;
    $('subtitle').textContent = t.subtitle(summary.today, summary.time_zone);
    $('lang').textContent = t.lang;
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t[e.getAttribute('data-i18n')];
    renderCards(summary);
    renderMainUrban(summary);
    renderTable(summary);
    renderBars(summary);
    renderSpark(summary);
    $('footer').textContent = t.footer(summary.snapshot_version);
    app.setAttribute('data-version', String(summary.snapshot_version));
    renderStatus();
    renderReport();
  }

  // The report's sentences for this year so far (/api/v1/report, the same
  // text as `roadpulse report`), fetched again when the counts have changed,
  // at most once a second; and the links to download the full report.
  let report = null;
  let reportVersion = -1;
  let reportLoading = false;
  let reportTimer = null;
  function scheduleReport() {
    if (reportTimer === null) reportTimer = setTimeout(() => { reportTimer = null; loadReport(); }, 1000);
  }
  function reportUrl(format) {
    return withToken(`/api/v1/report?format=${format}&lang=${lang}` + (format === 'csv' ? '&bom=1' : ''));
  }
  function renderReport() {
    const t = T[lang];
    $('dl-csv').href = reportUrl('csv');
    $('dl-md').href = reportUrl('md');
    const day = summary ? summary.today : 'today';
    $('dl-csv').setAttribute('download', `roadpulse-report-${day}-${lang}.csv`);
    $('dl-md').setAttribute('download', `roadpulse-report-${day}-${lang}.md`);
    const box = $('report-text');
    box.textContent = '';
    box.removeAttribute('data-version');
    if (!report || report.language !== lang) return;
    const dayBefore = (d) => new Date(Date.parse(d + 'T00:00:00Z') - 86400000).toISOString().slice(0, 10);
    const last = dayBefore(report.period.to_exclusive);
    $('report-period').textContent = t.report_period(report.period.from, last);
    // A period without a single count (the counts lie in other years): say
    // where they are rather than show sentences of zeros alone.
    const empty = report.empty_period;
    if (empty) {
      const c = empty.counts ? { from: empty.counts.from, last: dayBefore(empty.counts.to_exclusive) } : null;
      box.appendChild(el('p', { class: 'report-hint', id: 'report-hint' }, t.empty_period(report.period.from, last, c)));
    }
    // Ended as the text and Markdown reports end them (the JSON's have no stop).
    const stop = report.language === 'zh' ? '。' : '.';
    for (const sentence of report.sentences) box.appendChild(el('p', {}, sentence + stop));
    box.setAttribute('data-version', String(report.snapshot_version));
  }
  function loadReport() {
    if (reportLoading || !summary) return;
    const want = summary.snapshot_version;
    if (report && report.language === lang && want === reportVersion) return;
    reportLoading = true;
    fetch(reportUrl('json')).then((r) => r.ok ? r.json() : null).then((j) => {
      if (j) { report = j; reportVersion = want; renderReport(); }
    }).catch(() => {}).finally(() => {
      reportLoading = false;
      if (summary && summary.snapshot_version !== reportVersion) scheduleReport();  // changed meanwhile
    });
  }

  function accept(s) {
    summary = s;
    lastMessage = Date.now();
    clockOffset = s.now_ms - Date.now();
    render();
    scheduleReport();
  }

  $('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    render();
    loadReport();
  });

  fetch(withToken('/api/v1/summary')).then((r) => r.json()).then(accept).catch(() => {});
  const es = new EventSource(withToken('/api/v1/stream'));
  es.addEventListener('summary', (ev) => accept(JSON.parse(ev.data)));
  setInterval(renderStatus, 1000);
  window.addEventListener('resize', render);
})();
