//! Layer normalization's arithmetic over rows (the last axis), one pass each way: the forward
//! normalization, the scale and shift, and the input's gradient. The gradient rule that uses
//! them is in `autograd/backward.rs` with the others.

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
            let mean = row.iter().map(|v| v.to_f64()).sum::<f64>() / n as f64;
            let var = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / n as f64;
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
            let mean_h = h.iter().map(|v| v.to_f64()).sum::<f64>() / n as f64;
            let mean_hx = h
                .iter()
                .zip(xh)
                .map(|(a, b)| a.to_f64() * b.to_f64())
                .sum::<f64>()
                / n as f64;
            out.extend(h.iter().zip(xh).map(|(&h, &x)| {
                T::from_f64((h.to_f64() - mean_h - x.to_f64() * mean_hx) * inv.to_f64())
            }));
        }
        Array::from_vec(out, &self.shape)
    }
}
