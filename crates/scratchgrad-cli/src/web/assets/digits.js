// The digits page: draw on the canvas; while drawing, the picture goes to /api/predict, which
// prepares it as MNIST's digits were prepared and runs the chosen model.
"use strict";

const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
let drawing = false, last = null, sending = false, again = false, strokes = 0;

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  strokes = 0;
  document.getElementById("prediction").textContent = "?";
  document.getElementById("confidence").textContent = "";
  document.getElementById("bars").textContent = "";
  document.getElementById("inside").textContent = "";
  const seen = document.getElementById("seen").getContext("2d");
  seen.fillStyle = "#000";
  seen.fillRect(0, 0, 140, 140);
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
  predict();
});
const end = () => { if (drawing) { drawing = false; predict(); } };
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

/// The drawing at half size, as gray values (what /api/predict takes).
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

async function predict() {
  const model = document.getElementById("model").value;
  if (!model || strokes === 0) return;
  if (sending) { again = true; return; }
  sending = true;
  try {
    const sent = performance.now();
    const result = await api("/api/predict", { model, ...pixels() });
    // The round trip, from the picture's pixels to the answer (read by the browser test).
    window.scratchgradPredictMs = performance.now() - sent;
    show(result);
    document.getElementById("message").textContent = "";
  } catch (e) {
    document.getElementById("message").textContent = e.message;
  }
  sending = false;
  if (again) { again = false; predict(); }
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

function show(result) {
  const seen = document.getElementById("seen");
  const small = document.createElement("canvas");
  drawGray(small, result.input, 28, 28, 0, 255);
  const sc = seen.getContext("2d");
  sc.imageSmoothingEnabled = false;
  sc.drawImage(small, 0, 0, 140, 140);
  document.getElementById("prediction").textContent = result.prediction.name;
  document.getElementById("confidence").textContent = `${(100 * result.prediction.probability).toFixed(1)}% sure`;
  const bars = document.getElementById("bars");
  bars.textContent = "";
  result.probabilities.forEach((p, c) => {
    const row = el("div", { id: `bar-${c}` });
    const bar = el("span", { class: "bar" });
    bar.style.width = `${Math.round(200 * p)}px`;
    row.append(el("span", {}, result.classes[c].padStart(8, " ")), bar, el("span", {}, `${(100 * p).toFixed(1)}%`));
    bars.append(row);
  });
  const inside = document.getElementById("inside");
  inside.textContent = "";
  for (const layer of result.layers) {
    inside.append(el("div", { class: "muted" }, `${layer.name}: ${layer.shape.join(" x ")}`));
    const values = layer.values;
    if (layer.shape.length === 1) {
      const side = Math.ceil(Math.sqrt(values.length));
      const padded = values.concat(new Array(side * side - values.length).fill(0));
      const canvas = el("canvas", { title: "each square is one hidden unit's activation" });
      drawGray(canvas, padded, side, side, Math.min(...values), Math.max(...values));
      canvas.style.width = canvas.style.height = `${side * 8}px`;
      inside.append(canvas);
    } else {
      const [channels, h, w] = layer.shape;
      for (let ch = 0; ch < Math.min(channels, 32); ch++) {
        const map = values.slice(ch * h * w, (ch + 1) * h * w);
        const canvas = el("canvas");
        drawGray(canvas, map, w, h, Math.min(...map), Math.max(...map));
        canvas.style.width = canvas.style.height = "56px";
        inside.append(canvas);
      }
    }
  }
}

async function loadModels() {
  const select = document.getElementById("model");
  try {
    const list = await api("/api/models");
    for (const m of list.models) {
      const accuracy = typeof m.test_accuracy === "number" ? `, ${(100 * m.test_accuracy).toFixed(2)}%` : "";
      select.append(el("option", { value: m.name }, `${m.name} (${m.architecture || "training"}${accuracy})`));
    }
    if (list.models.length === 0) {
      document.getElementById("message").textContent =
        `no models in ${list.runs}: train one with "scratchgrad train --dataset mnist-mini --epochs 3", then reload`;
    }
  } catch (e) {
    document.getElementById("message").textContent = e.message;
  }
}

document.getElementById("clear").addEventListener("click", clearPad);
document.getElementById("model").addEventListener("change", predict);
clearPad();
loadModels();
