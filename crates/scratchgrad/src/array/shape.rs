//! Shape arithmetic shared by every operation: strides and numpy's broadcasting rule.

use smallvec::SmallVec;

/// A shape, or strides: one number per axis, kept inline for up to four axes (every array a
/// network here makes), so that making one asks nothing of the allocator.
pub type Dims = SmallVec<[usize; 4]>;

/// Row-major strides (in elements) of a contiguous array of `shape`.
///
/// ```
/// assert_eq!(scratchgrad::array::strides_of(&[2, 3, 4])[..], [12, 4, 1]);
/// ```
pub fn strides_of(shape: &[usize]) -> Dims {
    let mut strides: Dims = smallvec::smallvec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// The shape two operands broadcast to, by numpy's rule: align on the right; each pair of
/// dimensions must be equal or one of them 1. Panics naming `op` and both shapes otherwise.
///
/// ```
/// use scratchgrad::array::broadcast_shapes;
/// assert_eq!(broadcast_shapes("add", &[3, 1], &[4])[..], [3, 4]);
/// ```
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Dims {
    try_broadcast_shapes(a, b).unwrap_or_else(|| panic!("{op}: cannot broadcast {a:?} with {b:?}"))
}

/// [`broadcast_shapes`] for a caller that checks first: `None` where the shapes do not
/// broadcast.
///
/// ```
/// use scratchgrad::array::try_broadcast_shapes;
/// assert_eq!(try_broadcast_shapes(&[2, 1, 3], &[4, 1]).unwrap()[..], [2, 4, 3]);
/// assert_eq!(try_broadcast_shapes(&[2, 3], &[4]), None);
/// ```
pub fn try_broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Dims> {
    let n = a.len().max(b.len());
    // a missing leading dimension counts as 1
    let dim = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Strides for reading an array of `shape` as if it had the larger shape `target`:
/// broadcast (size-1 or missing) dimensions get stride 0.
pub(crate) fn broadcast_strides(shape: &[usize], target: &[usize]) -> Dims {
    let own = strides_of(shape);
    let offset = target.len() - shape.len();
    (0..target.len())
        .map(|d| {
            if d < offset || shape[d - offset] == 1 {
                0
            } else {
                own[d - offset]
            }
        })
        .collect()
}

/// Calls `f(out_index, offsets)` for every position of an array of `shape`, in row-major order,
/// where `offsets[k]` is the position's offset under `strides[k]`. Counting with a carried
/// multi-index avoids a division per element.
pub(crate) fn for_each_offset<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    mut f: impl FnMut(usize, [usize; K]),
) {
    let total: usize = shape.iter().product();
    if total == 0 {
        return;
    }
    let nd = shape.len();
    let mut index: Dims = smallvec::smallvec![0; nd];
    let mut offsets = [0usize; K];
    for flat in 0..total {
        f(flat, offsets);
        // Carry: bump the last dimension, roll over into earlier ones.
        for d in (0..nd).rev() {
            index[d] += 1;
            for k in 0..K {
                offsets[k] += strides[k][d];
            }
            if index[d] < shape[d] {
                break;
            }
            for k in 0..K {
                offsets[k] -= strides[k][d] * shape[d];
            }
            index[d] = 0;
        }
    }
}

/// Like `for_each_offset`, but one call per row (run of the last dimension): `f(start,
/// offsets)` gets the flat position and the offsets of the row's first element. The caller
/// then loops over the row itself; where the row is contiguous that loop runs over plain
/// slices, which the compiler vectorizes.
pub(crate) fn for_each_row<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    mut f: impl FnMut(usize, [usize; K]),
) {
    let Some((&row, lead)) = shape.split_last() else {
        return f(0, [0; K]);
    };
    if row > 0 {
        let lead_strides = strides.map(|s| &s[..lead.len()]);
        for_each_offset(lead, lead_strides, |i, offsets| f(i * row, offsets));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes("t", &[2, 3], &[2, 3])[..], [2, 3]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 3])[..], [2, 3]);
        assert_eq!(broadcast_shapes("t", &[5, 1, 3], &[4, 1])[..], [5, 4, 3]);
    }

    #[test]
    #[should_panic(expected = "mul: cannot broadcast [2, 3] with [4]")]
    fn mismatch_names_op_and_shapes() {
        broadcast_shapes("mul", &[2, 3], &[4]);
    }

    #[test]
    fn offsets_walk_broadcast_strides() {
        let mut seen = vec![];
        for_each_offset(&[2, 3], [&[0, 1], &[1, 0]], |i, [a, b]| {
            seen.push((i, a, b))
        });
        assert_eq!(
            seen,
            vec![
                (0, 0, 0),
                (1, 1, 0),
                (2, 2, 0),
                (3, 0, 1),
                (4, 1, 1),
                (5, 2, 1)
            ]
        );
    }
}
