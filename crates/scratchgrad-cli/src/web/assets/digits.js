// The digits page: draw on the canvas; while drawing, the picture goes to /api/predict, which
// prepares it as MNIST's digits were prepared and runs the chosen model. When a stroke ends,
// the page asks for the whole story: every layer's output, the kernels, and the saliency map
// (backprop to the pixels). Click a feature map to see the window and kernel behind a pixel;
// hover a hidden unit of an MLP to see the weights it looks through.
"use strict";

const $ = id => document.getElementById(id);
const pad = $("pad");
const ink = pad.getContext("2d");
let drawing = false, last = null, sending = false, again = null, strokes = 0;
let explained = null;   // the last detailed answer
let runsFolder = "runs";

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  strokes = 0;
  explained = null;
  $("prediction").textContent = "?";
  $("confidence").textContent = "";
  $("bars").textContent = "";
  $("inside").textContent = "";
  $("detail").textContent = "";
  $("inside-title").textContent = "inside the network (draw a digit)";
  for (const id of ["seen", "saliency"]) {
    const c = $(id).getContext("2d");
    c.fillStyle = "#000";
    c.fillRect(0, 0, $(id).width, $(id).height);
  }
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

pad.addEventListener("pointerdown", (e) => {
  drawing = true; last = point(e); strokes += 1;
  pad.setPointerCapture(e.pointerId);
  line(last, last);
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const p = point(e);
  line(last, p);
  last = p;
  predict(false);
});
const end = () => { if (drawing) { drawing = false; predict(true); } };
pad.addEventListener("pointerup", end);
pad.addEventListener("pointercancel", end);

function line(a, b) {
  ink.strokeStyle = "#000";
  ink.lineWidth = 20;
  ink.lineCap = "round";
  ink.beginPath();
  ink.moveTo(a.x, a.y);
  ink.lineTo(b.x, b.y);
  ink.stroke();
}

// The drawing at half size, as gray values (what /api/predict takes).
function pixels() {
  const small = document.createElement("canvas");
  small.width = small.height = 140;
  const c = small.getContext("2d");
  c.drawImage(pad, 0, 0, 140, 140);
  const data = c.getImageData(0, 0, 140, 140).data;
  const gray = new Array(140 * 140);
  for (let i = 0; i < gray.length; i++) gray[i] = data[4 * i];
  return { width: 140, height: 140, pixels: gray };
}

// One prediction at a time; a newer request waits for the one under way (a detailed one
// wins over a light one).
async function predict(detail) {
  const model = $("model").value;
  if (!model || strokes === 0) return;
  if (sending) { again = again || detail ? true : false; return; }
  sending = true;
  try {
    const sent = performance.now();
    const body = { model, detail, ...pixels() };
    const chosen = $("saliency-class").value;
    if (detail && chosen !== "") body.class = Number(chosen);
    const result = await api("/api/predict", body);
    // The round trip, from the picture's pixels to the answer (read by the browser test).
    window.scratchgradPredictMs = performance.now() - sent;
    show(result);
    $("message").textContent = "";
  } catch (e) {
    $("message").textContent = e.message;
  }
  sending = false;
  if (again !== null) { const d = again; again = null; predict(d); }
}

function drawGray(canvas, values, w, h, low, high) {
  canvas.width = w; canvas.height = h;
  const c = canvas.getContext("2d");
  const img = c.createImageData(w, h);
  const span = Math.max(high - low, 1e-12);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(255 * (values[i] - low) / span);
    img.data.set([v, v, v, 255], 4 * i);
  }
  c.putImageData(img, 0, 0);
}

// Blue (negative) through white to red (positive), scaled by the largest magnitude.
function drawDiverging(canvas, values, w, h) {
  canvas.width = w; canvas.height = h;
  const c = canvas.getContext("2d");
  const img = c.createImageData(w, h);
  const largest = Math.max(1e-12, ...values.map(Math.abs));
  for (let i = 0; i < w * h; i++) {
    const t = values[i] / largest;
    const [r, g, b] = t >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255];
    img.data.set([r, g, b, 255], 4 * i);
  }
  c.putImageData(img, 0, 0);
}

function show(result) {
  const small = document.createElement("canvas");
  drawGray(small, result.input, 28, 28, 0, 1);
  const sc = $("seen").getContext("2d");
  sc.imageSmoothingEnabled = false;
  sc.drawImage(small, 0, 0, 140, 140);
  $("prediction").textContent = result.prediction.name;
  $("confidence").textContent = `${(100 * result.prediction.probability).toFixed(1)}% sure`;
  const bars = $("bars");
  bars.textContent = "";
  result.probabilities.forEach((p, c) => {
    const row = el("div", { id: `bar-${c}` });
    const bar = el("span", { class: "bar" });
    bar.style.width = `${Math.round(160 * p)}px`;
    row.append(el("span", {}, result.classes[c].padStart(8, " ")), el("span", { class: "logit" }, result.logits[c].toFixed(2).padStart(7, " ")), bar, el("span", {}, `${(100 * p).toFixed(1)}%`));
    bars.append(row);
  });
  const select = $("saliency-class");
  if (select.options.length !== result.classes.length + 1) {
    select.length = 1;
    result.classes.forEach((name, c) => select.append(el("option", { value: c }, name)));
  }
  if (result.explain) {
    explained = result;
    showSaliency(result);
    explain(result);
  } else if (!explained) {
    insideLight(result);
  }
}

// The saliency map over the digit: the input in gray, the gradient's sign in colour.
function showSaliency(result) {
  const canvas = $("saliency");
  const c = canvas.getContext("2d");
  const values = result.explain.saliency.values;
  const largest = Math.max(1e-12, ...values.map(Math.abs));
  const img = c.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const gray = 255 - 180 * result.input[i];
    const t = values[i] / largest;
    const [r, g, b] = t >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255];
    const a = Math.min(1, Math.abs(t) * 1.5);
    img.data.set([gray * (1 - a) + r * a, gray * (1 - a) + g * a, gray * (1 - a) + b * a, 255], 4 * i);
  }
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  small.getContext("2d").putImageData(img, 0, 0);
  c.imageSmoothingEnabled = false;
  c.drawImage(small, 0, 0, canvas.width, canvas.height);
  canvas.title = `d(logit of ${result.classes[result.explain.saliency.class]})/d(pixel)`;
}

// While drawing: what the first hidden layer (or each convolution) makes of it.
function insideLight(result) {
  const inside = $("inside");
  inside.textContent = "";
  for (const layer of result.layers) {
    inside.append(el("div", { class: "muted" }, `${layer.name}: ${layer.shape.join(" x ")}`));
    if (layer.shape.length === 1) inside.append(unitGrid(layer.values, layer.name));
  }
}

// A grid of hidden units, one square each, brighter for larger activations; hovering one
// shows the weights it looks through.
function unitGrid(values, layerText) {
  const side = Math.ceil(Math.sqrt(values.length));
  const grid = el("div", { class: "units", role: "list" });
  grid.style.gridTemplateColumns = `repeat(${side}, 12px)`;
  const low = Math.min(...values), high = Math.max(...values);
  values.forEach((v, k) => {
    const cell = el("span", { class: "unit", role: "listitem", tabindex: "0", "aria-label": `unit ${k}: ${v.toFixed(3)}` });
    const g = Math.round(255 * (v - low) / Math.max(high - low, 1e-12));
    cell.style.background = `rgb(${g},${g},${g})`;
    const look = () => showUnit(k, v, layerText);
    cell.addEventListener("mouseenter", look);
    cell.addEventListener("focus", look);
    grid.append(cell);
  });
  return grid;
}

let unitAsked = null;
async function showUnit(k, value, layerText) {
  unitAsked = k;
  const model = $("model").value;
  try {
    const u = await api(`/api/models/${encodeURIComponent(model)}/units/${k}`);
    if (unitAsked !== k) return;
    const box = $("detail");
    box.textContent = "";
    const canvas = el("canvas", { class: "pixelated big-map", "aria-label": `the weights into unit ${k}` });
    drawDiverging(canvas, u.weights, 28, 28);
    box.append(el("div", {}, `hidden unit ${k} (${layerText}): ${value.toFixed(3)} for this digit`), canvas,
      el("div", { class: "muted small" }, `its 784 weights (red positive, blue negative) and bias ${u.bias.toFixed(3)}: it fires where the digit's ink meets red`));
  } catch (e) {
    $("message").textContent = e.message;
  }
}

// The whole network for the drawn digit: every layer's output, the kernels beside the
// convolutions' maps, the logits. Click a map to see how one of its pixels was made.
function explain(result) {
  const inside = $("inside");
  inside.textContent = "";
  const layers = result.explain.layers;
  const kernels = new Map(result.explain.kernels.map(k => [k.layer, k]));
  $("inside-title").textContent = "inside the network, layer by layer, for this digit" +
    (layers.some(l => l.kind === "conv") ? " (click a map to see how one pixel of it was made)" : " (hover a unit to see its weights)");
  for (const layer of layers) {
    if (layer.kind === "flatten" || layer.kind === "dropout") continue;
    const row = el("div", { class: "layer-row" });
    const count = layer.shape.length === 3 ? `${layer.shape[0]} maps of ${layer.shape[1]}x${layer.shape[2]}` : `${layer.shape[0]} values`;
    row.append(el("div", { class: "layer-title" }, `layer ${layer.index} ${layer.text}: ${count}`));
    const maps = el("div", { class: "maps" });
    if (layer.shape.length === 3) {
      const [channels, h, w] = layer.shape;
      const kernel = kernels.get(layer.index);
      for (let ch = 0; ch < Math.min(channels, 32); ch++) {
        const figure = el("figure", { class: "map" });
        if (kernel && kernel.shape[1] === 1) {
          const [, , kh, kw] = kernel.shape;
          const k = el("canvas", { class: "pixelated kernel", title: `kernel ${ch}` });
          drawDiverging(k, kernel.weights.slice(ch * kh * kw, (ch + 1) * kh * kw), kw, kh);
          figure.append(k);
        }
        const map = layer.values.slice(ch * h * w, (ch + 1) * h * w);
        const canvas = el("canvas", { class: "pixelated feature", tabindex: "0", "aria-label": `map ${ch} of layer ${layer.index}` });
        drawGray(canvas, map, w, h, Math.min(...map), Math.max(...map));
        canvas.addEventListener("click", e => {
          const r = canvas.getBoundingClientRect();
          const y = Math.min(h - 1, Math.floor((e.clientY - r.top) / r.height * h));
          const x = Math.min(w - 1, Math.floor((e.clientX - r.left) / r.width * w));
          pixelStory(layer, ch, y, x);
        });
        canvas.addEventListener("keydown", e => { if (e.key === "Enter") pixelStory(layer, ch, Math.floor(h / 2), Math.floor(w / 2)); });
        figure.append(canvas);
        maps.append(figure);
      }
      if (channels > 32) maps.append(el("span", { class: "muted" }, `and ${channels - 32} more`));
    } else if (layer.index === layers.length - 1) {
      maps.append(el("span", { class: "muted" }, `the logits: ${layer.values.map(v => v.toFixed(2)).join(", ")} (softmax above)`));
    } else {
      maps.append(unitGrid(layer.values, `layer ${layer.index} ${layer.text}`));
    }
    row.append(maps);
    inside.append(row);
  }
}

// The input a layer read: the image, or the previous layer's output.
function inputOf(layer) {
  if (layer.index === 0) return { shape: [1, 28, 28], values: explained.input };
  return explained.explain.layers[layer.index - 1];
}

// How the pixel (y, x) of map `ch` of `layer` was made: the window it saw and, for a
// convolution, the kernel and the sum.
function pixelStory(layer, ch, y, x) {
  const box = $("detail");
  box.textContent = "";
  const [, h, w] = layer.shape;
  const out = layer.values[ch * h * w + y * w + x];
  const input = inputOf(layer);
  const [C, H, W] = input.shape.length === 3 ? input.shape : [1, 28, 28];
  const at = (c, i, j) => (i < 0 || j < 0 || i >= H || j >= W ? 0 : input.values[c * H * W + i * W + j]);
  box.append(el("div", {}, `layer ${layer.index} ${layer.text}, map ${ch}, pixel (${y}, ${x}) = ${out.toFixed(4)}`));
  if (layer.kind === "activation" || layer.kind === "batchnorm") {
    box.append(el("div", { class: "muted" }, `made from the same pixel of the layer before: ${at(ch, y, x).toFixed(4)} → ${out.toFixed(4)}`));
    return;
  }
  const win = layer.window;
  const top = y * win.stride - win.padding, left = x * win.stride - win.padding;
  const windowOf = c => { const v = []; for (let i = 0; i < win.kh; i++) for (let j = 0; j < win.kw; j++) v.push(at(c, top + i, left + j)); return v; };
  if (layer.kind === "maxpool" || layer.kind === "avgpool") {
    const v = windowOf(ch);
    const got = layer.kind === "maxpool" ? Math.max(...v) : v.reduce((a, b) => a + b, 0) / v.length;
    const canvas = el("canvas", { class: "pixelated window" });
    drawGray(canvas, v, win.kw, win.kh, Math.min(...v), Math.max(...v));
    box.append(canvas, el("div", { class: "mono" }, `${layer.kind === "maxpool" ? "max" : "mean"} of the ${win.kh}x${win.kw} window = ${got.toFixed(4)}`));
    return;
  }
  // A convolution: Σ over input channels of window ⊙ kernel, plus the bias.
  const kernel = explained.explain.kernels.find(k => k.layer === layer.index);
  const [, cin, kh, kw] = kernel.shape;
  let total = kernel.bias[ch];
  const parts = [];
  for (let c = 0; c < cin; c++) {
    const v = windowOf(c);
    const k = kernel.weights.slice((ch * cin + c) * kh * kw, (ch * cin + c + 1) * kh * kw);
    const sum = v.reduce((a, value, i) => a + value * k[i], 0);
    total += sum;
    parts.push({ c, v, k, sum });
  }
  const shown = parts.slice(0, 4);
  for (const p of shown) {
    const pair = el("div", { class: "pair" });
    const a = el("canvas", { class: "pixelated window", title: `input channel ${p.c}, the window` });
    drawGray(a, p.v, kw, kh, Math.min(...p.v), Math.max(...p.v));
    const b = el("canvas", { class: "pixelated window", title: `kernel ${ch}, channel ${p.c}` });
    drawDiverging(b, p.k, kw, kh);
    pair.append(a, el("span", {}, " ⊙ "), b, el("span", { class: "mono" }, ` → Σ = ${p.sum.toFixed(4)}`));
    box.append(pair);
  }
  if (parts.length > shown.length) box.append(el("div", { class: "muted" }, `and ${parts.length - shown.length} more input channels`));
  box.append(el("div", { class: "mono" }, `Σ over ${cin} channel(s) + bias ${kernel.bias[ch].toFixed(4)} = ${total.toFixed(4)} (the map says ${out.toFixed(4)})`));
}

async function loadModels() {
  const select = $("model");
  try {
    const list = await api("/api/models");
    runsFolder = list.runs;
    for (const m of list.models) {
      const accuracy = typeof m.test_accuracy === "number" ? `, ${(100 * m.test_accuracy).toFixed(2)}%` : "";
      select.append(el("option", { value: m.name }, `${m.name} (${m.architecture || "training"}${accuracy})`));
    }
    if (list.models.length === 0) {
      $("message").textContent =
        `no models in ${list.runs} yet: train one into it with "cargo run --release -- train --dataset mnist-mini --epochs 3 --out ${list.runs}/first" (or start one on the dashboard), then reload`;
    }
  } catch (e) {
    $("message").textContent = e.message;
  }
}

$("clear").addEventListener("click", clearPad);
$("model").addEventListener("change", () => { explained = null; predict(true); });
$("saliency-class").addEventListener("change", () => predict(true));
clearPad();
loadModels();
