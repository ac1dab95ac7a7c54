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
  live = { run: run.run, status: run.status, epochs: 0, done: 0, batches: [], history: [], first: null, pictures: 0 };
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
    live.history = [];
    live.batches = [];
    if (event.start) handle(event.start);
    for (const epoch of event.epochs) live.history.push(epoch);
    if (event.epochs.length) { live.pictures = event.epochs[event.epochs.length - 1].epoch; showLivePictures(); }
    if (event.batch) handle(event.batch);
    if (event.end) handle(event.end);
  } else if (event.type === "start") {
    Object.assign(live, { run: event.run, epochs: event.epochs, done: event.epochs_done });
    $("command").textContent = `${event.command}    (folder: ${event.run})`;
    setStatus("training");
  } else if (event.type === "batch") {
    live.batches.push(event);
    if (!live.first) live.first = event;
    progress(event);
  } else if (event.type === "epoch") {
    live.history.push(event);
    live.pictures = event.epoch;
    showLivePictures();
  } else if (event.type === "end") {
    live.ended = true;
    $("message").textContent = event.message;
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
    loss.unshift({ name: "train (this epoch so far)", color: COLOURS.running, points: running.map(b => [x(b), b.loss]) });
    accuracy.unshift({ name: "train (this epoch so far)", color: COLOURS.running, points: running.map(b => [x(b), 100 * b.accuracy]) });
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

function showLivePictures() {
  const box = $("live-pictures");
  box.textContent = "";
  for (const name of ["weights.png", "predictions.png", "confusion.png"]) {
    const img = el("img", { alt: name, src: `/api/dashboard/pictures/${name}?epoch=${live.pictures}` });
    img.onerror = () => img.remove();
    box.append(img);
  }
}

// The runs in --runs; a click opens one, two ticks compare.
async function loadRuns() {
  let answer;
  try { answer = await api("/api/runs"); } catch (e) { showError(e); return; }
  $("runs-folder").textContent = answer.runs_folder;
  const body = $("runs");
  body.textContent = "";
  for (const run of answer.runs) {
    const row = el("tr", { class: "clickable" });
    const tick = el("input", { type: "checkbox", value: run.name });
    tick.addEventListener("click", e => { e.stopPropagation(); updateCompare(); });
    const cell = el("td"); cell.append(tick); row.append(cell);
    const last = run.last || {};
    const held = last.test_accuracy ?? last.val_accuracy;
    for (const text of [run.name, run.status, run.dataset ?? "", run.architecture ?? "", String(run.epochs),
      held === undefined ? "" : `${(100 * held).toFixed(2)}%`,
      run.test_accuracy == null ? "" : `${(100 * run.test_accuracy).toFixed(2)}%`]) {
      row.append(el("td", {}, text));
    }
    row.addEventListener("click", () => openRun(run.name));
    body.append(row);
  }
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
      box.append(el("img", { alt: file, src: `/api/runs/${encodeURIComponent(name)}/files/${file}` }));
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
  } catch (e) { showError(e); }
  loadRuns();
})();
