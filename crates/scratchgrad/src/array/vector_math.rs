//! Math functions written so that a loop over a slice of `f32` vectorizes: no branches, no
//! calls into libm (the logistic function and tanh: libm's `tanhf` took a quarter of a GPT's
//! training step, one value at a time). The plain versions (`f32::exp` behind `elementwise::sigmoid`, which `f64`
//! keeps using) are the reference the tests hold these to.
//!
//! e^t is computed the way vector math libraries do (Cephes' `expf`): split t = n ln2 + r with
//! n an integer and |r| <= ln2 / 2, so e^t = 2^n e^r; 2^n goes straight into the float's
//! exponent bits, and e^r is a degree-7 polynomial accurate to about 1 ulp on that interval.

use super::buffers::vec_with_capacity;
use super::simd::Isa;

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 in two parts (Cody and Waite): `n * LN2_HI` is exact, so `t - n ln2` loses nothing.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding then subtracting 1.5 * 2^23 rounds an f32 to the nearest integer.
const ROUND: f32 = 12_582_912.0;
/// Below this, the result is flushed to 0 (e^-87 is about 1.6e-38, just above f32's smallest
/// normal number, 1.2e-38).
const SMALLEST: f32 = -87.0;

/// e^t for t <= 0 (positive t is treated as 0: the logistic function, tanh and softmax call
/// this with t <= 0); NaN stays NaN.
#[inline(always)]
pub(crate) fn exp_nonpositive(t: f32) -> f32 {
    let clamped = t.clamp(SMALLEST, 0.0);
    let shifted = clamped * LOG2_E + ROUND;
    let n = shifted - ROUND;
    // The integer n sits in the low bits of `shifted`'s mantissa.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = clamped - n * LN2_HI - n * LN2_LO;
    // e^r = 1 + r + r^2/2 + ... (Cephes' minimax coefficients for the higher terms)
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * r * r + r + 1.0;
    // 2^n: the biased exponent n + 127 in bits 23..31.
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    if t < SMALLEST {
        0.0
    } else {
        e_r * two_n
    }
}

/// The logistic function 1 / (1 + e^-x) for `f32`, in the same stable form as the
/// reference: with e = e^-|x| (never overflowing), it is 1 / (1 + e) for x >= 0 and
/// e / (1 + e) below.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let numerator = if x >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// `f` of every value, compiled for the widest instruction set the processor has
/// ([`Isa::run`]; the baseline x86-64 build has four-wide SSE2 only). `f` is inlined into the
/// loop, so a branch-free `f` (as [`sigmoid_f32`], [`tanh_f32`] and GELU built on it are)
/// vectorizes, with the same bits on every set.
pub(crate) fn map_f32(x: &[f32], f: impl Fn(f32) -> f32) -> Vec<f32> {
    Isa::detect().run(
        #[inline(always)]
        || map_portable(x, f),
    )
}

/// A plain loop into a new vector's capacity: nothing is zeroed first (that fill was a
/// pass over memory of its own), and `collect` would call out of the vectorized copy into
/// code compiled for the baseline.
#[inline(always)]
fn map_portable(x: &[f32], f: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut out = vec_with_capacity(x.len());
    for (y, &v) in out.spare_capacity_mut().iter_mut().zip(x) {
        y.write(f(v));
    }
    // SAFETY: the loop wrote each of the first x.len() elements (the capacity is at least that).
    unsafe { out.set_len(x.len()) };
    out
}

/// `f` of every value where `f` gives two results (GELU and its slope), into two new vectors,
/// compiled as [`map_f32`] is (for any element type: `f64`'s math functions are not written
/// to vectorize, but the loop around them is the same).
pub(crate) fn map_two<T: Copy>(x: &[T], f: impl Fn(T) -> (T, T)) -> (Vec<T>, Vec<T>) {
    // One row as long as x (paired with itself, the pair's second value unread).
    map_two_rows(x, x, |v, _| f(v))
}

/// [`map_two`] with each value's column: `f(x, row[j])` for a value in column `j` of rows
/// `row.len()` long (a bias added to every row before GELU).
pub(crate) fn map_two_rows<T: Copy>(
    x: &[T],
    row: &[T],
    f: impl Fn(T, T) -> (T, T),
) -> (Vec<T>, Vec<T>) {
    // Every value has a column to pair with (nothing is left unwritten below).
    assert!(
        !row.is_empty() || x.is_empty(),
        "map_two_rows: values without a row"
    );
    let n = row.len().max(1);
    Isa::detect().run(
        #[inline(always)]
        || {
            let (mut first, mut second) = (vec_with_capacity(x.len()), vec_with_capacity(x.len()));
            let outputs = (first.spare_capacity_mut().chunks_mut(n))
                .zip(second.spare_capacity_mut().chunks_mut(n));
            for ((a, b), x) in outputs.zip(x.chunks(n)) {
                for (((a, b), &v), &r) in a.iter_mut().zip(b).zip(x).zip(row) {
                    let (p, q) = f(v, r);
                    a.write(p);
                    b.write(q);
                }
            }
            // SAFETY: the loops wrote the first x.len() elements of each (their capacity is at
            // least that): every chunk of x, `row.len()` long (the assert: not 0 when there
            // are values) or the last one shorter, paired with as many of `row`.
            unsafe {
                first.set_len(x.len());
                second.set_len(x.len());
            }
            (first, second)
        },
    )
}

/// tanh for `f32` from the same e^t: with e = e^(-2|x|), tanh |x| = (1 - e) / (1 + e), the
/// sign put back after. Near 0, where 1 - e would cancel, the series
/// x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 takes over (|x| < 0.125: the next term is
/// below f32's precision there).
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let e = exp_nonpositive(-2.0 * a);
    let far = (1.0 - e) / (1.0 + e);
    let x2 = a * a;
    let near = a
        * (1.0
            + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))));
    let magnitude = if a < 0.125 { near } else { far };
    if x.is_nan() {
        x
    } else {
        magnitude.copysign(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::elementwise::sigmoid;

    /// Within `ulps` units in the last place of the f64 reference rounded to f32.
    fn within_ulps(got: f32, want: f64, ulps: i64) -> bool {
        let want = want as f32;
        (got.to_bits() as i64 - want.to_bits() as i64).abs() <= ulps || got == want
    }

    #[test]
    fn exp_matches_f64_exp_within_two_ulps() {
        let mut t = -87.0f32;
        while t <= 0.0 {
            let got = exp_nonpositive(t);
            assert!(within_ulps(got, (t as f64).exp(), 2), "e^{t}: {got}");
            t += 0.000_731;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-1000.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn sigmoid_matches_the_reference() {
        let mut x = -87.0f32;
        while x <= 90.0 {
            let got = sigmoid_f32(x);
            let want = sigmoid(x as f64);
            // 1/(1+e) adds one rounding to exp's error.
            assert!(within_ulps(got, want, 3), "sigmoid({x}): {got} vs {want}");
            x += 0.001_37;
        }
        assert_eq!(sigmoid_f32(0.0), 0.5);
        // Below e^-87 the result would be subnormal; it is flushed to 0.
        assert_eq!(sigmoid_f32(-87.5), 0.0);
        assert_eq!(sigmoid_f32(-1000.0), 0.0);
        assert_eq!(sigmoid_f32(1000.0), 1.0);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_matches_f64_tanh_within_four_ulps() {
        let mut x = -20.0f32;
        while x <= 20.0 {
            let got = tanh_f32(x);
            assert!(
                within_ulps(got, (x as f64).tanh(), 4),
                "tanh({x}): {got} vs {}",
                (x as f64).tanh()
            );
            x += 0.000_913;
        }
        // Around the switch between the series and the exponential, and tiny inputs.
        for x in [0.124_999_99f32, 0.125, 0.125_000_01, 1e-3, 1e-20, -1e-30] {
            assert!(within_ulps(tanh_f32(x), (x as f64).tanh(), 4), "tanh({x})");
        }
        assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!((tanh_f32(100.0), tanh_f32(f32::NEG_INFINITY)), (1.0, -1.0));
        assert!(tanh_f32(f32::NAN).is_nan());
        let xs: Vec<f32> = (0..5_000).map(|i| (i as f32 - 2_500.0) * 0.0071).collect();
        let bits = |y: Vec<f32>| -> Vec<u32> { y.iter().map(|v| v.to_bits()).collect() };
        let want: Vec<u32> = xs.iter().map(|&v| tanh_f32(v).to_bits()).collect();
        assert_eq!(bits(map_f32(&xs, tanh_f32)), want);
        assert_eq!(bits(map_portable(&xs, tanh_f32)), want);
    }

    /// `map_portable(x, f)` compiled for each set this CPU has ([`Isa::run`]) gives the bits
    /// of `f` taken one value at a time. `f` is passed as itself, not as a function pointer,
    /// so that it is inlined into each set's copy of the loop.
    fn check_every_set(x: &[f32], f: impl Fn(f32) -> f32 + Copy) {
        let bits = |y: &[f32]| -> Vec<u32> { y.iter().map(|v| v.to_bits()).collect() };
        let want: Vec<f32> = x.iter().map(|&v| f(v)).collect();
        assert_eq!(bits(&map_f32(x, f)), bits(&want));
        for isa in Isa::available() {
            let got = isa.run(
                #[inline(always)]
                || map_portable(x, f),
            );
            assert_eq!(bits(&got), bits(&want), "{}", isa.name());
        }
    }

    #[test]
    fn the_slice_version_gives_the_same_bits_on_every_path() {
        let x: Vec<f32> = (0..20_000)
            .map(|i| (i as f32 - 10_000.0) * 0.0093)
            .collect();
        check_every_set(&x, sigmoid_f32);
        check_every_set(&x, tanh_f32);
        check_every_set(&x, |v| exp_nonpositive(-v.abs()));
        // GELU as `Array::gelu` builds it on the logistic function.
        check_every_set(&x, |v| {
            v * sigmoid_f32(2.0 * 0.797_884_6 * (v + 0.044_715 * v * v * v))
        });
    }
}
