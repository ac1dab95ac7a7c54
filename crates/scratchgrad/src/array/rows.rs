//! Arithmetic over rows (the last axis), one pass each way: layer normalization (the
//! normalization, the scale and shift, the input's gradient) and attention's causal softmax.
//! The gradient rules that use them are in `autograd/backward.rs` with the others.

use super::reduce::{sum_f64, sum_pairs_f64};
use super::{Array, Float};

impl<T: Float> Array<T> {
    /// Each row (the last axis) brought to mean 0 and variance 1: `(x - mean) / s` with
    /// s = sqrt(var + eps), the variance biased (divided by the row's length) as PyTorch's
    /// layer norm takes it. Returns the normalized array and each row's 1 / s. Sums are taken
    /// in f64.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let (xhat, inv_std) = Array::from_vec(vec![1.0f64, 3.0], &[1, 2]).normalize_rows(0.0);
    /// assert_eq!(xhat.data(), &[-1.0, 1.0]);
    /// assert_eq!(inv_std, vec![1.0]);
    /// ```
    pub fn normalize_rows(&self, eps: f64) -> (Array<T>, Vec<T>) {
        let n = self.shape.last().copied().unwrap_or(1).max(1);
        let mut out = Vec::with_capacity(self.data.len());
        let mut inv_std = Vec::with_capacity(self.data.len() / n);
        for row in self.data.chunks(n) {
            let mean = sum_f64(row, |x| x.to_f64()) / n as f64;
            let var = sum_f64(row, |x| (x.to_f64() - mean).powi(2)) / n as f64;
            let inv = 1.0 / (var + eps).sqrt();
            out.extend(row.iter().map(|v| T::from_f64((v.to_f64() - mean) * inv)));
            inv_std.push(T::from_f64(inv));
        }
        (Array::from_vec(out, &self.shape), inv_std)
    }

    /// `self * weight + bias` with `weight` and `bias` the length of a row, applied to each.
    pub fn scale_shift_rows(&self, weight: &Array<T>, bias: &Array<T>) -> Array<T> {
        let n = weight.len();
        assert!(
            bias.len() == n && self.shape.last() == Some(&n),
            "scale_shift_rows: {:?} rows with weight {:?} and bias {:?}",
            self.shape,
            weight.shape,
            bias.shape
        );
        let mut out = Vec::with_capacity(self.data.len());
        for row in self.data.chunks(n) {
            out.extend(
                row.iter()
                    .zip(&weight.data)
                    .zip(&bias.data)
                    .map(|((&x, &w), &b)| x * w + b),
            );
        }
        Array::from_vec(out, &self.shape)
    }

    /// Layer norm's input gradient from `self` = h = g * weight: for each row,
    /// (h - mean(h) - xhat * mean(h * xhat)) * inv_std.
    pub fn layer_norm_input_grad(&self, xhat: &Array<T>, inv_std: &[T]) -> Array<T> {
        let n = self.shape.last().copied().unwrap_or(1).max(1);
        let mut out = Vec::with_capacity(self.data.len());
        for ((h, xh), &inv) in self.data.chunks(n).zip(xhat.data.chunks(n)).zip(inv_std) {
            let mean_h = sum_f64(h, |h| h.to_f64()) / n as f64;
            let mean_hx = sum_pairs_f64(h, xh, |h, x| h.to_f64() * x.to_f64()) / n as f64;
            out.extend(h.iter().zip(xh).map(|(&h, &x)| {
                T::from_f64((h.to_f64() - mean_h - x.to_f64() * mean_hx) * inv.to_f64())
            }));
        }
        Array::from_vec(out, &self.shape)
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
        let mut out = vec![T::ZERO; self.data.len()];
        for (r, (row, y)) in self.data.chunks(t).zip(out.chunks_mut(t)).enumerate() {
            let seen = r % t + 1;
            let largest = row[..seen]
                .iter()
                .fold(T::from_f64(f64::NEG_INFINITY), |m, &v| m.max(v * scale));
            // Two loops: the exponentials vectorize, the sum keeps its order.
            for (y, &x) in y[..seen].iter_mut().zip(&row[..seen]) {
                *y = (x * scale - largest).exp_nonpositive();
            }
            let total = y[..seen].iter().fold(T::ZERO, |s, &y| s + y);
            for y in &mut y[..seen] {
                *y /= total;
            }
        }
        Array::from_vec(out, &self.shape)
    }

    /// [`Array::causal_softmax`]'s input gradient from its output `self` = y and the output's
    /// gradient `g`: scale * y * (g - sum over the row of g y).
    pub fn causal_softmax_grad(&self, g: &Array<T>, scale: T) -> Array<T> {
        let t = self.shape.last().copied().unwrap_or(1).max(1);
        let mut out = Vec::with_capacity(self.data.len());
        for (y, g) in self.data.chunks(t).zip(g.data.chunks(t)) {
            let dot = y.iter().zip(g).fold(T::ZERO, |s, (&y, &g)| s + y * g);
            out.extend(y.iter().zip(g).map(|(&y, &g)| scale * y * (g - dot)));
        }
        Array::from_vec(out, &self.shape)
    }
}
