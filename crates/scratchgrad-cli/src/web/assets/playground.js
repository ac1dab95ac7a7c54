// The playground: a small network on a toy data set, trained on the server by the scalar
// engine's tape. Each update is one request (a few steps); the page draws what comes back.
"use strict";

const $ = id => document.getElementById(id);
const POSITIVE = [245, 147, 34], NEGATIVE = [8, 119, 189];
let session = null;      // the last state the server sent
let history = [];        // [step, loss, accuracy], every update appended
let running = false;
let busy = false;
let updates = [];        // times of recent updates, for the rate shown
// Mean milliseconds per update spent waiting for the server and drawing (read by the tests).
window.scratchgradTimings = { updates: 0, request: 0, draw: 0 };

function settingsFromForm() {
  const hidden = $("hidden").value.trim();
  return {
    data: $("data").value,
    points: Number($("points").value),
    noise: Number($("noise").value),
    seed: Number($("seed").value),
    hidden: hidden === "" ? [] : hidden.split(",").map(w => Number(w.trim())),
    activation: $("activation").value,
    loss: $("loss").value,
    lr: Number($("lr").value),
    l2: Number($("l2").value),
    batch: Number($("batch").value),
  };
}

function showError(e) {
  $("error").textContent = e ? e.message : "";
}

// One call to the session's API; keeps the state and draws it.
async function call(path, body, replaceHistory) {
  busy = true;
  try {
    const t0 = performance.now();
    const state = await api(path, body);
    const t1 = performance.now();
    showError(null);
    session = state;
    if (replaceHistory) history = state.history.slice();
    else history.push(...state.history);
    draw();
    const t = window.scratchgradTimings, n = ++t.updates;
    t.request += (t1 - t0 - t.request) / n;
    t.draw += (performance.now() - t1 - t.draw) / n;
    return state;
  } catch (e) {
    showError(e);
    if (e.details && /no such playground/.test(e.message)) session = null;
    throw e;
  } finally {
    busy = false;
  }
}

async function start() {
  setRunning(false);
  await call("/api/playground", settingsFromForm(), true);
}

async function ensureSession() {
  if (!session) await start();
}

async function reset() {
  setRunning(false);
  if (!session) return start();
  await call(`/api/playground/${session.id}/reset`, settingsFromForm(), true).catch(() => {});
}

async function step(steps) {
  await ensureSession();
  const since = history.length ? history[history.length - 1][0] : -1;
  return call(`/api/playground/${session.id}/train`, { steps, since }, false);
}

function setRunning(on) {
  running = on;
  $("run").disabled = on;
  $("pause").disabled = !on;
  if (on) loop();
}

async function loop() {
  while (running) {
    try {
      await step(Number($("per-update").value));
    } catch (e) {
      setRunning(false);
      return;
    }
    const now = performance.now();
    updates.push(now);
    updates = updates.filter(t => now - t < 2000);
    if (updates.length > 1) {
      const rate = (updates.length - 1) / ((now - updates[0]) / 1000);
      $("rate").textContent = `${rate.toFixed(1)} updates/s`;
    }
    // Let the browser paint (and take clicks) before the next request.
    await new Promise(r => setTimeout(r, 0));
  }
}

function colour(v, alpha) {
  const t = Math.min(1, Math.abs(v) / 100);
  const c = v >= 0 ? POSITIVE : NEGATIVE;
  return c.map(x => Math.round(255 + (x - 255) * t * alpha));
}

// A side x side map of values in -100..100 onto a canvas (through a small canvas of the
// map's own size, kept for the next map of that size).
const smallCanvases = new Map();
function paintMap(canvas, side, values, alpha) {
  const ctx = canvas.getContext("2d");
  if (!smallCanvases.has(side)) smallCanvases.set(side, new OffscreenCanvas(side, side));
  const small = smallCanvases.get(side);
  const smallContext = small.getContext("2d");
  const image = smallContext.createImageData(side, side);
  values.forEach((v, k) => {
    const [r, g, b] = colour(v, alpha);
    image.data[4 * k] = r;
    image.data[4 * k + 1] = g;
    image.data[4 * k + 2] = b;
    image.data[4 * k + 3] = 255;
  });
  smallContext.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function toCanvas(x, y) {
  const [x0, x1, y0, y1] = session.view, c = $("plane");
  return [(x - x0) / (x1 - x0) * c.width, (y1 - y) / (y1 - y0) * c.height];
}

function draw() {
  const s = session;
  $("step-count").textContent = s.step;
  $("loss-value").textContent = short(s.loss);
  $("accuracy").textContent = `${(100 * s.accuracy).toFixed(1)}%`;
  $("message").textContent = `${s.parameters} parameters, ${s.points.length} points`;
  const plane = $("plane");
  paintMap(plane, s.boundary.side, s.boundary.values, 0.55);
  const ctx = plane.getContext("2d");
  for (const [x, y, label] of s.points) {
    const [cx, cy] = toCanvas(x, y);
    ctx.beginPath();
    ctx.arc(cx, cy, 4.5, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${(label > 0 ? POSITIVE : NEGATIVE).join(",")})`;
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
  lineChart($("loss-chart"), [{ name: "loss", color: "#c0392b", points: history.map(h => [h[0], h[1]]) }], { title: "loss", ymin: 0 });
  lineChart($("accuracy-chart"), [{ name: "accuracy %", color: "#2f7ed8", points: history.map(h => [h[0], 100 * h[2]]) }], { title: "accuracy", ymin: 0, ymax: 100 });
  drawNeurons(s.neurons);
}

function drawNeurons(neurons) {
  const box = $("neurons");
  const count = neurons.widths.reduce((a, b) => a + b, 0);
  if (box.dataset.shape !== neurons.widths.join(",")) {
    box.textContent = "";
    neurons.widths.forEach((width, l) => {
      const layer = el("div", { class: "layer" });
      layer.append(el("div", { class: "muted" }, `layer ${l + 1}`));
      for (let n = 0; n < width; n++) layer.append(el("canvas", { width: neurons.side, height: neurons.side }));
      box.append(layer);
    });
    box.dataset.shape = neurons.widths.join(",");
  }
  const canvases = box.querySelectorAll("canvas");
  for (let n = 0; n < count; n++) paintMap(canvases[n], neurons.side, neurons.values[n], 1);
}

// A click adds a point of the chosen class (shift: the other), or removes the point under it.
$("plane").addEventListener("click", async event => {
  if (!session || busy && !running) return;
  const rect = event.target.getBoundingClientRect();
  const px = (event.clientX - rect.left) * event.target.width / rect.width;
  const py = (event.clientY - rect.top) * event.target.height / rect.height;
  const near = session.points.findIndex(([x, y]) => {
    const [cx, cy] = toCanvas(x, y);
    return Math.hypot(cx - px, cy - py) < 7;
  });
  let body;
  if (near >= 0) {
    body = { remove: near };
  } else {
    const [x0, x1, y0, y1] = session.view;
    let label = Number(document.querySelector("input[name=class]:checked").value);
    if (event.shiftKey) label = -label;
    const { width, height } = event.target;
    body = { add: [x0 + px / width * (x1 - x0), y1 - py / height * (y1 - y0), label] };
  }
  const wasRunning = running;
  setRunning(false);
  while (busy) await new Promise(r => setTimeout(r, 5));
  await call(`/api/playground/${session.id}/points`, body, false).catch(() => {});
  if (wasRunning) setRunning(true);
});

$("run").addEventListener("click", async () => { await ensureSession(); setRunning(true); });
$("pause").addEventListener("click", () => setRunning(false));
$("step").addEventListener("click", () => { setRunning(false); step(1).catch(() => {}); });
$("reset").addEventListener("click", () => reset());
for (const id of ["data", "points", "noise", "seed", "hidden", "activation"]) {
  $(id).addEventListener("change", () => reset());
}
for (const id of ["loss", "lr", "l2", "batch"]) {
  $(id).addEventListener("change", async () => {
    if (!session) return;
    const s = settingsFromForm();
    const wasRunning = running;
    setRunning(false);
    while (busy) await new Promise(r => setTimeout(r, 5));
    await call(`/api/playground/${session.id}/settings`, { loss: s.loss, lr: s.lr, l2: s.l2, batch: s.batch }, false).catch(() => {});
    if (wasRunning) setRunning(true);
  });
}
// A closed tab frees its session at once (an idle one would expire anyway).
addEventListener("pagehide", () => {
  if (session) navigator.sendBeacon(`/api/playground/${session.id}/close`);
});

start().catch(() => {});
