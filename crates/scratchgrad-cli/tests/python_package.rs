//! The Python package (`crates/scratchgrad-py`) passes its pytest suite: the wheel is built by
//! maturin and installed into a fresh virtual environment, which gets pytest, numpy (the
//! package's one dependency), micrograd (a reference the tests compare with), tqdm (the
//! progress bar), nbclient and ipykernel (to run the example notebook) from PyPI, and pytest
//! runs there, with the command line's binary at hand to compare runs with.
//!
//! Needs `python3` with its `venv` module and access to PyPI (Debian: `apt-get install
//! python3-venv`; `.ci/run` makes sure of both). Without them the test is compiled as
//! ignored (the build script tries `import venv, ensurepip`), so the summary says it did not run;
//! under CI it must run.
//! The wheel's Rust build shares the workspace's `target` folder (cargo lets go of it once the
//! test binaries are built), so the crates it has in common with the tests' build are reused;
//! PyTorch downloads while the wheel builds. Both were CI's longest waits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Why the Python test is ignored where it is.
const NO_PYTHON: &str =
    "needs python3 with venv and PyPI (apt-get install python3-venv; .ci/run installs it)";

/// Set (as `.ci/run` sets it) to install PyTorch into the test's environment, so that
/// micrograd's own `test_engine.py` runs.
const WITH_TORCH: &str = "SCRATCHGRAD_TEST_TORCH";

/// The PyTorch micrograd's tests are checked with (the version the fixtures were made with).
const TORCH: &str = "torch==2.15.0";

/// The workspace's root folder.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `program` with `args` in `dir`, and fails the test with its output if it fails.
fn run(program: &Path, args: &[&str], dir: &Path, env: &[(&str, &Path)]) -> String {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{text}",
        program.display()
    );
    text
}

/// Starts `program` with `args` in `dir`, its output going to `log` (read if it fails).
fn start(program: &Path, args: &[&str], dir: &Path, log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// Waits for a program [`start`] started, and fails the test with its output if it failed.
fn finish(mut child: Child, what: &str, log: &Path) {
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{what} failed:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[test]
#[cfg_attr(
    no_python,
    ignore = "needs python3 with venv and PyPI (apt-get install python3-venv; .ci/run installs it)"
)]
fn the_python_package_passes_its_tests() {
    let root = root();
    let work = root.join("target/python-tests");
    let venv = work.join("venv");
    let wheels = work.join("wheels");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    run(
        Path::new("python3"),
        &["-m", "venv", venv.to_str().unwrap()],
        &work,
        &[],
    );
    let bin = venv.join("bin");
    let pip = bin.join("pip");
    run(
        &pip,
        &[
            "install",
            "--quiet",
            "maturin>=1.8,<2",
            "pytest",
            "micrograd==0.1.0",
            "numpy",
            "tqdm",
            "nbclient",
            "nbformat",
            "ipykernel",
        ],
        &work,
        &[],
    );
    // micrograd's own tests compare with PyTorch: a 3 GB download, so it is installed only
    // where asked for (CI asks), while the wheel builds; elsewhere those two tests are left
    // out, and pytest's header says so.
    let torch_log = work.join("torch-install.log");
    let torch = std::env::var_os(WITH_TORCH)
        .map(|_| start(&pip, &["install", "--quiet", TORCH], &work, &torch_log));
    let package = root.join("crates/scratchgrad-py");
    run(
        &bin.join("maturin"),
        &["build", "--release", "--out", wheels.to_str().unwrap()],
        &package,
        &[("CARGO_TARGET_DIR", &root.join("target"))],
    );
    if let Some(child) = torch {
        finish(child, &format!("pip install {TORCH}"), &torch_log);
    }
    run(
        &pip,
        &[
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            wheels.to_str().unwrap(),
            "scratchgrad",
        ],
        &work,
        &[],
    );
    let report = run(
        &bin.join("python"),
        &[
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "tests",
        ],
        &package,
        &[(
            "SCRATCHGRAD_BIN",
            Path::new(env!("CARGO_BIN_EXE_scratchgrad")),
        )],
    );
    println!("{report}");
    assert!(report.contains(" passed"), "{report}");
}

#[test]
fn under_ci_the_python_tests_run() {
    // CI installs Python's venv before building; were python3 missing, the test above would be
    // ignored and CI would pass without it.
    if std::env::var_os("CI").is_some() {
        let ignored = std::hint::black_box(cfg!(no_python));
        assert!(
            !ignored,
            "CI must run the Python package's tests: {NO_PYTHON}"
        );
        assert!(
            std::env::var_os(WITH_TORCH).is_some(),
            "CI must run micrograd's own tests: set {WITH_TORCH}=1 so PyTorch is installed"
        );
    }
}
