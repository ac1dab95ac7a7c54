//! The playground's sessions: each browser tab trains its own small network on a toy data
//! set with the scalar engine's tape (`scalar::PlaneClassifier`), one request per few steps.
//! Sessions are few (`MAX_SESSIONS`), small (every size is bounded) and expire when idle.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use scratchgrad::array::Rng;
use scratchgrad::scalar::{
    LabelledPoint, PlaneActivation, PlaneClassifier, PlaneLoss, Tape, ToyData,
};
use serde_json::{json, Value};

use super::http::{blocking, ApiError};
use super::AppState;

/// The most sessions alive at once.
pub const MAX_SESSIONS: usize = 16;
/// A session unused this long is dropped.
const IDLE: Duration = Duration::from_secs(10 * 60);
/// The most points a data set starts with, and the most it may hold with clicked ones.
const MAX_GENERATED: usize = 500;
const MAX_POINTS: usize = 1000;
/// The most hidden layers, and the widest.
const MAX_LAYERS: usize = 6;
const MAX_WIDTH: usize = 32;
/// The most steps one request trains, and the longest it may take.
const MAX_STEPS: usize = 100;
const STEP_BUDGET: Duration = Duration::from_millis(250);
/// The history of (step, loss, accuracy) kept per session.
const MAX_HISTORY: usize = 2000;
/// Cells per side of the decision map, and of each neuron's map.
const MAP_SIDE: usize = 40;
const NEURON_MAP_SIDE: usize = 20;

/// What a session trains and how: the data set, the network, the loss and optimiser.
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    data: ToyData,
    points: usize,
    noise: f64,
    seed: u64,
    hidden: Vec<usize>,
    activation: PlaneActivation,
    loss: PlaneLoss,
    lr: f64,
    l2: f64,
    batch: usize,
}

impl Settings {
    /// Defaults (micrograd's demo: moons, 100 points, 2-16-16-1, max-margin; tanh at lr 0.3,
    /// which separates the moons within 200 full-batch steps) overridden by whatever `body`
    /// gives, each checked.
    fn from_json(body: &Value, base: Option<&Settings>) -> Result<Settings, ApiError> {
        let mut s = base.cloned().unwrap_or(Settings {
            data: ToyData::Moons,
            points: 100,
            noise: 0.1,
            seed: 0,
            hidden: vec![16, 16],
            activation: PlaneActivation::Tanh,
            loss: PlaneLoss::MaxMargin,
            lr: 0.3,
            l2: 1e-4,
            batch: 100,
        });
        if !body.is_object() {
            return Err(ApiError::bad("the settings must be a JSON object"));
        }
        let number = |key: &str, low: f64, high: f64| -> Result<Option<f64>, ApiError> {
            match &body[key] {
                Value::Null => Ok(None),
                v => v
                    .as_f64()
                    .filter(|x| (low..=high).contains(x))
                    .map(Some)
                    .ok_or_else(|| {
                        ApiError::bad(format!("`{key}` must be a number from {low} to {high}"))
                    }),
            }
        };
        let named = |key: &str| body[key].as_str().map(str::to_string);
        if let Some(d) = named("data") {
            s.data = d.parse().map_err(ApiError::bad)?;
        }
        if let Some(a) = named("activation") {
            s.activation = a.parse().map_err(ApiError::bad)?;
        }
        if let Some(l) = named("loss") {
            s.loss = l.parse().map_err(ApiError::bad)?;
        }
        if let Some(n) = number("points", 2.0, MAX_GENERATED as f64)? {
            s.points = n as usize;
        }
        if let Some(n) = number("noise", 0.0, 1.0)? {
            s.noise = n;
        }
        if let Some(n) = number("seed", 0.0, 1e15)? {
            s.seed = n as u64;
        }
        if let Some(n) = number("lr", 1e-6, 10.0)? {
            s.lr = n;
        }
        if let Some(n) = number("l2", 0.0, 1.0)? {
            s.l2 = n;
        }
        if let Some(n) = number("batch", 1.0, MAX_POINTS as f64)? {
            s.batch = n as usize;
        }
        match &body["hidden"] {
            Value::Null => {}
            Value::Array(widths) => {
                let widths: Option<Vec<usize>> = widths
                    .iter()
                    .map(|w| {
                        w.as_u64()
                            .filter(|&w| (1..=MAX_WIDTH as u64).contains(&w))
                            .map(|w| w as usize)
                    })
                    .collect();
                s.hidden = widths.filter(|w| w.len() <= MAX_LAYERS).ok_or_else(|| {
                    ApiError::bad(format!(
                        "`hidden` must list at most {MAX_LAYERS} widths, each 1 to {MAX_WIDTH}"
                    ))
                })?;
            }
            _ => {
                return Err(ApiError::bad(
                    "`hidden` must be a list of widths, e.g. [16, 16]",
                ))
            }
        }
        Ok(s)
    }

    fn to_json(&self) -> Value {
        json!({
            "data": self.data.to_string(), "points": self.points, "noise": self.noise,
            "seed": self.seed, "hidden": self.hidden, "activation": self.activation.to_string(),
            "loss": self.loss.to_string(), "lr": self.lr, "l2": self.l2, "batch": self.batch,
        })
    }

    /// True when `other` asks for the same points.
    fn same_data(&self, other: &Settings) -> bool {
        (self.data, self.points, self.noise, self.seed)
            == (other.data, other.points, other.noise, other.seed)
    }
}

/// One tab's playground.
struct Session {
    settings: Settings,
    points: Vec<LabelledPoint>,
    net: PlaneClassifier,
    tape: Tape,
    /// Draws each step's mini-batch.
    rng: Rng,
    step: usize,
    /// (step, loss, accuracy) on all the points, after each step.
    history: Vec<[f64; 3]>,
    last_used: Instant,
}

impl Session {
    fn new(settings: Settings) -> Session {
        let points = settings.data.generate(
            settings.points,
            settings.noise,
            &mut Rng::seed(settings.seed),
        );
        let mut session = Session {
            net: PlaneClassifier::new(
                &settings.hidden,
                settings.activation,
                &mut Rng::stream(settings.seed, 1),
            ),
            rng: Rng::stream(settings.seed, 2),
            settings,
            points,
            tape: Tape::new(),
            step: 0,
            history: Vec::new(),
            last_used: Instant::now(),
        };
        session.record();
        session
    }

    /// A new network (and new points, if the data settings changed), keeping clicked
    /// points when the data stays.
    fn reset(&mut self, settings: Settings) {
        let points = std::mem::take(&mut self.points);
        let same = self.settings.same_data(&settings);
        *self = Session::new(settings);
        if same {
            self.points = points;
            self.history.clear();
            self.record();
        }
    }

    fn record(&mut self) {
        let (loss, accuracy) = self.net.evaluate(&self.points, self.settings.loss);
        self.history.push([self.step as f64, loss, accuracy]);
        if self.history.len() > MAX_HISTORY {
            // Keep every other point: the curve keeps its shape in bounded memory.
            let mut i = 0;
            self.history.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
    }

    /// Up to `steps` steps of mini-batch gradient descent, within `STEP_BUDGET`.
    fn train(&mut self, steps: usize) {
        let started = Instant::now();
        let mut batch = Vec::with_capacity(self.settings.batch);
        for _ in 0..steps {
            batch.clear();
            if self.settings.batch >= self.points.len() {
                batch.extend_from_slice(&self.points);
            } else {
                batch.extend(
                    (0..self.settings.batch)
                        .map(|_| self.points[self.rng.below(self.points.len())]),
                );
            }
            let (_, gradient) =
                self.net
                    .gradient(&batch, self.settings.loss, self.settings.l2, &mut self.tape);
            self.net.sgd_step(&gradient, self.settings.lr);
            self.step += 1;
            self.record();
            if started.elapsed() > STEP_BUDGET {
                break;
            }
        }
    }

    /// What the page draws: the points, the curves since step `since`, the decision map and
    /// every hidden neuron's map (values scaled to -100..100).
    fn state(&self, id: &str, since: Option<f64>) -> Value {
        let view = self.settings.data.view();
        let grid = |side: usize| -> Vec<[f64; 2]> {
            (0..side * side)
                .map(|k| {
                    let (row, col) = (k / side, k % side);
                    let x = view[0] + (view[1] - view[0]) * (col as f64 + 0.5) / side as f64;
                    let y = view[3] - (view[3] - view[2]) * (row as f64 + 0.5) / side as f64;
                    [x, y]
                })
                .collect()
        };
        let boundary: Vec<i64> = grid(MAP_SIDE)
            .into_iter()
            .map(|p| (100.0 * self.net.forward(p).0.tanh()).round() as i64)
            .collect();
        let cells: Vec<Vec<f64>> = grid(NEURON_MAP_SIDE)
            .into_iter()
            .map(|p| self.net.forward(p).1)
            .collect();
        let neurons: Vec<Vec<i64>> = (0..cells.first().map_or(0, Vec::len))
            .map(|n| {
                let largest = cells.iter().map(|c| c[n].abs()).fold(1e-12, f64::max);
                cells
                    .iter()
                    .map(|c| (100.0 * c[n] / largest).round() as i64)
                    .collect()
            })
            .collect();
        let history: Vec<&[f64; 3]> = self
            .history
            .iter()
            .filter(|h| since.is_none_or(|s| h[0] > s))
            .collect();
        let last = self.history.last().copied().unwrap_or([0.0; 3]);
        json!({
            "id": id,
            "settings": self.settings.to_json(),
            "step": self.step,
            "loss": last[1],
            "accuracy": last[2],
            "view": view,
            "points": self.points.iter().map(|(p, label)| [p[0], p[1], *label]).collect::<Vec<_>>(),
            "history": history,
            "boundary": { "side": MAP_SIDE, "values": boundary },
            "neurons": { "side": NEURON_MAP_SIDE, "widths": self.settings.hidden, "values": neurons },
            "parameters": self.net.parameters().len(),
        })
    }
}

/// Every live session, by id.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Arc<Mutex<Session>>>>);

impl Sessions {
    /// How often idle sessions are looked for (by [`Sessions::drop_idle`], from a task the
    /// server starts).
    pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

    /// Drops the sessions unused for longer than `IDLE` at `now`; returns how many are left.
    pub fn drop_idle(&self, now: Instant) -> usize {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // A session busy with a request is in use, not idle.
        map.retain(|_, s| {
            s.try_lock()
                .map_or(true, |s| now.saturating_duration_since(s.last_used) < IDLE)
        });
        map.len()
    }

    fn insert(&self, session: Session) -> Result<String, ApiError> {
        self.drop_idle(Instant::now());
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_SESSIONS {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{MAX_SESSIONS} playgrounds are open: close another tab (an idle one closes after {} minutes)", IDLE.as_secs() / 60),
            ));
        }
        let id = new_id();
        map.insert(id.clone(), Arc::new(Mutex::new(session)));
        Ok(id)
    }

    fn get(&self, id: &str) -> Result<Arc<Mutex<Session>>, ApiError> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such playground (it expired or was closed): reload the page",
            )
        })
    }

    fn remove(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// 128 unpredictable bits as hex: `RandomState` is keyed from the operating system's
/// randomness.
fn new_id() -> String {
    let word = || {
        let mut h = RandomState::new().build_hasher();
        h.write_u8(0);
        h.finish()
    };
    format!("{:016x}{:016x}", word(), word())
}

type Body = Result<Json<Value>, JsonRejection>;

/// Runs `work` on the session `id` on a blocking thread and answers with its state.
async fn with_session(
    state: &AppState,
    id: String,
    since: Option<f64>,
    work: impl FnOnce(&mut Session) -> Result<(), ApiError> + Send + 'static,
) -> Result<Json<Value>, ApiError> {
    let session = state.playgrounds.get(&id)?;
    blocking(move || {
        let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
        s.last_used = Instant::now();
        work(&mut s)?;
        Ok(Json(s.state(&id, since)))
    })
    .await
}

/// `POST /api/playground {settings}`: a new session.
pub async fn create(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let settings = Settings::from_json(&body, None)?;
    let session = blocking(move || Ok(Session::new(settings))).await?;
    let id = state.playgrounds.insert(session)?;
    with_session(&state, id, None, |_| Ok(())).await
}

/// `GET /api/playground/{id}`: the whole state.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    with_session(&state, id, None, |_| Ok(())).await
}

/// `POST /api/playground/{id}/train {"steps": N, "since": STEP}`: N steps (1 to 100, fewer
/// if they take over 250 ms); the curves only after step `since`.
pub async fn train(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let steps = body["steps"]
        .as_u64()
        .filter(|&n| (1..=MAX_STEPS as u64).contains(&n))
        .ok_or_else(|| ApiError::bad(format!("`steps` must be 1 to {MAX_STEPS}")))?
        as usize;
    let since = body["since"].as_f64();
    with_session(&state, id, since, move |s| {
        s.train(steps);
        Ok(())
    })
    .await
}

/// `POST /api/playground/{id}/settings {lr, l2, batch, loss}`: changes that keep the network.
pub async fn settings(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    with_session(&state, id, None, move |s| {
        let new = Settings::from_json(&body, Some(&s.settings))?;
        let same_network =
            (&new.hidden, new.activation) == (&s.settings.hidden, s.settings.activation);
        if !s.settings.same_data(&new) || !same_network {
            return Err(ApiError::bad(
                "the data set and the network change only with reset",
            ));
        }
        s.settings = new;
        Ok(())
    })
    .await
}

/// `POST /api/playground/{id}/reset {settings}`: a new network (new points if the data
/// settings changed).
pub async fn reset(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    with_session(&state, id, None, move |s| {
        let new = Settings::from_json(&body, Some(&s.settings))?;
        s.reset(new);
        Ok(())
    })
    .await
}

/// `POST /api/playground/{id}/points {"add": [x, y, label]}` or `{"remove": INDEX}`.
pub async fn points(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    with_session(&state, id, None, move |s| {
        if let Some(index) = body["remove"].as_u64() {
            let index = usize::try_from(index)
                .ok()
                .filter(|&i| i < s.points.len())
                .ok_or_else(|| {
                    ApiError::bad(format!(
                        "there is no point {index} (there are {})",
                        s.points.len()
                    ))
                })?;
            s.points.remove(index);
        } else if let Some([x, y, label]) = body["add"].as_array().map(Vec::as_slice) {
            let view = s.settings.data.view();
            let (x, y, label) = (x.as_f64(), y.as_f64(), label.as_f64());
            let point = match (x, y, label) {
                (Some(x), Some(y), Some(label))
                    if (view[0]..=view[1]).contains(&x)
                        && (view[2]..=view[3]).contains(&y)
                        && (label == 1.0 || label == -1.0) =>
                {
                    ([x, y], label)
                }
                _ => {
                    return Err(ApiError::bad(format!(
                        "`add` must be [x, y, label] inside the view {view:?}, label 1 or -1"
                    )))
                }
            };
            if s.points.len() >= MAX_POINTS {
                return Err(ApiError::bad(format!(
                    "the data set already holds {MAX_POINTS} points"
                )));
            }
            s.points.push(point);
        } else {
            return Err(ApiError::bad(
                "give `add`: [x, y, label] or `remove`: index",
            ));
        }
        // The curve's last point is now about other data: measure it again.
        s.history.pop();
        s.record();
        Ok(())
    })
    .await
}

/// `DELETE /api/playground/{id}` (or `POST .../close`, for a closing tab's beacon).
pub async fn close(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> StatusCode {
    state.playgrounds.remove(&id);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_sessions_are_dropped_without_waiting_for_a_new_one() {
        // Once, idle sessions were dropped only when another was created: an abandoned tab
        // kept its network in memory for as long as nobody opened a playground.
        let sessions = Sessions::default();
        let settings = Settings::from_json(&json!({}), None).unwrap();
        let kept = sessions.insert(Session::new(settings.clone())).unwrap();
        let idle = sessions.insert(Session::new(settings)).unwrap();
        // Eleven minutes from now, the kept one having been used then.
        let later = Instant::now() + IDLE + Duration::from_secs(60);
        sessions.get(&kept).unwrap().lock().unwrap().last_used = later;
        assert_eq!(sessions.drop_idle(later), 1);
        assert!(sessions.get(&kept).is_ok());
        assert!(sessions.get(&idle).is_err());
    }
}
