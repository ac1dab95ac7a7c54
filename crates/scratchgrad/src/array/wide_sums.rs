//! The f64 sums of `f32` terms that layer norm and gradient clipping take, in vector
//! registers: eight f64 running sums in one AVX-512 register, two AVX2 registers of four, or
//! an array of eight elsewhere. Each is [`sum_pairs`]'s order exactly (term `i` to sum
//! `i % 8`, the last `n % 8` in a chain of their own, then a fixed tree), so the bits are the
//! same on every set and as the plain loop's. The compiler vectorizes that plain loop too,
//! but into two-wide vectors and shuffles: two to three times the instructions.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use std::any::TypeId;

use super::reduce::{add_lanes, sum_pairs};
use super::simd::Kind;
use super::{Float, Isa};

/// What is summed over `a` and `b` side by side (each value taken to f64 first).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Term {
    /// `a`, alone (`b` is not read).
    Value,
    /// `(a - m)^2` (`b` is not read): a variance's numerator.
    SquaredDeviation(f64),
    /// `a * b`.
    Product,
}

impl Term {
    /// One term, in f64.
    #[inline(always)]
    fn of(self, a: f64, b: f64) -> f64 {
        match self {
            Term::Value => a,
            Term::SquaredDeviation(m) => (a - m) * (a - m),
            Term::Product => a * b,
        }
    }
}

/// The sum of `term` over `a` and `b` side by side, in f64, in the order of [`sum_pairs`]
/// (the reference this is tested against), any type of float.
fn sum_terms_plain<T: Float>(a: &[T], b: &[T], term: Term) -> f64 {
    sum_pairs(a, b, |x, y| term.of(x.to_f64(), y.to_f64()))
}

/// The sum of `term` over `a` and `b` side by side (slices of one length), in f64, with
/// [`sum_terms_plain`]'s bits: `f32` in the registers above, `f64` by the plain loop compiled
/// for the widest set the CPU has.
pub(crate) fn sum_terms<T: Float>(a: &[T], b: &[T], term: Term) -> f64 {
    assert_eq!(a.len(), b.len(), "sum_terms: slices of different lengths");
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: `T` is `f32`, so both are slices of `f32`, of the same lengths.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len()),
                std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len()),
            )
        };
        return sum_terms_on(Isa::detect(), a, b, term);
    }
    Isa::detect().run(
        #[inline(always)]
        || sum_terms_plain(a, b, term),
    )
}

/// [`sum_terms`] for `f32`, on the set given.
fn sum_terms_on(isa: Isa, a: &[f32], b: &[f32], term: Term) -> f64 {
    match isa.kind() {
        // SAFETY: only detection makes an `Isa`, so this CPU has the set.
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 => unsafe { sum_avx512(a, b, term) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kind::Avx2 => unsafe { sum_avx2(a, b, term) },
        // SAFETY: plain Rust runs anywhere.
        _ => unsafe { sum_lanes::<Portable>(a, b, term) },
    }
}

/// SAFETY: only call this on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_avx512(a: &[f32], b: &[f32], term: Term) -> f64 {
    // SAFETY: the caller's promise.
    unsafe { sum_lanes::<Avx512>(a, b, term) }
}

/// SAFETY: only call this on a CPU with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(a: &[f32], b: &[f32], term: Term) -> f64 {
    // SAFETY: the caller's promise.
    unsafe { sum_lanes::<Avx2>(a, b, term) }
}

/// The sum, eight terms at a time in `W`'s registers.
///
/// SAFETY: only call this on a CPU with `W`'s instruction set.
#[inline(always)]
unsafe fn sum_lanes<W: Wide>(a: &[f32], b: &[f32], term: Term) -> f64 {
    let n = a.len().min(b.len());
    let whole = n - n % 8;
    // SAFETY (each block): the caller's promise about the set, and i + 8 <= whole <= n for
    // both slices.
    let mut sums = unsafe { W::splat(0.0) };
    match term {
        Term::Value => {
            for i in (0..whole).step_by(8) {
                unsafe { sums = W::add(sums, W::widen(a.as_ptr().add(i))) };
            }
        }
        Term::SquaredDeviation(m) => {
            let m = unsafe { W::splat(m) };
            for i in (0..whole).step_by(8) {
                unsafe {
                    let d = W::sub(W::widen(a.as_ptr().add(i)), m);
                    sums = W::add(sums, W::mul(d, d));
                }
            }
        }
        Term::Product => {
            for i in (0..whole).step_by(8) {
                unsafe {
                    let p = W::mul(W::widen(a.as_ptr().add(i)), W::widen(b.as_ptr().add(i)));
                    sums = W::add(sums, p);
                }
            }
        }
    }
    let rest = (a[whole..n].iter().zip(&b[whole..n]))
        .fold(0.0, |s, (&x, &y)| s + term.of(f64::from(x), f64::from(y)));
    add_lanes(unsafe { W::lanes(sums) }, rest)
}

/// Eight f64 lanes in the registers of one instruction set. Every method is `unsafe`: it may
/// only run on a CPU with that set.
trait Wide {
    type V: Copy;
    /// All lanes `x`.
    unsafe fn splat(x: f64) -> Self::V;
    /// Eight `f32` from `p` (any alignment), each taken to f64.
    unsafe fn widen(p: *const f32) -> Self::V;
    /// Lane by lane `a + b`, `a - b`, `a * b` (each rounded once, as in plain code).
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// The lanes, in order.
    unsafe fn lanes(v: Self::V) -> [f64; 8];
}

/// One AVX-512 register of eight f64.
#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Wide for Avx512 {
    type V = __m512d;
    #[inline(always)]
    unsafe fn splat(x: f64) -> __m512d {
        unsafe { _mm512_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn widen(p: *const f32) -> __m512d {
        unsafe { _mm512_cvtps_pd(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512d, b: __m512d) -> __m512d {
        unsafe { _mm512_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
        unsafe { _mm512_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn lanes(v: __m512d) -> [f64; 8] {
        let mut out = [0.0; 8];
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), v) };
        out
    }
}

/// Two AVX2 registers of four f64: lanes 0-3 and 4-7.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Wide for Avx2 {
    type V = [__m256d; 2];
    #[inline(always)]
    unsafe fn splat(x: f64) -> [__m256d; 2] {
        unsafe { [_mm256_set1_pd(x); 2] }
    }
    #[inline(always)]
    unsafe fn widen(p: *const f32) -> [__m256d; 2] {
        unsafe {
            [
                _mm256_cvtps_pd(_mm_loadu_ps(p)),
                _mm256_cvtps_pd(_mm_loadu_ps(p.add(4))),
            ]
        }
    }
    #[inline(always)]
    unsafe fn add(a: [__m256d; 2], b: [__m256d; 2]) -> [__m256d; 2] {
        unsafe { [_mm256_add_pd(a[0], b[0]), _mm256_add_pd(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn sub(a: [__m256d; 2], b: [__m256d; 2]) -> [__m256d; 2] {
        unsafe { [_mm256_sub_pd(a[0], b[0]), _mm256_sub_pd(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn mul(a: [__m256d; 2], b: [__m256d; 2]) -> [__m256d; 2] {
        unsafe { [_mm256_mul_pd(a[0], b[0]), _mm256_mul_pd(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn lanes(v: [__m256d; 2]) -> [f64; 8] {
        let mut out = [0.0; 8];
        unsafe {
            _mm256_storeu_pd(out.as_mut_ptr(), v[0]);
            _mm256_storeu_pd(out.as_mut_ptr().add(4), v[1]);
        }
        out
    }
}

/// An array of eight f64, for any CPU.
struct Portable;

impl Wide for Portable {
    type V = [f64; 8];
    #[inline(always)]
    unsafe fn splat(x: f64) -> [f64; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn widen(p: *const f32) -> [f64; 8] {
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }.map(f64::from)
    }
    #[inline(always)]
    unsafe fn add(a: [f64; 8], b: [f64; 8]) -> [f64; 8] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn sub(a: [f64; 8], b: [f64; 8]) -> [f64; 8] {
        std::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    unsafe fn mul(a: [f64; 8], b: [f64; 8]) -> [f64; 8] {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    unsafe fn lanes(v: [f64; 8]) -> [f64; 8] {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;

    /// Every set the CPU has gives the plain loop's bits, for every remainder of 8, each term.
    #[test]
    fn every_set_gives_the_plain_sums_bits() {
        let mut rng = Rng::seed(3);
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 128, 131, 1000] {
            let a: Vec<f32> = (0..n).map(|_| rng.normal() as f32 * 3.0 + 1.0).collect();
            let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
            for term in [Term::Value, Term::SquaredDeviation(0.7), Term::Product] {
                let want = sum_terms_plain(&a, &b, term);
                for isa in Isa::available() {
                    let got = sum_terms_on(isa, &a, &b, term);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{} values, {term:?}, {}: {got} against {want}",
                        n,
                        isa.name()
                    );
                }
            }
        }
    }

    /// The sums against exact arithmetic on small integers (which f64 adds exactly).
    #[test]
    fn the_sums_are_the_sums() {
        let a: Vec<f32> = (1..=11).map(|i| i as f32).collect();
        let b = vec![2.0f32; 11];
        assert_eq!(sum_terms(&a, &b, Term::Value), 66.0);
        assert_eq!(sum_terms(&a, &b, Term::Product), 132.0);
        // sum of (i - 6)^2 for i = 1..=11: 2 * (1 + 4 + 9 + 16 + 25)
        assert_eq!(sum_terms(&a, &b, Term::SquaredDeviation(6.0)), 110.0);
    }
}
