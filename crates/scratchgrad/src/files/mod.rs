//! Files, handled carefully: written in one piece (a new temporary file, flushed, renamed
//! over the old), appended to durably, never through something that is not a plain file
//! (a FIFO, a device, a symlink), and read only when regular and within a size chosen for
//! what they should hold.

mod atomic;
mod read;

pub use atomic::{
    append_durably, is_temporary, remove_stale_temporaries, write_atomic, TEMP_PREFIX, TEMP_SUFFIX,
};
pub use read::{
    describe_kind, not_a_folder, read_in_folder, read_regular, read_start_in_folder, ReadError,
};
