//! Saving what a command produces: one way for every command, so every file is written
//! atomically, never through a special file, and every failure reads the same.

use std::io::Read;
use std::path::Path;

use scratchgrad::files::write_atomic;
use scratchgrad::train::run_dir::{CHECKPOINT, METRICS, SUMMARY};

use crate::{output, Failure};

/// True for the path `-`, which means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `bytes` (a `what`, for the message) to `path` atomically, or to standard output
/// when `path` is `-`.
pub fn save(path: &Path, bytes: &[u8], what: &str) -> Result<(), Failure> {
    if is_stdout(path) {
        return output::write_content(bytes)
            .map_err(|e| Failure::new(format!("cannot write the {what} to standard output: {e}")));
    }
    if let Some(what_is_there) = kept_file(path) {
        return Err(Failure::new(format!(
            "{} is {what_is_there}, which writing the {what} there would destroy: choose another file",
            path.display()
        )));
    }
    write_atomic(path, bytes).map_err(|e| {
        Failure::new(format!(
            "cannot write the {what} to {}: {e}",
            path.display()
        ))
    })
}

/// What is at `path`, when it is something a command's output must never replace: a model
/// or checkpoint (any safetensors file, whatever its name: `export m.safetensors --onnx
/// m.safetensors` once destroyed the model), or a run's metrics or summary.
fn kept_file(path: &Path) -> Option<&'static str> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let mut start = [0u8; 9];
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(9).read_exact(&mut start))
        .is_ok();
    // safetensors: an 8-byte little-endian header length, then the JSON header.
    let header = u64::from_le_bytes(start[..8].try_into().expect("8 bytes"));
    if read && start[8] == b'{' && header + 8 <= meta.len() {
        return Some("a safetensors file (a model or a checkpoint)");
    }
    let name = path.file_name()?.to_str()?;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let in_a_run = folder.join(CHECKPOINT).is_file() || folder.join(METRICS).is_file();
    (in_a_run && [METRICS, SUMMARY].contains(&name)).then_some("a training run's record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_run_records_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("renamed.onnx");
        let mut safetensors = 2u64.to_le_bytes().to_vec();
        safetensors.extend_from_slice(b"{}");
        std::fs::write(&model, &safetensors).unwrap();
        let err = save(&model, b"onnx", "ONNX model").unwrap_err();
        assert!(
            err.message().contains("is a safetensors file"),
            "{}",
            err.message()
        );
        assert_eq!(std::fs::read(&model).unwrap(), safetensors);
        std::fs::write(dir.path().join(METRICS), b"{}\n").unwrap();
        std::fs::write(dir.path().join(SUMMARY), b"{}").unwrap();
        let err = save(&dir.path().join(SUMMARY), b"x", "SVG picture").unwrap_err();
        assert!(err.message().contains("a training run's record"));
        let picture = dir.path().join("graph.svg");
        std::fs::write(&picture, b"old").unwrap();
        save(&picture, b"new", "SVG picture").unwrap();
        assert_eq!(std::fs::read(&picture).unwrap(), b"new");
    }
}
