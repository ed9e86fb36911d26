//! The split of a study's trials into a good set (modelled by `l(x)`) and a
//! bad set (modelled by `g(x)`).
//!
//! Trials are ranked best first: complete trials by their loss, then pruned
//! trials, deeper (larger last step) first and by their last intermediate
//! loss within a step — a trial stopped late was better than one stopped
//! early, and values at different steps are not comparable. The best
//! `n_below` ranked trials are the good set. Everything else is bad: the rest
//! of the ranking, failed trials (and complete ones with a non-finite value,
//! pruned ones with no finite report), and, under the constant liar, running
//! trials — their parameters are known and their value is not, so calling
//! them bad pushes the next suggestion away from points already being
//! evaluated.
//!
//! With `pruned_rank: linear`, a pruned trial whose last step
//! enough complete trials also reported ranks among the complete trials by
//! its predicted final value (`final_prediction`), after any complete
//! trial of the same value; the others keep the rule above.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::{History, TrialState};

use super::final_prediction::{FinalFit, support_at};
use super::{PrunedRank, TpeOptions};

/// Indices into `History::trials`, each list in trial order (oldest first),
/// which the recency weights rely on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// The good trials.
    pub below: Vec<usize>,
    /// The bad trials, including failed and (constant liar) running ones.
    pub above: Vec<usize>,
    /// How many trials had a rank (complete with a finite value, or pruned
    /// with a finite report).
    pub n_ranked: usize,
}

/// A trial's position in the ranking; smaller is better.
#[derive(Debug, Clone, Copy)]
enum Rank {
    Complete {
        loss: f64,
    },
    /// A pruned trial with a predicted final loss: among the complete ones.
    Predicted {
        predicted: f64,
        step: u64,
        loss: f64,
    },
    Pruned {
        step: u64,
        loss: f64,
    },
}

impl Rank {
    /// The sort key: complete and predicted trials first, by their (final or
    /// predicted) loss, a complete trial before a predicted one of equal
    /// loss; then pruned trials. Pruned and predicted trials with equal keys
    /// so far follow Optuna's order: deeper first, then by their loss there.
    fn key(&self) -> (u8, f64, u8, u64, f64) {
        match *self {
            Rank::Complete { loss } => (0, loss, 0, 0, 0.0),
            Rank::Predicted {
                predicted,
                step,
                loss,
            } => (0, predicted, 1, u64::MAX - step, loss),
            Rank::Pruned { step, loss } => (1, 0.0, 1, u64::MAX - step, loss),
        }
    }

    fn cmp(&self, other: &Rank) -> Ordering {
        let (a, b) = (self.key(), other.key());
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then(a.4.total_cmp(&b.4))
    }
}

/// Gives the pruned trials of `ranked` a predicted final loss where a fit
/// at their last step exists (one fit per step, on the complete trials that
/// reported it).
fn predict_pruned(ranked: &mut [(Rank, usize)], history: &History, rule: PrunedRank) {
    let mut fits: BTreeMap<u64, Option<FinalFit>> = BTreeMap::new();
    for (rank, _) in ranked.iter_mut() {
        if let Rank::Pruned { step, loss } = *rank {
            let fit = fits
                .entry(step)
                .or_insert_with(|| FinalFit::fit(rule, &support_at(history, step)));
            if let Some(fit) = fit {
                let predicted = fit.predict(loss);
                if predicted.is_finite() {
                    *rank = Rank::Predicted {
                        predicted,
                        step,
                        loss,
                    };
                }
            }
        }
    }
}

/// Splits the trials of `history` into good and bad sets by the gamma rule
/// of `options`.
pub fn split_trials(history: &History, options: &TpeOptions) -> Split {
    let direction = history.direction;
    let n = history.trials.len();
    let mut ranked: Vec<(Rank, usize)> = Vec::with_capacity(n);
    // Whether each trial is modelled at all: running trials only under the
    // constant liar.
    let mut modelled = vec![true; n];
    for (i, t) in history.trials.iter().enumerate() {
        let rank = match t.state {
            TrialState::Complete => t.loss(direction).map(|loss| Rank::Complete { loss }),
            TrialState::Pruned => t.last_intermediate().map(|(step, v)| Rank::Pruned {
                step,
                loss: direction.loss(v),
            }),
            TrialState::Failed => None,
            TrialState::Running => {
                modelled[i] = options.constant_liar;
                None
            }
        };
        if let Some(r) = rank {
            ranked.push((r, i));
        }
    }
    if options.pruned_rank != PrunedRank::DeepestStep {
        predict_pruned(&mut ranked, history, options.pruned_rank);
    }
    // Ties keep trial order, so the split is a pure function of the
    // history. Only which trials are the best `n_below` matters, not their
    // order: a selection, not a sort.
    let n_ranked = ranked.len();
    let n_below = options.n_below(n_ranked);
    let mut good = vec![false; n];
    if n_below > 0 {
        let order = |(a, i): &(Rank, usize), (b, j): &(Rank, usize)| a.cmp(b).then(i.cmp(j));
        if n_below < n_ranked {
            ranked.select_nth_unstable_by(n_below, order);
        }
        for &(_, i) in &ranked[..n_below] {
            good[i] = true;
        }
    }
    let (mut below, mut above) = (Vec::with_capacity(n_below), Vec::with_capacity(n));
    for i in 0..n {
        if good[i] {
            below.push(i);
        } else if modelled[i] {
            above.push(i);
        }
    }
    Split {
        below,
        above,
        n_ranked,
    }
}

/// Optuna's default observation weights for `n` observations in trial
/// order: the newest 25 weigh 1, older ones ramp linearly from `1/n` (the
/// oldest) up towards 1, so the model follows where the search has moved.
pub fn recency_weights(n: usize, out: &mut Vec<f64>) {
    const FLAT: usize = 25;
    out.clear();
    if n < FLAT {
        out.resize(n, 1.0);
        return;
    }
    let ramp = n - FLAT;
    let start = 1.0 / n as f64;
    for i in 0..ramp {
        let t = if ramp > 1 {
            i as f64 / (ramp - 1) as f64
        } else {
            0.0
        };
        out.push(start + t * (1.0 - start));
    }
    out.resize(n, 1.0);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::{Direction, Observation, Params};

    /// A trial with no params (the split reads only states and values).
    pub(in crate::tpe) fn obs(
        number: u64,
        state: TrialState,
        value: Option<f64>,
        inter: &[(u64, f64)],
    ) -> Observation {
        Observation {
            number,
            params: Params::new(),
            state,
            value,
            intermediate: inter.to_vec(),
            duration_ms: None,
        }
    }

    #[test]
    fn complete_then_deeper_pruned_then_failed() {
        let mut h = History::new(Direction::Maximize);
        h.trials = vec![
            obs(0, TrialState::Complete, Some(1.0), &[]),
            obs(1, TrialState::Pruned, None, &[(1, 9.0)]),
            obs(2, TrialState::Pruned, None, &[(1, 5.0), (3, 2.0)]),
            obs(3, TrialState::Failed, None, &[]),
            obs(4, TrialState::Complete, Some(f64::NAN), &[]),
            obs(5, TrialState::Complete, Some(3.0), &[]),
            obs(6, TrialState::Running, None, &[]),
        ];
        // Ranking: 5 (3.0), 0 (1.0), 2 (step 3), 1 (step 1): four ranked.
        let opts = TpeOptions::default().gamma(0.75);
        let s = split_trials(&h, &opts);
        assert_eq!(s.n_ranked, 4);
        assert_eq!(s.below, vec![0, 2, 5]);
        assert_eq!(s.above, vec![1, 3, 4, 6]);
        let s = split_trials(&h, &opts.constant_liar(false));
        assert_eq!(s.above, vec![1, 3, 4]);
    }

    /// The ranking, best first, read off the good sets of sizes 1, 2, ...
    fn ranking(h: &History, opts: &TpeOptions) -> Vec<u64> {
        let mut order = Vec::new();
        for k in 1..=split_trials(h, opts).n_ranked {
            let s = split_trials(h, &opts.clone().gamma(1.0).max_below(k));
            let new = s
                .below
                .iter()
                .find(|&&i| !order.contains(&h.trials[i].number));
            order.push(h.trials[*new.unwrap()].number);
        }
        order
    }

    #[test]
    fn pruned_trials_ranked_by_predicted_final_value() {
        let mut h = History::new(Direction::Minimize);
        // Complete trials: (value at step 1, final) = (1, 2), (2, 3),
        // (3, 5), (4, 4), (5, 6): the line final = 1.3 + 0.9 x (see
        // final_prediction's `line_by_hand`); sorted finals 2 3 4 5 6.
        let complete = [(1.0, 2.0), (2.0, 3.0), (3.0, 5.0), (4.0, 4.0), (5.0, 6.0)];
        for (n, &(x, y)) in complete.iter().enumerate() {
            let curve = [(1, x), (27, y)];
            h.trials
                .push(obs(n as u64, TrialState::Complete, Some(y), &curve));
        }
        h.trials.extend([
            obs(5, TrialState::Pruned, None, &[(1, 0.5)]),
            obs(6, TrialState::Pruned, None, &[(1, 6.0)]),
            // No complete trial reported step 3: Optuna's rank.
            obs(7, TrialState::Pruned, None, &[(1, 1.0), (3, 0.1)]),
            obs(8, TrialState::Pruned, None, &[(1, 2.0)]),
            obs(9, TrialState::Failed, None, &[(1, 0.1)]),
        ]);
        let opts = TpeOptions::default();
        // Optuna: complete by value, then pruned deepest first, by value.
        assert_eq!(ranking(&h, &opts), vec![0, 1, 3, 2, 4, 7, 5, 8, 6]);
        // Linear: 5 -> 1.75, 8 -> 3.1, 6 -> 6.7.
        let linear = opts.clone().pruned_rank(PrunedRank::Linear);
        assert_eq!(ranking(&h, &linear), vec![5, 0, 1, 8, 3, 2, 4, 6, 7]);
        // With four complete trials there is no fit: Optuna's rank.
        h.trials.remove(4);
        assert_eq!(ranking(&h, &linear), ranking(&h, &opts));
        assert_eq!(ranking(&h, &linear), vec![0, 1, 3, 2, 7, 5, 8, 6]);
    }

    #[test]
    fn optuna_gamma_rule() {
        let o = TpeOptions::default().gamma(0.1);
        assert_eq!(o.n_below(0), 0);
        assert_eq!(o.n_below(1), 1);
        assert_eq!(o.n_below(10), 1);
        assert_eq!(o.n_below(11), 2);
        assert_eq!(o.n_below(1000), 25);
    }

    #[test]
    fn recency_ramp() {
        let mut w = Vec::new();
        recency_weights(10, &mut w);
        assert_eq!(w, vec![1.0; 10]);
        recency_weights(40, &mut w);
        assert_eq!(w.len(), 40);
        assert!((w[0] - 1.0 / 40.0).abs() < 1e-12);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
        assert!(w[15..].iter().all(|&x| x == 1.0));
    }
}
