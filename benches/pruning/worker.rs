//! The hypersweep side of the learning-curve benchmark
//! (`benches/pruning/run.py`): one study behind an ask/report/tell protocol
//! of JSON lines, with a real searcher and the real pruner a sweep file's
//! `early_terminate` block builds, so the driver can run hypersweep's
//! pruners on exactly the curves, epoch budgets and seeds it gives Optuna's.
//!
//! Built as the example `pruning_worker` (`cargo build --release --example
//! pruning_worker`). One JSON object per line each way:
//!
//! - `{"op":"init","space":{"params":[...]},"method":"tpe","seed":0,
//!   "study":"name","early_terminate":{...} | null, "tpe":{...}, "gp":{...}}`:
//!   a fresh study; the block is read by the sweep-file parser, as
//!   `hypersweep run` reads it, and the optional `tpe` and `gp` objects as a
//!   sweep file's `tpe` and `gp` options. Answer
//!   `{"ok":true,"pruner":"<describe>"}`.
//! - `{"op":"ask"}`: `{"number":n,"params":{...}}`, with `"searcher":"gp"` or
//!   `"tpe"` under `method: auto` (what `auto::choice` picked for it).
//!   `{"op":"ask","params":{...}}` starts a trial with the given parameters
//!   instead (a replay of another run's trials, `analyse.py --replay`).
//!
//! Trials record no duration (`duration_ms` stays unset, as the curves are
//! computed in microseconds), so `auto` holds the GP to its floor budget
//! (`auto::FLOOR_MS`), as for any sweep of fast trials: GP for the first
//! `auto::gp_trials(d, FLOOR_MS)` trials, then TPE.
//! - `{"op":"report","step":s,"value":v}`: records the running trial's
//!   value at step `s`; answer `{"prune":bool}`.
//! - `{"op":"tell","value":v,"pruned":bool}`: finishes the running trial
//!   (complete with `v`, or pruned with its last value).

use std::io::{BufRead, BufWriter, Write};

use anyhow::{Context, Result, anyhow};
use hypersweep_search::auto;
use hypersweep_search::gp::GpOptions;
use hypersweep_search::sweep::parse_sweep;
use hypersweep_search::tpe::TpeOptions;
use hypersweep_search::{
    Direction, History, Method, Observation, Params, SearchSpace, Searcher, SearcherOptions,
    TrialState, build_searcher, suggestion_rng,
};
use hypersweep_trials::{NoPruner, Pruner, pruner_from_spec};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Request {
    Init {
        space: SearchSpace,
        method: String,
        seed: u64,
        study: String,
        early_terminate: Option<Value>,
        #[serde(default)]
        tpe: Box<TpeOptions>,
        #[serde(default)]
        gp: Box<GpOptions>,
    },
    Ask {
        #[serde(default)]
        params: Option<Params>,
    },
    Report {
        step: u64,
        value: f64,
    },
    Tell {
        value: Option<f64>,
        #[serde(default)]
        pruned: bool,
    },
}

struct Study {
    searcher: Box<dyn Searcher>,
    pruner: Box<dyn Pruner>,
    space: SearchSpace,
    history: History,
    seed: u64,
    auto: bool,
}

impl Study {
    fn running(&mut self) -> Result<usize> {
        self.history
            .trials
            .iter()
            .rposition(|t| t.state == TrialState::Running)
            .ok_or_else(|| anyhow!("no running trial"))
    }
}

/// The pruner of an `early_terminate` block, read by the sweep parser.
fn pruner(block: Option<Value>, study: &str) -> Result<Box<dyn Pruner>> {
    let Some(block) = block else {
        return Ok(Box::new(NoPruner));
    };
    let doc = json!({"parameters": {"unused": {"value": 0}}, "early_terminate": block});
    let spec = parse_sweep(&doc.to_string(), "early_terminate").map_err(|e| anyhow!("{e}"))?;
    Ok(pruner_from_spec(spec.early_terminate.as_ref(), study))
}

fn handle(study: &mut Option<Study>, line: &str) -> Result<Value> {
    let request: Request = serde_json::from_str(line).context("bad request")?;
    if let Request::Init {
        space,
        method,
        seed,
        study: name,
        early_terminate,
        tpe,
        gp,
    } = request
    {
        let method = Method::from_name(&method).ok_or_else(|| anyhow!("unknown method"))?;
        let pruner = pruner(early_terminate, &name)?;
        let describe = pruner.describe();
        tpe.check().map_err(|e| anyhow!("{e}"))?;
        let options = SearcherOptions {
            tpe: *tpe,
            gp: *gp,
            ..SearcherOptions::default()
        };
        *study = Some(Study {
            searcher: build_searcher(method, &options, seed),
            pruner,
            space,
            history: History::new(Direction::Minimize),
            seed,
            auto: method == Method::Auto,
        });
        return Ok(json!({"ok": true, "pruner": describe}));
    }
    let s = study.as_mut().ok_or_else(|| anyhow!("init first"))?;
    match request {
        Request::Init { .. } => unreachable!("handled above"),
        Request::Ask { params: given } => {
            let number = s.history.trials.len() as u64;
            let mut rng = suggestion_rng(s.seed, number);
            let searcher = s
                .auto
                .then(|| auto::choice(&s.space, &s.history).method.as_str());
            let params = match given {
                Some(p) if s.space.admits(&p) => p,
                Some(p) => return Err(anyhow!("params {p:?} are not in the space")),
                None => s.searcher.suggest(&s.space, &s.history, &mut rng)?,
            };
            s.history.upsert(Observation {
                number,
                params: params.clone(),
                state: TrialState::Running,
                value: None,
                intermediate: Vec::new(),
                duration_ms: None,
            });
            let mut answer = json!({"number": number, "params": params});
            if let Some(searcher) = searcher {
                answer["searcher"] = json!(searcher);
            }
            Ok(answer)
        }
        Request::Report { step, value } => {
            let i = s.running()?;
            let curve = &mut s.history.trials[i].intermediate;
            match curve.binary_search_by_key(&step, |&(st, _)| st) {
                Ok(j) => curve[j].1 = value,
                Err(j) => curve.insert(j, (step, value)),
            }
            let prune = s
                .pruner
                .should_prune(&s.history.trials[i], step, &s.history);
            Ok(json!({"prune": prune}))
        }
        Request::Tell { value, pruned } => {
            let i = s.running()?;
            let t = &mut s.history.trials[i];
            if pruned {
                t.state = TrialState::Pruned;
                t.value = t.last_intermediate().map(|(_, v)| v);
            } else {
                match value {
                    Some(v) if v.is_finite() => {
                        t.state = TrialState::Complete;
                        t.value = Some(v);
                    }
                    _ => t.state = TrialState::Failed,
                }
            }
            Ok(json!({"ok": true}))
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
            handle(&mut study, &line).unwrap_or_else(|e| json!({"error": format!("{e:#}")}));
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}
