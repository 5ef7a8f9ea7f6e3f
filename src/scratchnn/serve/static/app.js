// scratchnn serve: the page. Plain JavaScript, no library, no network but this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#be123c"];
const CLASS_RGB = [[37, 99, 235], [234, 88, 12], [22, 163, 74]];

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// --- views ----------------------------------------------------------------------------

const started = {};
function show(view) {
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === `view-${view}`));
  if (!started[view]) { started[view] = true; ({ draw: startDraw, playground: startPlayground, runs: startRuns })[view](); }
  history.replaceState(null, "", `#${view}`);
}
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));

// --- a line chart ---------------------------------------------------------------------

function lineChart(canvas, series, { yMin = null, yMax = null } = {}) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height, pad = 34;
  g.clearRect(0, 0, w, h);
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && isFinite(v)));
  const n = Math.max(2, ...series.map((s) => s.values.length));
  if (!values.length) return;
  let lo = yMin ?? Math.min(...values), hi = yMax ?? Math.max(...values);
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const X = (i) => pad + (i / (n - 1)) * (w - pad - 8), Y = (v) => h - pad + 10 - ((v - lo) / (hi - lo)) * (h - pad - 4);
  g.strokeStyle = "#d8dde6"; g.fillStyle = "#6b7280"; g.font = "11px system-ui";
  g.strokeRect(pad, 6, w - pad - 8, h - pad - 4);
  g.fillText(hi.toPrecision(3), 2, 14); g.fillText(lo.toPrecision(3), 2, h - pad + 10);
  g.fillText("epoch " + (n - 1 + (series.offset || 1)), w - 70, h - 8);
  for (const s of series) {
    g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
    let moved = false;
    s.values.forEach((v, i) => {
      if (v === null || !isFinite(v)) return;
      const x = s.values.length === 1 ? X(0) : X(i), y = Y(v);
      if (!moved) { g.moveTo(x, y); moved = true; } else g.lineTo(x, y);
    });
    if (s.values.length === 1) g.arc(X(0), Y(s.values[0]), 2, 0, 7);
    g.stroke();
  }
}

// --- Draw -----------------------------------------------------------------------------

const pad = $("#pad"), ink = pad.getContext("2d");
// The drawing is sent at 112x112 (4 times MNIST's 28): the preprocessing then takes a few
// milliseconds instead of tens, and the 20x20 box the digit is scaled to loses nothing.
const SENT = 112;
let drawn = false, inFlight = false, pending = false, uploaded = null;

function clearPad() {
  ink.fillStyle = "#fff"; ink.fillRect(0, 0, pad.width, pad.height);
  drawn = false; uploaded = null;
  $("#predicted").textContent = "–"; $("#bars").innerHTML = ""; $("#activations").innerHTML = "";
  $("#novelty").textContent = ""; $("#draw-error").textContent = ""; $("#latency").textContent = "";
  $("#seen").getContext("2d").clearRect(0, 0, 28, 28);
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return [(event.clientX - r.left) * pad.width / r.width, (event.clientY - r.top) * pad.height / r.height];
}

function startDraw() {
  clearPad();
  let last = null;
  pad.addEventListener("pointerdown", (e) => {
    if (uploaded) clearPad();
    pad.setPointerCapture(e.pointerId); last = point(e);
    ink.fillStyle = "#000"; ink.beginPath(); ink.arc(last[0], last[1], 9, 0, 7); ink.fill();
    drawn = true; requestPrediction();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = point(e);
    ink.strokeStyle = "#000"; ink.lineWidth = 18; ink.lineCap = "round"; ink.lineJoin = "round";
    ink.beginPath(); ink.moveTo(...last); ink.lineTo(...p); ink.stroke();
    last = p; requestPrediction();
  });
  const end = () => { if (last) { last = null; requestPrediction(); } };
  pad.addEventListener("pointerup", end); pad.addEventListener("pointercancel", end);
  $("#clear").addEventListener("click", clearPad);
  $("#upload").addEventListener("change", uploadPicture);
  $("#model").addEventListener("change", () => (drawn || uploaded) && requestPrediction());
  loadModels();
}

async function loadModels() {
  try {
    const { models } = await api("/api/models");
    const select = $("#model");
    select.innerHTML = "";
    for (const m of models) select.add(new Option(`${m.label} (${m.kind})`, m.name));
    if (!models.length) $("#draw-error").textContent = "No model: train one (scratchnn train) into the runs folder, or put the book's sample_weight.pkl in the data folder.";
  } catch (err) { $("#draw-error").textContent = err.message; }
}

function uploadPicture(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  clearPad(); uploaded = file;
  const url = URL.createObjectURL(file), image = new Image();
  image.onload = () => {
    const s = Math.min(pad.width / image.width, pad.height / image.height);
    ink.drawImage(image, (pad.width - image.width * s) / 2, (pad.height - image.height * s) / 2, image.width * s, image.height * s);
    URL.revokeObjectURL(url);
  };
  image.src = url;
  requestPrediction();
}

// One request at a time; strokes drawn meanwhile are sent when it comes back.
function requestPrediction() {
  if (inFlight) { pending = true; return; }
  inFlight = true; pending = false;
  const send = (body) => predict(body).finally(() => { inFlight = false; if (pending) requestPrediction(); });
  if (uploaded) return send(uploaded);
  const small = document.createElement("canvas");
  small.width = small.height = SENT;
  const g = small.getContext("2d");
  g.imageSmoothingQuality = "high";
  g.drawImage(pad, 0, 0, SENT, SENT);
  small.toBlob(send, "image/png");
}

async function predict(body) {
  const model = $("#model").value;
  if (!model) return;
  const t0 = performance.now();
  try {
    const result = await api(`/api/predict?model=${encodeURIComponent(model)}`, { method: "POST", body, headers: { "Content-Type": body.type || "application/octet-stream" } });
    $("#latency").textContent = `${Math.round(performance.now() - t0)} ms`;
    $("#draw-error").textContent = "";
    showPrediction(result);
  } catch (err) {
    $("#draw-error").textContent = drawn || uploaded ? err.message : "";
  }
}

function showPrediction(r) {
  $("#predicted").textContent = r.label;
  const bars = $("#bars"); bars.innerHTML = "";
  r.probs.forEach((p, k) => {
    const row = document.createElement("div");
    row.className = "bar" + (k === r.predicted ? " top" : "");
    row.dataset.cls = r.classes[k];
    row.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>`;
    row.querySelector(".name").textContent = r.classes[k];
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".pct").textContent = `${(100 * p).toFixed(1)}%`;
    bars.appendChild(row);
  });
  const seen = $("#seen").getContext("2d"), img = seen.createImageData(28, 28);
  r.input.forEach((v, i) => { img.data.set([v, v, v, 255], 4 * i); });
  seen.putImageData(img, 0, 0);
  $("#novelty").textContent = r.novelty && r.novelty.warning ? r.novelty.warning : "";
  showActivations(r.activations);
}

function showActivations(layers) {
  const box = $("#activations"); box.innerHTML = "";
  for (const a of layers) {
    const title = document.createElement("div");
    title.className = "muted";
    box.appendChild(title);
    if (a.kind === "units") {
      title.textContent = `layer ${a.layer}: ${a.type}, ${a.values.length} units`;
      const cols = Math.min(a.values.length, 40), rows = Math.ceil(a.values.length / cols), cell = 9;
      const c = document.createElement("canvas"); c.width = cols * cell; c.height = rows * cell;
      const g = c.getContext("2d"), top = Math.max(1e-6, ...a.values.map(Math.abs));
      a.values.forEach((v, i) => {
        const s = Math.abs(v) / top;
        g.fillStyle = v >= 0 ? `rgba(37,99,235,${s})` : `rgba(234,88,12,${s})`;
        g.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
      });
      box.appendChild(c);
    } else {
      title.textContent = `layer ${a.layer}: ${a.type}, ${a.maps.length} of ${a.channels} feature maps`;
      const row = document.createElement("div"); row.className = "maps";
      for (const m of a.maps) {
        const [h, w] = a.shape, c = document.createElement("canvas");
        c.width = w; c.height = h; c.style.width = `${2 * w}px`;
        const g = c.getContext("2d"), img = g.createImageData(w, h);
        m.flat().forEach((v, i) => img.data.set([v, v, v, 255], 4 * i));
        g.putImageData(img, 0, 0); row.appendChild(c);
      }
      box.appendChild(row);
    }
  }
}

// --- Playground -----------------------------------------------------------------------

const SETTINGS = ["dataset", "layers", "units", "activation", "optimizer", "lr", "batch_size", "l2", "noise", "seed"];
let playground = null, source = null, records = [], points = null, mode = "paused";

function readSettings() {
  const s = {};
  for (const name of SETTINGS) {
    const field = $(`#pg-${name}`);
    s[name] = field.type === "number" ? Number(field.value) : field.value;
  }
  return s;
}

async function startPlayground() {
  const { settings, code } = await api("/api/playground");
  for (const name of SETTINGS) $(`#pg-${name}`).value = settings[name];
  $("#pg-code").textContent = code;
  SETTINGS.forEach((name) => $(`#pg-${name}`).addEventListener("change", resetPlayground));
  $("#pg-play").addEventListener("click", () => control(mode === "playing" ? "pause" : "play"));
  $("#pg-step").addEventListener("click", () => control("step"));
  $("#pg-reset").addEventListener("click", resetPlayground);
  $("#pg-copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("#pg-code").textContent));
  resetPlayground();
}

async function resetPlayground() {
  const path = playground ? `/api/playground/${playground}/reset` : "/api/playground";
  try {
    const opened = await api(path, { method: "POST", body: JSON.stringify(readSettings()), headers: { "Content-Type": "application/json" } });
    $("#pg-error").textContent = "";
    if (opened.id !== playground || !source) listen(opened.id);
  } catch (err) { $("#pg-error").textContent = err.message; }
}

function listen(id) {
  playground = id;
  if (source) source.close();
  source = new EventSource(`/api/playground/${id}/events`);
  source.onmessage = (event) => {
    const e = JSON.parse(event.data);
    if (e.closed) { $("#pg-error").textContent = e.closed; source.close(); source = null; playground = null; return; }
    if (e.reset) records = [];
    if (e.points) points = e.points;
    records.push(...e.records);
    showPlayground(e.state, e.code);
  };
}

async function control(action) {
  if (!playground) return resetPlayground();
  try { await api(`/api/playground/${playground}/${action}`, { method: "POST" }); }
  catch (err) { $("#pg-error").textContent = err.message; }
}

const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(4));

function showPlayground(state, code) {
  mode = state.mode;
  $("#pg-mode").textContent = state.mode + (state.error ? `: ${state.error}` : "");
  $("#pg-play").textContent = mode === "playing" ? "Pause" : "Play";
  $("#pg-epoch").textContent = state.epoch;
  const last = records[records.length - 1] || {};
  $("#pg-train-acc").textContent = pct(last.train_acc); $("#pg-test-acc").textContent = pct(last.val_acc);
  $("#pg-loss").textContent = num(last.loss); $("#pg-test-loss").textContent = num(last.val_loss);
  $("#pg-code").textContent = code;
  if (state.boundary) drawBoundary(state.boundary);
  // the accuracy shares the loss axis: 100% at the top of the chart
  const top = Math.max(1e-9, ...records.flatMap((r) => [r.loss, r.val_loss]).filter((v) => v !== null));
  lineChart($("#pg-curves"), [
    { values: records.map((r) => r.loss), color: COLORS[0] },
    { values: records.map((r) => r.val_loss), color: COLORS[1] },
    { values: records.map((r) => (r.val_acc === null ? null : r.val_acc * top)), color: COLORS[2] },
  ], { yMin: 0, yMax: top });
}

function drawBoundary(b) {
  // one pixel per cell, then scaled up smoothly: the regions, shaded by confidence
  const c = $("#pg-boundary"), g = c.getContext("2d"), n = b.size;
  const cells = document.createElement("canvas"); cells.width = cells.height = n;
  const img = cells.getContext("2d").createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const rgb = CLASS_RGB[b.classes[i] % 3], a = Math.max(0.1, Math.min(1, 2 * (b.confidence[i] - 0.5)));
    img.data.set([...rgb.map((v) => Math.round(255 - (255 - v) * 0.45 * a)), 255], 4 * i);
  }
  cells.getContext("2d").putImageData(img, 0, 0);
  g.imageSmoothingEnabled = true;
  g.drawImage(cells, 0, 0, c.width, c.height);
  if (!points) return;
  const [x0, y0] = b.lo, [x1, y1] = b.hi;
  points.x.forEach(([x, y], i) => {
    const [r, gg, bb] = CLASS_RGB[points.t[i] % 3];
    g.fillStyle = `rgb(${r},${gg},${bb})`; g.strokeStyle = "#fff"; g.lineWidth = 1;
    g.beginPath(); g.arc((x - x0) / (x1 - x0) * c.width, (y1 - y) / (y1 - y0) * c.height, 3.5, 0, 7);
    g.fill(); g.stroke();
  });
}

// --- Runs -----------------------------------------------------------------------------

let runs = [], chosen = new Set(), selected = null;

function startRuns() {
  api("/api/runs").then((r) => { $("#runs-folder").textContent = r.folder; showRuns(r.runs); })
    .catch((err) => { $("#runs-empty").textContent = err.message; });
  const live = new EventSource("/api/runs/events");
  live.onmessage = (event) => { showRuns(JSON.parse(event.data).runs); $("#runs-live").textContent = "live"; };
  live.onerror = () => { $("#runs-live").textContent = "reconnecting…"; };
  $("#runs-metric").addEventListener("change", drawRuns);
}

function summary(settings) {
  const keys = ["dataset", "model", "hidden", "activation", "optimizer", "lr", "batch_size", "epochs"];
  return keys.filter((k) => settings[k] !== undefined && settings[k] !== null).map((k) => `${k}=${settings[k]}`).join(" ");
}

function showRuns(list) {
  runs = list;
  if (!chosen.size && runs.length) runs.slice(-6).forEach((r) => chosen.add(r.name));
  const body = $("#runs-table tbody"); body.innerHTML = "";
  $("#runs-empty").textContent = runs.length ? "" : "No runs yet: scratchnn train --out RUNS/NAME writes one.";
  for (const r of runs) {
    const row = body.insertRow();
    row.className = r.name === selected ? "selected" : "";
    row.dataset.run = r.name;
    const box = document.createElement("input"); box.type = "checkbox"; box.checked = chosen.has(r.name);
    box.addEventListener("click", (e) => { e.stopPropagation(); box.checked ? chosen.add(r.name) : chosen.delete(r.name); drawRuns(); });
    row.insertCell().appendChild(box);
    const cells = [r.name, r.status, r.epochs.length, pct(r.test_accuracy), summary(r.settings)];
    cells.forEach((text, i) => { const cell = row.insertCell(); cell.textContent = text; if (i === 1) cell.className = `status-${r.status}`; });
    row.addEventListener("click", () => { selected = r.name; showRuns(runs); });
  }
  if (!selected && runs.length) selected = runs[runs.length - 1].name;
  drawRuns(); showRun(runs.find((r) => r.name === selected));
}

function drawRuns() {
  const metric = $("#runs-metric").value, legend = $("#runs-legend");
  const shown = runs.filter((r) => chosen.has(r.name));
  legend.innerHTML = "";
  shown.forEach((r, i) => { const s = document.createElement("span"); s.className = `c${i % 6}`; s.textContent = r.name; legend.appendChild(s); });
  lineChart($("#runs-chart"), shown.map((r, i) => ({ values: r.epochs.map((e) => e[metric]), color: COLORS[i % 6] })));
}

let shownRun = null;
function showRun(r) {
  if (!r) return;
  const key = `${r.name}@${r.stamp}`;
  if (key === shownRun) return;
  shownRun = key;
  $("#run-title").textContent = `${r.name} (${r.status})`;
  const settings = $("#run-settings"); settings.innerHTML = "";
  for (const [k, v] of Object.entries(r.settings)) {
    const item = document.createElement("span"), name = document.createElement("b");
    name.textContent = k; item.append(name, ` ${JSON.stringify(v)}`); settings.appendChild(item);
  }
  const figures = $("#run-figures"); figures.innerHTML = "";
  for (const f of r.figures) {
    const img = new Image(); img.alt = f; img.title = f;
    img.src = `/api/runs/${encodeURIComponent(r.name)}/figures/${encodeURIComponent(f)}?v=${r.stamp}`;
    figures.appendChild(img);
  }
}

const fromHash = () => { const v = location.hash.slice(1); show(["draw", "playground", "runs"].includes(v) ? v : "draw"); };
window.addEventListener("hashchange", fromHash);
fromHash();
