// The study dashboard: loads the report document from the API (it can take seconds on a
// big study) and draws it as inline SVG: no library, no other host.
//
// Everything named by the data (systems, judges, annotators, strategies, studies) is
// untrusted: it reaches the page through textContent and setAttribute only, never as markup.
(function () {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root) return;

  const SVGNS = "http://www.w3.org/2000/svg";
  const byId = function (id) { return document.getElementById(id); };
  const statusBox = byId("report-status");
  const statusText = byId("report-status-text");
  const notesBox = byId("report-notes");
  const foot = byId("report-foot");
  const form = byId("dash-options");
  const TASK_TYPE = root.dataset.taskType || "";
  const HAS_COMPARE = root.dataset.hasCompare === "true";

  // --- small helpers ----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function sv(tag, attrs, text) {
    const node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (key) {
      const value = attrs[key];
      if (value !== undefined && value !== null) node.setAttribute(key, String(value));
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function tip(node, text) {
    node.appendChild(sv("title", {}, text));
    return node;
  }

  // A (possibly shortened) name with the whole name as its tooltip, beside the text element
  // so that the text itself holds only what is shown.
  function nameLabel(attrs, name, chars) {
    const g = sv("g", { class: "name" });
    g.appendChild(sv("title", {}, name));
    g.appendChild(sv("text", attrs, short(name, chars)));
    return g;
  }

  function isNum(x) { return typeof x === "number" && isFinite(x); }
  function fmt(x, digits) { return isNum(x) ? x.toFixed(digits === undefined ? 3 : digits) : "–"; }
  function pct(x, digits) { return isNum(x) ? (100 * x).toFixed(digits === undefined ? 1 : digits) + "%" : "–"; }
  function count(n, word) { return String(n) + " " + word + (n === 1 ? "" : "s"); }
  function pval(p) {
    if (!isNum(p)) return "–";
    return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
  }
  function iv(est, low, high, f) {
    f = f || fmt;
    let text = f(est);
    if (isNum(est) && isNum(low) && isNum(high)) text += " [" + f(low) + ", " + f(high) + "]";
    return text;
  }
  function ivBlock(b, f) { return b ? iv(b.estimate, b.low, b.high, f) : "–"; }
  // For tables: the estimate, then its interval smaller (two decimals are enough there).
  function ivCell(b, className) {
    const span = el("span", className || "");
    if (!b || !isNum(b.estimate)) {
      span.textContent = "–";
      return span;
    }
    span.appendChild(el("span", "est", fmt(b.estimate)));
    if (isNum(b.low) && isNum(b.high)) span.appendChild(el("span", "iv", " [" + fmt(b.low, 2) + ", " + fmt(b.high, 2) + "]"));
    return span;
  }
  function short(name, n) {
    const s = String(name);
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function message(text, kind) {
    return el("p", "dash-message" + (kind ? " " + kind : ""), text);
  }

  function caption(text) { return el("p", "help", text); }

  function tile(label, value, sub, id) {
    const box = el("div", "tile");
    if (id) box.id = id;
    box.appendChild(el("div", "tile-value", value));
    box.appendChild(el("div", "tile-label", label));
    if (sub) box.appendChild(el("div", "tile-sub", sub));
    return box;
  }

  function table(headers, rows, opts) {
    opts = opts || {};
    const t = el("table", "table compact dash-table");
    if (opts.id) t.id = opts.id;
    const thead = el("thead");
    const htr = el("tr");
    headers.forEach(function (h) {
      const th = el("th", h.num ? "num" : "", h.text);
      if (h.title) th.title = h.title;
      htr.appendChild(th);
    });
    thead.appendChild(htr);
    t.appendChild(thead);
    const tbody = el("tbody");
    rows.forEach(function (row) {
      const tr = el("tr", row.className || "");
      row.cells.forEach(function (cell, i) {
        const td = el("td", headers[i] && headers[i].num ? "num" : "");
        if (cell instanceof Node) td.appendChild(cell);
        else if (cell && typeof cell === "object") {
          td.textContent = cell.text === undefined ? "" : String(cell.text);
          if (cell.className) td.className += " " + cell.className;
          if (cell.title) td.title = cell.title;
        } else td.textContent = cell === undefined || cell === null ? "" : String(cell);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    const wrap = el("div", "table-scroll");
    wrap.appendChild(t);
    return wrap;
  }

  function details(summary, content) {
    const d = el("details", "dash-details");
    d.appendChild(el("summary", "", summary));
    d.appendChild(content);
    return d;
  }

  // --- scales -----------------------------------------------------------------------------

  function linear(d0, d1, r0, r1) {
    const k = (r1 - r0) / ((d1 - d0) || 1);
    return function (x) { return r0 + (x - d0) * k; };
  }

  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / n;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const err = raw / pow;
    const step = pow * (err >= 7.07 ? 10 : err >= 3.16 ? 5 : err >= 1.41 ? 2 : 1);
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toFixed(10)));
    }
    return out;
  }

  function extent(values, limits) {
    const xs = values.filter(isNum);
    if (!xs.length) return limits ? [limits[0], limits[1]] : [0, 1];
    let lo = Math.min.apply(null, xs);
    let hi = Math.max.apply(null, xs);
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const pad = (hi - lo) * 0.06;
    lo -= pad; hi += pad;
    if (limits) { lo = Math.max(lo, limits[0]); hi = Math.min(hi, limits[1]); }
    return [lo, hi];
  }

  function svgRoot(width, height, id, label, extraClass) {
    const svg = sv("svg", {
      viewBox: "0 0 " + width + " " + height, width: width, height: height,
      class: "chart" + (extraClass ? " " + extraClass : ""), role: "img", "aria-label": label, id: id,
    });
    return svg;
  }

  function wrapChart(svg) {
    const box = el("div", "chart-wrap");
    box.appendChild(svg);
    return box;
  }

  // --- charts -----------------------------------------------------------------------------

  // Dots with interval whiskers, one row per entry: rows = [{label, est, low, high, cls, tip, strong}].
  function dotPlot(rows, opts) {
    const W = opts.width || 620;
    const L = opts.labelWidth || 180;
    const R = opts.valueWidth || 118;
    const top = 10;
    const rowH = 24;
    const axisH = opts.axisLabel ? 40 : 26;
    const H = top + rows.length * rowH + axisH;
    const f = opts.fmt || fmt;
    const values = [];
    rows.forEach(function (r) { values.push(r.est, r.low, r.high); });
    if (isNum(opts.ref)) values.push(opts.ref);
    if (opts.band) values.push(opts.band.low, opts.band.high, opts.band.est);
    const dom = opts.domain || extent(values, opts.limits);
    const x = linear(dom[0], dom[1], L, W - R);
    const X = function (v) { return clamp(x(v), L, W - R); };
    const svg = svgRoot(W, H, opts.id, opts.label, "dot-plot");
    const bottom = top + rows.length * rowH;
    ticks(dom[0], dom[1], opts.ticks || 5).forEach(function (t) {
      svg.appendChild(sv("line", { class: "grid", x1: x(t), x2: x(t), y1: top - 4, y2: bottom }));
      svg.appendChild(sv("text", { class: "tick", x: x(t), y: bottom + 14, "text-anchor": "middle" }, f === pct ? pct(t, 0) : String(t)));
    });
    if (opts.band && isNum(opts.band.low) && isNum(opts.band.high)) {
      const band = sv("rect", { class: "ceiling", x: X(opts.band.low), y: top - 4, width: Math.max(1, X(opts.band.high) - X(opts.band.low)), height: bottom - top + 4 });
      svg.appendChild(tip(band, opts.band.tip || ""));
      if (isNum(opts.band.est)) svg.appendChild(sv("line", { class: "ceiling-line", x1: X(opts.band.est), x2: X(opts.band.est), y1: top - 4, y2: bottom }));
    }
    if (isNum(opts.ref) && opts.ref >= dom[0] && opts.ref <= dom[1]) {
      svg.appendChild(sv("line", { class: "ref", x1: x(opts.ref), x2: x(opts.ref), y1: top - 6, y2: bottom + 2 }));
    }
    rows.forEach(function (r, i) {
      const cy = top + i * rowH + rowH / 2;
      const g = sv("g", { class: "row" + (r.cls ? " " + r.cls : "") });
      if (i % 2 === 0) g.appendChild(sv("rect", { class: "stripe", x: 0, y: cy - rowH / 2, width: W, height: rowH }));
      g.appendChild(nameLabel({ class: "label" + (r.strong ? " strong" : ""), x: L - 10, y: cy, "text-anchor": "end", "dominant-baseline": "middle" },
        r.label, opts.labelChars || 27));
      if (isNum(r.low) && isNum(r.high)) {
        g.appendChild(sv("line", { class: "interval", x1: X(r.low), x2: X(r.high), y1: cy, y2: cy }));
        g.appendChild(sv("line", { class: "cap", x1: X(r.low), x2: X(r.low), y1: cy - 4, y2: cy + 4 }));
        g.appendChild(sv("line", { class: "cap", x1: X(r.high), x2: X(r.high), y1: cy - 4, y2: cy + 4 }));
      }
      if (isNum(r.est)) {
        const dot = sv("circle", { class: "point", cx: X(r.est), cy: cy, r: r.strong ? 6 : 5 });
        tip(dot, r.tip || (r.label + ": " + iv(r.est, r.low, r.high, f)));
        g.appendChild(dot);
      } else {
        g.appendChild(sv("text", { class: "nodata", x: L + 4, y: cy, "dominant-baseline": "middle" }, "no data"));
      }
      g.appendChild(sv("text", { class: "value", x: W - R + 8, y: cy, "dominant-baseline": "middle" }, r.value !== undefined ? r.value : f(r.est)));
      svg.appendChild(g);
    });
    if (opts.axisLabel) {
      svg.appendChild(sv("text", { class: "axis-label", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, opts.axisLabel));
    }
    return wrapChart(svg);
  }

  // Win-rate colours: red below one half, blue above, pale at one half.
  function heatColor(rate) {
    if (!isNum(rate)) return "#eceff3";
    const t = clamp((rate - 0.5) * 2, -1, 1);
    const end = t >= 0 ? [47, 91, 211] : [192, 57, 43];
    const base = [246, 247, 249];
    const a = Math.abs(t);
    const c = base.map(function (b, i) { return Math.round(b + (end[i] - b) * a); });
    return "rgb(" + c.join(",") + ")";
  }

  function heatmap(order, wr, id) {
    const index = {};
    wr.systems.forEach(function (s, i) { index[s] = i; });
    const k = order.length;
    const cell = k <= 5 ? 58 : k <= 8 ? 46 : k <= 14 ? 34 : 24;
    const showText = cell >= 34;
    const chars = 22;
    const L = 160;
    const T = 96;
    const W = L + k * cell + 12;
    const H = T + k * cell + 12;
    const svg = svgRoot(W, H, id, "Win-rate matrix: share of comparisons the row system won against the column system", "heatmap");
    order.forEach(function (a, r) {
      svg.appendChild(nameLabel({ class: "label", x: L - 8, y: T + r * cell + cell / 2, "text-anchor": "end", "dominant-baseline": "middle" }, a, chars));
      const cx = L + r * cell + cell / 2;
      svg.appendChild(nameLabel({ class: "label col-label", x: cx, y: T - 8, transform: "rotate(-40 " + cx + " " + (T - 8) + ")" }, a, chars));
    });
    order.forEach(function (a, r) {
      order.forEach(function (b, c) {
        const ia = index[a];
        const ib = index[b];
        const rate = wr.rate[ia] ? wr.rate[ia][ib] : null;
        const n = wr.n[ia] ? wr.n[ia][ib] : 0;
        const x = L + c * cell;
        const y = T + r * cell;
        const rect = sv("rect", { class: "cell" + (a === b ? " diagonal" : ""), x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 3, fill: heatColor(a === b ? null : rate) });
        const text = a === b ? a + " (itself)" : isNum(rate) ? a + " beat " + b + " in " + pct(rate) + " of " + count(n, "comparison") + " (ties count half)" : a + " and " + b + " were never compared";
        tip(rect, text);
        svg.appendChild(rect);
        if (showText && a !== b) {
          const dark = isNum(rate) && Math.abs(rate - 0.5) > 0.28;
          const t = sv("text", { class: "cell-text" + (dark ? " on-dark" : ""), x: x + cell / 2, y: y + cell / 2, "text-anchor": "middle", "dominant-baseline": "middle" },
            isNum(rate) ? String(Math.round(100 * rate)) : "–");
          svg.appendChild(tip(t, text));
        }
      });
    });
    return wrapChart(svg);
  }

  function heatLegend() {
    const W = 300;
    const svg = svgRoot(W, 34, null, "Colour key of the win-rate matrix", "legend");
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v, i) {
      const x = 10 + i * 56;
      svg.appendChild(sv("rect", { x: x, y: 2, width: 50, height: 12, rx: 2, fill: heatColor(v) }));
      svg.appendChild(sv("text", { class: "tick", x: x + 25, y: 28, "text-anchor": "middle" }, pct(v, 0)));
    });
    return wrapChart(svg);
  }

  function bucketLabel(iso, bucket) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const pad = function (n) { return String(n).padStart(2, "0"); };
    const day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    if (bucket === "hour") return day + " " + pad(d.getUTCHours()) + "h";
    if (bucket === "week") return d.getUTCFullYear() + "-" + day;
    return day;
  }

  // Judgments per time bucket (bars, left axis) and their running total (line, right axis).
  function timeline(tl, target, id) {
    const n = tl.judgments.length;
    const W = 960;
    const H = 230;
    const L = 52;
    const R = 64;
    const T = 14;
    const B = 44;
    const svg = svgRoot(W, H, id, "Judgments per " + tl.bucket + " and in total", "timeline");
    const maxBar = Math.max(1, Math.max.apply(null, tl.judgments));
    const lastCum = tl.cumulative[n - 1] || 0;
    const maxCum = Math.max(1, lastCum, target || 0);
    const band = Math.min(72, (W - L - R) / n);
    const x0 = L + ((W - L - R) - band * n) / 2; // few buckets: narrow bars in the middle
    const yBar = linear(0, maxBar, H - B, T);
    const yCum = linear(0, maxCum, H - B, T);
    ticks(0, maxBar, 4).forEach(function (t) {
      svg.appendChild(sv("line", { class: "grid", x1: L, x2: W - R, y1: yBar(t), y2: yBar(t) }));
      svg.appendChild(sv("text", { class: "tick", x: L - 6, y: yBar(t), "text-anchor": "end", "dominant-baseline": "middle" }, String(t)));
    });
    ticks(0, maxCum, 4).forEach(function (t) {
      svg.appendChild(sv("text", { class: "tick cum", x: W - R + 6, y: yCum(t), "dominant-baseline": "middle" }, String(t)));
    });
    const gap = band > 6 ? Math.min(band * 0.2, 8) : 0;
    tl.judgments.forEach(function (v, i) {
      const x = x0 + i * band + gap / 2;
      const rect = sv("rect", { class: "bar", x: x, y: yBar(v), width: Math.max(1, band - gap), height: Math.max(0, H - B - yBar(v)) });
      svg.appendChild(tip(rect, bucketLabel(tl.start[i], tl.bucket) + ": " + count(v, "judgment") + " (" + tl.cumulative[i] + " in total)"));
    });
    if (target) {
      svg.appendChild(sv("line", { class: "target", x1: L, x2: W - R, y1: yCum(target), y2: yCum(target) }));
      svg.appendChild(sv("text", { class: "tick target-label", x: W - R - 4, y: yCum(target) - 5, "text-anchor": "end" }, "target " + target));
    }
    if (n > 1) {
      const pts = tl.cumulative.map(function (v, i) { return [x0 + (i + 0.5) * band, yCum(v)]; });
      pts.unshift([x0, yCum(0)]);
      const path = sv("path", { class: "cumulative", d: pts.map(function (p, i) { return (i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1); }).join(" ") });
      svg.appendChild(path);
    }
    if (n <= 60) {
      tl.cumulative.forEach(function (v, i) {
        svg.appendChild(tip(sv("circle", { class: "cum-point", cx: x0 + (i + 0.5) * band, cy: yCum(v), r: 3 }), count(v, "judgment") + " in total"));
      });
    }
    const every = Math.max(1, Math.ceil(n / 8));
    for (let i = 0; i < n; i += every) {
      svg.appendChild(sv("text", { class: "tick", x: x0 + (i + 0.5) * band, y: H - B + 16, "text-anchor": "middle" }, bucketLabel(tl.start[i], tl.bucket)));
    }
    svg.appendChild(sv("text", { class: "axis-label", x: L, y: H - 6 }, "bars: judgments per " + tl.bucket + " (left axis) · line: total (right axis), UTC"));
    return wrapChart(svg);
  }

  // Horizontal bars: rows = [{label, value, text, tip}].
  function hbars(rows, id, label) {
    const W = 560;
    const L = 150;
    const R = 170;
    const rowH = 26;
    const H = rows.length * rowH + 8;
    const svg = svgRoot(W, H, id, label, "hbars");
    const max = Math.max(1, Math.max.apply(null, rows.map(function (r) { return r.value; })));
    const x = linear(0, max, L, W - R);
    rows.forEach(function (r, i) {
      const cy = 4 + i * rowH + rowH / 2;
      svg.appendChild(nameLabel({ class: "label", x: L - 8, y: cy, "text-anchor": "end", "dominant-baseline": "middle" }, r.label, 20));
      svg.appendChild(tip(sv("rect", { class: "bar", x: L, y: cy - 8, width: Math.max(1, x(r.value) - L), height: 16, rx: 2 }), r.tip || r.text));
      svg.appendChild(sv("text", { class: "value", x: x(r.value) + 6, y: cy, "dominant-baseline": "middle" }, r.text));
    });
    return wrapChart(svg);
  }

  // A small line of windowed means in [0, 1].
  function sparkline(values, label) {
    const xs = values.filter(isNum);
    if (xs.length < 2) return el("span", "muted small", xs.length ? pct(xs[0], 0) : "–");
    const W = 90;
    const H = 22;
    const svg = svgRoot(W, H, null, label, "spark");
    const x = linear(0, values.length - 1, 2, W - 2);
    const y = linear(0, 1, H - 2, 2);
    svg.appendChild(sv("line", { class: "ref", x1: 2, x2: W - 2, y1: y(0.5), y2: y(0.5) }));
    let d = "";
    values.forEach(function (v, i) {
      if (isNum(v)) d += (d ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
    });
    svg.appendChild(tip(sv("path", { class: "spark-line", d: d.trim() }), label + ": " + values.map(function (v) { return pct(v, 0); }).join(", ")));
    return svg;
  }

  function meter(rate) {
    const W = 70;
    const svg = svgRoot(W, 10, null, "share", "meter");
    svg.appendChild(sv("rect", { class: "meter-bg", x: 0, y: 1, width: W, height: 8, rx: 4 }));
    if (isNum(rate)) svg.appendChild(sv("rect", { class: "meter-fg", x: 0, y: 1, width: Math.max(2, W * clamp(rate, 0, 1)), height: 8, rx: 4 }));
    return svg;
  }

  // --- sections ---------------------------------------------------------------------------

  function body(id) { return byId(id).querySelector("[data-body]"); }

  function fill(id, nodes) {
    const target = body(id);
    target.replaceChildren();
    nodes.filter(Boolean).forEach(function (n) { target.appendChild(n); });
  }

  function renderSummary(r) {
    const c = r.counts;
    const done = r.progress.completion;
    const box = byId("sec-summary");
    box.replaceChildren(
      tile("Judgments", String(c.regular), (c.gold || c.attention || c.repeat) ? c.gold + " gold · " + c.attention + " attention checks" +
        (c.repeat ? " · " + c.repeat + " repeats" : "") : "no checks answered", "tile-judgments"),
      tile("Complete", done.percent + "%", done.units_complete + " of " + count(done.units, "unit") + " fully judged"),
      tile("Annotators", String(c.annotators), c.excluded_annotators ? c.excluded_annotators + " excluded" : "none excluded"),
      tile("Analysed", String(c.analysed), r.options.include_excluded ? "excluded annotators kept" : "regular units, excluded left out"),
      tile("Items", String(c.items), count(c.systems, "system"))
    );
  }

  function renderProgress(r) {
    const p = r.progress;
    const done = p.completion;
    const head = el("div", "progress-row");
    const bar = el("progress");
    bar.max = 100;
    bar.value = done.percent;
    bar.className = "big";
    bar.setAttribute("aria-label", "Judgments collected");
    head.appendChild(bar);
    head.appendChild(el("strong", "", done.judgments + " / " + done.judgments_target + " judgments (" + done.percent + "%)"));
    if (done.active_leases) head.appendChild(el("span", "muted small", count(done.active_leases, "unit") + " in progress"));
    if (!p.timeline.judgments.length) return fill("sec-progress", [head, message("No judgments yet: the chart fills in as annotators work.")]);
    fill("sec-progress", [head, timeline(p.timeline, done.judgments_target, "progress-chart")]);
  }

  function renderRanking(r) {
    const rk = r.ranking;
    const bt = rk.bradley_terry || { systems: [] };
    const nodes = [];
    if (!bt.systems.length) {
      nodes.push(message(r.counts.systems < 2 ? "A ranking needs items with candidates from at least two systems." : "No comparisons yet: the ranking appears with the first judgments."));
    } else {
      nodes.push(dotPlot(bt.systems.map(function (s) {
        return {
          label: s.system, est: s.score, low: s.low, high: s.high,
          tip: "#" + s.rank + " " + s.system + ": " + iv(s.score, s.low, s.high) + " · " + s.wins + " wins, " + s.losses + " losses, " + s.ties + " ties of " + s.n,
        };
      }), { id: "ranking-chart", ref: 0, label: "Bradley–Terry scores with 95% intervals", axisLabel: "Bradley–Terry score (logit scale) · 95% cluster-robust interval" }));
      nodes.push(caption(bt.source + " · " + count(bt.n_comparisons, "comparison") + (bt.interval ? " · " + bt.interval : "") +
        (isNum(bt.tie_parameter) && bt.tie_parameter > 0 ? " · tie parameter " + fmt(bt.tie_parameter) : "") +
        (bt.weighted ? " · weighted by 1/propensity" : "")));
      nodes.push(details("Numbers", table(
        [{ text: "#" }, { text: "System" }, { text: "Score", num: true }, { text: "95% interval", num: true }, { text: "n", num: true }, { text: "W / L / T", num: true }],
        bt.systems.map(function (s) {
          return { cells: [s.rank, s.system, fmt(s.score), "[" + fmt(s.low) + ", " + fmt(s.high) + "]", s.n, s.wins + " / " + s.losses + " / " + s.ties] };
        }), { id: "ranking-table" })));
    }
    const scores = rk.system_scores || {};
    Object.keys(scores).forEach(function (aspect, i) {
      const rows = scores[aspect];
      if (!rows.length) return;
      const mqm = TASK_TYPE === "mqm" && aspect === "mqm";
      nodes.push(el("h3", "", (aspect === rk.primary_aspect ? "Mean " + aspect + " score (primary)" : "Mean " + aspect + " score") + (mqm ? ": penalty, lower is better" : "")));
      nodes.push(dotPlot(rows.map(function (s) {
        return { label: s.system, est: s.mean, low: s.low, high: s.high, tip: s.system + ": " + iv(s.mean, s.low, s.high) + " over " + count(s.n_items, "item") + ", " + count(s.n_judgments, "judgment") };
      }), { id: "scores-chart-" + i, label: "Mean " + aspect + " score per system with 95% intervals", axisLabel: "mean " + aspect + " · 95% interval (items resampled)" }));
    });
    if (rk.mqm_note) nodes.push(caption(rk.mqm_note));
    fill("sec-ranking", nodes);
  }

  function renderWinrate(r) {
    const bt = r.ranking.bradley_terry || {};
    const wr = bt.win_rate;
    if (!wr || !wr.systems || wr.systems.length < 2) {
      return fill("sec-winrate", [message("The matrix needs comparisons between at least two systems.")]);
    }
    const ranked = (bt.systems || []).map(function (s) { return s.system; }).filter(function (s) { return wr.systems.indexOf(s) >= 0; });
    const order = ranked.concat(wr.systems.filter(function (s) { return ranked.indexOf(s) < 0; }));
    fill("sec-winrate", [
      heatmap(order, wr, "winrate-chart"),
      heatLegend(),
      caption("Each cell: how often the row system beat the column system, in percent (ties count half); hover for the number of comparisons." +
        (TASK_TYPE === "pairwise" ? "" : " Derived from pairs of candidates of the same item, ordered by their mean scores.")),
    ]);
  }

  function renderAgreement(r) {
    const a = r.agreement;
    const nodes = [];
    const rows = [];
    if (TASK_TYPE === "pairwise") {
      if (!a.n_judgments) return fill("sec-agreement", [message("No judgments yet: agreement needs units judged by at least two annotators.")]);
      const pa = a.pairwise_agreement;
      const fk = a.fleiss_kappa;
      const ka = a.krippendorff_alpha_nominal;
      const tiles = el("div", "dash-tiles small-tiles");
      tiles.appendChild(tile("Pairwise agreement", fmt(pa.estimate), ivText(pa) + " · n = " + pa.n + " pairs of votes", "agreement-pairwise"));
      tiles.appendChild(tile("Fleiss' κ", fmt(fk.estimate), "n = " + fk.n + " units" + (fk.raters_per_unit ? " × " + fk.raters_per_unit + " raters" : "") + (fk.units_left_out ? " (" + fk.units_left_out + " left out)" : ""), "agreement-fleiss"));
      tiles.appendChild(tile("Krippendorff's α", fmt(ka.estimate), ivText(ka) + " · n = " + ka.n + " votes on " + (ka.n_units || 0) + " units", "agreement-alpha"));
      nodes.push(tiles);
      rows.push({ label: "Pairwise agreement", est: pa.estimate, low: pa.low, high: pa.high, value: fmt(pa.estimate) + " (n=" + pa.n + ")" });
      rows.push({ label: "Fleiss' κ", est: fk.estimate, value: fmt(fk.estimate) + " (n=" + fk.n + ")" });
      rows.push({ label: "Krippendorff's α", est: ka.estimate, low: ka.low, high: ka.high, value: fmt(ka.estimate) + " (n=" + ka.n + ")" });
      Object.keys(a.aspects || {}).forEach(function (aspect) {
        const b = a.aspects[aspect];
        rows.push({ label: aspect + " · agreement", est: b.pairwise_agreement.estimate, low: b.pairwise_agreement.low, high: b.pairwise_agreement.high, value: fmt(b.pairwise_agreement.estimate) + " (n=" + b.pairwise_agreement.n + ")" });
        rows.push({ label: aspect + " · α", est: b.krippendorff_alpha_nominal.estimate, low: b.krippendorff_alpha_nominal.low, high: b.krippendorff_alpha_nominal.high, value: fmt(b.krippendorff_alpha_nominal.estimate) + " (n=" + b.krippendorff_alpha_nominal.n + ")" });
      });
      nodes.push(dotPlot(rows, { id: "agreement-chart", ref: 0, limits: [-1, 1], label: "Agreement figures with 95% intervals", axisLabel: "0 = chance (κ, α) · 95% bootstrap interval", labelWidth: 150, valueWidth: 110 }));
      nodes.push(caption("Pairwise agreement: the chance that two annotators' votes on the same unit match (tie-aware). Both bad counts as a tie (" + a.both_bad_counted_as_tie + " votes)."));
      const pairs = (a.cohen_kappa && a.cohen_kappa.pairs) || [];
      if (pairs.length) {
        nodes.push(details("Cohen's κ per pair of annotators (" + pairs.length + ")", table(
          [{ text: "Annotator" }, { text: "Annotator" }, { text: "κ", num: true }, { text: "shared units", num: true }],
          pairs.map(function (p) { return { cells: [p.a, p.b, fmt(p.kappa), p.n] }; }), { id: "kappa-table" })));
      } else {
        nodes.push(caption("Cohen's κ per pair of annotators: no pair shares " + a.cohen_kappa.min_overlap + " units yet."));
      }
    } else {
      const aspects = a.aspects || {};
      Object.keys(aspects).forEach(function (aspect) {
        const b = aspects[aspect];
        rows.push({ label: aspect + " · α interval", est: b.alpha_interval.estimate, low: b.alpha_interval.low, high: b.alpha_interval.high, value: fmt(b.alpha_interval.estimate) + " (n=" + b.alpha_interval.n + ")" });
        if (b.alpha_ordinal) rows.push({ label: aspect + " · α ordinal", est: b.alpha_ordinal.estimate, low: b.alpha_ordinal.low, high: b.alpha_ordinal.high, value: fmt(b.alpha_ordinal.estimate) + " (n=" + b.alpha_ordinal.n + ")" });
      });
      if (!rows.length || !rows.some(function (x) { return isNum(x.est); })) {
        nodes.push(message("No candidate has been rated by two annotators yet: agreement appears once units overlap."));
      } else {
        nodes.push(dotPlot(rows, { id: "agreement-chart", ref: 0, limits: [-1, 1], label: "Krippendorff's alpha per aspect with 95% intervals", axisLabel: "Krippendorff's α · 0 = chance · 95% bootstrap interval", labelWidth: 190, valueWidth: 110 }));
        nodes.push(caption("Unit of analysis: " + a.unit_of_analysis + "."));
      }
      if (a.spans) {
        const sp = a.spans;
        const tiles = el("div", "dash-tiles small-tiles");
        tiles.appendChild(tile("Span F1", fmt(sp.span_f1), "n = " + sp.n_pairs + " pairs of judgments", "agreement-span-f1"));
        tiles.appendChild(tile("Severity-weighted F1", fmt(sp.severity_weighted_f1), sp.both_no_error + " pairs both found no error"));
        nodes.push(tiles);
        nodes.push(caption("MQM spans: " + sp.note + "."));
      }
    }
    fill("sec-agreement", nodes);
  }

  function ivText(b) {
    return b && isNum(b.low) && isNum(b.high) ? "95% [" + fmt(b.low) + ", " + fmt(b.high) + "]" : "no interval";
  }

  function rateRows(overall, per, key) {
    const rows = [{ label: "All annotators", est: overall.rate, low: overall.low, high: overall.high, strong: true, cls: "overall",
      value: pct(overall.rate) + " (n=" + overall.n + ")", tip: "All: " + iv(overall.rate, overall.low, overall.high, pct) + " of " + overall.n + " · p = " + pval(overall.p_value) }];
    (per || []).forEach(function (p) {
      rows.push({ label: p[key || "annotator"], est: p.rate, low: p.low, high: p.high, value: pct(p.rate) + " (n=" + p.n + ")",
        tip: p[key || "annotator"] + ": " + iv(p.rate, p.low, p.high, pct) + " of " + p.n + " · p = " + pval(p.p_value) });
    });
    return rows;
  }

  function renderBias(r) {
    const b = r.bias;
    const nodes = [];
    if (b.position) {
      const o = b.position.overall;
      nodes.push(el("h3", "", "Position: does the first-shown candidate win?"));
      if (!o.n) {
        nodes.push(message("No decisive judgments yet."));
      } else {
        nodes.push(el("p", "figure-line", "First shown wins " + iv(o.rate, o.low, o.high, pct) + " of " + o.n + " decisive judgments · p = " + pval(o.p_value)));
        nodes.push(dotPlot(rateRows(o, b.position.per_annotator), { id: "position-chart", ref: 0.5, domain: [0, 1], fmt: pct, label: "First-position win rate per annotator with 95% intervals", axisLabel: "share won by the first-shown candidate · 50% = no bias" }));
      }
      const rep = b.swapped_repeats;
      const sw = rep.overall;
      nodes.push(el("h3", "", "Swapped repeats: does the preference survive swapping sides?"));
      if (sw.n) {
        nodes.push(el("p", "figure-line", "Flipped " + iv(sw.rate, sw.low, sw.high, pct) + " of " + count(sw.n, "repeated pair") +
          " (the same annotator, the same pair, sides swapped; ties left out)"));
        nodes.push(dotPlot(rateRows(sw, rep.per_annotator), { id: "flip-chart", ref: 0, domain: [0, 1], fmt: pct, label: "Flip rate per annotator with 95% intervals",
          axisLabel: "share of repeated pairs whose preferred candidate changed · 0% = consistent" }));
      } else {
        nodes.push(message(rep.share ? "No decisive repeat yet: " + pct(rep.share) + " of each annotator's pairs come back to them later, sides swapped." :
          "Swapped repeats are off: set quality.repeat_share in the study spec to show a share of each annotator's pairs again, sides swapped."));
      }
    } else {
      nodes.push(el("h3", "", "Position"));
      nodes.push(message("Position bias applies to pairwise judgments (which candidate was shown first); this is a " + TASK_TYPE + " study.", "na"));
    }
    const len = b.length && b.length.overall;
    nodes.push(el("h3", "", "Length: does the longer candidate win?"));
    if (!len || !len.n) {
      nodes.push(message("No decisive pairs of candidates of different length yet."));
    } else {
      nodes.push(el("p", "figure-line", "The longer one wins " + iv(len.rate, len.low, len.high, pct) + " of " + len.n + " · p = " + pval(len.p_value)));
      if (b.length.per_annotator && b.length.per_annotator.length) {
        nodes.push(dotPlot(rateRows(len, b.length.per_annotator), { id: "length-chart", ref: 0.5, domain: [0, 1], fmt: pct, label: "Longer-candidate win rate per annotator with 95% intervals", axisLabel: "share won by the longer candidate · 50% = no bias" }));
      } else {
        nodes.push(dotPlot(rateRows(len, []), { id: "length-chart", ref: 0.5, domain: [0, 1], fmt: pct, label: "Longer-candidate win rate with a 95% interval", axisLabel: "share won by the longer candidate · 50% = no bias" }));
      }
    }
    const lc = b.length_controlled;
    if (lc && lc.systems && lc.systems.length) {
      nodes.push(details("Length-controlled scores (length coefficient " + ivBlock(lc.length_coefficient) + ")", table(
        [{ text: "System" }, { text: "Raw", num: true }, { text: "Controlled", num: true }, { text: "95% interval", num: true }],
        lc.systems.map(function (s) { return { cells: [s.system, fmt(s.raw), fmt(s.controlled), "[" + fmt(s.low) + ", " + fmt(s.high) + "]"] }; }),
        { id: "length-controlled-table" })));
    }
    fill("sec-bias", nodes);
  }

  function renderJudges(r) {
    const j = r.judges;
    if (!j.judges || !j.judges.length) {
      return fill("sec-judges", [message("No judge scores on the candidates. Upload items whose candidates carry scores from metrics or reward models " +
        "(\"judges\": {\"comet\": 0.82, \"rm/skywork\": 1.7}) to meta-evaluate them against the humans here.", "na")]);
    }
    if (!(j.segment || []).some(function (seg) { return seg.n > 0; }) && !(j.system || []).length) {
      return fill("sec-judges", [message("Judges found on the candidates: " + j.judges.join(", ") + ". They are compared with the humans once " +
        "annotators have judged units that carry their scores.", "na")]);
    }
    const system = {};
    (j.system || []).forEach(function (s) { system[s.judge] = s; });
    const segs = (j.segment || []).slice().sort(function (a, b) {
      const x = a.acc_eq ? a.acc_eq.estimate : null;
      const y = b.acc_eq ? b.acc_eq.estimate : null;
      return (isNum(y) ? y : -Infinity) - (isNum(x) ? x : -Infinity);
    });
    const hc = j.human_ceiling || {};
    const ceilKey = hc.pairwise_agreement ? "pairwise_agreement" : "leave_one_out_pairwise_accuracy";
    const ceil = hc[ceilKey] || {};
    const ceilName = ceilKey === "pairwise_agreement" ? "pairwise agreement between annotators" : "leave-one-annotator-out pairwise accuracy";
    const nodes = [];
    const rows = segs.filter(function (s) { return s.n > 0; }).map(function (s) {  // system-level-only judges: table only
      const a = s.acc_eq || {};
      return {
        label: s.judge, est: a.estimate, low: a.low, high: a.high, cls: s.kind === "reward_model" ? "rm" : "metric",
        value: fmt(a.estimate) + " (n=" + (a.n || 0) + ")",
        tip: s.judge + " (" + (s.kind === "reward_model" ? "reward model" : "metric") + "): acc_eq " + iv(a.estimate, a.low, a.high) + " over " + count(s.n || 0, "pair"),
      };
    });
    if (isNum(ceil.estimate)) {
      rows.unshift({ label: "Humans (ceiling)", est: ceil.estimate, low: ceil.low, high: ceil.high, strong: true, cls: "human",
        value: fmt(ceil.estimate) + " (n=" + ceil.n + ")", tip: "Human ceiling, " + ceilName + ": " + iv(ceil.estimate, ceil.low, ceil.high) });
    }
    nodes.push(dotPlot(rows, {
      id: "judges-chart", limits: [0, 1], width: 760, labelWidth: 200, labelChars: 28,
      band: isNum(ceil.low) ? { low: ceil.low, high: ceil.high, est: ceil.estimate, tip: "Human ceiling: " + ceilName + " " + iv(ceil.estimate, ceil.low, ceil.high) } : null,
      label: "Segment-level pairwise accuracy with tie calibration (acc_eq) per judge, against the human ceiling",
      axisLabel: "segment-level acc_eq (pairwise accuracy with tie calibration) · 95% bootstrap interval",
    }));
    const legend = el("p", "legend-line small");
    [["rm", "reward model"], ["metric", "metric"], ["human", "human ceiling (band: its 95% interval)"]].forEach(function (k) {
      const item = el("span", "legend-item");
      item.appendChild(el("span", "swatch " + k[0]));
      item.appendChild(document.createTextNode(k[1]));
      legend.appendChild(item);
    });
    nodes.push(legend);

    const hasPearson = segs.some(function (s) { return s.pearson; });
    const headers = [
      { text: "Judge" }, { text: "Kind" }, { text: "Pairs", num: true },
      { text: "acc_eq [95%]", num: true, title: "segment level: pairwise accuracy with tie calibration (ties predicted below epsilon)" },
      { text: "ε", num: true, title: "tie threshold epsilon chosen by the calibration" },
      { text: "Kendall τb", num: true, title: "segment level" },
    ];
    if (hasPearson) headers.push({ text: "Pearson", num: true, title: "segment level, judge score against the mean human score" });
    headers.push(
      { text: "Sys Pearson [95%]", num: true, title: "system level" },
      { text: "Sys Kendall [95%]", num: true, title: "system level" },
      { text: "SPA", num: true, title: "system level: soft pairwise accuracy" },
      { text: "ECE [95%]", num: true, title: "expected calibration error of sigmoid(score difference); meaningful for logit-scale judges (reward models)" }
    );
    const trs = [];
    if (isNum(ceil.estimate)) {
      const cells = ["Humans (ceiling)", "annotators", ceil.n, ivCell(ceil), "–", "–"];
      if (hasPearson) cells.push("–");
      cells.push("–", "–", "–", "–");
      trs.push({ className: "human-row", cells: cells });
    }
    segs.forEach(function (s) {
      const sys = system[s.judge] || {};
      const kindBadge = el("span", "badge kind-" + (s.kind === "reward_model" ? "rm" : "metric"), s.kind === "reward_model" ? "reward model" : "metric");
      const ece = s.calibration && s.calibration.ece;
      const cells = [
        s.judge, kindBadge, s.n || 0, ivCell(s.acc_eq),
        s.acc_eq && isNum(s.acc_eq.epsilon) ? fmt(s.acc_eq.epsilon) : "–",
      ];
      const tau = ivCell(s.kendall_tau_b);
      if (s.kendall_tau_c) tau.title = "τc " + fmt(s.kendall_tau_c.estimate) + (s.wmt_tau_like ? " · WMT τ-like " + fmt(s.wmt_tau_like.estimate) : "");
      cells.push(tau);
      if (hasPearson) cells.push(ivCell(s.pearson));
      const eceCell = ivCell(ece, s.kind === "reward_model" ? "" : "muted");
      if (s.kind !== "reward_model") eceCell.title = "ECE assumes logit-scale scores: read it for reward models";
      cells.push(ivCell(sys.pearson), ivCell(sys.kendall_tau_b), sys.soft_pairwise_accuracy ? fmt(sys.soft_pairwise_accuracy.estimate) : "–", eceCell);
      trs.push({ className: "judge-row", cells: cells });
    });
    nodes.push(table(headers, trs, { id: "judges-table" }));
    const anySys = (j.system || [])[0];
    nodes.push(caption("Human reference: " + j.human_reference + (anySys ? "; system level against the " + anySys.human + " of " + count(anySys.n_systems, "system") : "; system level needs human system scores") +
      " · " + j.n_boot + " bootstrap replicates" + (j.weighted ? " · weighted by 1/propensity" : "") + "."));
    fill("sec-judges", nodes);
  }

  function renderQuality(r) {
    const q = r.quality;
    const per = q.per_annotator || [];
    if (!per.length) return fill("sec-quality", [message("No annotator has judged anything yet.")]);
    const prog = {};
    (r.progress.per_annotator || []).forEach(function (p) { prog[p.annotator] = p; });
    const minSec = q.min_seconds_per_unit;
    const rows = per.map(function (a) {
      const p = prog[a.annotator] || {};
      const ck = a.checks || {};
      const agree = a.agreement_with_majority || {};
      const agreeCell = el("span", "meter-cell");
      agreeCell.appendChild(meter(agree.rate));
      agreeCell.appendChild(el("span", "", agree.n ? pct(agree.rate, 0) + " of " + agree.n : "–"));
      const drift = a.drift && a.drift.agreement_with_majority ? sparkline(a.drift.agreement_with_majority.mean, "agreement with the majority, window by window") : el("span", "muted small", "–");
      const status = el("span");
      if (a.excluded) {
        status.appendChild(el("span", "badge status-closed", "excluded"));
        if (a.excluded_reason) status.appendChild(el("span", "small reason", " " + a.excluded_reason));
      } else {
        status.appendChild(el("span", "badge status-live", "ok"));
      }
      return {
        className: a.excluded ? "excluded-row" : "",
        cells: [
          a.annotator, a.judgments,
          isNum(p.median_seconds) ? p.median_seconds.toFixed(1) : "–",
          ck.n ? { text: ck.passed + " / " + ck.n + " (" + pct(ck.rate, 0) + ")", className: isNum(ck.rate) && ck.rate < 0.7 ? "warn" : "", title: "95% interval " + pct(ck.low, 0) + " – " + pct(ck.high, 0) } : { text: "no checks", className: "muted" },
          a.gold && a.gold.n ? a.gold.passed + " / " + a.gold.n : "–",
          a.attention && a.attention.n ? a.attention.passed + " / " + a.attention.n : "–",
          minSec > 0 ? { text: a.speeding.count + " of " + a.speeding.n, className: a.speeding.count ? "warn" : "" } : { text: "off", className: "muted" },
          agreeCell, drift, status,
        ],
      };
    });
    fill("sec-quality", [
      table([
        { text: "Annotator" }, { text: "Judgments", num: true }, { text: "Median s", num: true, title: "median seconds per regular unit" },
        { text: "Checks passed", num: true, title: "gold units and attention checks" }, { text: "Gold", num: true }, { text: "Attention", num: true },
        { text: "Speeding", num: true, title: "judgments faster than the minimum time per unit" },
        { text: "Agrees with majority" }, { text: "Over time", title: "agreement with the majority in windows of " + q.drift_window + " judgments" }, { text: "Status" },
      ], rows, { id: "quality-table" }),
      caption("Majority: " + q.majority + ". Speeding: faster than " + minSec + " s per unit" + (minSec > 0 ? "" : " (no minimum set)") +
        ". Over time: agreement with the majority in windows of " + q.drift_window + " of the annotator's judgments (line at 50%)."),
    ]);
  }

  function renderStrategies(r) {
    const st = r.strategies || [];
    if (!st.length) return fill("sec-strategies", [message("No judgments yet: this shows which strategy chose how many units.")]);
    fill("sec-strategies", [
      hbars(st.map(function (s) {
        return { label: s.strategy, value: s.judgments, text: count(s.judgments, "judgment") + " · " + count(s.units, "unit"),
          tip: s.strategy + ": " + count(s.judgments, "judgment") + " on " + count(s.units, "unit") + (s.checks ? ", " + count(s.checks, "check") : "") };
      }), "strategies-chart", "Judgments per elicitation strategy"),
      table([{ text: "Strategy" }, { text: "Checks", num: true }, { text: "Propensity min / mean", num: true }, { text: "Reweighted" }],
        st.map(function (s) { return { cells: [s.strategy, s.checks, fmt(s.propensity_min) + " / " + fmt(s.propensity_mean),
          s.quality_control ? "no (quality control)" : s.reweighted ? "yes, by 1/propensity" : "no"] }; }),
        { id: "strategies-table" }),
    ]);
  }

  function renderCross(r) {
    const ce = r.cross_elicitation;
    if (!ce) {
      return fill("sec-cross", [message(HAS_COMPARE ?
        "Pick a study to compare with (above): the preferences implied by the scores of one are checked against the pairwise votes of the other." :
        "No study to compare with: this needs a pairwise study and a score-based (likert, mqm, rubric) study of the same owner on the same items.", "na")]);
    }
    const nodes = [caption(ce.pairwise_study + " (votes) against " + ce.score_study + " (mean " + ce.score_aspect + " score) · " + count(ce.n_votes, "vote") + " on " + count(ce.n_items, "item") + " matched.")];
    if (!ce.n_votes) {
      nodes.push(message("No vote matches a scored pair (same item id and systems)."));
    } else {
      const rows = [
        { label: "Exact agreement", b: ce.exact_agreement },
        { label: "Decisive agreement", b: ce.decisive_agreement },
        { label: "Majority agreement", b: ce.majority_agreement },
        { label: "acc_eq", b: ce.acc_eq },
      ].map(function (x) {
        const b = x.b || {};
        return { label: x.label, est: b.estimate, low: b.low, high: b.high, value: fmt(b.estimate) + " (n=" + (b.n || 0) + ")", tip: x.label + ": " + ivBlock(b) + (b.what ? " · " + b.what : "") };
      });
      nodes.push(dotPlot(rows, { id: "cross-chart", domain: [0, 1], labelWidth: 150, label: "Score-implied against direct preferences", axisLabel: "share of votes matching the score-implied preference" }));
      nodes.push(caption("Kendall τb of votes against score differences: " + ivBlock(ce.kendall_tau_b) + "."));
    }
    fill("sec-cross", nodes);
  }

  const SECTIONS = [
    ["sec-progress", renderProgress], ["sec-ranking", renderRanking], ["sec-winrate", renderWinrate], ["sec-agreement", renderAgreement],
    ["sec-bias", renderBias], ["sec-judges", renderJudges], ["sec-quality", renderQuality], ["sec-strategies", renderStrategies],
    ["sec-cross", renderCross],
  ];

  function render(report) {
    try {
      renderSummary(report);
    } catch (err) {
      byId("sec-summary").replaceChildren(message("Could not draw the summary.", "error"));
    }
    SECTIONS.forEach(function (entry) {
      const section = byId(entry[0]);
      section.classList.remove("dash-error");
      try {
        entry[1](report);
      } catch (err) {
        // One section that cannot be drawn must not take the others down.
        section.classList.add("dash-error");
        fill(entry[0], [message("This section could not be drawn (" + String(err && err.message ? err.message : err) + ").", "error")]);
        if (window.console) window.console.error(err);
      }
    });
    const notes = report.notes || [];
    notesBox.replaceChildren();
    notes.forEach(function (n) { notesBox.appendChild(el("li", "", n)); });
    notesBox.hidden = !notes.length;
    const o = report.options || {};
    foot.textContent = "Report generated " + String(report.generated_at || "").replace("T", " ").slice(0, 19) + " UTC · " + o.n_boot + " bootstrap replicates · " +
      Math.round(100 * (o.level || 0.95)) + "% intervals · seed " + o.seed + ". The same numbers: GET " + root.dataset.reportUrl;
  }

  // --- loading ----------------------------------------------------------------------------

  let generation = 0;
  let ticker = null;

  function setStatus(kind, text, retry) {
    statusBox.className = "dash-status" + (kind ? " " + kind : "");
    statusBox.replaceChildren();
    if (kind === "loading") {
      const spin = el("span", "spinner");
      spin.setAttribute("aria-hidden", "true");
      statusBox.appendChild(spin);
      statusBox.appendChild(document.createTextNode(" "));
    }
    statusBox.appendChild(el("span", "", text));
    if (retry) {
      const button = el("button", "btn small", "Try again");
      button.type = "button";
      button.addEventListener("click", load);
      statusBox.appendChild(document.createTextNode(" "));
      statusBox.appendChild(button);
    }
    statusBox.hidden = kind === "done";
  }

  function errorText(data, status) {
    if (data && data.detail) {
      let text = String(data.detail);
      if (data.errors && typeof data.errors === "object") {
        Object.keys(data.errors).forEach(function (k) { text += " — " + k + ": " + String(data.errors[k]); });
      }
      return text;
    }
    return "the server answered HTTP " + status + ".";
  }

  function query() {
    const params = new URLSearchParams();
    const excluded = byId("opt-excluded");
    const compare = byId("opt-compare");
    if (excluded && excluded.checked) params.set("include_excluded", "true");
    if (compare && compare.value) params.set("compare", compare.value);
    const text = params.toString();
    return text ? "?" + text : "";
  }

  function load() {
    const mine = ++generation;
    const started = Date.now();
    root.setAttribute("aria-busy", "true");
    root.classList.add("is-loading");
    setStatus("loading", "Computing the report… on a big study this takes a few seconds.");
    if (ticker) window.clearInterval(ticker);
    ticker = window.setInterval(function () {
      const s = Math.round((Date.now() - started) / 1000);
      if (s >= 2) setStatus("loading", "Computing the report… " + s + " s (bootstrap intervals on every figure).");
    }, 1000);
    fetch(root.dataset.reportUrl + query(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.json().then(
          function (data) { return { ok: res.ok, status: res.status, data: data }; },
          function () { return { ok: res.ok, status: res.status, data: null }; }
        );
      })
      .then(function (result) {
        if (mine !== generation) return;
        if (!result.ok || !result.data) throw new Error(errorText(result.data, result.status));
        render(result.data);
        setStatus("done", "");
        root.classList.remove("is-loading");
        root.setAttribute("aria-busy", "false");
        root.dataset.loaded = "true";
      })
      .catch(function (err) {
        if (mine !== generation) return;
        root.classList.remove("is-loading");
        root.setAttribute("aria-busy", "false");
        setStatus("error", "Could not load the report: " + String(err && err.message ? err.message : err), true);
        SECTIONS.forEach(function (entry) {
          if (body(entry[0]).querySelector(".placeholder")) fill(entry[0], [message("Not available.", "muted")]);
        });
      })
      .finally(function () {
        if (mine === generation && ticker) {
          window.clearInterval(ticker);
          ticker = null;
        }
      });
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      load();
    });
    form.addEventListener("change", load);
  }
  load();
})();
