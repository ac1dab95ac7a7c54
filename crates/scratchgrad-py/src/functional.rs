//! `scratchgrad.nn.functional`'s operations that are not methods of `Tensor`: convolution,
//! pooling, embedding lookup, layer norm and cross-entropy, each one call of the library's
//! autograd operation (its backward is the library's, in `autograd/backward.rs`).

use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use scratchgrad::array::{Array, Window};
use scratchgrad::nn::cross_entropy as library_cross_entropy;

use crate::limits;
use crate::refusal::{refusal, Kind};
use crate::tensor::{AnyTensor, PyTensor};

/// Runs `op` on two or three tensors of one dtype, with the library's refusals as
/// `ValueError`, and a dtype mismatch as `TypeError`.
macro_rules! same_dtype {
    (($($t:expr),+), |$($x:ident),+| $body:expr) => {{
        let tensors = ($($t.0.clone()),+);
        match tensors {
            ($(AnyTensor::F32($x)),+) => refusal(Kind::Value, move || AnyTensor::F32($body)),
            ($(AnyTensor::F64($x)),+) => refusal(Kind::Value, move || AnyTensor::F64($body)),
            _ => Err(PyTypeError::new_err("the tensors must all be float32 or all float64")),
        }
        .map(PyTensor)
    }};
}

/// Runs `op` on one tensor, whichever its dtype, with the library's refusals as `ValueError`.
macro_rules! one {
    ($t:expr, |$x:ident| $body:expr) => {{
        let tensor = $t.0.clone();
        refusal(Kind::Value, move || match tensor {
            AnyTensor::F32($x) => AnyTensor::F32($body),
            AnyTensor::F64($x) => AnyTensor::F64($body),
        })
        .map(PyTensor)
    }};
}

/// A square window of `kernel_size`, `stride` and `padding`, as PyTorch's arguments.
fn window(kernel_size: usize, stride: usize, padding: usize) -> PyResult<Window> {
    if kernel_size == 0 || stride == 0 {
        return Err(PyValueError::new_err(format!(
            "kernel_size and stride must be at least 1, not {kernel_size} and {stride}"
        )));
    }
    Ok(Window {
        kh: kernel_size,
        kw: kernel_size,
        stride,
        padding,
    })
}

/// Refuses a convolution whose padded input, unfolded patches or result would be too large
/// (a huge padding, say), with arithmetic that cannot wrap.
fn conv_fits(input: &[usize], weight: &[usize], w: &Window) -> PyResult<()> {
    let (&[n, c, h, wd], &[out, _, kh, kw]) = (input, weight) else {
        return Ok(()); // the library refuses other shapes with its own message
    };
    let too_large =
        || PyMemoryError::new_err(format!("conv2d: padding {} is too large", w.padding));
    let pad = w.padding.checked_mul(2).ok_or_else(too_large)?;
    let (hp, wp) = (
        h.checked_add(pad).ok_or_else(too_large)?,
        wd.checked_add(pad).ok_or_else(too_large)?,
    );
    if hp < kh || wp < kw {
        return Ok(());
    }
    let (oh, ow) = ((hp - kh) / w.stride + 1, (wp - kw) / w.stride + 1);
    limits::fits("conv2d", &[n, c, hp, wp])?;
    limits::fits("conv2d", &[n, out, oh, ow])?;
    limits::fits("conv2d", &[n, oh, ow, c, kh, kw])
}

/// 2-D convolution of `input` `(n, in, h, w)` with `weight` `(out, in, kh, kw)` and an
/// optional `bias` `(out,)`, as `torch.nn.functional.conv2d`.
#[pyfunction]
#[pyo3(signature = (input, weight, bias = None, stride = 1, padding = 0))]
pub fn conv2d(
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: Option<PyRef<'_, PyTensor>>,
    stride: usize,
    padding: usize,
) -> PyResult<PyTensor> {
    let shape = weight.0.shape();
    if shape.len() != 4 {
        return Err(PyValueError::new_err(format!(
            "conv2d: the weight must be (out, in, kh, kw), not of shape {shape:?}"
        )));
    }
    let window = Window {
        kw: shape[3],
        ..window(shape[2], stride, padding)?
    };
    if window.kw == 0 {
        return Err(PyValueError::new_err(
            "conv2d: the kernel's width must be at least 1",
        ));
    }
    conv_fits(&input.0.shape(), &shape, &window)?;
    match bias {
        Some(bias) => same_dtype!((input, weight, bias), |x, w, b| x.conv2d(
            &w,
            Some(&b),
            window
        )),
        None => same_dtype!((input, weight), |x, w| x.conv2d(&w, None, window)),
    }
}

/// Max pooling over `kernel_size` windows moved by `stride` (`kernel_size` by default).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride = None))]
pub fn max_pool2d(
    input: PyRef<'_, PyTensor>,
    kernel_size: usize,
    stride: Option<usize>,
) -> PyResult<PyTensor> {
    let window = window(kernel_size, stride.unwrap_or(kernel_size), 0)?;
    one!(input, |x| x.max_pool2d(window))
}

/// Average pooling over `kernel_size` windows moved by `stride` (`kernel_size` by default).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride = None))]
pub fn avg_pool2d(
    input: PyRef<'_, PyTensor>,
    kernel_size: usize,
    stride: Option<usize>,
) -> PyResult<PyTensor> {
    let window = window(kernel_size, stride.unwrap_or(kernel_size), 0)?;
    one!(input, |x| x.avg_pool2d(window))
}

/// Layer normalization over the last axis, with a learnt scale and shift.
#[pyfunction]
#[pyo3(signature = (input, weight, bias, eps = 1e-5))]
pub fn layer_norm(
    input: PyRef<'_, PyTensor>,
    weight: PyRef<'_, PyTensor>,
    bias: PyRef<'_, PyTensor>,
    eps: f64,
) -> PyResult<PyTensor> {
    same_dtype!((input, weight, bias), |x, w, b| x.layer_norm(&w, &b, eps))
}

/// Whole numbers from a numpy array, list or int, each below `limit`, with their shape.
fn indices(obj: &Bound<'_, PyAny>, limit: usize, what: &str) -> PyResult<(Vec<usize>, Vec<usize>)> {
    let numpy = obj.py().import("numpy")?;
    let array = numpy.call_method1("asarray", (obj,))?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind != "i" && kind != "u" {
        return Err(PyTypeError::new_err(format!("{what} must be integers")));
    }
    let shape: Vec<usize> = array.getattr("shape")?.extract()?;
    let values: Vec<i64> = array
        .call_method0("ravel")?
        .call_method0("tolist")?
        .extract()?;
    let values = values
        .into_iter()
        .map(|v| {
            usize::try_from(v)
                .ok()
                .filter(|&v| v < limit)
                .ok_or_else(|| {
                    PyValueError::new_err(format!("{what}: {v} is not between 0 and {}", limit - 1))
                })
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((values, shape))
}

/// The rows of `weight` `(num, dim)` picked by the integer `input` (any shape): an
/// embedding lookup, whose backward adds each row's gradient back into its row.
#[pyfunction]
pub fn embedding(input: &Bound<'_, PyAny>, weight: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
    let shape = weight.0.shape();
    if shape.len() != 2 || shape[0] == 0 {
        return Err(PyValueError::new_err(format!(
            "embedding: the weight must be (num_embeddings, dim), not of shape {shape:?}"
        )));
    }
    let (ids, ids_shape) = indices(input, shape[0], "embedding indices")?;
    limits::fits("embedding", &[ids.len(), shape[1]])?;
    let ids = Array::from_vec(ids, &ids_shape);
    one!(weight, |w| w.embedding(&ids))
}

/// The mean over rows of -log softmax(logits)[row, target[row]], as
/// `torch.nn.functional.cross_entropy` for `logits` `(n, classes)` and integer `target`
/// `(n,)`.
#[pyfunction]
pub fn cross_entropy(logits: PyRef<'_, PyTensor>, target: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let shape = logits.0.shape();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        return Err(PyValueError::new_err(format!(
            "cross_entropy: the logits must be (n, classes) with n and classes above 0, not of shape {shape:?}"
        )));
    }
    let (labels, labels_shape) = indices(target, shape[1], "cross_entropy targets")?;
    if labels_shape != [shape[0]] {
        return Err(PyValueError::new_err(format!(
            "cross_entropy: {} rows of logits but targets of shape {labels_shape:?}",
            shape[0]
        )));
    }
    one!(logits, |z| library_cross_entropy(&z, &labels))
}
