//! What every part of the JSON API shares: the error answer (`{"error": "..."}` with a 4xx
//! status, for every error, axum's own included), the blocking pool CPU and disk work runs
//! on, the size limits, and how a run's name becomes a folder inside `--runs`.

use std::path::{Path, PathBuf};

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use scratchgrad::train::run_dir::{MODEL, SUMMARY};
use serde_json::{json, Value};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// An error answer: a status and `{"error": message, ...}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    /// An error with a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    /// A 400 whose body holds more than the message (`{"error": ..., "column": 5}`).
    pub fn bad_with(message: impl Into<String>, key: &str, value: Value) -> Self {
        let mut error = ApiError::bad(message);
        error.body[key] = value;
        error
    }

    /// A 400: the request asked for something wrong.
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    /// axum's message, its middle left out when long (the path to where a body nested
    /// 100,000 deep failed is `x[0][0]...` 128 times; the reason is at the end).
    fn from(e: JsonRejection) -> Self {
        ApiError::new(
            e.status(),
            format!(
                "the request is not the JSON expected: {}",
                scratchgrad::text::elide(&e.body_text(), 200)
            ),
        )
    }
}

/// Makes every error answer JSON, whoever made it: axum's own (a path that is not UTF-8
/// gets plain text) become `{"error": "..."}` with the same status, keeping their text.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string()
    } else {
        scratchgrad::text::elide(&text, 300)
    };
    ApiError::new(status, message).into_response()
}

/// A method that the path does not take (axum adds the `Allow` header naming those it does).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}: the Allow header names the methods it takes",
            scratchgrad::text::elide(uri.path(), 100)
        ),
    )
}

/// Any path that is not a page, an asset or an API call.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such page or API call")
}

/// Runs `work` on a blocking thread, at most one per core at a time (the others wait their
/// turn without holding a thread); a panic there becomes a 500, never a dropped connection.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    static CORES: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let cores = CORES.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(n)
    });
    let _turn = cores
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server failed on this request",
        ))
    })
}

/// The text at `key` of a request's JSON body, or a 400 naming the key.
pub fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    body[key]
        .as_str()
        .ok_or_else(|| ApiError::bad(format!("`{key}` is missing or not text")))
}

/// A run's name as the API takes it: a folder directly inside `--runs` (letters, digits,
/// `-`, `_`, `.`, not starting with `.`), never a path.
pub fn run_folder(runs: &Path, name: &str) -> Result<PathBuf, ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(ApiError::bad(format!(
            "{} is not a run's name: runs are the folders directly in the runs folder named with letters, digits, '-', '_' and '.', not starting with '.' (as /api/runs lists them)",
            scratchgrad::text::elide(&format!("{name:?}"), 42)
        )));
    }
    let folder = runs.join(name);
    if !std::fs::symlink_metadata(&folder).is_ok_and(|m| m.is_dir()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no run `{name}` in the runs folder"),
        ));
    }
    Ok(folder)
}

/// True when `name` in `folder` is a regular file (a symbolic link is not followed).
pub fn has_file(folder: &Path, name: &str) -> bool {
    std::fs::symlink_metadata(folder.join(name)).is_ok_and(|m| m.is_file())
}

/// The runs directly in `runs` that have a model, newest name first, each with its summary
/// (`null` while it trains): the language models' when `language_models`, else the image
/// classifiers'. The digits and text pages list their models from it.
pub fn runs_with_a_model(runs: &Path, language_models: bool) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(runs) {
        for entry in entries.flatten().take(10_000) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(folder) = run_folder(runs, &name) else {
                continue;
            };
            if !has_file(&folder, MODEL)
                || scratchgrad::lm::run::is_lm_run(&folder) != language_models
            {
                continue;
            }
            let summary: Value = scratchgrad::files::read_in_folder(&folder, SUMMARY, 1 << 20)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            found.push((name, summary));
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found
}
