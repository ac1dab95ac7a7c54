//! Tells the tests whether a browser is installed: the pages' browser tests need Debian's
//! `chromium` and `chromedriver`, and without them they are compiled as ignored, with the
//! reason, so that `cargo test` says what did not run instead of passing them silently. The
//! same for the tests that read the full text data sets from `../shared/data` beside the
//! checkout (the development machines and CI keep copies there; there is no internet), and
//! for the Python package's tests, which need `python3` with its `venv` module.

use std::path::{Path, PathBuf};

/// The directories a program is looked for in: PATH, and /usr/bin.
fn search_path() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/bin"));
    dirs
}

fn installed(program: &str, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|dir| dir.join(program).is_file())
}

/// Whether `python3` runs and can make virtual environments.
fn python_with_venv() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_browser)");
    println!("cargo::rustc-check-cfg=cfg(no_shared_data)");
    println!("cargo::rustc-check-cfg=cfg(no_python)");
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/names.txt");
    println!("cargo::rerun-if-changed={}", shared.display());
    if !shared.is_file() {
        println!("cargo::rustc-cfg=no_shared_data");
    }
    println!("cargo::rerun-if-env-changed=PATH");
    let dirs = search_path();
    // Installing a browser changes these folders: the probe runs again then.
    for dir in dirs.iter().filter(|d| Path::new(d).is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    if !(installed("chromium", &dirs) && installed("chromedriver", &dirs)) {
        println!("cargo::rustc-cfg=no_browser");
    }
    // The Python package's tests need python3 with its venv module (Debian ships it apart, in
    // python3-venv).
    if !python_with_venv() {
        println!("cargo::rustc-cfg=no_python");
    }
}
