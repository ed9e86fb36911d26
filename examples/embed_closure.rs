//! Tuning a real computation from Rust: ridge regression's validation error.
//!
//! The data set is generated: 20 features, of which only the first 12 carry
//! signal, and noisy targets. A trial fits ridge regression in closed form,
//! `w = (XᵀX + λI)⁻¹ Xᵀy`, on the first `n_features` columns (a Cholesky
//! solve with faer) and returns the mean squared error on held-out data. The
//! study searches the penalty `lambda` on a log scale and `n_features`, four
//! trials at a time, and prints the best configuration.
//!
//! Run with `cargo run --release --example embed_closure`.

use std::sync::Arc;

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use hypersweep::Study;
use hypersweep::search::domain::Domain;
use hypersweep::search::{Param, SearchSpace};
use hypersweep::trials::TrialContext;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

const FEATURES: usize = 20;
const INFORMATIVE: usize = 12;
const TRAIN: usize = 60;
const VALID: usize = 200;
const NOISE: f64 = 1.5;

/// Inputs and targets.
struct DataSet {
    x: Mat<f64>,
    y: Vec<f64>,
}

/// Draws `n` rows of `y = x · w + noise`.
fn draw(n: usize, w: &[f64], rng: &mut StdRng) -> DataSet {
    let normal = Normal::new(0.0, 1.0).expect("unit normal");
    let x = Mat::from_fn(n, FEATURES, |_, _| normal.sample(rng));
    let y = (0..n)
        .map(|i| (0..FEATURES).map(|j| x[(i, j)] * w[j]).sum::<f64>() + NOISE * normal.sample(rng))
        .collect();
    DataSet { x, y }
}

/// Validation MSE of ridge regression with penalty `lambda` on the first `k`
/// features.
fn ridge_validation_error(
    train: &DataSet,
    valid: &DataSet,
    lambda: f64,
    k: usize,
) -> Result<f64, String> {
    let x = train.x.subcols(0, k);
    let gram = x.transpose() * x + Mat::<f64>::identity(k, k) * faer::Scale(lambda);
    let y = Mat::from_fn(train.y.len(), 1, |i, _| train.y[i]);
    let rhs = x.transpose() * &y;
    let w = gram
        .llt(Side::Lower)
        .map_err(|e| format!("XᵀX + λI is not positive definite: {e:?}"))?
        .solve(&rhs);
    let xv = valid.x.subcols(0, k);
    let pred = xv * &w;
    let mse = (0..valid.y.len())
        .map(|i| (pred[(i, 0)] - valid.y[i]).powi(2))
        .sum::<f64>()
        / valid.y.len() as f64;
    Ok(mse)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(2024);
    let normal = Normal::new(0.0, 1.0)?;
    let w: Vec<f64> = (0..FEATURES)
        .map(|j| {
            if j < INFORMATIVE {
                normal.sample(&mut rng)
            } else {
                0.0
            }
        })
        .collect();
    let train = draw(TRAIN, &w, &mut rng);
    let valid = draw(VALID, &w, &mut rng);
    let data = Arc::new((train, valid));

    let space = SearchSpace::new(vec![
        Param::new(
            "lambda",
            Domain::Float {
                low: 1e-4,
                high: 1e3,
                log: true,
                step: None,
            },
        ),
        Param::new(
            "n_features",
            Domain::Int {
                low: 1,
                high: FEATURES as i64,
                log: false,
                step: None,
            },
        ),
    ])?;
    let study = Study::builder()
        .name("ridge")
        .space(space)
        .parallel(4)
        .seed(7)
        .build()?;

    let objective_data = Arc::clone(&data);
    let summary = study.optimize(60, move |ctx: &TrialContext| -> Result<f64, String> {
        let lambda = ctx.params.f64("lambda").map_err(|e| e.to_string())?;
        let k = ctx.params.i64("n_features").map_err(|e| e.to_string())? as usize;
        let (train, valid) = &*objective_data;
        ridge_validation_error(train, valid, lambda, k)
    })?;

    let best = summary.best.ok_or("no trial completed")?;
    println!(
        "{} trials; best validation MSE {:.4}",
        summary.counted,
        best.value.unwrap_or(f64::NAN)
    );
    println!("best params: {}", serde_json::to_string(&best.params)?);
    // For comparison: ordinary least squares on every feature, and the
    // noise floor (the error of the true weights).
    let (train, valid) = &*data;
    println!(
        "least squares on all features: {:.4}; noise variance: {:.4}",
        ridge_validation_error(train, valid, 1e-9, FEATURES)?,
        NOISE * NOISE
    );
    Ok(())
}
