// Hand-written SVG charts for the edgetune dashboard (no library, no network: see docs/dashboard.md).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

// Compact number: 1234 -> "1.23k", 0.000123 -> "1.23e-4".
function fmtNum(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (Number.isInteger(v) && a < 1e4) return String(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + "k";
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toPrecision(3);
  if (a >= 0.001) return v.toPrecision(2);
  return v.toExponential(1);
}

// "Nice" tick values covering [lo, hi] (about n ticks).
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / Math.max(n, 1);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let t = start; t <= hi + step * 1e-9 && ticks.length < 50; t += step) ticks.push(+t.toPrecision(12));
  if (ticks[ticks.length - 1] < hi) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
  return ticks;
}

// Draw a chart into <svg viewBox="0 0 W H">.
// opts: {series: [{name, color, points: [[x, y], ...]}], xLabel, yLabel, marker (x value), kind: "line"|"step"|"bar",
//        integerX, yFromZero, empty (message when no point)}
function drawChart(svg, opts) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const vb = svg.viewBox.baseVal;
  const W = vb.width || 420, H = vb.height || 230;
  const m = { l: 48, r: 12, t: 20, b: 34 };
  const series = opts.series.filter((s) => s.points.length > 0);
  if (series.length === 0) {
    svgEl("text", { x: W / 2, y: H / 2, class: "empty" }, svg).textContent = opts.empty || "no data yet";
    return;
  }
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (opts.kind === "bar") { x0 -= 0.5; x1 += 0.5; }
  if (x1 === x0) { x1 = x0 + 1; }
  let y0 = opts.yFromZero ? Math.min(0, ...ys) : Math.min(...ys), y1 = Math.max(...ys);
  if (y1 === y0) { y1 = y0 + (Math.abs(y0) || 1) * 0.1; y0 = opts.yFromZero ? y0 : y0 - (Math.abs(y0) || 1) * 0.1; }
  const yt = niceTicks(y0, y1, 4);
  y0 = Math.min(y0, yt[0]); y1 = Math.max(y1, yt[yt.length - 1]);
  const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const grid = svgEl("g", { class: "grid" }, svg);
  const axis = svgEl("g", { class: "axis" }, svg);
  for (const t of yt) {
    if (t < y0 || t > y1) continue;
    svgEl("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }, grid);
    svgEl("text", { x: m.l - 4, y: Y(t) + 3, "text-anchor": "end" }, axis).textContent = fmtNum(t);
  }
  let xt = opts.integerX ? [] : niceTicks(x0, x1, 5);
  if (opts.integerX) {
    const lo = Math.ceil(x0), hi = Math.floor(x1);
    const every = Math.max(1, Math.ceil((hi - lo + 1) / 10));
    for (let t = lo; t <= hi; t += every) xt.push(t);
  }
  for (const t of xt) {
    if (t < x0 || t > x1) continue;
    svgEl("line", { x1: X(t), x2: X(t), y1: H - m.b, y2: H - m.b + 4 }, axis);
    svgEl("text", { x: X(t), y: H - m.b + 14, "text-anchor": "middle" }, axis).textContent = fmtNum(t);
  }
  svgEl("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, axis);
  svgEl("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }, axis);
  svgEl("text", { x: (m.l + W - m.r) / 2, y: H - 4, "text-anchor": "middle" }, axis).textContent = opts.xLabel || "";
  svgEl("text", { x: 10, y: (m.t + H - m.b) / 2, "text-anchor": "middle",
    transform: `rotate(-90 10 ${(m.t + H - m.b) / 2})` }, axis).textContent = opts.yLabel || "";
  if (opts.marker !== undefined && opts.marker !== null && opts.marker >= x0 && opts.marker <= x1) {
    svgEl("line", { class: "marker", x1: X(opts.marker), x2: X(opts.marker), y1: m.t, y2: H - m.b }, svg);
  }
  const nb = series.length;
  const bw = opts.kind === "bar" ? Math.max(2, ((W - m.l - m.r) / (x1 - x0)) * 0.8 / nb) : 0;
  series.forEach((s, si) => {
    const g = svgEl("g", { class: "series", "data-series": s.name }, svg);
    if (opts.kind === "bar") {
      for (const [x, y] of s.points) {
        const left = X(x) - (bw * nb) / 2 + bw * si;
        svgEl("rect", { x: left, y: Math.min(Y(y), Y(Math.max(y0, 0))), width: bw,
          height: Math.abs(Y(Math.max(y0, 0)) - Y(y)), fill: s.color }, g);
      }
    } else {
      let d = "";
      s.points.forEach(([x, y], k) => {
        if (k === 0) d += `M${X(x)},${Y(y)}`;
        else if (opts.kind === "step") d += `H${X(x)}V${Y(y)}`;
        else d += `L${X(x)},${Y(y)}`;
      });
      svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 2 }, g);
      for (const [x, y] of s.points) {
        const c = svgEl("circle", { cx: X(x), cy: Y(y), r: 2.6, fill: s.color }, g);
        svgEl("title", {}, c).textContent = `${s.name}: ${fmtNum(x)}, ${fmtNum(y)}`;
      }
    }
  });
  // legend
  let lx = m.l + 6;
  for (const s of series) {
    svgEl("rect", { x: lx, y: 6, width: 10, height: 10, fill: s.color }, svg);
    const t = svgEl("text", { x: lx + 14, y: 15 }, svg);
    t.textContent = s.name;
    lx += 24 + 6.2 * s.name.length;
  }
}

window.EdgetuneCharts = { drawChart, fmtNum, niceTicks, svgEl };
