//! `scratchgrad._scratchgrad`: the Rust half of the Python package. The Python half
//! (`python/scratchgrad/`) re-exports these names and adds micrograd's `nn` module on top.
//!
//! - `value.rs`: [`value::PyValue`], micrograd's `Value` on the library's scalar engine.
//! - `tensor.rs`: [`tensor::PyTensor`], the autograd tensor with numpy in and out, and
//!   `no_grad`.
//! - `refusal.rs`: the library's refusals (its panics on bad arguments) as Python exceptions.

use pyo3::prelude::*;

mod refusal;
mod tensor;
mod value;

/// The extension module.
#[pymodule]
fn _scratchgrad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    refusal::quiet_refusals();
    m.add_class::<value::PyValue>()?;
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<tensor::NoGrad>()?;
    m.add_function(wrap_pyfunction!(tensor::is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(value::draw_dot, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
