//! Model files (`model.safetensors`) and training checkpoints (`checkpoint.safetensors`), in
//! the safetensors format, which holds only numbers and a JSON header: unlike a pickled
//! checkpoint, loading one cannot run code. Every field is still checked before it is trusted.
//!
//! The model file holds the weights named and laid out as PyTorch's `nn.Sequential`
//! state_dict (`0.weight` is `[256, 784]`, ...) plus metadata that says what the network is
//! and how its input was prepared, so `eval` and `predict` need nothing else. The checkpoint
//! adds the optimizer's buffers (`optimizer.velocity.0`, ...), the epochs completed and the
//! training configuration, so `--resume` continues exactly where a run stopped.
//!
//! `container.rs` is the safetensors container (bytes to named tensors and back), `model.rs` the model
//! file, `checkpoint.rs` the checkpoint.

mod checkpoint;
mod container;
mod model;

pub use checkpoint::{decode_checkpoint, encode_checkpoint, load_checkpoint, Checkpoint};
pub use container::{
    encode_named, format_in_folder, format_of, parse as decode_named, Parsed as NamedTensors,
};
pub use model::{decode_model, encode_model, load_model, preprocessing, ModelFile};

use std::fmt;

use crate::files::ReadError;

/// The largest JSON header accepted (a 784-256-10 checkpoint's is under 2 kB).
pub const MAX_HEADER_BYTES: u64 = 1 << 20;
/// The largest model file read: the most parameters an architecture may have, as f32.
pub const MAX_MODEL_BYTES: u64 = (crate::arch::MAX_PARAMETERS as u64) * 4 + MAX_HEADER_BYTES + 8;
/// The largest checkpoint read: the weights and up to two optimizer buffers per weight.
pub const MAX_CHECKPOINT_BYTES: u64 = 3 * MAX_MODEL_BYTES;
pub(crate) const MODEL_FORMAT: &str = "scratchgrad.model.v1";
/// The format of model files written before architectures were layer lists (MLPs only); still
/// read.
pub(crate) const LEGACY_MODEL_FORMAT: &str = "scratchgrad.mlp.v1";
const CHECKPOINT_FORMAT: &str = "scratchgrad.checkpoint.v2";
/// The `format` of a language model's file (`lm::LmFile`).
pub const LANGUAGE_MODEL_FORMAT: &str = "scratchgrad.lm.v1";
const LEGACY_CHECKPOINT_FORMAT: &str = "scratchgrad.checkpoint.v1";
/// The most characters a class name may have.
pub const MAX_CLASS_NAME_CHARS: usize = 32;

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

pub(crate) fn invalid(name: &str) -> impl Fn(String) -> LoadError + '_ {
    move |problem| LoadError::Invalid {
        file: name.to_string(),
        problem,
    }
}

/// Reads `path` as a file of at most `limit` bytes, for the loaders' errors.
/// Reads a model file from disk: a regular file of at most `limit` bytes.
pub fn read_file(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let shown = path.display().to_string();
    crate::files::read_regular(path, limit).map_err(|source| match source {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Activation, Architecture};
    use crate::array::Array;
    use crate::optim::OptimizerState;

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
