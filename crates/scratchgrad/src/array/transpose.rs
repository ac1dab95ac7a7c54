//! The matrix transpose, which `x @ W^T` runs before gemm: on `W` when many rows read it, or on
//! `x` and the result when it is computed as `(W @ x^T)^T` (gemm reads a right side stored by
//! rows faster than one stored by columns; `matmul.rs`).
//!
//! Walking down a column of a row-major matrix reads one float from each cache line, and
//! when a row is a multiple of 2 KiB long those lines all land in the same few sets of the
//! level-1 cache and push each other out (a 128 x 512 matrix took 1.8 ns an element). So the
//! matrix moves in 8 x 8 blocks instead: eight rows of eight floats read, transposed, and
//! written as eight rows of eight. With AVX the block is transposed inside eight registers
//! (the textbook sequence of unpack, shuffle and lane-permute instructions).
//! docs/BENCHMARKS.md has the timings.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::mem::{size_of, MaybeUninit};

use super::register_tile::Rows;
use super::simd::{Isa, Kind};
use super::threads::for_each_part;

/// The side of a block.
const BLOCK: usize = 8;

/// Matrices with fewer elements than this are moved by one thread.
const PARALLEL_MIN: usize = 1 << 16;

/// Appends the transpose of the row-major `rows x cols` matrix `src` (a `cols x rows` matrix,
/// row-major) to `out`: [[1, 2, 3], [4, 5, 6]] appends 1, 4, 2, 5, 3, 6.
///
/// A large matrix is moved in bands of its columns (rows of the result), one per thread.
pub(crate) fn append_transposed<T: Copy + Send + Sync>(
    src: &[T],
    rows: usize,
    cols: usize,
    out: &mut Vec<T>,
) {
    assert_eq!(
        src.len(),
        rows * cols,
        "transpose: {rows} x {cols} is not the slice's length"
    );
    out.reserve(src.len());
    let start = out.len();
    let isa = Isa::detect();
    let dst = &mut out.spare_capacity_mut()[..src.len()];
    for_each_part(dst, rows.max(1), PARALLEL_MIN, |offset, band| {
        write_band(isa, src, rows, cols, offset / rows.max(1), band)
    });
    // SAFETY: every band wrote all of its elements, and the bands cover rows * cols.
    unsafe { out.set_len(start + src.len()) };
}

/// Rows `first..` of the transpose of the row-major `rows x cols` matrix `src` (its columns
/// `first..`), as many as `band` holds, written into `band`.
fn write_band<T: Copy>(
    isa: Isa,
    src: &[T],
    rows: usize,
    cols: usize,
    first: usize,
    band: &mut [MaybeUninit<T>],
) {
    let width = band.len() / rows.max(1);
    assert!(
        first + width <= cols && band.len() == width * rows && src.len() == rows * cols,
        "transpose: a band of {width} columns from {first} does not fit {rows} x {cols}"
    );
    // SAFETY: the band has room for `width` rows of `rows` elements, and the kernel writes
    // every one of them: element (j, i) once, from src[i * cols + first + j], with
    // first + j < cols (checked above).
    unsafe {
        transpose(
            isa,
            src.as_ptr().add(first),
            rows,
            width,
            cols,
            band.as_mut_ptr().cast(),
        )
    }
}

/// The transpose of the `rows x cols` matrix `src` (rows stored in order, one head of
/// attention's keys inside its `qkv` rows), written into `dst` as `cols` rows of `rows`, by
/// the calling thread.
pub(crate) fn transpose_rows<T: Copy>(src: Rows<T>, rows: usize, cols: usize, dst: &mut [T]) {
    assert!(
        src.step == 1 && cols <= src.pitch && src.holds(rows, cols) && dst.len() >= rows * cols,
        "transpose: {rows} x {cols} rows {} apart do not fit {} values, or {} the result",
        src.pitch,
        src.data.len(),
        dst.len()
    );
    // SAFETY: checked above: `src` holds the rows, `dst` room for the result.
    unsafe {
        transpose(
            Isa::detect(),
            src.data.as_ptr(),
            rows,
            cols,
            src.pitch,
            dst.as_mut_ptr(),
        )
    }
}

/// The kernel for `isa`: `cols` columns of `rows` rows starting `pitch` apart at `src`,
/// transposed into `dst`.
///
/// SAFETY: `src` holds those rows, `dst` has room for `rows * cols` elements.
pub(super) unsafe fn transpose<T: Copy>(
    isa: Isa,
    src: *const T,
    rows: usize,
    cols: usize,
    pitch: usize,
    dst: *mut T,
) {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        match isa.kind() {
            // The AVX kernel moves 4-byte values (`f32`; a transpose moves bits and computes
            // nothing, so any 4-byte `Copy` type moves the same way).
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 | Kind::Avx2 if size_of::<T>() == 4 => {
                transpose_avx(src.cast(), rows, cols, pitch, dst.cast())
            }
            _ => transpose_blocked(src, rows, cols, pitch, dst),
        }
    }
}

/// The transpose in 8 x 8 blocks of plain moves, then the edges: `cols` columns of `rows`
/// rows that start `pitch` elements apart.
///
/// SAFETY: `src` holds `rows` rows of `cols` elements, `pitch` apart; `dst` has room for
/// `rows * cols`.
unsafe fn transpose_blocked<T: Copy>(
    src: *const T,
    rows: usize,
    cols: usize,
    pitch: usize,
    dst: *mut T,
) {
    let (full_rows, full_cols) = (rows / BLOCK * BLOCK, cols / BLOCK * BLOCK);
    for i0 in (0..full_rows).step_by(BLOCK) {
        for j0 in (0..full_cols).step_by(BLOCK) {
            for i in i0..i0 + BLOCK {
                for j in j0..j0 + BLOCK {
                    // SAFETY: i < rows and j < cols.
                    unsafe { *dst.add(j * rows + i) = *src.add(i * pitch + j) };
                }
            }
        }
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { transpose_edges(src, rows, cols, pitch, dst) };
}

/// The elements the 8 x 8 blocks leave: the last `cols % 8` columns of the block rows, then
/// every column of the last `rows % 8` rows.
///
/// SAFETY: as for [`transpose_blocked`].
#[inline(always)]
unsafe fn transpose_edges<T: Copy>(
    src: *const T,
    rows: usize,
    cols: usize,
    pitch: usize,
    dst: *mut T,
) {
    let (full_rows, full_cols) = (rows / BLOCK * BLOCK, cols / BLOCK * BLOCK);
    for i in 0..rows {
        let first = if i < full_rows { full_cols } else { 0 };
        for j in first..cols {
            // SAFETY: i < rows and j < cols.
            unsafe { *dst.add(j * rows + i) = *src.add(i * pitch + j) };
        }
    }
}

/// The transpose with each 8 x 8 block held in eight AVX registers.
///
/// SAFETY: the CPU must have AVX; `src` holds `rows` rows of `cols` floats, `pitch` apart;
/// `dst` has room for `rows * cols`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_avx(src: *const f32, rows: usize, cols: usize, pitch: usize, dst: *mut f32) {
    let (full_rows, full_cols) = (rows / BLOCK * BLOCK, cols / BLOCK * BLOCK);
    for i0 in (0..full_rows).step_by(BLOCK) {
        for j0 in (0..full_cols).step_by(BLOCK) {
            // SAFETY: rows i0..i0 + 8 and columns j0..j0 + 8 lie inside both matrices.
            unsafe {
                let r: [__m256; BLOCK] =
                    std::array::from_fn(|i| _mm256_loadu_ps(src.add((i0 + i) * pitch + j0)));
                // Pairs of rows interleaved: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] ..
                let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                // Fours of rows: s0 = column 0 of rows 0-3 | column 4 of rows 0-3, and so on.
                let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                // Low halves joined are columns 0-3, high halves columns 4-7.
                let columns = [
                    _mm256_permute2f128_ps::<0x20>(s0, s4),
                    _mm256_permute2f128_ps::<0x20>(s1, s5),
                    _mm256_permute2f128_ps::<0x20>(s2, s6),
                    _mm256_permute2f128_ps::<0x20>(s3, s7),
                    _mm256_permute2f128_ps::<0x31>(s0, s4),
                    _mm256_permute2f128_ps::<0x31>(s1, s5),
                    _mm256_permute2f128_ps::<0x31>(s2, s6),
                    _mm256_permute2f128_ps::<0x31>(s3, s7),
                ];
                for (j, column) in columns.into_iter().enumerate() {
                    _mm256_storeu_ps(dst.add((j0 + j) * rows + i0), column);
                }
            }
        }
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { transpose_edges(src, rows, cols, pitch, dst) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: element (j, i) of the result is element (i, j) of the matrix.
    fn by_definition(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols)
            .flat_map(|j| (0..rows).map(move |i| src[i * cols + j]))
            .collect()
    }

    #[test]
    fn every_shape_around_the_block_size_moves_each_element_once() {
        for rows in (0..20).chain([63, 64, 65, 128]) {
            for cols in (0..20).chain([31, 32, 33, 512]) {
                let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
                let want = by_definition(&src, rows, cols);
                // After something already in the vector, which must stay.
                let mut out = vec![-1.0];
                append_transposed(&src, rows, cols, &mut out);
                assert_eq!(out[0], -1.0);
                assert_eq!(&out[1..], &want[..], "{rows} x {cols}");
                let mut plain = Vec::with_capacity(src.len());
                // SAFETY: room for rows * cols, all written.
                unsafe {
                    transpose_blocked(src.as_ptr(), rows, cols, cols, plain.as_mut_ptr());
                    plain.set_len(src.len());
                }
                assert_eq!(plain, want, "{rows} x {cols}, plain moves");
            }
        }
    }

    #[test]
    fn bands_that_start_and_end_anywhere_make_the_whole_transpose() {
        let (rows, cols) = (21, 37);
        let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let want = by_definition(&src, rows, cols);
        for isa in Isa::available() {
            // Cuts inside 8 x 8 blocks, at their edges, and a band of one column.
            for cuts in [
                vec![0, 37],
                vec![0, 5, 37],
                vec![0, 8, 16, 36, 37],
                vec![0, 13, 14, 37],
            ] {
                let mut out = vec![MaybeUninit::uninit(); rows * cols];
                for pair in cuts.windows(2) {
                    let band = &mut out[pair[0] * rows..pair[1] * rows];
                    write_band(isa, &src, rows, cols, pair[0], band);
                }
                // SAFETY: the bands covered every element.
                let out: Vec<f32> = out.iter().map(|v| unsafe { v.assume_init() }).collect();
                assert_eq!(out, want, "{} with cuts {cuts:?}", isa.name());
            }
        }
    }

    #[test]
    fn values_move_as_bits() {
        // NaNs with payloads and signed zeros come out exactly as they went in.
        let bits = [0x7fc0_1234u32, 0xffa0_0001, 0x8000_0000, 0, 1, 0x3f80_0000];
        let src: Vec<f32> = (0..8 * 9)
            .map(|i| f32::from_bits(bits[i % bits.len()]))
            .collect();
        let mut out = Vec::new();
        append_transposed(&src, 8, 9, &mut out);
        let want = by_definition(&src, 8, 9);
        assert!(out
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        let doubles: Vec<f64> = (0..9 * 8).map(|v| v as f64).collect();
        let mut out = Vec::new();
        append_transposed(&doubles, 9, 8, &mut out);
        assert_eq!(out[..3], [0.0, 8.0, 16.0]);
    }
}
