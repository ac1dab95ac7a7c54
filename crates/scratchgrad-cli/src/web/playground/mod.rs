//! The playground's sessions: each browser tab trains its own small network on a toy data
//! set with the scalar engine's tape (`scalar::PlaneNet`), one request per few steps.
//! Sessions are few (`MAX_SESSIONS`), small (every size is bounded) and expire when idle.

mod session;
mod settings;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::graph::{MAX_EXPRESSION_CHARS, MAX_NAMES};
use super::http::{blocking, ApiError};
use super::AppState;
use session::{Session, MAX_STEPS};
use settings::{Settings, MAX_POINTS};

/// The most sessions alive at once.
pub const MAX_SESSIONS: usize = 16;
/// A session unused this long is dropped.
const IDLE: Duration = Duration::from_secs(10 * 60);

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

/// The step from which a request wants the curves (`"since"`: the last step the page has).
fn since(body: &Value) -> Option<f64> {
    body["since"].as_f64()
}

/// `POST /api/playground/{id}/train {"steps": N, "since": STEP}`: N steps (1 to 100, fewer
/// if they take over 250 ms).
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
    with_session(&state, id, since(&body), move |s| {
        s.train(steps);
        Ok(())
    })
    .await
}

/// `POST /api/playground/{id}/settings {lr, regularization, rate, batch, loss, since}`:
/// changes that keep the network.
pub async fn settings(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    with_session(&state, id, since(&body), move |s| {
        let new = Settings::from_json(&body, Some(&s.settings))?;
        s.change(new)
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

/// `POST /api/playground/{id}/points {"add": [x, y, label]}` or `{"remove": INDEX}` (and
/// `"since"`).
pub async fn points(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    with_session(&state, id, since(&body), move |s| {
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
            s.remove(index);
        } else if let Some([x, y, label]) = body["add"].as_array().map(Vec::as_slice) {
            let view = s.settings.data.view();
            let regression = s.settings.data.is_regression();
            let (x, y, label) = (x.as_f64(), y.as_f64(), label.as_f64());
            let fits = |label: f64| {
                if regression {
                    (-1.0..=1.0).contains(&label)
                } else {
                    label == 1.0 || label == -1.0
                }
            };
            let (at, label) = match (x, y, label) {
                (Some(x), Some(y), Some(label))
                    if (view[0]..=view[1]).contains(&x)
                        && (view[2]..=view[3]).contains(&y)
                        && fits(label) =>
                {
                    ([x, y], label)
                }
                _ => {
                    let labels = if regression {
                        "a target from -1 to 1"
                    } else {
                        "label 1 or -1"
                    };
                    return Err(ApiError::bad(format!(
                        "`add` must be [x, y, label] inside the view {view:?}, {labels}"
                    )));
                }
            };
            if s.points.len() >= MAX_POINTS {
                return Err(ApiError::bad(format!(
                    "the data set already holds {MAX_POINTS} points"
                )));
            }
            s.add(at, label);
        } else {
            return Err(ApiError::bad(
                "give `add`: [x, y, label] or `remove`: index",
            ));
        }
        Ok(())
    })
    .await
}

/// `POST /api/playground/{id}/point-graph {"index": I}`: the loss of point I as an
/// expression of the network's parameters and their values (`{"expr", "values"}`), for the
/// graph page; refused when the graph page could not take it.
pub async fn point_graph(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let session = state.playgrounds.get(&id)?;
    blocking(move || {
        let s = session.lock().unwrap_or_else(|e| e.into_inner());
        let index = body["index"].as_u64().unwrap_or(u64::MAX);
        let parameters = s.parameter_count();
        let (expr, values) = usize::try_from(index)
            .ok()
            .and_then(|i| s.point_expression(i))
            .ok_or_else(|| ApiError::bad(format!("there is no point {index}")))?;
        if values.len() > MAX_NAMES || expr.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(ApiError::bad(format!(
                "this network has {parameters} parameters: a point's graph is drawn for smaller ones (try hidden 4 or 3,3)"
            )));
        }
        let values: serde_json::Map<String, Value> =
            values.into_iter().map(|(n, v)| (n, json!(v))).collect();
        Ok(Json(json!({ "expr": expr, "values": values })))
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
        let settings = Settings::micrograds();
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
