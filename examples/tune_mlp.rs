//! Tuning an MLP with TPE: the learning rate (log scale), the hidden width
//! and the dropout of a two-layer perceptron, trained in-process with tch on
//! the shipped digits read as tabular data (64 pixel features per row).
//!
//! Run with `cargo run --release --features torch --example tune_mlp` (the
//! torch build recipe is in DEVELOPERS.md); `--help` lists the knobs. The
//! last line of output is one JSON object: `best_val_accuracy`,
//! `best_params`, `trials`, `seconds`.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use hypersweep::Study;
use hypersweep::search::{Direction, Domain, Method, Param, SearchSpace};
use hypersweep::torch::{MlpConfig, TrainConfig, TrainError, TrainingData, data, train_mlp};
use hypersweep::trials::{MedianPruner, TrialContext};
use serde_json::json;

#[derive(Parser)]
#[command(about = "TPE over an MLP's learning rate, width and dropout on the 8x8 digits")]
struct Args {
    /// Trials to train.
    #[arg(long, default_value_t = 40)]
    trials: u64,
    /// Epochs per trial.
    #[arg(long, default_value_t = 15)]
    epochs: u64,
    /// Hidden layers.
    #[arg(long, default_value_t = 2)]
    depth: usize,
    /// Trials at once.
    #[arg(long, default_value_t = 2)]
    parallel: usize,
    /// Torch's intra-op threads (shared by all trials of this process).
    #[arg(long, default_value_t = 1)]
    threads: i32,
    /// The study's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    tch::set_num_threads(args.threads);

    let (train, valid) = data::digits_split()?;
    let features = train.width() as i64;
    let classes = train.classes() as i64;
    let data = Arc::new(TrainingData::new(train, valid)?);

    let space = SearchSpace::new(vec![
        Param::new("learning_rate", Domain::float(1e-4, 1e-1).log()),
        Param::new("width", Domain::int(16, 512).log()),
        Param::new("dropout", Domain::float(0.0, 0.5)),
    ])?;
    let study = Study::builder()
        .name("tune-mlp")
        .space(space)
        .direction(Direction::Maximize)
        .metric("val_accuracy")
        .method(Method::Tpe)
        .pruner(Arc::new(MedianPruner::new()))
        .parallel(args.parallel)
        .seed(args.seed)
        .build()?;

    let (epochs, depth) = (args.epochs, args.depth);
    let summary = study.optimize(
        args.trials,
        move |ctx: &TrialContext| -> Result<_, TrainError> {
            let mlp = MlpConfig {
                inputs: features,
                width: ctx.params.i64("width")?,
                depth,
                dropout: ctx.params.f64("dropout")?,
                classes,
            };
            let config = TrainConfig {
                epochs,
                learning_rate: ctx.params.f64("learning_rate")?,
                ..TrainConfig::default()
            };
            train_mlp(ctx, &data, &mlp, &config)
        },
    )?;

    let best = summary.best.ok_or("no trial completed")?;
    println!(
        "best trial {}: {}",
        best.number,
        serde_json::to_string(&best.params)?
    );
    println!(
        "{}",
        json!({
            "best_val_accuracy": best.value,
            "best_params": best.params,
            "trials": summary.counted,
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
