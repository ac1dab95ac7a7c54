// The training dashboard: start a run (train's own flags), follow it live through
// server-sent events (the history replays on reload), stop and resume it, open past runs.
"use strict";

const $ = id => document.getElementById(id);
const COLOURS = { train: "#c0392b", held: "#2f7ed8", running: "#e6a0a0", other: "#27ae60", otherHeld: "#8e44ad" };
let source = null;      // the EventSource of the current run
let live = null;        // what the events told: {run, epochs, batches: [], epochs_seen: [], ...}

function showError(e) { $("error").textContent = e ? e.message : ""; }

function settings() {
  const s = {};
  const arch = $("arch").value;
  if (arch === "layers") s.layers = $("layers").value; else s.arch = arch;
  s.dataset = $("dataset").value;
  s.engine = $("engine").value;
  for (const id of ["epochs", "optimizer", "lr", "batch_size", "seed"]) {
    const v = $(id).value.trim();
    if (v !== "") s[id] = id === "optimizer" ? v : Number(v);
  }
  return s;
}

$("arch").addEventListener("change", () => { $("layers-box").hidden = $("arch").value !== "layers"; });

$("start").addEventListener("click", async () => {
  try {
    const run = await api("/api/dashboard/start", settings());
    showError(null);
    follow(run);
  } catch (e) { showError(e); }
});

$("stop").addEventListener("click", async () => {
  try { await api("/api/dashboard/stop", {}); } catch (e) { showError(e); }
});

$("resume").addEventListener("click", async () => {
  if (!live || !live.run) return;
  const body = { run: live.run };
  const total = $("resume-epochs").value.trim();
  if (total !== "") body.epochs = Number(total);
  try {
    const run = await api("/api/dashboard/resume", body);
    showError(null);
    follow(run);
  } catch (e) { showError(e); }
});

// Follows the current run's events from the start (so a reloaded page sees its history).
function follow(run) {
  if (source) source.close();
  live = { run: run.run, status: run.status, epochs: 0, done: 0, batches: [], history: [], first: null, pictures: 0, health: null, ratios: [] };
  $("command").textContent = run.command;
  $("message").textContent = "";
  setStatus(run.status);
  source = new EventSource("/api/dashboard/events");
  source.onmessage = message => handle(JSON.parse(message.data));
  source.onerror = () => { if (live && live.ended) source.close(); };
}

function setStatus(status) {
  live.status = status;
  $("status").textContent = status;
  $("run-name").textContent = live.run || "(starting)";
  const active = status === "starting" || status === "training";
  $("stop").disabled = !active;
  $("resume").disabled = active || !live.run || status === "failed" && live.history.length === 0;
  $("start").disabled = active;
}

// One event from the server. The first is a snapshot of the run so far (its start, every
// epoch, a resumed run's earlier ones included, its latest progress, its end); then each
// event as it happens.
function handle(event) {
  if (event.type === "snapshot") {
    live.snapshots = (live.snapshots || 0) + 1;
    live.history = [];
    live.batches = [];
    live.ratios = event.ratios || [];
    if (event.start) handle(event.start);
    // Every epoch, a resumed run's earlier ones included (the start's copy of those aside).
    live.history = event.epochs.slice();
    if (event.epochs.length) { live.pictures = event.epochs[event.epochs.length - 1].epoch; showLivePictures(); }
    if (event.health) handle(event.health);
    drawRatios();
    if (event.batch) handle(event.batch);
    if (event.end) handle(event.end);
  } else if (event.type === "start") {
    Object.assign(live, { run: event.run, epochs: event.epochs, done: event.epochs_done });
    // A resumed run's earlier epochs, for a page that followed it from before the resume.
    const known = new Set(live.history.map(m => m.epoch));
    for (const m of event.earlier || []) if (!known.has(m.epoch)) live.history.push(m);
    live.history.sort((a, b) => a.epoch - b.epoch);
    $("command").textContent = `${event.command}    (folder: ${event.run})`;
    setStatus("training");
  } else if (event.type === "batch") {
    // The running curve: ten points an epoch since the page opened (a reload starts it
    // again from the latest; the epochs' own points come from the snapshot).
    live.batches.push(event);
    if (live.batches.length > 4000) live.batches = live.batches.filter((_, i) => i % 2 === 0);
    if (!live.first) live.first = event;
    progress(event);
  } else if (event.type === "epoch") {
    live.history = live.history.filter(m => m.epoch < event.epoch);
    live.history.push(event);
    live.pictures = event.epoch;
    showLivePictures();
  } else if (event.type === "health") {
    live.health = event;
    drawHealth();
    return;
  } else if (event.type === "ratios") {
    live.ratios.push(event);
    if (live.ratios.length > 4000) live.ratios = live.ratios.filter((_, i) => i % 2 === 0);
    drawRatios();
    return;
  } else if (event.type === "end") {
    live.ended = true;
    $("message").textContent = event.message;
    // The progress line would otherwise still promise an ETA.
    if (event.status !== "finished") $("progress-text").textContent = `${event.status}: ${live.history.length} epoch(s) kept`;
    setStatus(event.status);
    source.close();
    loadRuns();
  }
  drawLive();
}

function progress(b) {
  const total = live.epochs * b.batches;
  const doneSteps = (b.epoch - 1) * b.batches + b.batch;
  const fraction = total ? doneSteps / total : 0;
  $("bar").style.width = `${(100 * fraction).toFixed(1)}%`;
  let eta = "";
  const first = live.first;
  const firstSteps = (first.epoch - 1) * first.batches + first.batch;
  if (doneSteps > firstSteps) {
    const rate = (doneSteps - firstSteps) / (b.seconds - first.seconds);
    eta = `, ETA ${Math.round((total - doneSteps) / rate)} s`;
  }
  $("progress-text").textContent =
    `epoch ${b.epoch} of ${live.epochs}, batch ${b.batch} of ${b.batches}: loss ${short(b.loss)}, accuracy ${(100 * b.accuracy).toFixed(2)}%${eta}`;
}

function curves(history, running, heldName, colours = COLOURS) {
  const loss = [
    { name: "train", color: colours.train, points: history.map(m => [m.epoch, m.train_loss]) },
    { name: heldName, color: colours.held, points: history.map(m => [m.epoch, m.test_loss ?? m.val_loss]) },
  ];
  const accuracy = [
    { name: "train", color: colours.train, points: history.map(m => [m.epoch, 100 * m.train_accuracy]) },
    { name: heldName, color: colours.held, points: history.map(m => [m.epoch, 100 * (m.test_accuracy ?? m.val_accuracy)]) },
  ];
  if (running.length) {
    const x = b => b.epoch - 1 + b.batch / b.batches;
    loss.unshift({ name: "train, running (10 an epoch)", color: COLOURS.running, points: running.map(b => [x(b), b.loss]) });
    accuracy.unshift({ name: "train, running (10 an epoch)", color: COLOURS.running, points: running.map(b => [x(b), 100 * b.accuracy]) });
  }
  return { loss, accuracy };
}

function heldName(history) {
  return history.length && history[0].val_loss !== undefined ? "validation" : "test";
}

function drawLive() {
  const c = curves(live.history, live.batches, heldName(live.history));
  lineChart($("loss-chart"), c.loss, { title: "loss", ymin: 0 });
  lineChart($("accuracy-chart"), c.accuracy, { title: "accuracy %" });
}

// The run's latest pictures. Their addresses name the run and the epoch: a browser keeps
// images by address, so a new run's first epoch must never look like the last run's.
function showLivePictures() {
  const box = $("live-pictures");
  box.textContent = "";
  if (!live.run) return;
  const titles = { "weights.png": "the first layer's weights", "predictions.png": "predictions", "confusion.png": "confusion matrix" };
  for (const name of ["weights.png", "predictions.png", "confusion.png"]) {
    const run = encodeURIComponent(live.run);
    box.append(picture(`/api/dashboard/pictures/${name}?run=${run}&epoch=${live.pictures}`, `${titles[name]} after epoch ${live.pictures}`));
  }
}

// A picture that opens at full size when clicked.
function picture(src, title) {
  const img = el("img", { alt: title, title: `${title} (click to enlarge)`, src, tabindex: "0" });
  img.onerror = () => img.remove();
  const open = () => { $("viewer-image").src = src; $("viewer-image").alt = title; $("viewer").showModal(); };
  img.addEventListener("click", open);
  img.addEventListener("keydown", e => { if (e.key === "Enter") open(); });
  return img;
}

// A histogram on a canvas: bars over [low, high], titled.
function histogramChart(canvas, h, title, color) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, ht = canvas.height, top = 18, bottom = 16;
  ctx.clearRect(0, 0, w, ht);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, ht);
  ctx.fillStyle = "#222"; ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(title, 4, 13);
  const most = Math.max(1, ...h.counts);
  const bar = (w - 8) / h.counts.length;
  ctx.fillStyle = color;
  h.counts.forEach((c, i) => {
    const height = (ht - top - bottom) * c / most;
    ctx.fillRect(4 + i * bar, ht - bottom - height, Math.max(1, bar - 1), height);
  });
  ctx.fillStyle = "#666"; ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(short(Number(h.low.toPrecision(2))), 4, ht - 3);
  const right = short(Number(h.high.toPrecision(2)));
  ctx.fillText(right, w - 4 - ctx.measureText(right).width, ht - 3);
}

function drawHealth() {
  const h = live.health;
  if (!h) return;
  $("health-when").textContent = h.epochs_done === 0 ? "before training" : `after epoch ${h.epochs_done}`;
  $("health-images").textContent = h.images;
  const acts = $("activations");
  acts.textContent = "";
  for (const a of h.activations) {
    const canvas = el("canvas", { width: 270, height: 110, role: "img" });
    const title = `layer ${a.layer} ${a.activation}: ${(100 * a.saturated).toFixed(1)}% ${a.activation === "relu" ? "off" : "saturated"}`;
    canvas.setAttribute("aria-label", title);
    histogramChart(canvas, a.histogram, title, a.saturated > 0.1 ? "#c0392b" : "#2f7ed8");
    acts.append(canvas);
  }
  const grads = $("gradients");
  grads.textContent = "";
  for (const g of h.gradients) {
    const canvas = el("canvas", { width: 270, height: 110, role: "img" });
    const title = `${g.name}: grad σ ${short(Number(g.gradient_std.toPrecision(2)))}, weight σ ${short(Number(g.weight_std.toPrecision(2)))}`;
    canvas.setAttribute("aria-label", title);
    histogramChart(canvas, g.histogram, title, "#8e44ad");
    grads.append(canvas);
  }
}

const RATIO_COLOURS = ["#c0392b", "#2f7ed8", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#d35400"];
function drawRatios() {
  const names = live.ratios.length ? Object.keys(live.ratios[live.ratios.length - 1].ratios) : [];
  const x = r => r.epoch - 1 + r.batch / r.batches;
  const series = names.map((n, i) => ({ name: n, color: RATIO_COLOURS[i % RATIO_COLOURS.length], points: live.ratios.filter(r => n in r.ratios).map(r => [x(r), r.ratios[n]]) }));
  if (series.length) {
    const all = series.flatMap(s => s.points);
    series.push({ name: "−3 (rule of thumb)", color: "#bbb", points: [[Math.min(...all.map(p => p[0])), -3], [Math.max(...all.map(p => p[0])), -3]] });
  }
  lineChart($("ratio-chart"), series, { title: "update size / weight size (log10)" });
}

// The runs in --runs; a click opens one, two ticks compare.
async function loadRuns() {
  let answer;
  try { answer = await api("/api/runs"); } catch (e) { showError(e); return; }
  $("runs-folder").textContent = answer.runs_folder;
  const body = $("runs");
  body.textContent = "";
  let anyValidation = false;
  for (const run of answer.runs) {
    const row = el("tr", { class: "clickable" });
    const tick = el("input", { type: "checkbox", value: run.name });
    tick.addEventListener("click", e => { e.stopPropagation(); updateCompare(); });
    const cell = el("td"); cell.append(tick); row.append(cell);
    const last = run.last || {};
    // The test set is scored every epoch without a validation split, and once at the end
    // with one (in the summary).
    const validation = last.val_accuracy;
    const test = run.test_accuracy ?? last.test_accuracy;
    const shown = a => a == null ? "" : `${(100 * a).toFixed(2)}%`;
    const cells = [run.name, run.status, run.dataset ?? "", run.architecture ?? "", String(run.epochs),
      shown(validation), shown(test)];
    cells.forEach((text, i) => row.append(el("td", i === 3 ? { class: "network-cell" } : {}, text)));
    if (validation != null) anyValidation = true;
    row.addEventListener("click", () => openRun(run.name));
    body.append(row);
  }
  // The validation column only when some run held a validation split out.
  body.closest("table").classList.toggle("no-validation", !anyValidation);
  updateCompare();
}

function ticked() {
  return [...document.querySelectorAll("#runs input:checked")].map(t => t.value);
}

function updateCompare() { $("compare").disabled = ticked().length !== 2; }

async function openRun(name) {
  try {
    const run = await api(`/api/runs/${encodeURIComponent(name)}`);
    $("opened").hidden = false;
    $("opened-title").textContent = `${run.name} (${run.status})`;
    const c = curves(run.metrics, [], heldName(run.metrics));
    lineChart($("opened-loss"), c.loss, { title: "loss", ymin: 0 });
    lineChart($("opened-accuracy"), c.accuracy, { title: "accuracy %" });
    const box = $("opened-pictures");
    box.textContent = "";
    for (const file of run.pictures.filter(f => f.endsWith(".png"))) {
      box.append(picture(`/api/runs/${encodeURIComponent(name)}/files/${file}`, `${run.name}: ${file}`));
    }
  } catch (e) { showError(e); }
}

$("compare").addEventListener("click", async () => {
  const [a, b] = ticked();
  try {
    const [ra, rb] = await Promise.all([a, b].map(n => api(`/api/runs/${encodeURIComponent(n)}`)));
    const series = (run, train, held, f, g) => [
      { name: `${run.name} train`, color: train, points: run.metrics.map(m => [m.epoch, f(m)]) },
      { name: `${run.name} ${heldName(run.metrics)}`, color: held, points: run.metrics.map(m => [m.epoch, g(m)]) },
    ];
    $("opened").hidden = false;
    $("opened-title").textContent = `${a} and ${b}`;
    const loss = m => m.test_loss ?? m.val_loss, acc = m => 100 * (m.test_accuracy ?? m.val_accuracy);
    lineChart($("opened-loss"), [...series(ra, COLOURS.train, COLOURS.held, m => m.train_loss, loss),
      ...series(rb, COLOURS.other, COLOURS.otherHeld, m => m.train_loss, loss)], { title: "loss", ymin: 0 });
    lineChart($("opened-accuracy"), [...series(ra, COLOURS.train, COLOURS.held, m => 100 * m.train_accuracy, acc),
      ...series(rb, COLOURS.other, COLOURS.otherHeld, m => 100 * m.train_accuracy, acc)], { title: "accuracy %" });
    $("opened-pictures").textContent = "";
  } catch (e) { showError(e); }
});

$("refresh").addEventListener("click", loadRuns);

// On load: re-attach to the run under way (or the last one), and list the runs.
(async () => {
  try {
    const answer = await api("/api/dashboard");
    if (answer.current) follow(answer.current);
    else $("message").textContent = "No run has started since the server did: choose settings above and Start; its curves, pictures and health appear here.";
  } catch (e) { showError(e); }
  loadRuns();
})();
