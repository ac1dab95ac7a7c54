//! The IDX file format of MNIST (raw or gzip-compressed, told apart by content), read with
//! every field checked before it is trusted.
//!
//! Layout: two zero bytes, an element-type byte (0x08 = unsigned byte), a rank byte, one
//! big-endian u32 per dimension, then the elements in row-major order.

use std::io::Read;

use super::DataError;

/// The largest decompressed file accepted (full MNIST training images are 47 MB): a forged
/// gzip stream cannot make us hold more than this.
pub const MAX_IDX_BYTES: u64 = 512 << 20;

/// A parsed IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Idx {
    /// The size of each dimension.
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// True when `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses gzip data, refusing to produce more than `limit` bytes.
pub fn gunzip(bytes: &[u8], limit: u64, name: &str) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(limit + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| DataError::new(name, format!("is not valid gzip data ({e})")))?;
    if out.len() as u64 > limit {
        return Err(DataError::new(
            name,
            format!("decompresses to more than {limit} bytes; no IDX file is that large"),
        ));
    }
    Ok(out)
}

/// Parses IDX bytes (decompressing them first if they are gzip) and checks that the file
/// holds a `rank`-dimensional array of unsigned bytes and exactly the data its header
/// promises. `name` is used in error messages.
///
/// ```
/// use scratchgrad::data::idx::parse_idx;
/// let labels = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1];
/// assert_eq!(parse_idx(&labels, 1, "labels").unwrap().data, vec![7, 2, 1]);
/// let err = parse_idx(&labels[..10], 1, "labels").unwrap_err();
/// assert_eq!(err.to_string(), "labels: is truncated: the header promises 3 bytes of data, the file has 2");
/// ```
pub fn parse_idx(bytes: &[u8], rank: usize, name: &str) -> Result<Idx, DataError> {
    let inflated;
    let bytes = if is_gzip(bytes) {
        inflated = gunzip(bytes, MAX_IDX_BYTES, name)?;
        &inflated[..]
    } else {
        bytes
    };
    let fail = |what: String| Err(DataError::new(name, what));
    if bytes.is_empty() {
        return fail("is empty".into());
    }
    if bytes.len() < 4 {
        return fail(format!(
            "is {} bytes long, too short for an IDX header",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return fail(format!(
            "is not an IDX file (it starts with {:02x} {:02x}, not 00 00)",
            bytes[0], bytes[1]
        ));
    }
    if bytes[2] != 0x08 {
        return fail(format!(
            "holds elements of type 0x{:02x}; only unsigned bytes (0x08) are supported",
            bytes[2]
        ));
    }
    if bytes[3] as usize != rank {
        return fail(format!(
            "has {} dimensions where {rank} were expected",
            bytes[3]
        ));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return fail(format!(
            "is truncated inside its header ({} of {header} bytes)",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if dims.contains(&0) {
        return fail(format!("has an empty dimension ({dims:?})"));
    }
    let size = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let data = bytes.len() - header;
    match size {
        Some(size) if size == data => Ok(Idx {
            dims,
            data: bytes[header..].to_vec(),
        }),
        Some(size) if size > data => fail(format!(
            "is truncated: the header promises {size} bytes of data, the file has {data}"
        )),
        Some(size) => fail(format!(
            "has {} bytes after the {size} its header promises",
            data - size
        )),
        None => fail(format!("has dimensions {dims:?} whose product overflows")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(count: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, 3];
        for d in [count, rows, cols] {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(data);
        bytes
    }

    #[test]
    fn reads_raw_and_gzip() {
        let raw = images(2, 1, 2, &[1, 2, 3, 4]);
        let idx = parse_idx(&raw, 3, "t").unwrap();
        assert_eq!((idx.dims, idx.data), (vec![2, 1, 2], vec![1, 2, 3, 4]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        assert_eq!(
            parse_idx(&gz.finish().unwrap(), 3, "t").unwrap().data,
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn every_header_field_is_checked() {
        let good = images(2, 1, 2, &[1, 2, 3, 4]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "t: is empty"),
            (
                vec![0, 0],
                "t: is 2 bytes long, too short for an IDX header",
            ),
            (
                vec![1, 0, 8, 3],
                "t: is not an IDX file (it starts with 01 00, not 00 00)",
            ),
            (
                vec![0, 0, 0x0d, 3],
                "t: holds elements of type 0x0d; only unsigned bytes (0x08) are supported",
            ),
            (
                vec![0, 0, 8, 1],
                "t: has 1 dimensions where 3 were expected",
            ),
            (
                good[..10].to_vec(),
                "t: is truncated inside its header (10 of 16 bytes)",
            ),
            (
                good[..18].to_vec(),
                "t: is truncated: the header promises 4 bytes of data, the file has 2",
            ),
            (
                [good.clone(), vec![9]].concat(),
                "t: has 1 bytes after the 4 its header promises",
            ),
            (
                images(0, 28, 28, &[]),
                "t: has an empty dimension ([0, 28, 28])",
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_idx(&bytes, 3, "t").unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn forged_sizes_do_not_allocate() {
        // 2^32-1 images of 2^32-1 x 2^32-1 pixels: the product overflows on 64 bits.
        let forged = images(u32::MAX, u32::MAX, u32::MAX, &[]);
        assert!(parse_idx(&forged, 3, "t")
            .unwrap_err()
            .to_string()
            .contains("overflows"));
        // A large but representable claim with no data behind it is just truncated.
        let big = images(60_000, 65_535, 65_535, &[1]);
        assert!(parse_idx(&big, 3, "t")
            .unwrap_err()
            .to_string()
            .contains("is truncated"));
    }

    #[test]
    fn gzip_bombs_are_cut_off() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &vec![0u8; 4 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        let err = gunzip(&bomb, 1 << 20, "bomb").unwrap_err().to_string();
        assert_eq!(
            err,
            "bomb: decompresses to more than 1048576 bytes; no IDX file is that large"
        );
    }
}
