//! The text page's calls: the language models in `--runs` (`/api/text/models`) and, for a
//! text so far, what the model makes of the next character (`/api/text/next`): its
//! probabilities, the window it reads and, for a GPT, every head's attention over that window.

use std::path::Path;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use scratchgrad::files::read_in_folder;
use scratchgrad::lm::sample::probabilities;
use scratchgrad::lm::{start_tokens, LmFile};
use scratchgrad::model_files::MAX_MODEL_BYTES;
use scratchgrad::train::run_dir::MODEL;
use serde_json::{json, Value};

use super::http::{blocking, run_folder, runs_with_a_model, text, ApiError};
use super::AppState;

/// The longest text a request may carry (the model reads only its last context anyway).
pub const MAX_TEXT_CHARS: usize = 10_000;

/// `GET /api/text/models`: the language-model runs in `--runs` that have a model, newest
/// first.
pub async fn models(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let runs = state.runs.clone();
    blocking(move || Ok(Json(list_models(&runs)))).await
}

fn list_models(runs: &Path) -> Value {
    let found: Vec<Value> = runs_with_a_model(runs, true)
        .into_iter()
        .map(|(name, summary)| {
            json!({
                "name": name,
                "finished": !summary.is_null(),
                "corpus": summary["corpus"],
                "architecture": summary["describe"],
                "test_loss": summary["test_loss"],
            })
        })
        .collect();
    json!({ "runs": runs.display().to_string(), "models": found })
}

/// `POST /api/text/next {"model": RUN, "text": TEXT}`: the characters the model knows (a
/// line's end shown as `.`), the probability it gives each to come after `text`, the window it
/// reads (its last context, padded as `sample` pads it), and for a GPT `attention[block][head]`,
/// each `[time][time]`.
pub async fn next(
    State(state): State<Arc<AppState>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = payload?;
    let name = text(&body, "model")?.to_string();
    let written = text(&body, "text")?.to_string();
    if written.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad(format!(
            "`text` is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    blocking(move || {
        let folder = run_folder(&state.runs, &name)?;
        let unusable = |e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e);
        let shown = format!("{name}/{MODEL}");
        let bytes = read_in_folder(&folder, MODEL, MAX_MODEL_BYTES)
            .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, format!("{shown} {e}")))?;
        let file = LmFile::decode(&bytes, &shown).map_err(|e| unusable(e.to_string()))?;
        drop(bytes);
        let vocabulary = &file.vocabulary;
        let tokens = vocabulary.encode(&written).map_err(|c| {
            ApiError::bad(format!(
                "`text` holds {c:?}, which the model never saw (it knows {:?})",
                vocabulary.chars()
            ))
        })?;
        if vocabulary.has_boundary() && tokens.contains(&0) {
            return Err(ApiError::bad(
                "`text` holds `.`, which marks where a name ends: the model writes one name",
            ));
        }
        let mut model = file.model();
        // Running statistics for batch norm, no dropout: one window is not a batch.
        model.set_training(false);
        let all = start_tokens(file.arch, vocabulary, &tokens);
        let window = &all[all.len().saturating_sub(file.arch.context())..];
        let scores = model.next_scores(window);
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(unusable(format!(
                "the model of `{name}` gives scores that are not finite numbers; it cannot be used"
            )));
        }
        let probabilities = probabilities(&scores);
        let chars: Vec<String> = (0..vocabulary.len())
            .map(|t| vocabulary.decode(&[t]))
            .collect();
        let attention: Vec<Vec<Vec<Vec<f32>>>> = model
            .attention(window)
            .iter()
            .map(|heads| {
                heads
                    .iter()
                    .map(|w| w.data().chunks(window.len()).map(<[f32]>::to_vec).collect())
                    .collect()
            })
            .collect();
        Ok(Json(json!({
            "model": name,
            "architecture": file.arch.describe(),
            "corpus": file.corpus.to_string(),
            "lines": vocabulary.has_boundary(),
            "chars": chars,
            "probabilities": probabilities,
            "window": window.iter().map(|&t| vocabulary.decode(&[t])).collect::<Vec<_>>(),
            "attention": attention,
        })))
    })
    .await
}
