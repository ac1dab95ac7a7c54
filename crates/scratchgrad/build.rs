//! Compiles the ONNX schema (proto/onnx.proto) into Rust message types for `export`.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["proto/onnx.proto"], ["proto"])
        .expect("proto/onnx.proto is a valid protobuf schema");
    prost_build::Config::new()
        .compile_fds(descriptors)
        .expect("prost-build generates Rust for the ONNX schema");
}
