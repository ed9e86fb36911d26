//! The trial record, as stored and exported.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use hypersweep_search::{Domain, Observation, Params, TrialState, Value};
use serde::{Deserialize, Serialize};

/// One trial of a study, with everything that happened to it.
///
/// Non-finite values (NaN, ±inf) are stored faithfully: floats are written
/// through [`float_repr`], which keeps finite values as JSON numbers and
/// writes the others as the strings `"NaN"`, `"inf"`, `"-inf"` (serde_json
/// would write `null` and lose the difference between "no value" and "NaN").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Study name.
    pub study: String,
    /// Number, unique in the study, assigned atomically from 0.
    pub number: u64,
    /// The configuration.
    pub params: Params,
    /// State.
    pub state: TrialState,
    /// Final value.
    #[serde(default, with = "float_repr::option")]
    pub value: Option<f64>,
    /// Intermediate values as (step, value), ascending by step.
    #[serde(default, with = "float_repr::steps")]
    pub intermediate: Vec<(u64, f64)>,
    /// Creation time, ms since the Unix epoch.
    pub started_ms: u64,
    /// End time, ms since the Unix epoch.
    #[serde(default)]
    pub finished_ms: Option<u64>,
    /// Last heartbeat of the process running it, ms since the epoch.
    #[serde(default)]
    pub heartbeat_ms: u64,
    /// 0 for a first run; n for the n-th retry of the same params.
    #[serde(default)]
    pub attempt: u32,
    /// The trial this one retries.
    #[serde(default)]
    pub retry_of: Option<u64>,
    /// Device it ran on (`cpu`, `cuda:0`).
    #[serde(default)]
    pub device: Option<String>,
    /// Why it failed or was pruned.
    #[serde(default)]
    pub error: Option<String>,
    /// Log file of its process.
    #[serde(default)]
    pub log_path: Option<PathBuf>,
    /// Process that ran it (`host:pid`), to tell live owners from dead ones.
    #[serde(default)]
    pub worker: Option<String>,
    /// Created by `ask`: evaluated outside hypersweep, so kept Running until
    /// its `tell` or the ask timeout rather than the heartbeat's staleness.
    #[serde(default)]
    pub asked: bool,
    /// The domain each param was drawn from, for a define-by-run trial (the
    /// Python API), whose space is discovered as its objective runs: the
    /// searchers group params by the trials that asked for them in these
    /// domains. Empty for a trial of a declared space.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub distributions: Distributions,
    /// The user's attributes (Python's `trial.set_user_attr`), any JSON.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub user_attrs: serde_json::Map<String, Value>,
    /// The seed of each evaluation, fixed when the trial was claimed: one,
    /// or one per repeat (`run.repeats`). A retry keeps its trial's seeds.
    /// Empty in stores written before seeds existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// The results of its evaluations when it has several (`run.repeats`):
    /// recorded as each one ends, so a crash loses only those in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    /// Why it ran: a search trial, or a re-run for `confirm` or `ablate`.
    #[serde(default, skip_serializing_if = "TrialRole::is_search")]
    pub role: TrialRole,
}

/// Param name -> the domain it was drawn from.
pub type Distributions = BTreeMap<String, Domain>;

/// What a running define-by-run trial records about itself while its
/// objective runs ([`crate::Storage::set_params`]): every field replaces the
/// stored one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrialUpdate {
    /// The params drawn so far.
    pub params: Params,
    /// The domain of each of them.
    pub distributions: Distributions,
    /// The user's attributes.
    pub user_attrs: serde_json::Map<String, Value>,
}

impl TrialUpdate {
    /// An update of the params alone (no domains, no attributes).
    pub fn params(params: Params) -> Self {
        TrialUpdate {
            params,
            ..TrialUpdate::default()
        }
    }

    /// Writes the update into `trial`.
    pub fn apply(self, trial: &mut Trial) {
        trial.params = self.params;
        trial.distributions = self.distributions;
        trial.user_attrs = self.user_attrs;
    }
}

/// Why a trial ran. Only search trials feed the searcher, the pruner and the
/// budget; confirmation and ablation trials re-run chosen configurations
/// (see `hypersweep confirm`, `hypersweep ablate`) and are counted by their
/// own rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum TrialRole {
    /// Proposed by the searcher (or told through `ask`/`tell`).
    #[default]
    Search,
    /// A re-run of a top configuration over the round's shared seeds.
    Confirm {
        /// Confirmation round, from 0.
        round: u32,
        /// Index of this configuration in the round's plan.
        variant: u32,
        /// How many configurations the round plans.
        variants: u32,
        /// The search trial whose configuration this re-runs.
        of: u64,
    },
    /// One variant of a one-at-a-time ablation over the round's shared
    /// seeds.
    Ablate {
        /// Ablation round, from 0.
        round: u32,
        /// Index of this variant in the round's plan.
        variant: u32,
        /// How many variants the round plans.
        variants: u32,
        /// The search trial whose configuration is ablated.
        of: u64,
        /// The param reset to its baseline; `None` for the unablated
        /// configuration every variant is compared with.
        reset: Option<String>,
    },
}

impl TrialRole {
    /// True for search trials.
    pub fn is_search(&self) -> bool {
        *self == TrialRole::Search
    }

    /// The plan a re-run belongs to: (kind, round), `None` for search.
    pub fn round(&self) -> Option<(&'static str, u32)> {
        match self {
            TrialRole::Search => None,
            TrialRole::Confirm { round, .. } => Some(("confirm", *round)),
            TrialRole::Ablate { round, .. } => Some(("ablate", *round)),
        }
    }

    /// Index of the variant in its round's plan, `None` for search.
    pub fn variant(&self) -> Option<u32> {
        match self {
            TrialRole::Search => None,
            TrialRole::Confirm { variant, .. } | TrialRole::Ablate { variant, .. } => {
                Some(*variant)
            }
        }
    }
}

/// The evaluations of a repeated trial, in the order of its seeds
/// (`values[i]` came from `seeds[i]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeats {
    /// Value of each finished evaluation.
    #[serde(with = "float_repr::values")]
    pub values: Vec<f64>,
    /// Standard error of their mean (`None` with fewer than two).
    #[serde(default, with = "float_repr::option")]
    pub std_error: Option<f64>,
}

impl Repeats {
    /// The record of these values, with their standard error.
    pub fn of(values: Vec<f64>) -> Self {
        let std_error = crate::stats::Sample::of(&values).and_then(|s| s.std_error());
        Repeats { values, std_error }
    }

    /// Their mean (the trial's value once all evaluations ended).
    pub fn mean(&self) -> Option<f64> {
        crate::stats::Sample::of(&self.values).map(|s| s.mean)
    }
}

/// How a trial ended, as given to [`crate::Storage::finish_trial`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrialOutcome {
    /// Final state (not Running).
    pub state: TrialState,
    /// Final value.
    pub value: Option<f64>,
    /// Failure or pruning reason.
    pub error: Option<String>,
}

impl Trial {
    /// The searcher's view of this trial.
    pub fn observation(&self) -> Observation {
        Observation {
            number: self.number,
            params: self.params.clone(),
            state: self.state,
            value: self.value,
            intermediate: self.intermediate.clone(),
            duration_ms: self.finished_ms.map(|f| f.saturating_sub(self.started_ms)),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Serde encoding of floats that keeps NaN and infinities.
pub mod float_repr {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    fn to_repr(x: f64) -> Repr {
        if x.is_finite() {
            Repr::Number(x)
        } else if x.is_nan() {
            Repr::Text("NaN".to_owned())
        } else if x > 0.0 {
            Repr::Text("inf".to_owned())
        } else {
            Repr::Text("-inf".to_owned())
        }
    }

    fn from_repr<E: serde::de::Error>(r: Repr) -> Result<f64, E> {
        match r {
            Repr::Number(x) => Ok(x),
            Repr::Text(t) => match t.as_str() {
                "NaN" | "nan" => Ok(f64::NAN),
                "inf" | "Infinity" => Ok(f64::INFINITY),
                "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(E::custom(format!(
                    "expected a number, NaN, inf or -inf, got {other:?}"
                ))),
            },
        }
    }

    /// `Option<f64>`.
    pub mod option {
        use super::*;

        /// Serialize.
        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            v.map(to_repr).serialize(s)
        }

        /// Deserialize.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<Repr>::deserialize(d)?.map(from_repr).transpose()
        }
    }

    /// `Vec<f64>`.
    pub mod values {
        use super::*;

        /// Serialize.
        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            let reprs: Vec<Repr> = v.iter().map(|&x| to_repr(x)).collect();
            reprs.serialize(s)
        }

        /// Deserialize.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<Repr>::deserialize(d)?
                .into_iter()
                .map(from_repr)
                .collect()
        }
    }

    /// `Vec<(u64, f64)>`.
    pub mod steps {
        use super::*;

        /// Serialize.
        pub fn serialize<S: Serializer>(v: &[(u64, f64)], s: S) -> Result<S::Ok, S::Error> {
            let reprs: Vec<(u64, Repr)> = v.iter().map(|&(k, x)| (k, to_repr(x))).collect();
            reprs.serialize(s)
        }

        /// Deserialize.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(u64, f64)>, D::Error> {
            Vec::<(u64, Repr)>::deserialize(d)?
                .into_iter()
                .map(|(k, r)| from_repr(r).map(|x| (k, x)))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_survive_json() {
        let t = Trial {
            study: "s".into(),
            number: 3,
            params: Params::new(),
            state: TrialState::Complete,
            value: Some(f64::NAN),
            intermediate: vec![(1, f64::INFINITY), (2, -1.5)],
            started_ms: 1,
            finished_ms: None,
            heartbeat_ms: 1,
            attempt: 0,
            retry_of: None,
            device: None,
            error: None,
            log_path: None,
            worker: None,
            asked: false,
            distributions: Distributions::new(),
            user_attrs: serde_json::Map::new(),
            seeds: vec![1, 2],
            repeats: Some(Repeats::of(vec![0.5, f64::NAN])),
            role: TrialRole::Confirm {
                round: 0,
                variant: 1,
                variants: 2,
                of: 7,
            },
        };
        let text = serde_json::to_string(&t).unwrap();
        let back: Trial = serde_json::from_str(&text).unwrap();
        assert!(back.value.unwrap().is_nan());
        assert_eq!(back.intermediate[0].1, f64::INFINITY);
        assert_eq!(back.intermediate[1], (2, -1.5));
        assert_eq!(back.seeds, [1, 2]);
        assert_eq!(back.role, t.role);
        assert!(back.repeats.expect("kept").values[1].is_nan());
    }

    #[test]
    fn plain_trials_are_written_as_before() {
        let text = r#"{"study":"s","number":0,"params":{},"state":"complete","started_ms":1}"#;
        let t: Trial = serde_json::from_str(text).expect("an old record reads");
        assert!(t.role.is_search() && t.seeds.is_empty() && t.repeats.is_none());
        let back = serde_json::to_string(&t).expect("serializes");
        assert!(!back.contains("role") && !back.contains("seeds") && !back.contains("repeats"));
    }
}
