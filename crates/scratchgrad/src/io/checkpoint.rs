//! The model file (`model.safetensors`) and the training checkpoint
//! (`checkpoint.safetensors`).
//!
//! The model file holds the weights named and laid out as PyTorch's `nn.Sequential`
//! state_dict (`0.weight` is `[256, 784]`, ...) plus metadata that says what the network is
//! and how its input was prepared, so `eval` and `predict` need nothing else. The checkpoint
//! adds the optimizer's buffers (`optimizer.velocity.0`, ...), the epochs completed and the
//! training configuration, so `--resume` continues exactly where a run stopped.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::read::{read_regular, ReadError};
use crate::arch::{Activation, Architecture, StateKind, StateTensor};
use crate::array::Array;
use crate::optim::OptimizerState;

/// The largest JSON header accepted (a 784-256-10 checkpoint's is under 2 kB).
pub const MAX_HEADER_BYTES: u64 = 1 << 20;
/// The largest model file read: the most parameters an architecture may have, as f32.
pub const MAX_MODEL_BYTES: u64 = (crate::arch::MAX_PARAMETERS as u64) * 4 + MAX_HEADER_BYTES + 8;
/// The largest checkpoint read: the weights and up to two optimizer buffers per weight.
pub const MAX_CHECKPOINT_BYTES: u64 = 3 * MAX_MODEL_BYTES;
const MODEL_FORMAT: &str = "scratchgrad.model.v1";
/// The format of model files written before architectures were layer lists (MLPs only); still
/// read.
const LEGACY_MODEL_FORMAT: &str = "scratchgrad.mlp.v1";
const CHECKPOINT_FORMAT: &str = "scratchgrad.checkpoint.v2";
const LEGACY_CHECKPOINT_FORMAT: &str = "scratchgrad.checkpoint.v1";
/// The most characters a class name may have.
pub const MAX_CLASS_NAME_CHARS: usize = 32;

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

/// A training run's state after a completed epoch.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The model so far.
    pub model: ModelFile,
    /// The optimizer's buffers and step count.
    pub optimizer: OptimizerState<f32>,
    /// Epochs completed.
    pub epochs_done: usize,
    /// The training configuration (JSON), to continue with the same settings; the training
    /// loop's `TrainConfig::from_json` checks it.
    pub config: serde_json::Value,
}

/// Why a model file or checkpoint cannot be used. `Display` starts with the file's name.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read (missing, not a regular file, too large...).
    Read {
        /// The file.
        file: String,
        /// Why.
        source: ReadError,
    },
    /// The file was read but is not a usable scratchgrad file.
    Invalid {
        /// The file.
        file: String,
        /// What is wrong, as a phrase that follows the file's name.
        problem: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { file, source } => write!(f, "{file} {source}"),
            LoadError::Invalid { file, problem } => write!(f, "{file} {problem}"),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { source, .. } => Some(source),
            LoadError::Invalid { .. } => None,
        }
    }
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

/// A tensor's dtype and bytes as the file stores them (f32).
fn stored(a: &Array<f32>) -> (Dtype, Vec<u8>) {
    (
        Dtype::F32,
        a.data().iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// A model's tensors and counts as the file stores them: f32 tensors, and each count as a
/// scalar int64 (as PyTorch keeps batch norm's count, so that it loads the file strictly).
fn stored_state(model: &ModelFile) -> Vec<(String, Vec<usize>, Dtype, Vec<u8>)> {
    let mut tensors: Vec<_> = model
        .weights
        .iter()
        .map(|(n, a)| {
            let (dtype, bytes) = stored(a);
            (n.clone(), a.shape().to_vec(), dtype, bytes)
        })
        .collect();
    for (name, count) in &model.counts {
        let count = i64::try_from(*count).unwrap_or(i64::MAX);
        tensors.push((
            name.clone(),
            vec![],
            Dtype::I64,
            count.to_le_bytes().to_vec(),
        ));
    }
    tensors
}

fn model_metadata(model: &ModelFile, format: &str) -> HashMap<String, String> {
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

/// Serializes tensors and metadata with the `safetensors` crate, then writes its JSON header
/// again with keys in sorted order: the crate keeps metadata in a `HashMap`, whose order
/// changes from process to process, and the same run must give the same bytes.
fn serialize(
    tensors: &[(String, Vec<usize>, Dtype, Vec<u8>)],
    metadata: HashMap<String, String>,
) -> Vec<u8> {
    let mut names: Vec<&str> = tensors.iter().map(|(n, _, _, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        // The safetensors crate indexes out of bounds on a repeated name; say what is wrong.
        panic!("encode: tensor name `{}` appears twice", pair[0]);
    }
    let views = tensors.iter().map(|(name, shape, dtype, bytes)| {
        let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
            .expect("an array's bytes fit its shape");
        (name.clone(), view)
    });
    let bytes = safetensors::serialize(views, Some(metadata))
        .expect("in-memory safetensors serialization cannot fail");
    let length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + length]).expect("the crate writes JSON");
    // serde_json's map is ordered by key (no `preserve_order`), so this writes sorted keys.
    let mut sorted = header.to_string().into_bytes();
    // The data must start 8-byte aligned, as the crate pads it.
    while !(8 + sorted.len()).is_multiple_of(8) {
        sorted.push(b' ');
    }
    let mut out = (sorted.len() as u64).to_le_bytes().to_vec();
    out.extend(sorted);
    out.extend_from_slice(&bytes[8 + length..]);
    out
}

/// The bytes of a `model.safetensors`.
pub fn encode_model(model: &ModelFile) -> Vec<u8> {
    serialize(&stored_state(model), model_metadata(model, MODEL_FORMAT))
}

/// The bytes of a `checkpoint.safetensors`.
pub fn encode_checkpoint(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut tensors = stored_state(&checkpoint.model);
    for (name, a) in &checkpoint.optimizer.buffers {
        let (dtype, bytes) = stored(a);
        tensors.push((
            format!("optimizer.{name}"),
            a.shape().to_vec(),
            dtype,
            bytes,
        ));
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

/// Everything read from a safetensors file: metadata, f32 tensors and int64 counts.
struct Parsed {
    metadata: HashMap<String, String>,
    tensors: Vec<(String, Array<f32>)>,
    counts: Vec<(String, u64)>,
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
    let (mut tensors, mut counts) = (Vec::new(), Vec::new());
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    for name in names {
        let shown = printable(&name, 64);
        let view = file
            .tensor(&name)
            .map_err(|e| format!("tensor `{shown}` cannot be read ({e})"))?;
        if view.dtype() == Dtype::I64 && view.shape().is_empty() {
            let count = i64::from_le_bytes(view.data().try_into().expect("8 bytes for one int64"));
            let count = u64::try_from(count)
                .map_err(|_| format!("tensor `{shown}` holds a negative count ({count})"))?;
            counts.push((name, count));
            continue;
        }
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "tensor `{shown}` is {:?}; only F32 is supported (and int64 counts)",
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
                "tensor `{shown}` holds a non-finite value ({}) at position {i}",
                values[i]
            ));
        }
        tensors.push((name, Array::from_vec(values, view.shape())));
    }
    Ok(Parsed {
        metadata,
        tensors,
        counts,
    })
}

/// Text from a file, made safe to print: control characters escaped, at most `max`
/// characters kept.
fn printable(text: &str, max: usize) -> String {
    let escaped: String = text.chars().flat_map(char::escape_debug).collect();
    crate::text::elide(&escaped, max)
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
struct Unpacked {
    model: ModelFile,
    extra: Vec<(String, Array<f32>)>,
    metadata: HashMap<String, String>,
}

/// Splits tensors into the model's weights (checked against the architecture) and the rest,
/// and checks the metadata that gets printed.
fn model_from(parsed: Parsed, formats: &[&str]) -> Result<Unpacked, String> {
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
            let i = other_counts
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or_else(lacks)?;
            counts.push(other_counts.remove(i));
            continue;
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

fn is_short_printable(text: &str, max: usize) -> bool {
    text.chars().count() <= max && !text.chars().any(char::is_control)
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

fn invalid(name: &str) -> impl Fn(String) -> LoadError + '_ {
    move |problem| LoadError::Invalid {
        file: name.to_string(),
        problem,
    }
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

/// Reads a `checkpoint.safetensors` from bytes; `name` is used in errors. The optimizer's
/// buffers are checked against the model by the optimizer when it loads them.
pub fn decode_checkpoint(bytes: &[u8], name: &str) -> Result<Checkpoint, LoadError> {
    let fail = invalid(name);
    let Unpacked {
        model,
        extra,
        metadata,
    } = model_from(parse(bytes).map_err(&fail)?, &[CHECKPOINT_FORMAT]).map_err(&fail)?;
    let mut buffers = Vec::new();
    for (n, value) in extra {
        let Some(buffer) = n.strip_prefix("optimizer.") else {
            return Err(fail(format!(
                "has tensor `{}` that is neither a weight nor optimizer state",
                printable(&n, 64)
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
    let epochs_done = usize::try_from(number("epochs_done")?)
        .map_err(|_| fail("has no valid `epochs_done` metadata".into()))?;
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

/// Reads and checks a model file from disk: a regular file of at most [`MAX_MODEL_BYTES`].
pub fn load_model(path: &Path) -> Result<ModelFile, LoadError> {
    let shown = path.display().to_string();
    let bytes = read_regular(path, MAX_MODEL_BYTES).map_err(|source| match source {
        ReadError::NotRegular {
            kind: "a directory",
        } => LoadError::Invalid {
            file: shown.clone(),
            problem: "is a directory; give the model file inside it (model.safetensors)".into(),
        },
        source => LoadError::Read {
            file: shown.clone(),
            source,
        },
    })?;
    decode_model(&bytes, &shown)
}

/// Reads and checks a checkpoint from disk: a regular file of at most
/// [`MAX_CHECKPOINT_BYTES`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint, LoadError> {
    let shown = path.display().to_string();
    let bytes = read_regular(path, MAX_CHECKPOINT_BYTES).map_err(|source| LoadError::Read {
        file: shown.clone(),
        source,
    })?;
    decode_checkpoint(&bytes, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ModelFile {
        let arch = Architecture::mlp(4, &[3], 2, Activation::Relu);
        let weights = arch.init(&mut crate::array::Rng::seed(0));
        ModelFile {
            arch,
            dataset: "test".into(),
            class_names: vec!["a".into(), "b".into()],
            weights,
            counts: Vec::new(),
        }
    }

    fn error(result: Result<impl fmt::Debug, LoadError>) -> String {
        result.unwrap_err().to_string()
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
    fn counts_round_trip_exactly_as_int64() {
        // num_batches_tracked was an f32 on its way to the file, exact only up to 2^24.
        let arch = Architecture::parse(&[4], "linear3,bn,linear2").unwrap();
        let weights = arch.init(&mut crate::array::Rng::seed(0));
        let counts = vec![("1.num_batches_tracked".to_string(), (1u64 << 24) + 1)];
        let m = ModelFile {
            arch,
            dataset: "test".into(),
            class_names: vec!["a".into(), "b".into()],
            weights,
            counts: counts.clone(),
        };
        let back = decode_model(&encode_model(&m), "m").unwrap();
        assert_eq!(back.counts, counts);
        let mut missing = m.clone();
        missing.counts.clear();
        assert!(error(decode_model(&encode_model(&missing), "m"))
            .contains("lacks tensor `1.num_batches_tracked`"));
    }

    #[test]
    fn the_same_model_gives_the_same_bytes() {
        // Metadata came out in a HashMap's order, different in every process; the order
        // inside one process can differ between maps too, so encode many times.
        let first = encode_model(&small());
        for _ in 0..20 {
            assert!(encode_model(&small()) == first);
        }
        let header = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        let text = std::str::from_utf8(&first[8..8 + header]).unwrap();
        let at = |key: &str| text.find(key).unwrap();
        assert!(
            at("\"architecture\"") < at("\"class_names\"")
                && at("\"class_names\"") < at("\"dataset\"")
        );
        assert_eq!((8 + header) % 8, 0);
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
        assert_eq!(
            error(decode_model(&encode_checkpoint(&c), "c")),
            "c is a training checkpoint, not a model: use the model.safetensors beside it"
        );
    }

    #[test]
    fn bad_models_are_refused_with_a_reason() {
        let mut m = small();
        m.weights[0].1.data_mut()[0] = f32::NAN;
        assert!(error(decode_model(&encode_model(&m), "m")).contains("non-finite"));
        let mut m = small();
        m.weights.pop();
        assert_eq!(
            error(decode_model(&encode_model(&m), "m")),
            "m lacks tensor `2.bias` that a 4-3-2 relu network needs"
        );
        let mut m = small();
        m.weights[1].1 = Array::zeros(&[5]);
        assert!(error(decode_model(&encode_model(&m), "m")).contains("has `0.bias` of shape [5]"));
        let mut bytes = encode_model(&small());
        bytes[..8].copy_from_slice(&(u64::MAX).to_le_bytes());
        assert!(error(decode_model(&bytes, "m")).contains("over the"));
        assert!(error(decode_model(&bytes[..5], "m")).contains("too short"));
    }

    #[test]
    fn metadata_that_would_be_printed_must_be_short_printable_text() {
        let cases = [
            (vec!["\u{1b}[31mred".to_string(), "b".into()], "has a class name that is not 1 to 32 printable characters (`\\u{1b}[31mred`)"),
            (vec!["a\nforged line".to_string(), "b".into()], "has a class name that is not 1 to 32 printable characters (`a\\nforged line`)"),
            (vec!["x".repeat(100_000), "b".into()], "has a class name that is not 1 to 32 printable characters (`xxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxxxxxxxxxx`)"),
            (vec!["a".to_string()], "has 1 class names for 2 classes"),
        ];
        for (names, want) in cases {
            let mut m = small();
            m.class_names = names;
            assert_eq!(
                error(decode_model(&encode_model(&m), "m")),
                format!("m {want}")
            );
        }
    }
}
