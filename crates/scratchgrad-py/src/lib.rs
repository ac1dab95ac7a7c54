//! `scratchgrad._scratchgrad`: the Rust half of the Python package. The Python half
//! (`python/scratchgrad/`) re-exports these names and adds micrograd's `nn` module on top.
//!
//! - `value.rs`: [`value::PyValue`], micrograd's `Value` on the library's scalar engine.
//! - `tensor.rs`: [`tensor::PyTensor`], the autograd tensor with numpy in and out, and
//!   `no_grad`.
//! - `train.rs`: `train_run`, the command line's training run with the GIL released.
//! - `model.rs`: [`model::PyModel`], a trained classifier from its file, to predict numpy
//!   images.
//! - `data.rs`: `load_dataset`, a data set's images and labels as numpy arrays.
//! - `functional.rs`: convolution, pooling, embedding, layer norm and cross-entropy for
//!   `scratchgrad.nn.functional`.
//! - `optim.rs`: the library's optimizers over tensors, for `scratchgrad.optim`.
//! - `interrupt.rs`: Ctrl-C noticed while Rust works without the GIL.
//! - `refusal.rs`: the library's refusals (its panics on bad arguments) as Python exceptions.

use pyo3::prelude::*;

mod data;
mod functional;
mod interrupt;
mod limits;
mod model;
mod optim;
mod refusal;
mod tensor;
mod train;
mod value;

/// The extension module.
#[pymodule]
fn _scratchgrad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    refusal::quiet_refusals();
    m.add_class::<value::PyValue>()?;
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<tensor::NoGrad>()?;
    m.add_function(wrap_pyfunction!(tensor::is_grad_enabled, m)?)?;
    m.add_class::<model::PyModel>()?;
    m.add_function(wrap_pyfunction!(model::load_model, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_run, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_dataset, m)?)?;
    m.add_class::<optim::UpdateRule>()?;
    m.add_function(wrap_pyfunction!(functional::conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(functional::max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(functional::avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(functional::layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(functional::embedding, m)?)?;
    m.add_function(wrap_pyfunction!(functional::cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(value::draw_dot, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
