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

/// Log probabilities of every kernel over the choices, row-major
/// (`(n_obs + 1) * prior.len()` values, the prior's row last). `observed`
/// holds choice indices as f64.
#[cfg(test)]
pub fn categorical_kernels(observed: &[f64], prior: &[f64], prior_weight: f64) -> Vec<f64> {
    let (mut log_p, mut cum_p) = (Vec::new(), Vec::new());
    categorical_kernels_into(observed, prior, prior_weight, &mut log_p, &mut cum_p);
    // Back to kernel-major.
    let n_kernels = observed.len() + 1;
    (0..n_kernels)
        .flat_map(|k| (0..prior.len()).map(move |c| (k, c)))
        .map(|(k, c)| log_p[c * n_kernels + k])
        .collect()
}

/// The kernels of [`categorical_kernels`], laid out for speed: `log_p`
/// choice-major (`log p_k(c)` at `c * n_kernels + k`, so scoring a choice
/// reads one contiguous run over the kernels) and the cumulative
/// probabilities of each kernel's row kernel-major in `cum_p` (for
/// sampling), reusing their storage. Every kernel's row is the same but for
/// its observed choice, so logarithms and sums are taken once per choice,
/// not once per kernel and choice.
pub fn categorical_kernels_into(
    observed: &[f64],
    prior: &[f64],
    prior_weight: f64,
    log_p: &mut Vec<f64>,
    cum_p: &mut Vec<f64>,
) {
    let n_choices = prior.len();
    let n_kernels = observed.len() + 1;
    let eps = n_choices as f64 * prior_weight / (observed.len() as f64 + 1.0);
    let norm = 1.0 + eps;
    let other: Vec<f64> = prior.iter().map(|&p| eps * p / norm).collect();
    let mut cum_other = Vec::with_capacity(n_choices);
    let mut s = 0.0;
    for p in &other {
        s += p;
        cum_other.push(s);
    }
    let index = |x: f64| (x.max(0.0) as usize).min(n_choices.saturating_sub(1));
    log_p.clear();
    log_p.reserve(n_kernels * n_choices);
    for (c, (&p, &o)) in prior.iter().zip(&other).enumerate() {
        let (log_other, log_chosen) = (o.ln(), ((1.0 + eps * p) / norm).ln());
        log_p.extend(
            observed
                .iter()
                .map(|&x| if index(x) == c { log_chosen } else { log_other }),
        );
        log_p.push(p.ln());
    }
    cum_p.clear();
    cum_p.reserve(n_kernels * n_choices);
    if n_choices > 0 {
        // The observed choice adds 1 / norm to its own and every later sum.
        let bump = 1.0 / norm;
        for &x in observed {
            let start = cum_p.len() + index(x);
            cum_p.extend_from_slice(&cum_other);
            for v in &mut cum_p[start..] {
                *v += bump;
            }
        }
    }
    let mut s = 0.0;
    cum_p.extend(prior.iter().map(|p| {
        s += p;
        s
    }));
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

    #[test]
    fn every_kernel_is_a_distribution() {
        let prior = [0.5, 0.3, 0.2];
        let k = categorical_kernels(&[0.0, 2.0], &prior, 1.0);
        for row in k.chunks(3) {
            let s: f64 = row.iter().map(|x| x.exp()).sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        // The observed choice dominates its kernel; the prior row is the prior.
        assert!(k[0] > k[1] && k[5] > k[4]);
        assert!((k[6].exp() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_choice_the_prior_forbids_is_never_drawn_unless_observed() {
        let k = categorical_kernels(&[0.0], &[1.0, 0.0], 1.0);
        assert_eq!(k[1], f64::NEG_INFINITY);
        assert_eq!(k[3], f64::NEG_INFINITY);
    }
}
