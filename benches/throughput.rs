//! Scheduler throughput: trials per second for trivial in-process trials with
//! the random searcher, every trial persisted (and flushed) in a sled store.
//!
//! This measures the fixed cost per trial that the engine adds around the
//! user's objective: the suggestion, creating the trial, running the closure
//! on the blocking pool, finishing it durably. Run with
//! `cargo bench --bench throughput` (`HYPERSWEEP_BENCH_TRIALS=N` to change
//! the 10,000 trials).

use std::sync::Arc;
use std::time::Instant;

use hypersweep::Study;
use hypersweep::search::domain::Domain;
use hypersweep::search::{Method, Param, SearchSpace};
use hypersweep::trials::{SledStorage, TrialContext};

fn space() -> SearchSpace {
    SearchSpace::new(vec![
        Param::new(
            "x",
            Domain::Float {
                low: -5.0,
                high: 5.0,
                log: false,
                step: None,
            },
        ),
        Param::new(
            "y",
            Domain::Float {
                low: 1e-3,
                high: 1.0,
                log: true,
                step: None,
            },
        ),
    ])
    .expect("valid space")
}

fn run(trials: u64, parallel: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SledStorage::open(dir.path().join("store"))?);
    let study = Study::builder()
        .name("throughput")
        .space(space())
        .method(Method::Random)
        .storage(storage)
        .parallel(parallel)
        .seed(1)
        .build()?;
    let start = Instant::now();
    let summary = study.optimize(trials, |ctx: &TrialContext| {
        let x = ctx.params.f64("x").unwrap_or(f64::NAN);
        let y = ctx.params.f64("y").unwrap_or(f64::NAN);
        x * x + y
    })?;
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(summary.counted, trials);
    Ok(trials as f64 / elapsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let trials = std::env::var("HYPERSWEEP_BENCH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    for parallel in [1, 4] {
        let rate = run(trials, parallel)?;
        println!(
            "throughput: {trials} trivial trials, random searcher, sled store, parallel {parallel}: {rate:.0} trials/s"
        );
    }
    Ok(())
}
