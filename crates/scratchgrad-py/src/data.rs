//! `scratchgrad.load_dataset(name, split)`: a data set's images and labels as numpy arrays,
//! read (and fetched, when missing) as the command line reads them.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use scratchgrad::data::{load_splits, DatasetName, Split};

use crate::interrupt::Interrupt;

/// The images (uint8, `(n, 28, 28)`, ink 255 on 0) and labels (int64, `(n,)`) of `split`
/// ("train" or "test") of `name` ("mnist", "fashion-mnist", or "mnist-mini", which is built
/// in). Files missing from `data_dir` (default: the command line's data folder) are
/// downloaded first, with their checksums checked.
#[pyfunction]
#[pyo3(signature = (name, split = "test", data_dir = None))]
pub fn load_dataset<'py>(
    py: Python<'py>,
    name: &str,
    split: &str,
    data_dir: Option<PathBuf>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let name: DatasetName = name.parse().map_err(PyValueError::new_err)?;
    let split = match split {
        "train" => Split::Train,
        "test" => Split::Test,
        other => {
            return Err(PyValueError::new_err(format!(
                "split must be \"train\" or \"test\", not {other:?}"
            )))
        }
    };
    // Ctrl-C stops a download cleanly (the fetch keeps nothing half-written).
    let interrupt = Interrupt::default();
    let loaded = py.detach(|| {
        load_splits(name, &[split], data_dir.as_deref(), &mut |_| {}, &|| {
            interrupt.requested()
        })
    });
    let dataset = interrupt
        .raise(loaded.map_err(|e| PyRuntimeError::new_err(e.to_string())))?
        .remove(0);
    let count = dataset.labels.len();
    let images =
        PyArray1::from_vec(py, dataset.images).reshape(vec![count, dataset.rows, dataset.cols])?;
    let labels: Vec<i64> = dataset.labels.iter().map(|&l| i64::from(l)).collect();
    Ok((images.into_any(), PyArray1::from_vec(py, labels).into_any()))
}
