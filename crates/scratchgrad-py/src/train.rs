//! `scratchgrad.train(...)`: the command line's `train` as a function. The settings are the
//! web dashboard's (a JSON object, `train::Settings::from_json`), the run is the library's
//! `Session`, and the training loop runs with the GIL released, so a notebook's other
//! threads keep going. Progress goes to a Python object (`scratchgrad._progress`), which
//! draws a tqdm bar in a notebook or a terminal.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use scratchgrad::data::{load_splits, Split};
use scratchgrad::train::{EpochReport, Folder, Observer, Session, SessionError, Settings};

use crate::interrupt::Interrupt;

/// The most threads a run may ask for (as the command line's `--threads`).
const MAX_THREADS: usize = 256;

/// How often the progress bar is redrawn and Ctrl-C is looked for.
const TICK: Duration = Duration::from_millis(100);

/// Tells the Python progress object about the run, taking the GIL only for that, at most
/// every [`TICK`] (and at each epoch's end); remembers a `KeyboardInterrupt` to stop the run.
struct PythonProgress {
    progress: Py<PyAny>,
    last: Instant,
    /// The exception Python raised while the run went on (Ctrl-C, or one from the progress
    /// object): the run stops and the exception is raised once it has.
    raised: Option<PyErr>,
}

impl PythonProgress {
    /// Runs `tell` with the GIL and the progress object, after looking for Ctrl-C; once
    /// something was raised, does nothing more.
    fn tell(&mut self, tell: impl FnOnce(Python<'_>, &Py<PyAny>) -> PyResult<Py<PyAny>>) {
        if self.raised.is_some() {
            return;
        }
        let progress = &self.progress;
        let result = Python::attach(|py| {
            py.check_signals()?;
            tell(py, progress)
        });
        self.raised = result.err();
    }
}

impl Observer for PythonProgress {
    fn on_batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, accuracy: f64) {
        if batch == 0 || batch + 1 == batches || self.last.elapsed() >= TICK {
            self.last = Instant::now();
            let args = (epoch, batch + 1, batches, loss, accuracy);
            self.tell(|py, progress| progress.call_method1(py, "batch", args));
        }
    }

    fn on_epoch(&mut self, report: &EpochReport<'_>) {
        let metrics = report.metrics.to_json().to_string();
        self.tell(|py, progress| progress.call_method1(py, "epoch", (metrics,)));
    }

    fn should_stop(&self) -> bool {
        self.raised.is_some()
    }
}

/// Trains a classifier as `scratchgrad train` does and returns what the run did as JSON
/// (`folder`, `history`, `test_accuracy`, `wall_seconds`, `pictures`). `settings` is a JSON
/// object of the run's settings (the Python wrapper `scratchgrad.train` makes it).
#[pyfunction]
#[pyo3(signature = (settings, out, data_dir, threads, progress))]
pub fn train_run(
    py: Python<'_>,
    settings: &str,
    out: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    threads: Option<usize>,
    progress: Py<PyAny>,
) -> PyResult<String> {
    let threads = threads.unwrap_or_else(scratchgrad::array::num_threads);
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(PyValueError::new_err(format!(
            "threads: must be 1 to {MAX_THREADS}, not {threads}"
        )));
    }
    let json: serde_json::Value = serde_json::from_str(settings)
        .map_err(|e| PyValueError::new_err(format!("settings: {e}")))?;
    let config = Settings::from_json(&json)
        .and_then(|s| s.config())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let folder = match &out {
        Some(out) => Folder::At(out),
        None => Folder::In(Path::new("runs")),
    };
    let session = Session::start(config, folder).map_err(session_error)?;
    let dataset = session.config().dataset;
    let mut observer = PythonProgress {
        progress,
        last: Instant::now(),
        raised: None,
    };
    let interrupt = Interrupt::default();
    let result = py.detach(|| {
        let splits = load_splits(
            dataset,
            &[Split::Train, Split::Test],
            data_dir.as_deref(),
            &mut |_| {},
            &|| interrupt.requested(),
        )
        .map_err(|e| PyRuntimeError::new_err(e.to_string()));
        let splits = interrupt.raise(splits)?;
        let (train_set, test_set) = (&splits[0], &splits[1]);
        session.check_data(train_set).map_err(session_error)?;
        let folder = session.folder().to_path_buf();
        let finished = session.train(train_set, test_set, threads, &mut observer);
        Ok::<_, PyErr>((folder, finished))
    });
    let (folder, finished) = result?;
    if let Some(raised) = observer.raised.take() {
        return Err(raised);
    }
    let finished = finished.map_err(session_error)?;
    let summary = serde_json::json!({
        "folder": folder.display().to_string(),
        "history": finished.history.iter().map(|m| m.to_json()).collect::<Vec<_>>(),
        "test_accuracy": finished.test_accuracy,
        "wall_seconds": finished.wall_seconds,
        "pictures": finished.pictures.written,
        "warnings": finished.pictures.warnings,
    });
    Ok(summary.to_string())
}

/// A run that could not start or finish, as `RuntimeError` (settings out of range as
/// `ValueError`).
fn session_error(e: SessionError) -> PyErr {
    match e {
        SessionError::Config(e) => PyValueError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}
