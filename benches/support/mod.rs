//! The trivial study the engine-overhead benches share (throughput, the
//! PostgreSQL workers): two floats, random search, seed 1, an objective that
//! costs nothing, so what is measured is hypersweep's own cost per trial.
#![allow(dead_code)]

use std::sync::Arc;

use hypersweep::Study;
use hypersweep::search::{Domain, Method, Param, SearchSpace};
use hypersweep::trials::{Storage, TrialContext};

/// `x` uniform in [-5, 5], `y` log-uniform in [1e-3, 1].
pub fn space() -> SearchSpace {
    SearchSpace::new(vec![
        Param::new("x", Domain::float(-5.0, 5.0)),
        Param::new("y", Domain::float(1e-3, 1.0).log()),
    ])
    .expect("valid space")
}

/// The study `name` over [`space`] in `storage`.
pub fn study(
    name: &str,
    storage: Arc<dyn Storage>,
    parallel: usize,
) -> Result<Study, Box<dyn std::error::Error>> {
    Ok(Study::builder()
        .name(name)
        .space(space())
        .method(Method::Random)
        .storage(storage)
        .parallel(parallel)
        .seed(1)
        .build()?)
}

/// `x * x + y`.
pub fn objective(ctx: &TrialContext) -> f64 {
    let x = ctx.params.f64("x").unwrap_or(f64::NAN);
    let y = ctx.params.f64("y").unwrap_or(f64::NAN);
    x * x + y
}
