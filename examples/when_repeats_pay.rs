//! When do seed repeats pay? The same budget of trial evaluations spent as
//! many configurations with one seed each, or fewer configurations with
//! five seeds each, on a noisy objective whose true optimum is known.
//!
//! The objective is `(x - 0.3)^2 + (y - 0.7)^2` on the unit square (true
//! losses from 0 to 0.98) plus Gaussian noise drawn from the evaluation's
//! seed. After 100 evaluations the study's best trial is taken (as a user
//! would take it) and its *true* loss is recorded. Printed: the mean true
//! loss of the pick over many study seeds, per noise level and searcher.
//!
//! Run with `cargo run --release --example when_repeats_pay [SEEDS] [METHOD]`
//! (defaults: 200 seeds, `random`); docs/benchmarks.md has the figures.

use std::sync::Arc;

use hypersweep::Study;
use hypersweep::search::domain::Domain;
use hypersweep::search::{Method, Param, SearchSpace, StdRng};
use hypersweep::trials::{MemoryStorage, TrialContext};
use rand::{RngExt, SeedableRng};

const EVALUATIONS: u64 = 100;

fn true_loss(x: f64, y: f64) -> f64 {
    (x - 0.3).powi(2) + (y - 0.7).powi(2)
}

/// A standard normal draw seeded by `seed` (Box-Muller).
fn normal(seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The true loss of the configuration a study of `EVALUATIONS` evaluations
/// with `repeats` seeds per configuration picks.
fn picked(method: Method, seed: u64, repeats: u32, sigma: f64) -> f64 {
    let space = SearchSpace::new(vec![
        Param::new("x", Domain::float(0.0, 1.0)),
        Param::new("y", Domain::float(0.0, 1.0)),
    ])
    .expect("a space");
    let study = Study::builder()
        .space(space)
        .method(method)
        .seed(seed)
        .repeats(repeats)
        .storage(Arc::new(MemoryStorage::new()))
        .build()
        .expect("a study");
    study
        .optimize(
            EVALUATIONS / u64::from(repeats),
            move |ctx: &TrialContext| {
                let x = ctx.params.f64("x").expect("x");
                let y = ctx.params.f64("y").expect("y");
                true_loss(x, y) + sigma * normal(ctx.seed())
            },
        )
        .expect("the sweep runs");
    let best = study.best_trial().expect("store").expect("a best trial");
    true_loss(
        best.params.f64("x").expect("x"),
        best.params.f64("y").expect("y"),
    )
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The `q` quantile (nearest rank).
fn percentile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let method = args
        .next()
        .and_then(|m| Method::from_name(&m))
        .unwrap_or(Method::Random);
    println!(
        "{EVALUATIONS} evaluations, {seeds} study seeds, method {}: mean true loss of the picked configuration",
        method.as_str()
    );
    println!(
        "noise sd   mean: 100 x 1   20 x 5   90th pct: 100 x 1   20 x 5   seeds where 20 x 5 picked better"
    );
    for sigma in [0.01, 0.05, 0.1, 0.2, 0.3] {
        let (mut one, mut five, mut wins) = (Vec::new(), Vec::new(), 0);
        for seed in 0..seeds {
            let a = picked(method, seed, 1, sigma);
            let b = picked(method, seed, 5, sigma);
            wins += u64::from(b < a);
            one.push(a);
            five.push(b);
        }
        println!(
            "{sigma:>8}   {:>13.4}   {:>6.4}   {:>17.4}   {:>6.4}   {wins} of {seeds}",
            mean(&one),
            mean(&five),
            percentile(&mut one, 0.9),
            percentile(&mut five, 0.9)
        );
    }
}
