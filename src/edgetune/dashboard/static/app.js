// edgetune dashboard: draws what /api/runs/{i} serves and follows /api/runs/{i}/events.
// All derived numbers (node states, Eq. 2 normalisation, scores, ranks, energy) come from the server.
"use strict";

(function () {
  const { drawChart, fmtNum, svgEl } = window.EdgetuneCharts;
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token");
  const tq = token ? "token=" + encodeURIComponent(token) : "";
  const api = (path) => path + (tq ? (path.includes("?") ? "&" : "?") + tq : "");
  const RUN_COLORS = ["#1c7ed6", "#f76707", "#7048e8", "#0ca678"];
  const W = 640;

  const state = { runs: [], selected: 0, follow: true, pending: false };
  const slider = document.getElementById("epoch");
  const label = document.getElementById("epoch-label");
  const follow = document.getElementById("follow");
  const live = document.getElementById("live");
  const message = document.getElementById("message");

  function showMessage(text) {
    message.hidden = !text;
    message.textContent = text || "";
  }

  async function getJSON(path) {
    const r = await fetch(api(path), { cache: "no-store" });
    const body = await r.json();
    if (!r.ok) throw new Error(`${path}: ${body.error || r.status}`);
    return body;
  }

  // ---------------------------------------------------------------------------------- layout
  // Orchestrator, aggregation switch(es), gateways, then each gateway's nodes below it (paper Sec. IV-A).
  function layout(fleet, nodeIds) {
    const switches = fleet ? fleet.switches : [];
    const aggs = switches.filter((s) => s.kind === "aggregation");
    let gws = switches.filter((s) => s.kind === "gateway");
    const nodes = fleet ? fleet.nodes : nodeIds.map((id) => ({ id, gateway: "?" }));
    if (!gws.length) gws = [{ id: "?", kind: "gateway", parent: null }];
    const byGw = new Map(gws.map((g) => [g.id, []]));
    for (const n of nodes) (byGw.get(n.gateway) || byGw.get(gws[0].id)).push(n);
    const slotW = (W - 20) / gws.length;
    const r = Math.max(3, Math.min(11, (W - 20) / nodes.length / 2.7));
    const pitch = 2 * r + 5;
    const perRow = Math.max(1, Math.floor(slotW / pitch));
    const rowsMax = Math.max(1, ...gws.map((g) => Math.ceil(byGw.get(g.id).length / perRow)));
    const yOrch = 22, yAgg = 70, yGw = 124, yNode = 176 + r;
    const height = yNode + (rowsMax - 1) * (2 * r + 8) + r + 10;
    const pos = { nodes: new Map(), gws: new Map(), aggs: new Map(), orch: { x: W / 2, y: yOrch }, r, height };
    aggs.forEach((a, k) => pos.aggs.set(a.id, { x: ((k + 0.5) * W) / aggs.length, y: yAgg }));
    gws.forEach((g, k) => {
      const cx = 10 + (k + 0.5) * slotW;
      pos.gws.set(g.id, { x: cx, y: yGw });
      const list = byGw.get(g.id);
      list.forEach((n, j) => {
        const row = Math.floor(j / perRow), col = j % perRow;
        const inRow = Math.min(perRow, list.length - row * perRow);
        pos.nodes.set(n.id, { x: cx + (col - (inRow - 1) / 2) * pitch, y: yNode + row * (2 * r + 8), gw: g.id });
      });
    });
    if (fleet && pos.aggs.has(fleet.orchestrator.switch)) pos.orch.x = pos.aggs.get(fleet.orchestrator.switch).x;
    return pos;
  }

  // delay (ms) -> colour from green (fast) through amber to red (slow, >= 200 ms)
  function delayColor(ms) {
    const t = Math.max(0, Math.min(1, ms / 200));
    const stops = [[47, 158, 68], [245, 159, 0], [224, 49, 49]];
    const [a, b, u] = t < 0.5 ? [stops[0], stops[1], t * 2] : [stops[1], stops[2], (t - 0.5) * 2];
    return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * u)).join(",")})`;
  }
  const bwWidth = (mbps) => 0.75 + 6.25 * Math.max(0, Math.min(1, (Math.log10(Math.max(mbps, 0.1)) + 1) / 4));
  function lossDash(pct) {
    if (!(pct > 0.05)) return null;
    const l = Math.min(pct, 10);
    return `${(8 - 0.55 * l).toFixed(1)} ${(1.2 + 0.8 * l).toFixed(1)}`;
  }

  function buildGraph(run, svg) {
    const pos = layout(run.fleet, run.record.nodes || []);
    run.pos = pos;
    svg.setAttribute("viewBox", `0 0 ${W} ${pos.height}`);
    svg.setAttribute("aria-label", `fleet of ${pos.nodes.size} nodes`);
    const links = svgEl("g", { class: "links" }, svg);
    const fleet = run.fleet;
    const cfgTitle = (name, link) =>
      link ? `${name} (configured): ${fmtNum(link.bandwidth_mbps)} Mbps, ${fmtNum(link.delay_ms)} ms, ${fmtNum(link.loss_pct || 0)} % loss` : name;
    if (fleet) {
      for (const [id, p] of pos.aggs) {
        if (id === fleet.orchestrator.switch) {
          const l = svgEl("line", { x1: pos.orch.x, y1: pos.orch.y + 9, x2: p.x, y2: p.y - 9, stroke: "#868e96",
            "stroke-width": bwWidth(fleet.orchestrator.link.bandwidth_mbps) }, links);
          svgEl("title", {}, l).textContent = cfgTitle("core link", fleet.orchestrator.link);
        }
      }
      for (const g of fleet.switches.filter((s) => s.kind === "gateway")) {
        const p = pos.gws.get(g.id), a = pos.aggs.get(g.parent);
        if (!p || !a) continue;
        const l = svgEl("line", { x1: a.x, y1: a.y + 9, x2: p.x, y2: p.y - 9, stroke: "#adb5bd",
          "stroke-width": bwWidth(g.uplink ? g.uplink.bandwidth_mbps : 1) }, links);
        svgEl("title", {}, l).textContent = cfgTitle(`uplink ${g.id}`, g.uplink);
      }
    }
    run.linkEls = new Map();
    for (const [id, p] of pos.nodes) {
      const gp = pos.gws.get(p.gw);
      const l = svgEl("line", { x1: gp.x, y1: gp.y + 9, x2: p.x, y2: p.y - pos.r, class: "access", "data-link-node": id }, links);
      run.linkEls.set(id, { line: l, title: svgEl("title", {}, l) });
    }
    const sw = svgEl("g", { class: "switches" }, svg);
    const orch = svgEl("g", { class: "orch" }, sw);
    svgEl("rect", { x: pos.orch.x - 48, y: pos.orch.y - 10, width: 96, height: 20, rx: 4 }, orch);
    svgEl("text", { x: pos.orch.x, y: pos.orch.y }, orch).textContent = "orchestrator";
    for (const [id, p] of [...pos.aggs, ...pos.gws]) {
      const g = svgEl("g", { class: "switch" }, sw);
      const wdt = Math.max(34, Math.min(80, 6 * id.length + 10));
      svgEl("rect", { x: p.x - wdt / 2, y: p.y - 9, width: wdt, height: 18, rx: 3 }, g);
      svgEl("text", { x: p.x, y: p.y }, g).textContent = id;
      svgEl("title", {}, g).textContent = id;
    }
    const nodesG = svgEl("g", { class: "nodes" }, svg);
    run.nodeEls = new Map();
    for (const [id, p] of pos.nodes) {
      const g = svgEl("g", { class: "node", "data-node-id": id, "data-state": "active", "data-cut-now": "false" }, nodesG);
      svgEl("circle", { cx: p.x, cy: p.y, r: pos.r }, g);
      if (pos.r >= 7) svgEl("text", { x: p.x, y: p.y }, g).textContent = String(id);
      const title = svgEl("title", {}, g);
      g.addEventListener("click", () => selectNode(run, id));
      run.nodeEls.set(id, { g, title });
    }
  }

  // ---------------------------------------------------------------------------------- per-run rendering
  function epochFor(run, k) {
    let best = null;
    for (const ep of run.epochs) if (ep.epoch <= k && (!best || ep.epoch > best.epoch)) best = ep;
    return best;
  }

  function renderRun(run, k) {
    const ep = epochFor(run, k);
    const view = ep ? ep.view : null;
    const metrics = ep ? ep.metrics : {};
    const rowsByNode = new Map(view ? view.rows.map((r) => [r.node, r]) : []);
    const cut = new Set(view ? view.cut_now : []);
    for (const [id, el] of run.nodeEls) {
      const st = view ? view.states[String(id)] || "active" : "active";
      el.g.setAttribute("data-state", st);
      el.g.setAttribute("data-cut-now", cut.has(id) ? "true" : "false");
      const row = rowsByNode.get(id);
      el.title.textContent = `node ${id}: ${st}${cut.has(id) ? " (cut by this epoch)" : ""}` +
        (row ? `\nscore ${row.score === null ? "–" : row.score.toFixed(4)}, rank ${row.rank} of ${view.n_scored}` : "");
      const m = metrics[String(id)];
      const link = run.linkEls.get(id);
      if (m) {
        link.line.setAttribute("stroke", delayColor(m.delay_ms));
        link.line.setAttribute("stroke-width", bwWidth(m.bandwidth_mbps).toFixed(2));
        const dash = lossDash(m.loss_pct);
        if (dash) link.line.setAttribute("stroke-dasharray", dash); else link.line.removeAttribute("stroke-dasharray");
        link.title.textContent = `node ${id} path, reported in epoch ${ep.epoch}: ${fmtNum(m.bandwidth_mbps)} Mbps, ` +
          `${fmtNum(m.delay_ms)} ms, ${fmtNum(m.loss_pct)} % loss`;
      } else {
        link.line.setAttribute("stroke", "#ced4da");
        link.line.setAttribute("stroke-width", "1");
        link.line.setAttribute("stroke-dasharray", "1 3");
        link.title.textContent = `node ${id}: no report this epoch`;
      }
    }
    renderTable(run, ep);
    renderFacts(run, ep, k);
  }

  function bars(values) {
    const s = svgEl("svg", { class: "bars", width: 62, height: 12, viewBox: "0 0 62 12" });
    values.forEach((v, i) => {
      svgEl("rect", { class: "bg", x: i * 12.5, y: 0, width: 11, height: 12 }, s);
      svgEl("rect", { class: "v", x: i * 12.5, y: 12 - 12 * v, width: 11, height: 12 * v }, s);
    });
    svgEl("title", {}, s).textContent = ["C", "B", "D", "L", "T"].map((n, i) => `${n} ${values[i].toFixed(3)}`).join(", ");
    return s;
  }

  function td(tr, text, cls) {
    const c = document.createElement("td");
    if (text instanceof Node) c.appendChild(text); else c.textContent = text;
    if (cls) c.className = cls;
    tr.appendChild(c);
    return c;
  }

  function renderTable(run, ep) {
    const tbody = run.el.querySelector("tbody");
    const rows = [];
    const view = ep ? ep.view : null;
    const scored = new Set();
    if (view) {
      for (const r of view.rows) {
        scored.add(r.node);
        const tr = document.createElement("tr");
        tr.dataset.row = r.node;
        if (r.rank !== null && r.rank === view.cut_rank + 1) tr.className = "below-cut";
        td(tr, String(r.node));
        const st = view.states[String(r.node)];
        td(tr, st, "state").dataset.rowState = st;
        const [c, b, d, l, t] = r.metrics;
        td(tr, fmtNum(c)); td(tr, fmtNum(b)); td(tr, fmtNum(d)); td(tr, l.toFixed(2)); td(tr, fmtNum(t));
        td(tr, bars(r.normalized));
        td(tr, r.score === null ? "–" : r.score.toFixed(4));
        td(tr, r.rank === null ? "–" : `${r.rank}/${view.n_scored}`);
        td(tr, r.kept ? "kept" : "cut", r.kept ? "kept" : "cut");
        rows.push(tr);
      }
    }
    const states = view ? view.states : {};
    for (const id of run.nodeEls.keys()) {
      if (scored.has(id)) continue;
      const tr = document.createElement("tr");
      tr.className = "unscored";
      tr.dataset.row = id;
      td(tr, String(id));
      const st = states[String(id)] || "active";
      td(tr, st, "state").dataset.rowState = st;
      for (let i = 0; i < 9; i++) td(tr, i === 5 ? "" : "–");
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    if (run.selectedNode !== undefined) selectNode(run, run.selectedNode, true);
  }

  function renderFacts(run, ep, k) {
    const rec = run.record, d = run.dash;
    const unit = (rec.time_base || "virtual") === "wall" ? "wall s" : "virtual s";
    const parts = [];
    parts.push(`<b>${d.nodes}</b> nodes`);
    const total = d.epochs_total ? `/${d.epochs_total}` : "";
    if (ep) {
      parts.push(`epoch <b>${ep.epoch}</b>${total}` + (ep.epoch < k ? ` (its latest)` : ""));
      parts.push(`<b>${ep.view.n_active}</b> trained`);
      parts.push(`<b>${ep.view.cut_now.length}</b> cut`);
      if (Object.keys(ep.failed || {}).length) parts.push(`<b>${Object.keys(ep.failed).length}</b> failed`);
      parts.push(`clock <b>${fmtNum(ep.end_s)}</b> ${unit}`);
      if (ep.loss !== null && ep.loss !== undefined) parts.push(`loss <b>${ep.loss.toFixed(4)}</b>`);
    } else {
      parts.push("no epoch finished yet");
    }
    if (d.energy_total_j) parts.push(`run energy <b>${fmtNum(d.energy_total_j)}</b> J`);
    const p = run.el.querySelector(".facts");
    p.replaceChildren();
    // Build with DOM nodes (no innerHTML of server data).
    parts.forEach((html, i) => {
      if (i) p.appendChild(document.createTextNode(" · "));
      html.split(/(<b>.*?<\/b>)/).forEach((bit) => {
        if (bit.startsWith("<b>")) { const b = document.createElement("b"); b.textContent = bit.slice(3, -4); p.appendChild(b); }
        else if (bit) p.appendChild(document.createTextNode(bit));
      });
    });
    const status = run.el.querySelector(".status");
    status.textContent = run.status;
    status.dataset.status = run.status;
  }

  function selectNode(run, id, keep) {
    if (!keep && run.selectedNode === id) id = undefined;
    run.selectedNode = id;
    for (const [nid, el] of run.nodeEls) el.g.classList.toggle("selected", nid === id);
    for (const tr of run.el.querySelectorAll("tbody tr")) tr.classList.toggle("selected", Number(tr.dataset.row) === id);
  }

  // ---------------------------------------------------------------------------------- charts
  function renderCharts(k) {
    const wall = state.runs.some((r) => r.record.time_base === "wall");
    const unit = wall ? "wall s" : "virtual s";
    const withLoss = state.runs.some((r) => r.epochs.some((e) => e.loss !== null && e.loss !== undefined));
    const name = (r) => (r.dash.name === r.record.policy ? r.dash.name : `${r.dash.name} (${r.record.policy || "?"})`);
    const lossSeries = state.runs.map((r) => {
      const pts = [];
      if (withLoss && r.record.pre_training_loss !== null && r.record.pre_training_loss !== undefined) pts.push([0, r.record.pre_training_loss]);
      for (const e of r.epochs) {
        if (withLoss ? e.loss !== null && e.loss !== undefined : true) pts.push([e.end_s, withLoss ? e.loss : e.epoch]);
      }
      if (!withLoss && r.epochs.length) pts.unshift([0, 0]);
      return { name: name(r), color: r.color, points: pts };
    });
    document.getElementById("chart-loss-title").textContent = withLoss
      ? `Loss vs ${wall ? "wall" : "virtual"} time`
      : `Epochs done vs ${wall ? "wall" : "virtual"} time (no loss in these records: simulated engine)`;
    drawChart(document.getElementById("chart-loss"), {
      series: lossSeries, xLabel: unit, yLabel: withLoss ? "loss" : "epochs done", kind: "line", yFromZero: !withLoss,
      marker: (() => { const e = state.runs.map((r) => epochFor(r, k)).find(Boolean); return e ? e.end_s : null; })(),
    });
    const perEpoch = (f) => state.runs.map((r) => ({ name: name(r), color: r.color,
      points: r.epochs.filter((e) => f(e) !== null && f(e) !== undefined).map((e) => [e.epoch, f(e)]) }));
    drawChart(document.getElementById("chart-active"), {
      series: perEpoch((e) => e.view.n_active), xLabel: "epoch", yLabel: "nodes trained", kind: "bar",
      integerX: true, yFromZero: true, marker: k,
    });
    document.getElementById("chart-time-title").textContent = `Epoch time (${unit})`;
    drawChart(document.getElementById("chart-time"), {
      series: perEpoch((e) => e.view.duration_s), xLabel: "epoch", yLabel: unit, kind: "line",
      integerX: true, yFromZero: true, marker: k,
    });
    drawChart(document.getElementById("chart-energy"), {
      series: perEpoch((e) => e.view.energy_j), xLabel: "epoch", yLabel: "J", kind: "line",
      integerX: true, yFromZero: true, marker: k,
    });
  }

  // ---------------------------------------------------------------------------------- state and updates
  function latest() {
    return Math.max(0, ...state.runs.map((r) => (r.epochs.length ? r.epochs[r.epochs.length - 1].epoch : 0)));
  }

  function render() {
    state.pending = false;
    const top = latest();
    if (state.follow || state.selected > top) state.selected = top;
    if (state.selected < 1 && top >= 1) state.selected = 1;
    slider.min = top >= 1 ? "1" : "0";
    slider.max = String(top);
    slider.disabled = top < 1;
    slider.value = String(state.selected);
    label.textContent = top >= 1 ? `epoch ${state.selected} of ${top}` : "no epoch yet";
    document.body.dataset.latestEpoch = String(top);
    document.body.dataset.epoch = String(state.selected);
    for (const run of state.runs) renderRun(run, state.selected);
    renderCharts(state.selected);
    live.dataset.live = state.runs.some((r) => r.status === "running") ? "true" : "false";
    const notes = [];
    for (const run of state.runs) {
      const s = run.dash.skipped_lines || {};
      const n = Object.values(s).reduce((a, b) => a + b, 0);
      if (n) notes.push(`${run.dash.name}: ${n} line(s) of epochs.jsonl skipped (${Object.entries(s).filter((e) => e[1]).map((e) => e.join(" ")).join(", ")})`);
      for (const err of run.dash.read_errors || []) notes.push(`${run.dash.name}: ${err}`);
    }
    showMessage(notes.join("; "));
  }

  function scheduleRender() {
    if (state.pending) return;
    state.pending = true;
    window.requestAnimationFrame(render);
  }

  function addEpoch(run, ep) {
    const at = run.epochs.findIndex((e) => e.epoch >= ep.epoch);
    if (at < 0) run.epochs.push(ep);
    else if (run.epochs[at].epoch === ep.epoch) run.epochs[at] = ep;
    else run.epochs.splice(at, 0, ep);
    run.dash.epochs_done = run.epochs.length;
  }

  // Re-read the whole run (its record changed status, or the page opened before the run wrote its folder).
  async function reload(run) {
    const full = await getJSON(`/api/runs/${run.index}`);
    run.record = full;
    run.dash = full.dashboard;
    for (const ep of full.epochs) addEpoch(run, ep);
    if (!run.fleet && full.fleet) {
      run.fleet = full.fleet;
      const svg = run.el.querySelector("svg.fleet");
      svg.replaceChildren();
      buildGraph(run, svg);
    }
    run.el.querySelector(".policy").textContent = (full.policy || "?").toUpperCase();
    scheduleRender();
  }

  function listen(run) {
    const after = run.epochs.length ? run.epochs[run.epochs.length - 1].epoch : 0;
    const es = new EventSource(api(`/api/runs/${run.index}/events?after=${after}`));
    es.addEventListener("epoch", (ev) => {
      addEpoch(run, JSON.parse(ev.data));
      if (!run.fleet) reload(run).catch(() => {});
      scheduleRender();
    });
    es.addEventListener("status", (ev) => {
      run.status = JSON.parse(ev.data).status;
      if (run.status !== "running" || !run.fleet) reload(run).catch(() => {});
      scheduleRender();
    });
    run.es = es;
  }

  slider.addEventListener("input", () => {
    state.selected = Number(slider.value);
    state.follow = state.selected >= latest();
    follow.checked = state.follow;
    scheduleRender();
  });
  follow.addEventListener("change", () => { state.follow = follow.checked; scheduleRender(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.target === slider || slider.disabled) return;
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      state.selected = Math.max(1, Math.min(latest(), state.selected + (ev.key === "ArrowLeft" ? -1 : 1)));
      state.follow = state.selected >= latest();
      follow.checked = state.follow;
      scheduleRender();
    }
  });

  async function init() {
    try {
      const { runs } = await getJSON("/api/runs");
      const holder = document.getElementById("runs");
      const tpl = document.getElementById("run-template");
      for (const summary of runs) {
        const full = await getJSON(`/api/runs/${summary.index}`);
        const el = tpl.content.firstElementChild.cloneNode(true);
        el.dataset.run = summary.index;
        holder.appendChild(el);
        const run = { index: summary.index, el, record: full, dash: full.dashboard, fleet: full.fleet,
          epochs: full.epochs, status: full.dashboard.status, color: RUN_COLORS[summary.index % RUN_COLORS.length] };
        el.querySelector(".run-name").textContent = summary.name;
        el.querySelector(".run-name").style.color = run.color;
        el.querySelector(".policy").textContent = (full.policy || "?").toUpperCase();
        el.querySelector(".run-name").title = summary.path;
        buildGraph(run, el.querySelector("svg.fleet"));
        state.runs.push(run);
      }
      holder.dataset.runs = String(state.runs.length);
      render();
      state.runs.forEach(listen);
      document.body.dataset.ready = "true";
    } catch (err) {
      showMessage(`could not load the runs: ${err.message}`);
    }
  }

  init();
})();
