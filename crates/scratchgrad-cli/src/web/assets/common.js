// Shared by the pages: JSON calls to the server's API.
"use strict";

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.details = data;
    throw error;
  }
  return data;
}

function el(tag, attributes = {}, text) {
  const node = document.createElementNS(
    attributes.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k !== "svg") node.setAttribute(k, v);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function short(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e9 || Math.abs(x) < 1e-4)) return x.toExponential(3);
  return String(Number(x.toFixed(4)));
}

// A line chart on a canvas: series = [{name, color, points: [[x, y], ...]}]; options.ymin,
// options.ymax fix the vertical range (else it fits the data), options.title heads it. The
// legend follows the title, on as many lines as it needs.
function lineChart(canvas, series, options = {}) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.font = "12px system-ui, sans-serif";
  // Where each legend entry goes: [x, line], wrapping at the right edge.
  const legendAt = [];
  let lx = 46 + (options.title ? ctx.measureText(options.title).width + 16 : 0), line = 0;
  for (const s of series) {
    const width = ctx.measureText(s.name).width + 30;
    if (lx + width > w && lx > 46) { lx = 46; line += 1; }
    legendAt.push([lx, line]);
    lx += width;
  }
  const pad = { left: 46, right: 10, top: 22 + 16 * line, bottom: 22 };
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const all = series.flatMap(s => s.points).filter(p => Number.isFinite(p[1]));
  let [x0, x1] = [Infinity, -Infinity], [y0, y1] = [options.ymin ?? Infinity, options.ymax ?? -Infinity];
  for (const [x, y] of all) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x);
    if (options.ymin === undefined) y0 = Math.min(y0, y);
    if (options.ymax === undefined) y1 = Math.max(y1, y);
  }
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#222";
  if (options.title) ctx.fillText(options.title, pad.left, 14);
  if (!all.length) return;
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 = y0 + 1; }
  const px = x => pad.left + (x - x0) / (x1 - x0) * (w - pad.left - pad.right);
  const py = y => h - pad.bottom - (y - y0) / (y1 - y0) * (h - pad.top - pad.bottom);
  ctx.strokeStyle = "#ccc";
  ctx.fillStyle = "#666";
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    ctx.beginPath(); ctx.moveTo(pad.left, py(y)); ctx.lineTo(w - pad.right, py(y)); ctx.stroke();
    ctx.fillText(short(Number(y.toPrecision(3))), 2, py(y) + 4);
  }
  ctx.fillText(short(Number(x0.toPrecision(3))), pad.left, h - 6);
  const right = short(Number(x1.toPrecision(3)));
  ctx.fillText(right, w - pad.right - ctx.measureText(right).width, h - 6);
  series.forEach((s, k) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) continue;
      if (started) ctx.lineTo(px(x), py(y)); else ctx.moveTo(px(x), py(y));
      started = true;
    }
    if (s.points.length === 1) ctx.arc(px(s.points[0][0]), py(s.points[0][1]), 2, 0, 7);
    ctx.stroke();
    ctx.lineWidth = 1;
    const [x, row] = legendAt[k];
    ctx.fillStyle = s.color;
    ctx.fillRect(x, 6 + 16 * row, 10, 10);
    ctx.fillStyle = "#222";
    ctx.fillText(s.name, x + 14, 15 + 16 * row);
  });
}
