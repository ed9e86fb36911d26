//! The hypersweep side of the quality suite: a small process that runs one
//! searcher behind an ask/tell protocol of JSON lines on stdin/stdout, so the
//! Python driver (`benches/quality/run.py`) can put hypersweep's searchers
//! through exactly the same problems, budgets and seeds as Optuna and
//! Hyperopt.
//!
//! Built as the example `quality_worker` (`cargo build --release --example
//! quality_worker`); the driver builds and starts it itself.
//!
//! The protocol, one JSON object per line each way:
//!
//! - `{"op":"init","space":{"params":[...]},"method":"tpe","options":{...},
//!   "seed":0,"direction":"minimize"}` starts a fresh study (an empty history)
//!   with the searcher `build_searcher(method, options, seed)`; `space` is the
//!   serde form of [`SearchSpace`], validated on the way in. Answer:
//!   `{"ok":true}`.
//! - `{"op":"ask"}` suggests the next configuration. Answer:
//!   `{"params":{...},"suggest_ms":t}`, where `t` is the wall time of the
//!   `Searcher::suggest` call alone (not the JSON work around it).
//! - `{"op":"tell","value":v}` finishes the last asked trial with `v` (a
//!   number, or `null` for a failed trial). Answer: `{"ok":true}`.
//!
//! Any error is answered with `{"error":"..."}` and the worker keeps reading,
//! so the driver can report it against the method and problem that caused it.

use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use hypersweep_search::{
    Direction, History, Method, Observation, SearchSpace, Searcher, SearcherOptions, TrialState,
    build_searcher, suggestion_rng,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// One request from the driver.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Request {
    Init {
        space: SearchSpace,
        method: String,
        // Boxed: the options are most of the variant's size.
        #[serde(default)]
        options: Box<SearcherOptions>,
        seed: u64,
        #[serde(default)]
        direction: Direction,
    },
    Ask,
    Tell {
        value: Option<f64>,
    },
}

/// The study being run: its searcher, space, history and seed.
struct Study {
    searcher: Box<dyn Searcher>,
    space: SearchSpace,
    history: History,
    seed: u64,
}

impl Study {
    fn ask(&mut self) -> Result<Value> {
        if self.history.running().next().is_some() {
            bail!("ask before the previous trial was told");
        }
        let number = self.history.trials.len() as u64;
        let mut rng = suggestion_rng(self.seed, number);
        let start = Instant::now();
        let params = self
            .searcher
            .suggest(&self.space, &self.history, &mut rng)
            .with_context(|| format!("{} failed at trial {number}", self.searcher.name()))?;
        let suggest_ms = start.elapsed().as_secs_f64() * 1e3;
        self.history.upsert(Observation {
            number,
            params: params.clone(),
            state: TrialState::Running,
            value: None,
            intermediate: Vec::new(),
            duration_ms: None,
        });
        Ok(json!({ "params": params, "suggest_ms": suggest_ms }))
    }

    fn tell(&mut self, value: Option<f64>) -> Result<()> {
        let trial = self
            .history
            .trials
            .iter_mut()
            .rev()
            .find(|t| t.state == TrialState::Running)
            .ok_or_else(|| anyhow!("tell without an asked trial"))?;
        match value {
            Some(v) if v.is_finite() => {
                trial.state = TrialState::Complete;
                trial.value = Some(v);
            }
            _ => trial.state = TrialState::Failed,
        }
        Ok(())
    }
}

fn handle(study: &mut Option<Study>, line: &str) -> Result<Value> {
    let request: Request = serde_json::from_str(line).context("bad request")?;
    match request {
        Request::Init {
            space,
            method,
            options,
            seed,
            direction,
        } => {
            let method = Method::from_name(&method).ok_or_else(|| {
                anyhow!(
                    "unknown method `{method}`, expected one of {:?}",
                    Method::NAMES
                )
            })?;
            *study = Some(Study {
                searcher: build_searcher(method, &options, seed),
                space,
                history: History::new(direction),
                seed,
            });
            Ok(json!({ "ok": true }))
        }
        Request::Ask => study
            .as_mut()
            .ok_or_else(|| anyhow!("ask before init"))?
            .ask(),
        Request::Tell { value } => {
            study
                .as_mut()
                .ok_or_else(|| anyhow!("tell before init"))?
                .tell(value)?;
            Ok(json!({ "ok": true }))
        }
    }
}

fn main() -> Result<()> {
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut study = None;
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let answer =
            handle(&mut study, &line).unwrap_or_else(|e| json!({ "error": format!("{e:#}") }));
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}
