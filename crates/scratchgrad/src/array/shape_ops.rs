//! Shape operations: reshape, permute, broadcast, gather/one-hot, row slices, concatenation.
//! Each returns a new contiguous array.

use smallvec::SmallVec;

use super::buffers::vec_with_capacity;
use super::shape::{broadcast_shapes, broadcast_strides, for_each_offset, strides_of, Dims};
use super::transpose;
use super::{Array, Float};

impl<T: Copy> Array<T> {
    /// The same elements in a new shape with the same number of elements.
    pub fn reshape(&self, shape: &[usize]) -> Array<T> {
        self.check_reshape(shape);
        // The elements are shared as they are (lent memory stays lent).
        Array {
            data: self.data.clone(),
            shape: Dims::from_slice(shape),
        }
    }

    /// [`reshape`](Self::reshape) that takes the elements over instead of copying them.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let a = Array::<f32>::arange(6).into_reshape(&[3, 2]);
    /// assert_eq!((a.shape(), a.at(&[2, 1])), (&[3, 2][..], 5.0));
    /// ```
    pub fn into_reshape(self, shape: &[usize]) -> Array<T> {
        self.check_reshape(shape);
        Array {
            data: self.data,
            shape: Dims::from_slice(shape),
        }
    }

    /// Panics unless `shape` holds as many elements as `self`.
    fn check_reshape(&self, shape: &[usize]) {
        // Without wrapping: 7 * 7905747460161236407 would wrap to 1 in a plain product.
        let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        assert!(
            n == Some(self.len()),
            "reshape: cannot view {:?} ({} elements) as {:?} ({} elements)",
            self.shape,
            self.len(),
            shape,
            n.map_or("too many".to_string(), |n| n.to_string())
        );
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]` (numpy's `transpose(perm)`).
    pub fn permute(&self, perm: &[usize]) -> Array<T>
    where
        T: Send + Sync,
    {
        let mut seen: SmallVec<[bool; 4]> = smallvec::smallvec![false; self.ndim()];
        let valid = perm.len() == self.ndim()
            && perm
                .iter()
                .all(|&p| p < self.ndim() && !std::mem::replace(&mut seen[p], true));
        assert!(
            valid,
            "permute: {perm:?} is not a permutation of the axes of {:?}",
            self.shape
        );
        let strides = strides_of(&self.shape);
        let shape: Dims = perm.iter().map(|&p| self.shape[p]).collect();
        let read: Dims = perm.iter().map(|&p| strides[p]).collect();
        let mut data = vec_with_capacity(self.len());
        let n = self.ndim();
        let lead_kept = perm
            .iter()
            .take(n.saturating_sub(2))
            .enumerate()
            .all(|(i, &p)| i == p);
        if n >= 2 && lead_kept && perm[n - 1] == n - 2 && !self.is_empty() {
            // The last two axes swapped (a batch of matrix transposes, as `x @ W^T` needs).
            let (rows, cols) = (self.shape[n - 2], self.shape[n - 1]);
            for matrix in self.data.chunks_exact(rows * cols) {
                transpose::append_transposed(matrix, rows, cols, &mut data);
            }
        } else if n >= 2 && perm[n - 1] == n - 1 {
            // The last axis stays last: whole rows move, each copied at once.
            let row = self.shape[n - 1];
            for_each_offset(&shape[..n - 1], [&read[..n - 1]], |_, [i]| {
                data.extend_from_slice(&self.data[i..i + row]);
            });
        } else {
            for_each_offset(&shape, [&read], |_, [i]| data.push(self.data[i]));
        }
        Array::from_vec(data, &shape)
    }

    /// Swaps the last two axes (a matrix transpose, batched over any leading axes).
    pub fn transpose(&self) -> Array<T>
    where
        T: Send + Sync,
    {
        let n = self.ndim();
        assert!(
            n >= 2,
            "transpose: needs 2 or more axes, got {:?}",
            self.shape
        );
        let mut perm: Vec<usize> = (0..n).collect();
        perm.swap(n - 2, n - 1);
        self.permute(&perm)
    }

    /// Repeats the array along broadcast axes to fill `shape` (numpy's `broadcast_to`).
    pub fn broadcast_to(&self, shape: &[usize]) -> Array<T> {
        let target = broadcast_shapes("broadcast_to", &self.shape, shape);
        assert!(
            target[..] == *shape,
            "broadcast_to: cannot broadcast {:?} to {:?}",
            self.shape,
            shape
        );
        let len: usize = shape.iter().product();
        let last = shape.last().copied().unwrap_or(1);
        if self.len() == last && self.shape.last() == Some(&last) && last > 0 {
            // One row (a bias) repeated, copied a row at a time into zeros: the fill writes
            // whole cache lines, where the rows' copies into lines not cached yet would first
            // read them in from memory (a Shakespeare GPT step 0.993 of the copies alone).
            let mut data = vec_with_capacity(len);
            // SAFETY: the capacity holds `len` elements; zero bytes written there are read
            // as nothing (the copies below overwrite them before the length covers them).
            unsafe { std::ptr::write_bytes(data.as_mut_ptr(), 0, len) };
            for _ in 0..len / last {
                data.extend_from_slice(&self.data);
            }
            return Array::from_vec(data, shape);
        }
        let mut data = vec_with_capacity(len);
        let read = broadcast_strides(&self.shape, shape);
        for_each_offset(shape, [&read], |_, [i]| data.push(self.data[i]));
        Array::from_vec(data, shape)
    }

    /// Rows `start..end` along axis 0 (a batch out of a dataset).
    pub fn slice_rows(&self, start: usize, end: usize) -> Array<T> {
        let rows = self.shape.first().copied().unwrap_or(0);
        assert!(
            start <= end && end <= rows,
            "slice_rows: rows {start}..{end} out of range for shape {:?}",
            self.shape
        );
        let row: usize = self.shape[1..].iter().product();
        let mut shape = self.shape.clone();
        shape[0] = end - start;
        Array::from_vec(self.data[start * row..end * row].to_vec(), &shape)
    }

    /// The rows listed in `indices`, in that order, along axis 0 (a shuffled batch).
    pub fn select_rows(&self, indices: &[usize]) -> Array<T> {
        let rows = self.shape.first().copied().unwrap_or(0);
        let row: usize = self.shape[1..].iter().product();
        let mut data = vec_with_capacity(indices.len() * row);
        for &i in indices {
            assert!(
                i < rows,
                "select_rows: row {i} out of range for shape {:?}",
                self.shape
            );
            data.extend_from_slice(&self.data[i * row..(i + 1) * row]);
        }
        let mut shape = self.shape.clone();
        shape[0] = indices.len();
        Array::from_vec(data, &shape)
    }

    /// `[batch, time, heads * size]` -> `[batch, heads, time, size]`: attention's heads made
    /// a batch axis. The same as `reshape(&[b, t, heads, size]).permute(&[0, 2, 1, 3])`
    /// (nanoGPT's `view(...).transpose(1, 2)`), in one copy.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// // one sequence of 2 positions, 2 heads of 1 number: [[a0, b0], [a1, b1]]
    /// let x = Array::from_vec(vec![10.0, 20.0, 11.0, 21.0], &[1, 2, 2]);
    /// let heads = x.split_heads(2);
    /// assert_eq!(heads.shape(), &[1, 2, 2, 1]);
    /// assert_eq!(heads.data(), &[10.0, 11.0, 20.0, 21.0]); // head a's positions, then b's
    /// assert_eq!(heads.merge_heads().data(), x.data());
    /// ```
    pub fn split_heads(&self, heads: usize) -> Array<T> {
        let &[b, t, c] = self.shape.as_slice() else {
            panic!(
                "split_heads: needs [batch, time, features], got {:?}",
                self.shape
            )
        };
        assert!(
            heads > 0 && c.is_multiple_of(heads),
            "split_heads: {c} features do not split into {heads} heads"
        );
        let size = c / heads;
        let mut data = vec_with_capacity(self.len());
        if self.is_empty() {
            return Array::from_vec(data, &[b, heads, t, size]);
        }
        for sequence in self.data.chunks_exact(t * c) {
            for h in 0..heads {
                for row in sequence.chunks_exact(c) {
                    data.extend_from_slice(&row[h * size..(h + 1) * size]);
                }
            }
        }
        Array::from_vec(data, &[b, heads, t, size])
    }

    /// `[batch, heads, time, size]` -> `[batch, time, heads * size]`, the inverse of
    /// [`split_heads`](Self::split_heads): each position's heads side by side again.
    pub fn merge_heads(&self) -> Array<T> {
        let &[b, heads, t, size] = self.shape.as_slice() else {
            panic!(
                "merge_heads: needs [batch, heads, time, size], got {:?}",
                self.shape
            )
        };
        let mut data = vec_with_capacity(self.len());
        if self.is_empty() {
            return Array::from_vec(data, &[b, t, heads * size]);
        }
        for sequence in self.data.chunks_exact(heads * t * size) {
            for position in 0..t {
                for h in 0..heads {
                    let from = (h * t + position) * size;
                    data.extend_from_slice(&sequence[from..from + size]);
                }
            }
        }
        Array::from_vec(data, &[b, t, heads * size])
    }

    /// `len` consecutive entries starting at `start` along `axis` (PyTorch's `narrow`).
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Array<T> {
        let (outer, n, inner) = self.around_axis("narrow", axis);
        assert!(
            start <= n && len <= n - start,
            "narrow: {start}..{} out of range for axis {axis} of {:?}",
            start.saturating_add(len),
            self.shape
        );
        let mut data = vec_with_capacity(outer * len * inner);
        for o in 0..outer {
            let from = (o * n + start) * inner;
            data.extend_from_slice(&self.data[from..from + len * inner]);
        }
        let mut shape = self.shape.clone();
        shape[axis] = len;
        Array::from_vec(data, &shape)
    }

    /// Joins arrays along `axis`; every other dimension must agree.
    pub fn concat(arrays: &[&Array<T>], axis: usize) -> Array<T> {
        let first = arrays.first().expect("concat: needs at least one array");
        for a in arrays {
            let same = a.ndim() == first.ndim()
                && axis < a.ndim()
                && (0..a.ndim()).all(|d| d == axis || a.shape[d] == first.shape[d]);
            assert!(
                same,
                "concat: cannot join {:?} with {:?} along axis {axis}",
                first.shape, a.shape
            );
        }
        let outer: usize = first.shape[..axis].iter().product();
        let mut shape = first.shape.clone();
        shape[axis] = arrays.iter().map(|a| a.shape[axis]).sum();
        let mut data = vec_with_capacity(shape.iter().product());
        for o in 0..outer {
            for a in arrays {
                let chunk = a.len() / outer.max(1);
                data.extend_from_slice(&a.data[o * chunk..(o + 1) * chunk]);
            }
        }
        Array::from_vec(data, &shape)
    }

    /// For every position of `index`, the input offset that `gather` reads: along `axis` the
    /// index value, elsewhere the position itself (PyTorch's `torch.gather` rule).
    fn gather_offsets(&self, op: &str, axis: usize, index: &Array<usize>) -> Vec<usize> {
        let fits = index.ndim() == self.ndim()
            && axis < self.ndim()
            && (0..self.ndim()).all(|d| d == axis || index.shape[d] <= self.shape[d]);
        assert!(
            fits,
            "{op}: index of shape {:?} does not fit input {:?} along axis {axis}",
            index.shape, self.shape
        );
        let strides = strides_of(&self.shape);
        let mut base = strides.clone();
        base[axis] = 0;
        let mut offsets = Vec::with_capacity(index.len());
        for_each_offset(&index.shape, [&base], |i, [o]| {
            let k = index.data[i];
            assert!(
                k < self.shape[axis],
                "{op}: index {k} out of range for axis {axis} of {:?}",
                self.shape
            );
            offsets.push(o + k * strides[axis]);
        });
        offsets
    }

    /// `out[.., j, ..] = self[.., index[.., j, ..], ..]` along `axis` (PyTorch's `gather`):
    /// e.g. picking each row's label column out of a `[batch, classes]` array.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let logp = Array::from_vec(vec![-0.1, -2.0, -3.0, -1.5, -0.2, -4.0], &[2, 3]);
    /// let labels = Array::from_vec(vec![0usize, 1], &[2, 1]);
    /// assert_eq!(logp.gather(1, &labels).data(), &[-0.1, -0.2]);
    /// ```
    pub fn gather(&self, axis: usize, index: &Array<usize>) -> Array<T> {
        let offsets = self.gather_offsets("gather", axis, index);
        Array::from_vec(
            offsets.iter().map(|&o| self.data[o]).collect(),
            &index.shape,
        )
    }
}

impl<T: Float> Array<T> {
    /// Adds `block` into the entries that `narrow(axis, start, block.shape()[axis])` reads,
    /// leaving the rest as they are: the in-place form of adding a narrow's gradient.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let mut a = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// a.add_into_block(1, 1, &Array::from_vec(vec![10.0, 20.0], &[2, 1]));
    /// assert_eq!(a.data(), &[1.0, 12.0, 3.0, 4.0, 25.0, 6.0]);
    /// ```
    pub fn add_into_block(&mut self, axis: usize, start: usize, block: &Array<T>) {
        let (_, n, inner) = self.around_axis("add_into_block", axis);
        let len = block.shape.get(axis).copied().unwrap_or(0);
        let fits = block.ndim() == self.ndim()
            && start <= n
            && len <= n - start
            && (0..self.ndim()).all(|d| d == axis || block.shape[d] == self.shape[d]);
        assert!(
            fits,
            "add_into_block: {:?} does not fit {:?} at {start} along axis {axis}",
            block.shape, self.shape
        );
        if block.is_empty() {
            return;
        }
        let data = &mut self.data[..];
        for (o, part) in block.data.chunks_exact(len * inner).enumerate() {
            let from = (o * n + start) * inner;
            for (a, &b) in data[from..from + len * inner].iter_mut().zip(part) {
                *a += b;
            }
        }
    }

    /// The reverse of `gather`: a zero array of `self`'s shape with every `src` element added
    /// at the position `gather` would have read it from (PyTorch's `scatter_add`).
    pub fn scatter_add(&self, axis: usize, index: &Array<usize>, src: &Array<T>) -> Array<T> {
        assert!(
            src.shape == index.shape,
            "scatter_add: source {:?} and index {:?} differ",
            src.shape,
            index.shape
        );
        let offsets = self.gather_offsets("scatter_add", axis, index);
        let mut out = Array::zeros(&self.shape);
        for (&o, &v) in offsets.iter().zip(&src.data) {
            out.data[o] += v;
        }
        out
    }

    /// An embedding lookup: row `ids[i]` of this 2-D table for every id, in the ids' shape
    /// with the table's width last (`ids` `[B, T]` of a `[V, D]` table gives `[B, T, D]`).
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let table = Array::from_vec(vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5], &[3, 2]);
    /// let ids = Array::from_vec(vec![2usize, 0, 2], &[3]);
    /// let rows = table.take_rows(&ids);
    /// assert_eq!(rows.shape(), &[3, 2]);
    /// assert_eq!(rows.data(), &[2.0, 2.5, 0.0, 0.5, 2.0, 2.5]);
    /// ```
    pub fn take_rows(&self, ids: &Array<usize>) -> Array<T> {
        let (rows, width) = self.table_size("take_rows", ids);
        let mut out = vec_with_capacity(ids.len() * width);
        for &id in &ids.data {
            assert!(
                id < rows,
                "take_rows: id {id} is past the table's {rows} rows"
            );
            out.extend_from_slice(&self.data[id * width..(id + 1) * width]);
        }
        let mut shape = ids.shape.clone();
        shape.push(width);
        Array::from_vec(out, &shape)
    }

    /// The reverse of `take_rows`: a zero table of `rows` rows with each row of `values` (in
    /// `take_rows`' output shape) added into the row its id names (a scatter-add).
    pub fn add_rows(rows: usize, ids: &Array<usize>, values: &Array<T>) -> Array<T> {
        let width = values.shape.last().copied().unwrap_or(0);
        assert!(
            values.shape[..values.shape.len() - 1] == ids.shape[..],
            "add_rows: values {:?} are not one row per id of {:?}",
            values.shape,
            ids.shape
        );
        let mut out = Array::zeros(&[rows, width]);
        for (&id, row) in ids.data.iter().zip(values.data.chunks(width.max(1))) {
            assert!(
                id < rows,
                "add_rows: id {id} is past the table's {rows} rows"
            );
            for (o, &v) in out.data[id * width..(id + 1) * width].iter_mut().zip(row) {
                *o += v;
            }
        }
        out
    }

    /// A table's rows and width, checked for a lookup.
    fn table_size(&self, op: &str, ids: &Array<usize>) -> (usize, usize) {
        assert!(
            self.ndim() == 2,
            "{op}: the table must be 2-D (rows, width), not {:?} (ids {:?})",
            self.shape,
            ids.shape
        );
        (self.shape[0], self.shape[1])
    }

    /// Rows of the identity: `[labels.len(), classes]` with a 1 at each label's column.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let y = Array::<f32>::one_hot(&[2, 0], 3);
    /// assert_eq!(y.data(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn one_hot(labels: &[usize], classes: usize) -> Array<T> {
        let mut out = Array::zeros(&[labels.len(), classes]);
        for (row, &label) in labels.iter().enumerate() {
            assert!(
                label < classes,
                "one_hot: label {label} out of range for {classes} classes"
            );
            out.data[row * classes + label] = T::ONE;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_heads_is_a_reshape_then_a_permute_and_merge_heads_undoes_it() {
        let x = Array::<f64>::arange(2 * 3 * 8).reshape(&[2, 3, 8]);
        let heads = x.split_heads(4);
        let want = x.reshape(&[2, 3, 4, 2]).permute(&[0, 2, 1, 3]);
        assert_eq!(heads.shape(), want.shape());
        assert_eq!(heads.data(), want.data());
        assert_eq!(heads.merge_heads().shape(), x.shape());
        assert_eq!(heads.merge_heads().data(), x.data());
        // empty along any axis, as the reshape and permute they replace
        for shape in [[0, 3, 8], [2, 0, 8], [2, 3, 0]] {
            let empty = Array::<f64>::zeros(&shape).split_heads(4);
            assert_eq!(empty.shape(), &[shape[0], 4, shape[1], shape[2] / 4]);
            assert_eq!(empty.merge_heads().shape(), &shape);
        }
    }

    #[test]
    fn a_row_broadcast_repeats_it_on_every_row() {
        let row = Array::from_vec(vec![1.0, 2.0, 3.0], &[3]);
        let rows = row.broadcast_to(&[2, 2, 3]);
        assert_eq!(rows.shape(), &[2, 2, 3]);
        assert_eq!(rows.data(), &[1.0, 2.0, 3.0].repeat(4)[..]);
        let kept = Array::from_vec(vec![7usize, 8], &[1, 2]).broadcast_to(&[3, 2]);
        assert_eq!(kept.data(), &[7, 8, 7, 8, 7, 8]);
        assert!(row.broadcast_to(&[0, 3]).is_empty());
        // a column is not a row: each value repeated along its row
        let column = Array::from_vec(vec![1.0, 2.0], &[2, 1]).broadcast_to(&[2, 3]);
        assert_eq!(column.data(), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn permute_moves_axes() {
        let a = Array::<f64>::arange(6).reshape(&[2, 3]);
        assert_eq!(a.transpose().data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let b = Array::<f64>::arange(24)
            .reshape(&[2, 3, 4])
            .permute(&[2, 0, 1]);
        assert_eq!(b.shape(), &[4, 2, 3]);
        assert_eq!(b.at(&[1, 1, 2]), 21.0);
        // a batch of transposes (its own loop) against the definition, element by element
        let c = Array::<f64>::arange(2 * 3 * 5).reshape(&[2, 3, 5]);
        let t = c.transpose();
        assert_eq!(t.shape(), &[2, 5, 3]);
        for (b, i, j) in
            (0..2).flat_map(|b| (0..3).flat_map(move |i| (0..5).map(move |j| (b, i, j))))
        {
            assert_eq!(t.at(&[b, j, i]), c.at(&[b, i, j]));
        }
        assert_eq!(
            Array::<f64>::zeros(&[0, 3, 2]).transpose().shape(),
            &[0, 2, 3]
        );
    }

    #[test]
    fn concat_and_slices() {
        let a = Array::<f64>::arange(4).reshape(&[2, 2]);
        let b = Array::<f64>::arange(2).reshape(&[2, 1]);
        let c = Array::concat(&[&a, &b], 1);
        assert_eq!(c.data(), &[0.0, 1.0, 0.0, 2.0, 3.0, 1.0]);
        assert_eq!(c.slice_rows(1, 2).data(), &[2.0, 3.0, 1.0]);
        assert_eq!(c.select_rows(&[1, 0]).shape(), &[2, 3]);
    }

    #[test]
    fn scatter_add_reverses_gather() {
        let x = Array::<f64>::zeros(&[2, 3]);
        let idx = Array::from_vec(vec![2usize, 2, 0], &[1, 3]);
        let s = x.scatter_add(
            0,
            &Array::from_vec(vec![1, 0, 1], &[1, 3]),
            &Array::ones(&[1, 3]),
        );
        assert_eq!(s.data(), &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        let y = Array::<f64>::arange(3).reshape(&[1, 3]);
        assert_eq!(
            y.scatter_add(1, &idx, &Array::ones(&[1, 3])).data(),
            &[1.0, 0.0, 2.0]
        );
    }

    #[test]
    #[should_panic(expected = "reshape: cannot view [2, 3] (6 elements) as [4] (4 elements)")]
    fn bad_reshape_names_both_shapes() {
        Array::<f64>::zeros(&[2, 3]).reshape(&[4]);
    }
}
