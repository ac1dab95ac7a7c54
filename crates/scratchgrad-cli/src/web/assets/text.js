// The text page: a trained language model writes one character at a time. Each step asks
// /api/text/next what the model makes of the text so far (the probability of every character,
// the window it reads, and for a GPT each head's attention over that window); the page then
// applies the temperature and top-k and draws the character. Hover a drawn character to see
// the step that made it; click a bar to write that character instead.
"use strict";

const $ = id => document.getElementById(id);
let lines = false;     // a model of names: a line ends at the boundary
let drawn = [];        // [{char, index, answer, odds}] after the prompt
let ended = false, playing = false, busy = false;
const MAX_STREAM_CHARS = 400;

// How a character is shown in a window or on an axis (a name's boundary stays `.`).
function label(c) {
  if (c === "\n") return "⏎";
  if (c === " ") return "␣";
  return c;
}

// How a character is shown on a bar: drawing a name's boundary ends the name.
function barLabel(c) {
  return lines && c === "." ? "end" : label(c);
}

// The temperature and top-k as typed, or an error saying what is wrong with them.
function settings() {
  const typedT = $("temperature").value.trim();
  const t = typedT === "" ? 1 : Number(typedT);
  if (!Number.isFinite(t) || t < 0) throw new Error("temperature: give 0 (always the likeliest character) or more");
  const typedK = $("top-k").value.trim();
  const k = typedK === "" ? null : Number(typedK);
  if (k !== null && !(Number.isInteger(k) && k >= 1)) throw new Error("top-k: give a whole number of 1 or more, or leave it empty for all");
  return { t, k };
}

// The odds a character is drawn with: p^(1/T) over the top k, renormalized; at temperature 0,
// all of it on the likeliest.
function odds(probabilities) {
  const { t, k } = settings();
  const order = probabilities.map((p, i) => i).sort((a, b) => probabilities[b] - probabilities[a]);
  if (t === 0) return probabilities.map((p, i) => i === order[0] ? 1 : 0);
  const kept = new Set(order.slice(0, k === null ? order.length : k));
  // p^(1/T) as e^(ln p / T), scaled by the largest so that a low temperature cannot underflow
  const logs = probabilities.map((p, i) => kept.has(i) && p > 0 ? Math.log(p) / t : -Infinity);
  const top = Math.max(...logs);
  const weights = logs.map(l => Math.exp(l - top));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map(w => w / total);
}

function draw(weights) {
  let u = Math.random(), last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] > 0) last = i;
    u -= weights[i];
    if (u < 0) return i;
  }
  return last;
}

function text() {
  return $("prompt").value + drawn.map(d => d.char).join("");
}

function message(s) { $("message").textContent = s; }

async function loadModels() {
  const select = $("model");
  const data = await api("/api/text/models");
  select.textContent = "";
  for (const m of data.models) {
    const loss = typeof m.test_loss === "number" ? `, test loss ${m.test_loss.toFixed(3)}` : "";
    const what = m.architecture ? `${m.architecture} on ${m.corpus}${loss}` : "unfinished";
    select.append(el("option", { value: m.name }, `${m.name}: ${what}`));
  }
  if (!data.models.length) {
    message(`no language model in ${data.runs}: train one, e.g. scratchgrad train --dataset names-mini --arch gpt --out ${data.runs}/names-gpt`);
    for (const id of ["step", "play", "restart"]) $(id).disabled = true;
  }
}

// One step: ask, draw (or take `forced`), show.
async function step(forced) {
  if (busy || ended || !$("model").value) return;
  busy = true;
  try {
    const answer = await api("/api/text/next", { model: $("model").value, text: text() });
    lines = answer.lines;
    const weights = odds(answer.probabilities);
    const index = forced === undefined ? draw(weights) : forced;
    const char = answer.chars[index];
    if (lines && index === 0) {
      ended = true;
      drawn.push({ char: "", index, answer, odds: weights, end: true });
    } else {
      drawn.push({ char, index, answer, odds: weights });
      if (!lines && drawn.length >= MAX_STREAM_CHARS) ended = true;
    }
    if (ended) stop();
    message(ended ? (lines ? "the model ended the name: Restart for another" : `${MAX_STREAM_CHARS} characters: Restart for more`) : "");
    render(drawn.length - 1);
  } catch (e) {
    message(e.message);
    stop();
  } finally {
    busy = false;
  }
}

function render(shown) {
  const box = $("written");
  box.textContent = "";
  box.append(el("span", { class: "prompt" }, $("prompt").value));
  drawn.forEach((d, i) => {
    if (d.end) {
      box.append(el("span", { class: "end drawn" + (i === shown ? " shown" : ""), "data-step": i }, " (end)"));
      return;
    }
    box.append(el("span", { class: "drawn" + (i === shown ? " shown" : ""), "data-step": i }, d.char));
  });
  box.scrollTop = box.scrollHeight;
  if (shown >= 0 && drawn[shown]) showStep(drawn[shown]);
}

function showStep(d) {
  const { answer, odds: weights, index } = d;
  const bars = $("bars");
  bars.textContent = "";
  const order = answer.probabilities.map((p, i) => i).sort((a, b) => answer.probabilities[b] - answer.probabilities[a]);
  const shown = order.slice(0, Math.min(order.length, 16));
  if (!shown.includes(index)) shown.push(index);
  for (const i of shown) {
    const p = answer.probabilities[i];
    const row = el("div", { class: i === index ? "picked" : "", title: `click to write ${JSON.stringify(answer.chars[i])} here instead`, "data-index": i });
    row.append(el("span", { class: "logit", style: "width: 3em; display: inline-block" }, barLabel(answer.chars[i])));
    const barBox = el("span", { style: "display: inline-flex; flex-direction: column; width: 220px" });
    barBox.append(el("span", { class: "bar", style: `width: ${Math.max(1, 220 * p)}px` }));
    barBox.append(el("span", { class: "bar odds", style: `width: ${Math.max(0, 220 * weights[i])}px` }));
    row.append(barBox);
    row.append(el("span", {}, `${(100 * p).toFixed(1)}%` + (Math.abs(weights[i] - p) > 0.0005 ? ` → ${(100 * weights[i]).toFixed(1)}%` : "")));
    row.addEventListener("click", () => rewrite(d, i));
    bars.append(row);
  }
  const rest = order.length - shown.length;
  if (rest > 0) bars.append(el("div", { class: "muted small" }, `and ${rest} less likely characters`));
  $("dist-title").textContent = `after “${answer.window.map(label).join("")}” (the window the model reads): blue, the model's probability; orange, the odds it is drawn with (temperature, top-k). Click a character to write it instead.`;
  showAttention(answer);
}

// Click a bar: the text goes back to that step and writes the clicked character there.
function rewrite(d, index) {
  const at = drawn.indexOf(d);
  if (at < 0 || busy) return;
  stop();
  drawn = drawn.slice(0, at);
  ended = false;
  step(index);
}

function showAttention(answer) {
  const panel = $("attention-panel");
  const box = $("attention");
  box.textContent = "";
  panel.hidden = !answer.attention.length;
  if (!answer.attention.length) return;
  const window = answer.window;
  const t = window.length;
  const cell = Math.max(4, Math.min(22, Math.floor(220 / t)));
  const labels = cell >= 10;
  const margin = labels ? cell + 4 : 2;
  const heads = answer.attention[0].length;
  box.style.gridTemplateColumns = `repeat(${Math.min(heads, 4)}, auto)`;
  answer.attention.forEach((block, b) => {
    block.forEach((weights, h) => {
      const figure = el("figure");
      const canvas = el("canvas", { width: margin + t * cell, height: margin + t * cell, "aria-label": `block ${b + 1}, head ${h + 1}` });
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < t; i++) {
        for (let j = 0; j <= i; j++) {
          const w = weights[i][j];
          ctx.fillStyle = `rgba(47, 126, 216, ${Math.min(1, w)})`;
          ctx.fillRect(margin + j * cell, margin + i * cell, cell - 1, cell - 1);
        }
      }
      // The last row makes the next character.
      ctx.strokeStyle = "#f0a030";
      ctx.strokeRect(margin - 0.5, margin + (t - 1) * cell - 0.5, t * cell, cell);
      if (labels) {
        ctx.fillStyle = "#333";
        ctx.font = `${Math.min(13, cell - 2)}px ui-monospace, monospace`;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        window.forEach((c, k) => {
          ctx.fillText(label(c).slice(0, 1), margin + k * cell + cell / 2, margin / 2);
          ctx.fillText(label(c).slice(0, 1), margin / 2, margin + k * cell + cell / 2);
        });
      }
      canvas.addEventListener("mousemove", (e) => {
        const r = canvas.getBoundingClientRect();
        const x = (e.clientX - r.left) * canvas.width / r.width - margin;
        const y = (e.clientY - r.top) * canvas.height / r.height - margin;
        const i = Math.floor(y / cell), j = Math.floor(x / cell);
        if (i < 0 || j < 0 || i >= t || j >= t) return;
        $("attention-detail").textContent = `block ${b + 1}, head ${h + 1}: position ${i + 1} (${JSON.stringify(window[i])}) takes ${(100 * weights[i][j]).toFixed(1)}% from position ${j + 1} (${JSON.stringify(window[j])})` + (j > i ? ": a later position, hidden by the causal mask" : "");
      });
      figure.append(canvas, el("figcaption", {}, `block ${b + 1}, head ${h + 1}`));
      box.append(figure);
    });
  });
}

function stop() {
  playing = false;
  $("play").textContent = "Play";
}

async function play() {
  if (playing) { stop(); return; }
  playing = true;
  $("play").textContent = "Pause";
  while (playing && !ended) {
    await step();
    await new Promise(r => setTimeout(r, 120));
  }
  stop();
}

function restart() {
  stop();
  drawn = [];
  ended = false;
  $("bars").textContent = "";
  $("attention").textContent = "";
  $("attention-detail").textContent = "";
  $("attention-panel").hidden = true;
  $("dist-title").textContent = "the next character: press Step (or →) to see the model's probabilities for it";
  message("");
  render(-1);
}

$("step").addEventListener("click", () => step());
$("play").addEventListener("click", play);
$("restart").addEventListener("click", restart);
$("model").addEventListener("change", restart);
$("prompt").addEventListener("change", restart);
$("written").addEventListener("mouseover", (e) => {
  const at = e.target.dataset && e.target.dataset.step;
  if (at !== undefined) render(Number(at));
});
document.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
  if (e.key === "ArrowRight") { e.preventDefault(); step(); }
  else if (e.key === " ") { e.preventDefault(); play(); }
  else if (e.key === "r") restart();
});

restart();
loadModels().catch(e => message(e.message));
