//! Reading the PyTorch fixtures (`tests/fixtures/*.json`, written by the reference scripts in `tools/`):
//! each array is `{"shape": [...], "data": [...]}`.
#![allow(dead_code)]

use scratchgrad::array::Array;
use serde_json::Value;

/// A fixture's array, in float64 as PyTorch wrote it.
pub fn array(v: &Value) -> Array<f64> {
    Array::from_vec(floats(&v["data"]), &usizes(&v["shape"]))
}

/// A list of whole numbers (a shape, indices, labels).
pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// A list of numbers.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}
