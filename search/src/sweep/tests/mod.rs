//! Unit tests of the sweep parser: one file per concern.

mod cell;
mod diff;
mod distributions;
mod early;
mod formats;
mod robustness;
mod structure;

use serde_json::Value;

use super::{SpecError, SweepSpec, parse_sweep};
use crate::domain::Domain;

pub(super) fn parse(doc: Value) -> Result<SweepSpec, SpecError> {
    parse_sweep(&doc.to_string(), "sweep.json")
}

/// The domain of a one-parameter sweep.
pub(super) fn domain_of(spec: Value) -> Domain {
    let sweep = parse(serde_json::json!({"parameters": {"x": spec}}))
        .unwrap_or_else(|e| panic!("spec should parse: {e}"));
    sweep.space.params()[0].domain.clone()
}

/// The error of a one-parameter sweep.
pub(super) fn error_of(spec: Value) -> SpecError {
    parse(serde_json::json!({"parameters": {"x": spec}})).expect_err("spec should be rejected")
}

pub(super) fn float(low: f64, high: f64, log: bool, step: Option<f64>) -> Domain {
    Domain::Float {
        low,
        high,
        log,
        step,
    }
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}
