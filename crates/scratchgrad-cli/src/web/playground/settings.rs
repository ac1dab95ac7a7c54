//! What a playground trains and how, as the page sends it: each field checked, with a message
//! that names it.

use scratchgrad::scalar::{PlaneActivation, PlaneFeature, PlaneLoss, Regularization, ToyData};
use serde_json::{json, Value};

use crate::web::http::ApiError;

/// The most points a data set starts with.
pub const MAX_GENERATED: usize = 500;
/// The most points a data set may hold with clicked ones.
pub const MAX_POINTS: usize = 1000;
/// The most hidden layers, and the widest.
pub const MAX_LAYERS: usize = 6;
pub const MAX_WIDTH: usize = 32;

/// What a session trains and how: the data set, the network, the loss and optimiser.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub data: ToyData,
    pub points: usize,
    pub noise: f64,
    pub seed: u64,
    /// The share of the points held out to test on (never trained on).
    pub test_share: f64,
    pub features: Vec<PlaneFeature>,
    pub hidden: Vec<usize>,
    pub activation: PlaneActivation,
    pub loss: PlaneLoss,
    pub lr: f64,
    pub regularization: Regularization,
    pub rate: f64,
    pub batch: usize,
}

impl Settings {
    /// micrograd's demo: 100 training points of the moons (and as many to test on),
    /// 2-16-16-1 on x and y, max-margin, L2 of 1e-4; tanh at lr 0.3, which separates the
    /// moons within 200 full-batch steps.
    pub fn micrograds() -> Settings {
        Settings {
            data: ToyData::Moons,
            points: 200,
            noise: 0.1,
            seed: 0,
            test_share: 0.5,
            features: vec![PlaneFeature::X, PlaneFeature::Y],
            hidden: vec![16, 16],
            activation: PlaneActivation::Tanh,
            loss: PlaneLoss::MaxMargin,
            lr: 0.3,
            regularization: Regularization::L2,
            rate: 1e-4,
            batch: 100,
        }
    }

    /// `base` (or [`Settings::micrograds`]) overridden by whatever `body` gives, each checked.
    pub fn from_json(body: &Value, base: Option<&Settings>) -> Result<Settings, ApiError> {
        let mut s = base.cloned().unwrap_or_else(Settings::micrograds);
        if !body.is_object() {
            return Err(ApiError::bad("the settings must be a JSON object"));
        }
        let number = |key: &str, low: f64, high: f64| -> Result<Option<f64>, ApiError> {
            match &body[key] {
                Value::Null => Ok(None),
                v => v
                    .as_f64()
                    .filter(|x| (low..=high).contains(x))
                    .map(Some)
                    .ok_or_else(|| {
                        ApiError::bad(format!("`{key}` must be a number from {low} to {high}"))
                    }),
            }
        };
        let named = |key: &str| body[key].as_str().map(str::to_string);
        if let Some(d) = named("data") {
            s.data = d.parse().map_err(ApiError::bad)?;
        }
        if let Some(a) = named("activation") {
            s.activation = a.parse().map_err(ApiError::bad)?;
        }
        if let Some(l) = named("loss") {
            s.loss = l.parse().map_err(ApiError::bad)?;
        }
        if let Some(r) = named("regularization") {
            s.regularization = r.parse().map_err(ApiError::bad)?;
        }
        if let Some(n) = number("points", 2.0, MAX_GENERATED as f64)? {
            s.points = n as usize;
        }
        if let Some(n) = number("noise", 0.0, 1.0)? {
            s.noise = n;
        }
        if let Some(n) = number("seed", 0.0, 1e15)? {
            if n.fract() != 0.0 {
                return Err(ApiError::bad("`seed` must be a whole number"));
            }
            s.seed = n as u64;
        }
        if let Some(n) = number("test_share", 0.0, 0.9)? {
            s.test_share = n;
        }
        if let Some(n) = number("lr", 1e-6, 10.0)? {
            s.lr = n;
        }
        if let Some(n) = number("rate", 0.0, 1.0)? {
            s.rate = n;
        }
        if let Some(n) = number("batch", 1.0, MAX_POINTS as f64)? {
            s.batch = n as usize;
        }
        match &body["features"] {
            Value::Null => {}
            Value::Array(names) if !names.is_empty() && names.len() <= PlaneFeature::ALL.len() => {
                let mut features = Vec::new();
                for name in names {
                    let feature: PlaneFeature = name
                        .as_str()
                        .ok_or_else(|| ApiError::bad("`features` must be a list of names"))?
                        .parse()
                        .map_err(ApiError::bad)?;
                    if !features.contains(&feature) {
                        features.push(feature);
                    }
                }
                s.features = features;
            }
            _ => {
                return Err(ApiError::bad(
                    "`features` must list 1 to 7 of x, y, x^2, y^2, xy, sin(x), sin(y)",
                ))
            }
        }
        match &body["hidden"] {
            Value::Null => {}
            Value::Array(widths) => {
                let widths: Option<Vec<usize>> = widths
                    .iter()
                    .map(|w| {
                        w.as_u64()
                            .filter(|&w| (1..=MAX_WIDTH as u64).contains(&w))
                            .map(|w| w as usize)
                    })
                    .collect();
                s.hidden = widths.filter(|w| w.len() <= MAX_LAYERS).ok_or_else(|| {
                    ApiError::bad(format!(
                        "`hidden` must list at most {MAX_LAYERS} widths, each 1 to {MAX_WIDTH}"
                    ))
                })?;
            }
            _ => {
                return Err(ApiError::bad(
                    "`hidden` must be a list of widths, e.g. [16, 16]",
                ))
            }
        }
        if s.data.is_regression() != (s.loss == PlaneLoss::Squared) {
            return Err(ApiError::bad(if s.data.is_regression() {
                format!(
                    "`{}` is a regression data set: train it with the squared loss",
                    s.data
                )
            } else {
                format!(
                    "`{}` is a classification data set: train it with max-margin or cross-entropy",
                    s.data
                )
            }));
        }
        Ok(s)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "data": self.data.to_string(), "points": self.points, "noise": self.noise,
            "seed": self.seed, "test_share": self.test_share,
            "features": self.features.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            "hidden": self.hidden, "activation": self.activation.to_string(),
            "loss": self.loss.to_string(), "lr": self.lr,
            "regularization": self.regularization.to_string(), "rate": self.rate,
            "batch": self.batch,
        })
    }

    /// True when `other` asks for the same points.
    pub fn same_data(&self, other: &Settings) -> bool {
        (
            self.data,
            self.points,
            self.noise,
            self.seed,
            self.test_share,
        ) == (
            other.data,
            other.points,
            other.noise,
            other.seed,
            other.test_share,
        )
    }

    /// True when `other` asks for the same network.
    pub fn same_network(&self, other: &Settings) -> bool {
        (&self.features, &self.hidden, self.activation)
            == (&other.features, &other.hidden, other.activation)
    }
}
