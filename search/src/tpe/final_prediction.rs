//! Predicted final values of pruned trials, for `pruned_rank: linear` (see
//! `PrunedRank`).
//!
//! Optuna's rule ranks every pruned trial below every complete one, because
//! values at different steps are not comparable. A pruned trial's curve says
//! more than that when other trials ran the whole way: the complete trials
//! that reported the pruned trial's last step show how values at that step
//! turned into final values in this study. One fit per step, on those
//! trials only (`MIN_SUPPORT` or more, else no prediction): a least-squares
//! line of final loss on loss at the step. Everything is derived from the
//! history, in trial order, so the prediction is the same in any process.
//!
//! A quantile map (the pruned trial's place among the complete trials'
//! losses at the step, carried to the same place among their final losses)
//! was screened too and did no better (docs/benchmarks.md, issue 11).

use crate::{Direction, History, TrialState};

use super::PrunedRank;

/// Fewest complete trials that reported a step for a fit at that step;
/// with fewer, pruned trials stopped there keep Optuna's rank.
pub const MIN_SUPPORT: usize = 5;

/// A fit at one step, from loss at that step to final loss:
/// `final = intercept + slope * at_step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinalFit {
    /// Final loss at an at-step loss of 0.
    pub intercept: f64,
    /// Change of final loss per unit of at-step loss.
    pub slope: f64,
}

impl FinalFit {
    /// Fits `rule` to `(loss at step, final loss)` pairs; `None` with fewer
    /// than [`MIN_SUPPORT`] pairs, for `deepest_step` (no prediction), or
    /// when the line is undefined (every at-step loss equal).
    pub fn fit(rule: PrunedRank, pairs: &[(f64, f64)]) -> Option<FinalFit> {
        if pairs.len() < MIN_SUPPORT {
            return None;
        }
        match rule {
            PrunedRank::DeepestStep => None,
            PrunedRank::Linear => least_squares_line(pairs),
        }
    }

    /// The predicted final loss of a trial whose loss at the step is `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

fn least_squares_line(pairs: &[(f64, f64)]) -> Option<FinalFit> {
    let n = pairs.len() as f64;
    let mean_x = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for &(x, y) in pairs {
        sxx += (x - mean_x) * (x - mean_x);
        sxy += (x - mean_x) * (y - mean_y);
    }
    if !sxx.is_finite() || sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    (slope.is_finite() && intercept.is_finite()).then_some(FinalFit { intercept, slope })
}

/// The `(loss at step, final loss)` pairs of the complete trials with a
/// finite value that reported a finite value at `step`, in trial order.
pub fn support_at(history: &History, step: u64) -> Vec<(f64, f64)> {
    let direction: Direction = history.direction;
    history
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            let last = t.loss(direction)?;
            let i = t
                .intermediate
                .binary_search_by_key(&step, |&(s, _)| s)
                .ok()?;
            let v = t.intermediate[i].1;
            v.is_finite().then(|| (direction.loss(v), last))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn line_by_hand() {
        // x: 1 2 3 4 5, y: 2 3 5 4 6. Means 3 and 4; sxx = 10;
        // sxy = (-2)(-2) + (-1)(-1) + 0 + (1)(0) + (2)(2) = 9.
        // slope 0.9, intercept 4 - 2.7 = 1.3.
        let pairs = [(1.0, 2.0), (2.0, 3.0), (3.0, 5.0), (4.0, 4.0), (5.0, 6.0)];
        let fit = FinalFit::fit(PrunedRank::Linear, &pairs).unwrap();
        assert!(
            close(fit.slope, 0.9) && close(fit.intercept, 1.3),
            "{fit:?}"
        );
        assert!(close(fit.predict(10.0), 10.3));
        assert_eq!(FinalFit::fit(PrunedRank::Linear, &pairs[..4]), None);
        assert_eq!(FinalFit::fit(PrunedRank::DeepestStep, &pairs), None);
        let flat = [(1.0, 2.0); 5];
        assert_eq!(FinalFit::fit(PrunedRank::Linear, &flat), None);
    }

    #[test]
    fn support_uses_complete_trials_that_reported_the_step() {
        let mut h = History::new(Direction::Maximize);
        let t = crate::tpe::split::tests::obs;
        h.trials = vec![
            t(0, TrialState::Complete, Some(0.9), &[(1, 0.5), (3, 0.8)]),
            t(1, TrialState::Pruned, None, &[(1, 0.4)]),
            t(2, TrialState::Complete, Some(0.7), &[(3, 0.6)]),
            t(3, TrialState::Complete, Some(f64::NAN), &[(1, 0.3)]),
            t(4, TrialState::Complete, Some(0.6), &[(1, f64::NAN)]),
            t(5, TrialState::Complete, Some(0.8), &[(1, 0.2), (2, 0.3)]),
        ];
        // Maximised: losses are the negated values.
        assert_eq!(support_at(&h, 1), vec![(-0.5, -0.9), (-0.2, -0.8)]);
        assert_eq!(support_at(&h, 3), vec![(-0.8, -0.9), (-0.6, -0.7)]);
        assert_eq!(support_at(&h, 9), vec![]);
    }
}
