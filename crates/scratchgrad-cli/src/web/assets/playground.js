// The playground: a small network on a toy data set, trained on the server by the scalar
// engine's tape. Each update is one request (a few steps); the page draws what comes back:
// the output over the plane, the curves on training and test points, and the network with
// every neuron's map and every weight. Every setting lives in the address, to share.
"use strict";

const $ = id => document.getElementById(id);
const POSITIVE = [245, 147, 34], NEGATIVE = [8, 119, 189];
const FEATURES = ["x", "y", "x^2", "y^2", "xy", "sin(x)", "sin(y)"];
const FEATURE_LABELS = { "x^2": "x²", "y^2": "y²" };
const MAX_CURVE = 2000;  // entries the page keeps (beyond, every other is forgotten)
let session = null;      // the last state the server sent
let history = [];        // [step, loss, accuracy, test loss, test accuracy]
let running = false;
let busy = false;
let updates = [];        // times of recent updates, for the rate shown
let cursor = null;       // the keyboard's cursor on the plane, in the data's coordinates
let selected = null;     // {kind: "edge", layer, from, to} or {kind: "neuron", layer, index}
let lastAnnounced = 0;
// Mean milliseconds per update spent waiting for the server and drawing (read by the tests).
window.scratchgradTimings = { updates: 0, request: 0, draw: 0 };

// The settings the form holds, as the API takes them.
function settingsFromForm() {
  const hidden = $("hidden").value.trim();
  return {
    data: $("data").value,
    points: Number($("points").value),
    test_share: Number($("test-share").value) / 100,
    noise: Number($("noise").value),
    seed: Number($("seed").value),
    features: FEATURES.filter(f => $(`feature-${f}`).checked),
    hidden: hidden === "" ? [] : hidden.split(",").map(w => Number(w.trim())),
    activation: $("activation").value,
    loss: $("loss").value,
    lr: Number($("lr").value),
    regularization: $("regularization").value,
    rate: Number($("rate").value),
    batch: Number($("batch").value),
  };
}

// The address: every setting, and the two display choices.
function writeUrl() {
  const s = settingsFromForm();
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(s)) params.set(k, Array.isArray(v) ? v.join(",") : v);
  params.set("show_test", $("show-test").checked ? 1 : 0);
  params.set("discretize", $("discretize").checked ? 1 : 0);
  history_replace("?" + params.toString());
}

function history_replace(search) {
  if (location.search !== search) window.history.replaceState(null, "", search);
}

function readUrl() {
  const p = new URLSearchParams(location.search);
  const set = (id, key) => { if (p.has(key)) $(id).value = p.get(key); };
  set("data", "data"); set("points", "points"); set("noise", "noise"); set("seed", "seed");
  if (p.has("test_share")) $("test-share").value = Math.round(100 * Number(p.get("test_share")));
  set("hidden", "hidden"); set("activation", "activation"); set("loss", "loss"); set("lr", "lr");
  set("regularization", "regularization"); set("rate", "rate"); set("batch", "batch");
  const features = p.has("features") ? p.get("features").split(",") : ["x", "y"];
  for (const f of FEATURES) $(`feature-${f}`).checked = features.includes(f);
  if (p.has("show_test")) $("show-test").checked = p.get("show_test") === "1";
  if (p.has("discretize")) $("discretize").checked = p.get("discretize") === "1";
}

function featureBoxes() {
  const box = $("features");
  box.append("inputs:");
  for (const f of FEATURES) {
    const label = el("label", { class: "feature" });
    const input = el("input", { type: "checkbox", id: `feature-${f}` });
    label.append(input, ` ${FEATURE_LABELS[f] || f}`);
    box.append(label);
  }
}

function showError(e) {
  $("error").textContent = e ? e.message : "";
}

// The curves from the server: its entries from `history_since` on replace the page's.
function mergeHistory(state) {
  const from = state.history_since;
  history = history.filter(h => h[0] < from).concat(state.history);
  while (history.length > MAX_CURVE) {
    let odd = false;
    history = history.filter(() => (odd = !odd));
  }
}

function lastStep() {
  return history.length ? history[history.length - 1][0] : 0;
}

// One call to the session's API; keeps the state and draws it.
async function call(path, body) {
  busy = true;
  try {
    const t0 = performance.now();
    const state = await api(path, body);
    const t1 = performance.now();
    showError(null);
    session = state;
    mergeHistory(state);
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
  writeUrl();
  history = [];
  await call("/api/playground", settingsFromForm());
}

async function ensureSession() {
  if (!session) await start();
}

// A new network or new points: training starts again from step 0, and goes on running if
// it was (as TensorFlow Playground does), saying so.
async function reset() {
  writeUrl();
  if (!session) return start();
  const wasRunning = running;
  let failed = false;
  await paused(() => call(`/api/playground/${session.id}/reset`, settingsFromForm()).catch(() => { failed = true; }));
  if (!failed) note(wasRunning ? "a new network: training again from step 0" : "a new network, at step 0");
}

// A short note beside the buttons, gone after a few seconds.
let noteTimer = null;
function note(text) {
  $("note").textContent = text;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => { $("note").textContent = ""; }, 4000);
}

async function step(steps) {
  await ensureSession();
  return call(`/api/playground/${session.id}/train`, { steps, since: lastStep() });
}

function setRunning(on) {
  running = on;
  $("run").disabled = on;
  $("pause").disabled = !on;
  if (on) loop();
  else { updates = []; $("rate-shown").textContent = ""; announce(true); }
}

// Waits for the request under way, pauses, runs `change`, and runs again if it was.
async function paused(change) {
  const wasRunning = running;
  setRunning(false);
  while (busy) await new Promise(r => setTimeout(r, 5));
  await change();
  if (wasRunning) setRunning(true);
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
    if (running && updates.length > 1) {
      const rate = (updates.length - 1) / ((now - updates[0]) / 1000);
      $("rate-shown").textContent = `${rate.toFixed(1)} updates/s`;
    }
    announce(false);
    // Let the browser paint (and take clicks) before the next request.
    await new Promise(r => setTimeout(r, 0));
  }
}

// Screen readers hear the numbers when training pauses, and every few seconds while it runs.
function announce(now) {
  const t = performance.now();
  if (!session || (!now && t - lastAnnounced < 5000)) return;
  lastAnnounced = t;
  const s = session;
  const accuracy = s.regression ? "" : `, training accuracy ${percent(s.accuracy)}, test accuracy ${percent(s.test_accuracy)}`;
  $("summary").textContent = `step ${s.step}: training loss ${short(s.loss)}${accuracy}`;
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

function percent(a) {
  return Number.isFinite(a) ? `${(100 * a).toFixed(1)}%` : "-";
}

function draw() {
  const s = session;
  $("step-count").textContent = s.step;
  const reg = s.settings.regularization;
  $("loss-value").textContent = reg === "none" || !s.penalty
    ? short(s.loss)
    : `${short(s.loss)} = ${short(s.data_loss)} + ${reg.toUpperCase()} ${short(s.penalty)}`;
  $("accuracy").textContent = percent(s.accuracy);
  $("test-loss").textContent = Number.isFinite(s.test_loss) ? short(s.test_loss) : "-";
  $("test-accuracy").textContent = percent(s.test_accuracy);
  const tests = s.points.filter(p => p[3]).length;
  $("message").textContent = `${s.parameters} parameters, ${s.points.length - tests} training and ${tests} test points`;
  $("classes").hidden = s.regression;
  $("targets").hidden = !s.regression;
  drawPlane();
  const curve = (k) => history.map(h => [h[0], h[k]]);
  const percentCurve = (k) => history.map(h => [h[0], 100 * h[k]]);
  lineChart($("loss-chart"), [
    { name: "training (with penalty)", color: "#c0392b", points: curve(1) },
    { name: "test", color: "#555", points: curve(3) },
  ], { title: "loss", ymin: 0 });
  if (s.regression) {
    lineChart($("accuracy-chart"), [], { title: "accuracy: none for a regression" });
  } else {
    lineChart($("accuracy-chart"), [
      { name: "training", color: "#2f7ed8", points: percentCurve(2) },
      { name: "test", color: "#555", points: percentCurve(4) },
    ], { title: "accuracy %", ymin: 0, ymax: 100 });
  }
  drawNetwork();
  showSelected();
}

function drawPlane() {
  const s = session;
  const plane = $("plane");
  const values = $("discretize").checked ? s.boundary.values.map(v => (v > 0 ? 100 : -100)) : s.boundary.values;
  paintMap(plane, s.boundary.side, values, 0.55);
  const ctx = plane.getContext("2d");
  const showTest = $("show-test").checked;
  for (const [x, y, label, test] of s.points) {
    if (test && !showTest) continue;
    const [cx, cy] = toCanvas(x, y);
    ctx.beginPath();
    ctx.arc(cx, cy, 4.5, 0, 2 * Math.PI);
    const c = s.regression ? colour(100 * label, 1) : (label > 0 ? POSITIVE : NEGATIVE);
    ctx.fillStyle = `rgb(${c.join(",")})`;
    ctx.fill();
    ctx.strokeStyle = test ? "#111" : "#fff";
    ctx.lineWidth = test ? 2 : 1.5;
    ctx.stroke();
  }
  if (cursor && document.activeElement === plane) {
    const [cx, cy] = toCanvas(cursor[0], cursor[1]);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(cx - 8, cy); ctx.lineTo(cx + 8, cy); ctx.moveTo(cx, cy - 8); ctx.lineTo(cx, cy + 8);
    ctx.stroke();
  }
}

// The network as a picture: columns of neurons (inputs, hidden layers, output), each a small
// map of its output over the plane; every weight an edge. Built once per shape; each update
// changes only colours, widths and maps.
function featureMap(f, side) {
  const [x0, x1, y0, y1] = session.view;
  const values = [];
  let largest = 1e-12;
  for (let k = 0; k < side * side; k++) {
    const x = x0 + (x1 - x0) * ((k % side) + 0.5) / side, y = y1 - (y1 - y0) * (Math.floor(k / side) + 0.5) / side;
    const v = { x, y, "x^2": x * x, "y^2": y * y, xy: x * y, "sin(x)": Math.sin(x), "sin(y)": Math.sin(y) }[f];
    values.push(v);
    largest = Math.max(largest, Math.abs(v));
  }
  return values.map(v => Math.round(100 * v / largest));
}

// Where layer `l`'s weight from `i` to `o` is in the parameters (layers counted from 1).
function weightIndex(l, o, i) {
  const sizes = session.sizes;
  let at = 0;
  for (let k = 1; k < l; k++) at += sizes[k - 1] * sizes[k] + sizes[k];
  return at + o * sizes[l - 1] + i;
}

function biasIndex(l, o) {
  const sizes = session.sizes;
  return weightIndex(l, 0, 0) + sizes[l - 1] * sizes[l] + o;
}

function neuronName(l, n) {
  const sizes = session.sizes;
  if (l === 0) return `input ${FEATURE_LABELS[session.settings.features[n]] || session.settings.features[n]}`;
  if (l === sizes.length - 1) return "the output";
  return `neuron ${n + 1} of layer ${l}`;
}

function drawNetwork() {
  const s = session;
  const box = $("network");
  const sizes = s.sizes;
  const shape = sizes.join(",") + s.settings.features.join(",");
  const tallest = Math.max(...sizes);
  const node = Math.max(14, Math.min(40, Math.floor(380 / tallest) - 6));
  const gap = node + 6;
  // Room on the left for the inputs' names and below for the columns' labels.
  const left = 48, below = 18;
  const height = tallest * gap + 10 + below;
  const columnWidth = Math.max(90, Math.min(150, 620 / sizes.length));
  const width = columnWidth * (sizes.length - 1) + node + 10 + left;
  const at = (l, n) => [left + l * columnWidth, 5 + (height - 10 - below - sizes[l] * gap) / 2 + n * gap];
  if (box.dataset.shape !== shape) {
    box.textContent = "";
    const svg = el("svg", { svg: true, width, height, role: "img", "aria-label": "the network" });
    const edges = el("g", { svg: true });
    for (let l = 1; l < sizes.length; l++) {
      for (let o = 0; o < sizes[l]; o++) {
        for (let i = 0; i < sizes[l - 1]; i++) {
          const [x1, y1] = at(l - 1, i), [x2, y2] = at(l, o);
          const path = el("path", { svg: true, class: "weight", d: `M${x1 + node},${y1 + node / 2} C${(x1 + node + x2) / 2},${y1 + node / 2} ${(x1 + node + x2) / 2},${y2 + node / 2} ${x2},${y2 + node / 2}`, "data-index": weightIndex(l, o, i) });
          path.append(el("title", { svg: true }));
          path.addEventListener("click", () => { selected = { kind: "edge", layer: l, from: i, to: o }; showSelected(); });
          edges.append(path);
        }
      }
    }
    svg.append(edges);
    for (let l = 0; l < sizes.length; l++) {
      for (let n = 0; n < sizes[l]; n++) {
        const [x, y] = at(l, n);
        const g = el("g", { svg: true, class: "neuron", tabindex: "0", "data-layer": l, "data-index": n });
        g.append(el("title", { svg: true }, neuronName(l, n)));
        g.append(el("image", { svg: true, x, y, width: node, height: node, preserveAspectRatio: "none" }));
        g.append(el("rect", { svg: true, x, y, width: node, height: node }));
        if (l === 0) {
          const f = s.settings.features[n];
          svg.append(el("text", { svg: true, x: x - 4, y: y + node / 2 + 4, "text-anchor": "end", class: "input-label" }, FEATURE_LABELS[f] || f));
        }
        const choose = () => { selected = { kind: "neuron", layer: l, index: n }; showSelected(); };
        g.addEventListener("click", choose);
        g.addEventListener("keydown", e => { if (e.key === "Enter") choose(); });
        svg.append(g);
      }
      const [x] = at(l, 0);
      const label = l === 0 ? "inputs" : l === sizes.length - 1 ? "output" : `layer ${l}`;
      svg.append(el("text", { svg: true, x: x + node / 2, y: height - 1, "text-anchor": "middle", class: "column-label" }, label));
    }
    box.append(svg);
    box.dataset.shape = shape;
  }
  const largest = Math.max(1e-9, ...s.weights.map(Math.abs));
  for (const path of box.querySelectorAll("path.weight")) {
    const k = Number(path.dataset.index);
    const w = s.weights[k];
    path.setAttribute("stroke", `rgb(${(w >= 0 ? POSITIVE : NEGATIVE).join(",")})`);
    path.setAttribute("stroke-width", (0.5 + 4 * Math.abs(w) / largest).toFixed(2));
    path.firstChild.textContent = `weight ${short(w)}, gradient ${short(s.gradient[k])}`;
  }
  const images = box.querySelectorAll("g.neuron image");
  let k = 0, hiddenAt = 0;
  for (let l = 0; l < sizes.length; l++) {
    for (let n = 0; n < sizes[l]; n++, k++) {
      let values, side;
      if (l === 0) { side = 20; values = featureMap(s.settings.features[n], side); }
      else if (l === sizes.length - 1) { side = s.boundary.side; values = s.boundary.values; }
      else { side = s.neurons.side; values = s.neurons.values[hiddenAt++]; }
      images[k].setAttribute("href", mapUrl(side, values));
    }
  }
}

// A map as a data URL, for the network's pictures.
const mapCanvas = document.createElement("canvas");
function mapUrl(side, values) {
  mapCanvas.width = side; mapCanvas.height = side;
  paintMap(mapCanvas, side, values, 1);
  return mapCanvas.toDataURL();
}

// What the selected neuron or edge is, its value and its gradient for the last batch.
function showSelected() {
  const box = $("selected");
  const s = session;
  for (const e of $("network").querySelectorAll(".chosen")) e.classList.remove("chosen");
  if (!selected || !s || selected.layer >= s.sizes.length) { box.innerHTML = '<span class="muted">nothing selected: click a neuron or an edge</span>'; return; }
  const lr = s.settings.lr;
  const lines = [];
  const parameter = (what, k) => {
    const g = s.gradient[k];
    lines.push(`${what} = ${short(s.weights[k])}`);
    lines.push(`d(loss)/d(${what.split(" ")[0]}) for the last batch = ${short(g)}`);
    lines.push(`the next step moves it by −lr × gradient = ${short(-lr * g)}`);
  };
  if (selected.kind === "edge") {
    const { layer: l, from: i, to: o } = selected;
    if (o >= s.sizes[l] || i >= s.sizes[l - 1]) { selected = null; return showSelected(); }
    lines.push(`the weight from ${neuronName(l - 1, i)} to ${neuronName(l, o)}`);
    parameter("w", weightIndex(l, o, i));
    $("network").querySelector(`path[data-index="${weightIndex(l, o, i)}"]`).classList.add("chosen");
  } else {
    const { layer: l, index: n } = selected;
    if (n >= s.sizes[l]) { selected = null; return showSelected(); }
    lines.push(neuronName(l, n));
    if (l === 0) lines.push("an input: it has no weights of its own; its map is the feature itself");
    else parameter("b (its bias)", biasIndex(l, n));
    const g = $("network").querySelector(`g.neuron[data-layer="${l}"][data-index="${n}"]`);
    if (g) g.classList.add("chosen");
  }
  box.textContent = lines.join("\n");
}

// A click adds a point of the chosen class (shift: the other), or removes the point under
// it; in inspect mode it opens the point's loss on the graph page.
function pointNear(px, py, radius) {
  return session.points.findIndex(([x, y]) => {
    const [cx, cy] = toCanvas(x, y);
    return Math.hypot(cx - px, cy - py) < radius;
  });
}

async function addPoint(x, y, label) {
  await paused(() => call(`/api/playground/${session.id}/points`, { add: [x, y, label], since: lastStep() }).catch(() => {}));
}

async function removePoint(index) {
  await paused(() => call(`/api/playground/${session.id}/points`, { remove: index, since: lastStep() }).catch(() => {}));
}

function chosenLabel(other) {
  let label = Number(document.querySelector("input[name=class]:checked").value);
  if (other) label = -label;
  return label;
}

async function inspect(index) {
  const box = $("inspected");
  try {
    const { expr, values } = await api(`/api/playground/${session.id}/point-graph`, { index });
    const params = new URLSearchParams({ expr });
    for (const [k, v] of Object.entries(values)) params.set(k, v);
    const [x, y, label] = session.points[index];
    box.textContent = "";
    const link = el("a", { href: `/graph?${params}`, target: "_blank", id: "point-graph-link" }, "open its loss on the graph page →");
    box.append(`point ${index} at (${short(x)}, ${short(y)}), ${session.regression ? "target" : "label"} ${label}: `, link);
  } catch (e) {
    box.textContent = e.message;
  }
}

$("plane").addEventListener("click", async event => {
  if (!session || busy && !running) return;
  const target = event.target;
  const rect = target.getBoundingClientRect();
  const px = (event.clientX - rect.left) * target.width / rect.width;
  const py = (event.clientY - rect.top) * target.height / rect.height;
  const near = pointNear(px, py, 7);
  if (document.querySelector("input[name=click]:checked").value === "inspect") {
    if (near >= 0) inspect(near);
    return;
  }
  if (near >= 0) return removePoint(near);
  const [x0, x1, y0, y1] = session.view;
  const label = session.regression ? (event.shiftKey ? -1 : 1) * 0.5 : chosenLabel(event.shiftKey);
  await addPoint(x0 + px / target.width * (x1 - x0), y1 - py / target.height * (y1 - y0), label);
});

// The keyboard's way to the plane: arrows move a cursor, Enter adds, Delete removes.
$("plane").addEventListener("keydown", async event => {
  if (!session) return;
  const [x0, x1, y0, y1] = session.view;
  if (!cursor) cursor = [(x0 + x1) / 2, (y0 + y1) / 2];
  const stepX = (x1 - x0) / 40, stepY = (y1 - y0) / 40;
  const moves = { ArrowLeft: [-stepX, 0], ArrowRight: [stepX, 0], ArrowUp: [0, stepY], ArrowDown: [0, -stepY] };
  if (moves[event.key]) {
    event.preventDefault();
    cursor = [Math.min(x1, Math.max(x0, cursor[0] + moves[event.key][0])), Math.min(y1, Math.max(y0, cursor[1] + moves[event.key][1]))];
    drawPlane();
  } else if (event.key === "Enter") {
    event.preventDefault();
    const label = session.regression ? (event.shiftKey ? -0.5 : 0.5) : chosenLabel(event.shiftKey);
    await addPoint(cursor[0], cursor[1], label);
  } else if (event.key === "Delete" || event.key === "Backspace") {
    event.preventDefault();
    const [cx, cy] = toCanvas(cursor[0], cursor[1]);
    const near = pointNear(cx, cy, 20);
    if (near >= 0) await removePoint(near);
  }
});
$("plane").addEventListener("focus", () => session && drawPlane());
$("plane").addEventListener("blur", () => session && drawPlane());

$("run").addEventListener("click", async () => { await ensureSession(); setRunning(true); });
$("pause").addEventListener("click", () => setRunning(false));
$("step").addEventListener("click", async () => {
  setRunning(false);
  while (busy) await new Promise(r => setTimeout(r, 5));
  await step(1).catch(() => {});
  announce(true);
});
$("reset").addEventListener("click", () => reset());
$("copy-link").addEventListener("click", () => {
  writeUrl();
  navigator.clipboard.writeText(location.href).then(
    () => { $("message").textContent = "link copied"; },
    () => { $("message").textContent = "copy the address bar: it holds every setting"; });
});
document.addEventListener("keydown", e => {
  if (e.target.closest("input, select, textarea, canvas, button, [tabindex]")) return;
  if (e.key === " ") { e.preventDefault(); if (running) setRunning(false); else $("run").click(); }
  else if (e.key === "ArrowRight") { e.preventDefault(); $("step").click(); }
});

$("settings").addEventListener("submit", e => e.preventDefault());
featureBoxes();
readUrl();
// A regression set trains with the squared loss, a classification set never does.
function matchLoss() {
  const regression = ["plane", "gaussians"].includes($("data").value);
  if (regression) $("loss").value = "squared";
  else if ($("loss").value === "squared") $("loss").value = "max-margin";
  for (const option of $("loss").options) option.disabled = (option.value === "squared") !== regression;
}
matchLoss();
$("data").addEventListener("change", matchLoss);
for (const id of ["data", "points", "test-share", "noise", "seed", "hidden", "activation"]) {
  $(id).addEventListener("change", () => reset());
}
for (const f of FEATURES) $(`feature-${f}`).addEventListener("change", () => reset());
for (const id of ["loss", "lr", "regularization", "rate", "batch"]) {
  $(id).addEventListener("change", async () => {
    writeUrl();
    if (!session) return;
    const s = settingsFromForm();
    const change = { loss: s.loss, lr: s.lr, regularization: s.regularization, rate: s.rate, batch: s.batch, since: lastStep() };
    await paused(() => call(`/api/playground/${session.id}/settings`, change).catch(() => {}));
  });
}
for (const id of ["show-test", "discretize"]) {
  $(id).addEventListener("change", () => { writeUrl(); if (session) drawPlane(); });
}
// A closed tab frees its session at once (an idle one would expire anyway).
addEventListener("pagehide", () => {
  if (session) navigator.sendBeacon(`/api/playground/${session.id}/close`);
});

start().catch(() => {});
