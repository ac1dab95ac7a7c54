//! The runs in `--runs`, as the dashboard lists and opens them: each folder's metrics
//! (`metrics.jsonl`), its summary when it finished, and its pictures. Read only; names are
//! checked (`http::run_folder`) and files read as regular files within a size limit.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scratchgrad::files::read_in_folder;
use scratchgrad::train::run_dir::{CHECKPOINT, METRICS, SUMMARY};
use scratchgrad::train::EpochMetrics;
use serde_json::{json, Value};

use super::http::{blocking, has_file, run_folder, ApiError};
use super::AppState;

/// The pictures a run may have, and their types.
pub const PICTURES: [(&str, &str); 7] = [
    ("loss.svg", "image/svg+xml"),
    ("accuracy.svg", "image/svg+xml"),
    ("confusion.png", "image/png"),
    ("predictions.png", "image/png"),
    ("mistakes.png", "image/png"),
    ("filters.png", "image/png"),
    ("feature-maps.png", "image/png"),
];
/// The most runs listed, newest first.
const MAX_LISTED: usize = 500;
/// The largest metrics file read (100,000 epochs is about 20 MB).
const MAX_METRICS_BYTES: u64 = 64 << 20;
const MAX_PICTURE_BYTES: u64 = 4 << 20;

/// Every epoch's metrics of the run in `folder` (lines that do not parse are skipped).
fn metrics(folder: &Path) -> Vec<EpochMetrics> {
    let Ok(bytes) = read_in_folder(folder, METRICS, MAX_METRICS_BYTES) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter_map(|v: Value| EpochMetrics::from_json(&v))
        .collect()
}

fn summary(folder: &Path) -> Option<Value> {
    let bytes = read_in_folder(folder, SUMMARY, 1 << 20).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What a run is now: training (here, from the dashboard), finished (it has its summary),
/// stopped (a checkpoint to resume) or empty.
fn status(state: &AppState, name: &str, folder: &Path) -> &'static str {
    if state.dashboard.is_training(name) {
        "training"
    } else if has_file(folder, SUMMARY) {
        "finished"
    } else if has_file(folder, CHECKPOINT) {
        "stopped"
    } else {
        "empty"
    }
}

/// One run's line in the list.
fn describe(state: &AppState, name: &str, folder: &Path) -> Value {
    let history = metrics(folder);
    let summary = summary(folder);
    let config = summary.as_ref().map(|s| s["config"].clone());
    let arch = config
        .as_ref()
        .and_then(|c| scratchgrad::arch::Architecture::from_json(&c["architecture"]).ok());
    json!({
        "name": name,
        "status": status(state, name, folder),
        "epochs": history.len(),
        "last": history.last().map(EpochMetrics::to_json),
        "dataset": config.as_ref().map(|c| c["dataset"].clone()),
        "architecture": arch.map(|a| a.describe()),
        "test_accuracy": summary.as_ref().map(|s| s["test"]["accuracy"].clone()),
    })
}

/// The most epochs `GET /api/runs/{name}` sends: a curve has no more points to show.
const MAX_SHOWN_EPOCHS: usize = 2000;

/// At most `most` of `epochs`, evenly spread, the last one always kept.
fn thinned(epochs: Vec<EpochMetrics>, most: usize) -> Vec<EpochMetrics> {
    let every = epochs.len().div_ceil(most.max(1)).max(1);
    let last = epochs.len().saturating_sub(1);
    epochs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (last - i).is_multiple_of(every))
        .map(|(_, m)| m)
        .collect()
}

/// `GET /api/runs`: the runs in `--runs`, newest first.
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let mut names: Vec<String> = std::fs::read_dir(&state.runs)
            .map(|entries| {
                entries
                    .flatten()
                    .take(100_000)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort_unstable_by(|a, b| b.cmp(a));
        let runs: Vec<Value> = names
            .iter()
            .filter_map(|name| run_folder(&state.runs, name).ok().map(|f| (name, f)))
            .filter(|(_, folder)| has_file(folder, METRICS))
            .take(MAX_LISTED)
            .map(|(name, folder)| describe(&state, name, &folder))
            .collect();
        Ok(Json(
            json!({ "runs_folder": state.runs.display().to_string(), "runs": runs }),
        ))
    })
    .await
}

/// `GET /api/runs/{name}`: a run's every epoch, its summary, and which pictures it has.
pub async fn show(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let folder = run_folder(&state.runs, &name)?;
        let mut run = describe(&state, &name, &folder);
        run["metrics"] = thinned(metrics(&folder), MAX_SHOWN_EPOCHS)
            .iter()
            .map(EpochMetrics::to_json)
            .collect();
        run["summary"] = summary(&folder).unwrap_or(Value::Null);
        run["pictures"] = PICTURES
            .iter()
            .filter(|(file, _)| has_file(&folder, file))
            .map(|(file, _)| json!(file))
            .collect();
        Ok(Json(run))
    })
    .await
}

/// `GET /api/runs/{name}/files/{file}`: one of a run's pictures (nothing else).
pub async fn file(
    State(state): State<Arc<AppState>>,
    UrlPath((name, file)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (file, kind) = *PICTURES
        .iter()
        .find(|(f, _)| *f == file)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such picture"))?;
    blocking(move || {
        let folder = run_folder(&state.runs, &name)?;
        let bytes = read_in_folder(&folder, file, MAX_PICTURE_BYTES)
            .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, format!("{name}/{file}: {e}")))?;
        Ok((
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
                // A hand-edited SVG opened on its own runs nothing.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_is_sent_as_at_most_two_thousand_epochs_ending_with_its_last() {
        // A 400,000-epoch metrics file was sent whole: 59 MB per request.
        let epoch = |e: usize| EpochMetrics {
            epoch: e,
            train_loss: 1.0,
            train_accuracy: 0.5,
            held_out: scratchgrad::train::HeldOut::Test,
            loss: 1.0,
            accuracy: 0.5,
            seconds: 0.1,
        };
        let shown = thinned((1..=400_000).map(epoch).collect(), MAX_SHOWN_EPOCHS);
        assert!(shown.len() <= MAX_SHOWN_EPOCHS && shown.len() > MAX_SHOWN_EPOCHS / 2);
        assert_eq!(shown.last().unwrap().epoch, 400_000);
        let few = thinned((1..=7).map(epoch).collect(), MAX_SHOWN_EPOCHS);
        assert_eq!(few.len(), 7);
    }
}
