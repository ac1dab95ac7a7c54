//! gemm's register tile, for the hand-written `f32` products: a few rows of the output by a few
//! vectors of its columns are kept in registers while the inner index `j` runs, and for each
//! `j` a piece of row `j` of `b` is loaded once and multiplied by each of the rows' `a[r, j]`.
//!
//! Which `j`'s are visited is the caller's: every `j` where one of the rows is nonzero (the
//! products that skip an MNIST image's black pixels, `zero_skipping.rs`), or the stretch of
//! `j` that a causal attention's triangle leaves (`attention.rs`). The tile is compiled for
//! AVX-512, for AVX2 with FMA, and as plain Rust (`simd.rs`), picked at run time.

#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};
use super::simd::{Isa, Kind, Lanes, Portable};

/// Rows of the output computed together: six rows of `a` share every loaded piece of `b`.
pub(crate) const ROWS: usize = 6;

/// A matrix inside a slice: element `(r, c)` at `r * pitch + c * step`.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a, T = f32> {
    pub data: &'a [T],
    pub pitch: usize,
    pub step: usize,
}

impl<'a, T> Rows<'a, T> {
    /// Rows `pitch` apart, each stored in order (`step` 1).
    pub(crate) fn new(data: &'a [T], pitch: usize) -> Self {
        Rows {
            data,
            pitch,
            step: 1,
        }
    }

    /// The transpose of [`Rows::new`]`(data, pitch)`: its columns read as rows.
    pub(crate) fn transposed(data: &'a [T], pitch: usize) -> Self {
        Rows {
            data,
            pitch: 1,
            step: pitch,
        }
    }

    /// Whether a `rows x cols` matrix read this way lies inside the slice (its last element
    /// does).
    pub(crate) fn holds(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || self.data.len() > (rows - 1) * self.pitch + (cols - 1) * self.step
    }

    /// Element `(r, c)`.
    pub(crate) fn at(&self, r: usize, c: usize) -> T
    where
        T: Copy,
    {
        self.data[r * self.pitch + c * self.step]
    }
}

/// One block of up to [`ROWS`] rows of `out = a @ b`, over the inner indices `inner` and the
/// output columns `0..n`: `out[r, c] = sum over j in inner of a[r, j] * b[j, c]`, each sum in
/// the order of `inner`. `out` is written, never read. `a` may be stored in any order (each
/// of its values is read alone); `b`'s rows are read a vector at a time.
///
/// SAFETY: `a` holds `rows` rows (1 to [`ROWS`]) with every `j` of `inner` inside each, `b`
/// holds every row `j` of `inner` with `n` columns in order (`step` 1), and `out` points at
/// `rows` rows of `n` writable floats that nothing else reads or writes meanwhile.
pub(crate) unsafe fn block(
    isa: Isa,
    rows: usize,
    a: Rows,
    inner: impl Iterator<Item = usize> + Clone,
    b: Rows,
    n: usize,
    out: Out,
) {
    assert_eq!(b.step, 1, "register_tile: b's rows must be stored in order");
    // SAFETY: the caller's promise; only detection makes an `Isa`, so the CPU has its set.
    unsafe {
        match isa.kind() {
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => block_avx512(rows, a, inner, b, n, out),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => block_avx2(rows, a, inner, b, n, out),
            _ => block_rows::<Portable, 2>(rows, a, inner, b, n, out),
        }
    }
}

/// Where a block's output goes: row `r` at `to + r * pitch`.
#[derive(Clone, Copy)]
pub(crate) struct Out {
    pub to: *mut f32,
    pub pitch: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(
    rows: usize,
    a: Rows,
    inner: impl Iterator<Item = usize> + Clone,
    b: Rows,
    n: usize,
    out: Out,
) {
    // SAFETY: the caller's promise, passed on. 6 rows x 4 vectors: 24 of the 32 registers.
    unsafe { block_rows::<Avx512, 4>(rows, a, inner, b, n, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(
    rows: usize,
    a: Rows,
    inner: impl Iterator<Item = usize> + Clone,
    b: Rows,
    n: usize,
    out: Out,
) {
    // SAFETY: the caller's promise, passed on. 6 rows x 2 vectors: 12 of the 16 registers.
    unsafe { block_rows::<Avx2, 2>(rows, a, inner, b, n, out) }
}

/// [`block`] in tiles of `V` vectors of columns, then single vectors, then single columns.
///
/// SAFETY: as for [`block`], and `L`'s instructions run on this CPU.
#[inline(always)]
unsafe fn block_rows<L: Lanes, const V: usize>(
    rows: usize,
    a: Rows,
    inner: impl Iterator<Item = usize> + Clone,
    b: Rows,
    n: usize,
    out: Out,
) {
    let mut c = 0;
    macro_rules! tiles {
        ($v:literal) => {
            while c + $v * L::LANES <= n {
                let inner = inner.clone();
                // SAFETY: columns c..c + $v lanes lie inside every row of `b` and `out`.
                unsafe {
                    match rows {
                        6 => tile::<L, 6, $v>(a, inner, b, out, c),
                        5 => tile::<L, 5, $v>(a, inner, b, out, c),
                        4 => tile::<L, 4, $v>(a, inner, b, out, c),
                        3 => tile::<L, 3, $v>(a, inner, b, out, c),
                        2 => tile::<L, 2, $v>(a, inner, b, out, c),
                        1 => tile::<L, 1, $v>(a, inner, b, out, c),
                        _ => unreachable!("a block has 1 to {ROWS} rows"),
                    }
                }
                c += $v * L::LANES;
            }
        };
    }
    if V == 4 {
        tiles!(4);
    }
    if V >= 2 {
        tiles!(2);
    }
    tiles!(1);
    // The last columns, fewer than a vector: sums in an array, each its own chain of adds
    // (one running sum at a time would wait on every add).
    let width = n - c;
    if width > 0 {
        let mut sums = [[0.0f32; 16]; ROWS];
        for j in inner {
            let b_row = &b.data[j * b.pitch + c..][..width];
            for (r, row_sums) in sums.iter_mut().enumerate().take(rows) {
                let x = a.at(r, j);
                for (sum, &bv) in row_sums.iter_mut().zip(b_row) {
                    *sum += x * bv;
                }
            }
        }
        for (r, row_sums) in sums.iter().enumerate().take(rows) {
            for (i, &sum) in row_sums[..width].iter().enumerate() {
                // SAFETY: row r's columns c..n are the caller's to write.
                unsafe { out.to.add(r * out.pitch + c + i).write(sum) };
            }
        }
    }
}

/// `R` rows by `V` vectors of outputs from column `c`, summed in registers.
///
/// SAFETY: as for [`block_rows`], with `a` holding `R` rows and `c + V * LANES <= n`.
#[inline(always)]
unsafe fn tile<L: Lanes, const R: usize, const V: usize>(
    a: Rows,
    inner: impl Iterator<Item = usize>,
    b: Rows,
    out: Out,
    c: usize,
) {
    // SAFETY: the caller's promise: rows 0..R of `a` at every j, rows j of `b` and columns
    // c..c + V * LANES of `b` and `out`, all inside their slices; `L` runs here.
    unsafe {
        let mut sums = [[L::zero(); V]; R];
        for j in inner {
            let from = b.data.as_ptr().add(j * b.pitch + c);
            let bv: [L::V; V] = std::array::from_fn(|v| L::load(from.add(v * L::LANES)));
            for (r, row_sums) in sums.iter_mut().enumerate() {
                let x = L::splat(*a.data.get_unchecked(r * a.pitch + j * a.step));
                for (sum, &bv) in row_sums.iter_mut().zip(&bv) {
                    *sum = L::mul_add(x, bv, *sum);
                }
            }
        }
        for (r, row_sums) in sums.iter().enumerate() {
            let to = out.to.add(r * out.pitch + c);
            for (v, &sum) in row_sums.iter().enumerate() {
                L::store(to.add(v * L::LANES), sum);
            }
        }
    }
}
