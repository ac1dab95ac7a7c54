//! What a person asks for, before defaults: every setting of a run may be left out, and the
//! network's preset fills in the rest (`train --arch cnn` trains with Adam at 0.002 unless
//! told otherwise). Both front ends build these (the command line from its flags, the web
//! dashboard from JSON) and turn them into one validated [`TrainConfig`] the same way.

use super::{ConfigError, Engine, OptimizerKind, Preset, Schedule, TrainConfig};
use crate::arch::{Activation, Architecture};
use crate::data::DatasetName;

/// A run's settings as given; `None` takes the default (the preset's, or the texts').
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The data set [default: mnist].
    pub dataset: Option<DatasetName>,
    /// A network by name (its defaults apply) [default: mlp, or cnn's defaults for `layers`].
    pub preset: Option<Preset>,
    /// The MLP's hidden widths [default: 256].
    pub hidden: Option<Vec<usize>>,
    /// The MLP's activation [default: sigmoid].
    pub activation: Option<Activation>,
    /// The network as a layer list, instead of a preset.
    pub layers: Option<String>,
    /// The engine [default: autograd].
    pub engine: Option<Engine>,
    /// Epochs [default: the preset's].
    pub epochs: Option<usize>,
    /// Examples per step [default: 64].
    pub batch_size: Option<usize>,
    /// The learning rate [default: the preset's, or the optimizer's when another is asked
    /// for].
    pub lr: Option<f64>,
    /// The optimizer [default: the preset's].
    pub optimizer: Option<OptimizerKind>,
    /// The schedule [default: the preset's].
    pub schedule: Option<Schedule>,
    /// The seed [default: 0].
    pub seed: Option<u64>,
    /// The fraction held out to validate on [default: 0].
    pub val_split: Option<f64>,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

impl Settings {
    /// The preset whose defaults apply: the named one, `cnn`'s for a layer list, the MLP's
    /// otherwise.
    pub fn preset(&self) -> Preset {
        match (&self.preset, &self.layers) {
            (Some(preset), _) => *preset,
            (None, Some(_)) => Preset::Cnn,
            (None, None) => Preset::Mlp,
        }
    }

    /// The network these settings describe for `dataset`.
    fn arch(&self, dataset: DatasetName) -> Result<Architecture, ConfigError> {
        let (rows, cols) = dataset.image_size();
        if let Some(text) = &self.layers {
            if self.preset.is_some() || self.hidden.is_some() || self.activation.is_some() {
                return Err(bad(
                    "layers",
                    "a layer list is the whole network: it takes no preset, hidden widths or activation",
                ));
            }
            return Architecture::parse_for_images(text, rows, cols).map_err(|e| bad("layers", e));
        }
        let preset = self.preset();
        if preset != Preset::Mlp && (self.hidden.is_some() || self.activation.is_some()) {
            return Err(bad(
                if self.hidden.is_some() {
                    "hidden"
                } else {
                    "activation"
                },
                format!("the hidden widths and activation shape the MLP; {preset} has its own layers (give a layer list for another network)"),
            ));
        }
        Ok(preset.arch(dataset, self.hidden.as_deref(), self.activation))
    }

    /// The run these settings ask for: the preset's defaults for what is not given, every
    /// value checked ([`TrainConfig::validate`]).
    ///
    /// ```
    /// use scratchgrad::train::{OptimizerKind, Preset, Settings};
    /// let cnn = Settings { preset: Some(Preset::Cnn), ..Settings::default() };
    /// let config = cnn.config().unwrap();
    /// assert_eq!((config.optimizer, config.lr, config.epochs), (OptimizerKind::Adam, 0.002, 10));
    /// let texts = Settings::default().config().unwrap();
    /// assert_eq!(texts.arch.describe(), "784-256-10 sigmoid");
    /// ```
    pub fn config(&self) -> Result<TrainConfig, ConfigError> {
        let dataset = self.dataset.unwrap_or(DatasetName::Mnist);
        let defaults = self.preset().defaults();
        let optimizer = self.optimizer.unwrap_or(defaults.optimizer);
        let lr = match self.optimizer {
            Some(o) if o != defaults.optimizer => o.default_lr(self.preset()),
            _ => defaults.lr,
        };
        let config = TrainConfig {
            dataset,
            arch: self.arch(dataset)?,
            engine: self.engine.unwrap_or(Engine::Autograd),
            epochs: self.epochs.unwrap_or(defaults.epochs),
            batch_size: self.batch_size.unwrap_or(64),
            lr: self.lr.unwrap_or(lr),
            optimizer,
            schedule: self.schedule.unwrap_or(defaults.schedule),
            seed: self.seed.unwrap_or(0),
            val_split: self.val_split.unwrap_or(0.0),
        };
        config.validate()?;
        Ok(config)
    }

    /// Settings from a JSON object whose keys are the settings' names (`dataset`, `arch` for
    /// the preset, `hidden` as `"512,256"` or `[512, 256]`, `layers`, `activation`,
    /// `engine`, `epochs`, `batch_size`, `lr`, `optimizer`, `schedule`, `seed`, `val_split`);
    /// `null` or an empty text leaves a setting out. Each value is checked for its form; the
    /// values together by [`Settings::config`].
    pub fn from_json(json: &serde_json::Value) -> Result<Settings, ConfigError> {
        let object = json
            .as_object()
            .ok_or_else(|| bad("settings", "must be a JSON object"))?;
        let mut s = Settings::default();
        for (key, value) in object {
            let known = KEYS.iter().find(|k| *k == key).ok_or_else(|| {
                bad(
                    "settings",
                    format!(
                        "unknown setting `{}` (known: {})",
                        crate::text::elide(key, 40),
                        KEYS.join(", ")
                    ),
                )
            })?;
            let text = match value {
                serde_json::Value::Null => continue,
                // A blank layer list is a mistake, not a request for the default network.
                serde_json::Value::String(t) if t.trim().is_empty() && *known == "layers" => {
                    return Err(bad(known, "is empty: give a layer list, or leave it out"))
                }
                serde_json::Value::String(t) if t.trim().is_empty() => continue,
                serde_json::Value::String(t) if t.len() <= 1000 => t.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Array(items) if *known == "hidden" && items.len() <= 1000 => {
                    let widths: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                    widths.join(",")
                }
                _ => return Err(bad(known, "must be a number or a short line of text")),
            };
            s.set(known, &text)?;
        }
        Ok(s)
    }

    /// Sets the setting named `key` (one of [`KEYS`]) from its written form.
    fn set(&mut self, key: &'static str, text: &str) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            key: &'static str,
            text: &str,
            what: &str,
        ) -> Result<T, ConfigError> {
            text.parse().map_err(|_| {
                bad(
                    key,
                    format!("must be {what}, not `{}`", crate::text::elide(text, 40)),
                )
            })
        }
        fn choice<T: std::str::FromStr<Err = String>>(
            key: &'static str,
            text: &str,
        ) -> Result<T, ConfigError> {
            text.parse().map_err(|e: String| bad(key, e))
        }
        match key {
            "dataset" => self.dataset = Some(choice(key, text)?),
            "arch" => self.preset = Some(choice(key, text)?),
            "hidden" => {
                let widths: Result<Vec<usize>, _> = text
                    .split(',')
                    .map(|w| parse(key, w.trim(), "widths such as 512,256"))
                    .collect();
                self.hidden = Some(widths?);
            }
            "activation" => self.activation = Some(choice(key, text)?),
            "layers" => self.layers = Some(text.to_string()),
            "engine" => self.engine = Some(choice(key, text)?),
            "epochs" => self.epochs = Some(parse(key, text, "a whole number")?),
            "batch_size" => self.batch_size = Some(parse(key, text, "a whole number")?),
            "lr" => self.lr = Some(parse(key, text, "a number")?),
            "optimizer" => self.optimizer = Some(choice(key, text)?),
            "schedule" => self.schedule = Some(choice(key, text)?),
            "seed" => self.seed = Some(parse(key, text, "a whole number")?),
            _ => self.val_split = Some(parse(key, text, "a fraction")?),
        }
        Ok(())
    }

    /// The settings given, as `(key, written value)` pairs in [`KEYS`] order.
    pub fn given(&self) -> Vec<(&'static str, String)> {
        let mut given = Vec::new();
        let mut add = |key, value: Option<String>| {
            if let Some(v) = value {
                given.push((key, v));
            }
        };
        add("dataset", self.dataset.map(|d| d.to_string()));
        add("arch", self.preset.map(|p| p.to_string()));
        add(
            "hidden",
            self.hidden.as_ref().map(|h| {
                h.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        );
        add("activation", self.activation.map(|a| a.to_string()));
        add("layers", self.layers.clone());
        add("engine", self.engine.map(|e| e.to_string()));
        add("epochs", self.epochs.map(|e| e.to_string()));
        add("batch_size", self.batch_size.map(|b| b.to_string()));
        add("lr", self.lr.map(super::short_number));
        add("optimizer", self.optimizer.map(|o| o.to_string()));
        add("schedule", self.schedule.map(|s| s.to_string()));
        add("seed", self.seed.map(|s| s.to_string()));
        add("val_split", self.val_split.map(super::short_number));
        given
    }
}

/// The settings' names, as [`Settings::from_json`] reads them.
pub const KEYS: [&str; 13] = [
    "dataset",
    "arch",
    "hidden",
    "activation",
    "layers",
    "engine",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "schedule",
    "seed",
    "val_split",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_settings_become_the_same_config_as_the_fields() {
        let json = serde_json::json!({
            "dataset": "mnist-mini", "hidden": "32", "epochs": 200, "seed": 3, "lr": 0.5,
            "optimizer": null, "schedule": "",
        });
        let s = Settings::from_json(&json).unwrap();
        let fields = Settings {
            dataset: Some(DatasetName::MnistMini),
            hidden: Some(vec![32]),
            epochs: Some(200),
            seed: Some(3),
            lr: Some(0.5),
            ..Settings::default()
        };
        assert_eq!(s, fields);
        assert_eq!(s.config().unwrap().arch.describe(), "784-32-10 sigmoid");
        let as_list = Settings::from_json(&serde_json::json!({"hidden": [64, 32]})).unwrap();
        assert_eq!(as_list.hidden, Some(vec![64, 32]));
    }

    #[test]
    fn another_optimizer_starts_at_its_own_rate_for_the_network() {
        let lr = |preset, optimizer| {
            let settings = Settings {
                preset: Some(preset),
                optimizer: Some(optimizer),
                ..Settings::default()
            };
            settings.config().unwrap().lr
        };
        // Plain SGD at the texts' 1.0 sent a CNN to chance (10% on mnist-mini in 3 epochs).
        assert_eq!(lr(Preset::Mlp, OptimizerKind::Sgd), 1.0);
        assert_eq!(lr(Preset::Cnn, OptimizerKind::Sgd), 0.1);
        assert_eq!(lr(Preset::Lenet5, OptimizerKind::Sgd), 0.1);
        assert_eq!(lr(Preset::Mlp, OptimizerKind::Adam), 0.001);
        // The preset's own optimizer keeps the rate it was tuned with.
        assert_eq!(lr(Preset::Cnn, OptimizerKind::Adam), 0.002);
    }

    #[test]
    fn each_bad_setting_is_named() {
        let cases = [
            (
                serde_json::json!({"dataset": "cifar"}),
                "dataset",
                "unknown data set `cifar`",
            ),
            (
                serde_json::json!({"epochs": 0}),
                "epochs",
                "must be 1 to 100000, not 0",
            ),
            (
                serde_json::json!({"lr": "--out=/etc"}),
                "lr",
                "must be a number, not `--out=/etc`",
            ),
            (
                serde_json::json!({"out": "/etc"}),
                "settings",
                "unknown setting `out`",
            ),
            (
                serde_json::json!({"dataset": ["mnist"]}),
                "dataset",
                "must be a number or a short line of text",
            ),
            (
                serde_json::json!("mnist"),
                "settings",
                "must be a JSON object",
            ),
            (
                serde_json::json!({"hidden": "99999999"}),
                "architecture",
                "layer 1 `linear99999999`: a layer has 1 to 65536 outputs",
            ),
            (
                serde_json::json!({"arch": "cnn", "hidden": "32"}),
                "hidden",
                "shape the MLP",
            ),
            (
                serde_json::json!({"arch": "lenet5", "activation": "relu"}),
                "activation",
                "shape the MLP",
            ),
            (
                serde_json::json!({"layers": "conv3k99,flatten,linear10"}),
                "layers",
                "layer 1 `conv3k99`",
            ),
        ];
        for (json, setting, message) in cases {
            let err = Settings::from_json(&json)
                .and_then(|s| s.config())
                .unwrap_err();
            assert_eq!(err.setting, setting, "{json}: {err}");
            assert!(err.message.contains(message), "{json}: {err}");
        }
    }
}
