//! Weight initialisation schemes, all seeded, shared by the hand-derived layers (`manual`), the
//! autograd ones (`nn`, which re-exports this as `nn::init`, as PyTorch has `torch.nn.init`) and
//! fresh networks (`arch`). Each returns a weight matrix in PyTorch's layout, `[fan_out,
//! fan_in]`.

use crate::array::{Array, Float, Rng};

/// Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
pub fn xavier_uniform<T: Float>(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Array<T> {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Array::rand_uniform(&[fan_out, fan_in], -a, a, rng)
}

/// Xavier/Glorot normal: N(0, std^2) with std = sqrt(2 / (fan_in + fan_out)).
pub fn xavier_normal<T: Float>(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Array<T> {
    let std = (2.0 / (fan_in + fan_out) as f64).sqrt();
    Array::rand_normal(&[fan_out, fan_in], 0.0, std, rng)
}

/// He/Kaiming uniform for ReLU: U(-a, a) with a = sqrt(6 / fan_in).
pub fn kaiming_uniform<T: Float>(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Array<T> {
    let a = (6.0 / fan_in as f64).sqrt();
    Array::rand_uniform(&[fan_out, fan_in], -a, a, rng)
}

/// He/Kaiming normal for ReLU: N(0, std^2) with std = sqrt(2 / fan_in).
pub fn kaiming_normal<T: Float>(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Array<T> {
    let std = (2.0 / fan_in as f64).sqrt();
    Array::rand_normal(&[fan_out, fan_in], 0.0, std, rng)
}

/// The texts' point-interpolation initialisation: U(-1, 1) whatever the size.
pub fn uniform_symmetric<T: Float>(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Array<T> {
    Array::rand_uniform(&[fan_out, fan_in], -1.0, 1.0, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_of(a: &Array<f64>) -> f64 {
        let n = a.len() as f64;
        let mean = a.sum_all() / n;
        (a.data()
            .iter()
            .map(|x| (x - mean) * (x - mean))
            .sum::<f64>()
            / n)
            .sqrt()
    }

    #[test]
    fn spreads_match_their_formulas() {
        let mut rng = Rng::seed(0);
        let (i, o) = (784, 256);
        let expect = [
            (
                xavier_uniform(i, o, &mut rng),
                (6.0 / (i + o) as f64).sqrt() / 3f64.sqrt(),
            ),
            (xavier_normal(i, o, &mut rng), (2.0 / (i + o) as f64).sqrt()),
            (
                kaiming_uniform(i, o, &mut rng),
                (6.0 / i as f64).sqrt() / 3f64.sqrt(),
            ),
            (kaiming_normal(i, o, &mut rng), (2.0 / i as f64).sqrt()),
            (uniform_symmetric(i, o, &mut rng), 1.0 / 3f64.sqrt()),
        ];
        for (k, (w, std)) in expect.iter().enumerate() {
            assert_eq!(w.shape(), &[o, i]);
            assert!(
                (std_of(w) / std - 1.0).abs() < 0.01,
                "scheme {k}: {} vs {std}",
                std_of(w)
            );
        }
    }
}
