//! One tab's playground: its points (split into training and test), its network, the
//! training steps, and what the page draws.

use std::time::{Duration, Instant};

use scratchgrad::array::Rng;
use scratchgrad::scalar::{LabelledPoint, PlaneNet, Tape};
use serde_json::{json, Value};

use super::settings::Settings;
use crate::web::http::ApiError;

/// The most steps one request trains, and the longest it may take.
pub const MAX_STEPS: usize = 100;
const STEP_BUDGET: Duration = Duration::from_millis(250);
/// The history kept per session (beyond, every other entry is forgotten).
const MAX_HISTORY: usize = 2000;
/// Cells per side of the decision map, and of each neuron's map.
const MAP_SIDE: usize = 40;
const NEURON_MAP_SIDE: usize = 20;

/// A point of the data set.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub at: [f64; 2],
    /// +1 or -1, or the target of a regression set.
    pub label: f64,
    /// Held out: scored, never trained on.
    pub test: bool,
}

/// One entry of the curves: after `step` steps, the training objective (loss and penalty),
/// the training accuracy, the test loss and accuracy (NaN where there is none: accuracy of a
/// regression, anything of an empty test set).
type Entry = [f64; 5];

pub struct Session {
    pub settings: Settings,
    pub points: Vec<Point>,
    net: PlaneNet,
    tape: Tape,
    /// Draws each step's mini-batch.
    rng: Rng,
    pub step: usize,
    history: Vec<Entry>,
    /// The gradient of the last step's batch (before any step: of the whole training set),
    /// for the page to show beside each weight.
    gradient: Vec<f64>,
    pub last_used: Instant,
}

impl Session {
    pub fn new(settings: Settings) -> Session {
        let mut points: Vec<Point> = settings
            .data
            .generate(
                settings.points,
                settings.noise,
                &mut Rng::seed(settings.seed),
            )
            .into_iter()
            .map(|(at, label)| Point {
                at,
                label,
                test: false,
            })
            .collect();
        // A seeded shuffle picks the test points.
        let mut order: Vec<usize> = (0..points.len()).collect();
        let mut split = Rng::stream(settings.seed, 3);
        for i in (1..order.len()).rev() {
            order.swap(i, split.below(i + 1));
        }
        let tests = (settings.test_share * points.len() as f64).round() as usize;
        for &i in &order[..tests.min(points.len() - 1)] {
            points[i].test = true;
        }
        Session::with_points(settings, points)
    }

    fn with_points(settings: Settings, points: Vec<Point>) -> Session {
        let net = PlaneNet::new(
            &settings.features,
            &settings.hidden,
            settings.activation,
            &mut Rng::stream(settings.seed, 1),
        );
        let mut session = Session {
            gradient: vec![0.0; net.parameters().len()],
            net,
            rng: Rng::stream(settings.seed, 2),
            settings,
            points,
            tape: Tape::new(),
            step: 0,
            history: Vec::new(),
            last_used: Instant::now(),
        };
        let everything = session.training();
        session.gradient = session.gradient_of(&everything);
        session.record();
        session
    }

    /// A new network (and new points, if the data settings changed), keeping clicked
    /// points when the data stays.
    pub fn reset(&mut self, settings: Settings) {
        let points = std::mem::take(&mut self.points);
        *self = if self.settings.same_data(&settings) {
            Session::with_points(settings, points)
        } else {
            Session::new(settings)
        };
    }

    /// New settings that keep the network and the data (rate, loss, batch, ...); the last
    /// entry of the curves is measured again under them.
    pub fn change(&mut self, settings: Settings) -> Result<(), ApiError> {
        if !self.settings.same_data(&settings) || !self.settings.same_network(&settings) {
            return Err(ApiError::bad(
                "the data set and the network change only with reset",
            ));
        }
        self.settings = settings;
        self.remeasure();
        Ok(())
    }

    /// Adds a training point (a click on the plane).
    pub fn add(&mut self, at: [f64; 2], label: f64) {
        self.points.push(Point {
            at,
            label,
            test: false,
        });
        self.remeasure();
    }

    pub fn remove(&mut self, index: usize) {
        self.points.remove(index);
        self.remeasure();
    }

    /// The curves' last entry is about other data or another objective now: measure again.
    fn remeasure(&mut self) {
        self.history.pop();
        self.record();
    }

    fn training(&self) -> Vec<LabelledPoint> {
        self.points
            .iter()
            .filter(|p| !p.test)
            .map(|p| (p.at, p.label))
            .collect()
    }

    fn tests(&self) -> Vec<LabelledPoint> {
        self.points
            .iter()
            .filter(|p| p.test)
            .map(|p| (p.at, p.label))
            .collect()
    }

    fn penalty(&self) -> (scratchgrad::scalar::Regularization, f64) {
        (self.settings.regularization, self.settings.rate)
    }

    fn gradient_of(&mut self, batch: &[LabelledPoint]) -> Vec<f64> {
        let penalty = self.penalty();
        self.net
            .gradient(batch, self.settings.loss, penalty, &mut self.tape)
            .1
    }

    fn record(&mut self) {
        let loss = self.settings.loss;
        let score = |points: &[LabelledPoint]| {
            if points.is_empty() {
                return (f64::NAN, f64::NAN);
            }
            let (loss, accuracy) = self.net.evaluate(points, loss);
            // No accuracy for a regression (its loss is the squared error).
            (loss, accuracy.unwrap_or(f64::NAN))
        };
        let (train_loss, train_accuracy) = score(&self.training());
        let (test_loss, test_accuracy) = score(&self.tests());
        self.history.push([
            self.step as f64,
            train_loss + self.net.penalty(self.penalty()),
            train_accuracy,
            test_loss,
            test_accuracy,
        ]);
        if self.history.len() > MAX_HISTORY {
            // Keep every other entry: the curve keeps its shape in bounded memory.
            let mut i = 0;
            self.history.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
    }

    /// Up to `steps` steps of mini-batch gradient descent on the training points, within
    /// `STEP_BUDGET`.
    pub fn train(&mut self, steps: usize) {
        let started = Instant::now();
        let training = self.training();
        if training.is_empty() {
            return;
        }
        let mut batch = Vec::with_capacity(self.settings.batch);
        for _ in 0..steps {
            batch.clear();
            if self.settings.batch >= training.len() {
                batch.extend_from_slice(&training);
            } else {
                batch.extend(
                    (0..self.settings.batch).map(|_| training[self.rng.below(training.len())]),
                );
            }
            self.gradient = self.gradient_of(&batch);
            self.net.sgd_step(&self.gradient, self.settings.lr);
            self.step += 1;
            self.record();
            if started.elapsed() > STEP_BUDGET {
                break;
            }
        }
    }

    /// The loss of point `index` as an expression of the network's parameters, for the graph
    /// page.
    pub fn point_expression(&self, index: usize) -> Option<(String, Vec<(String, f64)>)> {
        let p = self.points.get(index)?;
        Some(
            self.net
                .loss_expression((p.at, p.label), self.settings.loss),
        )
    }

    /// How many parameters the network has.
    pub fn parameter_count(&self) -> usize {
        self.net.parameters().len()
    }

    /// What the page draws: the points, the curves from step `since` on (all of them after a
    /// reset), the weights and the last gradient, the decision map and every hidden neuron's
    /// map (values scaled to -100..100).
    pub fn state(&self, id: &str, since: Option<f64>) -> Value {
        let view = self.settings.data.view();
        let grid = |side: usize| -> Vec<[f64; 2]> {
            (0..side * side)
                .map(|k| {
                    let (row, col) = (k / side, k % side);
                    let x = view[0] + (view[1] - view[0]) * (col as f64 + 0.5) / side as f64;
                    let y = view[3] - (view[3] - view[2]) * (row as f64 + 0.5) / side as f64;
                    [x, y]
                })
                .collect()
        };
        let regression = self.settings.data.is_regression();
        let boundary: Vec<i64> = grid(MAP_SIDE)
            .into_iter()
            .map(|p| {
                let s = self.net.forward(p).0;
                let shown = if regression {
                    s.clamp(-1.0, 1.0)
                } else {
                    s.tanh()
                };
                (100.0 * shown).round() as i64
            })
            .collect();
        let cells: Vec<Vec<f64>> = grid(NEURON_MAP_SIDE)
            .into_iter()
            .map(|p| self.net.forward(p).1)
            .collect();
        let neurons: Vec<Vec<i64>> = (0..cells.first().map_or(0, Vec::len))
            .map(|n| {
                let largest = cells.iter().map(|c| c[n].abs()).fold(1e-12, f64::max);
                cells
                    .iter()
                    .map(|c| (100.0 * c[n] / largest).round() as i64)
                    .collect()
            })
            .collect();
        // From `since` on, unless the session went back to before it (a reset).
        let from = since.filter(|&s| s <= self.step as f64).unwrap_or(0.0);
        let history: Vec<&Entry> = self.history.iter().filter(|h| h[0] >= from).collect();
        let last = self.history.last().copied().unwrap_or([f64::NAN; 5]);
        let penalty = self.net.penalty(self.penalty());
        json!({
            "id": id,
            "settings": self.settings.to_json(),
            "regression": regression,
            "step": self.step,
            "loss": last[1],
            "data_loss": last[1] - penalty,
            "penalty": penalty,
            "accuracy": last[2],
            "test_loss": last[3],
            "test_accuracy": last[4],
            "view": view,
            "points": self.points.iter().map(|p| json!([p.at[0], p.at[1], p.label, u8::from(p.test)])).collect::<Vec<_>>(),
            "history_since": from,
            "history": history,
            "boundary": { "side": MAP_SIDE, "values": boundary },
            "neurons": { "side": NEURON_MAP_SIDE, "widths": self.settings.hidden, "values": neurons },
            "sizes": self.net.sizes(),
            "weights": self.net.parameters(),
            "gradient": self.gradient,
            "parameters": self.net.parameters().len(),
        })
    }
}
