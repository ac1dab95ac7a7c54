//! The JSON API the pages use (and scripts can): an expression's graph, the models in
//! `--runs`, a prediction for a drawn image. Every answer is JSON; every error is
//! `{"error": "..."}` with a 4xx status. CPU work runs on blocking threads, within limits on
//! every size a request controls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use image::{DynamicImage, GrayImage};
use scratchgrad::arch::LayerSpec;
use scratchgrad::array::Array;
use scratchgrad::data::preprocess::{mnist_style, SIDE};
use scratchgrad::io::{decode_model, read_in_folder, MAX_MODEL_BYTES};
use scratchgrad::scalar::evaluate::evaluate;
use scratchgrad::train::run_dir::{MODEL, SUMMARY};
use scratchgrad::train::{check_finite, Engine, Model};
use serde_json::{json, Value};

use super::AppState;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// The longest expression `/api/grad` evaluates.
pub const MAX_EXPRESSION_CHARS: usize = 10_000;
/// The most names an expression's values may give.
pub const MAX_NAMES: usize = 200;
/// The largest side of a drawn image.
pub const MAX_IMAGE_SIDE: usize = 1024;
/// The most bytes of weights the loaded models kept in memory may hold together (a model
/// larger than this is loaded for its request and not kept).
const CACHED_MODEL_BYTES: usize = 256 << 20;

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
    fn from(e: JsonRejection) -> Self {
        ApiError::new(
            e.status(),
            format!("the request is not the JSON expected: {}", e.body_text()),
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

fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    body[key]
        .as_str()
        .ok_or_else(|| ApiError::bad(format!("`{key}` is missing or not text")))
}

/// `POST /api/grad {"expr": "(x + y) * z", "values": {"x": -2, "y": 5, "z": -4}}`: the value,
/// the gradients, and the graph laid out (every value's data, grad, operation, inputs, local
/// derivatives and box; the backward order; the SVG).
pub async fn grad(payload: Result<Json<Value>, JsonRejection>) -> Result<Json<Value>, ApiError> {
    let Json(body) = payload?;
    let expr = text(&body, "expr")?.to_string();
    if expr.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(ApiError::bad(format!(
            "the expression is longer than {MAX_EXPRESSION_CHARS} characters"
        )));
    }
    let values: BTreeMap<String, Value> = match &body["values"] {
        Value::Null => BTreeMap::new(),
        Value::Object(map) => map.clone().into_iter().collect(),
        _ => {
            return Err(ApiError::bad(
                "`values` must be an object of numbers, e.g. {\"x\": -2}",
            ))
        }
    };
    if values.len() > MAX_NAMES {
        return Err(ApiError::bad(format!("more than {MAX_NAMES} values")));
    }
    let mut bindings = Vec::with_capacity(values.len());
    for (name, value) in values {
        let number = value.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            ApiError::bad(format!(
                "the value of `{}` is not a finite number",
                scratchgrad::text::elide(&name, 40)
            ))
        })?;
        bindings.push((name, number));
    }
    blocking(move || graph_of(&expr, &bindings)).await.map(Json)
}

fn graph_of(expr: &str, bindings: &[(String, f64)]) -> Result<Value, ApiError> {
    let result = evaluate(expr, bindings).map_err(|e| {
        let column = e
            .offset
            .map(|o| expr[..o.min(expr.len())].chars().count() + 1);
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": e.message, "column": column }),
        }
    })?;
    let picture = result.output.picture().map_err(ApiError::bad)?;
    let place = |p: &scratchgrad::scalar::Place| json!({"x": p.x, "y": p.y, "width": p.width, "height": p.height});
    let nodes: Vec<Value> = picture
        .values
        .iter()
        .enumerate()
        .map(|(id, v)| {
            json!({
                "id": id, "label": v.label, "data": v.data, "grad": v.grad, "op": v.op,
                "inputs": v.inputs, "local_grads": v.local_grads,
                "box": place(&v.at), "op_box": v.op_at.as_ref().map(place),
            })
        })
        .collect();
    // Backward visits operations from the output towards the inputs: reverse topological
    // order, the output first.
    let order: Vec<usize> = (0..picture.values.len())
        .rev()
        .filter(|&i| picture.values[i].op.is_some())
        .collect();
    let gradients: serde_json::Map<String, Value> = result
        .gradients
        .iter()
        .map(|(n, g)| (n.clone(), json!(g)))
        .collect();
    Ok(json!({
        "value": result.output.data(),
        "gradients": gradients,
        "nodes": nodes,
        "backward_order": order,
        "width": picture.width,
        "height": picture.height,
        "svg": picture.svg,
    }))
}

/// A loaded model, ready to run (the engine keeps state, so one request at a time): its
/// architecture, class names and the network.
struct Loaded {
    arch: scratchgrad::arch::Architecture,
    class_names: Vec<String>,
    model: Mutex<Model>,
}

/// Loaded models by run name and file time, most recently used last; the least recently used
/// are dropped when the weights kept would exceed [`CACHED_MODEL_BYTES`].
#[derive(Default)]
pub struct ModelCache(Mutex<Vec<Cached>>);

/// A cached model: its run's name, its file's time, its weights' bytes, the model.
struct Cached {
    run: String,
    modified: SystemTime,
    bytes: usize,
    loaded: Arc<Loaded>,
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
            "`{}` is not the name of a run in the runs folder (as /api/runs lists them)",
            scratchgrad::text::elide(name, 40)
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

impl ModelCache {
    /// The run's model, loaded (or from the cache when its file has not changed). Reads and
    /// decodes files: call it on a blocking thread.
    fn get(&self, runs: &Path, name: &str) -> Result<Arc<Loaded>, ApiError> {
        let folder = run_folder(runs, name)?;
        let modified = std::fs::symlink_metadata(folder.join(MODEL))
            .and_then(|m| m.modified())
            .map_err(|_| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("the run `{name}` has no model yet"),
                )
            })?;
        let lock = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut cache = lock();
            if let Some(i) = cache
                .iter()
                .position(|c| c.run == name && c.modified == modified)
            {
                let entry = cache.remove(i);
                let loaded = Arc::clone(&entry.loaded);
                cache.push(entry);
                return Ok(loaded);
            }
        }
        let shown = format!("{name}/{MODEL}");
        let unusable = |e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e);
        let bytes = read_in_folder(&folder, MODEL, MAX_MODEL_BYTES)
            .map_err(|e| unusable(format!("{shown} {e}")))?;
        let file = decode_model(&bytes, &shown).map_err(|e| unusable(e.to_string()))?;
        drop(bytes);
        if file.arch.input_size() != SIDE * SIDE {
            return Err(unusable(format!(
                "the model of `{name}` does not take {SIDE}x{SIDE} images"
            )));
        }
        let size = 4 * file.arch.parameter_count();
        let loaded = Arc::new(Loaded {
            model: Mutex::new(Model::from_file(&file, Engine::Manual)),
            arch: file.arch,
            class_names: file.class_names,
        });
        let mut cache = lock();
        cache.retain(|c| c.run != name);
        if size <= CACHED_MODEL_BYTES {
            while cache.iter().map(|c| c.bytes).sum::<usize>() + size > CACHED_MODEL_BYTES {
                cache.remove(0);
            }
            cache.push(Cached {
                run: name.to_string(),
                modified,
                bytes: size,
                loaded: Arc::clone(&loaded),
            });
        }
        Ok(loaded)
    }
}

/// `GET /api/models`: the runs in `--runs` that have a model, newest first, with what each is.
pub async fn models(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let runs = state.runs.clone();
    blocking(move || Ok(Json(list_models(&runs)))).await
}

fn list_models(runs: &Path) -> Value {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(runs) {
        for entry in entries.flatten().take(10_000) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(folder) = run_folder(runs, &name) else {
                continue;
            };
            if !has_file(&folder, MODEL) {
                continue;
            }
            let summary: Value = read_in_folder(&folder, SUMMARY, 1 << 20)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let config = &summary["config"];
            let arch = scratchgrad::arch::Architecture::from_json(&config["architecture"]).ok();
            found.push(json!({
                "name": name,
                "finished": !summary.is_null(),
                "dataset": config["dataset"],
                "architecture": arch.as_ref().map(|a| a.describe()),
                "convolutional": arch.as_ref().map(|a| a.is_spatial()),
                "test_accuracy": summary["test"]["accuracy"],
            }));
        }
    }
    found.sort_by(|a, b| b["name"].as_str().cmp(&a["name"].as_str()));
    json!({ "runs": runs.display().to_string(), "models": found })
}

/// `POST /api/predict {"model": RUN, "width": W, "height": H, "pixels": [W * H gray values]}`:
/// the image prepared as `predict` prepares files (MNIST-style 28x28), the class
/// probabilities, and what the first hidden layer (or each convolution) makes of it.
pub async fn predict(
    State(state): State<Arc<AppState>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = payload?;
    let name = text(&body, "model")?.to_string();
    let size = |key: &str| {
        body[key]
            .as_u64()
            .filter(|&v| (1..=MAX_IMAGE_SIDE as u64).contains(&v))
            .map(|v| v as u32)
            .ok_or_else(|| ApiError::bad(format!("`{key}` must be 1 to {MAX_IMAGE_SIDE}")))
    };
    let (width, height) = (size("width")?, size("height")?);
    let pixels = body["pixels"]
        .as_array()
        .ok_or_else(|| ApiError::bad("`pixels` must be a list of gray values"))?;
    if pixels.len() != (width * height) as usize {
        return Err(ApiError::bad(format!(
            "`pixels` has {} values for a {width}x{height} image",
            pixels.len()
        )));
    }
    let gray: Vec<u8> = pixels
        .iter()
        .map(|p| p.as_u64().filter(|&v| v <= 255).map(|v| v as u8))
        .collect::<Option<_>>()
        .ok_or_else(|| ApiError::bad("`pixels` must hold whole numbers from 0 to 255"))?;
    blocking(move || {
        let loaded = state.models.get(&state.runs, &name)?;
        let image = GrayImage::from_raw(width, height, gray).expect("the size was checked");
        let prepared = mnist_style(&DynamicImage::ImageLuma8(image)).map_err(ApiError::bad)?;
        let x = Array::from_vec(prepared.iter().map(|&p| p as f32 / 255.0).collect(), &[1, SIDE * SIDE]);
        let outputs = loaded.model.lock().unwrap_or_else(|e| e.into_inner()).layer_outputs(x);
        let logits = outputs.last().expect("a network has layers");
        check_finite(logits, 0).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the model of `{name}` {e}; it cannot be used"),
            )
        })?;
        let probabilities = logits.softmax(1).into_vec();
        let best = (0..probabilities.len()).fold(0, |b, c| if probabilities[c] > probabilities[b] { c } else { b });
        let names = &loaded.class_names;
        Ok(Json(json!({
            "input": prepared,
            "probabilities": probabilities,
            "classes": names,
            "prediction": { "class": best, "name": names[best], "probability": probabilities[best] },
            "layers": inside(&loaded.arch, &outputs),
        })))
    })
    .await
}

/// What the network makes of the image: for an MLP, the first hidden layer's activations;
/// for a CNN, each convolution's maps (after its activation).
fn inside(arch: &scratchgrad::arch::Architecture, outputs: &[Array<f32>]) -> Vec<Value> {
    let layers = &arch.layers;
    let mut shown = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let is_conv = matches!(layer, LayerSpec::Conv2d { .. });
        let is_hidden =
            !arch.is_spatial() && matches!(layer, LayerSpec::Linear { .. }) && i + 1 < layers.len();
        if !(is_conv || is_hidden) {
            continue;
        }
        let at = match layers.get(i + 1) {
            Some(LayerSpec::Activation(_)) => i + 1,
            _ => i,
        };
        let out = &outputs[at];
        shown.push(json!({ "name": format!("layer {} {}", i + 1, layers[i]), "shape": &out.shape()[1..], "values": out.data() }));
        if is_hidden {
            break; // the first hidden layer is enough to look at
        }
    }
    shown
}
