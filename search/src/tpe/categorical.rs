//! Kernels of categorical dimensions.
//!
//! An observation that chose `c` contributes the distribution
//! `p(x) ∝ [x = c] + ε K π(x)`, with `π` the prior (the parameter's
//! `probabilities`, uniform when absent), `K` the number of choices and
//! `ε = prior_weight / (n + 1)`: mostly the observed choice, with some mass
//! on every choice the prior allows, so that a choice never seen among the
//! good trials keeps a non-zero density and the ratio `l / g` stays finite.
//! The prior itself is the last kernel. With a uniform prior every choice
//! gets `ε` (Optuna's smoothing); with `probabilities` it gets `ε K π(x)`.
//! The smoothing grows with `K` on purpose: with only `ε π(x)` spread over
//! the other choices (the earlier rule) a choice seen in a few good trials
//! was all but never left, and on the quality suite the model stuck to the
//! wrong branch of `mixed` and missed the optimum of the tabular problems
//! more often.

/// The kernels of one categorical dimension. Every observed kernel's
/// distribution is the same but for its observed choice, so only that
/// choice is stored per kernel, and per choice the three values a kernel
/// can give it: building is `O(n + K)` for `n` kernels and `K` choices, not
/// `O(n K)`.
#[derive(Debug, Clone, Default)]
pub struct CategoricalKernels {
    /// The observed choice of each kernel but the prior (the last kernel),
    /// as f64: compared with a choice in the scoring loop, which then runs
    /// in vector registers.
    chosen: Vec<f64>,
    /// Per choice `c`: `log p_k(c)` of a kernel that observed `c`, of one
    /// that observed another choice, and of the prior.
    log_chosen: Vec<f64>,
    log_other: Vec<f64>,
    log_prior: Vec<f64>,
    /// Cumulative probabilities for sampling: of an observed kernel's row
    /// before its own choice's `bump` is added (at its choice and after),
    /// and of the prior's row.
    cum_other: Vec<f64>,
    bump: f64,
    cum_prior: Vec<f64>,
}

impl CategoricalKernels {
    /// Rebuilds the kernels of the choice indices `observed` (as f64).
    pub fn refit(&mut self, observed: &[f64], prior: &[f64], prior_weight: f64) {
        let n_choices = prior.len();
        let eps = n_choices as f64 * prior_weight / (observed.len() as f64 + 1.0);
        let norm = 1.0 + eps;
        self.chosen.clear();
        self.chosen
            .extend(observed.iter().map(|&x| choice_index(x, n_choices) as f64));
        for v in [
            &mut self.log_chosen,
            &mut self.log_other,
            &mut self.log_prior,
            &mut self.cum_other,
            &mut self.cum_prior,
        ] {
            v.clear();
        }
        let (mut cum_other, mut cum_prior) = (0.0, 0.0);
        for &p in prior {
            let other = eps * p / norm;
            self.log_other.push(other.ln());
            self.log_chosen.push(((1.0 + eps * p) / norm).ln());
            self.log_prior.push(p.ln());
            cum_other += other;
            self.cum_other.push(cum_other);
            cum_prior += p;
            self.cum_prior.push(cum_prior);
        }
        // The observed choice adds 1 / norm to its own and every later sum.
        self.bump = 1.0 / norm;
    }

    /// Number of choices.
    pub fn n_choices(&self) -> usize {
        self.cum_prior.len()
    }

    /// Number of kernels, the prior included.
    #[cfg(test)]
    pub fn n_kernels(&self) -> usize {
        self.chosen.len() + 1
    }

    /// `log p_k(c)`.
    #[cfg(test)]
    pub fn log_p(&self, k: usize, c: usize) -> f64 {
        match self.chosen.get(k) {
            Some(&own) if own == c as f64 => self.log_chosen[c],
            Some(_) => self.log_other[c],
            None => self.log_prior[c],
        }
    }

    /// `acc[k] += log p_k(c)` for every kernel `k`.
    pub fn add_log_p(&self, c: usize, acc: &mut [f64]) {
        let (chosen, other) = (self.log_chosen[c], self.log_other[c]);
        let (observed, prior) = acc.split_at_mut(self.chosen.len());
        let index = c as f64;
        for (a, &own) in observed.iter_mut().zip(&self.chosen) {
            *a += if own == index { chosen } else { other };
        }
        prior[0] += self.log_prior[c];
    }

    /// The choice of kernel `k` at uniform draw `u` in `[0, 1)`: the first
    /// whose cumulative probability exceeds `u` times the row's total.
    pub fn draw(&self, k: usize, u: f64) -> usize {
        let n_choices = self.n_choices();
        match self.chosen.get(k) {
            Some(&own) => {
                let own = own as usize;
                let row = |c: usize| {
                    if c >= own {
                        self.cum_other[c] + self.bump
                    } else {
                        self.cum_other[c]
                    }
                };
                let u = u * row(n_choices - 1);
                (0..n_choices)
                    .find(|&c| row(c) > u)
                    .unwrap_or(n_choices - 1)
            }
            None => {
                let u = u * self.cum_prior[n_choices - 1];
                self.cum_prior
                    .partition_point(|&c| c <= u)
                    .min(n_choices - 1)
            }
        }
    }
}

/// A choice index stored as f64, as an index into `n_choices`.
pub fn choice_index(x: f64, n_choices: usize) -> usize {
    (x.max(0.0) as usize).min(n_choices.saturating_sub(1))
}

/// The prior over `n` choices: the given probabilities, or uniform.
pub fn categorical_prior(n: usize, probabilities: Option<&[f64]>) -> Vec<f64> {
    match probabilities {
        Some(p) if p.len() == n => p.to_vec(),
        _ => vec![1.0 / n.max(1) as f64; n],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel's log probabilities, kernel-major.
    fn table(observed: &[f64], prior: &[f64], prior_weight: f64) -> Vec<Vec<f64>> {
        let mut k = CategoricalKernels::default();
        k.refit(observed, prior, prior_weight);
        (0..k.n_kernels())
            .map(|i| (0..prior.len()).map(|c| k.log_p(i, c)).collect())
            .collect()
    }

    #[test]
    fn every_kernel_is_a_distribution() {
        let prior = [0.5, 0.3, 0.2];
        let k = table(&[0.0, 2.0], &prior, 1.0);
        for row in &k {
            let s: f64 = row.iter().map(|x| x.exp()).sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        // The observed choice dominates its kernel; the prior row is the prior.
        assert!(k[0][0] > k[0][1] && k[1][2] > k[1][1]);
        assert!((k[2][0].exp() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_choice_the_prior_forbids_is_never_drawn_unless_observed() {
        let k = table(&[0.0], &[1.0, 0.0], 1.0);
        assert_eq!(k[0][1], f64::NEG_INFINITY);
        assert_eq!(k[1][1], f64::NEG_INFINITY);
        let mut kernels = CategoricalKernels::default();
        kernels.refit(&[0.0], &[1.0, 0.0], 1.0);
        for i in 0..100 {
            let u = i as f64 / 100.0;
            assert_eq!(kernels.draw(0, u), 0);
            assert_eq!(kernels.draw(1, u), 0);
        }
    }

    #[test]
    fn draws_follow_the_probabilities() {
        let prior = [0.1, 0.2, 0.3, 0.4];
        let mut kernels = CategoricalKernels::default();
        kernels.refit(&[2.0, 0.0, 3.0], &prior, 1.0);
        let steps = 100_000;
        for k in 0..kernels.n_kernels() {
            let mut counts = [0usize; 4];
            for i in 0..steps {
                counts[kernels.draw(k, (i as f64 + 0.5) / steps as f64)] += 1;
            }
            for (c, &n) in counts.iter().enumerate() {
                let p = kernels.log_p(k, c).exp();
                assert!(
                    (n as f64 / steps as f64 - p).abs() < 1e-4,
                    "kernel {k} choice {c}"
                );
            }
        }
        // Adding to an accumulator gives the same values.
        let mut acc = vec![0.0; kernels.n_kernels()];
        kernels.add_log_p(3, &mut acc);
        for (k, a) in acc.iter().enumerate() {
            assert_eq!(*a, kernels.log_p(k, 3));
        }
    }
}
