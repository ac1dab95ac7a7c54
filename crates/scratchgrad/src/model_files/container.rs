//! The safetensors container as scratchgrad writes and reads it: named f32 tensors, int64
//! counts and text metadata, with the header's keys in sorted order so the same model gives
//! the same bytes. Nothing here knows what a model is.

use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors};

use super::MAX_HEADER_BYTES;
use crate::array::Array;

/// A tensor's dtype and bytes as the file stores them (f32).
pub(super) fn stored(a: &Array<f32>) -> (Dtype, Vec<u8>) {
    (
        Dtype::F32,
        a.data().iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// Serializes tensors and metadata with the `safetensors` crate, then writes its JSON header
/// again with keys in sorted order: the crate keeps metadata in a `HashMap`, whose order
/// changes from process to process, and the same run must give the same bytes.
pub(super) fn serialize(
    tensors: &[(String, Vec<usize>, Dtype, Vec<u8>)],
    metadata: HashMap<String, String>,
) -> Vec<u8> {
    let mut names: Vec<&str> = tensors.iter().map(|(n, _, _, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        // The safetensors crate indexes out of bounds on a repeated name; say what is wrong.
        panic!("encode: tensor name `{}` appears twice", pair[0]);
    }
    let views = tensors.iter().map(|(name, shape, dtype, bytes)| {
        let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
            .expect("an array's bytes fit its shape");
        (name.clone(), view)
    });
    let bytes = safetensors::serialize(views, Some(metadata))
        .expect("in-memory safetensors serialization cannot fail");
    let length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + length]).expect("the crate writes JSON");
    // serde_json's map is ordered by key (no `preserve_order`), so this writes sorted keys.
    let mut sorted = header.to_string().into_bytes();
    // The data must start 8-byte aligned, as the crate pads it.
    while !(8 + sorted.len()).is_multiple_of(8) {
        sorted.push(b' ');
    }
    let mut out = (sorted.len() as u64).to_le_bytes().to_vec();
    out.extend(sorted);
    out.extend_from_slice(&bytes[8 + length..]);
    out
}

/// Everything read from a safetensors file: metadata, f32 tensors and int64 counts.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub metadata: HashMap<String, String>,
    pub tensors: Vec<(String, Array<f32>)>,
    pub counts: Vec<(String, u64)>,
}

/// Tensors and counts as a file stores them: f32 tensors, and each count as a scalar int64 (as
/// PyTorch keeps batch norm's count, so that it loads the file strictly).
pub(super) fn stored_tensors(
    tensors: &[(String, Array<f32>)],
    counts: &[(String, u64)],
) -> Vec<(String, Vec<usize>, Dtype, Vec<u8>)> {
    let mut stored_all: Vec<_> = tensors
        .iter()
        .map(|(n, a)| {
            let (dtype, bytes) = stored(a);
            (n.clone(), a.shape().to_vec(), dtype, bytes)
        })
        .collect();
    for (name, count) in counts {
        let count = i64::try_from(*count).unwrap_or(i64::MAX);
        stored_all.push((
            name.clone(),
            vec![],
            Dtype::I64,
            count.to_le_bytes().to_vec(),
        ));
    }
    stored_all
}

/// A file of named f32 tensors, int64 counts and metadata (language models use it), with the
/// header's keys sorted as every scratchgrad file's.
pub fn encode_named(file: &Parsed) -> Vec<u8> {
    serialize(
        &stored_tensors(&file.tensors, &file.counts),
        file.metadata.clone(),
    )
}

/// The `format` a safetensors file's metadata names, read from its header alone (no tensor
/// is decoded), or `None` when it has none or is not a safetensors file.
pub fn format_of(bytes: &[u8]) -> Option<String> {
    let header = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    if header > MAX_HEADER_BYTES {
        return None;
    }
    let (_, meta) = SafeTensors::read_metadata(bytes).ok()?;
    meta.metadata().as_ref()?.get("format").cloned()
}

/// The `format` of the safetensors file `name` in `folder`, read from its header alone (the
/// tensors are not read), or `None` (as [`format_of`], or the file cannot be read).
pub fn format_in_folder(folder: &std::path::Path, name: &str) -> Option<String> {
    let size = crate::files::read_start_in_folder(folder, name, 8).ok()?;
    let header = u64::from_le_bytes(size.get(..8)?.try_into().ok()?);
    if header > MAX_HEADER_BYTES {
        return None;
    }
    let start = crate::files::read_start_in_folder(folder, name, 8 + header).ok()?;
    // The header is JSON; its `__metadata__` holds the format (safetensors' own reader wants
    // the tensors' bytes too).
    let json: serde_json::Value = serde_json::from_slice(start.get(8..)?).ok()?;
    json["__metadata__"]["format"].as_str().map(str::to_string)
}

/// Reads a safetensors file's metadata, f32 tensors and int64 counts (every other dtype, a
/// header over the limit, or bytes that do not add up is refused).
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() < 8 {
        return Err(format!(
            "is {} bytes long, too short for a safetensors file",
            bytes.len()
        ));
    }
    let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if header > MAX_HEADER_BYTES {
        return Err(format!(
            "is not a valid safetensors file (it declares a {header}-byte header, over the {MAX_HEADER_BYTES}-byte limit)"
        ));
    }
    if header > bytes.len() as u64 - 8 {
        return Err(format!(
            "is not a valid safetensors file (it declares a {header}-byte header but holds only {} bytes after the length)",
            bytes.len() - 8
        ));
    }
    let (_, meta) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("is not a valid safetensors file ({e})"))?;
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("is not a valid safetensors file ({e})"))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let (mut tensors, mut counts) = (Vec::new(), Vec::new());
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    for name in names {
        let shown = printable(&name, 64);
        let view = file
            .tensor(&name)
            .map_err(|e| format!("tensor `{shown}` cannot be read ({e})"))?;
        if view.dtype() == Dtype::I64 && view.shape().is_empty() {
            let count = i64::from_le_bytes(view.data().try_into().expect("8 bytes for one int64"));
            let count = u64::try_from(count)
                .map_err(|_| format!("tensor `{shown}` holds a negative count ({count})"))?;
            counts.push((name, count));
            continue;
        }
        if view.dtype() == Dtype::I64 {
            return Err(format!(
                "tensor `{shown}` is int64 of shape {:?}; an int64 count is a scalar (shape [])",
                view.shape()
            ));
        }
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "tensor `{shown}` is {:?}; only F32 is supported (and int64 counts)",
                view.dtype()
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "tensor `{shown}` holds a non-finite value ({}) at position {i}",
                values[i]
            ));
        }
        tensors.push((name, Array::from_vec(values, view.shape())));
    }
    Ok(Parsed {
        metadata,
        tensors,
        counts,
    })
}

/// Text from a file, made safe to print: control characters escaped, at most `max`
/// characters kept.
pub(super) fn printable(text: &str, max: usize) -> String {
    let escaped: String = text.chars().flat_map(char::escape_debug).collect();
    crate::text::elide(&escaped, max)
}

pub(super) fn is_short_printable(text: &str, max: usize) -> bool {
    text.chars().count() <= max && text.chars().all(crate::text::is_visible)
}
