//! How large a tensor may grow. An allocation that fails aborts the whole process in Rust,
//! where numpy raises `MemoryError`; so the size of each result is worked out first, with
//! arithmetic that cannot wrap, and one too large is refused as `MemoryError`.

use pyo3::exceptions::PyMemoryError;
use pyo3::PyResult;
use scratchgrad::array::Dims;

/// The most numbers one tensor may hold: 2^31 (8 GiB of float32, 16 GiB of float64).
pub const MAX_ELEMENTS: usize = 1 << 31;

/// The number of elements of `shape`, or `None` when it does not fit in a `usize`.
pub fn elements(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Refuses a result of `shape` (made by `what`) larger than [`MAX_ELEMENTS`].
pub fn fits(what: &str, shape: &[usize]) -> PyResult<()> {
    match elements(shape) {
        Some(n) if n <= MAX_ELEMENTS => Ok(()),
        n => Err(PyMemoryError::new_err(format!(
            "{what}: the result of shape {shape:?} would hold {} numbers; a tensor holds at \
             most 2^31",
            n.map_or("more than 2^64".to_string(), |n| n.to_string())
        ))),
    }
}

/// The shape `a` and `b` broadcast to, or `None` when they do not (the library then refuses
/// them with its own message).
pub use scratchgrad::array::try_broadcast_shapes as broadcast;

/// The shape of `a @ b` over their last two axes (batch axes broadcast), or `None` when
/// they do not multiply.
pub fn matmul(a: &[usize], b: &[usize]) -> Option<Dims> {
    let (&[.., m, k], &[.., k2, n]) = (a, b) else {
        return None;
    };
    if a.len() < 2 || b.len() < 2 || k != k2 {
        return None;
    }
    let mut shape = broadcast(&a[..a.len() - 2], &b[..b.len() - 2])?;
    shape.extend([m, n]);
    Some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_numpy_and_sizes_cannot_wrap() {
        assert_eq!(broadcast(&[2, 1, 3], &[4, 1]).unwrap()[..], [2, 4, 3]);
        assert_eq!(broadcast(&[2, 3], &[4]), None);
        assert_eq!(matmul(&[5, 1, 2, 3], &[4, 3, 6]).unwrap()[..], [5, 4, 2, 6]);
        assert_eq!(matmul(&[2, 3], &[2, 3]), None);
        assert!(fits("x", &[1 << 16, 1 << 15]).is_ok());
        assert_eq!(elements(&[7, 7_905_747_460_161_236_407]), None);
    }
}
