//! Reductions (sum, mean, max, argmax) over any set of axes, and softmax along one axis.

use smallvec::SmallVec;

use super::buffers::filled;
use super::shape::{for_each_row, strides_of, Dims};
use super::wide_sums::{sum_terms, Term};
use super::{Array, Float, Isa};

/// The sum over `a` and `b` side by side of `term(a[i], b[i])`, added in `A` (f64 for the
/// long sums of layer norm and the losses, `T` itself for attention's short rows): the terms of
/// each whole block of eight go to eight running sums (term `i` to sum `i % 8`), those of the
/// last `n % 8` to a chain of their own, and all are added in a fixed order at the end. Eight
/// chains of additions do not wait on each other (one chain made layer norm's sums wait on
/// every addition before), and the order, so the bits, depend only on the length.
#[inline(always)]
pub(crate) fn sum_pairs<T: Copy, A: Float>(a: &[T], b: &[T], term: impl Fn(T, T) -> A) -> A {
    let mut lanes = [A::ZERO; 8];
    let (whole_a, whole_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest = (whole_a.remainder().iter().zip(whole_b.remainder()))
        .fold(A::ZERO, |s, (&x, &y)| s + term(x, y));
    for (ca, cb) in whole_a.zip(whole_b) {
        for lane in 0..8 {
            lanes[lane] += term(ca[lane], cb[lane]);
        }
    }
    add_lanes(lanes, rest)
}

/// [`sum_pairs`]'s end: its eight running sums added in a fixed tree, then the rest's chain.
#[inline(always)]
pub(crate) fn add_lanes<A: Float>(lanes: [A; 8], rest: A) -> A {
    let [s0, s1, s2, s3, s4, s5, s6, s7] = lanes;
    (((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))) + rest
}

/// The largest of `values` (negative infinity for none), eight at a time: the maximum is
/// exact, so only the waiting changes, not the result.
#[inline(always)]
pub(crate) fn largest<T: Float>(values: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; 8];
    let whole = values.chunks_exact(8);
    let rest = whole
        .remainder()
        .iter()
        .fold(T::NEG_INFINITY, |m, &v| m.max(v));
    for chunk in whole {
        for lane in 0..8 {
            lanes[lane] = lanes[lane].max(chunk[lane]);
        }
    }
    lanes.iter().fold(rest, |m, &v| m.max(v))
}

impl<T: Copy> Array<T> {
    /// Checks `axes` against the array and returns, for each dimension, whether it is reduced.
    fn reduced_dims(&self, op: &str, axes: &[usize]) -> SmallVec<[bool; 4]> {
        let mut reduced: SmallVec<[bool; 4]> = smallvec::smallvec![false; self.ndim()];
        for &a in axes {
            assert!(
                a < self.ndim(),
                "{op}: axis {a} is out of range for shape {:?}",
                self.shape
            );
            assert!(!reduced[a], "{op}: axis {a} given twice");
            reduced[a] = true;
        }
        reduced
    }

    /// Folds every element into its slot of the output, where the axes in `axes` collapse to
    /// one slot: the output's values (in an accumulator type `A` of the caller's choosing)
    /// and its shape, which keeps reduced axes as size 1 when `keepdims`, else drops them.
    fn fold_axes<A: Copy>(
        &self,
        op: &str,
        axes: &[usize],
        keepdims: bool,
        init: A,
        f: impl Fn(A, T) -> A,
    ) -> (Vec<A>, Dims) {
        let reduced = self.reduced_dims(op, axes);
        let kept: Dims = (0..self.ndim())
            .map(|d| if reduced[d] { 1 } else { self.shape[d] })
            .collect();
        let kept_strides = strides_of(&kept);
        let out_strides: Dims = (0..self.ndim())
            .map(|d| if reduced[d] { 0 } else { kept_strides[d] })
            .collect();
        let mut out = filled(kept.iter().product(), init);
        // Row by row: a reduced last axis folds a row into one output, a kept one folds it
        // into a row of outputs.
        let n = self.shape.last().copied().unwrap_or(1);
        let last_kept = out_strides.last() == Some(&1);
        let rows_into_one = last_kept && out.len() == n;
        if rows_into_one {
            // Every row folded into one row of outputs (a bias's gradient, summed over the
            // batch's rows), in a loop compiled for the CPU's vectors: the same order as below.
            Isa::detect().run(
                #[inline(always)]
                || {
                    for row in self.data.chunks_exact(n.max(1)) {
                        for (acc, &x) in out.iter_mut().zip(row) {
                            *acc = f(*acc, x);
                        }
                    }
                },
            );
        } else {
            for_each_row(&self.shape, [&out_strides], |i, [o]| {
                let row = &self.data[i..i + n];
                if last_kept {
                    for (acc, &x) in out[o..o + n].iter_mut().zip(row) {
                        *acc = f(*acc, x);
                    }
                } else {
                    out[o] = row.iter().fold(out[o], |acc, &x| f(acc, x));
                }
            });
        }
        let shape: Dims = if keepdims {
            kept
        } else {
            (0..self.ndim())
                .filter(|&d| !reduced[d])
                .map(|d| self.shape[d])
                .collect()
        };
        (out, shape)
    }

    /// Splits the shape around `axis` into (product before, size of axis, product after).
    pub(crate) fn around_axis(&self, op: &str, axis: usize) -> (usize, usize, usize) {
        assert!(
            axis < self.ndim(),
            "{op}: axis {axis} is out of range for shape {:?}",
            self.shape
        );
        let outer = self.shape[..axis].iter().product();
        let inner = self.shape[axis + 1..].iter().product();
        (outer, self.shape[axis], inner)
    }
}

/// How many numbers a sum adds into one result before it adds them in f64 ([`Array::sum`]).
pub const LONG_SUM: usize = 4096;

impl<T: Float> Array<T> {
    /// Sum over `axes` (an empty list reduces nothing, as numpy's `axis=()`).
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let a = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(a.sum(&[1], true).shape(), &[2, 1]);
    /// assert_eq!(a.sum(&[0, 1], false).item(), 10.0);
    /// ```
    ///
    /// Long sums (more than [`LONG_SUM`] numbers into each result) add up in f64: in f32,
    /// ten million additions of 0.1 one after another come to 1,087,937, not 1,000,000.
    /// Shorter ones (a batch's gradients) add up in `T`, which is faster.
    pub fn sum(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        let count: usize = axes.iter().filter_map(|&a| self.shape.get(a)).product();
        if count > LONG_SUM {
            let (out, shape) = self.fold_axes("sum", axes, keepdims, 0.0f64, |a, b| a + b.to_f64());
            return Array::from_vec(out.into_iter().map(T::from_f64).collect(), &shape);
        }
        let (out, shape) = self.fold_axes("sum", axes, keepdims, T::ZERO, |a, b| a + b);
        Array::from_vec(out, &shape)
    }

    /// The sum of the squares of every element, in f64 (a gradient's squared norm, for
    /// clipping), in the CPU's widest vectors (`wide_sums.rs`).
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let a = Array::from_vec(vec![3.0f32, -4.0], &[2]);
    /// assert_eq!(a.sum_of_squares(), 25.0);
    /// ```
    pub fn sum_of_squares(&self) -> f64 {
        sum_terms(&self.data, &self.data, Term::Product)
    }

    /// Mean over `axes`.
    pub fn mean(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        let count: usize = axes
            .iter()
            .map(|&a| self.shape.get(a).copied().unwrap_or(1))
            .product();
        self.sum(axes, keepdims)
            .mul_scalar(T::ONE / T::from_usize(count))
    }

    /// Maximum over `axes`.
    pub fn max(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        let (out, shape) = self.fold_axes("max", axes, keepdims, T::NEG_INFINITY, |a, b| {
            if b > a {
                b
            } else {
                a
            }
        });
        Array::from_vec(out, &shape)
    }

    /// The mean and (biased) variance of each channel (axis 1) over every other axis of a
    /// `[batch, channels, ...]` array, accumulated in f64 whatever the element type: batch
    /// normalization's statistics, computed once here for both engines.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let x = Array::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2]);
    /// let (mean, var) = x.channel_moments();
    /// assert_eq!((mean, var), (vec![2.0, 20.0], vec![1.0, 100.0]));
    /// ```
    pub fn channel_moments(&self) -> (Vec<f64>, Vec<f64>) {
        assert!(
            self.ndim() >= 2,
            "channel_moments: needs [batch, channels, ...], got {:?}",
            self.shape
        );
        let (n, c) = (self.shape[0], self.shape[1]);
        let s: usize = self.shape[2..].iter().product();
        let m = (n * s).max(1) as f64;
        let mut mean = vec![0.0f64; c];
        for (k, part) in self.data.chunks_exact(s.max(1)).enumerate() {
            mean[k % c] += part.iter().map(|v| v.to_f64()).sum::<f64>();
        }
        mean.iter_mut().for_each(|v| *v /= m);
        let mut var = vec![0.0f64; c];
        for (k, part) in self.data.chunks_exact(s.max(1)).enumerate() {
            let mu = mean[k % c];
            var[k % c] += part.iter().map(|v| (v.to_f64() - mu).powi(2)).sum::<f64>();
        }
        var.iter_mut().for_each(|v| *v /= m);
        (mean, var)
    }

    /// The sum of every element.
    pub fn sum_all(&self) -> T {
        self.data.iter().copied().sum()
    }

    /// Index of the largest element along `axis` (the first one on ties); the axis is removed.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let logits = Array::from_vec(vec![0.1, 2.0, 0.3, 5.0, 1.0, 2.0], &[2, 3]);
    /// assert_eq!(logits.argmax(1).data(), &[1, 0]);
    /// ```
    pub fn argmax(&self, axis: usize) -> Array<usize> {
        let (outer, n, inner) = self.around_axis("argmax", axis);
        assert!(
            n > 0,
            "argmax: axis {axis} of shape {:?} is empty",
            self.shape
        );
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| self.data[(o * n + k) * inner + i];
                let best = (1..n).fold(0, |best, k| if at(k) > at(best) { k } else { best });
                out.push(best);
            }
        }
        let mut shape = self.shape.clone();
        shape.remove(axis);
        Array::from_vec(out, &shape)
    }

    /// softmax along `axis`: e^(x - max) / sum(e^(x - max)); subtracting the max keeps every
    /// exponent <= 0, so no logit is too large.
    pub fn softmax(&self, axis: usize) -> Array<T> {
        let shifted = self.sub(&self.max(&[axis], true)).exp_nonpositive();
        shifted.div(&shifted.sum(&[axis], true))
    }

    /// log(softmax) along `axis`, computed as (x - max) - log(sum(e^(x - max))) so that it is
    /// finite even where softmax underflows to 0.
    pub fn log_softmax(&self, axis: usize) -> Array<T> {
        let shifted = self.sub(&self.max(&[axis], true));
        let log_sum = shifted.exp_nonpositive().sum(&[axis], true).log();
        shifted.sub(&log_sum)
    }

    /// Sums a broadcast result back down to `shape`: the reverse of broadcasting `shape` up to
    /// `self.shape()`. Extra leading axes are summed away; axes where `shape` has 1 are summed
    /// with the 1 kept. This is the one rule by which autograd undoes broadcasting. Takes the
    /// array so that, when there is nothing to undo, it comes back as it is (no copy).
    pub fn sum_to(self, shape: &[usize]) -> Array<T> {
        if *self.shape == *shape {
            return self;
        }
        self.summed_to(shape)
    }

    /// [`Array::sum_to`] reading `self` in place: a copy when there is nothing to undo.
    pub fn summed_to(&self, shape: &[usize]) -> Array<T> {
        if *self.shape == *shape {
            return self.clone();
        }
        assert!(
            shape.len() <= self.ndim(),
            "sum_to: cannot reduce {:?} to {:?}",
            self.shape,
            shape
        );
        let lead = self.ndim() - shape.len();
        let axes: Dims = (0..self.ndim())
            .filter(|&d| d < lead || (shape[d - lead] == 1 && self.shape[d] != 1))
            .collect();
        let summed = self.sum(&axes, true);
        assert!(
            summed.shape[lead..] == *shape,
            "sum_to: cannot reduce {:?} to {:?}",
            self.shape,
            shape
        );
        summed.into_reshape(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_float32_sums_add_up_in_float64() {
        // a million additions of 0.1 one after another in f32 come to about 100,958
        let tenths = Array::full(&[1_000_000], 0.1f32);
        assert!((tenths.sum(&[0], false).item() - 100_000.0).abs() < 0.1);
        // also when the long axis is not the last one, and for the mean
        let column = tenths.reshape(&[1_000_000, 1]);
        assert!((column.sum(&[0], false).item() - 100_000.0).abs() < 0.1);
        assert!((column.mean(&[0, 1], false).item() - 0.1).abs() < 1e-7);
    }

    #[test]
    fn sums_over_any_axes() {
        let a = Array::<f64>::arange(24).reshape(&[2, 3, 4]);
        let s = a.sum(&[0, 2], false);
        assert_eq!(s.shape(), &[3]);
        // Row j of each block holds 4j..4j+3 and 12+4j..12+4j+3.
        assert_eq!(s.data(), &[60.0, 92.0, 124.0]);
        assert_eq!(a.mean(&[1], true).shape(), &[2, 1, 4]);
        assert_eq!(
            a.max(&[2], false).data(),
            &[3.0, 7.0, 11.0, 15.0, 19.0, 23.0]
        );
    }

    #[test]
    fn softmax_handles_huge_logits() {
        let x = Array::from_vec(vec![1000.0f32, 0.0, -1000.0], &[1, 3]);
        let p = x.softmax(1);
        assert_eq!(p.data(), &[1.0, 0.0, 0.0]);
        let lp = x.log_softmax(1);
        assert_eq!(lp.data(), &[0.0, -1000.0, -2000.0]);
    }

    #[test]
    fn sum_to_undoes_broadcasting() {
        let g = Array::<f64>::ones(&[2, 3, 4]);
        assert_eq!(g.clone().sum_to(&[4]).data(), &[6.0; 4]);
        assert_eq!(g.clone().sum_to(&[3, 1]).data(), &[8.0; 3]);
        assert_eq!(g.sum_to(&[]).item(), 24.0);
    }
}
