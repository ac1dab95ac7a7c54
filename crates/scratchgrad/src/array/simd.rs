//! Vectors of `f32` lanes for the hand-written kernels (the direct convolution, the products
//! that skip zeros), with the
//! instruction set picked at run time, as oneDNN and gemm pick theirs; and [`Isa::run`], which
//! compiles a plain loop for that set so that the compiler vectorizes it (GELU, tanh, the
//! logistic function).
//!
//! A kernel is written once, generic over [`Lanes`], and marked `#[inline(always)]` all the
//! way down; its entry points then compile it three times: inside a
//! `#[target_feature(enable = "avx512f")]` function (16 lanes, 32 registers), inside an
//! `avx2,fma` one (8 lanes, 16 registers), and as plain Rust ([`Portable`], 8 lanes the
//! compiler vectorizes as it can). This is the `std::arch` route: the intrinsics are stable,
//! need no dependency, and a reader sees the exact instruction each line becomes (`pulp`
//! hides the same dispatch behind a trait of its own).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::sync::OnceLock;

/// The operations a kernel needs on a vector of `LANES` floats. Every method is `unsafe`:
/// an implementation for an instruction set may only run on a CPU that has it, so its
/// methods are only called from inside a function compiled for that set, with an [`Isa`]
/// (which only detection makes) that says the CPU has it.
pub(crate) trait Lanes: Copy {
    /// A vector of `LANES` floats, as the CPU holds it in one register.
    type V: Copy;
    /// Floats per vector.
    const LANES: usize;
    /// How many vectors a kernel may keep as accumulators (the vector registers, less a few
    /// for the operands; for `Portable`, what suits the common 16-register SSE/NEON files).
    const ACCUMULATORS: usize;
    /// All lanes 0.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `LANES` floats from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES` floats to `p` (any alignment).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a * b + c` in each lane.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
}

/// AVX-512: 16 lanes, 32 registers, a fused multiply-add rounded once.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type V = __m512;
    const LANES: usize = 16;
    const ACCUMULATORS: usize = 28;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
}

/// AVX2 with FMA: 8 lanes, 16 registers, a fused multiply-add rounded once.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = __m256;
    const LANES: usize = 8;
    const ACCUMULATORS: usize = 12;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
}

/// Plain Rust on 8 lanes, for any CPU: `a * b + c` with two roundings (a fused
/// multiply-add without hardware support is a slow library call).
#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Lanes for Portable {
    type V = [f32; 8];
    const LANES: usize = 8;
    const ACCUMULATORS: usize = 12;
    #[inline(always)]
    unsafe fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> [f32; 8] {
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 8]) {
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: [f32; 8], b: [f32; 8], c: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
}

/// An instruction set the kernels are compiled for, that this CPU has: only [`Isa::detect`]
/// and [`Isa::available`] make one, so a kernel given an `Isa` may use its instructions.
///
/// ```
/// use scratchgrad::array::Isa;
/// let sets = Isa::available();
/// assert_eq!(sets.last().unwrap().name(), "portable"); // every CPU runs plain Rust
/// assert!(sets.contains(&Isa::detect()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isa(Kind);

/// The sets, for the kernels' dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 16-lane AVX-512 (`avx512f`).
    Avx512,
    /// 8-lane AVX2 with FMA.
    Avx2,
    /// Plain Rust, on any CPU.
    Portable,
}

impl Isa {
    /// The widest set this CPU has (detected once). `SCRATCHGRAD_ISA=avx2|portable` asks
    /// for a narrower one, to compare them on one machine; a set the CPU lacks is never
    /// chosen (nor is any other value: either is named in one line on stderr, once).
    pub fn detect() -> Isa {
        static CHOSEN: OnceLock<Isa> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let available = Isa::available();
            let Ok(wanted) = std::env::var("SCRATCHGRAD_ISA") else {
                return available[0];
            };
            match available.iter().find(|isa| isa.name() == wanted) {
                Some(&asked) => asked,
                None => {
                    let names: Vec<&str> = available.iter().map(|isa| isa.name()).collect();
                    eprintln!(
                        "scratchgrad: SCRATCHGRAD_ISA={wanted:?} is not a set this CPU has ({}): using {}",
                        names.join(", "),
                        names[0]
                    );
                    available[0]
                }
            }
        })
    }

    /// Every set this CPU can run, widest first (always ending with the portable one).
    pub fn available() -> Vec<Isa> {
        let mut sets = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                sets.push(Isa(Kind::Avx512));
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                sets.push(Isa(Kind::Avx2));
            }
        }
        sets.push(Isa(Kind::Portable));
        sets
    }

    /// Its name as `SCRATCHGRAD_ISA` spells it.
    pub fn name(self) -> &'static str {
        match self.0 {
            Kind::Avx512 => "avx512",
            Kind::Avx2 => "avx2",
            Kind::Portable => "portable",
        }
    }

    /// Which set it is.
    pub(crate) fn kind(self) -> Kind {
        self.0
    }

    /// Runs `body` compiled for this set: loops in an `#[inline(always)]` closure are
    /// vectorized in its registers (the elementwise maps of `f32` arrays, `map_f32`, which the
    /// baseline x86-64 build compiles for four-wide SSE2). Rust never fuses a multiply and an
    /// add on its own and keeps every sum's order, so each set gives the same bits.
    pub(crate) fn run<R>(self, body: impl FnOnce() -> R) -> R {
        match self.0 {
            // SAFETY: only detection makes an `Isa`, so this CPU has the set.
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => unsafe { run_avx512(body) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => unsafe { run_avx2(body) },
            _ => body(),
        }
    }

    /// Floats per vector of this set.
    pub(crate) fn lanes(self) -> usize {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => Avx512::LANES,
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => Avx2::LANES,
            _ => Portable::LANES,
        }
    }
}

/// `body` compiled for AVX-512 (see [`Isa::run`]).
///
/// SAFETY: only call this on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// `body` compiled for AVX2 and FMA (see [`Isa::run`]).
///
/// SAFETY: only call this on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<R>(body: impl FnOnce() -> R) -> R {
    body()
}
