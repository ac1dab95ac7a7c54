//! Files: safetensors model files and training checkpoints, written so that a crash or a full
//! disk never leaves a half-written file where a good one was.
//!
//! Safetensors holds only numbers and a JSON header: unlike a pickled checkpoint, loading one
//! cannot run code. Every field is still checked before it is trusted.

mod atomic;
mod checkpoint;

pub use atomic::{remove_stale_temporaries, write_atomic};
pub use checkpoint::{
    decode_checkpoint, decode_model, encode_checkpoint, encode_model, load_model, Checkpoint,
    ModelFile, MAX_HEADER_BYTES,
};
