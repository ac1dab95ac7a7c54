//! micrograd's `Value` for Python: a handle to one node of the library's scalar graph
//! (`scratchgrad::scalar::Value`), with Python numbers allowed on either side of every
//! operator. The arithmetic and every derivative are the library's; this file only translates.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyFloat;
use scratchgrad::scalar::Value;

/// A scalar that remembers how it was computed, so `backward()` can send gradients back
/// through it (micrograd's `Value`).
///
/// The graph is built of reference-counted nodes that belong to the thread that made them
/// (`unsendable`): using a value from another Python thread raises pyo3's `PanicException`
/// (after a panic message on stderr) instead of racing.
#[pyclass(unsendable, name = "Value", module = "scratchgrad")]
pub struct PyValue(pub Value);

/// What may stand on the other side of an operator: a value or a plain number.
#[derive(FromPyObject)]
pub enum Operand<'py> {
    Value(PyRef<'py, PyValue>),
    Number(f64),
}

impl Operand<'_> {
    fn into_value(self) -> Value {
        match self {
            Operand::Value(v) => v.0.clone(),
            Operand::Number(x) => Value::new(x),
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
        PyValue(match label {
            Some(label) => value.with_label(label),
            None => value,
        })
    }

    /// The number this value holds.
    #[getter]
    fn data(&self) -> f64 {
        self.0.data()
    }

    #[setter]
    fn set_data(&self, data: f64) {
        self.0.set_data(data);
    }

    /// d(output)/d(this value) after the last `backward()`; leaves add up across calls.
    #[getter]
    fn grad(&self) -> f64 {
        self.0.grad()
    }

    #[setter]
    fn set_grad(&self, grad: f64) {
        self.0.set_grad(grad);
    }

    /// The label shown in the graph.
    #[getter]
    fn label(&self) -> String {
        self.0.label()
    }

    /// Sends gradients back from this value: afterwards every value it was computed from
    /// holds d(this)/d(it) in `grad` (leaves add to what they held).
    fn backward(&self) {
        self.0.backward();
    }

    fn __add__(&self, other: Operand) -> Self {
        PyValue(&self.0 + other.into_value())
    }

    fn __radd__(&self, other: Operand) -> Self {
        PyValue(other.into_value() + &self.0)
    }

    fn __sub__(&self, other: Operand) -> Self {
        PyValue(&self.0 - other.into_value())
    }

    fn __rsub__(&self, other: Operand) -> Self {
        PyValue(other.into_value() - &self.0)
    }

    fn __mul__(&self, other: Operand) -> Self {
        PyValue(&self.0 * other.into_value())
    }

    fn __rmul__(&self, other: Operand) -> Self {
        PyValue(other.into_value() * &self.0)
    }

    fn __truediv__(&self, other: Operand) -> Self {
        PyValue(&self.0 / other.into_value())
    }

    fn __rtruediv__(&self, other: Operand) -> Self {
        PyValue(other.into_value() / &self.0)
    }

    /// `self ** exponent`: a number (micrograd's case) or another value.
    fn __pow__(&self, exponent: Operand, modulo: &Bound<'_, PyAny>) -> PyResult<Self> {
        no_modulus(modulo)?;
        Ok(PyValue(match exponent {
            Operand::Number(e) => self.0.powf(e),
            Operand::Value(e) => self.0.pow(&e.0),
        }))
    }

    /// `base ** self` for a number `base`.
    fn __rpow__(&self, base: f64, modulo: &Bound<'_, PyAny>) -> PyResult<Self> {
        no_modulus(modulo)?;
        Ok(PyValue(Value::new(base).pow(&self.0)))
    }

    fn __neg__(&self) -> Self {
        PyValue(-&self.0)
    }

    /// max(x, 0).
    fn relu(&self) -> Self {
        PyValue(self.0.relu())
    }

    /// tanh(x).
    fn tanh(&self) -> Self {
        PyValue(self.0.tanh())
    }

    /// e^x.
    fn exp(&self) -> Self {
        PyValue(self.0.exp())
    }

    /// ln(x).
    fn log(&self) -> Self {
        PyValue(self.0.log())
    }

    /// 1 / (1 + e^-x).
    fn sigmoid(&self) -> Self {
        PyValue(self.0.sigmoid())
    }

    /// `Value(data=-12.0, grad=1.0)`, the numbers written as Python writes floats.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let show = |x: f64| PyFloat::new(py, x).repr().map(|r| r.to_string());
        Ok(format!(
            "Value(data={}, grad={})",
            show(self.0.data())?,
            show(self.0.grad())?
        ))
    }

    /// The graph as SVG, which a notebook shows when a cell ends in a value (`None` for a
    /// graph too large to lay out, and the notebook prints the value instead).
    fn _repr_svg_(&self) -> Option<String> {
        self.0.to_svg().ok()
    }
}

/// The graph that computed `value`, with every value's data and gradient, as SVG (drawn
/// in-process: no Graphviz needed). Raises `ValueError` for a graph too large to lay out.
#[pyfunction]
pub fn draw_dot(value: PyRef<'_, PyValue>) -> PyResult<String> {
    value.0.to_svg().map_err(PyValueError::new_err)
}
