//! The bigram model as a table: how often each character follows each other one, smoothed
//! and normalized into probabilities of the next character (makemore's first lecture).

/// Counts of each token following each token, `size` x `size`, row-major (row: the token
/// before; column: the token after).
#[derive(Debug, Clone, PartialEq)]
pub struct BigramTable {
    size: usize,
    counts: Vec<u64>,
}

impl BigramTable {
    /// Counts every neighbouring pair of tokens in `sequences` (tokens below `size`).
    ///
    /// ```
    /// use scratchgrad::lm::BigramTable;
    /// // ".ab." and ".b.": 0 is the boundary, 1 is a, 2 is b.
    /// let table = BigramTable::count(3, &[vec![0, 1, 2, 0], vec![0, 2, 0]]);
    /// assert_eq!((table.get(0, 1), table.get(2, 0), table.get(1, 1)), (1, 2, 0));
    /// let p = table.probabilities(0.0);
    /// assert_eq!(&p[0..3], &[0.0, 0.5, 0.5]);
    /// ```
    pub fn count(size: usize, sequences: &[Vec<usize>]) -> Self {
        let mut counts = vec![0; size * size];
        for sequence in sequences {
            for pair in sequence.windows(2) {
                counts[pair[0] * size + pair[1]] += 1;
            }
        }
        BigramTable { size, counts }
    }

    /// How many tokens there are.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How often `after` followed `before`.
    pub fn get(&self, before: usize, after: usize) -> u64 {
        self.counts[before * self.size + after]
    }

    /// P(after | before) = (count + smoothing) / Σ over `after` of (count + smoothing),
    /// row-major. Smoothing (the lecture adds 1) gives pairs never seen a small chance, so no
    /// text is impossible; a row never seen at all is uniform.
    pub fn probabilities(&self, smoothing: f64) -> Vec<f64> {
        let mut p = vec![0.0; self.counts.len()];
        for (row, counts) in p.chunks_mut(self.size).zip(self.counts.chunks(self.size)) {
            let total: f64 = counts.iter().map(|&c| c as f64 + smoothing).sum();
            for (p, &c) in row.iter_mut().zip(counts) {
                *p = if total > 0.0 {
                    (c as f64 + smoothing) / total
                } else {
                    1.0 / self.size as f64
                };
            }
        }
        p
    }
}

/// The mean negative log-likelihood, in nats per character, of every neighbouring pair in
/// `sequences` under `probabilities` (row-major P(after | before), as
/// [`BigramTable::probabilities`] gives): -(1/n) Σ log P(after | before).
pub fn mean_nll(probabilities: &[f64], size: usize, sequences: &[Vec<usize>]) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for sequence in sequences {
        for pair in sequence.windows(2) {
            sum -= probabilities[pair[0] * size + pair[1]].ln();
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Corpus, Vocabulary};

    #[test]
    fn the_lectures_count_model_on_names_mini() {
        // tools/bigram_reference.py computes the same table and loss with numpy:
        // 2003 names, 14184 pairs, N[., a] = 275, nll 2.459257241350997.
        let text = Corpus::NamesMini
            .load(None, &mut |_| {}, &|| false)
            .unwrap();
        let names: Vec<String> = text.lines().map(String::from).collect();
        let vocabulary = Vocabulary::of(&names, Corpus::NamesMini.kind()).unwrap();
        let framed: Vec<Vec<usize>> = names
            .iter()
            .map(|n| vocabulary.framed(n).unwrap())
            .collect();
        let table = BigramTable::count(vocabulary.len(), &framed);
        assert_eq!(vocabulary.len(), 27);
        assert_eq!(table.get(0, vocabulary.encode("a").unwrap()[0]), 275);
        assert_eq!(framed.iter().map(|f| f.len() - 1).sum::<usize>(), 14184);
        let nll = mean_nll(&table.probabilities(1.0), table.size(), &framed);
        assert!((nll - 2.459257241350997).abs() < 1e-12, "{nll}");
    }
}
