//! A model as an ONNX graph: the preprocessed image in (`[N, 784]` or `[N, 1, 28, 28]`, float32
//! in [0, 1], any batch size N), class probabilities out (`Softmax` over axis 1).
//!
//! | layer | ONNX |
//! |---|---|
//! | `linearN` | `Gemm(x, weight, bias, transB = 1)` |
//! | `convNkK...` | `Conv(x, weight, bias, kernel_shape, strides, pads)` |
//! | `maxpoolK` / `avgpoolK` | `MaxPool` / `AveragePool(kernel_shape, strides)` |
//! | `bn` | `BatchNormalization(x, scale, bias, mean, var, epsilon = 1e-5)` (inference) |
//! | `dropoutP` | nothing: dropout does nothing after training |
//! | `relu`, `sigmoid`, `tanh` | `Relu`, `Sigmoid`, `Tanh` |
//! | `flatten` | `Flatten(axis = 1)` |

use std::fmt;

use prost::Message;

use super::onnx_proto::{
    attribute_proto, tensor_proto, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::arch::LayerSpec;
use crate::array::{Array, Window};
use crate::model_files::ModelFile;

/// The ONNX operator set the graph uses.
pub const OPSET: i64 = 17;
/// The ONNX IR version written (that of opset 17).
const IR_VERSION: i64 = 8;
/// The graph's input.
pub const INPUT: &str = "input";
/// The graph's output.
pub const OUTPUT: &str = "probabilities";

/// Why a model cannot be exported.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportError(pub String);

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExportError {}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_proto::AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_proto::AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_proto::AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

fn node(
    op: &str,
    name: String,
    inputs: &[&str],
    output: &str,
    attributes: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        attribute: attributes,
        ..Default::default()
    }
}

/// A float tensor with its values as little-endian bytes.
fn initializer(name: &str, value: &Array<f32>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: value.shape().iter().map(|&d| d as i64).collect(),
        data_type: Some(tensor_proto::DataType::Float as i32),
        raw_data: Some(value.data().iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A float tensor's type: `batch` for the first axis, then fixed sizes.
fn value_info(name: &str, sizes: &[usize], doc: &str) -> ValueInfoProto {
    let batch = tensor_shape_proto::Dimension {
        value: Some(tensor_shape_proto::dimension::Value::DimParam(
            "batch".into(),
        )),
        ..Default::default()
    };
    let dims = std::iter::once(batch).chain(sizes.iter().map(|&d| tensor_shape_proto::Dimension {
        value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
        ..Default::default()
    }));
    ValueInfoProto {
        name: Some(name.into()),
        doc_string: Some(doc.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(tensor_proto::DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: dims.collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn window_attributes(w: &Window, with_padding: bool) -> Vec<AttributeProto> {
    let mut attributes = vec![
        ints("kernel_shape", &[w.kh as i64, w.kw as i64]),
        ints("strides", &[w.stride as i64, w.stride as i64]),
    ];
    if with_padding {
        let p = w.padding as i64;
        attributes.push(ints("pads", &[p, p, p, p]));
    }
    attributes
}

/// The ONNX model (protobuf bytes) of `model`: its layers as nodes, its weights as
/// initializers (not graph inputs), then `Softmax` over the classes. Metadata carries the
/// class names, the preprocessing, the data set and the architecture.
///
/// ```
/// use scratchgrad::arch::{Activation, Architecture};
/// use scratchgrad::array::Rng;
/// use scratchgrad::export::to_onnx;
/// use scratchgrad::model_files::ModelFile;
/// let arch = Architecture::mlp(784, &[32], 10, Activation::Relu);
/// let weights = arch.init(&mut Rng::seed(0));
/// let class_names = (0..10).map(|c| c.to_string()).collect();
/// let model = ModelFile { arch, dataset: "mnist".into(), class_names, weights, counts: vec![] };
/// let bytes = to_onnx(&model).unwrap();
/// assert!(bytes.len() > 4 * (784 * 32 + 32 * 10)); // the weights are inside
/// ```
pub fn to_onnx(model: &ModelFile) -> Result<Vec<u8>, ExportError> {
    let arch = &model.arch;
    // The graph's input is documented as 28x28 images (pixels / 255), flat or as images.
    if !arch.takes_images(28, 28) {
        return Err(ExportError(format!(
            "it takes {} inputs, not 28x28 images (784, or 1x28x28)",
            arch.input_text()
        )));
    }
    let weight = |name: String| -> Result<&Array<f32>, ExportError> {
        model
            .weights
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| a)
            .ok_or_else(|| ExportError(format!("the model lacks `{name}`")))
    };
    let mut nodes = Vec::new();
    let mut initializers = Vec::new();
    let mut current = INPUT.to_string();
    for (i, layer) in arch.layers.iter().enumerate() {
        let output = format!("{i}.out");
        let mut add = |op: &str, inputs: Vec<String>, attributes: Vec<AttributeProto>| {
            let inputs: Vec<&str> = std::iter::once(current.as_str())
                .chain(inputs.iter().map(String::as_str))
                .collect();
            nodes.push(node(
                op,
                format!("{i}.{}", op.to_lowercase()),
                &inputs,
                &output,
                attributes,
            ));
        };
        let mut params = |names: &[&str]| -> Result<Vec<String>, ExportError> {
            names
                .iter()
                .map(|n| {
                    let name = format!("{i}.{n}");
                    initializers.push(initializer(&name, weight(name.clone())?));
                    Ok(name)
                })
                .collect()
        };
        match layer {
            LayerSpec::Linear { .. } => {
                add("Gemm", params(&["weight", "bias"])?, vec![int("transB", 1)])
            }
            LayerSpec::Conv2d { window, .. } => add(
                "Conv",
                params(&["weight", "bias"])?,
                window_attributes(window, true),
            ),
            LayerSpec::MaxPool2d(window) => {
                add("MaxPool", vec![], window_attributes(window, false))
            }
            LayerSpec::AvgPool2d(window) => {
                add("AveragePool", vec![], window_attributes(window, false))
            }
            LayerSpec::BatchNorm => add(
                "BatchNormalization",
                params(&["weight", "bias", "running_mean", "running_var"])?,
                vec![float("epsilon", crate::norm::EPS as f32)],
            ),
            LayerSpec::Dropout { .. } => continue,
            LayerSpec::Activation(a) => {
                let op = match a {
                    crate::arch::Activation::Relu => "Relu",
                    crate::arch::Activation::Sigmoid => "Sigmoid",
                    crate::arch::Activation::Tanh => "Tanh",
                };
                add(op, vec![], vec![])
            }
            LayerSpec::Flatten => add("Flatten", vec![], vec![int("axis", 1)]),
        }
        current = output;
    }
    nodes.push(node(
        "Softmax",
        "softmax".into(),
        &[&current],
        OUTPUT,
        vec![int("axis", 1)],
    ));
    let classes = arch.classes();
    let names = serde_json::to_string(&model.class_names).expect("names serialise");
    let graph = GraphProto {
        name: Some(format!("scratchgrad {}", arch.describe())),
        doc_string: Some(format!(
            "Input `{INPUT}`: images {:?} per example, float32 in [0, 1] ({}). Output `{OUTPUT}`: the probability of each of the {classes} classes ({names}), from a softmax over axis 1.",
            arch.input,
            crate::model_files::preprocessing(&arch.input)
        )),
        node: nodes,
        initializer: initializers,
        input: vec![value_info(INPUT, &arch.input, "preprocessed images, float32 in [0, 1]")],
        output: vec![value_info(OUTPUT, &[classes], "class probabilities")],
        ..Default::default()
    };
    let metadata = [
        ("class_names", names),
        (
            "preprocessing",
            crate::model_files::preprocessing(&arch.input),
        ),
        ("dataset", model.dataset.clone()),
        ("architecture", arch.to_json().to_string()),
    ];
    let onnx = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("scratchgrad".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some("A classifier trained by scratchgrad.".into()),
        graph: Some(graph),
        metadata_props: metadata
            .into_iter()
            .map(|(key, value)| StringStringEntryProto {
                key: Some(key.into()),
                value: Some(value),
            })
            .collect(),
        ..Default::default()
    };
    Ok(onnx.encode_to_vec())
}
