//! The library refuses bad arguments (shapes that do not broadcast, a backward from a tensor
//! of many numbers) by panicking with a message that names what was wrong. Here such a
//! refusal becomes a Python exception carrying that message, and the panic hook keeps quiet
//! about it, since the exception already says everything.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::PyResult;

thread_local! {
    /// Whether this thread is inside [`refusal`], where a panic is an expected refusal.
    static EXPECTED: Cell<bool> = const { Cell::new(false) };
}

/// Which Python exception a refusal becomes.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `ValueError`: an argument was wrong (shapes, axes).
    Value,
    /// `RuntimeError`: the call does not fit the tensor's state (PyTorch's choice for
    /// `backward()` on a tensor of many numbers).
    Runtime,
}

/// Keeps the panic hook quiet for refusals and hands every other panic to the hook that was
/// there before (pyo3 turns those into `PanicException`). Called once, when the module loads.
pub fn quiet_refusals() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !EXPECTED.with(Cell::get) {
            previous(info);
        }
    }));
}

/// Runs `f`; a panic inside it becomes an exception of `kind` with the panic's message.
pub fn refusal<R>(kind: Kind, f: impl FnOnce() -> R) -> PyResult<R> {
    let outer = EXPECTED.with(|e| e.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    EXPECTED.with(|e| e.set(outer));
    result.map_err(|payload| {
        let message = message_of(payload.as_ref());
        match kind {
            Kind::Value => PyValueError::new_err(message),
            Kind::Runtime => PyRuntimeError::new_err(message),
        }
    })
}

/// The text a panic was raised with.
fn message_of(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "the library refused the call".to_string()
    }
}
