//! Kernels of categorical dimensions.
//!
//! An observation that chose `c` contributes the distribution
//! `p(x) ∝ [x = c] + ε π(x)`, with `π` the prior (the parameter's
//! `probabilities`, uniform when absent) and `ε = prior_weight / (n + 1)`:
//! mostly the observed choice, with a little mass on every choice the prior
//! allows, so that a choice never seen among the good trials still has a
//! non-zero density and the ratio `l / g` stays finite. The prior itself is
//! the last kernel. This is the smoothing of Optuna's categorical
//! estimator, with the prior's probabilities in place of a uniform fill.

/// Log probabilities of every kernel over the choices, row-major
/// (`(n_obs + 1) * prior.len()` values, the prior's row last). `observed`
/// holds choice indices as f64.
pub fn categorical_kernels(observed: &[f64], prior: &[f64], prior_weight: f64) -> Vec<f64> {
    let n_choices = prior.len();
    let eps = prior_weight / (observed.len() as f64 + 1.0);
    let mut out = Vec::with_capacity((observed.len() + 1) * n_choices);
    for &x in observed {
        let c = (x.max(0.0) as usize).min(n_choices.saturating_sub(1));
        let norm = 1.0 + eps;
        out.extend(prior.iter().enumerate().map(|(j, &p)| {
            let mass = if j == c { 1.0 } else { 0.0 } + eps * p;
            (mass / norm).ln()
        }));
    }
    out.extend(prior.iter().map(|p| p.ln()));
    out
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
