//! A dashboard run's live record, which pages follow: every event kept briefly (for a page
//! that reconnects after missing a few), and what a page that opens needs to draw the run so
//! far (its snapshot); the server-sent event stream that sends them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::http::ApiError;
use super::AppState;

/// The latest events kept for a page that reconnects (one that missed more gets a snapshot).
const RECENT_EVENTS: usize = 1_000;
/// The most epochs a snapshot holds; beyond, every other one is forgotten (the whole history
/// stays in the run's metrics.jsonl).
const MAX_EPOCH_POINTS: usize = 2_000;

/// Where a run is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Status {
    /// Loading data (fetching it, the first time), making the folder.
    Starting,
    Training,
    Finished,
    Stopped,
    Failed,
}

impl Status {
    pub(super) fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Training => "training",
            Status::Finished => "finished",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
        }
    }

    pub(super) fn active(self) -> bool {
        matches!(self, Status::Starting | Status::Training)
    }
}

/// What the dashboard knows of its run, shared by the training thread and the pages.
pub(super) struct LiveRun {
    /// The command line the run is equivalent to.
    pub(super) command: String,
    pub(super) stop: AtomicBool,
    pub(super) inner: Mutex<Inner>,
    /// Bumped after every event, so that waiting pages wake.
    pub(super) changed: watch::Sender<u64>,
    pub(super) thread: Mutex<Option<JoinHandle<()>>>,
}

pub(super) struct Inner {
    pub(super) status: Status,
    /// The run's folder name in `--runs`, once made.
    pub(super) name: Option<String>,
    /// What a page that connects needs to draw the run so far (the snapshot): its start
    /// event, its epochs (a resumed run's earlier ones included; at most
    /// [`MAX_EPOCH_POINTS`]), its latest progress and its end.
    pub(super) start: Option<Value>,
    pub(super) epochs: Vec<Value>,
    pub(super) last_batch: Option<Value>,
    /// The latest probe of the network's health, and the update-size samples so far (at
    /// most [`MAX_EPOCH_POINTS`]).
    pub(super) health: Option<Value>,
    pub(super) ratios: Vec<Value>,
    pub(super) end: Option<Value>,
    /// The latest events, `(sequence number, event)` oldest first, for a page that
    /// reconnects after missing a few.
    pub(super) recent: VecDeque<(u64, Value)>,
    /// The next event's sequence number (the first is 1).
    pub(super) next: u64,
    /// The latest live pictures, PNG.
    pub(super) pictures: Vec<(&'static str, Vec<u8>)>,
}

/// Pushes `event`, keeping every other one when there are more than [`MAX_EPOCH_POINTS`].
fn add_thinned(events: &mut Vec<Value>, event: Value) {
    events.push(event);
    if events.len() > MAX_EPOCH_POINTS {
        let mut odd = false;
        events.retain(|_| {
            odd = !odd;
            odd
        });
    }
}

impl Inner {
    pub(super) fn new() -> Inner {
        Inner {
            status: Status::Starting,
            name: None,
            start: None,
            epochs: Vec::new(),
            last_batch: None,
            health: None,
            ratios: Vec::new(),
            end: None,
            recent: VecDeque::new(),
            next: 1,
            pictures: Vec::new(),
        }
    }

    /// Adds an epoch to the snapshot, thinning to every other one when there are too many.
    pub(super) fn add_epoch(&mut self, event: Value) {
        add_thinned(&mut self.epochs, event);
    }

    /// Everything so far as one event: what a page that connects (or missed more than the
    /// recent events) starts from.
    pub(super) fn snapshot(&self) -> Value {
        json!({
            "type": "snapshot", "start": self.start, "epochs": self.epochs,
            "batch": self.last_batch, "health": self.health, "ratios": self.ratios,
            "end": self.end,
        })
    }
}

impl LiveRun {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn push(&self, event: Value) {
        let mut inner = self.lock();
        let seq = inner.next;
        inner.next += 1;
        match event["type"].as_str() {
            Some("start") => inner.start = Some(event.clone()),
            Some("epoch") => inner.add_epoch(event.clone()),
            Some("batch") => inner.last_batch = Some(event.clone()),
            Some("health") => inner.health = Some(event.clone()),
            Some("ratios") => add_thinned(&mut inner.ratios, event.clone()),
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

    pub(super) fn summary(&self) -> Value {
        let inner = self.lock();
        json!({
            "run": inner.name,
            "status": inner.status.name(),
            // Why it ended (a failure's reason), once it has.
            "message": inner.end.as_ref().and_then(|end| end.get("message")).cloned(),
            "command": self.command,
            "pictures": inner.pictures.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        })
    }

    /// What a page that has seen the events up to `after` gets next: the first later event
    /// (found by binary search), or, when it has seen nothing yet or missed events no longer
    /// kept, a snapshot of everything so far. `None` when there is nothing new yet.
    pub(super) fn next_for(&self, after: Option<u64>) -> Option<(u64, Value)> {
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
    let permit = Arc::clone(&state.event_streams)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many pages are following the run; close one and reload",
            )
        })?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let changes = run.changed.subscribe();
    let closing = state.closing.subscribe();
    let events = stream::unfold(
        (run, changes, closing, after, false, permit),
        |(run, mut changes, mut closing, after, ended, permit)| async move {
            if ended {
                return None;
            }
            loop {
                if let Some((seq, event)) = run.next_for(after) {
                    let ended = event["type"] == "end" || !event["end"].is_null();
                    let sse = Event::default().id(seq.to_string()).data(event.to_string());
                    let state = (run, changes, closing, Some(seq), ended, permit);
                    return Some((Ok(sse), state));
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
