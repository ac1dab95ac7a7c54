//! The element types an [`Array`](super::Array) can hold for arithmetic: `f32` and `f64`.
//!
//! One small trait instead of a dtype enum: `f32` is for training speed, `f64` for gradient
//! checks and exact comparison with PyTorch's float64. It must never grow methods that only one
//! of the two types can honour.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// Only `f32` and `f64` may be `Float`: the matrix kernels (`gemm`) exist for those two alone,
/// so the trait is sealed rather than open to types they would fail on.
mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element: the arithmetic and math functions the library needs. Sealed:
/// implemented for `f32` and `f64` only.
pub trait Float:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + 'static
    + PartialOrd
    + Debug
    + Display
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Negative infinity: the identity of `max`.
    const NEG_INFINITY: Self;
    /// The type's name as PyTorch and safetensors spell it (`"F32"`, `"F64"`).
    const DTYPE: &'static str;
    /// Converts from `f64`, rounding for `f32`.
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts a count, as for dividing by the number of elements in a mean.
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }
    /// e^self.
    fn exp(self) -> Self;
    /// e^self for self <= 0 (a softmax's scores less their largest; a positive self counts as
    /// 0), NaN kept: `f32` with the branch-free `vector_math::exp_nonpositive` (within 2 ulps
    /// down to -87, 0 below), so that loops over it vectorize; `f64` with libm's, the
    /// reference.
    fn exp_nonpositive(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Hyperbolic tangent (`f32`: the branch-free `vector_math::tanh_f32`, within 4 ulps of
    /// the exact value, so that loops over it vectorize; `f64`: libm's, the reference).
    fn tanh(self) -> Self;
    /// self^e for a real exponent.
    fn powf(self, e: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of two values (NaN-ignoring, as `f64::max`).
    fn max(self, other: Self) -> Self;
    /// The smaller of two values (NaN-ignoring, as `f64::min`).
    fn min(self, other: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Not a number.
    fn is_nan(self) -> bool;
    /// The logistic function 1 / (1 + e^-self), without overflow. `f64` computes it with
    /// libm's `exp` (the reference); `f32` with a branch-free `exp` that vectorizes
    /// (`vector_math.rs`), tested against it.
    fn sigmoid(self) -> Self;
    /// `f` of every value (`f32`: compiled for the widest instruction set the CPU has, chosen
    /// at run time, with the same results: `f` built from branch-free arithmetic,
    /// [`Float::sigmoid`], [`Float::tanh`] and [`Float::exp_nonpositive`] vectorizes).
    fn map_slice(values: &[Self], f: impl Fn(Self) -> Self) -> Vec<Self> {
        values.iter().map(|&v| f(v)).collect()
    }
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $exp_nonpositive:path, $sigmoid:path, $tanh:path $(, $map_slice:path)?) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const DTYPE: &'static str = $name;
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn exp_nonpositive(self) -> Self {
                $exp_nonpositive(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline]
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline]
            fn sigmoid(self) -> Self {
                $sigmoid(self)
            }
            $(
                fn map_slice(values: &[Self], f: impl Fn(Self) -> Self) -> Vec<Self> {
                    $map_slice(values, f)
                }
            )?
        }
    };
}

impl_float!(
    f32,
    "F32",
    super::vector_math::exp_nonpositive,
    super::vector_math::sigmoid_f32,
    super::vector_math::tanh_f32,
    super::vector_math::map_f32
);
/// [`Float::exp_nonpositive`] for `f64`: libm's e^t, with a positive t counted as 0 as the
/// `f32` version counts it.
fn exp_nonpositive_f64(t: f64) -> f64 {
    if t > 0.0 {
        1.0
    } else {
        t.exp()
    }
}

impl_float!(
    f64,
    "F64",
    exp_nonpositive_f64,
    super::elementwise::sigmoid,
    f64::tanh
);
