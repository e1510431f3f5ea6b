"use strict";
// The MiniMind runs page: polls api/runs every second and draws each
// chart on a canvas. No libraries, so it works offline.

const CHARTS = [
  { id: "loss", title: "Loss (faint: raw, bold: smoothed)", key: "loss", smooth: true },
  { id: "lr", title: "Learning rate", key: "lr" },
  { id: "grad_norm", title: "Gradient norm (before clipping)", key: "grad_norm" },
  { id: "tokens_per_s", title: "Tokens/s", key: "tokens_per_s" },
];
// Titles of the extra series a stage's lines may carry (any other numeric
// key gets a chart titled by its name), in the order their charts appear.
const EXTRA_TITLES = {
  eval_loss: "Eval loss (held-out)",
  reward: "Reward (mean over the step's rollouts)",
  reward_std: "Reward standard deviation",
  kl: "KL to the reference",
  kl_ref: "KL to the reference",
  approx_kl: "Approximate KL to the rollout policy",
  ratio: "Policy ratio",
  clipped: "Clipped fraction",
  clipfrac: "Clipped fraction",
  policy_loss: "Policy loss",
  value_loss: "Value loss (critic)",
  completion_len: "Completion length (tokens)",
  avg_resp_len: "Response length (tokens)",
  rollout_tokens_per_s: "Rollout tokens/s",
  rollout_share: "Share of the step spent on rollouts",
  update_share: "Share of the step spent on the update",
  rollout_s: "Rollout seconds",
  update_s: "Update seconds",
  critic_lr: "Critic learning rate",
  reward_acc: "DPO reward accuracy",
  reward_margin: "DPO reward margin",
  reward_chosen: "DPO reward, chosen",
  reward_rejected: "DPO reward, rejected",
};
const SMOOTHED = new Set(["loss", "reward", "kl", "kl_ref", "policy_loss", "value_loss", "reward_margin"]);
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
const colors = new Map(); // series label → colour, stable across polls
let data = { runs: [] };
let version = "";

// plotted[chart id][series label] is the last raw point drawn, [step, value]:
// what the browser test compares with the last line of metrics.jsonl.
window.plotted = {};

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// TensorBoard's smoothing: an exponential moving average, debiased so the
// first points are not pulled towards zero.
function smooth(ys, w) {
  const out = [];
  let last = 0, n = 0;
  for (const y of ys) {
    if (!Number.isFinite(y)) { out.push(y); continue; }
    last = last * w + (1 - w) * y;
    n++;
    out.push(w === 1 ? last : last / (1 - Math.pow(w, n)));
  }
  return out;
}

// series lists every run × stage as {label, color, xs, ys}; an extra key
// reads the stage's own steps for it. null values (absent, not finite) are
// gaps.
function series(key, extra) {
  const many = data.runs.length > 1;
  const out = [];
  for (const run of data.runs) {
    for (const st of run.stages) {
      const label = many ? run.name + " · " + st.stage : st.stage;
      if (!colors.has(label)) colors.set(label, PALETTE[colors.size % PALETTE.length]);
      const e = extra ? (st.extra || {})[key] : null;
      const xs = extra ? (e ? e.step : []) : st.step || [];
      const ys = extra ? (e ? e.value : []) : st[key] || [];
      out.push({ label, color: colors.get(label), xs, ys });
    }
  }
  return out;
}

function niceTicks(lo, hi, n) {
  const span = hi - lo;
  const raw = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

function fmt(v) {
  if (typeof v !== "number") return v == null ? "–" : String(v);
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  if (a >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(4)));
}

const PAD = { left: 62, right: 12, top: 8, bottom: 24 };

// draw paints one chart; hoverX (a step or null) adds a cursor line.
function draw(chart) {
  const canvas = chart.canvas;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";

  const all = series(chart.key, chart.extra);
  const w8 = Number($("smoothing").value);
  for (const s of all) s.smooth = chart.smooth && w8 > 0 ? smooth(s.ys, w8) : null;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, points = 0;
  for (const s of all) {
    s.xs.forEach((x, i) => {
      const y = s.ys[i];
      if (!Number.isFinite(y)) return;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      points++;
    });
  }
  chart.points = all;
  canvas.dataset.points = String(points);
  const last = {};
  for (const s of all) if (s.xs.length) last[s.label] = [s.xs[s.xs.length - 1], s.ys[s.ys.length - 1]];
  window.plotted[chart.id] = last;
  if (points === 0) {
    ctx.fillStyle = "#999";
    ctx.fillText("waiting for metrics…", PAD.left, h / 2);
    return;
  }
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
  const yPad = (y1 - y0) * 0.04;
  y0 -= yPad; y1 += yPad;
  const pw = w - PAD.left - PAD.right, ph = h - PAD.top - PAD.bottom;
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y) => PAD.top + (1 - (y - y0) / (y1 - y0)) * ph;
  chart.scale = { x0, x1, sx };

  ctx.strokeStyle = "#eee";
  ctx.fillStyle = "#666";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of niceTicks(y0, y1, 5)) {
    const y = Math.round(sy(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(w - PAD.right, y); ctx.stroke();
    ctx.fillText(fmt(t), PAD.left - 6, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(x0, x1, 6)) {
    if (t !== Math.round(t)) continue; // steps are whole
    const x = Math.round(sx(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + ph); ctx.stroke();
    ctx.fillText(fmt(t), x, PAD.top + ph + 5);
  }
  ctx.strokeStyle = "#bbb";
  ctx.strokeRect(PAD.left + 0.5, PAD.top + 0.5, pw, ph);

  const line = (xs, ys, color, alpha, width) => {
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let pen = false, n = 0;
    xs.forEach((x, i) => {
      if (!Number.isFinite(ys[i])) { pen = false; return; }
      if (pen) ctx.lineTo(sx(x), sy(ys[i])); else ctx.moveTo(sx(x), sy(ys[i]));
      pen = true; n++;
    });
    ctx.stroke();
    if (n === 1) { ctx.beginPath(); ctx.arc(sx(xs[xs.length - 1]), sy(ys[ys.length - 1]), 2.5, 0, 2 * Math.PI); ctx.fill(); }
    ctx.globalAlpha = 1;
  };
  ctx.save();
  ctx.beginPath(); ctx.rect(PAD.left, PAD.top, pw, ph); ctx.clip();
  for (const s of all) {
    line(s.xs, s.ys, s.color, s.smooth ? 0.25 : 1, 1.5);
    if (s.smooth) line(s.xs, s.smooth, s.color, 1, 2);
  }
  if (chart.hoverX != null) {
    ctx.strokeStyle = "#888";
    ctx.setLineDash([3, 3]);
    const x = Math.round(sx(chart.hoverX)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + ph); ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.restore();
}

// readout writes each series' value at the step nearest the cursor.
function readout(chart) {
  const out = chart.readout;
  if (chart.hoverX == null) { out.textContent = ""; return; }
  const parts = [];
  for (const s of chart.points || []) {
    let best = -1;
    s.xs.forEach((x, i) => { if (best < 0 || Math.abs(x - chart.hoverX) < Math.abs(s.xs[best] - chart.hoverX)) best = i; });
    if (best < 0) continue;
    let v = s.label + " step " + s.xs[best] + ": " + fmt(s.ys[best]);
    if (s.smooth) v += " (smoothed " + fmt(s.smooth[best]) + ")";
    parts.push(v);
  }
  out.textContent = parts.join("   ");
}

function buildCharts() {
  for (const chart of CHARTS) addChart(chart);
}

// addExtraCharts adds a chart for each extra key that appeared since the
// last poll, known keys in EXTRA_TITLES' order, then the others by name.
function addExtraCharts() {
  const have = new Set(CHARTS.filter((c) => c.extra).map((c) => c.key));
  const keys = new Set();
  for (const run of data.runs) for (const st of run.stages) for (const k of Object.keys(st.extra || {})) if (!have.has(k)) keys.add(k);
  const order = Object.keys(EXTRA_TITLES);
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  for (const k of [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
    const chart = { id: "extra-" + k, title: EXTRA_TITLES[k] ? EXTRA_TITLES[k] + " (" + k + ")" : k, key: k, extra: true, smooth: SMOOTHED.has(k) };
    CHARTS.push(chart);
    addChart(chart);
  }
}

function addChart(chart) {
  const host = $("charts");
  const box = el("div", "chart");
  box.appendChild(el("h3", "", chart.title));
  chart.canvas = el("canvas");
  chart.canvas.id = "chart-" + chart.id;
  chart.readout = el("div", "readout");
  box.append(chart.canvas, chart.readout);
  host.appendChild(box);
  chart.canvas.addEventListener("mousemove", (ev) => {
    if (!chart.scale) return;
    const r = chart.canvas.getBoundingClientRect();
    const { x0, x1 } = chart.scale;
    const f = (ev.clientX - r.left - PAD.left) / (r.width - PAD.left - PAD.right);
    chart.hoverX = Math.round(x0 + Math.min(1, Math.max(0, f)) * (x1 - x0));
    draw(chart); readout(chart);
  });
  chart.canvas.addEventListener("mouseleave", () => { chart.hoverX = null; draw(chart); readout(chart); });
}

function clock(s) {
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
}

function renderTables() {
  const legend = $("legend");
  legend.replaceChildren();
  for (const s of series("loss")) {
    const li = el("li");
    const sw = el("span", "swatch");
    sw.style.background = s.color;
    li.append(sw, s.label);
    legend.appendChild(li);
  }

  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const run of data.runs) {
    const notes = [];
    if (run.waiting) notes.push("no " + "metrics.jsonl yet");
    if (run.torn_bytes) notes.push("last line unfinished (" + run.torn_bytes + " bytes), not read yet");
    if (run.bad_lines) notes.push(run.bad_lines + " line(s) skipped; first: " + run.first_bad);
    if (run.error) notes.push(run.error);
    const stages = run.stages.length ? run.stages : [null];
    for (const st of stages) {
      const tr = el("tr");
      const l = st && st.last;
      const missing = new Set((st && st.last_missing) || []);
      const v = (k, f) => (missing.has(k) ? "" : f(l[k]));
      const cells = l
        ? [run.name, st.stage, l.step + (l.total ? " / " + l.total : ""), l.epoch, v("loss", fmt), v("lr", fmt), v("grad_norm", fmt), v("tokens_per_s", fmt), v("elapsed_s", clock)]
        : [run.name, "", "", "", "", "", "", "", ""];
      for (const c of cells) tr.appendChild(el("td", "", String(c)));
      tr.appendChild(el("td", "note", notes.join("; ")));
      tr.title = run.dir;
      body.appendChild(tr);
    }
  }

  const samples = $("samples");
  const all = [];
  for (const run of data.runs) for (const s of run.samples) all.push({ run: run.name, ...s });
  if (all.length === 0) return;
  samples.replaceChildren();
  for (const s of all) {
    const box = el("div", "sample");
    box.appendChild(el("div", "meta", (data.runs.length > 1 ? s.run + " · " : "") + s.stage + " · step " + s.step));
    box.appendChild(el("div", "prompt", s.prompt));
    box.appendChild(el("div", "text", s.text));
    samples.appendChild(box);
  }
}

function render() {
  addExtraCharts();
  for (const chart of CHARTS) { draw(chart); readout(chart); }
  renderTables();
  document.body.dataset.version = version;
}

function setStatus(text, error) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

async function poll() {
  try {
    // no-cache revalidates with the ETag: an unchanged run costs a 304.
    const res = await fetch("api/runs", { cache: "no-cache" });
    if (!res.ok) throw new Error(res.status + " " + res.statusText);
    const body = await res.json();
    if (body.version !== version) {
      data = body;
      version = body.version;
      render();
    }
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus("cannot reach the dashboard (" + e.message + "); retrying", true);
  }
  setTimeout(poll, 1000);
}

buildCharts();
$("smoothing").addEventListener("input", () => {
  $("smoothing-value").textContent = Number($("smoothing").value).toFixed(2);
  for (const chart of CHARTS) if (chart.smooth) { draw(chart); readout(chart); }
});
window.addEventListener("resize", () => { for (const chart of CHARTS) draw(chart); });
poll();
