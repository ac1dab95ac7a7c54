//! `scratchgrad export`: the ONNX file decodes with the same generated types, holds every
//! weight exactly, and has the nodes the architecture says. (ONNX Runtime's check on the
//! whole test set is `tools/check_onnx.py`, which needs Python.)

mod common;

use std::process::Command;

use prost::Message;
use scratchgrad::arch::{Activation, Architecture};
use scratchgrad::array::Rng;
use scratchgrad::export::onnx_proto::{type_proto, ModelProto, TensorProto};
use scratchgrad::export::to_onnx;
use scratchgrad::model_files::{encode_model, ModelFile};

use common::temp_dir;

fn model(arch: Architecture) -> ModelFile {
    let weights = arch.init(&mut Rng::seed(3));
    let counts = arch.count_names().into_iter().map(|n| (n, 7)).collect();
    ModelFile {
        arch,
        dataset: "mnist".into(),
        class_names: (0..10).map(|c| format!("digit {c}")).collect(),
        weights,
        counts,
    }
}

fn floats(t: &TensorProto) -> Vec<f32> {
    t.raw_data
        .as_ref()
        .expect("weights as raw data")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn check(m: &ModelFile, want_ops: &[&str]) {
    let bytes = to_onnx(m).unwrap();
    let onnx = ModelProto::decode(&bytes[..]).expect("the file decodes");
    assert!(onnx.ir_version.unwrap() >= 7);
    assert!(onnx
        .opset_import
        .iter()
        .any(|o| o.domain() == "" && o.version() >= 13));
    let graph = onnx.graph.as_ref().unwrap();
    let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type()).collect();
    assert_eq!(ops, want_ops, "{}", m.arch.describe());
    // Every weight is an initializer, bit for bit, and none is a graph input.
    let learnt: Vec<_> = m.weights.iter().collect();
    assert_eq!(graph.initializer.len(), learnt.len());
    for (name, value) in learnt {
        let init = graph
            .initializer
            .iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let dims: Vec<usize> = init.dims.iter().map(|&d| d as usize).collect();
        assert_eq!(dims, value.shape(), "{name}");
        assert_eq!(floats(init), value.data(), "{name}");
    }
    let inputs: Vec<&str> = graph.input.iter().map(|i| i.name()).collect();
    assert_eq!(inputs, ["input"]);
    let Some(type_proto::Value::TensorType(t)) = &graph.input[0].r#type.as_ref().unwrap().value
    else {
        panic!("the input is a tensor")
    };
    let dims = &t.shape.as_ref().unwrap().dim;
    assert_eq!(
        dims.len(),
        1 + m.arch.input.len(),
        "a batch axis, then the input's"
    );
    // The output is a softmax over the classes.
    let last = graph.node.last().unwrap();
    assert_eq!(
        (last.op_type(), last.output[0].as_str()),
        ("Softmax", "probabilities")
    );
    assert_eq!(last.attribute[0].i(), 1);
    let meta: Vec<(&str, &str)> = onnx
        .metadata_props
        .iter()
        .map(|p| (p.key(), p.value()))
        .collect();
    assert!(meta
        .iter()
        .any(|(k, v)| *k == "class_names" && v.contains("digit 9")));
    assert!(meta.iter().any(|(k, _)| *k == "preprocessing"));
}

#[test]
fn every_layer_becomes_the_onnx_node_it_should() {
    check(
        &model(Architecture::mlp(784, &[32, 16], 10, Activation::Tanh)),
        &["Gemm", "Tanh", "Gemm", "Tanh", "Gemm", "Softmax"],
    );
    check(
        &model(Architecture::cnn(10)),
        &[
            "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax",
        ],
    );
    let every_kind = Architecture::parse(
        &[1, 28, 28],
        "conv4k3s2p1,bn,sigmoid,avgpool2,dropout0.5,flatten,linear12,bn,relu,linear10",
    )
    .unwrap();
    check(
        &model(every_kind),
        &[
            "Conv",
            "BatchNormalization",
            "Sigmoid",
            "AveragePool",
            "Flatten",
            "Gemm",
            "BatchNormalization",
            "Relu",
            "Gemm",
            "Softmax",
        ],
    );
}

#[test]
fn the_command_writes_atomically_and_refuses_what_it_cannot_do() {
    let dir = temp_dir("export");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    std::fs::write(&path, encode_model(&model(Architecture::cnn(10)))).unwrap();
    let out = dir.join("model.onnx");
    let bin = env!("CARGO_BIN_EXE_scratchgrad");
    let run = Command::new(bin)
        .args(["export"])
        .arg(&path)
        .arg("--onnx")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(ModelProto::decode(&std::fs::read(&out).unwrap()[..]).is_ok());
    for (args, want) in [
        (
            vec![
                "export",
                "/nonexistent.safetensors",
                "--onnx",
                out.to_str().unwrap(),
            ],
            "cannot be read",
        ),
        (
            vec!["export", path.to_str().unwrap(), "--onnx", "/dev/null"],
            "it is a character device, not a regular file",
        ),
        (
            vec![
                "export",
                path.to_str().unwrap(),
                "--onnx",
                dir.to_str().unwrap(),
            ],
            "it is a directory",
        ),
    ] {
        let run = Command::new(bin).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{args:?}");
        assert!(
            err.starts_with("error: ") && err.contains(want) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    // `-` is standard output; a write that fails there (a full disk) is an error, not a
    // success that wrote nothing.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let run = Command::new(bin)
        .args(["export", path.to_str().unwrap(), "--onnx", "-"])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "error: cannot write the ONNX model to standard output: No space left on device (os error 28)\n"
    );
}
