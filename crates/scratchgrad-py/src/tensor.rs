//! `scratchgrad.Tensor`: the library's autograd tensor (`scratchgrad::autograd::Tensor`) for
//! Python, in float32 or float64, with numpy arrays in and out. Every operation and every
//! gradient is the library's; this file converts, checks dtypes, and turns the library's
//! refusals (a shape mismatch, a backward from a non-scalar) into Python exceptions.

use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use scratchgrad::array::{Array, Dims, Float};
use scratchgrad::autograd::Tensor;

use crate::limits;
use crate::refusal::{refusal, Kind};

/// A tensor of either float type.
#[derive(Clone)]
pub enum AnyTensor {
    F32(Tensor<f32>),
    F64(Tensor<f64>),
}

/// Applies `$body` to the tensor inside `$t`, whichever its type, and wraps the resulting
/// tensor in the same variant.
macro_rules! map {
    ($t:expr, $x:ident => $body:expr) => {
        match $t {
            AnyTensor::F32($x) => AnyTensor::F32($body),
            AnyTensor::F64($x) => AnyTensor::F64($body),
        }
    };
}

/// Applies `$body` to the tensor inside `$t`, whichever its type, for a result that is not a
/// tensor.
macro_rules! with {
    ($t:expr, $x:ident => $body:expr) => {
        match $t {
            AnyTensor::F32($x) => $body,
            AnyTensor::F64($x) => $body,
        }
    };
}

/// A binary operation on two tensors of the same type.
macro_rules! pair {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (AnyTensor::F32($x), AnyTensor::F32($y)) => Ok(AnyTensor::F32($body)),
            (AnyTensor::F64($x), AnyTensor::F64($y)) => Ok(AnyTensor::F64($body)),
            (a, b) => Err(PyTypeError::new_err(format!(
                "cannot combine a {} tensor with a {} one: make both the same dtype \
                 (Tensor(t.numpy(), dtype=...))",
                a.dtype(),
                b.dtype()
            ))),
        }
    };
}

impl AnyTensor {
    fn dtype(&self) -> &'static str {
        match self {
            AnyTensor::F32(_) => "float32",
            AnyTensor::F64(_) => "float64",
        }
    }

    pub fn shape(&self) -> Vec<usize> {
        with!(self, t => t.shape())
    }

    /// A constant with the same values.
    fn detach_any(&self) -> AnyTensor {
        map!(self, t => t.detach())
    }

    /// A constant of this tensor's type holding `x`.
    fn constant(&self, x: f64) -> AnyTensor {
        match self {
            AnyTensor::F32(_) => AnyTensor::F32(Tensor::new(Array::scalar(x as f32))),
            AnyTensor::F64(_) => AnyTensor::F64(Tensor::new(Array::scalar(x))),
        }
    }
}

/// An n-dimensional array that remembers how it was computed, so `backward()` can fill the
/// `grad` of every tensor made with `requires_grad=True` (PyTorch's `torch.Tensor`).
///
/// >>> import numpy as np
/// >>> from scratchgrad import Tensor
/// >>> w = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
/// >>> (w * w).sum().backward()
/// >>> w.grad
/// array([[2., 4.],
///        [6., 8.]])
#[pyclass(name = "Tensor", module = "scratchgrad", frozen)]
pub struct PyTensor(pub AnyTensor);

/// What may stand on the other side of an operator: a tensor, a plain number, or anything
/// numpy turns into an array (taken as a constant of this tensor's dtype).
#[derive(FromPyObject)]
pub enum Operand<'py> {
    Tensor(PyRef<'py, PyTensor>),
    Number(f64),
    Other(Bound<'py, PyAny>),
}

impl Operand<'_> {
    /// The operand as a tensor of `like`'s dtype (numbers and arrays), or as it is (tensors).
    fn into_tensor(self, like: &AnyTensor) -> PyResult<AnyTensor> {
        match self {
            Operand::Tensor(t) => Ok(t.0.clone()),
            Operand::Number(x) => Ok(like.constant(x)),
            Operand::Other(obj) => from_python(&obj, Some(like.dtype()), false),
        }
    }
}

/// Reads `obj` (a numpy array, a nested list, a number) into a tensor. A float32 or float64
/// array keeps its type unless `dtype` says otherwise; anything else becomes float64, as
/// `numpy.asarray` would make it.
fn from_python(
    obj: &Bound<'_, PyAny>,
    dtype: Option<&str>,
    requires_grad: bool,
) -> PyResult<AnyTensor> {
    if let Ok(array) = obj.cast::<PyArrayDyn<f32>>() {
        if dtype.is_none_or(|d| d == "float32") {
            return Ok(AnyTensor::F32(leaf(array_of(array)?, requires_grad)));
        }
    }
    if let Ok(array) = obj.cast::<PyArrayDyn<f64>>() {
        if dtype.is_none_or(|d| d == "float64") {
            return Ok(AnyTensor::F64(leaf(array_of(array)?, requires_grad)));
        }
    }
    let cannot = |why: String| {
        let kind = obj
            .get_type()
            .name()
            .map_or("value".into(), |n| n.to_string());
        PyTypeError::new_err(format!("cannot make a tensor of a {kind}: {why}"))
    };
    if obj.is_none() {
        return Err(cannot("None is not a number".into()));
    }
    let numpy = obj.py().import("numpy")?;
    // What numpy makes of it first, so that text, None inside a list or complex numbers are
    // refused rather than parsed, turned into NaN or cut to their real part.
    let py = obj.py();
    let keep_memory_error = |e: PyErr| {
        if e.is_instance_of::<PyMemoryError>(py) {
            e
        } else {
            cannot(e.to_string())
        }
    };
    let natural = numpy
        .call_method1("asarray", (obj,))
        .map_err(keep_memory_error)?;
    let natural_dtype = natural.getattr("dtype")?;
    let kind: String = natural_dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        return Err(cannot(format!(
            "its values are {}, not numbers",
            natural_dtype.str()?
        )));
    }
    let single = kind == "f" && natural_dtype.getattr("itemsize")?.extract::<usize>()? == 4;
    let wanted = match dtype {
        None if single => "float32",
        None | Some("float64") => "float64",
        Some("float32") => "float32",
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "dtype must be \"float32\" or \"float64\", not {other:?}"
            )))
        }
    };
    let converted = numpy
        .call_method1("asarray", (natural, wanted))
        .map_err(keep_memory_error)?;
    from_python(&converted, Some(wanted), requires_grad)
}

/// A dtype given as text (`"float32"`, `"f4"`) or as numpy gives it (`np.float32`,
/// `np.dtype("f4")`), as numpy names it.
fn dtype_name(dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    let Some(dtype) = dtype.filter(|d| !d.is_none()) else {
        return Ok(None);
    };
    let numpy = dtype.py().import("numpy")?;
    let name = numpy
        .call_method1("dtype", (dtype,))
        .and_then(|d| d.getattr("name")?.extract::<String>())
        .map_err(|_| PyValueError::new_err("dtype must be \"float32\" or \"float64\""))?;
    Ok(Some(name))
}

/// A numpy array's values as the engine's array: numpy's own memory, lent without a copy,
/// when the array is C-contiguous and aligned; otherwise a copy in row-major order.
fn array_of<T: Float + numpy::Element>(array: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Array<T>> {
    let shape = array.shape().to_vec();
    let lendable = array.is_c_contiguous() && array.len() > 0;
    if let Some(ptr) = NonNull::new(array.data()).filter(|p| lendable && p.as_ptr().is_aligned()) {
        let owner: Arc<dyn Any + Send + Sync> = Arc::new(array.clone().unbind());
        // SAFETY: a C-contiguous, aligned array of `shape` holds that many elements at `ptr`
        // in row-major order, and `owner` keeps the array (so its memory) alive. The engine
        // never writes lent memory (its first write copies), and reads it only inside calls
        // from Python that hold the GIL (this crate never releases the GIL while a tensor
        // may be read), so Python code cannot write it meanwhile. What this cannot stop is
        // native code in another thread that released the GIL (a numpy ufunc with `out=`
        // this array) writing while we read: as rust-numpy's own borrows (its `borrow`
        // module docs), we take it that such code must not write an array another thread
        // reads; the Tensor docstring tells users, as torch.from_numpy's does.
        return Ok(unsafe { Array::from_lent(ptr, &shape, owner) });
    }
    // A view (broadcast, strided) may stand for far more numbers than its memory holds.
    limits::fits("this array", &shape)?;
    let data = array.readonly().as_array().iter().copied().collect();
    Ok(Array::from_vec(data, &shape))
}

/// A leaf holding `array`.
fn leaf<T: Float>(array: Array<T>, requires_grad: bool) -> Tensor<T> {
    if requires_grad {
        Tensor::parameter(array)
    } else {
        Tensor::new(array)
    }
}

/// A numpy array holding a copy of `array`.
pub fn to_numpy<'py, T: Float + numpy::Element>(
    py: Python<'py>,
    array: &Array<T>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_slice(py, array.data())
        .reshape(array.shape().to_vec())?
        .into_any())
}

/// `axis` (negative counts from the end) as an index into `ndim` axes.
fn axis_index(axis: isize, ndim: usize) -> PyResult<usize> {
    let n = ndim as isize;
    if (-n..n).contains(&axis) {
        Ok(axis.rem_euclid(n.max(1)) as usize)
    } else {
        Err(PyValueError::new_err(format!(
            "axis {axis} is out of bounds for a tensor of {ndim} dimension(s)"
        )))
    }
}

/// The axes a reduction runs over: all of them for `None`, or an int or a tuple of ints.
fn reduction_axes(axis: Option<&Bound<'_, PyAny>>, ndim: usize) -> PyResult<Vec<usize>> {
    let Some(axis) = axis.filter(|a| !a.is_none()) else {
        return Ok((0..ndim).collect());
    };
    let given: Vec<isize> = match axis.extract::<isize>() {
        Ok(one) => vec![one],
        Err(_) => axis
            .extract()
            .map_err(|_| PyTypeError::new_err("axis must be None, an int or a tuple of ints"))?,
    };
    let mut axes = given
        .into_iter()
        .map(|a| axis_index(a, ndim))
        .collect::<PyResult<Vec<_>>>()?;
    axes.sort_unstable();
    if axes.windows(2).any(|w| w[0] == w[1]) {
        return Err(PyValueError::new_err("an axis is given twice"));
    }
    Ok(axes)
}

/// Refuses a reduction over `axes` of `shape` whose result would be too large (a zero-size
/// tensor can have huge other axes) or that reduces an axis of size 0 with `max`.
fn reduction_fits(shape: &[usize], axes: &[usize], keepdims: bool) -> PyResult<()> {
    let kept: Vec<usize> = (0..shape.len())
        .filter(|d| keepdims || !axes.contains(d))
        .map(|d| if axes.contains(&d) { 1 } else { shape[d] })
        .collect();
    limits::fits("this reduction", &kept)
}

/// A shape given as separate ints or as one tuple or list (`reshape(2, 3)` or
/// `reshape((2, 3))`), with at most one -1 standing for what is left.
fn shape_argument(args: &Bound<'_, PyTuple>, size: usize) -> PyResult<Vec<usize>> {
    let given: Vec<isize> = match args.len() {
        1 if args.get_item(0)?.extract::<isize>().is_err() => args.get_item(0)?.extract()?,
        _ => args.extract()?,
    };
    let unknown = given.iter().filter(|&&d| d == -1).count();
    if given.iter().any(|&d| d < -1) || unknown > 1 {
        return Err(PyValueError::new_err(format!(
            "a shape's sizes are 0 or more, with at most one -1: not {given:?}"
        )));
    }
    let cannot = || PyValueError::new_err(format!("cannot reshape {size} elements into {given:?}"));
    let known_dims: Vec<usize> = given
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .collect();
    let known = limits::elements(&known_dims).ok_or_else(cannot)?;
    let shape = given
        .iter()
        .map(|&d| match d {
            -1 if known > 0 && size.is_multiple_of(known) => Ok(size / known),
            -1 => Err(cannot()),
            d => Ok(d as usize),
        })
        .collect::<PyResult<Vec<usize>>>()?;
    // Checked here, without wrapping: 7 * 7905747460161236407 wraps to 1 in a plain product.
    if limits::elements(&shape) != Some(size) {
        return Err(cannot());
    }
    Ok(shape)
}

#[pymethods]
impl PyTensor {
    /// Wraps `data` (a numpy array, a nested list or a number). float32 and float64 arrays
    /// keep their type unless `dtype` is given; other data become float64. A C-contiguous
    /// float32 or float64 array is not copied: the tensor reads numpy's memory, so writing
    /// into the array afterwards changes the tensor, as with `torch.from_numpy` (pass
    /// `a.copy()` to keep the values as they are now, and do not write the array from
    /// another thread while tensors made from it are used; written between a forward pass
    /// and its `backward()`, the gradients are wrong, since backward rules read their inputs
    /// then). The tensor never writes into the array: its own in-place updates copy first.
    #[new]
    #[pyo3(signature = (data, requires_grad = false, dtype = None))]
    fn new(
        data: &Bound<'_, PyAny>,
        requires_grad: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let dtype = dtype_name(dtype)?;
        let dtype = dtype.as_deref();
        if let Ok(t) = data.cast::<PyTensor>() {
            let array = t.get().numpy(data.py())?;
            return Ok(PyTensor(from_python(&array, dtype, requires_grad)?));
        }
        Ok(PyTensor(from_python(data, dtype, requires_grad)?))
    }

    /// numpy defers to this type's operators (`array + tensor` gives a tensor).
    #[classattr]
    fn __array_ufunc__() -> Option<()> {
        None
    }

    /// The size of each dimension.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.0.shape())
    }

    /// The number of dimensions.
    #[getter]
    fn ndim(&self) -> usize {
        self.0.shape().len()
    }

    /// `"float32"` or `"float64"`.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.0.dtype()
    }

    /// Whether `backward()` sends gradients into (or through) this tensor.
    #[getter]
    fn requires_grad(&self) -> bool {
        with!(&self.0, t => t.requires_grad())
    }

    /// The gradient `backward()` left in this leaf (a numpy array), or `None`. Gradients add
    /// up across calls; `t.grad = None` forgets them.
    #[getter]
    fn grad<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        with!(&self.0, t => t.grad().map(|g| to_numpy(py, &g)).transpose())
    }

    #[setter]
    fn set_grad(&self, grad: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        match grad {
            None => {
                with!(&self.0, t => t.zero_grad());
                Ok(())
            }
            Some(_) => Err(PyValueError::new_err(
                "a tensor's grad can only be set to None (to forget it)",
            )),
        }
    }

    /// A copy of the values as a numpy array.
    fn numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        with!(&self.0, t => to_numpy(py, &t.data()))
    }

    /// numpy's conversion hook: `np.asarray(t)` is `t.numpy()`.
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = copy;
        let array = self.numpy(py)?;
        match dtype {
            Some(dtype) if !dtype.is_none() => array.call_method1("astype", (dtype,)),
            _ => Ok(array),
        }
    }

    /// The only number of a one-element tensor.
    fn item(&self) -> PyResult<f64> {
        let shape = self.0.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(PyValueError::new_err(format!(
                "item() needs a tensor of one element, not of shape {shape:?}"
            )));
        }
        Ok(with!(&self.0, t => t.item().to_f64()))
    }

    /// A constant with the same values, cut off from the graph.
    fn detach(&self) -> Self {
        PyTensor(map!(&self.0, t => t.detach()))
    }

    /// Sends gradients back from this tensor into every tensor made with
    /// `requires_grad=True` it was computed from. Without `gradient` the tensor must hold one
    /// number (a loss); otherwise `gradient` is d(loss)/d(this tensor), of its shape.
    #[pyo3(signature = (gradient = None))]
    fn backward(&self, gradient: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let shape = self.0.shape();
        if gradient.is_none() && shape.iter().product::<usize>() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "backward() without a gradient needs a tensor of one number (a loss), not of \
                 shape {shape:?}: reduce it first (t.sum()) or pass gradient= of that shape"
            )));
        }
        let upstream = gradient
            .map(|g| from_python(g, Some(self.0.dtype()), false))
            .transpose()?;
        if let Some(given) = upstream.as_ref().map(AnyTensor::shape) {
            if given != shape {
                return Err(PyValueError::new_err(format!(
                    "backward(gradient=...): the gradient has shape {given:?}, the tensor {shape:?}"
                )));
            }
        }
        // With the GIL held: the graph may read numpy memory lent to it (see `array_of`).
        let this = self.0.clone();
        refusal(Kind::Runtime, move || match (this, upstream) {
            (t, None) => with!(t, t => t.backward()),
            (AnyTensor::F32(t), Some(AnyTensor::F32(g))) => t.backward_with(g.to_array()),
            (AnyTensor::F64(t), Some(AnyTensor::F64(g))) => t.backward_with(g.to_array()),
            _ => unreachable!("the gradient was read in the tensor's dtype"),
        })
    }

    fn __add__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, false, |a, b| pair!(a, b, |x, y| x.add(&y)))
    }

    fn __radd__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, true, |a, b| pair!(a, b, |x, y| x.add(&y)))
    }

    fn __sub__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, false, |a, b| pair!(a, b, |x, y| x.sub(&y)))
    }

    fn __rsub__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, true, |a, b| pair!(a, b, |x, y| x.sub(&y)))
    }

    fn __mul__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, false, |a, b| pair!(a, b, |x, y| x.mul(&y)))
    }

    fn __rmul__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, true, |a, b| pair!(a, b, |x, y| x.mul(&y)))
    }

    fn __truediv__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, false, |a, b| pair!(a, b, |x, y| x.div(&y)))
    }

    fn __rtruediv__(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, true, |a, b| pair!(a, b, |x, y| x.div(&y)))
    }

    /// `self ** exponent`: a number (one operation, `x^c`) or a tensor, broadcasting.
    fn __pow__(&self, exponent: Operand, modulo: &Bound<'_, PyAny>) -> PyResult<Self> {
        crate::value::no_modulus(modulo)?;
        match exponent {
            Operand::Number(c) => Ok(PyTensor(map!(&self.0, t => t.powf(Float::from_f64(c))))),
            other => self.binary(other, false, |a, b| pair!(a, b, |x, y| x.pow(&y))),
        }
    }

    fn __rpow__(&self, base: Operand, modulo: &Bound<'_, PyAny>) -> PyResult<Self> {
        crate::value::no_modulus(modulo)?;
        self.binary(base, true, |a, b| pair!(a, b, |x, y| x.pow(&y)))
    }

    /// The matrix product over the last two axes (leading axes broadcast).
    fn __matmul__(&self, other: Operand) -> PyResult<Self> {
        self.binary_shaped(other, false, limits::matmul, |a, b| {
            pair!(a, b, |x, y| x.matmul(&y))
        })
    }

    fn __rmatmul__(&self, other: Operand) -> PyResult<Self> {
        self.binary_shaped(other, true, limits::matmul, |a, b| {
            pair!(a, b, |x, y| x.matmul(&y))
        })
    }

    fn __neg__(&self) -> Self {
        PyTensor(map!(&self.0, t => t.neg()))
    }

    /// `self -= other` in place (a parameter update): under `no_grad()` for a tensor that
    /// requires grad, as in PyTorch; `other` broadcasts to this tensor's shape.
    fn __isub__(&self, other: Operand) -> PyResult<()> {
        self.in_place(other, |a, b| pair!(a, b, |x, y| x.sub(&y)))
    }

    /// Overwrites this leaf's values with `source`'s (a tensor or array of the same shape),
    /// under the same rule as `-=`; returns the tensor (PyTorch's `Tensor.copy_`).
    fn copy_<'py>(slf: PyRef<'py, Self>, source: Operand) -> PyResult<PyRef<'py, Self>> {
        let shape = slf.0.shape();
        slf.in_place(source, |a, b| {
            if a.dtype() != b.dtype() {
                Err(PyTypeError::new_err(format!(
                    "copy_: the source is {}, the tensor {}: convert it first",
                    b.dtype(),
                    a.dtype()
                )))
            } else if b.shape() == shape {
                Ok(b)
            } else {
                Err(PyValueError::new_err(format!(
                    "copy_: the source has shape {:?}, the tensor {shape:?}",
                    b.shape()
                )))
            }
        })?;
        Ok(slf)
    }

    /// `self += other` in place, as `-=`.
    fn __iadd__(&self, other: Operand) -> PyResult<()> {
        self.in_place(other, |a, b| pair!(a, b, |x, y| x.add(&y)))
    }

    /// `self *= other` in place, as `-=`.
    fn __imul__(&self, other: Operand) -> PyResult<()> {
        self.in_place(other, |a, b| pair!(a, b, |x, y| x.mul(&y)))
    }

    /// The larger of each pair, broadcasting.
    fn maximum(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, false, |a, b| pair!(a, b, |x, y| x.maximum(&y)))
    }

    /// The smaller of each pair, broadcasting.
    fn minimum(&self, other: Operand) -> PyResult<Self> {
        self.binary(other, false, |a, b| pair!(a, b, |x, y| x.minimum(&y)))
    }

    /// max(x, 0) elementwise.
    fn relu(&self) -> Self {
        PyTensor(map!(&self.0, t => t.relu()))
    }

    /// tanh(x) elementwise.
    fn tanh(&self) -> Self {
        PyTensor(map!(&self.0, t => t.tanh()))
    }

    /// 1 / (1 + e^-x) elementwise.
    fn sigmoid(&self) -> Self {
        PyTensor(map!(&self.0, t => t.sigmoid()))
    }

    /// GELU in its tanh form (PyTorch's `approximate="tanh"`).
    fn gelu(&self) -> Self {
        PyTensor(map!(&self.0, t => t.gelu()))
    }

    /// e^x elementwise.
    fn exp(&self) -> Self {
        PyTensor(map!(&self.0, t => t.exp()))
    }

    /// The natural log elementwise.
    fn log(&self) -> Self {
        PyTensor(map!(&self.0, t => t.log()))
    }

    /// The square root elementwise.
    fn sqrt(&self) -> Self {
        PyTensor(map!(&self.0, t => t.sqrt()))
    }

    /// |x| elementwise.
    fn abs(&self) -> Self {
        PyTensor(map!(&self.0, t => t.abs()))
    }

    /// The sum over `axis` (an int, a tuple, or `None` for all), as numpy's `sum`.
    #[pyo3(signature = (axis = None, keepdims = false))]
    fn sum(&self, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyResult<Self> {
        let axes = reduction_axes(axis, self.0.shape().len())?;
        reduction_fits(&self.0.shape(), &axes, keepdims)?;
        Ok(PyTensor(map!(&self.0, t => t.sum(&axes, keepdims))))
    }

    /// The mean over `axis` (an int, a tuple, or `None` for all), as numpy's `mean`.
    #[pyo3(signature = (axis = None, keepdims = false))]
    fn mean(&self, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyResult<Self> {
        let axes = reduction_axes(axis, self.0.shape().len())?;
        reduction_fits(&self.0.shape(), &axes, keepdims)?;
        self.refused(Kind::Value, |t| map!(t, t => t.mean(&axes, keepdims)))
    }

    /// The largest value over `axis` (an int, a tuple, or `None` for all), as numpy's `max`;
    /// equal largest values share the gradient equally (as `torch.amax`).
    #[pyo3(signature = (axis = None, keepdims = false))]
    fn max(&self, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyResult<Self> {
        let axes = reduction_axes(axis, self.0.shape().len())?;
        reduction_fits(&self.0.shape(), &axes, keepdims)?;
        let shape = self.0.shape();
        if axes.iter().any(|&a| shape[a] == 0) {
            return Err(PyValueError::new_err(format!(
                "max of a zero-size axis of shape {shape:?} has no value"
            )));
        }
        self.refused(Kind::Value, |t| map!(t, t => t.max(&axes, keepdims)))
    }

    /// e^x / sum(e^x) along `axis` (the last by default).
    #[pyo3(signature = (axis = -1))]
    fn softmax(&self, axis: isize) -> PyResult<Self> {
        let axis = axis_index(axis, self.0.shape().len())?;
        reduction_fits(&self.0.shape(), &[axis], true)?;
        Ok(PyTensor(map!(&self.0, t => t.softmax(axis))))
    }

    /// x - log(sum(e^x)) along `axis` (the last by default).
    #[pyo3(signature = (axis = -1))]
    fn log_softmax(&self, axis: isize) -> PyResult<Self> {
        let axis = axis_index(axis, self.0.shape().len())?;
        reduction_fits(&self.0.shape(), &[axis], true)?;
        Ok(PyTensor(map!(&self.0, t => t.log_softmax(axis))))
    }

    /// `length` entries of `axis` from `start` on (PyTorch's `Tensor.narrow`); the
    /// gradient goes back to those entries.
    fn narrow(&self, axis: isize, start: usize, length: usize) -> PyResult<Self> {
        let shape = self.0.shape();
        let axis = axis_index(axis, shape.len())?;
        if start
            .checked_add(length)
            .is_none_or(|end| end > shape[axis])
        {
            return Err(PyValueError::new_err(format!(
                "narrow: entries {start}..{} of axis {axis} do not fit its size {}",
                start.saturating_add(length),
                shape[axis]
            )));
        }
        self.refused(Kind::Value, |t| map!(t, t => t.narrow(axis, start, length)))
    }

    /// Attention's weights from scores `(..., T, T)`: each row the softmax of `scale` times
    /// its entries up to the diagonal, 0 after it (a position sees only itself and the past).
    #[pyo3(signature = (scale = 1.0))]
    fn causal_softmax(&self, scale: f64) -> PyResult<Self> {
        self.refused(
            Kind::Value,
            |t| map!(t, t => t.causal_softmax(Float::from_f64(scale))),
        )
    }

    /// The same values in a new shape (`reshape(2, 3)`, `reshape((2, -1))`).
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let size = self.0.shape().iter().product();
        let shape = shape_argument(shape, size)?;
        self.refused(Kind::Value, |t| map!(t, t => t.reshape(&shape)))
    }

    /// The axes in a new order (`permute(1, 0, 2)`).
    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let dims: Vec<isize> = match dims.len() {
            1 if dims.get_item(0)?.extract::<isize>().is_err() => dims.get_item(0)?.extract()?,
            _ => dims.extract()?,
        };
        let ndim = self.0.shape().len();
        let perm = dims
            .into_iter()
            .map(|d| axis_index(d, ndim))
            .collect::<PyResult<Vec<_>>>()?;
        self.refused(Kind::Value, |t| map!(t, t => t.permute(&perm)))
    }

    /// The last two axes swapped.
    #[getter(T)]
    fn transposed(&self) -> PyResult<Self> {
        self.refused(Kind::Value, |t| map!(t, t => t.transpose()))
    }

    fn __len__(&self) -> PyResult<usize> {
        self.0
            .shape()
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d tensor"))
    }

    /// `Tensor(array([...]), requires_grad=True)`, numpy's way of writing the values.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let values = self.numpy(py)?.repr()?.to_string();
        let dtype = if self.0.dtype() == "float32" {
            ""
        } else {
            ", dtype=float64"
        };
        let grad = if self.requires_grad() {
            ", requires_grad=True"
        } else {
            ""
        };
        let values = values.replace(", dtype=float32", "");
        Ok(format!("Tensor({values}{dtype}{grad})"))
    }

    /// The state pickle and `copy` need: the values, the dtype and `requires_grad`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let kwargs = PyDict::new(py);
        kwargs.set_item("requires_grad", this.requires_grad())?;
        kwargs.set_item("dtype", this.dtype())?;
        let rebuild = py.import("scratchgrad")?.getattr("_rebuild_tensor")?;
        PyTuple::new(
            py,
            [
                rebuild,
                PyTuple::new(py, [this.numpy(py)?, kwargs.into_any()])?.into_any(),
            ],
        )
    }
}

impl PyTensor {
    /// `op(self, other)`, or `op(other, self)` when `reversed` (Python's `__radd__` and
    /// friends), with a shape mismatch raised as `ValueError`.
    fn binary(
        &self,
        other: Operand,
        reversed: bool,
        op: impl FnOnce(AnyTensor, AnyTensor) -> PyResult<AnyTensor>,
    ) -> PyResult<Self> {
        self.binary_shaped(other, reversed, limits::broadcast, op)
    }

    /// [`PyTensor::binary`] for an operation whose result has the shape `shape_of` gives
    /// (checked against [`limits::MAX_ELEMENTS`] before anything is computed).
    fn binary_shaped(
        &self,
        other: Operand,
        reversed: bool,
        shape_of: fn(&[usize], &[usize]) -> Option<Dims>,
        op: impl FnOnce(AnyTensor, AnyTensor) -> PyResult<AnyTensor>,
    ) -> PyResult<Self> {
        let other = other.into_tensor(&self.0)?;
        let (a, b) = if reversed {
            (other, self.0.clone())
        } else {
            (self.0.clone(), other)
        };
        if let Some(shape) = shape_of(&a.shape(), &b.shape()) {
            limits::fits("this operation", &shape)?;
        }
        refusal(Kind::Value, move || op(a, b))?.map(PyTensor)
    }

    /// Replaces this leaf's values with `op(self, other)`, computed without a graph.
    fn in_place(
        &self,
        other: Operand,
        op: impl FnOnce(AnyTensor, AnyTensor) -> PyResult<AnyTensor>,
    ) -> PyResult<()> {
        let leaf = with!(&self.0, t => t.is_leaf());
        if !leaf || (self.requires_grad() && scratchgrad::autograd::grad_enabled()) {
            return Err(PyRuntimeError::new_err(
                "an in-place change is for a leaf, and for one that requires grad only under \
                 no_grad(): with scratchgrad.no_grad(): w -= lr * w.grad",
            ));
        }
        let other = other.into_tensor(&self.0)?;
        let shape = self.0.shape();
        if let Some(result) = limits::broadcast(&shape, &other.shape()) {
            limits::fits("this operation", &result)?;
        }
        let this = self.0.clone();
        let result = refusal(Kind::Value, move || {
            scratchgrad::autograd::no_grad(|| op(this.detach_any(), other))
        })??;
        if result.shape() != shape {
            return Err(PyValueError::new_err(format!(
                "an in-place result must keep the shape {shape:?}, not become {:?}",
                result.shape()
            )));
        }
        match (&self.0, result) {
            (AnyTensor::F32(t), AnyTensor::F32(r)) => t.update_data(|v| *v = r.to_array()),
            (AnyTensor::F64(t), AnyTensor::F64(r)) => t.update_data(|v| *v = r.to_array()),
            _ => unreachable!("pair! keeps the dtype"),
        }
        Ok(())
    }

    /// `op(self)` with the library's refusal raised as an exception of `kind`.
    fn refused(&self, kind: Kind, op: impl FnOnce(AnyTensor) -> AnyTensor) -> PyResult<Self> {
        let this = self.0.clone();
        refusal(kind, move || op(this)).map(PyTensor)
    }
}

/// `with no_grad():` runs its block without recording the graph on this thread (PyTorch's
/// `torch.no_grad`): results are constants, for evaluation and parameter updates.
#[pyclass(name = "no_grad", module = "scratchgrad")]
pub struct NoGrad {
    /// Whether recording was on when the block began.
    before: Vec<bool>,
}

#[pymethods]
impl NoGrad {
    #[new]
    fn new() -> Self {
        NoGrad { before: Vec::new() }
    }

    fn __enter__(&mut self) {
        self.before
            .push(scratchgrad::autograd::set_grad_enabled(false));
    }

    fn __exit__(
        &mut self,
        _kind: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let before = self.before.pop().ok_or_else(|| {
            PyRuntimeError::new_err("no_grad: __exit__ without a matching __enter__")
        })?;
        scratchgrad::autograd::set_grad_enabled(before);
        Ok(false)
    }
}

/// Whether operations on this thread record the graph (False inside `with no_grad():`).
#[pyfunction]
pub fn is_grad_enabled() -> bool {
    scratchgrad::autograd::grad_enabled()
}
