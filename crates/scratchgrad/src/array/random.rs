//! Seeded random numbers that are the same on every platform and crate version.
//!
//! The bits come from ChaCha8 (`rand_chacha`), whose output stream is fixed by its
//! specification. We turn bits into numbers ourselves, with the textbook formulas below, rather
//! than through `rand`'s distributions, whose algorithms may change between versions.

use rand_chacha::rand_core::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Array, Float};

/// A seeded random number generator.
///
/// ```
/// use scratchgrad::array::{Array, Rng};
/// let mut rng = Rng::seed(42);
/// let w = Array::<f32>::rand_normal(&[256, 784], 0.0, 0.05, &mut rng);
/// assert_eq!(w.shape(), &[256, 784]);
/// assert_eq!(Rng::seed(42).uniform(), Rng::seed(42).uniform());
/// ```
#[derive(Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn seed(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Generator number `stream` of the family seeded by `seed` (ChaCha's stream counter):
    /// independent streams from one seed, e.g. one per layer and training step.
    pub fn stream(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Rng(rng)
    }

    /// How far it has read its stream (in 32-bit words): with the seed and stream, where to
    /// go on from after a checkpoint.
    pub fn position(&self) -> u128 {
        self.0.get_word_pos()
    }

    /// [`Rng::stream`] moved on to `position` (what [`Rng::position`] said).
    ///
    /// ```
    /// use scratchgrad::array::Rng;
    /// let mut rng = Rng::stream(7, 1);
    /// rng.below(10);
    /// let mut again = Rng::stream_at(7, 1, rng.position());
    /// assert_eq!(rng.below(1000), again.below(1000));
    /// ```
    pub fn stream_at(seed: u64, stream: u64, position: u128) -> Self {
        let mut rng = Self::stream(seed, stream);
        rng.0.set_word_pos(position);
        rng
    }

    /// Moves on `words` 32-bit words, as drawing that many would (a part of a batch skips
    /// what the examples before it would have drawn).
    ///
    /// ```
    /// use scratchgrad::array::Rng;
    /// let (mut drawn, mut skipped) = (Rng::seed(3), Rng::seed(3));
    /// drawn.below(7); // one 64-bit draw: two words
    /// skipped.skip(2);
    /// assert_eq!(drawn.uniform(), skipped.uniform());
    /// ```
    pub fn skip(&mut self, words: u128) {
        let at = self.0.get_word_pos();
        self.0.set_word_pos(at + words);
    }

    /// A uniform number in [0, 1): the top 53 bits of a u64, scaled by 2^-53.
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal number (Box-Muller: sqrt(-2 ln u1) * cos(2 pi u2)).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1], so ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A uniform integer in 0..n, without modulo bias (rejects the incomplete last block).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below: the range 0..0 is empty");
        let n = n as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.0.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }

    /// Shuffles in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

impl<T: Float> Array<T> {
    /// A dropout mask: each element 0 with probability `p`, else `1 / (1 - p)` (so that the
    /// expected value of `x * mask` is `x`).
    ///
    /// Each element reads one 32-bit word of the stream and is dropped when it is below
    /// `p * 2^32` (half the bits of a [`Rng::uniform`], and the mask is a GPT step's largest
    /// use of random numbers).
    pub fn dropout_mask(shape: &[usize], p: f64, rng: &mut Rng) -> Self {
        let keep = T::from_f64(1.0 / (1.0 - p));
        let below = (p * 4_294_967_296.0).round() as u64;
        let n = shape.iter().product();
        let data = (0..n)
            .map(|_| {
                if u64::from(rng.0.next_u32()) < below {
                    T::ZERO
                } else {
                    keep
                }
            })
            .collect();
        Array::from_vec(data, shape)
    }

    /// Uniform numbers in [low, high).
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Self {
        let n = shape.iter().product();
        let data = (0..n).map(|_| T::from_f64(low + (high - low) * rng.uniform()));
        Array::from_vec(data.collect(), shape)
    }

    /// Normal numbers with the given mean and standard deviation.
    pub fn rand_normal(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Self {
        let n = shape.iter().product();
        let data = (0..n).map(|_| T::from_f64(mean + std * rng.normal()));
        Array::from_vec(data.collect(), shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b, mut c) = (Rng::seed(9), Rng::seed(9), Rng::seed(10));
        let xs: Vec<f64> = (0..5).map(|_| a.normal()).collect();
        let ys: Vec<f64> = (0..5).map(|_| b.normal()).collect();
        let zs: Vec<f64> = (0..5).map(|_| c.normal()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn moments_are_right() {
        let mut rng = Rng::seed(3);
        let n = 200_000;
        let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = x.iter().sum::<f64>() / n as f64;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
        let u: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        assert!(u.iter().all(|&v| (0.0..1.0).contains(&v)));
        assert!((u.iter().sum::<f64>() / n as f64 - 0.5).abs() < 0.01);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..100).collect();
        Rng::seed(5).shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
