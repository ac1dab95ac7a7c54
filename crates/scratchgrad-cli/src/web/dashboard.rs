//! The training dashboard's live run: the page's settings become the library's
//! `train::Settings`, and the run is a `train::Session` (so it writes the same files into
//! `--runs` as `train` does), one at a time, on its own thread; every few steps and every
//! epoch become events that any number of pages follow (server-sent events: a snapshot for a
//! page that opens or reloads, then live); Stop stops the run after its step (and a download
//! under way), and Resume continues a run from its last complete epoch.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use scratchgrad::data::{load_splits, Split};
use scratchgrad::io::read_in_folder;
use scratchgrad::report::{confusion_png, encode_png};
use scratchgrad::train::run_dir::{CHECKPOINT, METRICS};
use scratchgrad::train::{
    first_layer_picture, predictions_picture, EpochMetrics, EpochReport, Finished, Folder, HeldOut,
    Observer, Session, SessionError, Settings, TrainConfig, TrainError,
};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::api::{run_folder, ApiError};
use super::AppState;
/// Progress events per epoch (besides the epoch's own).
const BATCH_EVENTS_PER_EPOCH: usize = 10;
/// The latest events kept for a page that reconnects (one that missed more gets a snapshot).
const RECENT_EVENTS: usize = 1_000;
/// The most epochs a snapshot holds; beyond, every other one is forgotten (the whole history
/// stays in the run's metrics.jsonl).
const MAX_EPOCH_POINTS: usize = 2_000;

/// Where a run is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    /// Loading data (fetching it, the first time), making the folder.
    Starting,
    Training,
    Finished,
    Stopped,
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Training => "training",
            Status::Finished => "finished",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
        }
    }

    fn active(self) -> bool {
        matches!(self, Status::Starting | Status::Training)
    }
}

/// What the dashboard knows of its run, shared by the training thread and the pages.
struct LiveRun {
    /// The command line the run is equivalent to.
    command: String,
    stop: AtomicBool,
    inner: Mutex<Inner>,
    /// Bumped after every event, so that waiting pages wake.
    changed: watch::Sender<u64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    status: Status,
    /// The run's folder name in `--runs`, once made.
    name: Option<String>,
    /// What a page that connects needs to draw the run so far (the snapshot): its start
    /// event, its epochs (a resumed run's earlier ones included; at most
    /// [`MAX_EPOCH_POINTS`]), its latest progress and its end.
    start: Option<Value>,
    epochs: Vec<Value>,
    last_batch: Option<Value>,
    end: Option<Value>,
    /// The latest events, `(sequence number, event)` oldest first, for a page that
    /// reconnects after missing a few.
    recent: VecDeque<(u64, Value)>,
    /// The next event's sequence number (the first is 1).
    next: u64,
    /// The latest live pictures, PNG.
    pictures: Vec<(&'static str, Vec<u8>)>,
}

impl Inner {
    fn new() -> Inner {
        Inner {
            status: Status::Starting,
            name: None,
            start: None,
            epochs: Vec::new(),
            last_batch: None,
            end: None,
            recent: VecDeque::new(),
            next: 1,
            pictures: Vec::new(),
        }
    }

    /// Adds an epoch to the snapshot, thinning to every other one when there are too many.
    fn add_epoch(&mut self, event: Value) {
        self.epochs.push(event);
        if self.epochs.len() > MAX_EPOCH_POINTS {
            let mut odd = false;
            self.epochs.retain(|_| {
                odd = !odd;
                odd
            });
        }
    }

    /// Everything so far as one event: what a page that connects (or missed more than the
    /// recent events) starts from.
    fn snapshot(&self) -> Value {
        json!({
            "type": "snapshot", "start": self.start, "epochs": self.epochs,
            "batch": self.last_batch, "end": self.end,
        })
    }
}

impl LiveRun {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, event: Value) {
        let mut inner = self.lock();
        let seq = inner.next;
        inner.next += 1;
        match event["type"].as_str() {
            Some("start") => inner.start = Some(event.clone()),
            Some("epoch") => inner.add_epoch(event.clone()),
            Some("batch") => inner.last_batch = Some(event.clone()),
            Some("end") => inner.end = Some(event.clone()),
            _ => {}
        }
        inner.recent.push_back((seq, event));
        if inner.recent.len() > RECENT_EVENTS {
            inner.recent.pop_front();
        }
        drop(inner);
        self.changed.send_replace(seq);
    }

    fn summary(&self) -> Value {
        let inner = self.lock();
        json!({
            "run": inner.name,
            "status": inner.status.name(),
            "command": self.command,
            "pictures": inner.pictures.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        })
    }

    /// What a page that has seen the events up to `after` gets next: the first later event
    /// (found by binary search), or, when it has seen nothing yet or missed events no longer
    /// kept, a snapshot of everything so far. `None` when there is nothing new yet.
    fn next_for(&self, after: Option<u64>) -> Option<(u64, Value)> {
        let inner = self.lock();
        let oldest_kept = inner.recent.front().map_or(inner.next, |(seq, _)| *seq);
        match after {
            Some(seen) if seen + 1 >= oldest_kept => {
                let i = inner.recent.partition_point(|(seq, _)| *seq <= seen);
                inner.recent.get(i).cloned()
            }
            _ => Some((inner.next - 1, inner.snapshot())),
        }
    }
}

/// The dashboard's one run (the last one started, kept after it ends so pages can see how).
#[derive(Default)]
pub struct Dashboard(Mutex<Option<Arc<LiveRun>>>);

impl Dashboard {
    fn current(&self) -> Option<Arc<LiveRun>> {
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
            for event in earlier {
                inner.add_epoch(event);
            }
        }
        self.run.push(json!({
            "type": "start", "run": name, "heading": heading, "command": self.run.command,
            "epochs": config.epochs, "epochs_done": epochs_done, "dataset": config.dataset.to_string(),
            "architecture": config.arch.describe(),
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
    let folder = run_folder(&state.runs, name)?;
    let epochs = match &body["epochs"] {
        Value::Null => None,
        v => Some(
            v.as_u64()
                .and_then(|e| usize::try_from(e).ok())
                .ok_or_else(|| ApiError::bad("`epochs` must be a whole number"))?,
        ),
    };
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

/// `GET /api/dashboard/pictures/{name}`: the current run's latest live picture.
pub async fn picture(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "no such picture yet");
    let run = state.dashboard.current().ok_or_else(missing)?;
    let png = run
        .lock()
        .pictures
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, png)| png.clone())
        .ok_or_else(missing)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

/// `GET /api/dashboard/events`: the current run as server-sent events: a snapshot of
/// everything so far (or, for a browser that reconnects with a recent `Last-Event-ID`, the
/// events it missed), then each event live until the run ends.
pub async fn events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let run = state.dashboard.current().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no run has started since the server did",
        )
    })?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let changes = run.changed.subscribe();
    let closing = state.closing.subscribe();
    let events = stream::unfold(
        (run, changes, closing, after, false),
        |(run, mut changes, mut closing, after, ended)| async move {
            if ended {
                return None;
            }
            loop {
                if let Some((seq, event)) = run.next_for(after) {
                    let ended = event["type"] == "end" || !event["end"].is_null();
                    let sse = Event::default().id(seq.to_string()).data(event.to_string());
                    return Some((Ok(sse), (run, changes, closing, Some(seq), ended)));
                }
                if !run.lock().status.active() || *closing.borrow() {
                    return None;
                }
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return None },
                    _ = closing.changed() => {}
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> LiveRun {
        LiveRun {
            command: "scratchgrad train".into(),
            stop: AtomicBool::new(false),
            inner: Mutex::new(Inner::new()),
            changed: watch::Sender::new(0),
            thread: Mutex::new(None),
        }
    }

    #[test]
    fn a_page_starts_from_a_snapshot_then_follows_event_by_event() {
        let live = run();
        live.push(json!({"type": "start", "epochs": 3}));
        for epoch in 1..=3 {
            for batch in 0..600 {
                live.push(json!({"type": "batch", "epoch": epoch, "batch": batch}));
            }
            live.push(json!({"type": "epoch", "epoch": epoch}));
        }
        // A new page: everything so far in one event, whose id is the latest.
        let (seq, snapshot) = live.next_for(None).unwrap();
        assert_eq!(seq, 1 + 3 * 601);
        assert_eq!(snapshot["type"], "snapshot");
        assert_eq!(snapshot["start"]["epochs"], 3);
        assert_eq!(snapshot["epochs"].as_array().unwrap().len(), 3);
        assert_eq!(snapshot["batch"]["batch"], 599);
        assert!(live.next_for(Some(seq)).is_none(), "nothing new yet");
        // A page that missed a few recent events gets exactly those, in order.
        let (next, event) = live.next_for(Some(seq - 5)).unwrap();
        assert_eq!((next, &event["batch"]), (seq - 4, &json!(596)));
        // One that missed events no longer kept gets a snapshot again.
        let (_, event) = live.next_for(Some(10)).unwrap();
        assert_eq!(event["type"], "snapshot");
        live.push(json!({"type": "end", "status": "finished"}));
        assert_eq!(live.next_for(Some(seq)).unwrap().1["type"], "end");
        assert_eq!(live.next_for(None).unwrap().1["end"]["status"], "finished");
    }

    #[test]
    fn a_long_runs_snapshot_stays_bounded() {
        // Epoch events were never pruned: 100,000 of them were replayed to every new page.
        let live = run();
        for epoch in 1..=10 * MAX_EPOCH_POINTS {
            live.push(json!({"type": "epoch", "epoch": epoch}));
        }
        let (_, snapshot) = live.next_for(None).unwrap();
        let epochs = snapshot["epochs"].as_array().unwrap();
        assert!(epochs.len() <= MAX_EPOCH_POINTS && epochs.len() >= MAX_EPOCH_POINTS / 2);
        assert_eq!(epochs[0]["epoch"], 1, "the curve keeps its start");
        assert!(live.lock().recent.len() <= RECENT_EVENTS);
    }
}
