//! The training checkpoint: the model so far, the optimizer's buffers and step count, the
//! epochs completed and the training configuration.

use std::path::Path;

use super::container::{parse, printable, serialize, stored};
use super::model::{model_from, model_metadata, stored_state, ModelFile, Unpacked};
use super::{invalid, read_file, LoadError, CHECKPOINT_FORMAT, MAX_CHECKPOINT_BYTES};
use crate::optim::OptimizerState;

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

/// Reads and checks a checkpoint from disk: a regular file of at most
/// [`MAX_CHECKPOINT_BYTES`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint, LoadError> {
    let bytes = read_file(path, MAX_CHECKPOINT_BYTES)?;
    decode_checkpoint(&bytes, &path.display().to_string())
}
