//! Every kind of bad file in docs/RELIABILITY.md's table, and the one-line reason each gets.

use std::path::Path;

use scratchgrad::arch::{Activation, Architecture};
use scratchgrad::array::Rng;
use scratchgrad::data::datasets::Dataset;
use scratchgrad::data::idx::{parse_idx, Idx};
use scratchgrad::data::{DatasetName, Split};
use scratchgrad::model_files::{decode_model, encode_model, load_model, ModelFile};

fn images_file() -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
    bytes.extend([1, 2, 3, 4, 5, 6, 7, 8]);
    bytes
}

#[test]
fn idx_truncated_at_every_header_byte() {
    let file = images_file();
    for cut in 0..16 {
        let err = parse_idx(&file[..cut], 3, "f").unwrap_err().to_string();
        assert!(
            err.starts_with("f: is ") || err.starts_with("f: has "),
            "cut at {cut}: {err}"
        );
    }
    for cut in 16..file.len() {
        assert!(
            parse_idx(&file[..cut], 3, "f")
                .unwrap_err()
                .to_string()
                .contains("is truncated"),
            "cut at {cut}"
        );
    }
}

#[test]
fn images_and_labels_that_disagree() {
    let images = parse_idx(&images_file(), 3, "images").unwrap();
    let labels = Idx {
        dims: vec![3],
        data: vec![1, 2, 3],
    };
    let err = Dataset::from_idx(images, labels, "set")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, "set: has 2 images but 3 labels");
}

#[test]
fn directories_and_missing_files() {
    let guard = tempfile::tempdir().unwrap();
    let dir = guard.path();
    std::fs::create_dir_all(dir.join("train-images-idx3-ubyte")).unwrap();
    let err = Dataset::load(DatasetName::Mnist, Split::Train, dir)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.ends_with("train-images-idx3-ubyte: is a directory, not a regular file"),
        "{err}"
    );
    let err = Dataset::load(DatasetName::Mnist, Split::Test, dir)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t10k-images-idx3-ubyte: is missing")
            && err.contains("scratchgrad data fetch"),
        "{err}"
    );
    let err = load_model(dir).unwrap_err().to_string();
    assert!(err.contains("is a directory"), "{err}");
    let err = load_model(Path::new("/nonexistent/model.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be read (No such file"), "{err}");
}

fn model() -> ModelFile {
    let arch = Architecture::mlp(4, &[3], 2, Activation::Sigmoid);
    let weights = arch.init(&mut Rng::seed(0));
    ModelFile {
        arch,
        dataset: "mnist".into(),
        class_names: vec!["a".into(), "b".into()],
        weights,
        counts: Vec::new(),
    }
}

/// A safetensors file with a hand-written header and `data` bytes after it.
fn handmade(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

const META: &str = r#""__metadata__":{"format":"scratchgrad.mlp.v1","architecture":"{\"inputs\":1,\"hidden\":[1],\"classes\":1,\"activation\":\"relu\"}"}"#;

#[test]
fn model_files_that_lie() {
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (
            format!(
                r#"{{{META},"0.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":[4,8]}},"2.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}},"2.bias":{{"dtype":"F32","shape":[1],"data_offsets":[12,400]}}}}"#
            ),
            vec![0; 16],
            "is not a valid safetensors file",
        ),
        (
            format!(
                r#"{{{META},"0.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":[0,4]}},"2.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}},"2.bias":{{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}}}"#
            ),
            vec![0; 12],
            "is not a valid safetensors file",
        ),
        (
            format!(
                r#"{{{META},"0.weight":{{"dtype":"F32","shape":[2,1],"data_offsets":[0,4]}},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":[4,8]}},"2.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}},"2.bias":{{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}}}"#
            ),
            vec![0; 16],
            "is not a valid safetensors file",
        ),
        (
            format!(
                r#"{{{META},"0.weight":{{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]}},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":[8,12]}},"2.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[12,16]}},"2.bias":{{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}}}"#
            ),
            vec![0; 20],
            "is F64; only F32 is supported",
        ),
        (
            format!(
                r#"{{{META},"0.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}},"0.bias":{{"dtype":"F32","shape":[1],"data_offsets":[4,8]}},"2.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}},"2.bias":{{"dtype":"F32","shape":[1],"data_offsets":[12,16]}},"9.extra":{{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}}}"#
            ),
            vec![0; 20],
            "has tensor `9.extra` that a 1-1-1 relu network does not have",
        ),
        (
            format!(
                r#"{{{},"0.weight":{{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}}}}"#,
                META.replace("scratchgrad.mlp.v1", "other")
            ),
            vec![0; 4],
            "is a `other` file, not a scratchgrad model",
        ),
        (
            r#"{"0.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.to_string(),
            vec![0; 4],
            "has no `format` metadata",
        ),
    ];
    for (i, (header, data, want)) in cases.into_iter().enumerate() {
        let err = decode_model(&handmade(&header, &data), "m")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m ") && err.contains(want),
            "case {i}: {err}"
        );
    }
    // The good file still loads, and a forged 2^64-1 header length is refused before any
    // allocation.
    assert!(decode_model(&encode_model(&model()), "m").is_ok());
    let mut forged = encode_model(&model());
    forged[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode_model(&forged, "m")
        .unwrap_err()
        .to_string()
        .contains("over the 1048576-byte limit"));
    assert!(decode_model(&[], "m")
        .unwrap_err()
        .to_string()
        .contains("too short"));
}
