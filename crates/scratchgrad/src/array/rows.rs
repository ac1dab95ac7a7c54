//! Arithmetic over rows (the last axis), one pass each way: layer normalization (the
//! normalization with its scale and shift, the input's gradient) and attention's causal softmax.
//! The gradient rules that use them are in `autograd/backward.rs` with the others.
//!
//! Each loop is compiled for the widest instruction set the CPU has ([`Isa::run`]) and sums
//! in eight running sums, so that it is not one addition waiting on the last: the same bits
//! on every set, since nothing is reordered by the compiler. Layer norm's f64 sums of `f32`
//! values are written in vector registers (`wide_sums.rs`), in the same order.

use super::buffers::{filled, vec_with_capacity};
use super::reduce::{largest, sum_pairs};
use super::wide_sums::{sum_terms, Term};
use super::{Array, Float, Isa, LONG_SUM};

/// One row's mean and 1 / sqrt(var + eps), in f64, as layer norm's forward found them: its
/// backward makes the row's xhat again from them, to the bit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowStats {
    pub mean: f64,
    pub inv_std: f64,
}

impl RowStats {
    /// The normalized value of `x`, one of the row's: (x - mean) / s, rounded to `T` once.
    #[inline(always)]
    fn xhat<T: Float>(self, x: T) -> T {
        T::from_f64((x.to_f64() - self.mean) * self.inv_std)
    }
}

impl<T: Float> Array<T> {
    /// Layer normalization of each row (the last axis): brought to mean 0 and variance 1,
    /// xhat = (x - mean) / s with s = sqrt(var + eps) and the variance biased (divided by the
    /// row's length) as PyTorch takes it, then scaled and shifted, y = xhat * weight + bias
    /// (`weight` and `bias` a row long). Returns y and each row's mean and 1 / s, in one pass
    /// over the rows; sums are taken in f64. xhat is not kept: the gradient
    /// ([`Array::layer_norm_grads`]) makes it again from x and these, to the same bits, which
    /// writes one array fewer than keeping it would.
    ///
    /// ```
    /// use scratchgrad::array::{Array, RowStats};
    /// let x = Array::from_vec(vec![1.0f64, 3.0], &[1, 2]);
    /// let (w, b) = (Array::from_vec(vec![2.0, 2.0], &[2]), Array::from_vec(vec![0.5, 0.5], &[2]));
    /// let (y, stats) = x.layer_norm_rows(&w, &b, 0.0);
    /// assert_eq!(y.data(), &[-1.5, 2.5]); // xhat = (-1, 1), times 2, plus 0.5
    /// assert_eq!(stats, vec![RowStats { mean: 2.0, inv_std: 1.0 }]);
    /// ```
    pub fn layer_norm_rows(
        &self,
        weight: &Array<T>,
        bias: &Array<T>,
        eps: f64,
    ) -> (Array<T>, Vec<RowStats>) {
        let n = self.shape.last().copied().unwrap_or(1).max(1);
        // Shaped `[n]`, not only `n` long: the gradients are given their shapes.
        assert!(
            weight.shape[..] == [n] && bias.shape[..] == [n],
            "layer_norm_rows: {:?} rows with weight {:?} and bias {:?} (both must be [{n}])",
            self.shape,
            weight.shape,
            bias.shape
        );
        let mut y = vec_with_capacity(self.data.len());
        let mut stats = Vec::with_capacity(self.data.len() / n);
        Isa::detect().run(
            #[inline(always)]
            || {
                for row in self.data.chunks(n) {
                    let mean = sum_terms(row, row, Term::Value) / n as f64;
                    let var = sum_terms(row, row, Term::SquaredDeviation(mean)) / n as f64;
                    let row_stats = RowStats {
                        mean,
                        inv_std: 1.0 / (var + eps).sqrt(),
                    };
                    let scaled = row.iter().zip(&weight.data).zip(&bias.data);
                    y.extend(scaled.map(|((&x, &w), &b)| row_stats.xhat(x) * w + b));
                    stats.push(row_stats);
                }
            },
        );
        (Array::from_vec(y, &self.shape), stats)
    }

    /// Layer norm's three gradients from the output's gradient `self` = g, given the input
    /// `x` and the rows' [`RowStats`] its forward returned, in one pass over the rows: the
    /// input's (written over g), (h - mean(h) - xhat * mean(h * xhat)) * inv_std for each row
    /// with h = g * weight; the weight's, the sum over rows of g * xhat; and the bias's, the
    /// sum over rows of g. Each row's xhat is made again from x, as the forward made it. The
    /// two sums over rows add in row order, in f64 past [`LONG_SUM`] rows as [`Array::sum`]
    /// does.
    ///
    /// ```
    /// use scratchgrad::array::{Array, RowStats};
    /// let g = Array::from_vec(vec![1.0f64, 0.0, 2.0, 2.0], &[2, 2]);
    /// let x = Array::from_vec(vec![1.0, 3.0, 5.0, 7.0], &[2, 2]);
    /// let stats = [2.0, 6.0].map(|mean| RowStats { mean, inv_std: 1.0 }); // xhat -1, 1 twice
    /// let weight = Array::from_vec(vec![1.0, 1.0], &[2]);
    /// let (dx, dw, db) = g.layer_norm_grads(&weight, &x, &stats);
    /// assert_eq!(dx.data(), &[0.0, 0.0, 0.0, 0.0]);
    /// assert_eq!(dw.data(), &[-3.0, 2.0]);
    /// assert_eq!(db.data(), &[3.0, 2.0]);
    /// ```
    pub fn layer_norm_grads(
        mut self,
        weight: &Array<T>,
        x: &Array<T>,
        stats: &[RowStats],
    ) -> (Array<T>, Array<T>, Array<T>) {
        let n = self.shape.last().copied().unwrap_or(1).max(1);
        let rows = self.data.len() / n;
        assert!(
            x.shape == self.shape && weight.len() == n && stats.len() == rows,
            "layer_norm_grads: gradient {:?} for x {:?}, weight {:?} and {} rows",
            self.shape,
            x.shape,
            weight.shape,
            stats.len()
        );
        // A row's h and xhat, side by side in one buffer.
        let mut row = vec![T::ZERO; 2 * n];
        let (h, xh) = row.split_at_mut(n);
        // The sums over rows: in T, or in f64 when long (only then allocated).
        let (mut dw, mut db) = (vec![T::ZERO; n], vec![T::ZERO; n]);
        let long = rows > LONG_SUM;
        let f64_sums = || if long { vec![0.0f64; n] } else { Vec::new() };
        let (mut dw_long, mut db_long) = (f64_sums(), f64_sums());
        Isa::detect().run(
            #[inline(always)]
            || {
                let each_row = self.data.chunks_mut(n).zip(x.data.chunks(n)).zip(stats);
                for ((g, x), row_stats) in each_row {
                    for (xh, &x) in xh.iter_mut().zip(x) {
                        *xh = row_stats.xhat(x);
                    }
                    for ((h, &g), &w) in h.iter_mut().zip(g.iter()).zip(&weight.data) {
                        *h = g * w;
                    }
                    if long {
                        add_row_terms(&mut dw_long, &mut db_long, g, xh);
                    } else {
                        add_row_terms(&mut dw, &mut db, g, xh);
                    }
                    let mean_h = sum_terms(h, h, Term::Value) / n as f64;
                    let mean_hx = sum_terms(h, xh, Term::Product) / n as f64;
                    // 1 / s rounded to `T`, as this rule has always taken it (xhat above
                    // is made from the f64 value, as the forward made it)
                    let inv = T::from_f64(row_stats.inv_std).to_f64();
                    // dx in g's place: the row of g is read no more
                    for ((dx, &h), &x) in g.iter_mut().zip(&*h).zip(&*xh) {
                        *dx = T::from_f64((h.to_f64() - mean_h - x.to_f64() * mean_hx) * inv);
                    }
                }
            },
        );
        if long {
            dw = dw_long.into_iter().map(T::from_f64).collect();
            db = db_long.into_iter().map(T::from_f64).collect();
        }
        let (dw, db) = (
            Array::from_vec(dw, &weight.shape),
            Array::from_vec(db, &weight.shape),
        );
        (self, dw, db)
    }

    /// Attention's weights from its scores `[..., T, T]`: row `i` of each matrix is the softmax
    /// of `scale` times its first `i + 1` entries (a position sees itself and the positions
    /// before it), and exactly 0 after them (the causal mask), as
    /// `softmax(masked_fill(scale * x, future, -inf))`.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let w = Array::from_vec(vec![5.0f64, 9.0, 0.0, 0.0], &[2, 2]).causal_softmax(1.0);
    /// assert_eq!(w.data(), &[1.0, 0.0, 0.5, 0.5]);
    /// ```
    pub fn causal_softmax(&self, scale: T) -> Array<T> {
        let n = self.ndim();
        assert!(
            n >= 2 && self.shape[n - 2] == self.shape[n - 1],
            "causal_softmax: scores {:?} are not square in their last two axes",
            self.shape
        );
        let t = self.shape[n - 1].max(1);
        let mut out = filled(self.data.len(), T::ZERO);
        Isa::detect().run(
            #[inline(always)]
            || {
                for (r, (row, y)) in self.data.chunks(t).zip(out.chunks_mut(t)).enumerate() {
                    // Whole vectors of 16 are read (see `causal_softmax_row`).
                    let span = (r % t + 1).next_multiple_of(16).min(t);
                    y[..span].copy_from_slice(&row[..span]);
                    causal_softmax_row(y, r % t + 1, scale);
                }
            },
        );
        Array::from_vec(out, &self.shape)
    }

    /// [`Array::causal_softmax`]'s input gradient from its output `self` = y (which must be
    /// such an output) and the output's gradient `g`: scale * y * (g - sum over the row of
    /// g y), which is 0 after the diagonal (where y is), so only the entries up to it are read
    /// (a non-finite g there is ignored, where the full formula would give NaN).
    pub fn causal_softmax_grad(&self, g: &Array<T>, scale: T) -> Array<T> {
        let n = self.ndim();
        assert!(
            self.shape == g.shape && n >= 2 && self.shape[n - 2] == self.shape[n - 1],
            "causal_softmax_grad: gradient {:?} for weights {:?} (square in the last two axes)",
            g.shape,
            self.shape
        );
        let t = self.shape.last().copied().unwrap_or(1).max(1);
        let mut out = filled(self.data.len(), T::ZERO);
        Isa::detect().run(
            #[inline(always)]
            || {
                let each_row = self.data.chunks(t).zip(g.data.chunks(t));
                for (r, ((y, g), dx)) in each_row.zip(out.chunks_mut(t)).enumerate() {
                    let seen = r % t + 1;
                    dx[..seen].copy_from_slice(&g[..seen]);
                    causal_softmax_grad_row(y, dx, seen, scale);
                }
            },
        );
        Array::from_vec(out, &self.shape)
    }
}

/// One row of attention's causal softmax, in place: `y[..seen]` holds the row's scores, and
/// becomes softmax(scale * scores) there and 0 after (the whole row). The entries up to the
/// next multiple of 16 are computed with the others and then masked, rather than a short
/// row ending in one value at a time (whatever they held, they end as 0).
#[inline(always)]
pub(crate) fn causal_softmax_row<T: Float>(y: &mut [T], seen: usize, scale: T) {
    let span = seen.next_multiple_of(16).min(y.len());
    let (y, after) = y.split_at_mut(span);
    for y in y.iter_mut() {
        *y *= scale;
    }
    let top = largest(&y[..seen]);
    for (i, y) in y.iter_mut().enumerate() {
        let e = (*y - top).exp_nonpositive();
        *y = if i < seen { e } else { T::ZERO };
    }
    after.fill(T::ZERO);
    let total = sum_pairs(y, y, |y, _| y);
    for y in y.iter_mut() {
        *y /= total;
    }
}

/// One row of the causal softmax's input gradient, in place: with `y` the row of weights,
/// `g[..seen]` the weights' gradient becomes scale * y * (g - sum over the row of g y), and
/// the rest of `g` 0 (only the entries up to the diagonal are read).
#[inline(always)]
pub(crate) fn causal_softmax_grad_row<T: Float>(y: &[T], g: &mut [T], seen: usize, scale: T) {
    let (y, (g, after)) = (&y[..seen], g.split_at_mut(seen));
    let dot = sum_pairs(y, g, |y, g| y * g);
    for (g, &y) in g.iter_mut().zip(y) {
        *g = scale * y * (*g - dot);
    }
    after.fill(T::ZERO);
}

/// One row's terms of layer norm's weight and bias gradients added into their sums `dw += g *
/// xhat` and `db += g`, each product rounded to `T` before it is added (as a product of
/// arrays, then its sum over rows, would round it), the sums kept in `A`.
#[inline(always)]
fn add_row_terms<T: Float, A: Float>(dw: &mut [A], db: &mut [A], g: &[T], xhat: &[T]) {
    for ((dw, db), (&g, &x)) in dw.iter_mut().zip(db.iter_mut()).zip(g.iter().zip(xhat)) {
        *dw += A::from_f64((g * x).to_f64());
        *db += A::from_f64(g.to_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;

    /// softmax(masked_fill(scale x, future, -inf)) of one row, and its input gradient
    /// scale y (g - sum(g y)), in f64 from their definitions.
    fn reference_row(x: &[f64], g: &[f64], seen: usize, scale: f64) -> (Vec<f64>, Vec<f64>) {
        let top = x[..seen]
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(v * scale));
        let e: Vec<f64> = (0..x.len())
            .map(|i| {
                if i < seen {
                    (x[i] * scale - top).exp()
                } else {
                    0.0
                }
            })
            .collect();
        let total: f64 = e.iter().sum();
        let y: Vec<f64> = e.iter().map(|v| v / total).collect();
        let dot: f64 = y.iter().zip(g).map(|(y, g)| y * g).sum();
        let dx = y
            .iter()
            .zip(g)
            .map(|(y, g)| scale * y * (g - dot))
            .collect();
        (y, dx)
    }

    #[test]
    fn causal_softmax_and_its_gradient_match_the_definition_on_long_rows() {
        let mut rng = Rng::seed(11);
        // rows shorter and longer than the 16 computed at once, and not a multiple of it
        for t in [5, 16, 37, 64] {
            let x = Array::<f32>::rand_uniform(&[2, t, t], -4.0, 4.0, &mut rng);
            let g = Array::<f32>::rand_uniform(&[2, t, t], -1.0, 1.0, &mut rng);
            let y = x.causal_softmax(0.7);
            let dx = y.causal_softmax_grad(&g, 0.7);
            for r in 0..2 * t {
                let seen = r % t + 1;
                let row = |a: &Array<f32>| -> Vec<f64> {
                    a.data()[r * t..(r + 1) * t]
                        .iter()
                        .map(|&v| v as f64)
                        .collect()
                };
                let (want_y, want_dx) = reference_row(&row(&x), &row(&g), seen, 0.7);
                for (name, got, want) in [("y", row(&y), want_y), ("dx", row(&dx), want_dx)] {
                    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (got - want).abs() <= 1e-6,
                            "t {t} row {r} {name}[{i}] {got} {want}"
                        );
                        assert!(
                            i < seen || *got == 0.0,
                            "t {t} row {r}: {name}[{i}] after the diagonal"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn layer_norm_grads_match_their_formulas_on_both_sides_of_long_sum() {
        let mut rng = Rng::seed(12);
        let n = 5;
        // Sums over rows in f32 up to LONG_SUM rows and in f64 past it.
        for rows in [3, LONG_SUM, LONG_SUM + 1] {
            let g = Array::<f32>::rand_uniform(&[rows, n], -1.0, 1.0, &mut rng);
            let x = Array::<f32>::rand_uniform(&[rows, n], -2.0, 2.0, &mut rng);
            let weight = Array::<f32>::rand_uniform(&[n], 0.5, 1.5, &mut rng);
            let (_, stats) = x.layer_norm_rows(&weight, &Array::zeros(&[n]), 1e-5);
            let (dx, dw, db) = g.clone().layer_norm_grads(&weight, &x, &stats);
            // xhat as the forward made it: its output with a weight of 1 and a bias of 0
            let (xhat, _) = x.layer_norm_rows(&Array::full(&[n], 1.0), &Array::zeros(&[n]), 1e-5);
            let inv_std: Vec<f32> = stats.iter().map(|s| s.inv_std as f32).collect();
            // The same bits as the products and sums of arrays this pass replaced, which
            // switch to f64 past LONG_SUM rows.
            assert_eq!(dw, g.mul(&xhat).sum(&[0], false), "rows {rows} dw");
            assert_eq!(db, g.sum(&[0], false), "rows {rows} db");
            let at = |a: &Array<f32>, r: usize, j: usize| a.data()[r * n + j] as f64;
            for j in 0..n {
                let want_dw: f64 = (0..rows).map(|r| at(&g, r, j) * at(&xhat, r, j)).sum();
                let want_db: f64 = (0..rows).map(|r| at(&g, r, j)).sum();
                let tolerance = 1e-6 * rows as f64;
                assert!(
                    (dw.data()[j] as f64 - want_dw).abs() <= tolerance,
                    "rows {rows} dw"
                );
                assert!(
                    (db.data()[j] as f64 - want_db).abs() <= tolerance,
                    "rows {rows} db"
                );
            }
            for r in [0, rows - 1] {
                let h: Vec<f64> = (0..n)
                    .map(|j| at(&g, r, j) * weight.data()[j] as f64)
                    .collect();
                let mean_h = h.iter().sum::<f64>() / n as f64;
                let mean_hx = (0..n).map(|j| h[j] * at(&xhat, r, j)).sum::<f64>() / n as f64;
                for (j, h) in h.iter().enumerate() {
                    let want = (h - mean_h - at(&xhat, r, j) * mean_hx) * inv_std[r] as f64;
                    assert!(
                        (at(&dx, r, j) - want).abs() <= 1e-5,
                        "rows {rows} dx[{r}, {j}]"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "both must be [3]")]
    fn layer_norm_refuses_a_weight_not_shaped_as_one_row() {
        let x = Array::<f32>::zeros(&[2, 3]);
        x.layer_norm_rows(&Array::zeros(&[1, 3]), &Array::zeros(&[3]), 1e-5);
    }
}
