//! The model file (`model.safetensors`) and the training checkpoint
//! (`checkpoint.safetensors`).
//!
//! The model file holds the weights named and laid out as PyTorch's `nn.Sequential`
//! state_dict (`0.weight` is `[256, 784]`, ...) plus metadata that says what the network is
//! and how its input was prepared, so `eval` and `predict` need nothing else. The checkpoint
//! adds the optimizer's buffers (`optimizer.velocity.0`, ...), the epochs completed and the
//! training configuration, so `--resume` continues exactly where a run stopped.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::array::Array;
use crate::optim::OptimizerState;
use crate::train::{Activation, Architecture};

/// The largest JSON header accepted (a 784-256-10 checkpoint's is under 2 kB).
pub const MAX_HEADER_BYTES: u64 = 1 << 20;
const MODEL_FORMAT: &str = "scratchgrad.mlp.v1";
const CHECKPOINT_FORMAT: &str = "scratchgrad.checkpoint.v1";
/// How an image must be prepared before it reaches the network.
pub const PREPROCESSING: &str = "28x28 grayscale, light ink on a dark background, each pixel divided by 255 into [0, 1], flattened row by row";

/// A trained network and what is needed to use it.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The network's shape.
    pub arch: Architecture,
    /// The data set it was trained on.
    pub dataset: String,
    /// What each output class means.
    pub class_names: Vec<String>,
    /// The weights, named as PyTorch's `nn.Sequential` state_dict.
    pub weights: Vec<(String, Array<f32>)>,
}

/// A training run's state after a completed epoch.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The model so far.
    pub model: ModelFile,
    /// The optimizer's buffers and step count.
    pub optimizer: OptimizerState<f32>,
    /// Epochs completed.
    pub epochs_done: usize,
    /// The training configuration (JSON), to continue with the same settings.
    pub config: serde_json::Value,
}

fn bytes_of(a: &Array<f32>) -> Vec<u8> {
    a.data().iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn model_metadata(model: &ModelFile, format: &str) -> HashMap<String, String> {
    let arch = serde_json::json!({
        "inputs": model.arch.inputs,
        "hidden": model.arch.hidden,
        "classes": model.arch.classes,
        "activation": model.arch.activation.to_string(),
    });
    HashMap::from([
        ("format".to_string(), format.to_string()),
        ("architecture".to_string(), arch.to_string()),
        ("preprocessing".to_string(), PREPROCESSING.to_string()),
        ("dataset".to_string(), model.dataset.clone()),
        (
            "class_names".to_string(),
            serde_json::json!(model.class_names).to_string(),
        ),
    ])
}

fn serialize(
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    metadata: HashMap<String, String>,
) -> Vec<u8> {
    let views = tensors.iter().map(|(name, shape, bytes)| {
        let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
            .expect("an f32 array's bytes fit its shape");
        (name.clone(), view)
    });
    safetensors::serialize(views, Some(metadata))
        .expect("in-memory safetensors serialization cannot fail")
}

/// The bytes of a `model.safetensors`.
pub fn encode_model(model: &ModelFile) -> Vec<u8> {
    let tensors: Vec<_> = model
        .weights
        .iter()
        .map(|(n, a)| (n.clone(), a.shape().to_vec(), bytes_of(a)))
        .collect();
    serialize(&tensors, model_metadata(model, MODEL_FORMAT))
}

/// The bytes of a `checkpoint.safetensors`.
pub fn encode_checkpoint(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut tensors: Vec<_> = checkpoint
        .model
        .weights
        .iter()
        .map(|(n, a)| (n.clone(), a.shape().to_vec(), bytes_of(a)))
        .collect();
    for (name, a) in &checkpoint.optimizer.buffers {
        tensors.push((format!("optimizer.{name}"), a.shape().to_vec(), bytes_of(a)));
    }
    let mut metadata = model_metadata(&checkpoint.model, CHECKPOINT_FORMAT);
    metadata.insert("epochs_done".into(), checkpoint.epochs_done.to_string());
    metadata.insert(
        "optimizer_steps".into(),
        checkpoint.optimizer.steps.to_string(),
    );
    metadata.insert("config".into(), checkpoint.config.to_string());
    serialize(&tensors, metadata)
}

/// Everything read from a safetensors file: metadata and f32 tensors.
struct Parsed {
    metadata: HashMap<String, String>,
    tensors: Vec<(String, Array<f32>)>,
}

fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() < 8 {
        return Err(format!(
            "is {} bytes long, too short for a safetensors file",
            bytes.len()
        ));
    }
    let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if header > MAX_HEADER_BYTES {
        return Err(format!(
            "is not a valid safetensors file (it declares a {header}-byte header, over the {MAX_HEADER_BYTES}-byte limit)"
        ));
    }
    if header > bytes.len() as u64 - 8 {
        return Err(format!(
            "is not a valid safetensors file (it declares a {header}-byte header but holds only {} bytes after the length)",
            bytes.len() - 8
        ));
    }
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("is not a valid safetensors file ({e})"))?;
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("is not a valid safetensors file ({e})"))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut tensors = Vec::new();
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    for name in names {
        let view = file
            .tensor(&name)
            .map_err(|e| format!("tensor `{name}` cannot be read ({e})"))?;
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "tensor `{name}` is {:?}; only F32 is supported",
                view.dtype()
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "tensor `{name}` holds a non-finite value ({}) at position {i}",
                values[i]
            ));
        }
        tensors.push((name, Array::from_vec(values, view.shape())));
    }
    Ok(Parsed { metadata, tensors })
}

fn architecture(metadata: &HashMap<String, String>) -> Result<Architecture, String> {
    let text = metadata
        .get("architecture")
        .ok_or("has no `architecture` metadata: was it written by scratchgrad?")?;
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("has unreadable architecture metadata ({e})"))?;
    let size = |key: &str| {
        json[key]
            .as_u64()
            .filter(|&v| (1..=1 << 20).contains(&v))
            .map(|v| v as usize)
    };
    let hidden: Option<Vec<usize>> = json["hidden"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    v.as_u64()
                        .filter(|&v| (1..=1 << 20).contains(&v))
                        .map(|v| v as usize)
                })
                .collect()
        })
        .unwrap_or(None);
    let activation = json["activation"]
        .as_str()
        .unwrap_or("")
        .parse::<Activation>();
    match (size("inputs"), hidden, size("classes"), activation) {
        (Some(inputs), Some(hidden), Some(classes), Ok(activation)) if hidden.len() <= 64 => {
            Ok(Architecture {
                inputs,
                hidden,
                classes,
                activation,
            })
        }
        _ => Err(format!("has an architecture it cannot use: {text}")),
    }
}

/// A file's model, the tensors that are not the model's, and its metadata.
struct Unpacked {
    model: ModelFile,
    extra: Vec<(String, Array<f32>)>,
    metadata: HashMap<String, String>,
}

/// Splits tensors into the model's weights (checked against the architecture) and the rest.
fn model_from(parsed: Parsed, format: &str) -> Result<Unpacked, String> {
    match parsed.metadata.get("format") {
        Some(f) if f == format => {}
        Some(f) => return Err(format!("is a `{f}` file, not `{format}`")),
        None => return Err("has no `format` metadata: was it written by scratchgrad?".into()),
    }
    let arch = architecture(&parsed.metadata)?;
    let mut rest = parsed.tensors;
    let mut weights = Vec::new();
    for (name, shape) in arch.parameter_shapes() {
        let i = rest.iter().position(|(n, _)| *n == name).ok_or(format!(
            "lacks tensor `{name}` that a {} network needs",
            arch.describe()
        ))?;
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
    let class_names: Vec<String> = parsed
        .metadata
        .get("class_names")
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let class_names = if class_names.len() == arch.classes {
        class_names
    } else {
        (0..arch.classes).map(|c| c.to_string()).collect()
    };
    let dataset = parsed.metadata.get("dataset").cloned().unwrap_or_default();
    let model = ModelFile {
        arch,
        dataset,
        class_names,
        weights,
    };
    Ok(Unpacked {
        model,
        extra: rest,
        metadata: parsed.metadata,
    })
}

/// Reads a `model.safetensors` from bytes; `name` is used in errors.
pub fn decode_model(bytes: &[u8], name: &str) -> Result<ModelFile, String> {
    let fail = |e: String| format!("{name} {e}");
    let Unpacked { model, extra, .. } =
        model_from(parse(bytes).map_err(fail)?, MODEL_FORMAT).map_err(fail)?;
    if let Some((n, _)) = extra.first() {
        return Err(fail(format!(
            "has tensor `{n}` that a {} network does not have",
            model.arch.describe()
        )));
    }
    Ok(model)
}

/// Reads a `checkpoint.safetensors` from bytes; `name` is used in errors.
pub fn decode_checkpoint(bytes: &[u8], name: &str) -> Result<Checkpoint, String> {
    let fail = |e: String| format!("{name} {e}");
    let Unpacked {
        model,
        extra,
        metadata,
    } = model_from(parse(bytes).map_err(fail)?, CHECKPOINT_FORMAT).map_err(fail)?;
    let mut buffers = Vec::new();
    for (n, value) in extra {
        let Some(buffer) = n.strip_prefix("optimizer.") else {
            return Err(fail(format!(
                "has tensor `{n}` that is neither a weight nor optimizer state"
            )));
        };
        buffers.push((buffer.to_string(), value));
    }
    let number = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| fail(format!("has no valid `{key}` metadata")))
    };
    let epochs_done = number("epochs_done")? as usize;
    let steps = number("optimizer_steps")?;
    let config = metadata
        .get("config")
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or_else(|| fail("has no valid `config` metadata".into()))?;
    Ok(Checkpoint {
        model,
        optimizer: OptimizerState { steps, buffers },
        epochs_done,
        config,
    })
}

/// Reads and checks a model file from disk, with its size checked before it is read.
pub fn load_model(path: &Path) -> Result<ModelFile, String> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown} cannot be opened ({e})"))?;
    if meta.is_dir() {
        return Err(format!(
            "{shown} is a directory; give the model file inside it (model.safetensors)"
        ));
    }
    if meta.len() > 4 << 30 {
        return Err(format!(
            "{shown} is {} bytes, too large for a scratchgrad model",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{shown} cannot be read ({e})"))?;
    decode_model(&bytes, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ModelFile {
        let arch = Architecture {
            inputs: 4,
            hidden: vec![3],
            classes: 2,
            activation: Activation::Relu,
        };
        let weights = arch.init(&mut crate::array::Rng::seed(0));
        ModelFile {
            arch,
            dataset: "test".into(),
            class_names: vec!["a".into(), "b".into()],
            weights,
        }
    }

    #[test]
    fn model_round_trips() {
        let m = small();
        let back = decode_model(&encode_model(&m), "m").unwrap();
        assert_eq!(back.arch, m.arch);
        assert_eq!(back.class_names, m.class_names);
        assert_eq!(back.weights, m.weights);
    }

    #[test]
    fn checkpoint_round_trips() {
        let buffers = vec![("velocity.0".to_string(), Array::ones(&[3, 4]))];
        let c = Checkpoint {
            model: small(),
            optimizer: OptimizerState { steps: 7, buffers },
            epochs_done: 2,
            config: serde_json::json!({"lr": 0.5}),
        };
        let back = decode_checkpoint(&encode_checkpoint(&c), "c").unwrap();
        assert_eq!(
            (back.epochs_done, back.optimizer.steps, back.config),
            (2, 7, serde_json::json!({"lr": 0.5}))
        );
        assert_eq!(back.optimizer.buffers, c.optimizer.buffers);
        assert!(decode_model(&encode_checkpoint(&c), "c")
            .unwrap_err()
            .contains("is a `scratchgrad.checkpoint.v1` file"));
    }

    #[test]
    fn bad_models_are_refused_with_a_reason() {
        let mut m = small();
        m.weights[0].1.data_mut()[0] = f32::NAN;
        assert!(decode_model(&encode_model(&m), "m")
            .unwrap_err()
            .contains("non-finite"));
        let mut m = small();
        m.weights.pop();
        assert_eq!(
            decode_model(&encode_model(&m), "m").unwrap_err(),
            "m lacks tensor `2.bias` that a 4-3-2 relu network needs"
        );
        let mut m = small();
        m.weights[1].1 = Array::zeros(&[5]);
        assert!(decode_model(&encode_model(&m), "m")
            .unwrap_err()
            .contains("has `0.bias` of shape [5]"));
        let mut bytes = encode_model(&small());
        bytes[..8].copy_from_slice(&(u64::MAX).to_le_bytes());
        assert!(decode_model(&bytes, "m").unwrap_err().contains("over the"));
        assert!(decode_model(&bytes[..5], "m")
            .unwrap_err()
            .contains("too short"));
    }
}
