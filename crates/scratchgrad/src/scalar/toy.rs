//! Two-dimensional toy data sets for small networks (the ones TensorFlow Playground and
//! micrograd's demo use): points in the plane labelled +1 or -1, or, for the two regression
//! sets, given a target value between -1 and 1.
//! Never here: training, pictures.

use crate::array::Rng;
use crate::text::named_choices;

/// A point in the plane and its label, +1 or -1 (or its target, for a regression set).
pub type LabelledPoint = ([f64; 2], f64);

/// Which toy data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToyData {
    /// Two interleaving half circles, as scikit-learn's `make_moons`.
    Moons,
    /// A small circle inside a larger one, as scikit-learn's `make_circles` (factor 0.5).
    Circles,
    /// Four quadrants, labelled by the sign of x * y.
    Xor,
    /// Two interleaved spiral arms.
    Spiral,
    /// Regression: the target rises along the diagonal, (x + y) / 3.
    Plane,
    /// Regression: two hills and two valleys (Gaussian bumps at the corners of a square).
    Gaussians,
}

impl ToyData {
    /// Every data set, in the order the playground offers them.
    pub const ALL: [ToyData; 6] = [
        ToyData::Moons,
        ToyData::Circles,
        ToyData::Xor,
        ToyData::Spiral,
        ToyData::Plane,
        ToyData::Gaussians,
    ];

    /// True for the sets whose points have a target value rather than a class.
    pub fn is_regression(self) -> bool {
        matches!(self, ToyData::Plane | ToyData::Gaussians)
    }

    /// `n` points (half of each label) with Gaussian noise of standard deviation `noise`
    /// added to both coordinates; for a regression set, `n` points spread evenly at random
    /// over the view, the noise added to their targets.
    ///
    /// ```
    /// use scratchgrad::array::Rng;
    /// use scratchgrad::scalar::ToyData;
    /// let points = ToyData::Circles.generate(100, 0.0, &mut Rng::seed(0));
    /// let inner = points.iter().filter(|(p, _)| (p[0] * p[0] + p[1] * p[1]).sqrt() < 0.75);
    /// assert!(inner.clone().all(|(_, label)| *label > 0.0));
    /// assert_eq!(inner.count(), 50);
    /// ```
    pub fn generate(self, n: usize, noise: f64, rng: &mut Rng) -> Vec<LabelledPoint> {
        match self {
            ToyData::Moons => make_moons(n, noise, rng),
            ToyData::Circles => two_classes(n, noise, rng, |i, count, positive, _| {
                let t = std::f64::consts::TAU * i as f64 / count as f64;
                let r = if positive { 0.5 } else { 1.0 };
                [r * t.cos(), r * t.sin()]
            }),
            ToyData::Xor => two_classes(n, noise, rng, |_, _, positive, rng| {
                // Away from the axes, so that noise 0 leaves a margin.
                let (a, b) = (0.1 + 0.9 * rng.uniform(), 0.1 + 0.9 * rng.uniform());
                let side = if rng.uniform() < 0.5 { 1.0 } else { -1.0 };
                let y = if positive { b } else { -b };
                [side * a, side * y]
            }),
            ToyData::Spiral => two_classes(n, noise, rng, |i, count, positive, _| {
                let r = 0.1 + 0.9 * i as f64 / count as f64;
                let t = 1.75 * std::f64::consts::TAU * r;
                // The second arm is the first turned by half a turn.
                let turn = if positive { 1.0 } else { -1.0 };
                [turn * r * t.cos(), turn * r * t.sin()]
            }),
            ToyData::Plane => regression(n, noise, rng, |[x, y]| (x + y) / 3.0),
            ToyData::Gaussians => regression(n, noise, rng, |[x, y]| {
                let bump = |cx: f64, cy: f64| {
                    (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * 0.35 * 0.35)).exp()
                };
                bump(0.8, 0.8) + bump(-0.8, -0.8) - bump(0.8, -0.8) - bump(-0.8, 0.8)
            }),
        }
    }

    /// The square of the plane worth looking at: [x min, x max, y min, y max].
    pub fn view(self) -> [f64; 4] {
        match self {
            ToyData::Moons => [-1.5, 2.5, -1.75, 2.25],
            _ => [-1.6, 1.6, -1.6, 1.6],
        }
    }
}

/// `n` points uniform over [-1.5, 1.5]², each with the target `f(point)` plus noise, kept
/// within -1 to 1.
fn regression(
    n: usize,
    noise: f64,
    rng: &mut Rng,
    f: impl Fn([f64; 2]) -> f64,
) -> Vec<LabelledPoint> {
    (0..n)
        .map(|_| {
            let p = [3.0 * rng.uniform() - 1.5, 3.0 * rng.uniform() - 1.5];
            (p, (f(p) + noise * rng.normal()).clamp(-1.0, 1.0))
        })
        .collect()
}

/// `n` points, label +1 for the first half and -1 for the rest, each placed by
/// `place(i, count, positive, rng)` (the `i`-th of `count` points of its class), then moved by
/// the noise.
fn two_classes(
    n: usize,
    noise: f64,
    rng: &mut Rng,
    place: impl Fn(usize, usize, bool, &mut Rng) -> [f64; 2],
) -> Vec<LabelledPoint> {
    let half = n / 2;
    (0..n)
        .map(|i| {
            let positive = i < half;
            let (j, count) = if positive {
                (i, half)
            } else {
                (i - half, n - half)
            };
            let p = place(j, count.max(1), positive, rng);
            let moved = [p[0] + noise * rng.normal(), p[1] + noise * rng.normal()];
            (moved, if positive { 1.0 } else { -1.0 })
        })
        .collect()
}

/// Two interleaving half circles (scikit-learn's `make_moons`): `n` points, half labelled -1
/// (upper moon) and half +1 (lower moon), with Gaussian noise of standard deviation `noise`.
pub fn make_moons(n: usize, noise: f64, rng: &mut Rng) -> Vec<LabelledPoint> {
    let upper = n / 2;
    (0..n)
        .map(|i| {
            let (point, label) = if i < upper {
                let t = std::f64::consts::PI * i as f64 / (upper.max(2) - 1) as f64;
                ([t.cos(), t.sin()], -1.0)
            } else {
                let lower = n - upper;
                let t = std::f64::consts::PI * (i - upper) as f64 / (lower.max(2) - 1) as f64;
                ([1.0 - t.cos(), 0.5 - t.sin()], 1.0)
            };
            (
                [
                    point[0] + noise * rng.normal(),
                    point[1] + noise * rng.normal(),
                ],
                label,
            )
        })
        .collect()
}

named_choices!(ToyData, "data set", [Moons => "moons", Circles => "circles", Xor => "xor", Spiral => "spiral", Plane => "plane", Gaussians => "gaussians"]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_and_spiral_put_each_class_where_it_belongs() {
        let xor = ToyData::Xor.generate(200, 0.0, &mut Rng::seed(1));
        assert!(xor
            .iter()
            .all(|(p, label)| (p[0] * p[1] > 0.0) == (*label > 0.0)));
        let spiral = ToyData::Spiral.generate(10, 0.0, &mut Rng::seed(1));
        // Each -1 point is a +1 point turned by half a turn.
        for i in 0..5 {
            let (a, b) = (spiral[i].0, spiral[i + 5].0);
            assert!((a[0] + b[0]).abs() < 1e-12 && (a[1] + b[1]).abs() < 1e-12);
        }
        assert_eq!("spiral".parse::<ToyData>(), Ok(ToyData::Spiral));
        assert!("swirl"
            .parse::<ToyData>()
            .unwrap_err()
            .contains("known: moons"));
    }
}
