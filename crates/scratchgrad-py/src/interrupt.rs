//! Ctrl-C while the Rust side works with the GIL released (a download, a training run): a
//! stop check that looks for Python's signals, and the exception to raise afterwards.

use pyo3::PyResult;

/// Ctrl-C (or another signal handler's exception) while Rust works with the GIL released: the
/// first call that sees one keeps it and answers true from then on, so a download or a run
/// can stop cleanly; [`Interrupt::raise`] hands the exception back to Python afterwards.
#[derive(Default)]
pub struct Interrupt(std::sync::Mutex<Option<pyo3::PyErr>>);

impl Interrupt {
    /// Whether a signal has arrived (taking the GIL for a moment to look).
    pub fn requested(&self) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = pyo3::Python::attach(|py| py.check_signals()).err();
        }
        slot.is_some()
    }

    /// The exception a signal raised, if one did, to be raised in place of `result`'s.
    pub fn raise<R>(&self, result: PyResult<R>) -> PyResult<R> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(error) => Err(error),
            None => result,
        }
    }
}
