//! `scratchgrad._scratchgrad`: the Rust half of the Python package. The Python half
//! (`python/scratchgrad/`) re-exports these names and adds micrograd's `nn` module on top.
//!
//! - `value.rs`: [`value::PyValue`], micrograd's `Value` on the library's scalar engine.

use pyo3::prelude::*;

mod value;

/// The extension module.
#[pymodule]
fn _scratchgrad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<value::PyValue>()?;
    m.add_function(wrap_pyfunction!(value::draw_dot, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
