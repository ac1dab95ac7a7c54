//! The digits page's calls: the models in `--runs` (`/api/models`) and what one makes of a
//! drawn image (`/api/predict`, prepared as `scratchgrad predict` prepares files), with the
//! loaded models kept within a memory budget.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::Json;
use image::{DynamicImage, GrayImage};
use scratchgrad::arch::LayerSpec;
use scratchgrad::array::Array;
use scratchgrad::data::preprocess::{mnist_style, SIDE};
use scratchgrad::files::read_in_folder;
use scratchgrad::model_files::{decode_model, MAX_MODEL_BYTES};
use scratchgrad::train::run_dir::MODEL;
use scratchgrad::train::{check_finite, Engine, Model};
use serde_json::{json, Value};

use super::http::{blocking, run_folder, runs_with_a_model, text, ApiError};
use super::AppState;

/// The largest side of a drawn image.
pub const MAX_IMAGE_SIDE: usize = 1024;
/// The most bytes of weights the loaded models kept in memory may hold together (a model
/// larger than this is loaded for its request and not kept).
const CACHED_MODEL_BYTES: usize = 256 << 20;

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

/// A cached model: its run's name, its file (time, size, inode: a copy that kept the time
/// is still another file), its weights' bytes, the model.
struct Cached {
    run: String,
    file: (SystemTime, u64, u64),
    bytes: usize,
    loaded: Arc<Loaded>,
}

impl ModelCache {
    /// The run's model, loaded (or from the cache when its file has not changed). Reads and
    /// decodes files: call it on a blocking thread.
    fn get(&self, runs: &Path, name: &str) -> Result<Arc<Loaded>, ApiError> {
        let folder = run_folder(runs, name)?;
        let on_disk = std::fs::symlink_metadata(folder.join(MODEL))
            .and_then(|m| {
                Ok((
                    m.modified()?,
                    m.len(),
                    std::os::unix::fs::MetadataExt::ino(&m),
                ))
            })
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
                .position(|c| c.run == name && c.file == on_disk)
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
        if !file.arch.takes_images(SIDE, SIDE) {
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
                file: on_disk,
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
    let found: Vec<Value> = runs_with_a_model(runs, false)
        .into_iter()
        .map(|(name, summary)| {
            let config = &summary["config"];
            let arch = scratchgrad::arch::Architecture::from_json(&config["architecture"]).ok();
            json!({
                "name": name,
                "finished": !summary.is_null(),
                "dataset": config["dataset"],
                "architecture": arch.as_ref().map(|a| a.describe()),
                "convolutional": arch.as_ref().map(|a| a.is_spatial()),
                "test_accuracy": summary["test"]["accuracy"],
            })
        })
        .collect();
    json!({ "runs": runs.display().to_string(), "models": found })
}

/// The 28x28 input a request gives: a drawing (`width`, `height` and gray `pixels`, prepared
/// as `predict` prepares files) or, as `input`, the model's input itself (784 numbers from 0
/// to 1, for a page that checks a slope by finite differences).
fn input_of(body: &Value) -> Result<Vec<f32>, ApiError> {
    if let Some(given) = body.get("input") {
        let values: Option<Vec<f32>> = given.as_array().and_then(|a| {
            (a.len() == SIDE * SIDE).then(|| {
                a.iter()
                    .map(|v| {
                        v.as_f64()
                            .filter(|v| (0.0..=1.0).contains(v))
                            .map(|v| v as f32)
                    })
                    .collect::<Option<Vec<f32>>>()
            })?
        });
        return values.ok_or_else(|| {
            ApiError::bad(format!(
                "`input` must be {} numbers from 0 to 1",
                SIDE * SIDE
            ))
        });
    }
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
    let image = GrayImage::from_raw(width, height, gray).expect("the size was checked");
    let prepared = mnist_style(&DynamicImage::ImageLuma8(image)).map_err(ApiError::bad)?;
    Ok(prepared.iter().map(|&p| p as f32 / 255.0).collect())
}

/// `POST /api/predict {"model": RUN, "width": W, "height": H, "pixels": [W * H gray values]}`
/// (or `"input"`, see [`input_of`]): the model's input (0 to 1), its logits, the class
/// probabilities, and what the first hidden layer (or each convolution) makes of it. With
/// `"detail": true`, also `explain`: every layer's output, every convolution's kernels, and
/// the saliency map of `class` (the predicted one unless given): d(logit)/d(input).
pub async fn predict(
    State(state): State<Arc<AppState>>,
    payload: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = payload?;
    let name = text(&body, "model")?.to_string();
    let detail = body["detail"].as_bool().unwrap_or(false);
    let asked_class = match &body["class"] {
        Value::Null => None,
        v => Some(
            v.as_u64()
                .ok_or_else(|| ApiError::bad("`class` must be a class number"))?,
        ),
    };
    blocking(move || {
        // The model first: a request naming no usable model hears that before any word on its image.
        let loaded = state.models.get(&state.runs, &name)?;
        let input = input_of(&body)?;
        let x = Array::from_vec(input.clone(), &[1, SIDE * SIDE]);
        let mut model = loaded.model.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = model.layer_outputs(x.clone());
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
        let mut answer = json!({
            "input": input,
            "logits": logits.data(),
            "probabilities": probabilities,
            "classes": names,
            "prediction": { "class": best, "name": names[best], "probability": probabilities[best] },
            "layers": inside(&loaded.arch, &outputs),
        });
        if detail {
            let class = match asked_class {
                Some(c) if (c as usize) < names.len() => c as usize,
                Some(c) => return Err(ApiError::bad(format!("there is no class {c} (the model has {})", names.len()))),
                None => best,
            };
            let saliency = model.input_gradient(x, class);
            let weights = model.weights(&loaded.arch);
            answer["explain"] = json!({
                "layers": every_layer(&loaded.arch, &outputs),
                "kernels": kernels(&loaded.arch, &weights),
                "saliency": { "class": class, "values": saliency.data() },
            });
        }
        Ok(Json(answer))
    })
    .await
}

/// Every layer's output for the image, with what the layer is: the CNN explainer's rows.
fn every_layer(arch: &scratchgrad::arch::Architecture, outputs: &[Array<f32>]) -> Vec<Value> {
    arch.layers
        .iter()
        .zip(outputs)
        .enumerate()
        .map(|(i, (layer, out))| {
            let kind = match layer {
                LayerSpec::Linear { .. } => "linear",
                LayerSpec::Conv2d { .. } => "conv",
                LayerSpec::MaxPool2d(_) => "maxpool",
                LayerSpec::AvgPool2d(_) => "avgpool",
                LayerSpec::BatchNorm => "batchnorm",
                LayerSpec::Dropout { .. } => "dropout",
                LayerSpec::Activation(_) => "activation",
                LayerSpec::Flatten => "flatten",
            };
            let window = match layer {
                LayerSpec::Conv2d { window, .. } | LayerSpec::MaxPool2d(window) | LayerSpec::AvgPool2d(window) => {
                    Some(json!({"kh": window.kh, "kw": window.kw, "stride": window.stride, "padding": window.padding}))
                }
                _ => None,
            };
            json!({
                "index": i, "text": layer.to_string(), "kind": kind, "window": window,
                "shape": &out.shape()[1..], "values": out.data(),
            })
        })
        .collect()
}

/// Every convolution's weights (`[out, in, kh, kw]`) and biases, by layer.
fn kernels(arch: &scratchgrad::arch::Architecture, weights: &[(String, Array<f32>)]) -> Vec<Value> {
    let find = |name: String| weights.iter().find(|(n, _)| *n == name).map(|(_, a)| a);
    arch.layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, LayerSpec::Conv2d { .. }))
        .filter_map(|(i, _)| {
            let (w, b) = (find(format!("{i}.weight"))?, find(format!("{i}.bias"))?);
            Some(json!({"layer": i, "shape": w.shape(), "weights": w.data(), "bias": b.data()}))
        })
        .collect()
}

/// `GET /api/models/{name}/units/{unit}`: for an MLP, the first layer's weights into hidden
/// unit `unit` (784 of them, a picture of what the unit looks for) and its bias.
pub async fn unit(
    State(state): State<Arc<AppState>>,
    UrlPath((name, unit)): UrlPath<(String, usize)>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let loaded = state.models.get(&state.runs, &name)?;
        let Some(LayerSpec::Linear { outputs }) = loaded.arch.layers.first() else {
            return Err(ApiError::bad(format!(
                "the model of `{name}` does not start with a linear layer"
            )));
        };
        if unit >= *outputs {
            return Err(ApiError::bad(format!(
                "there is no unit {unit}: the first layer has {outputs}"
            )));
        }
        let weights = loaded
            .model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .weights(&loaded.arch);
        let find = |n: &str| {
            weights
                .iter()
                .find(|(name, _)| name == n)
                .map(|(_, a)| a.data())
        };
        let (w, b) = (
            find("0.weight").expect("a linear layer's weight"),
            find("0.bias").expect("its bias"),
        );
        let inputs = w.len() / outputs;
        Ok(Json(json!({
            "unit": unit,
            "weights": &w[unit * inputs..(unit + 1) * inputs],
            "bias": b[unit],
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
