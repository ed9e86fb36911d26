//! `hypersweep._core`: the PyO3 layer under the Python package.
//!
//! Deliberately thin: the Optuna-shaped classes (`Study`, `Trial`,
//! samplers, pruners) are plain Python in `hypersweep/`, and this module
//! exposes one class, [`CoreStudy`], whose methods are the facade's
//! define-by-run calls (`ask_open`, `suggest_param`, `set_params`,
//! `report`, `tell_outcome`). `ask_open` hands Python the values the study
//! proposes for the params of the space discovered so far (drawn jointly,
//! group by group), each with its domain as the JSON object our sweep
//! format writes; Python takes one when the objective asks for that name in
//! that domain, so a trial of a known space makes one call into Rust to
//! start and one to store what it drew, not one per param. Every call that reaches a searcher, a pruner
//! or a store releases the GIL (`allow_threads`), so Python threads of an
//! `n_jobs > 1` optimisation run their objectives while Rust works. Values
//! cross the boundary as Python objects built from JSON values directly;
//! whole trials cross as JSON text, which Python reads once per listing.
//!
//! Errors map onto two exceptions: `ValueError` for what the user wrote
//! wrong (a bad range names the param and what was expected, as in the
//! CLI), and `hypersweep.HypersweepError` for the rest (storage, runtime).
#![warn(missing_docs)]

mod store;

use std::sync::Arc;

use hypersweep::search::sweep::parse_sweep;
use hypersweep::search::{Domain, Params, TrialState, Value};
use hypersweep::trials::{Decision, Distributions, Trial, TrialOutcome, TrialUpdate};
use hypersweep::{OnSpecChange, Study, StudyError};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};

pyo3::create_exception!(
    _core,
    HypersweepError,
    PyRuntimeError,
    "A store, runtime or internal failure of hypersweep."
);

/// The exception for a study error: `ValueError` for the caller's input.
fn to_py(err: StudyError) -> PyErr {
    match err {
        StudyError::Config(_) | StudyError::Search(_) | StudyError::SpecChanged { .. } => {
            PyValueError::new_err(err.to_string())
        }
        other => HypersweepError::new_err(other.to_string()),
    }
}

fn json_err(err: serde_json::Error) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A JSON argument that does not have the expected shape, named.
fn field_err(field: &str, err: serde_json::Error) -> PyErr {
    PyValueError::new_err(format!("{field}: {err}"))
}

/// A study of the Rust core, driven from Python one call at a time.
#[pyclass(frozen, module = "hypersweep._core")]
struct CoreStudy {
    study: Arc<Study>,
}

#[pymethods]
impl CoreStudy {
    /// Opens the study `name` of `storage` (None: in memory; a directory: a
    /// sled store; `postgres://...`: PostgreSQL) with the sweep spec given as
    /// JSON or YAML text. `mode` is `create` (refused when it exists),
    /// `open` (created or continued with its stored spec) or `load` (must
    /// exist; `spec` is ignored).
    #[staticmethod]
    #[pyo3(signature = (name, storage, spec, mode, file = "<python>"))]
    fn open(
        py: Python<'_>,
        name: &str,
        storage: Option<&str>,
        spec: &str,
        mode: &str,
        file: &str,
    ) -> PyResult<CoreStudy> {
        let spec = parse_spec(spec, file)?;
        let (name, storage, mode) = (name.to_owned(), storage.map(str::to_owned), mode.to_owned());
        let study = py.allow_threads(move || -> PyResult<Study> {
            let store = store::open(storage.as_deref())?;
            let exists = store
                .load_study(&name)
                .map_err(|e| HypersweepError::new_err(e.to_string()))?
                .is_some();
            match (mode.as_str(), exists) {
                ("create", true) => Err(PyValueError::new_err(format!(
                    "study `{name}` already exists; pass load_if_exists=True to continue it"
                ))),
                ("load", false) => Err(PyValueError::new_err(format!(
                    "no study named `{name}` in the store"
                ))),
                ("load", true) | ("open", true) => Study::load(&name, store).map_err(to_py),
                _ => Study::open_checked(&name, spec, store, OnSpecChange::Refuse).map_err(to_py),
            }
        })?;
        Ok(CoreStudy {
            study: Arc::new(study),
        })
    }

    /// The study's name.
    #[getter]
    fn name(&self) -> String {
        self.study.name().to_owned()
    }

    /// `minimize` or `maximize`, as stored.
    #[getter]
    fn direction(&self) -> &'static str {
        match self.study.spec().metric.goal {
            hypersweep::search::Direction::Minimize => "minimize",
            hypersweep::search::Direction::Maximize => "maximize",
        }
    }

    /// Claims a trial: its number, the params drawn up front (those of
    /// the study's declared space, if any), and the proposals for the
    /// discovered space as `{name: (domain, value)}`.
    fn ask_open(&self, py: Python<'_>) -> PyResult<(u64, PyObject, PyObject, Option<u64>)> {
        let study = Arc::clone(&self.study);
        let open = py.allow_threads(move || study.ask_open()).map_err(to_py)?;
        let proposals = PyDict::new(py);
        for p in &open.proposals {
            let domain = serde_json::to_value(&p.domain).map_err(json_err)?;
            let pair = (value_to_py(py, &domain)?, value_to_py(py, &p.value)?);
            proposals.set_item(&p.name, pair)?;
        }
        Ok((
            open.trial.number,
            params_to_py(py, &open.trial.params)?,
            proposals.into_any().unbind(),
            open.trial.seeds.first().copied(),
        ))
    }

    /// Draws a float (`step`: a grid from `low`; `log`: log-uniform prior).
    #[pyo3(signature = (number, name, low, high, step = None, log = false))]
    // The arguments are Optuna's signature, one Python call.
    #[allow(clippy::too_many_arguments)]
    fn suggest_float(
        &self,
        py: Python<'_>,
        number: u64,
        name: &str,
        low: f64,
        high: f64,
        step: Option<f64>,
        log: bool,
    ) -> PyResult<PyObject> {
        self.suggest(
            py,
            number,
            name,
            Domain::Float {
                low,
                high,
                log,
                step,
            },
        )
    }

    /// Draws an integer.
    #[pyo3(signature = (number, name, low, high, step = 1, log = false))]
    // The arguments are Optuna's signature, one Python call.
    #[allow(clippy::too_many_arguments)]
    fn suggest_int(
        &self,
        py: Python<'_>,
        number: u64,
        name: &str,
        low: i64,
        high: i64,
        step: i64,
        log: bool,
    ) -> PyResult<PyObject> {
        let step = (step != 1).then_some(step);
        self.suggest(
            py,
            number,
            name,
            Domain::Int {
                low,
                high,
                log,
                step,
            },
        )
    }

    /// Draws one of `choices`, given as a JSON array.
    fn suggest_categorical(
        &self,
        py: Python<'_>,
        number: u64,
        name: &str,
        choices: &str,
    ) -> PyResult<PyObject> {
        let choices: Vec<Value> = serde_json::from_str(choices).map_err(json_err)?;
        let domain = Domain::Categorical {
            choices,
            probabilities: None,
        };
        self.suggest(py, number, name, domain)
    }

    /// Stores what a running trial has drawn: its params, the domain of
    /// each and the user's attributes, each a JSON object.
    fn set_params(
        &self,
        py: Python<'_>,
        number: u64,
        params: &str,
        distributions: &str,
        user_attrs: &str,
    ) -> PyResult<()> {
        let params: Params = serde_json::from_str(params).map_err(|e| field_err("params", e))?;
        let distributions: Distributions =
            serde_json::from_str(distributions).map_err(|e| field_err("distributions", e))?;
        let user_attrs: serde_json::Map<String, Value> =
            serde_json::from_str(user_attrs).map_err(|e| field_err("user_attrs", e))?;
        let update = TrialUpdate {
            params,
            distributions,
            user_attrs,
        };
        let study = Arc::clone(&self.study);
        py.allow_threads(move || study.set_params(number, update))
            .map_err(to_py)
    }

    /// Writes the study's HTML report (one self-contained file) to `path`.
    fn report_html(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let study = Arc::clone(&self.study);
        py.allow_threads(move || -> PyResult<()> {
            let record = study
                .storage()
                .load_study(study.name())
                .map_err(|e| HypersweepError::new_err(e.to_string()))?
                .ok_or_else(|| {
                    HypersweepError::new_err(format!(
                        "study `{}` is not in its store",
                        study.name()
                    ))
                })?;
            let trials = study.trials().map_err(to_py)?;
            let html = hypersweep::report::render(&record, &trials);
            std::fs::write(&path, html).map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!("writing {}: {e}", path.display()))
            })
        })
    }

    /// Records an intermediate value; true when the pruner says stop.
    fn report(&self, py: Python<'_>, number: u64, step: u64, value: f64) -> PyResult<bool> {
        let study = Arc::clone(&self.study);
        let decision = py
            .allow_threads(move || study.report(number, step, value))
            .map_err(to_py)?;
        Ok(decision == Decision::Prune)
    }

    /// Ends a trial (`state`: complete, pruned or failed); returns it as
    /// JSON.
    #[pyo3(signature = (number, state, value = None, error = None))]
    fn tell(
        &self,
        py: Python<'_>,
        number: u64,
        state: &str,
        value: Option<f64>,
        error: Option<String>,
    ) -> PyResult<String> {
        let state = match state {
            "complete" => TrialState::Complete,
            "pruned" => TrialState::Pruned,
            "failed" | "fail" => TrialState::Failed,
            other => {
                return Err(PyValueError::new_err(format!(
                    "a trial ends complete, pruned or failed, not `{other}`"
                )));
            }
        };
        let outcome = match (state, value) {
            (TrialState::Complete, Some(v)) if !v.is_finite() => TrialOutcome {
                state: TrialState::Failed,
                value: None,
                error: Some(format!("the objective returned {v}")),
            },
            (TrialState::Complete, None) => {
                return Err(PyValueError::new_err(
                    "a complete trial needs a value (the objective returned None)",
                ));
            }
            _ => TrialOutcome {
                state,
                value,
                error,
            },
        };
        let study = Arc::clone(&self.study);
        let trial = py
            .allow_threads(move || study.tell_outcome(number, outcome))
            .map_err(to_py)?;
        trial_json(&trial)
    }

    /// Every trial, by number, as a JSON array.
    fn trials(&self, py: Python<'_>) -> PyResult<String> {
        let study = Arc::clone(&self.study);
        let trials = py.allow_threads(move || study.trials()).map_err(to_py)?;
        serde_json::to_string(&trials).map_err(json_err)
    }
}

impl CoreStudy {
    fn suggest(
        &self,
        py: Python<'_>,
        number: u64,
        name: &str,
        domain: Domain,
    ) -> PyResult<PyObject> {
        let study = Arc::clone(&self.study);
        let value = py
            .allow_threads(move || study.suggest_param(number, name, domain))
            .map_err(to_py)?;
        value_to_py(py, &value)
    }
}

/// Parses the sweep spec a study opens with. A define-by-run study (the
/// Python API's own) declares no parameters, which the sweep parser refuses
/// in a file; it is parsed with a placeholder in their place, then given the
/// empty space its trials discover.
fn parse_spec(text: &str, file: &str) -> PyResult<hypersweep::search::sweep::SweepSpec> {
    let invalid = |e: &dyn std::fmt::Display| PyValueError::new_err(e.to_string());
    if file != "<python>" {
        return parse_sweep(text, file).map_err(|e| invalid(&e));
    }
    let mut root: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| invalid(&e))?;
    let define_by_run = root
        .get("parameters")
        .and_then(Value::as_object)
        .is_some_and(serde_json::Map::is_empty);
    if define_by_run {
        let placeholder = serde_json::json!({ "define_by_run": { "value": 0 } });
        root.insert("parameters".to_owned(), placeholder);
    }
    let text = Value::Object(root).to_string();
    let mut spec = parse_sweep(&text, file).map_err(|e| invalid(&e))?;
    if define_by_run {
        spec.space = hypersweep::search::SearchSpace::new(Vec::new()).map_err(|e| invalid(&e))?;
    }
    Ok(spec)
}

fn trial_json(trial: &Trial) -> PyResult<String> {
    serde_json::to_string(trial).map_err(json_err)
}

fn params_to_py(py: Python<'_>, params: &Params) -> PyResult<PyObject> {
    let dict = PyDict::new(py);
    for (k, v) in params.iter() {
        dict.set_item(k, value_to_py(py, v)?)?;
    }
    Ok(dict.into_any().unbind())
}

/// A JSON value as the Python object `json.loads` would make.
fn value_to_py(py: Python<'_>, value: &Value) -> PyResult<PyObject> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any().unbind(),
            (None, Some(f)) => PyFloat::new(py, f).into_any().unbind(),
            (None, None) => PyString::new(py, &n.to_string()).into_any().unbind(),
        },
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, value_to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreStudy>()?;
    m.add("HypersweepError", m.py().get_type::<HypersweepError>())?;
    Ok(())
}
