// The graph page: an expression's graph from /api/grad, and its backward pass replayed one
// operation at a time. Each step takes the next operation in backward order (its gradient is
// complete) and sends local derivative × its gradient to each input, which adds it to what it
// has. The graph fits the window and can be zoomed and panned; the view follows the step.
"use strict";

const FUNCTIONS = new Set(["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs"]);
const state = {
  graph: null, step: 0, grads: [], parts: [], timer: null, values: {},
  view: null,          // the visible part of the graph: {x, y, w, h} in graph coordinates
  viewChosen: false,   // the learner zoomed, panned or fitted since the graph came
  stale: false,        // the inputs changed to something the server refused
};
// Below this many screen pixels per graph unit, boxes are too small to read: stepping zooms
// in to READABLE around the step (unless the learner chose a view).
const TOO_SMALL = 0.55, READABLE = 0.9;
const $ = (id) => document.getElementById(id);

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

// An error in the inputs: shown at its column, and the graph on screen marked as no longer
// being of these inputs until an answer arrives.
function showError(message, column) {
  const box = $("error");
  state.stale = Boolean(message);
  $("graph").classList.toggle("stale", state.stale);
  $("stale-note").hidden = !state.stale;
  // Stepping a graph that is not of these inputs would teach the wrong numbers.
  for (const id of ["step", "play", "reset"]) $(id).disabled = state.stale;
  if (state.stale) stop();
  if (!message) { box.textContent = ""; return; }
  const expr = $("expr").value;
  box.textContent = column ? `${message}\n${expr}\n${" ".repeat(column - 1)}^` : message;
  for (const cell of document.querySelectorAll("#grads td.grad")) cell.textContent = "?";
}

function valueInputs(values) {
  const box = $("values");
  box.textContent = "";
  for (const [name, v] of Object.entries(values)) {
    const label = el("label", {}, `${name} = `);
    const number = el("input", { type: "number", step: "0.1", value: v, id: `value-${name}`, "aria-label": `value of ${name}` });
    const slider = el("input", { type: "range", min: "-10", max: "10", step: "0.1", value: v, "aria-label": `slider for ${name}` });
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
  const expr = $("expr").value;
  writeUrl(expr, state.values);
  try {
    const graph = await api("/api/grad", { expr, values: state.values });
    const received = performance.now();
    const sameShape = state.graph && state.graph.nodes.length === graph.nodes.length;
    state.graph = graph;
    showError("");
    if (!sameShape || !state.view) { state.view = fitted(); state.viewChosen = false; }
    reset();
    // How long drawing took after the answer arrived (reported by the browser test).
    $("graph").dataset.renderMs = (performance.now() - received).toFixed(1);
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
  const out = term(state.graph.nodes[n - 1].name);
  $("log").textContent = `grad ${out} = 1 (d${out}/d${out})\n`;
  $("rule").textContent = "Step to run backward one operation at a time, from the output back to the inputs.";
  draw();
}

// Numbers for a product a learner checks by hand: each factor and the product with the
// fewest significant figures (4 or more) at which the shown factors multiply to the shown
// product.
function checkedProduct(a, b, product) {
  const show = (x, p) => Number.isFinite(x) ? String(Number(x.toPrecision(p))) : String(x);
  for (let p = 4; p <= 17; p++) {
    const [sa, sb, sc] = [show(a, p), show(b, p), show(product, p)];
    if (show(Number(sa) * Number(sb), p) === sc) return [sa, sb, sc];
  }
  return [show(a, 17), show(b, 17), show(product, 17)];
}

// A name inside a formula: in parentheses unless it is one word or already bracketed.
function term(name) {
  return /^[A-Za-z_][A-Za-z0-9_]*$|^\(.*\)$|^-?[0-9.]+$/.test(name) ? name : `(${name})`;
}

// A rule template (`1 − {out}²`) with the values' names in its braces.
function ruleText(template, node, g) {
  const input = (k) => node.inputs[k] === undefined ? "" : term(g.nodes[node.inputs[k]].name);
  return template.replaceAll("{a}", input(0)).replaceAll("{b}", input(1)).replaceAll("{out}", term(node.name));
}

// d(formula)/d(input): "d tanh(n)/dn", "d(a·b)/da".
function derivativeName(formula, input) {
  const f = /^[a-z]+\(.*\)$/.test(formula) ? `d ${formula}` : `d(${formula})`;
  return `${f}/d${term(input)}`;
}

function stepOnce() {
  const g = state.graph;
  if (!g || state.stale || state.step >= g.backward_order.length) return false;
  const id = g.backward_order[state.step];
  const node = g.nodes[id];
  const upstream = state.grads[id];
  const lines = [], rules = [];
  const formula = ruleText(node.rule.formula, node, g);
  node.inputs.forEach((input, k) => {
    const local = node.local_grads[k];
    const contribution = local * upstream;
    state.grads[input] = (state.grads[input] || 0) + contribution;
    state.parts[input].push(contribution);
    const [sl, su, sc] = checkedProduct(local, upstream, contribution);
    const name = g.nodes[input].name;
    const derivative = ruleText(node.rule.derivatives[k], node, g);
    const rule = derivative === sl ? sl : `${derivative} = ${sl}`;
    rules.push(`${derivativeName(formula, name)} = ${rule}`);
    rules.push(`  grad ${name} += ${sl} × ${su} = ${sc}`);
    let line = `  ${name}: += ${sl} × ${su} = ${sc}`;
    if (state.parts[input].length > 1) {
      const sum = state.parts[input].map((x) => short(x)).join(" + ");
      rules.push(`  ${name} is used ${state.parts[input].length} times: grad ${name} = ${sum} = ${short(state.grads[input])}`);
      line += `  (now ${sum} = ${short(state.grads[input])})`;
    }
    lines.push(line);
  });
  state.step += 1;
  $("log").textContent += `${node.name} = ${formula}:\n${lines.join("\n")}\n`;
  $("log").scrollTop = $("log").scrollHeight;
  const heading = node.name === formula ? node.name : `${node.name} = ${formula}`;
  $("rule").textContent = `${heading} = ${short(node.data)}; its gradient is complete: grad ${node.name} = ${short(upstream)}\n${rules.join("\n")}`;
  draw(id);
  return true;
}

function stop() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  $("play").textContent = "Play";
}

function play() {
  if (state.timer) { stop(); return; }
  if (state.graph && state.step >= state.graph.backward_order.length) reset();
  const speed = parseInt($("speed").value, 10);
  $("play").textContent = "Pause";
  state.timer = setInterval(() => { if (!stepOnce()) stop(); }, 1600 / speed);
}

// The view that shows the whole graph.
function fitted() {
  const g = state.graph;
  return { x: 0, y: 0, w: Math.max(g.width, 1), h: Math.max(g.height, 1) };
}

// The screen pixels per graph unit of the current view.
function scale() {
  const svg = $("graph").querySelector("svg");
  const v = state.view;
  if (!svg || !v) return 1;
  const r = svg.getBoundingClientRect();
  return Math.min(r.width / v.w, r.height / v.h);
}

// Four significant figures: what the boxes and the table show.
function sig(x) {
  return Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x);
}

// The box around the boxes `boxes` ({x, y, width, height}, centred).
function around(boxes) {
  const x0 = Math.min(...boxes.map((b) => b.x - b.width / 2)), x1 = Math.max(...boxes.map((b) => b.x + b.width / 2));
  const y0 = Math.min(...boxes.map((b) => b.y - b.height / 2)), y1 = Math.max(...boxes.map((b) => b.y + b.height / 2));
  return { x: (x0 + x1) / 2, y: (y0 + y1) / 2, width: x1 - x0, height: y1 - y0 };
}

// Moves the view so that the step's box `node` and, if they fit, its inputs (`group`, the box
// around them all) are inside it, keeping the zoom; when the boxes are too small to read and
// the learner has not chosen a view, zooms in around them first.
function follow(node, group) {
  const margin = 10;
  if (scale() < TOO_SMALL && !state.viewChosen) {
    const svg = $("graph").querySelector("svg").getBoundingClientRect();
    const [w, h] = [svg.width / READABLE, svg.height / READABLE];
    state.view = { x: node.x - w / 2, y: node.y - h / 2, w, h };
  }
  const v = state.view;
  const b = group.width + margin < v.w && group.height + margin < v.h ? group : node;
  const inside = b.x - b.width / 2 >= v.x && b.x + b.width / 2 <= v.x + v.w
    && b.y - b.height / 2 >= v.y && b.y + b.height / 2 <= v.y + v.h;
  if (inside) return;
  state.view = { ...v, x: b.x - v.w / 2, y: b.y - v.h / 2 };
  if (b.width + margin > v.w || b.height + margin > v.h) state.view = fitted();
}

function zoom(factor, cx, cy) {
  const v = state.view;
  if (!v) return;
  const full = fitted();
  const w = Math.min(Math.max(v.w / factor, 40), full.w * 4);
  const h = w * v.h / v.w;
  const px = cx === undefined ? v.x + v.w / 2 : cx;
  const py = cy === undefined ? v.y + v.h / 2 : cy;
  state.view = { x: px - (px - v.x) * w / v.w, y: py - (py - v.y) * h / v.h, w, h };
  state.viewChosen = true;
  applyView();
}

function pan(dx, dy) {
  const v = state.view;
  if (!v) return;
  state.view = { ...v, x: v.x + dx * v.w, y: v.y + dy * v.h };
  state.viewChosen = true;
  applyView();
}

function applyView() {
  const svg = $("graph").querySelector("svg");
  const v = state.view;
  if (svg && v) svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
}

function gradText(id) {
  const g = state.grads[id];
  return g === null || g === undefined ? "grad ?" : `grad ${sig(g)}`;
}

// An edge from box `from` (its right side) to circle `to` (its left side), bent by `bend`
// pixels so that two edges between the same shapes (x*x) are both seen.
function edgePath(from, to, bend) {
  const [x1, y1, x2, y2] = [from.x + from.width / 2, from.y, to.x - to.width / 2, to.y];
  const mx = (x1 + x2) / 2;
  return `M${x1},${y1} C${mx},${y1 + bend} ${mx},${y2 + bend} ${x2},${y2}`;
}

function draw(current) {
  const g = state.graph;
  const box = $("graph");
  const height = Math.round(Math.min(Math.max(window.innerHeight - 300, 280), 760));
  const svg = el("svg", { svg: true, width: "100%", height, role: "img", "aria-label": "the graph of the expression" });
  const active = current === undefined ? null : g.nodes[current];
  const edges = el("g", { svg: true });
  for (const [id, node] of g.nodes.entries()) {
    if (!node.op_box) continue;
    const o = node.op_box;
    const b = node.box;
    edges.append(el("path", { svg: true, d: `M${o.x + o.width / 2},${o.y} L${b.x - b.width / 2},${b.y}`, class: "edge" }));
    node.inputs.forEach((input, k) => {
      const twice = node.inputs.length === 2 && node.inputs[0] === node.inputs[1];
      const bend = twice ? (k === 0 ? -14 : 14) : 0;
      const on = active === node;
      edges.append(el("path", { svg: true, d: edgePath(g.nodes[input].box, o, bend), class: on ? "edge active" : "edge", "data-edge": `${input}-${id}-${k}` }));
    });
  }
  svg.append(edges);
  g.nodes.forEach((node, id) => {
    const b = node.box;
    const done = state.grads[id] !== null && state.grads[id] !== undefined;
    const group = el("g", { svg: true, class: `node${done ? " done" : ""}${id === current ? " current" : ""}`, id: `node-${id}`, tabindex: "-1" });
    group.append(el("title", { svg: true }, `${node.name} = ${node.label}\ndata ${node.data}\n${gradText(id)}`));
    group.append(el("rect", { svg: true, x: b.x - b.width / 2, y: b.y - b.height / 2, width: b.width, height: b.height, rx: 3 }));
    const rows = [node.name, `data ${sig(node.data)}`, gradText(id)];
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
      op.append(el("title", { svg: true }, `${node.name} = ${ruleText(node.rule.formula, node, g)}`));
      op.append(el("circle", { svg: true, cx: o.x, cy: o.y, r: Math.max(o.width, o.height) / 2 }));
      op.append(el("text", { svg: true, x: o.x, y: o.y + 4, "text-anchor": "middle", "font-size": "11" }, node.op.replace("*", "×")));
      svg.append(op);
    }
  });
  if (active) {
    active.inputs.forEach((input, k) => {
      const b = g.nodes[input].box;
      const [sl, su, sc] = checkedProduct(active.local_grads[k], state.grads[current], active.local_grads[k] * state.grads[current]);
      const label = `${sl} × ${su} = ${sc}`;
      svg.append(el("text", { svg: true, class: "contribution", x: b.x, y: b.y + b.height / 2 + 14 + 14 * k * (active.inputs[0] === active.inputs[1] ? 1 : 0), "text-anchor": "middle" }, label));
    });
  }
  box.replaceChildren(svg);
  if (active) {
    // The step's node and its inputs, or the node alone when they do not fit together.
    follow(active.box, around([active.box, ...active.inputs.map((i) => g.nodes[i].box)]));
  }
  applyView();
  const done = state.step >= g.backward_order.length;
  $("status").textContent = done ? "backward pass complete" : `step ${state.step} of ${g.backward_order.length}`;
  const body = $("grads");
  body.textContent = "";
  for (const [name, value] of Object.entries(state.values)) {
    const id = g.nodes.findIndex((n) => n.label === name && !n.op);
    const grad = id >= 0 && state.grads[id] !== null && state.grads[id] !== undefined ? sig(state.grads[id]) : "?";
    const row = el("tr");
    row.append(el("td", {}, name), el("td", {}, sig(value)), el("td", { id: `grad-${name}`, class: "grad" }, grad));
    body.append(row);
  }
}

// Zoom with the wheel (at the pointer), pan by dragging, pinch with two fingers.
function interactions() {
  const box = $("graph");
  const toGraph = (clientX, clientY) => {
    const r = box.querySelector("svg").getBoundingClientRect();
    const v = state.view;
    return [v.x + (clientX - r.left) / r.width * v.w, v.y + (clientY - r.top) / r.height * v.h];
  };
  box.addEventListener("wheel", (e) => {
    if (!state.view) return;
    e.preventDefault();
    const [cx, cy] = toGraph(e.clientX, e.clientY);
    zoom(e.deltaY < 0 ? 1.2 : 1 / 1.2, cx, cy);
  }, { passive: false });
  const pointers = new Map();
  let last = null;
  box.addEventListener("pointerdown", (e) => { pointers.set(e.pointerId, [e.clientX, e.clientY]); box.setPointerCapture(e.pointerId); last = null; });
  box.addEventListener("pointerup", (e) => { pointers.delete(e.pointerId); last = null; });
  box.addEventListener("pointercancel", (e) => { pointers.delete(e.pointerId); last = null; });
  box.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId) || !state.view) return;
    const before = [...pointers.values()];
    pointers.set(e.pointerId, [e.clientX, e.clientY]);
    const after = [...pointers.values()];
    const r = box.querySelector("svg").getBoundingClientRect();
    if (after.length === 1) {
      pan(-(after[0][0] - before[0][0]) / r.width, -(after[0][1] - before[0][1]) / r.height);
    } else if (after.length === 2) {
      const spread = (p) => Math.hypot(p[0][0] - p[1][0], p[0][1] - p[1][1]);
      if (last !== null) {
        const [cx, cy] = toGraph((after[0][0] + after[1][0]) / 2, (after[0][1] + after[1][1]) / 2);
        zoom(spread(after) / last, cx, cy);
      }
      last = spread(after);
    }
  });
  $("zoom-in").addEventListener("click", () => zoom(1.25));
  $("zoom-out").addEventListener("click", () => zoom(1 / 1.25));
  $("zoom-fit").addEventListener("click", () => { state.view = fitted(); state.viewChosen = true; applyView(); });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select")) return;
    if (e.key === "ArrowRight" && !e.shiftKey) { e.preventDefault(); stop(); stepOnce(); }
    else if (e.key === " ") { e.preventDefault(); play(); }
    else if (e.key === "+" || e.key === "=") zoom(1.25);
    else if (e.key === "-") zoom(1 / 1.25);
    else if (e.key === "0") { state.view = fitted(); state.viewChosen = true; applyView(); }
    else if (e.shiftKey && e.key.startsWith("Arrow")) {
      e.preventDefault();
      const d = { ArrowLeft: [-0.2, 0], ArrowRight: [0.2, 0], ArrowUp: [0, -0.2], ArrowDown: [0, 0.2] }[e.key];
      pan(d[0], d[1]);
    }
  });
}

$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const expr = $("expr").value;
  const values = {};
  for (const name of namesOf(expr)) values[name] = name in state.values ? state.values[name] : 1;
  state.values = values;
  state.view = null;
  valueInputs(values);
  refresh();
});
$("step").addEventListener("click", () => { stop(); stepOnce(); });
$("play").addEventListener("click", play);
$("reset").addEventListener("click", () => state.graph && !state.stale && reset());
window.addEventListener("resize", () => state.graph && draw());
interactions();

const start = readUrl();
$("expr").value = start.expr;
state.values = start.values;
valueInputs(start.values);
refresh();
