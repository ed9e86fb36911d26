//! `method: "auto"`, the default: the GP while it is affordable, TPE beyond.
//!
//! On the quality suite (`docs/benchmarks.md`) the GP searcher finds better
//! configurations than TPE for the same number of trials on almost every
//! problem, but its cost per suggestion grows with the cube of the number of
//! trials (a Cholesky per likelihood evaluation of the hyper-parameter fit),
//! while TPE's grows linearly. So `auto` asks, before every suggestion, what
//! the GP would cost now, and uses it only while that cost is small next to
//! what a trial costs:
//!
//! - the GP's cost is *estimated*, never timed: [`gp_cost_ms`] is a model in
//!   the number of trials `n` and of parameters `d`, fitted to on-CPU
//!   measurements (`suggest_cost_grid` in `search/tests/gp.rs`);
//! - the budget is [`FLOOR_MS`], or a [`DURATION_SHARE`] of the median
//!   recorded duration of the finished trials when that is larger (a sweep of
//!   ten-minute trials can afford seconds per suggestion; a sweep of
//!   millisecond objectives cannot);
//! - GP while the estimate is within the budget, TPE from the first
//!   suggestion where it is not.
//!
//! The choice is a pure function of the space and the history (no clock is
//! read), so every worker and a resumed study choose alike, and the two
//! searchers it delegates to are pure themselves. The number of trials only
//! grows, so in practice a study switches once, from GP to TPE; TPE then
//! learns from every trial the GP made. [`choice`] is public so that `check`
//! and `status` can say what runs.

use crate::gp::{GpOptions, GpSearcher};
use crate::history::{History, TrialState};
use crate::params::Params;
use crate::searcher::{Method, Searcher};
use crate::space::SearchSpace;
use crate::tpe::{TpeOptions, TpeSearcher};
use crate::{SearchError, StdRng};

/// The GP's budget per suggestion when trials are fast (or their durations
/// unknown): fifty milliseconds, about what TPE takes at 10,000 trials of 40
/// parameters.
pub const FLOOR_MS: f64 = 50.0;

/// The share of a trial's median duration the GP may spend per suggestion.
pub const DURATION_SHARE: f64 = 0.05;

/// What `auto` runs for the next suggestion, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoChoice {
    /// [`Method::Gp`] or [`Method::Tpe`].
    pub method: Method,
    /// Trials in the history (the GP's training rows and pending points).
    pub trials: usize,
    /// Parameters of the space.
    pub params: usize,
    /// The GP's estimated cost per suggestion, ms.
    pub gp_cost_ms: f64,
    /// The budget it was held against, ms.
    pub budget_ms: f64,
}

impl std::fmt::Display for AutoChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let relation = if self.method == Method::Gp {
            "within"
        } else {
            "over"
        };
        write!(
            f,
            "{} (the GP's estimated {:.0} ms per suggestion at {} trials x {} params is {relation} \
             the budget of {:.0} ms)",
            self.method.as_str(),
            self.gp_cost_ms,
            self.trials,
            self.params,
            self.budget_ms
        )
    }
}

/// The GP's estimated on-CPU cost of one suggestion after a new observation,
/// in ms, with `n` trials and `d` parameters, under the default
/// [`GpOptions`]: a cubic term for the fit's factorisations and a term in
/// `n² d` for the kernel matrices and their gradients, with constants
/// fitted to `suggest_cost_grid` (release build, one core of the 2-core
/// development machine; see `docs/benchmarks.md`).
pub fn gp_cost_ms(n: usize, d: usize) -> f64 {
    let (n, d) = (n as f64, d.max(1) as f64);
    CUBIC_MS * n * n * n + QUADRATIC_MS * n * n * d
}

/// ms per n³ of [`gp_cost_ms`]. Fitted, with [`QUADRATIC_MS`], to the
/// measured cost at n = 100, 200, 300 and d = 10, 20, 40 (22.9 to 371 ms);
/// the model is within 15% of the measurements from 200 trials on, and
/// under them below (where the candidates' scoring, which the model leaves
/// out, is a larger share, and every cost is far under the budget anyway).
const CUBIC_MS: f64 = 5.0e-6;
/// ms per n²·d of [`gp_cost_ms`].
const QUADRATIC_MS: f64 = 6.5e-5;

/// The number of trials up to which `auto` runs the GP on `d` parameters
/// when the budget is `budget_ms` (e.g. [`FLOOR_MS`] for fast trials): the
/// first suggestion made with this many trials in the history is TPE's.
pub fn gp_trials(d: usize, budget_ms: f64) -> usize {
    // gp_cost_ms is increasing in n: bisect for the first n over budget.
    let (mut lo, mut hi) = (0usize, 1usize);
    while gp_cost_ms(hi, d) <= budget_ms {
        lo = hi;
        hi *= 2;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if gp_cost_ms(mid, d) <= budget_ms {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// One line on what `auto` will run on `d` parameters, for `check`.
pub fn plan(d: usize) -> String {
    format!(
        "gp for the first {} trials when trials take under a second ({} for one-minute \
         trials, {} for ten-minute ones), then tpe",
        gp_trials(d, FLOOR_MS),
        gp_trials(d, DURATION_SHARE * 60_000.0),
        gp_trials(d, DURATION_SHARE * 600_000.0)
    )
}

/// What `auto` runs for the next suggestion of `history` in `space`.
pub fn choice(space: &SearchSpace, history: &History) -> AutoChoice {
    let n = history.trials.len();
    let d = space.len();
    let gp_cost_ms = gp_cost_ms(n, d);
    let budget_ms = budget_ms(history);
    AutoChoice {
        method: if gp_cost_ms <= budget_ms {
            Method::Gp
        } else {
            Method::Tpe
        },
        trials: n,
        params: d,
        gp_cost_ms,
        budget_ms,
    }
}

/// The GP's budget: [`FLOOR_MS`], or [`DURATION_SHARE`] of the median
/// duration of the finished trials that recorded one, when larger.
fn budget_ms(history: &History) -> f64 {
    let mut durations: Vec<u64> = history
        .trials
        .iter()
        .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
        .filter_map(|t| t.duration_ms)
        .collect();
    if durations.is_empty() {
        return FLOOR_MS;
    }
    let mid = durations.len() / 2;
    let (_, median, _) = durations.select_nth_unstable(mid);
    FLOOR_MS.max(DURATION_SHARE * *median as f64)
}

/// The `auto` searcher: delegates each suggestion to a GP or a TPE searcher
/// as [`choice`] says. Both are kept, so each keeps its caches.
#[derive(Debug)]
pub struct AutoSearcher {
    gp: GpSearcher,
    tpe: TpeSearcher,
}

impl AutoSearcher {
    /// A new searcher; the options and seed are those of the two searchers.
    pub fn new(tpe: TpeOptions, gp: GpOptions, seed: u64) -> Self {
        AutoSearcher {
            gp: GpSearcher::new(gp, seed),
            tpe: TpeSearcher::new(tpe, seed),
        }
    }
}

impl Searcher for AutoSearcher {
    fn name(&self) -> &str {
        "auto"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        match choice(space, history).method {
            Method::Gp => self.gp.suggest(space, history, rng),
            _ => self.tpe.suggest(space, history, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Domain;
    use crate::history::{Direction, Observation};
    use crate::space::Param;

    fn space(d: usize) -> SearchSpace {
        SearchSpace::new(
            (0..d)
                .map(|i| Param::new(format!("x{i}"), Domain::float(0.0, 1.0)))
                .collect(),
        )
        .unwrap()
    }

    fn history(n: usize, duration_ms: Option<u64>) -> History {
        let mut h = History::new(Direction::Minimize);
        for i in 0..n {
            h.trials.push(Observation {
                number: i as u64,
                params: Params::default(),
                state: TrialState::Complete,
                value: Some(i as f64),
                intermediate: Vec::new(),
                duration_ms,
            });
        }
        h
    }

    #[test]
    fn gp_for_the_first_hundred_fast_trials_tpe_when_it_gets_expensive() {
        let s = space(10);
        assert_eq!(choice(&s, &history(0, None)).method, Method::Gp);
        assert_eq!(choice(&s, &history(100, None)).method, Method::Gp);
        assert_eq!(choice(&s, &history(1000, None)).method, Method::Tpe);
        // The switch is monotone in the number of trials.
        let first_tpe = (0..2000)
            .find(|&n| choice(&s, &history(n, Some(1))).method == Method::Tpe)
            .unwrap();
        assert!((100..1000).contains(&first_tpe), "{first_tpe}");
        assert!(
            (first_tpe..first_tpe + 50)
                .all(|n| choice(&s, &history(n, Some(1))).method == Method::Tpe)
        );
    }

    #[test]
    fn long_trials_buy_the_gp_more_trials() {
        let s = space(10);
        let switch = |ms: Option<u64>| {
            (0..5000)
                .find(|&n| choice(&s, &history(n, ms)).method == Method::Tpe)
                .unwrap()
        };
        let fast = switch(Some(10));
        assert_eq!(
            fast,
            switch(None),
            "below the floor, durations don't matter"
        );
        let minute = switch(Some(60_000));
        let ten_minutes = switch(Some(600_000));
        assert!(
            fast < minute && minute < ten_minutes,
            "{fast} {minute} {ten_minutes}"
        );
        // The budget is 5% of the median duration: 3 s for one-minute trials.
        let c = choice(&s, &history(200, Some(60_000)));
        assert_eq!(c.budget_ms, 3000.0);
    }

    #[test]
    fn the_budget_is_the_median_of_finished_trials_durations() {
        let mut h = history(5, Some(100_000));
        h.trials[0].duration_ms = Some(1_000_000_000);
        h.trials[1].duration_ms = None;
        h.trials[2].state = TrialState::Failed;
        h.trials[2].duration_ms = Some(1_000_000_000);
        // Complete with a duration: 1e9, 1e5, 1e5 -> median 1e5.
        assert_eq!(budget_ms(&h), 5000.0);
        assert_eq!(budget_ms(&history(3, None)), FLOOR_MS);
    }

    #[test]
    fn gp_trials_is_where_choice_switches() {
        for d in [1, 4, 10, 40] {
            for ms in [None, Some(60_000), Some(600_000)] {
                let budget = budget_ms(&history(1, ms));
                let first_tpe = (0..20_000)
                    .find(|&n| choice(&space(d), &history(n, ms)).method == Method::Tpe)
                    .unwrap();
                assert_eq!(gp_trials(d, budget), first_tpe, "d {d} ms {ms:?}");
            }
        }
    }

    #[test]
    fn more_params_switch_earlier() {
        let first_tpe = |d| {
            (0..2000)
                .find(|&n| choice(&space(d), &history(n, None)).method == Method::Tpe)
                .unwrap()
        };
        assert!(first_tpe(40) < first_tpe(4));
    }
}
