//! The model file: a trained network's weights and counts, what the network is (its
//! architecture), the data set it learnt and its class names.

use std::collections::HashMap;
use std::path::Path;

use super::container::{is_short_printable, parse, printable, serialize, stored_tensors, Parsed};
use super::{
    invalid, read_file, LoadError, CHECKPOINT_FORMAT, LANGUAGE_MODEL_FORMAT,
    LEGACY_CHECKPOINT_FORMAT, LEGACY_MODEL_FORMAT, MAX_CLASS_NAME_CHARS, MAX_MODEL_BYTES,
    MODEL_FORMAT,
};
use crate::arch::{Activation, Architecture, StateKind, StateTensor};
use crate::array::Array;
use safetensors::Dtype;

/// A trained network and what is needed to use it.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The network's shape.
    pub arch: Architecture,
    /// The data set it was trained on.
    pub dataset: String,
    /// What each output class means (short printable text, one per class).
    pub class_names: Vec<String>,
    /// The weights (parameters and running statistics), named as PyTorch's `nn.Sequential`
    /// state_dict, in the architecture's order.
    pub weights: Vec<(String, Array<f32>)>,
    /// The counts (batch norm's `num_batches_tracked`), stored as int64 as PyTorch keeps
    /// them.
    pub counts: Vec<(String, u64)>,
}

/// How an image must be prepared before it reaches a network taking `input`.
pub fn preprocessing(input: &[usize]) -> String {
    let layout = if input.len() == 1 {
        "flattened row by row".to_string()
    } else {
        format!("shaped {input:?} (channels, rows, columns)")
    };
    format!("28x28 grayscale, light ink on a dark background, each pixel divided by 255 into [0, 1], {layout}")
}

/// A model's tensors and counts as the file stores them.
pub(super) fn stored_state(model: &ModelFile) -> Vec<(String, Vec<usize>, Dtype, Vec<u8>)> {
    stored_tensors(&model.weights, &model.counts)
}

pub(super) fn model_metadata(model: &ModelFile, format: &str) -> HashMap<String, String> {
    HashMap::from([
        ("format".to_string(), format.to_string()),
        ("architecture".to_string(), model.arch.to_json().to_string()),
        (
            "preprocessing".to_string(),
            preprocessing(&model.arch.input),
        ),
        ("dataset".to_string(), model.dataset.clone()),
        (
            "class_names".to_string(),
            serde_json::json!(model.class_names).to_string(),
        ),
    ])
}

/// The bytes of a `model.safetensors`.
pub fn encode_model(model: &ModelFile) -> Vec<u8> {
    serialize(&stored_state(model), model_metadata(model, MODEL_FORMAT))
}

/// The architecture in a file's metadata, in the current form or the MLP-only legacy one.
fn architecture(metadata: &HashMap<String, String>, legacy: bool) -> Result<Architecture, String> {
    let text = metadata
        .get("architecture")
        .ok_or("has no `architecture` metadata: was it written by scratchgrad?")?;
    let unusable = |e: String| format!("has an architecture it cannot use ({e})");
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| unusable(format!("unreadable JSON: {e}")))?;
    if !legacy {
        return Architecture::from_json(&json).map_err(unusable);
    }
    let size = |v: &serde_json::Value| {
        v.as_u64()
            .filter(|&v| (1..=crate::arch::MAX_FEATURES as u64).contains(&v))
            .map(|v| v as usize)
    };
    let hidden: Option<Vec<usize>> = json["hidden"]
        .as_array()
        .filter(|h| h.len() < crate::arch::MAX_LAYERS / 2)
        .and_then(|a| a.iter().map(size).collect());
    let activation = json["activation"]
        .as_str()
        .unwrap_or("")
        .parse::<Activation>();
    let (Some(inputs), Some(hidden), Some(classes), Ok(activation)) = (
        size(&json["inputs"]),
        hidden,
        size(&json["classes"]),
        activation,
    ) else {
        return Err(unusable(printable(text, 200)));
    };
    let arch = Architecture::mlp(inputs, &hidden, classes, activation);
    arch.validate().map_err(unusable)?;
    Ok(arch)
}

/// A file's model, the tensors that are not the model's, and its metadata.
pub(super) struct Unpacked {
    pub model: ModelFile,
    pub extra: Vec<(String, Array<f32>)>,
    pub metadata: HashMap<String, String>,
}

/// Splits tensors into the model's weights (checked against the architecture) and the rest,
/// and checks the metadata that gets printed.
pub(super) fn model_from(parsed: Parsed, formats: &[&str]) -> Result<Unpacked, String> {
    let wants_model = formats.contains(&MODEL_FORMAT);
    let legacy = match parsed.metadata.get("format").map(String::as_str) {
        Some(f) if formats.contains(&f) => f == LEGACY_MODEL_FORMAT,
        Some(CHECKPOINT_FORMAT | LEGACY_CHECKPOINT_FORMAT) if wants_model => {
            return Err("is a training checkpoint, not a model: use the model.safetensors beside it".into())
        }
        Some(LEGACY_CHECKPOINT_FORMAT) => {
            return Err(format!("is a checkpoint of an older scratchgrad ({LEGACY_CHECKPOINT_FORMAT}), which cannot be resumed; the model.safetensors beside it still works with eval and predict"))
        }
        Some(MODEL_FORMAT | LEGACY_MODEL_FORMAT) => {
            return Err("is a model file, not a training checkpoint".into())
        }
        Some(LANGUAGE_MODEL_FORMAT) => {
            return Err("is a language model, not an image classifier: use it with scratchgrad sample or eval".into())
        }
        Some(f) => {
            return Err(format!(
                "is a `{}` file, not a scratchgrad {}",
                printable(f, 64),
                if wants_model { "model" } else { "checkpoint" }
            ))
        }
        None => return Err("has no `format` metadata: was it written by scratchgrad?".into()),
    };
    let arch = architecture(&parsed.metadata, legacy)?;
    let (mut rest, mut other_counts) = (parsed.tensors, parsed.counts);
    let (mut weights, mut counts) = (Vec::new(), Vec::new());
    for StateTensor { name, shape, kind } in arch.state() {
        let lacks = || {
            format!(
                "lacks tensor `{name}` that a {} network needs",
                arch.describe()
            )
        };
        if kind == StateKind::Count {
            let Some(i) = other_counts.iter().position(|(n, _)| *n == name) else {
                if rest.iter().any(|(n, _)| *n == name) {
                    return Err(format!(
                        "has `{name}` as F32 numbers; it must be a scalar int64 count"
                    ));
                }
                return Err(lacks());
            };
            counts.push(other_counts.remove(i));
            continue;
        }
        if name.ends_with(".running_var") {
            if let Some((_, value)) = rest.iter().find(|(n, _)| *n == name) {
                if value.data().iter().any(|v| *v < 0.0) {
                    return Err(format!(
                        "has `{name}` below zero, which no batch of data can give"
                    ));
                }
            }
        }
        let i = rest
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(lacks)?;
        let (name, value) = rest.remove(i);
        if value.shape() != shape {
            return Err(format!(
                "has `{name}` of shape {:?} where a {} network needs {shape:?}",
                value.shape(),
                arch.describe()
            ));
        }
        weights.push((name, value));
    }
    let classes = arch.classes();
    let class_names = match parsed.metadata.get("class_names") {
        None => (0..classes).map(|c| c.to_string()).collect(),
        Some(text) => class_names(text, classes)?,
    };
    let dataset = parsed.metadata.get("dataset").cloned().unwrap_or_default();
    if !is_short_printable(&dataset, MAX_CLASS_NAME_CHARS) {
        return Err("has a `dataset` name that is not short printable text".into());
    }
    if let Some((name, _)) = other_counts.first() {
        return Err(format!(
            "has count `{}` that a {} network does not have",
            printable(name, 64),
            arch.describe()
        ));
    }
    let model = ModelFile {
        arch,
        dataset,
        class_names,
        weights,
        counts,
    };
    Ok(Unpacked {
        model,
        extra: rest,
        metadata: parsed.metadata,
    })
}

/// The `class_names` metadata: a JSON list of one short printable name per class.
fn class_names(text: &str, classes: usize) -> Result<Vec<String>, String> {
    let names: Vec<String> = serde_json::from_str(text)
        .map_err(|_| "has `class_names` metadata that is not a list of text".to_string())?;
    if names.len() != classes {
        return Err(format!(
            "has {} class names for {classes} classes",
            names.len()
        ));
    }
    if let Some(bad) = names
        .iter()
        .find(|n| n.is_empty() || !is_short_printable(n, MAX_CLASS_NAME_CHARS))
    {
        return Err(format!(
            "has a class name that is not 1 to {MAX_CLASS_NAME_CHARS} printable characters (`{}`)",
            printable(bad, 40)
        ));
    }
    Ok(names)
}

/// Reads a `model.safetensors` from bytes; `name` is used in errors.
pub fn decode_model(bytes: &[u8], name: &str) -> Result<ModelFile, LoadError> {
    let fail = invalid(name);
    let formats = [MODEL_FORMAT, LEGACY_MODEL_FORMAT];
    let Unpacked { model, extra, .. } =
        model_from(parse(bytes).map_err(&fail)?, &formats).map_err(&fail)?;
    if let Some((n, _)) = extra.first() {
        return Err(fail(format!(
            "has tensor `{}` that a {} network does not have",
            printable(n, 64),
            model.arch.describe()
        )));
    }
    Ok(model)
}

/// Reads and checks a model file from disk: a regular file of at most [`MAX_MODEL_BYTES`].
pub fn load_model(path: &Path) -> Result<ModelFile, LoadError> {
    let bytes = read_file(path, MAX_MODEL_BYTES)?;
    decode_model(&bytes, &path.display().to_string())
}
