//! The training dashboard's live run: the page's settings become the library's
//! `train::Settings`, and the run is a `train::Session` (so it writes the same files into
//! `--runs` as `train` does), one at a time, on its own thread; every few steps and every
//! epoch become events that any number of pages follow (server-sent events: a snapshot for a
//! page that opens or reloads, then live); Stop stops the run after its step (and a download
//! under way), and Resume continues a run from its last complete epoch.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scratchgrad::data::{load_splits, Split};
use scratchgrad::files::read_in_folder;
use scratchgrad::report::{confusion_png, encode_png};
use scratchgrad::train::run_dir::{CHECKPOINT, METRICS};
use scratchgrad::train::{
    first_layer_picture, predictions_picture, Diagnostics, EpochMetrics, EpochReport, Finished,
    Folder, HeldOut, Histogram, Observer, Session, SessionError, Settings, TrainConfig, TrainError,
    MAX_EPOCHS,
};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::http::{run_folder, ApiError};
use super::live::{Inner, LiveRun, Status};
use super::AppState;
/// Progress events per epoch (besides the epoch's own).
const BATCH_EVENTS_PER_EPOCH: usize = 10;
/// The dashboard's one run (the last one started, kept after it ends so pages can see how).
#[derive(Default)]
pub struct Dashboard(Mutex<Option<Arc<LiveRun>>>);

impl Dashboard {
    pub(super) fn current(&self) -> Option<Arc<LiveRun>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// True while the run named `name` trains here.
    pub fn is_training(&self, name: &str) -> bool {
        self.current().is_some_and(|run| {
            let inner = run.lock();
            inner.status.active() && inner.name.as_deref() == Some(name)
        })
    }

    /// Starts `what` on a thread of its own, unless a run is under way.
    fn launch(&self, state: &AppState, what: Launch) -> Result<Arc<LiveRun>, ApiError> {
        let mut current = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(run) = current.as_ref() {
            let inner = run.lock();
            if inner.status.active() {
                let which = match &inner.name {
                    Some(name) => format!("the run {name} is training"),
                    None => "a run is starting (loading its data)".to_string(),
                };
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("{which}: stop it (or wait for it) before starting another"),
                ));
            }
        }
        let run = Arc::new(LiveRun {
            command: what.command(),
            stop: AtomicBool::new(false),
            inner: Mutex::new(Inner::new()),
            changed: watch::Sender::new(0),
            thread: Mutex::new(None),
        });
        let for_thread = Arc::clone(&run);
        let (runs, data_dir) = (state.runs.clone(), state.data_dir.clone());
        let thread = std::thread::Builder::new()
            .name("dashboard-run".into())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    run_session(&for_thread, what, &runs, data_dir.as_deref())
                }));
                finish(&for_thread, result);
            })
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot start a thread: {e}"),
                )
            })?;
        *run.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
        *current = Some(Arc::clone(&run));
        Ok(run)
    }

    /// Stops a run under way and waits for it (the server is closing).
    pub fn stop_and_wait(&self) {
        if let Some(run) = self.current() {
            run.stop.store(true, Ordering::Relaxed);
            let thread = run.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}

/// What the dashboard was asked to run.
enum Launch {
    /// A new run: its settings (the config they make, already checked).
    New(Settings, TrainConfig),
    /// The run in this folder, continued (to a new total of epochs, if given).
    Resume(std::path::PathBuf, Option<usize>),
}

impl Launch {
    /// The `train` command line that would do the same, for the page to show.
    fn command(&self) -> String {
        let mut flags: Vec<String> = match self {
            Launch::New(settings, _) => {
                let mut given = settings.given();
                given.sort_by_key(|(key, _)| *key);
                given
                    .into_iter()
                    .map(|(key, value)| format!("--{}={value}", key.replace('_', "-")))
                    .collect()
            }
            Launch::Resume(folder, epochs) => {
                let mut flags = vec![format!("--resume={}", folder.display())];
                flags.extend(epochs.map(|e| format!("--epochs={e}")));
                flags
            }
        };
        flags.push("--quiet".into());
        format!("scratchgrad train {}", flags.join(" "))
    }
}

/// Runs what the dashboard was asked to: the session started or resumed, its data loaded
/// (fetched if missing, for as long as the run is not stopped), then trained.
fn run_session(
    run: &Arc<LiveRun>,
    what: Launch,
    runs: &Path,
    data_dir: Option<&Path>,
) -> Result<Finished, String> {
    let shown = |e: SessionError, folder: Option<&Path>| describe(&e, folder);
    let session = match what {
        Launch::New(_, config) => {
            Session::start(config, Folder::In(runs)).map_err(|e| shown(e, None))?
        }
        Launch::Resume(folder, epochs) => {
            let mut session = Session::resume(&folder).map_err(|e| shown(e, Some(&folder)))?;
            if let Some(epochs) = epochs {
                session
                    .set_epochs(epochs)
                    .map_err(|e| shown(e, Some(&folder)))?;
            }
            if session.is_finished() {
                let epochs = session.config().epochs;
                return Err(shown(SessionError::Finished { epochs }, Some(&folder)));
            }
            session
        }
    };
    let folder = session.folder().to_path_buf();
    let config = session.config().clone();
    let stop = || run.stop.load(Ordering::Relaxed);
    let splits = load_splits(
        config.dataset,
        &[Split::Train, Split::Test],
        data_dir,
        &mut |_| {},
        &stop,
    )
    .map_err(|e| {
        if stop() {
            format!(
                "stopped while fetching {}: nothing half-written was kept",
                config.dataset
            )
        } else {
            e.to_string()
        }
    })?;
    let (train_set, test_set) = (&splits[0], &splits[1]);
    session
        .check_data(train_set)
        .map_err(|e| shown(e, Some(&folder)))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let heading = session.heading(train_set, test_set, threads);
    let mut watcher = Watcher {
        run: Arc::clone(run),
        started: Instant::now(),
    };
    watcher.started(&session, &heading);
    session
        .train(train_set, test_set, threads, &mut watcher)
        .map_err(|e| shown(e, Some(&folder)))
}

/// A session's failure as the page shows it (the command line's words, since the page shows
/// the equivalent command).
fn describe(e: &SessionError, folder: Option<&Path>) -> String {
    let shown = folder.map(|f| f.display().to_string()).unwrap_or_default();
    match e {
        SessionError::Train(TrainError::Stopped { epochs_done }) if *epochs_done > 0 => {
            let plural = if *epochs_done == 1 { "" } else { "s" };
            format!("stopped after {epochs_done} complete epoch{plural}, whose checkpoint is kept in {shown}: resume with: scratchgrad train --resume {shown}")
        }
        SessionError::Train(TrainError::Stopped { .. }) => {
            "stopped before the first epoch completed, so nothing was kept".into()
        }
        SessionError::Train(TrainError::Resume(problem)) => {
            format!("cannot resume: {shown}/{CHECKPOINT} {problem}")
        }
        SessionError::Resume(e) => format!("cannot resume: {e}"),
        SessionError::Folder { resuming: true, .. } => format!("cannot resume: {e}"),
        SessionError::Finished { .. } | SessionError::FewerEpochs { .. } => {
            format!("{shown}: {e}")
        }
        e => e.to_string(),
    }
}

/// Records how the run ended.
fn finish(run: &LiveRun, result: std::thread::Result<Result<Finished, String>>) {
    let (status, message) = match result {
        Ok(Ok(finished)) => (
            Status::Finished,
            format!(
                "finished: test accuracy {:.2}%",
                finished.test_accuracy * 100.0
            ),
        ),
        Ok(Err(message)) if message.starts_with("stopped") => (Status::Stopped, message),
        Ok(Err(message)) => (Status::Failed, message),
        Err(_) => (
            Status::Failed,
            "the run failed unexpectedly (a bug in scratchgrad): see the server's output"
                .to_string(),
        ),
    };
    crate::output::errln!("dashboard run: {message}");
    // The event first: a page that sees the run has ended has had its last event.
    run.push(json!({ "type": "end", "status": status.name(), "message": message }));
    run.lock().status = status;
}

/// An epoch's event: its `metrics.jsonl` line, and which images were held out.
fn epoch_event(metrics: &EpochMetrics) -> Value {
    let mut event = metrics.to_json();
    event["type"] = json!("epoch");
    event["held_out"] = json!(match metrics.held_out {
        HeldOut::Test => "test",
        HeldOut::Validation => "validation",
    });
    event
}

/// The training thread's observer: turns progress into events and pictures.
struct Watcher {
    run: Arc<LiveRun>,
    started: Instant,
}

impl Observer for Watcher {
    fn on_batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, accuracy: f64) {
        let every = batches.div_ceil(BATCH_EVENTS_PER_EPOCH).max(1);
        if batch.is_multiple_of(every) || batch == batches {
            self.run.push(json!({
                "type": "batch", "epoch": epoch, "batch": batch, "batches": batches,
                "loss": loss, "accuracy": accuracy,
                "seconds": self.started.elapsed().as_secs_f64(),
            }));
        }
    }

    fn on_epoch(&mut self, epoch: &EpochReport<'_>) {
        let which = match epoch.metrics.held_out {
            HeldOut::Test => "test",
            HeldOut::Validation => "validation",
        };
        let names = &epoch.model.class_names;
        let mut pictures = Vec::new();
        if let Some(weights) = first_layer_picture(epoch.model) {
            pictures.push(("weights.png", weights));
        }
        pictures.push((
            "predictions.png",
            predictions_picture(epoch.held_out, epoch.held_set, names, which),
        ));
        pictures.push((
            "confusion.png",
            confusion_png(&epoch.held_out.confusion, names),
        ));
        let encoded: Vec<(&'static str, Vec<u8>)> = pictures
            .into_iter()
            .filter_map(|(name, img)| encode_png(&img).ok().map(|png| (name, png)))
            .collect();
        self.run.lock().pictures = encoded;
        let mut event = epoch_event(epoch.metrics);
        event["seconds_total"] = json!(self.started.elapsed().as_secs_f64());
        self.run.push(event);
    }

    fn should_stop(&self) -> bool {
        self.run.stop.load(Ordering::Relaxed)
    }

    fn wants_diagnostics(&self) -> bool {
        true
    }

    fn on_diagnostics(&mut self, epochs_done: usize, seen: &Diagnostics) {
        let histogram = |h: &Histogram| json!({"low": h.low, "high": h.high, "counts": h.counts});
        let activations: Vec<Value> = seen
            .activations
            .iter()
            .map(|a| {
                json!({
                    "layer": a.layer, "activation": a.activation.to_string(),
                    "histogram": histogram(&a.histogram), "saturated": a.saturated,
                })
            })
            .collect();
        let gradients: Vec<Value> = seen
            .gradients
            .iter()
            .map(|g| {
                json!({
                    "name": g.name, "histogram": histogram(&g.histogram),
                    "gradient_std": g.gradient_std, "weight_std": g.weight_std,
                })
            })
            .collect();
        self.run.push(json!({
            "type": "health", "epochs_done": epochs_done, "images": seen.images,
            "activations": activations, "gradients": gradients,
        }));
    }

    fn on_update_ratios(
        &mut self,
        epoch: usize,
        batch: usize,
        batches: usize,
        ratios: &[(String, f64)],
    ) {
        let ratios: serde_json::Map<String, Value> =
            ratios.iter().map(|(n, r)| (n.clone(), json!(r))).collect();
        self.run.push(json!({
            "type": "ratios", "epoch": epoch, "batch": batch, "batches": batches, "ratios": ratios,
        }));
    }
}

impl Watcher {
    /// The session's data is loaded and training is about to start.
    fn started(&mut self, session: &Session, heading: &str) {
        let (folder, config) = (session.folder(), session.config());
        let epochs_done = session.epochs_done();
        let name = folder.file_name().map(|n| n.to_string_lossy().into_owned());
        // A resumed run's earlier epochs, so that the snapshot draws the whole curve.
        let earlier: Vec<Value> = read_in_folder(folder, METRICS, 64 << 20)
            .map(|bytes| {
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .take(epochs_done)
                    .filter_map(|line| serde_json::from_str(line).ok())
                    .filter_map(|v: Value| EpochMetrics::from_json(&v))
                    .map(|m| epoch_event(&m))
                    .collect()
            })
            .unwrap_or_default();
        {
            let mut inner = self.run.lock();
            inner.name = name.clone();
            inner.status = Status::Training;
            for event in &earlier {
                inner.add_epoch(event.clone());
            }
        }
        // The start carries the earlier epochs too: a page that was already following (it
        // asked for the resume) has them from the start event, not only after a reload.
        self.run.push(json!({
            "type": "start", "run": name, "heading": heading, "command": self.run.command,
            "epochs": config.epochs, "epochs_done": epochs_done, "dataset": config.dataset.to_string(),
            "architecture": config.arch.describe(), "earlier": earlier,
        }));
    }
}

type Body = Result<Json<Value>, JsonRejection>;

/// `GET /api/dashboard`: the current (or last) run, if any.
pub async fn current(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "current": state.dashboard.current().map(|r| r.summary()) }))
}

/// `POST /api/dashboard/start {dataset, arch, layers, hidden, engine, epochs, lr, ...}`: a new
/// run with these settings (`train::Settings`, the preset's defaults for the rest).
pub async fn start(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let settings = Settings::from_json(&body).map_err(|e| ApiError::bad(e.to_string()))?;
    let config = settings
        .config()
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let run = state
        .dashboard
        .launch(&state, Launch::New(settings, config))?;
    Ok(Json(run.summary()))
}

/// `POST /api/dashboard/resume {"run": NAME, "epochs": N}`: the run continued from its last
/// complete epoch (to a new total of epochs, if given).
pub async fn resume(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let name = body["run"]
        .as_str()
        .ok_or_else(|| ApiError::bad("`run` must name the run to resume"))?;
    let epochs = match &body["epochs"] {
        Value::Null => None,
        v => Some(
            v.as_u64()
                .and_then(|e| usize::try_from(e).ok())
                .filter(|e| (1..=MAX_EPOCHS).contains(e))
                .ok_or_else(|| {
                    ApiError::bad(format!(
                        "`epochs` must be a whole number from 1 to {MAX_EPOCHS}"
                    ))
                })?,
        ),
    };
    let folder = run_folder(&state.runs, name)?;
    let run = state
        .dashboard
        .launch(&state, Launch::Resume(folder, epochs))?;
    Ok(Json(run.summary()))
}

/// `POST /api/dashboard/stop`: Ctrl-C for the run under way (it finishes its step and keeps
/// its last complete epoch's checkpoint).
pub async fn stop(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let run = state
        .dashboard
        .current()
        .filter(|r| r.lock().status.active())
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no run is training"))?;
    run.stop.store(true, Ordering::Relaxed);
    Ok(Json(run.summary()))
}

/// `GET /api/dashboard/pictures/{name}?run=RUN`: the current run's latest live picture; with
/// `run`, only if the current run is that one (a page never shows one run's picture as
/// another's).
pub async fn picture(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "no such picture yet");
    let run = state.dashboard.current().ok_or_else(missing)?;
    let inner = run.lock();
    if let Some(asked) = query.get("run") {
        if inner.name.as_deref() != Some(asked.as_str()) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "that run is not the dashboard's current one: its pictures are in its folder",
            ));
        }
    }
    let png = inner
        .pictures
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, png)| png.clone())
        .ok_or_else(missing)?;
    drop(inner);
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}
