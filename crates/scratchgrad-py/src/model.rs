//! `scratchgrad.load_model(path)`: a classifier the command line trained (its
//! `model.safetensors`), ready to predict numpy images, with its weights as a `state_dict`
//! named as PyTorch's `nn.Sequential` names them.

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use scratchgrad::array::Array;
use scratchgrad::data::preprocess::SIDE;
use scratchgrad::model_files::{self, ModelFile};
use scratchgrad::train::{check_finite, Engine, Model};

use crate::tensor::to_numpy;

/// A trained classifier loaded from a model file.
#[pyclass(name = "Model", module = "scratchgrad", frozen)]
pub struct PyModel {
    file: ModelFile,
    /// The network (its forward pass keeps scratch space, hence the lock).
    model: Mutex<Model>,
}

/// Reads a model file written by `scratchgrad train` (or `scratchgrad.train`). Raises `ValueError`
/// naming what is wrong with a file that is not one.
#[pyfunction]
pub fn load_model(path: PathBuf) -> PyResult<PyModel> {
    let file = model_files::load_model(&path).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let model = Mutex::new(Model::from_file(&file, Engine::Manual));
    Ok(PyModel { file, model })
}

impl PyModel {
    /// The images as the network's input batch `[n, features]`, and whether they were one
    /// image. A batch is `(n, 28, 28)`, `(n, 784)` or `(n, 1, 28, 28)`; one image is
    /// `(784,)` or `(28, 28)`. Floats are taken as they are (pixels in [0, 1], as the model
    /// was trained on); uint8 pixels are divided by 255.
    fn batch(&self, images: &Bound<'_, PyAny>) -> PyResult<(Array<f32>, bool)> {
        let features = self.file.arch.input_size();
        let numpy = images.py().import("numpy")?;
        let array = numpy.call_method1("asarray", (images,))?;
        let scale = match array
            .getattr("dtype")?
            .getattr("name")?
            .extract::<String>()?
            .as_str()
        {
            "uint8" => 1.0 / 255.0,
            _ => 1.0,
        };
        let floats = array.call_method1("astype", ("float32",))?;
        let floats = floats.cast::<PyArrayDyn<f32>>()?;
        let shape = floats.shape().to_vec();
        // One image is flat or 28x28 rows; a batch is images along a first axis, each flat,
        // in rows, or with its channel axis, (n, 1, 28, 28): so (1, 28, 28) is a batch of one.
        let mut images = vec![vec![features]];
        if features == SIDE * SIDE {
            images.push(vec![SIDE, SIDE]);
        }
        let single = images.contains(&shape);
        images.push(self.file.arch.input.clone());
        if features == SIDE * SIDE {
            images.push(vec![1, SIDE, SIDE]);
        }
        let batch = !single && shape.len() > 1 && images.iter().any(|l| *l == shape[1..]);
        if !single && !batch {
            return Err(PyValueError::new_err(format!(
                "images of shape {shape:?} do not fit a network taking {} inputs per image: \
                 give (n, 28, 28), (n, 784) or (n, 1, 28, 28) for a batch, or one image",
                self.file.arch.input_text()
            )));
        }
        let n = if single { 1 } else { shape[0] };
        let data: Vec<f32> = floats
            .readonly()
            .as_array()
            .iter()
            .map(|&x| x * scale)
            .collect();
        if data.iter().any(|x| !x.is_finite()) {
            return Err(PyValueError::new_err(
                "the images hold NaN or infinite values: give pixels in [0, 1] (or uint8)",
            ));
        }
        Ok((Array::from_vec(data, &[n, features]), single))
    }

    /// The logits of `images`, computed with the GIL released, and whether they were one
    /// image.
    fn forward(&self, py: Python<'_>, images: &Bound<'_, PyAny>) -> PyResult<(Array<f32>, bool)> {
        let (batch, single) = self.batch(images)?;
        if batch.is_empty() {
            return Ok((Array::zeros(&[0, self.file.class_names.len()]), single));
        }
        let logits = py.detach(|| {
            let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
            model.logits(batch)
        });
        check_finite(&logits, 0)
            .map_err(|e| PyRuntimeError::new_err(format!("the model {e}: it cannot be used")))?;
        Ok((logits, single))
    }
}

#[pymethods]
impl PyModel {
    /// The class of each image (an int array of n), or one int for one image.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let probabilities = self.predict_proba(py, images)?;
        probabilities.call_method1("argmax", (-1,))
    }

    /// The probability of each class for each image, `(n, classes)` (or `(classes,)` for one
    /// image): the softmax of the logits.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (logits, single) = self.forward(py, images)?;
        let out = to_numpy(py, &logits.softmax(1))?;
        if single {
            out.get_item(0)
        } else {
            Ok(out)
        }
    }

    /// The network's raw scores `(n, classes)` (or `(classes,)` for one image), before
    /// the softmax.
    fn logits<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (logits, single) = self.forward(py, images)?;
        let out = to_numpy(py, &logits)?;
        if single {
            out.get_item(0)
        } else {
            Ok(out)
        }
    }

    /// The network, `784-256-10 sigmoid` or its input shape and layer list.
    #[getter]
    fn arch(&self) -> String {
        self.file.arch.describe()
    }

    /// The data set it was trained on.
    #[getter]
    fn dataset(&self) -> &str {
        &self.file.dataset
    }

    /// What each class means (`"0"` to `"9"` for digits).
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.file.class_names.clone()
    }

    /// The weights by name, as numpy arrays, named as PyTorch's `nn.Sequential` names
    /// them (`0.weight`, `0.bias`, ...), so `torch_model.load_state_dict({k:
    /// torch.from_numpy(v) ...})` takes them; batch norm's counts are int64 arrays.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, array) in &self.file.weights {
            dict.set_item(name, to_numpy(py, array)?)?;
        }
        for (name, count) in &self.file.counts {
            let count = i64::try_from(*count).unwrap_or(i64::MAX);
            dict.set_item(
                name,
                PyArray1::from_slice(py, &[count]).reshape(Vec::<usize>::new())?,
            )?;
        }
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({}, trained on {}, classes {})",
            self.file.arch.describe(),
            self.file.dataset,
            self.file.class_names.len()
        )
    }
}
