//! Writing trained models in other formats. ONNX carries the whole network (layers and
//! weights) to ONNX Runtime, browsers and Netron; `onnx.rs` is the one place that knows how
//! each layer becomes ONNX nodes.
//!
//! Never here: files (the caller writes the bytes) or printing.

mod onnx;

/// The message types of the ONNX schema (`proto/onnx.proto`), generated at build time.
#[allow(missing_docs, clippy::all)]
pub mod onnx_proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use onnx::{to_onnx, ExportError, INPUT, OPSET, OUTPUT};
