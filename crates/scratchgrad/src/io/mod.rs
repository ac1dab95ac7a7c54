//! Files: safetensors model files and training checkpoints, written so that a crash or a full
//! disk never leaves a half-written file where a good one was, and read so that a special
//! file or an oversized one is refused before it is read.
//!
//! Safetensors holds only numbers and a JSON header: unlike a pickled checkpoint, loading one
//! cannot run code. Every field is still checked before it is trusted.

mod atomic;
mod checkpoint;
mod read;

pub use atomic::{
    append_durably, is_temporary, remove_stale_temporaries, write_atomic, TEMP_PREFIX, TEMP_SUFFIX,
};
pub use checkpoint::{
    decode_checkpoint, decode_model, encode_checkpoint, encode_model, load_checkpoint, load_model,
    preprocessing, Checkpoint, LoadError, ModelFile, MAX_CHECKPOINT_BYTES, MAX_CLASS_NAME_CHARS,
    MAX_HEADER_BYTES, MAX_MODEL_BYTES,
};
pub use read::{describe_kind, not_a_folder, read_in_folder, read_regular, ReadError};
