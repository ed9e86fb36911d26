//! W&B parameter specs (`value`, `values`, `min`/`max`, `distribution`, ...)
//! mapped onto [`Domain`]s.
//!
//! Semantic choices, where W&B leaves room:
//! - Without `distribution`, `value` is a constant, `values` a categorical,
//!   and `min`/`max` an integer range when both are JSON integers, a uniform
//!   float range otherwise (as W&B infers). Our `log: true` makes such a range
//!   log-uniform over the *values* and `step` restricts it to `min + k*step`.
//! - `log_uniform`, `q_log_uniform` and `inv_log_uniform` take natural-log
//!   *exponents* (`low = e^min`), as in W&B; the `*_values` forms take values.
//! - `inv_log_uniform_values`: X such that log(1/X) is uniform, which is the
//!   same as X log-uniform between `min` and `max`.
//! - Quantised (`q_*`) uniform forms produce multiples of `q` (W&B rounds a
//!   draw to `round(x / q) * q`): the range is shrunk inward to the first and
//!   last multiple of `q` inside `[min, max]`, and the domain's step grid is
//!   anchored there. When `q` is a whole number the values are integers (an
//!   `Int` domain): `q_log_uniform` with `q: 1` over `[log 32, log 256]` gives
//!   the integers 32..=256 with a log prior, which is what such files mean.
//! - `mu` defaults to 0, `sigma` to 1 and `q` to 1, as in W&B.

use serde_json::Value;

use super::fields::{Fields, MAX_EXACT_INT, Res, array, fault, integer, list};
use crate::domain::Domain;

/// Every `distribution` a parameter may name.
pub(crate) const DISTRIBUTIONS: &[&str] = &[
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "cell",
];

/// Every key a (non-group) parameter spec may hold.
pub(crate) const PARAM_KEYS: &[&str] = &[
    "distribution",
    "value",
    "values",
    "probabilities",
    "min",
    "max",
    "mu",
    "sigma",
    "q",
    "step",
    "log",
    "grid_points",
    "when",
    "nodes",
    "ops",
    "run_disconnected",
];

/// Keys that apply to every distribution.
const COMMON_KEYS: &[&str] = &["distribution", "when"];

/// Stepped grids with more points than this are surely a typo (`step: 1e-300`)
/// and would overflow bucket counts downstream.
const MAX_STEPS: f64 = 1e12;

/// A parsed domain and the key its step came from (`step` or `q`), so errors
/// about the step point at what the user wrote.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub domain: Domain,
    pub step_key: &'static str,
}

/// The keys each distribution takes, besides [`COMMON_KEYS`].
fn keys_of(distribution: &str) -> &'static [&'static str] {
    match distribution {
        "constant" => &["value"],
        "cell" => &["nodes", "ops", "run_disconnected"],
        "categorical" => &["values", "probabilities"],
        "int_uniform" | "uniform" => &["min", "max", "step", "log", "grid_points"],
        "q_uniform" | "q_log_uniform" | "q_log_uniform_values" => {
            &["min", "max", "q", "grid_points"]
        }
        "normal" | "log_normal" => &["mu", "sigma", "grid_points"],
        "q_normal" | "q_log_normal" => &["mu", "sigma", "q", "grid_points"],
        _ => &["min", "max", "grid_points"],
    }
}

/// The distribution a spec names, or the one W&B infers from its keys.
fn distribution_of(spec: &Fields) -> Res<&'static str> {
    if let Some(name) = spec.string("distribution")? {
        return DISTRIBUTIONS
            .iter()
            .copied()
            .find(|d| *d == name)
            .ok_or_else(|| {
                fault(
                    spec.path_of("distribution"),
                    format!(
                        "unknown distribution `{name}`; expected one of {}",
                        list(DISTRIBUTIONS)
                    ),
                )
            });
    }
    if spec.has("value") {
        Ok("constant")
    } else if spec.has("values") {
        Ok("categorical")
    } else if spec.has("min") || spec.has("max") {
        let int = |k| {
            spec.get(k)
                .is_some_and(|v: &Value| v.is_i64() || v.is_u64())
        };
        Ok(if int("min") && int("max") {
            "int_uniform"
        } else {
            "uniform"
        })
    } else {
        Err(fault(
            spec.path,
            "expected `value`, `values`, `min` and `max`, a `distribution`, \
             or nested `parameters`",
        ))
    }
}

/// Reads one parameter spec (already checked to be an object that is not a
/// group).
pub(crate) fn parse_domain(spec: &Fields) -> Res<Parsed> {
    spec.only(PARAM_KEYS, "a parameter")?;
    let dist = distribution_of(spec)?;
    let allowed = keys_of(dist);
    if let Some(key) = spec
        .map
        .keys()
        .find(|k| !COMMON_KEYS.contains(&k.as_str()) && !allowed.contains(&k.as_str()))
    {
        return Err(fault(
            spec.path_of(key),
            format!(
                "`{key}` does not apply to distribution `{dist}`, which takes {}",
                list(allowed)
            ),
        ));
    }
    let why = format!("distribution `{dist}` needs it");
    let bound = |key: &str| -> Res<f64> {
        super::fields::number(spec.require(key, &why)?, &spec.path_of(key))
    };
    let q = || -> Res<f64> {
        let q = spec.number("q")?.unwrap_or(1.0);
        if q > 0.0 {
            Ok(q)
        } else {
            Err(fault(spec.path_of("q"), format!("expected q > 0, got {q}")))
        }
    };
    let plain = |domain| Parsed {
        domain,
        step_key: "step",
    };
    let exp = |key: &str, x: f64| -> Res<f64> {
        let e = x.exp();
        if e.is_finite() && e > 0.0 {
            Ok(e)
        } else {
            Err(fault(
                spec.path_of(key),
                format!(
                    "e^{x} is out of range: `{dist}` takes natural-log exponents \
                     (did you mean `{dist}_values`?)"
                ),
            ))
        }
    };
    Ok(match dist {
        "constant" => plain(Domain::Const {
            value: spec.require("value", &why)?.clone(),
        }),
        "categorical" => plain(categorical(spec, &why)?),
        "cell" => plain(cell(spec, &why)?),
        "int_uniform" => plain(int_range(spec, &why)?),
        "uniform" => plain(float_range(spec, bound("min")?, bound("max")?)?),
        "log_uniform_values" | "inv_log_uniform_values" => plain(Domain::Float {
            low: bound("min")?,
            high: bound("max")?,
            log: true,
            step: None,
        }),
        "log_uniform" => plain(Domain::Float {
            low: exp("min", bound("min")?)?,
            high: exp("max", bound("max")?)?,
            log: true,
            step: None,
        }),
        "inv_log_uniform" => {
            // log(1/X) uniform in [min, max]  <=>  X in [e^-max, e^-min].
            let (min, max) = (bound("min")?, bound("max")?);
            plain(Domain::Float {
                low: exp("max", -max)?,
                high: exp("min", -min)?,
                log: true,
                step: None,
            })
        }
        "q_uniform" => quantized(spec, bound("min")?, bound("max")?, q()?, false)?,
        "q_log_uniform_values" => quantized(spec, bound("min")?, bound("max")?, q()?, true)?,
        "q_log_uniform" => {
            let (min, max) = (bound("min")?, bound("max")?);
            quantized(spec, exp("min", min)?, exp("max", max)?, q()?, true)?
        }
        normal => {
            let quantised = normal.starts_with("q_");
            Parsed {
                domain: Domain::Normal {
                    mu: spec.number("mu")?.unwrap_or(0.0),
                    sigma: spec.number("sigma")?.unwrap_or(1.0),
                    log: normal.contains("log"),
                    q: if quantised { Some(q()?) } else { None },
                },
                step_key: "q",
            }
        }
    })
}

/// A NAS cell: `nodes` (an integer) and `ops` (strings); the space's
/// validation checks their ranges and names.
fn cell(spec: &Fields, why: &str) -> Res<Domain> {
    let nodes_path = spec.path_of("nodes");
    let nodes = integer(spec.require("nodes", why)?, &nodes_path)?;
    let nodes = usize::try_from(nodes).map_err(|_| {
        fault(
            nodes_path,
            format!("expected a positive node count, got {nodes}"),
        )
    })?;
    let ops_path = spec.path_of("ops");
    let ops = array(spec.require("ops", why)?, &ops_path)?
        .iter()
        .enumerate()
        .map(|(i, op)| {
            op.as_str().map(str::to_owned).ok_or_else(|| {
                fault(
                    format!("{ops_path}[{i}]"),
                    format!("expected an op name, got {op}"),
                )
            })
        })
        .collect::<Res<Vec<String>>>()?;
    Ok(Domain::Cell {
        nodes,
        ops,
        run_disconnected: spec.boolean("run_disconnected")?.unwrap_or(false),
    })
}

fn categorical(spec: &Fields, why: &str) -> Res<Domain> {
    let path = spec.path_of("values");
    let choices = array(spec.require("values", why)?, &path)?.clone();
    for (i, v) in choices.iter().enumerate() {
        if choices[..i].contains(v) {
            return Err(fault(
                format!("{path}[{i}]"),
                format!("duplicate value {v}"),
            ));
        }
    }
    let probabilities = match spec.get("probabilities") {
        None => None,
        Some(p) => {
            let path = spec.path_of("probabilities");
            let p = array(p, &path)?
                .iter()
                .enumerate()
                .map(|(i, x)| super::fields::number(x, &format!("{path}[{i}]")))
                .collect::<Res<Vec<f64>>>()?;
            Some(p)
        }
    };
    Ok(Domain::Categorical {
        choices,
        probabilities,
    })
}

fn int_range(spec: &Fields, why: &str) -> Res<Domain> {
    let int = |key: &str| integer(spec.require(key, why)?, &spec.path_of(key));
    let step = match spec.get("step") {
        None => None,
        Some(v) => Some(integer(v, &spec.path_of("step"))?),
    };
    Ok(Domain::Int {
        low: int("min")?,
        high: int("max")?,
        log: spec.boolean("log")?.unwrap_or(false),
        step,
    })
}

fn float_range(spec: &Fields, low: f64, high: f64) -> Res<Domain> {
    let step = spec.number("step")?;
    if let Some(s) = step {
        check_step_count(low, high, s, &spec.path_of("step"))?;
    }
    Ok(Domain::Float {
        low,
        high,
        log: spec.boolean("log")?.unwrap_or(false),
        step,
    })
}

fn check_step_count(low: f64, high: f64, step: f64, path: &str) -> Res<()> {
    if step > 0.0 && (high - low) / step > MAX_STEPS {
        return Err(fault(
            path,
            format!("step {step} gives more than 10^12 values over [{low}, {high}]"),
        ));
    }
    Ok(())
}

/// Multiples of `q` inside `[low, high]`; see the module docs.
fn quantized(spec: &Fields, low: f64, high: f64, q: f64, log: bool) -> Res<Parsed> {
    check_order(spec, low, high)?;
    if log && low <= 0.0 {
        return Err(fault(
            spec.path_of("min"),
            format!("a log range must be positive, got min {low}"),
        ));
    }
    check_step_count(low, high, q, &spec.path_of("q"))?;
    // Tolerance so that 0.3 / 0.1 = 2.9999999999999996 still counts as 3.
    let tol = |k: f64| 1e-9 * k.abs().max(1.0);
    // `+ 0.0` turns the -0 that ceil(-1e-9) gives into 0.
    let first = ((low / q) - tol(low / q)).ceil() + 0.0;
    let last = ((high / q) + tol(high / q)).floor();
    if first > last {
        return Err(fault(
            spec.path_of("q"),
            format!("no multiple of q = {q} lies in [{low}, {high}]"),
        ));
    }
    let whole =
        q.fract() == 0.0 && (last * q).abs() <= MAX_EXACT_INT && (first * q).abs() <= MAX_EXACT_INT;
    let domain = if whole {
        let step = q as i64;
        Domain::Int {
            low: (first * q) as i64,
            high: (last * q) as i64,
            log,
            step: (step > 1).then_some(step),
        }
    } else {
        Domain::Float {
            low: first * q,
            high: last * q,
            log,
            step: Some(q),
        }
    };
    Ok(Parsed {
        domain,
        step_key: "q",
    })
}

fn check_order(spec: &Fields, low: f64, high: f64) -> Res<()> {
    if low > high {
        Err(fault(
            spec.path_of("max"),
            format!("expected max >= min, got min {low} > max {high}"),
        ))
    } else {
        Ok(())
    }
}
