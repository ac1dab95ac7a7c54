//! Elementwise arithmetic: unary maps and binary operations with numpy broadcasting.

use super::buffers::vec_with_capacity;
use super::shape::{broadcast_shapes, broadcast_strides, for_each_row};
use super::vector_math::{map_two, map_two_rows};
use super::{Array, Float, Isa, LONG_SUM};

impl<T: Copy> Array<T> {
    /// Combines two arrays element by element after broadcasting them to a common shape
    /// (numpy's rule). Panics with `op` and both shapes when they cannot broadcast.
    pub fn zip_with<U: Copy, V: Copy>(
        &self,
        op: &str,
        other: &Array<U>,
        f: impl Fn(T, U) -> V,
    ) -> Array<V> {
        if self.shape == other.shape {
            let mut data = vec_with_capacity(self.len());
            data.extend(self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b)));
            return Array::from_vec(data, &self.shape);
        }
        if other.len() == 1 && other.ndim() <= self.ndim() {
            let b = other.data[0];
            let mut data = vec_with_capacity(self.len());
            data.extend(self.data.iter().map(|&a| f(a, b)));
            return Array::from_vec(data, &self.shape);
        }
        let shape = broadcast_shapes(op, &self.shape, &other.shape);
        let sa = broadcast_strides(&self.shape, &shape);
        let sb = broadcast_strides(&other.shape, &shape);
        let mut data = vec_with_capacity(shape.iter().product());
        let (a, b) = (&self.data, &other.data);
        // Row by row; a row's step along each operand is 1 (contiguous) or 0 (broadcast).
        let n = shape.last().copied().unwrap_or(1);
        let steps = (sa.last().copied(), sb.last().copied());
        for_each_row(&shape, [&sa, &sb], |_, [ia, ib]| match steps {
            (Some(1), Some(1)) => {
                let pairs = a[ia..ia + n].iter().zip(&b[ib..ib + n]);
                data.extend(pairs.map(|(&x, &y)| f(x, y)));
            }
            (Some(1), Some(0)) => data.extend(a[ia..ia + n].iter().map(|&x| f(x, b[ib]))),
            (Some(0), Some(1)) => data.extend(b[ib..ib + n].iter().map(|&y| f(a[ia], y))),
            (ta, tb) => {
                let (ta, tb) = (ta.unwrap_or(0), tb.unwrap_or(0));
                data.extend((0..n).map(|j| f(a[ia + j * ta], b[ib + j * tb])));
            }
        });
        Array::from_vec(data, &shape)
    }
}

impl<T: Float> Array<T> {
    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("add", other, |a, b| a + b)
    }
    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("sub", other, |a, b| a - b)
    }
    /// `self * other` elementwise, broadcasting.
    pub fn mul(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("mul", other, |a, b| a * b)
    }
    /// `self / other` elementwise, broadcasting.
    pub fn div(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("div", other, |a, b| a / b)
    }
    /// `self ** other` elementwise, broadcasting.
    pub fn pow(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("pow", other, |a, b| a.powf(b))
    }
    /// The larger of each pair, broadcasting.
    pub fn maximum(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("maximum", other, |a, b| if b > a { b } else { a })
    }
    /// The smaller of each pair, broadcasting.
    pub fn minimum(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("minimum", other, |a, b| if b < a { b } else { a })
    }
    /// 1 where `self == other`, else 0 (a mask in the array's own type, ready to multiply).
    pub fn eq_mask(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("eq", other, |a, b| if a == b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self > other`, else 0.
    pub fn gt_mask(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("gt", other, |a, b| if a > b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self >= other`, else 0.
    pub fn ge_mask(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("ge", other, |a, b| if a >= b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self < other`, else 0.
    pub fn lt_mask(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("lt", other, |a, b| if a < b { T::ONE } else { T::ZERO })
    }
    /// 1 where `self <= other`, else 0.
    pub fn le_mask(&self, other: &Array<T>) -> Array<T> {
        self.zip_with("le", other, |a, b| if a <= b { T::ONE } else { T::ZERO })
    }

    /// `self += other` in place, for arrays of the same shape (gradient accumulation,
    /// optimizer updates). Panics with both shapes otherwise.
    pub fn add_assign(&mut self, other: &Array<T>) {
        assert!(
            self.shape == other.shape,
            "add_assign: cannot add {:?} into {:?}",
            other.shape,
            self.shape
        );
        for (a, &b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }

    /// `self = a * self + b * other` in place, for arrays of the same shape and numbers `a` and
    /// `b`, each product rounded before the sum: two parts' gradients added with their weights
    /// in one pass. Panics with both shapes otherwise.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let mut g = Array::from_vec(vec![1.0f32, -2.0], &[2]);
    /// g.scaled_add_assign(0.5, &Array::from_vec(vec![4.0, 8.0], &[2]), 0.25);
    /// assert_eq!(g.data(), &[1.5, 1.0]);
    /// ```
    pub fn scaled_add_assign(&mut self, a: T, other: &Array<T>, b: T) {
        assert!(
            self.shape == other.shape,
            "scaled_add_assign: cannot add {:?} into {:?}",
            other.shape,
            self.shape
        );
        for (x, &y) in self.data.iter_mut().zip(&other.data) {
            *x = a * *x + b * y;
        }
    }

    /// `self *= c` in place, for a number `c` (a gradient scaled before it is summed or
    /// applied).
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let mut g = Array::from_vec(vec![1.0f32, -2.0], &[2]);
    /// g.scale_assign(0.5);
    /// assert_eq!(g.data(), &[0.5, -1.0]);
    /// ```
    pub fn scale_assign(&mut self, c: T) {
        self.data.iter_mut().for_each(|a| *a *= c);
    }

    /// `self + c` for a number `c`.
    pub fn add_scalar(&self, c: T) -> Array<T> {
        self.map(|a| a + c)
    }
    /// `self * c` for a number `c`.
    pub fn mul_scalar(&self, c: T) -> Array<T> {
        self.map(|a| a * c)
    }
    /// `self ** e` for a number `e`.
    pub fn powf(&self, e: T) -> Array<T> {
        self.map(|a| a.powf(e))
    }
    /// `-self`.
    pub fn neg(&self) -> Array<T> {
        self.map(|a| -a)
    }
    /// e^x elementwise.
    pub fn exp(&self) -> Array<T> {
        self.map(T::exp)
    }
    /// e^x elementwise for values that are all 0 or less (scores less their row's largest),
    /// vectorized for `f32`: see [`Float::exp_nonpositive`].
    pub(crate) fn exp_nonpositive(&self) -> Array<T> {
        Array::from_vec(T::map_slice(&self.data, T::exp_nonpositive), &self.shape)
    }
    /// Natural log elementwise.
    pub fn log(&self) -> Array<T> {
        self.map(T::ln)
    }
    /// Square root elementwise.
    pub fn sqrt(&self) -> Array<T> {
        self.map(T::sqrt)
    }
    /// tanh elementwise.
    pub fn tanh(&self) -> Array<T> {
        Array::from_vec(T::map_slice(&self.data, T::tanh), &self.shape)
    }
    /// GELU in its tanh form: 0.5 x (1 + tanh(c (x + a x^3))), c = sqrt(2/pi), a = 0.044715
    /// (GPT-2's, PyTorch's `gelu(approximate="tanh")`), computed as x sigmoid(2 c (x + a x^3)):
    /// 0.5 (1 + tanh u) = sigmoid(2u) exactly, and the logistic function costs one e^t where
    /// tanh also needed a series near 0 and a sign put back.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let y = Array::from_vec(vec![0.0f64, 1.0], &[2]).gelu();
    /// assert_eq!(y.data()[0], 0.0);
    /// assert!((y.data()[1] - 0.8411919906082768).abs() < 1e-15);
    /// ```
    pub fn gelu(&self) -> Array<T> {
        let gelu = |x: T| x * gelu_sigmoid(x);
        Array::from_vec(T::map_slice(&self.data, gelu), &self.shape)
    }

    /// GELU and its slope d gelu(x)/dx at each value, from one logistic function per value
    /// (the slope kept for the backward pass, so that it takes no exponential of its own):
    /// with s = sigmoid(2u), u = c (x + a x^3), d (x s)/dx = s + x s (1 - s) 2c (1 + 3a x^2).
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let (y, slope) = Array::from_vec(vec![0.0f64, 1.0], &[2]).gelu_and_slope();
    /// assert_eq!(y.data()[0], 0.0);
    /// assert_eq!(slope.data()[0], 0.5);
    /// assert!((slope.data()[1] - 1.0829640838457826).abs() < 1e-15);
    /// ```
    pub fn gelu_and_slope(&self) -> (Array<T>, Array<T>) {
        let (y, slope) = map_two(&self.data, gelu_and_slope_at);
        (
            Array::from_vec(y, &self.shape),
            Array::from_vec(slope, &self.shape),
        )
    }

    /// [`Array::gelu_and_slope`] with GELU's values written over `self`'s (an array that has
    /// no other reader, as a product just made).
    pub(crate) fn into_gelu_and_slope(mut self) -> (Array<T>, Array<T>) {
        let mut slope = vec_with_capacity(self.len());
        Isa::detect().run(
            #[inline(always)]
            || {
                for (x, s) in self.data.iter_mut().zip(slope.spare_capacity_mut()) {
                    let (y, d) = gelu_and_slope_at(*x);
                    *x = y;
                    s.write(d);
                }
            },
        );
        // SAFETY: the loop wrote one slope for each of the self.len() values (the capacity is
        // at least that).
        unsafe { slope.set_len(self.len()) };
        let slope = Array::from_vec(slope, &self.shape);
        (self, slope)
    }

    /// GELU of `self + bias` and its slope there, in one pass (`bias` shaped `[n]`, `n` the
    /// last axis: added to every row): a linear layer's bias and the activation after it, as
    /// Megatron-LM fuses them. The same numbers as `self.add(bias).gelu_and_slope()`, whose
    /// sum is rounded before GELU reads it too. Panics if `bias` does not fit.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let x = Array::from_vec(vec![-1.0f64, 0.0, 1.0, 2.0], &[2, 2]);
    /// let bias = Array::from_vec(vec![1.0, 0.0], &[2]);
    /// let (y, slope) = x.bias_gelu_and_slope(&bias);
    /// let (want_y, want_slope) = x.add(&bias).gelu_and_slope();
    /// assert_eq!((y.data(), slope.data()), (want_y.data(), want_slope.data()));
    /// assert_eq!(y.data()[0], 0.0); // gelu(-1 + 1)
    /// ```
    pub fn bias_gelu_and_slope(&self, bias: &Array<T>) -> (Array<T>, Array<T>) {
        let n = bias.len();
        assert!(
            bias.shape[..] == [n] && self.shape.last() == Some(&n),
            "bias_gelu: a bias {:?} does not fit rows of {:?}",
            bias.shape,
            self.shape
        );
        let (y, slope) = map_two_rows(&self.data, &bias.data, |x, b| gelu_and_slope_at(x + b));
        (
            Array::from_vec(y, &self.shape),
            Array::from_vec(slope, &self.shape),
        )
    }

    /// The gradients of [`Array::bias_gelu_and_slope`] from the output's gradient `self` = g:
    /// the input's, g * slope (written over g), and the bias's, the sum of that over the rows,
    /// in row order (in f64 past [`LONG_SUM`] rows, as [`Array::sum`] adds): the same numbers
    /// as the gradients of the bias's addition and GELU taken one after the other, in one pass.
    pub fn bias_gelu_grads(mut self, slope: &Array<T>) -> (Array<T>, Array<T>) {
        assert!(
            self.shape == slope.shape,
            "bias_gelu_grads: gradient {:?} for slopes {:?}",
            self.shape,
            slope.shape
        );
        let n = self.shape.last().copied().unwrap_or(1);
        let width = n.max(1); // rows of no values: nothing to read
        let long = self.len() / width > LONG_SUM;
        let (mut db, mut db_long) = (vec![T::ZERO; n], vec![0.0f64; if long { n } else { 0 }]);
        Isa::detect().run(
            #[inline(always)]
            || {
                let rows = self.data.chunks_mut(width).zip(slope.data.chunks(width));
                for (g, s) in rows {
                    // dx = g * slope, in g's place; db = the sum over rows of dx
                    if long {
                        for ((g, &s), db) in g.iter_mut().zip(s).zip(db_long.iter_mut()) {
                            *g *= s;
                            *db += g.to_f64();
                        }
                    } else {
                        for ((g, &s), db) in g.iter_mut().zip(s).zip(db.iter_mut()) {
                            *g *= s;
                            *db += *g;
                        }
                    }
                }
            },
        );
        if long {
            db = db_long.into_iter().map(T::from_f64).collect();
        }
        if self.ndim() == 1 {
            // One row: the addition's rule hands g's share to the bias as it is (a sum from 0
            // would turn a -0 into +0).
            db.copy_from_slice(&self.data);
        }
        (self, Array::from_vec(db, &[n]))
    }

    /// The logistic function 1 / (1 + e^-x), evaluated without overflow for large |x|.
    pub fn sigmoid(&self) -> Array<T> {
        Array::from_vec(T::map_slice(&self.data, T::sigmoid), &self.shape)
    }
    /// max(x, 0) elementwise.
    pub fn relu(&self) -> Array<T> {
        self.map(|a| if a > T::ZERO { a } else { T::ZERO })
    }
    /// |x| elementwise.
    pub fn abs(&self) -> Array<T> {
        self.map(T::abs)
    }
}

/// The logistic function 1 / (1 + e^-x): e^-x is only taken for x >= 0, e^x otherwise, so
/// neither side overflows.
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// GELU's c = sqrt(2 / pi).
const GELU_C: f64 = 0.797_884_560_802_865_4;
/// GELU's a, the cube's weight.
const GELU_A: f64 = 0.044715;

/// GELU at `x` and its slope there (see [`Array::gelu_and_slope`]).
#[inline(always)]
fn gelu_and_slope_at<T: Float>(x: T) -> (T, T) {
    let (two_c, a3) = (T::from_f64(2.0 * GELU_C), T::from_f64(3.0 * GELU_A));
    let s = gelu_sigmoid(x);
    (
        x * s,
        s + x * s * (T::ONE - s) * two_c * (T::ONE + a3 * x * x),
    )
}

/// sigmoid(2 c (x + a x^3)) = 0.5 (1 + tanh(c (x + a x^3))): GELU's weight on x.
#[inline(always)]
fn gelu_sigmoid<T: Float>(x: T) -> T {
    (T::from_f64(2.0 * GELU_C) * (x + T::from_f64(GELU_A) * x * x * x)).sigmoid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_column_against_row() {
        let col = Array::from_vec(vec![1.0, 2.0], &[2, 1]);
        let row = Array::from_vec(vec![10.0, 20.0, 30.0], &[3]);
        let sum = col.add(&row);
        assert_eq!(sum.shape(), &[2, 3]);
        assert_eq!(sum.data(), &[11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        let scalar = Array::scalar(2.0);
        assert_eq!(scalar.mul(&row).data(), &[20.0, 40.0, 60.0]);
    }

    /// The bias and GELU in one pass give the bits of the addition and GELU one after the
    /// other, forward and backward: rows under and over a vector, and more rows than
    /// LONG_SUM (whose bias sums add in f64).
    #[test]
    fn bias_gelu_gives_the_bits_of_its_two_steps() {
        fn check<T: Float>(rows: usize, n: usize, seed: u64) {
            let mut rng = crate::array::Rng::seed(seed);
            let mut values = |shape: &[usize]| {
                let len = shape.iter().product();
                let data = (0..len).map(|_| T::from_f64(rng.normal() * 2.0)).collect();
                Array::from_vec(data, shape)
            };
            let (x, bias, g) = (values(&[rows, n]), values(&[n]), values(&[rows, n]));
            let (y, slope) = x.bias_gelu_and_slope(&bias);
            let (want_y, want_slope) = x.add(&bias).gelu_and_slope();
            assert_eq!(y.data(), want_y.data(), "{rows}x{n}: values");
            assert_eq!(slope.data(), want_slope.data(), "{rows}x{n}: slopes");
            let (dx, db) = g.clone().bias_gelu_grads(&slope);
            let want_dx = g.mul(&slope);
            assert_eq!(dx.data(), want_dx.data(), "{rows}x{n}: input's gradient");
            assert_eq!(db.shape(), &[n]);
            let want_db = want_dx.summed_to(&[n]);
            assert_eq!(db.data(), want_db.data(), "{rows}x{n}: bias's gradient");
        }
        fn bits<T: Float>(a: &Array<T>) -> Vec<u64> {
            a.data().iter().map(|x| x.to_f64().to_bits()).collect()
        }
        // One row, 1-D, with zeros of both signs: the bias's gradient keeps each sign.
        let x = Array::from_vec(vec![-0.0f32, 0.0, -1.0, 2.0], &[4]);
        let (bias, g) = (
            Array::zeros(&[4]),
            Array::from_vec(vec![-0.0, 0.0, 1.0, -0.0], &[4]),
        );
        let (y, slope) = x.bias_gelu_and_slope(&bias);
        let (want_y, want_slope) = x.add(&bias).gelu_and_slope();
        assert_eq!((bits(&y), bits(&slope)), (bits(&want_y), bits(&want_slope)));
        let (dx, db) = g.clone().bias_gelu_grads(&slope);
        let want_dx = g.mul(&slope);
        assert_eq!(bits(&dx), bits(&want_dx));
        assert_eq!(bits(&db), bits(&want_dx.summed_to(&[4])));
        for (rows, n) in [(0, 3), (1, 1), (3, 17), (5, 128), (LONG_SUM + 1, 3)] {
            check::<f32>(rows, n, 1);
            check::<f64>(rows, n, 2);
        }
    }

    #[test]
    #[should_panic(expected = "bias_gelu: a bias [3] does not fit rows of [2, 4]")]
    fn bias_gelu_refuses_a_bias_that_does_not_fit() {
        Array::<f32>::zeros(&[2, 4]).bias_gelu_and_slope(&Array::zeros(&[3]));
    }

    /// PyTorch's `gelu(x, approximate="tanh")` and its slope, in f64 from the formulas in
    /// its documentation.
    fn gelu_reference(x: f64) -> (f64, f64) {
        let t = (GELU_C * (x + GELU_A * x * x * x)).tanh();
        let slope =
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * x * x);
        (0.5 * x * (1.0 + t), slope)
    }

    #[test]
    fn gelu_and_its_slope_match_the_tanh_formula() {
        let xs: Vec<f64> = (0..8_001).map(|i| (i as f64 - 4_000.0) * 0.0025).collect();
        let g: Vec<f64> = xs.iter().map(|x| 1.0 - 0.1 * x).collect();
        let n = xs.len();
        let x64 = Array::from_vec(xs.clone(), &[n]);
        let g64 = Array::from_vec(g.clone(), &[n]);
        let x32: Array<f32> = x64.cast();
        let g32: Array<f32> = g64.cast();
        let times_slope = |x: &Array<f64>| {
            let (y, slope) = x.gelu_and_slope();
            assert_eq!(y.data(), x.gelu().data(), "the same values as gelu()");
            (y, slope.mul(&g64))
        };
        let (y64, d64) = times_slope(&x64);
        let (y32, slope32) = x32.gelu_and_slope();
        assert_eq!(y32.data(), x32.gelu().data(), "the same values as gelu()");
        let d32 = slope32.mul(&g32);
        for i in 0..n {
            let (y, slope) = gelu_reference(xs[i]);
            assert!(
                (y64.data()[i] - y).abs() <= 1e-15 * (1.0 + y.abs()),
                "gelu({})",
                xs[i]
            );
            let d = g[i] * slope;
            assert!(
                (d64.data()[i] - d).abs() <= 1e-14 * (1.0 + d.abs()),
                "gelu'({})",
                xs[i]
            );
            // f32: a few roundings of an input that is itself rounded
            assert!(
                (y32.data()[i] as f64 - y).abs() <= 1e-6 * (1.0 + y.abs()),
                "{}",
                xs[i]
            );
            assert!(
                (d32.data()[i] as f64 - d).abs() <= 2e-6 * (1.0 + d.abs()),
                "{}",
                xs[i]
            );
        }
        assert!(
            x32.gelu().data()[4_000] == 0.0
                && Array::from_vec(vec![f32::NAN], &[1]).gelu().data()[0].is_nan()
        );
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        let x = Array::from_vec(vec![-1000.0f32, 0.0, 1000.0], &[3]);
        assert_eq!(x.sigmoid().data(), &[0.0, 0.5, 1.0]);
    }

    #[test]
    #[should_panic(expected = "sub: cannot broadcast [2, 3] with [2]")]
    fn mismatch_panics_with_both_shapes() {
        Array::<f64>::zeros(&[2, 3]).sub(&Array::zeros(&[2]));
    }
}
