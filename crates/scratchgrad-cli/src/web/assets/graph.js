// The graph page: an expression's graph from /api/grad, and its backward pass replayed one
// node at a time. Each step takes the next node in backward order (its gradient is complete)
// and sends local derivative x its gradient to each input, which adds it to what it has.
"use strict";

const FUNCTIONS = new Set(["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs"]);
const state = { graph: null, step: 0, grads: [], parts: [], timer: null, values: {} };

function namesOf(expr) {
  const names = [];
  for (const m of expr.matchAll(/[A-Za-z_][A-Za-z0-9_]*(\s*\()?/g)) {
    const name = m[0].replace(/\s*\($/, "");
    if (m[1] || FUNCTIONS.has(name) || names.includes(name)) continue;
    if (/^[eE]\d/.test(name) && m.index > 0 && /[\d.]/.test(expr[m.index - 1])) continue; // 1e3
    names.push(name);
  }
  return names;
}

function readUrl() {
  const params = new URLSearchParams(location.search);
  const expr = params.get("expr") || "(x + y) * z";
  const defaults = params.get("expr") ? {} : { x: -2, y: 5, z: -4 };
  const values = {};
  for (const name of namesOf(expr)) {
    const v = parseFloat(params.get(name));
    values[name] = Number.isFinite(v) ? v : (name in defaults ? defaults[name] : 1);
  }
  return { expr, values };
}

function writeUrl(expr, values) {
  const params = new URLSearchParams({ expr });
  for (const [k, v] of Object.entries(values)) params.set(k, v);
  history.replaceState(null, "", "?" + params.toString());
}

function showError(message, column) {
  const box = document.getElementById("error");
  if (!message) { box.textContent = ""; return; }
  const expr = document.getElementById("expr").value;
  box.textContent = column ? `${message}\n${expr}\n${" ".repeat(column - 1)}^` : message;
}

function valueInputs(values) {
  const box = document.getElementById("values");
  box.textContent = "";
  for (const [name, v] of Object.entries(values)) {
    const label = el("label", {}, `${name} = `);
    const number = el("input", { type: "number", step: "0.1", value: v, id: `value-${name}` });
    const slider = el("input", { type: "range", min: "-10", max: "10", step: "0.1", value: v });
    const changed = (x) => {
      if (!Number.isFinite(x)) return;
      state.values[name] = x;
      number.value = x; slider.value = x;
      refresh();
    };
    number.addEventListener("change", () => changed(parseFloat(number.value)));
    slider.addEventListener("input", () => changed(parseFloat(slider.value)));
    label.append(number, slider);
    box.append(label);
  }
}

let pending = null, inFlight = false;
async function refresh() {
  if (inFlight) { pending = true; return; }
  inFlight = true;
  const expr = document.getElementById("expr").value;
  writeUrl(expr, state.values);
  try {
    state.graph = await api("/api/grad", { expr, values: state.values });
    const received = performance.now();
    showError("");
    reset();
    // How long drawing took after the answer arrived (read by the browser test).
    window.scratchgradRenderMs = performance.now() - received;
  } catch (e) {
    showError(e.message, e.details && e.details.column);
  }
  inFlight = false;
  if (pending) { pending = null; refresh(); }
}

function reset() {
  stop();
  const n = state.graph.nodes.length;
  state.step = 0;
  state.grads = new Array(n).fill(null);
  state.parts = Array.from({ length: n }, () => []);
  state.grads[n - 1] = 1; // d f / d f
  state.parts[n - 1] = [1];
  document.getElementById("log").textContent = `${state.graph.nodes[n - 1].label}: grad = 1 (d f / d f)\n`;
  draw();
}

function stepOnce() {
  const g = state.graph;
  if (!g || state.step >= g.backward_order.length) return false;
  const id = g.backward_order[state.step];
  const node = g.nodes[id];
  const lines = [];
  node.inputs.forEach((input, k) => {
    const local = node.local_grads[k];
    const contribution = local * state.grads[id];
    state.grads[input] = (state.grads[input] || 0) + contribution;
    state.parts[input].push(contribution);
    lines.push(`  ${g.nodes[input].label}: += ${short(local)} x ${short(state.grads[id])} = ${short(contribution)}` +
      (state.parts[input].length > 1 ? `  (now ${short(state.grads[input])})` : ""));
  });
  state.step += 1;
  document.getElementById("log").textContent += `${node.label} (${node.op}):\n${lines.join("\n")}\n`;
  draw(id);
  return true;
}

function stop() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  document.getElementById("play").textContent = "Play";
}

function play() {
  if (state.timer) { stop(); return; }
  if (state.graph && state.step >= state.graph.backward_order.length) reset();
  const speed = parseInt(document.getElementById("speed").value, 10);
  document.getElementById("play").textContent = "Pause";
  state.timer = setInterval(() => { if (!stepOnce()) stop(); }, 1600 / speed);
}

function gradText(id) {
  const g = state.grads[id];
  if (g === null || g === undefined) return "grad ?";
  const parts = state.parts[id];
  return parts.length > 1 ? `grad ${short(g)} = ${parts.map(short).join(" + ")}` : `grad ${short(g)}`;
}

function draw(current) {
  const g = state.graph;
  const svg = el("svg", { svg: true, width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}` });
  const active = current === undefined ? null : g.nodes[current];
  const edge = (x1, y1, x2, y2, on) => svg.append(el("line", { svg: true, x1, y1, x2, y2, class: on ? "edge active" : "edge" }));
  for (const node of g.nodes) {
    if (!node.op_box) continue;
    const o = node.op_box;
    edge(o.x + o.width / 2, o.y, node.box.x - node.box.width / 2, node.box.y, false);
    node.inputs.forEach((input) => {
      const b = g.nodes[input].box;
      const on = active === node;
      edge(b.x + b.width / 2, b.y, o.x - o.width / 2, o.y, on);
    });
  }
  g.nodes.forEach((node, id) => {
    const b = node.box;
    const done = state.grads[id] !== null && state.grads[id] !== undefined;
    const group = el("g", { svg: true, class: `node${done ? " done" : ""}${id === current ? " current" : ""}`, id: `node-${id}` });
    group.append(el("rect", { svg: true, x: b.x - b.width / 2, y: b.y - b.height / 2, width: b.width, height: b.height }));
    const rows = [node.label, `data ${short(node.data)}`, gradText(id)];
    rows.forEach((t, k) => {
      const text = el("text", { svg: true, x: b.x, y: b.y - b.height / 2 + (k + 0.7) * b.height / 3, "text-anchor": "middle" }, t);
      if (k === 2) text.setAttribute("id", `grad-node-${id}`);
      group.append(text);
      if (k > 0) group.append(el("line", { svg: true, x1: b.x - b.width / 2, x2: b.x + b.width / 2, y1: b.y - b.height / 2 + k * b.height / 3, y2: b.y - b.height / 2 + k * b.height / 3, stroke: "#999" }));
    });
    svg.append(group);
    if (node.op_box) {
      const o = node.op_box;
      const op = el("g", { svg: true, class: `op${id === current ? " current" : ""}` });
      op.append(el("circle", { svg: true, cx: o.x, cy: o.y, r: Math.max(o.width, o.height) / 2 }));
      op.append(el("text", { svg: true, x: o.x, y: o.y + 4, "text-anchor": "middle", "font-size": "11" }, node.op));
      svg.append(op);
    }
  });
  if (active) {
    active.inputs.forEach((input, k) => {
      const b = g.nodes[input].box;
      const label = `${short(active.local_grads[k])} x ${short(state.grads[current])} = ${short(active.local_grads[k] * state.grads[current])}`;
      svg.append(el("text", { svg: true, class: "contribution", x: b.x + b.width / 2 + 6, y: b.y - 8 }, label));
    });
  }
  const box = document.getElementById("graph");
  box.textContent = "";
  box.append(svg);
  const done = state.step >= g.backward_order.length;
  document.getElementById("status").textContent = done ? "backward pass complete" : `step ${state.step} of ${g.backward_order.length}`;
  const body = document.getElementById("grads");
  body.textContent = "";
  for (const [name, value] of Object.entries(state.values)) {
    const id = g.nodes.findIndex((n) => n.label === name && !n.op);
    const grad = id >= 0 && state.grads[id] !== null && state.grads[id] !== undefined ? short(state.grads[id]) : "?";
    const row = el("tr");
    row.append(el("td", {}, name), el("td", {}, short(value)), el("td", { id: `grad-${name}` }, grad));
    body.append(row);
  }
}

document.getElementById("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const expr = document.getElementById("expr").value;
  const values = {};
  for (const name of namesOf(expr)) values[name] = name in state.values ? state.values[name] : 1;
  state.values = values;
  valueInputs(values);
  refresh();
});
document.getElementById("step").addEventListener("click", () => { stop(); stepOnce(); });
document.getElementById("play").addEventListener("click", play);
document.getElementById("reset").addEventListener("click", () => state.graph && reset());

const start = readUrl();
document.getElementById("expr").value = start.expr;
state.values = start.values;
valueInputs(start.values);
refresh();
