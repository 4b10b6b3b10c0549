/* loadtrial report: draws every chart from the embedded JSON with the embedded plotly.js.
 * In: #report-data (see report/page.py chart_data). Out: charts in each [data-chart]
 * container; when done, <html data-rendered="drawn/total"> (the browser test waits on it)
 * and data-drawn="<svg elements>" on each chart. Colours follow the CSS variables, so the
 * charts switch with prefers-color-scheme. Text from users or servers is escaped before
 * plotly sees it (plotly renders a subset of HTML in labels).
 */
(function () {
  "use strict";
  var root = document.documentElement;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var config = {
    displaylogo: false, responsive: true, showLink: false, displayModeBar: "hover",
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
    toImageButtonOptions: { format: "svg", filename: "loadtrial-chart" }
  };

  function h(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function css(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  function theme() {
    return {
      ink: css("--ink"), muted: css("--muted"), line: css("--line"), good: css("--good"),
      bad: css("--bad"), warn: css("--warn"),
      pal: ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6"].map(css)
    };
  }
  function axis(t, extra) {
    return Object.assign({
      gridcolor: t.line, zerolinecolor: t.line, linecolor: t.line, tickfont: { size: 11 },
      title: { font: { size: 11, color: t.muted } }, automargin: true
    }, extra || {});
  }
  function layout(t, extra) {
    return Object.assign({
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: getComputedStyle(document.body).fontFamily, size: 12, color: t.ink },
      margin: { l: 64, r: 24, t: 16, b: 40 }, hovermode: "x unified",
      legend: { orientation: "h", y: -0.08, x: 0, font: { size: 11 }, traceorder: "normal" },
      hoverlabel: { font: { size: 12 } }
    }, extra);
  }
  function line(x, y, name, color, more) {
    return Object.assign({ type: "scatter", mode: "lines", x: x, y: y, name: h(name),
      line: { color: color, width: 1.8 }, connectgaps: false }, more || {});
  }
  function vline(x, color, dash) {
    return { type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
      line: { color: color, width: 1.5, dash: dash || "dash" } };
  }
  function band(x0, x1, color, opacity, yref) {
    return { type: "rect", xref: "x", yref: yref || "paper", x0: x0, x1: Math.max(x1, x0 + 0.5),
      y0: 0, y1: 1, fillcolor: color, opacity: opacity, line: { width: 0 }, layer: "below" };
  }
  function axisOf(a) {  // {start, step, n} (an evenly spaced axis, folded by page.py) or a list
    if (Array.isArray(a)) return a;
    var out = [];
    for (var i = 0; i < a.n; i++) out.push(Math.round((a.start + i * a.step) * 1000) / 1000);
    return out;
  }
  function util(s) {  // utilisation in % of a tier series, from its values and scale
    return s.values.map(function (v) { return v === null ? null : v * s.scale * 100; });
  }
  function markers(run, t) {
    var shapes = [];
    if (run.window_s) {  // outside the analysed window: greyed
      shapes.push(band(0, run.window_s[0], t.muted, 0.10));
      var end = Math.max(data.duration_s, run.window_s[1]);
      if (run.window_s[1] < end) shapes.push(band(run.window_s[1], end, t.muted, 0.10));
    } else if (run.warmup_s > 0) shapes.push(band(0, run.warmup_s, t.muted, 0.10));
    run.bands.forEach(function (b) { shapes.push(band(b.start_s, b.end_s, t.bad, 0.10)); });
    run.onsets.forEach(function (b) { shapes.push(vline(b.start_s, t.bad, "dash")); });
    return shapes;
  }

  function peak(arr) {
    return arr.reduce(function (m, v) { return v === null || v < m ? m : v; }, 0);
  }
  function logAxis(t, series, extra) {  // decades only when the data spans them
    var all = [].concat.apply([], series).filter(function (v) { return v !== null && v > 0; });
    var lo = Math.min.apply(null, all.concat([1])), hi = Math.max.apply(null, all.concat([1]));
    return axis(t, Object.assign({ type: "log", tickformat: "~g" }, hi / lo > 30 ? { dtick: 1 } : {}, extra));
  }
  function panelLegend(top) {  // one legend beside each panel of a timeline
    return { orientation: "v", x: 1.01, y: top, yanchor: "top", font: { size: 10.5 },
      traceorder: "normal", tracegroupgap: 2 };
  }

  function runFigure(run, t) {
    var x = axisOf(run.t_s), p = t.pal, traces = [];
    traces.push(line(x, run.offered, "offered/s", t.muted, { line: { color: t.muted, width: 1.5, dash: "dot" } }));
    traces.push(line(x, run.achieved, "achieved/s", p[0]));
    if (run.dropped.some(function (v) { return v > 0; })) traces.push(line(x, run.dropped, "dropped/s", t.warn));
    var lat = [["p50", p[4]], ["p90", p[2]], ["p99", p[3]]];
    lat.forEach(function (k) {
      traces.push(line(x, run.latency_ms[k[0]], k[0] + " ms", k[1], { yaxis: "y2", legend: "legend2" }));
    });
    lat.forEach(function (k, i) {  // one legend entry toggles the three uncorrected series
      traces.push(line(x, run.uncorrected_ms[k[0]], i ? k[0] + " uncorrected" : "uncorrected", k[1], {
        yaxis: "y2", legend: "legend2", legendgroup: "uncorrected", showlegend: i === 0,
        hovertemplate: "%{y:.1f} ms<extra>" + k[0] + " uncorrected</extra>",
        visible: "legendonly", line: { color: k[1], width: 1.2, dash: "dot" } }));
    });
    var reds = [t.bad, t.warn, p[3], p[5], t.muted, p[1]];
    Object.keys(run.errors).forEach(function (kind, i) {
      traces.push({ type: "bar", x: x, y: run.errors[kind], name: h(kind), yaxis: "y3",
        legend: "legend3", marker: { color: reds[i % reds.length] } });
    });
    if (run.events.length) {
      traces.push({ type: "scatter", mode: "markers", x: run.events.map(function (e) { return e.start_s; }),
        y: run.events.map(function () { return 0; }), yaxis: "y3", name: "events", legend: "legend3",
        text: run.events.map(function (e) { return h(e.label); }), hoverinfo: "text+x",
        marker: { symbol: "triangle-up", size: 10, color: t.warn } });
    }
    // every tier's utilisation; the busy ones (peak >= 50 %) shown, the rest one click away
    run.tiers.filter(function (s) { return s.scale !== null; }).forEach(function (s, i) {
      var u = util(s);
      traces.push(line(axisOf(s.t_s), u, s.name + " %", p[(i + 1) % p.length], {
        yaxis: "y4", legend: "legend4", customdata: s.values,
        visible: peak(u) >= 50 ? true : "legendonly",
        hovertemplate: "%{y:.0f}% (%{customdata} " + h(s.unit) + ")<extra>" + h(s.name) + "</extra>" }));
    });
    var shapes = markers(run, t);
    shapes.push({ type: "line", xref: "paper", yref: "y4", x0: 0, x1: 1, y0: 100, y1: 100,
      line: { color: t.bad, width: 1, dash: "dot" } });
    var lats = ["p50", "p90", "p99"].map(function (k) { return run.latency_ms[k]; });
    return { data: traces, layout: layout(t, {
      height: 600, barmode: "stack", bargap: 0.15, shapes: shapes, showlegend: true,
      legend: panelLegend(1), legend2: panelLegend(0.74), legend3: panelLegend(0.47),
      legend4: panelLegend(0.23),
      margin: { l: 64, r: 10, t: 10, b: 40 },
      xaxis: axis(t, { anchor: "y4", range: [0, Math.max(1, data.duration_s)], title: { text: "seconds" } }),
      yaxis: axis(t, { domain: [0.79, 1], title: { text: "req/s" }, rangemode: "tozero" }),
      yaxis2: logAxis(t, lats, { domain: [0.52, 0.74], title: { text: "latency ms" } }),
      yaxis3: axis(t, { domain: [0.28, 0.47], title: { text: "errors/s" }, rangemode: "tozero" }),
      yaxis4: axis(t, { domain: [0, 0.23], title: { text: "utilisation %" }, range: [0, 110] })
    }) };
  }

  function findRun(b) {
    var runs = data.runs;
    return runs.filter(function (r) { return r.run_id === b.run_id; })[0] ||
      runs.filter(function (r) { return r.arm === b.arm; })[0] || runs[0];
  }
  function bottleneckFigure(t) {
    var b = data.bottleneck, run = findRun(b), ev = b.evidence || {};
    if (!run) return null;
    var withUtil = run.tiers.filter(function (s) { return s.scale !== null; });
    var named = [ev.resource, ev.series, ev.metric, b.status].filter(function (v) { return typeof v === "string" && v; });
    var picked = withUtil.filter(function (s) { return named.indexOf(s.name) >= 0; });
    if (!picked.length && typeof ev.tier === "string") {
      picked = withUtil.filter(function (s) { return s.name.indexOf(ev.tier + ".") === 0 && peak(util(s)) >= 50; });
    }
    if (!picked.length) picked = withUtil.filter(function (s) { return peak(util(s)) >= 50; }).slice(0, 4);
    var x = axisOf(run.t_s);
    var traces = picked.map(function (s, i) {
      // indigo/sky/...: never the red of the p99 line drawn over it
      return line(axisOf(s.t_s), util(s), s.name + " %", t.pal[i % t.pal.length], { line: { width: 2.2, color: t.pal[i % t.pal.length] } });
    });
    traces.push(line(x, run.latency_ms.p99, "p99 ms (run " + run.run_id + ")", t.bad, { yaxis: "y2" }));
    var errs = x.map(function (_, i) {
      return Object.keys(run.errors).reduce(function (a, k) { return a + run.errors[k][i]; }, 0);
    });
    if (errs.some(function (v) { return v > 0; })) traces.push({ type: "bar", x: x, y: errs, name: "errors/s", yaxis: "y3", marker: { color: t.warn, opacity: 0.5 } });
    return { data: traces, layout: layout(t, {
      height: 300, shapes: markers(run, t),
      xaxis: axis(t, { range: [0, Math.max(1, data.duration_s)], title: { text: "seconds (run " + run.run_id + ", " + h(run.arm) + ")" } }),
      yaxis: axis(t, { title: { text: "utilisation %" }, range: [0, 110] }),
      yaxis2: logAxis(t, [run.latency_ms.p99], { title: { text: "p99 ms" }, overlaying: "y", side: "right", showgrid: false }),
      yaxis3: axis(t, { overlaying: "y", visible: false, rangemode: "tozero" }),
      margin: { l: 64, r: 64, t: 10, b: 60 }
    }) };
  }

  function armsFigure(t) {
    var arms = data.arms, names = arms.map(function (a) { return h(a.arm); });
    var colors = arms.map(function (a) { return a.slo === "fail" ? t.bad : a.slo === "pass" ? t.good : t.pal[0]; });
    function bars(get, ax, name) {
      var v = arms.map(function (a) { return get(a).value; });
      return { type: "bar", x: names, y: v, name: name, xaxis: "x" + ax, yaxis: "y" + ax, marker: { color: colors },
        error_y: { type: "data", symmetric: false, color: t.muted,
          array: arms.map(function (a, i) { var e = get(a); return e.high === null || v[i] === null ? 0 : e.high - v[i]; }),
          arrayminus: arms.map(function (a, i) { var e = get(a); return e.low === null || v[i] === null ? 0 : v[i] - e.low; }) } };
    }
    var errRate = { type: "bar", x: names, y: arms.map(function (a) { return a.error_rate === null ? null : a.error_rate * 100; }),
      name: "error rate %", xaxis: "x2", yaxis: "y2", marker: { color: colors } };
    var shapes = data.slo_p99_ms ? [{ type: "line", xref: "x domain", yref: "y", x0: 0, x1: 1,
      y0: data.slo_p99_ms, y1: data.slo_p99_ms, line: { color: t.bad, dash: "dash", width: 1.2 } }] : [];
    return { data: [bars(function (a) { return a.latency.p99; }, "", "p99 ms"), errRate,
      bars(function (a) { return a.throughput; }, "3", "ok/s")], layout: layout(t, {
      height: 280, showlegend: false, hovermode: "closest", shapes: shapes,
      xaxis: axis(t, { domain: [0, 0.3] }), xaxis2: axis(t, { domain: [0.36, 0.64] }),
      xaxis3: axis(t, { domain: [0.7, 1] }),
      yaxis: axis(t, { title: { text: "p99 ms (95% CI)" }, rangemode: "tozero" }),
      yaxis2: axis(t, { anchor: "x2", title: { text: "error rate %" }, rangemode: "tozero" }),
      yaxis3: axis(t, { anchor: "x3", title: { text: "ok/s (95% CI)" }, rangemode: "tozero" })
    }) };
  }

  function num(ev, keys) {
    for (var i = 0; i < keys.length; i++) if (typeof ev[keys[i]] === "number") return ev[keys[i]];
    return null;
  }
  function uslFigure(f, t) {
    var ev = f.evidence || {}, pts = (ev.points || []).map(function (p) {
      return Array.isArray(p) ? p : [num(p, ["n", "N", "x", "nodes", "users"]), num(p, ["throughput", "y", "value"])];
    }).filter(function (p) { return typeof p[0] === "number" && typeof p[1] === "number"; });
    var traces = [{ type: "scatter", mode: "markers", x: pts.map(function (p) { return p[0]; }),
      y: pts.map(function (p) { return p[1]; }), name: "measured", marker: { size: 10, color: t.pal[0] } }];
    var s = num(ev, ["sigma", "σ"]), k = num(ev, ["kappa", "κ"]), l = num(ev, ["lambda", "lambda_", "lam", "λ"]);
    if (s !== null && k !== null && l !== null) {
      var maxN = Math.max.apply(null, pts.map(function (p) { return p[0]; }).concat([2])) * 1.6, xs = [], ys = [];
      for (var n = 1; n <= maxN; n += maxN / 120) { xs.push(n); ys.push(l * n / (1 + s * (n - 1) + k * n * (n - 1))); }
      traces.push(line(xs, ys, "USL fit", t.pal[2], { line: { color: t.pal[2], width: 2, dash: "dash" } }));
    }
    return { data: traces, layout: layout(t, { height: 300, hovermode: "closest",
      xaxis: axis(t, { title: { text: h(typeof ev.over === "string" ? ev.over : f.subject) }, rangemode: "tozero" }),
      yaxis: axis(t, { title: { text: "throughput/s" }, rangemode: "tozero" }) }) };
  }

  function loadPlotly() {  // plotly.js is embedded plain (window.Plotly) or gzip+base64
    if (window.Plotly) return Promise.resolve();
    var packed = document.getElementById("plotly-gz");
    if (!packed) return Promise.reject(new Error("plotly.js is missing from this file"));
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the embedded charts " +
        "(no DecompressionStream); write the report with --plain-js"));
    }
    var bin = atob(packed.textContent.trim()), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (code) {
      (0, eval)(code);  // global scope: plotly's bundle sets window.Plotly
      packed.textContent = "";
    });
  }
  function build(el, t) {
    var kind = el.getAttribute("data-chart"), i = Number(el.getAttribute("data-index") || 0);
    if (kind === "run") return runFigure(data.runs[i], t);
    if (kind === "bottleneck") return data.bottleneck ? bottleneckFigure(t) : null;
    if (kind === "arms") return data.arms.length ? armsFigure(t) : null;
    if (kind === "usl") return uslFigure(data.scalability[i], t);
    return null;
  }
  function draw() {
    var t = theme(), els = Array.prototype.slice.call(document.querySelectorAll("[data-chart]"));
    return Promise.all(els.map(function (el) {
      var fig = build(el, t);
      return fig ? Plotly.react(el, fig.data, fig.layout, config) : null;
    })).then(function () {
      var drawn = 0;
      els.forEach(function (el) {
        var n = Array.prototype.filter.call(el.querySelectorAll("g.trace path"), function (p) {
          return (p.getAttribute("d") || "").length > 4;  // a drawn line, bar or marker
        }).length;
        el.setAttribute("data-drawn", String(n));
        if (n > 0) drawn += 1;
      });
      root.setAttribute("data-rendered", drawn + "/" + els.length);
    });
  }
  // One time axis for every run: zooming or panning one timeline moves them all.
  var syncing = false;
  function syncTimelines() {
    var runs = Array.prototype.slice.call(document.querySelectorAll("[data-chart=run]"));
    runs.forEach(function (el) {
      if (el.getAttribute("data-synced")) return;
      el.setAttribute("data-synced", "1");
      el.on("plotly_relayout", function (ev) {
        if (syncing) return;
        var update = null;
        if (ev["xaxis.range[0]"] !== undefined) {
          update = { "xaxis.range": [ev["xaxis.range[0]"], ev["xaxis.range[1]"]] };
        } else if (ev["xaxis.range"]) {
          update = { "xaxis.range": ev["xaxis.range"] };
        } else if (ev["xaxis.autorange"]) {
          update = { "xaxis.range": [0, Math.max(1, data.duration_s)] };
        }
        if (!update) return;
        syncing = true;
        Promise.all(runs.filter(function (o) { return o !== el; }).map(function (o) {
          return Plotly.relayout(o, update);
        })).then(function () { syncing = false; }, function () { syncing = false; });
      });
    });
  }
  loadPlotly().then(draw).then(syncTimelines).catch(function (err) {
    var text = String(err && err.message || err);
    root.setAttribute("data-render-error", text);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      el.classList.add("chart-failed");
      el.textContent = "Charts unavailable: " + text;
    });
    console.error(err);
  });
  // Print (and "save as PDF"): redraw the charts at the printed page's width, then back.
  var PRINT_WIDTH_PX = 680;  // A4/Letter text width at 96 dpi with ~15 mm margins
  function charts() { return Array.prototype.slice.call(document.querySelectorAll("[data-chart].js-plotly-plot")); }
  window.addEventListener("beforeprint", function () {
    charts().forEach(function (el) { Plotly.relayout(el, { width: PRINT_WIDTH_PX }); });
  });
  window.addEventListener("afterprint", function () {
    charts().forEach(function (el) { Plotly.relayout(el, { width: null, autosize: true }); });
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
      if (window.Plotly) draw();
    });
  }
})();
