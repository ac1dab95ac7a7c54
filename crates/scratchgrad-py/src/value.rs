//! micrograd's `Value` for Python: a handle to one node of the library's scalar graph
//! (`scratchgrad::scalar::Value`), with Python numbers allowed on either side of every
//! operator. The arithmetic and every derivative are the library's; this file only translates.

use std::mem::ManuallyDrop;
use std::thread::ThreadId;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyFloat;
use scratchgrad::scalar::Value;

/// A scalar that remembers how it was computed, so `backward()` can send gradients back
/// through it (micrograd's `Value`).
///
/// The graph is built of reference-counted nodes that belong to the thread that made them:
/// using a value from another Python thread raises `RuntimeError` instead of racing.
#[pyclass(name = "Value", module = "scratchgrad", frozen)]
pub struct PyValue(OnItsThread);

/// A [`Value`] with the thread that made it: only that thread may touch it.
pub struct OnItsThread {
    thread: ThreadId,
    value: ManuallyDrop<Value>,
}

// SAFETY: the `Value` inside (reference-counted, not thread-safe) is only reached through
// `OnItsThread::get`, which hands it out on the thread that made it and refuses every other;
// and `Drop` drops it only on that thread (elsewhere it is leaked). So no two threads ever
// touch its counts or cells.
unsafe impl Send for OnItsThread {}
// SAFETY: as for Send above: a shared reference from another thread can reach nothing.
unsafe impl Sync for OnItsThread {}

impl OnItsThread {
    fn new(value: Value) -> Self {
        OnItsThread {
            thread: std::thread::current().id(),
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, on the thread that made it.
    fn get(&self) -> PyResult<&Value> {
        if std::thread::current().id() == self.thread {
            Ok(&self.value)
        } else {
            Err(PyRuntimeError::new_err(
                "this Value belongs to the thread that made it: build and use a graph on one \
                 thread",
            ))
        }
    }
}

impl Drop for OnItsThread {
    fn drop(&mut self) {
        if std::thread::current().id() == self.thread {
            // SAFETY: dropped once, here, on the thread that owns it.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
        // On another thread (Python let go of it there) the value is leaked: touching its
        // reference counts from here would race with its own thread.
    }
}

impl PyValue {
    fn wrap(value: Value) -> Self {
        PyValue(OnItsThread::new(value))
    }

    fn value(&self) -> PyResult<&Value> {
        self.0.get()
    }
}

/// What may stand on the other side of an operator: a value or a plain number.
#[derive(FromPyObject)]
pub enum Operand<'py> {
    Value(PyRef<'py, PyValue>),
    Number(f64),
}

impl Operand<'_> {
    fn into_value(self) -> PyResult<Value> {
        match self {
            Operand::Value(v) => v.value().cloned(),
            Operand::Number(x) => Ok(Value::new(x)),
        }
    }
}

/// Python's three-argument `pow` has no meaning here.
pub fn no_modulus(modulo: &Bound<'_, PyAny>) -> PyResult<()> {
    if modulo.is_none() {
        Ok(())
    } else {
        Err(PyValueError::new_err(
            "pow() with a modulus is not defined for a Value",
        ))
    }
}

#[pymethods]
impl PyValue {
    /// A leaf holding `data`, with an optional label shown in its graph.
    #[new]
    #[pyo3(signature = (data, label = None))]
    fn new(data: f64, label: Option<String>) -> Self {
        let value = Value::new(data);
        PyValue::wrap(match label {
            Some(label) => value.with_label(label),
            None => value,
        })
    }

    /// The number this value holds.
    #[getter]
    fn data(&self) -> PyResult<f64> {
        Ok(self.value()?.data())
    }

    #[setter]
    fn set_data(&self, data: f64) -> PyResult<()> {
        self.value()?.set_data(data);
        Ok(())
    }

    /// d(output)/d(this value) after the last `backward()`; leaves add up across calls.
    #[getter]
    fn grad(&self) -> PyResult<f64> {
        Ok(self.value()?.grad())
    }

    #[setter]
    fn set_grad(&self, grad: f64) -> PyResult<()> {
        self.value()?.set_grad(grad);
        Ok(())
    }

    /// The label shown in the graph.
    #[getter]
    fn label(&self) -> PyResult<String> {
        Ok(self.value()?.label())
    }

    /// Sends gradients back from this value: afterwards every value it was computed from
    /// holds d(this)/d(it) in `grad` (leaves add to what they held).
    fn backward(&self) -> PyResult<()> {
        self.value()?.backward();
        Ok(())
    }

    fn __add__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()? + other.into_value()?))
    }

    fn __radd__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(other.into_value()? + self.value()?))
    }

    fn __sub__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()? - other.into_value()?))
    }

    fn __rsub__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(other.into_value()? - self.value()?))
    }

    fn __mul__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()? * other.into_value()?))
    }

    fn __rmul__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(other.into_value()? * self.value()?))
    }

    fn __truediv__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()? / other.into_value()?))
    }

    fn __rtruediv__(&self, other: Operand) -> PyResult<Self> {
        Ok(PyValue::wrap(other.into_value()? / self.value()?))
    }

    /// `self ** exponent`: a number (micrograd's case) or another value.
    fn __pow__(&self, exponent: Operand, modulo: &Bound<'_, PyAny>) -> PyResult<Self> {
        no_modulus(modulo)?;
        let base = self.value()?;
        Ok(PyValue::wrap(match exponent {
            Operand::Number(e) => base.powf(e),
            Operand::Value(e) => base.pow(e.value()?),
        }))
    }

    /// `base ** self` for a number `base`.
    fn __rpow__(&self, base: f64, modulo: &Bound<'_, PyAny>) -> PyResult<Self> {
        no_modulus(modulo)?;
        Ok(PyValue::wrap(Value::new(base).pow(self.value()?)))
    }

    fn __neg__(&self) -> PyResult<Self> {
        let value = self.value()?;
        Ok(PyValue::wrap(-value))
    }

    /// max(x, 0).
    fn relu(&self) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()?.relu()))
    }

    /// tanh(x).
    fn tanh(&self) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()?.tanh()))
    }

    /// e^x.
    fn exp(&self) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()?.exp()))
    }

    /// ln(x).
    fn log(&self) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()?.log()))
    }

    /// 1 / (1 + e^-x).
    fn sigmoid(&self) -> PyResult<Self> {
        Ok(PyValue::wrap(self.value()?.sigmoid()))
    }

    /// `Value(data=-12.0, grad=1.0)`, the numbers written as Python writes floats.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let value = self.value()?;
        let show = |x: f64| PyFloat::new(py, x).repr().map(|r| r.to_string());
        Ok(format!(
            "Value(data={}, grad={})",
            show(value.data())?,
            show(value.grad())?
        ))
    }

    /// The graph as SVG, which a notebook shows when a cell ends in a value (`None` for a
    /// graph too large to lay out, and the notebook prints the value instead).
    fn _repr_svg_(&self) -> PyResult<Option<String>> {
        Ok(self.value()?.to_svg().ok())
    }
}

/// The graph that computed `value`, with every value's data and gradient, as SVG (drawn
/// in-process: no Graphviz needed). Raises `ValueError` for a graph too large to lay out.
#[pyfunction]
pub fn draw_dot(value: PyRef<'_, PyValue>) -> PyResult<String> {
    value.value()?.to_svg().map_err(PyValueError::new_err)
}
