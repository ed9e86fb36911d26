//! Define-by-run trials: the search space is whatever the objective asks for.
//!
//! An Optuna-style objective (the Python API) names each parameter when it
//! first needs it, behind its own `if`s, so there is no space up front and
//! two trials of one study may draw different parameters. Such a trial is
//! claimed like any other ([`Study::ask_open`]: its number reserved in the
//! store), with the params of the study's declared space drawn jointly when
//! it has one (a grid given in advance) and none otherwise. Each later
//! parameter is drawn by [`Study::suggest_param`] with the study's own
//! searcher on a one-parameter space, from the trials that drew a value of
//! that name inside the same domain: Optuna's independent sampling, so TPE
//! models each parameter from exactly the trials whose branch asked for it
//! rather than falling back to random (a TPE for such studies should keep
//! `skip_duplicates` off: one parameter's value seen before is no duplicate
//! configuration). The draw's RNG derives from the study
//! seed, the trial number and the parameter's name, so one seed gives the
//! same trials in any process. [`Study::set_params`] stores what a trial has
//! drawn before its reports and its end, so pruners and the searchers of
//! other processes see it.

use std::sync::PoisonError;

use hypersweep_search::{
    Domain, History, Observation, Param, Params, SearchSpace, Value, suggestion_rng,
};
use hypersweep_trials::{NewTrial, Trial, blocking};

use super::{Study, StudyError};

impl Study {
    /// Claims a define-by-run trial: a number reserved in the store and a
    /// Running trial holding the params of the study's declared space (none
    /// when the space is empty); the objective draws the rest with
    /// [`Study::suggest_param`].
    pub fn ask_open(&self) -> Result<Trial, StudyError> {
        if !self.config.space.is_empty() {
            return self.ask();
        }
        let mut cache = self
            .ask_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let template = NewTrial {
            worker: self.config.worker.clone(),
            asked: true,
            ..NewTrial::new(Params::new())
        };
        let trial = blocking(|| {
            self.storage
                .claim(&self.name, &mut cache, &mut |_, _| Some(template.clone()))
        })?;
        trial.ok_or_else(|| StudyError::Runtime("the claim stored no trial".into()))
    }

    /// Draws parameter `name` of `domain` for the running trial `number`
    /// with the study's searcher, from the trials that hold a value of
    /// `name` inside `domain` (finished ones as evidence, running ones as
    /// pending points). A domain that is not valid (`low > high`, a log
    /// range touching zero, no choices) is refused with an error that names
    /// the parameter and what was expected.
    pub fn suggest_param(
        &self,
        number: u64,
        name: &str,
        domain: Domain,
    ) -> Result<Value, StudyError> {
        let space = SearchSpace::new(vec![Param::new(name, domain)])?;
        let Some(param) = space.get(name) else {
            return Err(StudyError::Runtime(format!("parameter `{name}` was lost")));
        };
        let history = self
            .ask_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .history();
        let projected = project(&history, name, &param.domain, number);
        let mut rng = suggestion_rng(self.config.seed ^ name_hash(name), number);
        let params = self
            .searcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .suggest(&space, &projected, &mut rng)?;
        params
            .get(name)
            .cloned()
            .ok_or_else(|| StudyError::Runtime(format!("the searcher drew no value for `{name}`")))
    }

    /// Stores the params a running define-by-run trial has drawn so far.
    pub fn set_params(&self, number: u64, params: Params) -> Result<(), StudyError> {
        blocking(|| self.storage.set_params(&self.name, number, params))?;
        Ok(())
    }
}

/// The history as a one-parameter searcher sees it: every other trial that
/// holds a value of `name` inside `domain`, with that value only.
fn project(history: &History, name: &str, domain: &Domain, number: u64) -> History {
    let mut projected = History::new(history.direction);
    projected.trials = history
        .trials
        .iter()
        .filter(|t| t.number != number)
        .filter_map(|t| {
            let value = t.params.get(name).filter(|v| domain.contains(v))?;
            let mut params = Params::new();
            params.insert(name, value.clone());
            Some(Observation {
                number: t.number,
                params,
                state: t.state,
                value: t.value,
                intermediate: Vec::new(),
                duration_ms: None,
            })
        })
        .collect();
    projected
}

/// FNV-1a of the name: stable across processes and releases (std's hasher
/// is neither), so a parameter's draws depend on the seed alone.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use hypersweep_search::tpe::{TpeOptions, TpeSearcher};
    use hypersweep_search::{Method, TrialState};
    use hypersweep_trials::TrialOutcome;

    use super::*;

    /// A define-by-run study. Its TPE keeps drawing values seen before
    /// (`skip_duplicates` off, as the Python API sets it): one parameter's
    /// value is no duplicate configuration.
    fn study(method: Method, seed: u64) -> Study {
        let empty = SearchSpace::new(Vec::new()).expect("empty space");
        let mut builder = Study::builder();
        builder.space(empty).method(method).seed(seed);
        if method == Method::Tpe {
            let options = TpeOptions::new().skip_duplicates(false);
            builder.searcher(Box::new(TpeSearcher::new(options, seed)));
        }
        builder.build().expect("study")
    }

    fn float(low: f64, high: f64) -> Domain {
        Domain::Float {
            low,
            high,
            log: false,
            step: None,
        }
    }

    /// A conditional objective: `kind` decides whether `x` (float) or
    /// `depth` (int) is asked for. Returns every trial's params.
    fn run_conditional(study: &Study, n: u64) -> Vec<Params> {
        for _ in 0..n {
            let trial = study.ask_open().expect("ask");
            let kind_domain = Domain::Categorical {
                choices: vec![Value::from("x"), Value::from("depth")],
                probabilities: None,
            };
            let kind = study
                .suggest_param(trial.number, "kind", kind_domain)
                .expect("kind");
            let mut params = Params::new();
            params.insert("kind", kind.clone());
            let value = if kind == "x" {
                let x = study
                    .suggest_param(trial.number, "x", float(-5.0, 5.0))
                    .expect("x");
                params.insert("x", x.clone());
                (x.as_f64().expect("float") - 1.0).powi(2)
            } else {
                let domain = Domain::Int {
                    low: 1,
                    high: 8,
                    log: false,
                    step: None,
                };
                let d = study
                    .suggest_param(trial.number, "depth", domain)
                    .expect("depth");
                params.insert("depth", d.clone());
                3.0 + d.as_f64().expect("int")
            };
            study.set_params(trial.number, params).expect("params");
            study.tell(trial.number, value).expect("tell");
        }
        study
            .trials()
            .expect("trials")
            .into_iter()
            .map(|t| t.params)
            .collect()
    }

    #[test]
    fn conditional_trials_hold_exactly_their_branch() {
        let s = study(Method::Tpe, 7);
        let all = run_conditional(&s, 40);
        assert_eq!(all.len(), 40);
        for p in &all {
            let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
            match p.str("kind").expect("kind") {
                "x" => assert_eq!(keys, ["kind", "x"]),
                _ => assert_eq!(keys, ["kind", "depth"]),
            }
        }
        // TPE learns that the `x` branch is better (its values are below 3
        // near x = 1, the other branch's never are): after the random
        // startup trials, most trials take it.
        let late_x = all[20..]
            .iter()
            .filter(|p| p.str("kind").is_ok_and(|k| k == "x"))
            .count();
        assert!(late_x >= 14, "{late_x} of the last 20 trials took `x`");
    }

    #[test]
    fn the_same_seed_draws_the_same_trials() {
        let a = run_conditional(&study(Method::Tpe, 3), 25);
        let b = run_conditional(&study(Method::Tpe, 3), 25);
        let c = run_conditional(&study(Method::Tpe, 4), 25);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tpe_concentrates_on_the_optimum_of_a_discovered_param() {
        let s = study(Method::Tpe, 11);
        let mut late = Vec::new();
        for i in 0..80 {
            let t = s.ask_open().expect("ask");
            let x = s
                .suggest_param(t.number, "x", float(-10.0, 10.0))
                .expect("x")
                .as_f64()
                .expect("float");
            if i >= 50 {
                late.push((x - 2.0).abs());
            }
            let mut params = Params::new();
            params.insert("x", Value::from(x));
            s.set_params(t.number, params).expect("params");
            s.tell(t.number, (x - 2.0).powi(2)).expect("tell");
        }
        // Uniform draws on [-10, 10] are 6.3 from x = 2 on average.
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!(mean < 2.0, "mean distance to the optimum {mean}");
    }

    #[test]
    fn an_invalid_domain_names_the_param() {
        let s = study(Method::Random, 1);
        let t = s.ask_open().expect("ask");
        let err = s
            .suggest_param(t.number, "lr", float(1.0, 0.1))
            .expect_err("low > high");
        assert!(err.to_string().contains("lr"), "{err}");
        let outcome = TrialOutcome {
            state: TrialState::Failed,
            value: None,
            error: Some(err.to_string()),
        };
        s.tell_outcome(t.number, outcome).expect("fail it");
    }
}
