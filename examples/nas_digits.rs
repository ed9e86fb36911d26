//! Architecture search on the shipped 8x8 digits: regularized evolution
//! (`method: evolution`) over a NAS-Bench-201 cell (4 nodes, 5 ops, 15,625
//! cells), each cell trained in-process with tch as a small network, and
//! ASHA stopping the poor ones after 1 and 3 epochs.
//!
//! Run with `cargo run --release --features torch --example nas_digits`
//! (the torch build recipe is in DEVELOPERS.md); `--help` lists the knobs.
//! The defaults take a few minutes on two CPU cores (docs/benchmarks.md).
//! The last line of output is one JSON object: `best_val_accuracy`,
//! `best_arch`, `trials`, `seconds`.
//!
//! With `--trial` the program is instead one trial of a `command` sweep
//! (`examples/sweeps/nas_digits_processes.json`, run by `hypersweep run`):
//! it reads its cell from `HYPERSWEEP_PARAMS` and its seed from
//! `HYPERSWEEP_SEED`, trains on the GPU the sweep gave it (or the CPU), and
//! prints `{"step": epoch, "val_accuracy": ...}` after every epoch. One
//! process per trial isolates what an in-process trial cannot survive: a
//! segfault or abort in native code, a CUDA device-side assert.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use hypersweep::Study;
use hypersweep::search::evolution::EvolutionOptions;
use hypersweep::search::{
    Direction, Domain, Method, Param, Params, SearchSpace, SearcherOptions, Value,
};
use hypersweep::torch::{
    CellNetConfig, NAS_BENCH_201_OPS, TrainConfig, TrainError, TrainingData, data, train_cell,
};
use hypersweep::trials::{
    AshaPruner, Decision, Device, Reporter, RunOutcome, TrialContext, TrialState,
};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Evolution over a NAS-Bench-201 cell with ASHA on the 8x8 digits")]
struct Args {
    /// Trials (architectures) to train.
    #[arg(long, default_value_t = 100)]
    trials: u64,
    /// Epochs of a trial that ASHA never stops.
    #[arg(long, default_value_t = 9)]
    epochs: u64,
    /// Trials at once.
    #[arg(long, default_value_t = 2)]
    parallel: usize,
    /// Torch's intra-op threads (shared by all trials of this process).
    #[arg(long, default_value_t = 1)]
    threads: i32,
    /// Channels of the network's first stage.
    #[arg(long, default_value_t = 16)]
    channels: i64,
    /// Evolution's population.
    #[arg(long, default_value_t = 20)]
    population: usize,
    /// Evolution's tournament size.
    #[arg(long, default_value_t = 5)]
    sample_size: usize,
    /// The study's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run one trial of a `command` sweep (see the module docs) instead of
    /// a sweep.
    #[arg(long)]
    trial: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    tch::set_num_threads(args.threads);

    let (train, valid) = data::digits_split()?;
    let data = Arc::new(TrainingData::new(train, valid)?);
    let config = TrainConfig {
        epochs: args.epochs,
        ..TrainConfig::default()
    };
    if args.trial {
        return run_one_trial(&data, args.channels, &config);
    }
    println!(
        "digits: {} training and {} validation images",
        data.train().len(),
        data.valid().len()
    );

    let space = SearchSpace::new(vec![Param::new("arch", Domain::cell(4, NAS_BENCH_201_OPS))])?;
    let options = SearcherOptions {
        evolution: EvolutionOptions {
            population: args.population,
            sample_size: args.sample_size,
        },
        ..SearcherOptions::default()
    };
    // Rungs at epochs 1 and 3 (eta 3) below `epochs`: a third of the
    // trials go past each.
    let asha = AshaPruner::new(1, 3.0).max_resource(args.epochs);
    let study = Study::builder()
        .name("nas-digits")
        .space(space)
        .direction(Direction::Maximize)
        .metric("val_accuracy")
        .method(Method::Evolution)
        .searcher_options(options)
        .pruner(Arc::new(asha))
        .parallel(args.parallel)
        .seed(args.seed)
        .build()?;

    let channels = args.channels;
    let summary = study.optimize(
        args.trials,
        move |ctx: &TrialContext| -> Result<_, TrainError> {
            let arch = ctx.params.str("arch")?;
            let net = CellNetConfig {
                channels,
                ..CellNetConfig::digits(arch)
            };
            train_cell(ctx, &data, &net, &config)
        },
    )?;

    let trials = study.trials()?;
    let count = |state: TrialState| trials.iter().filter(|t| t.state == state).count();
    println!(
        "{} trials: {} complete, {} pruned, {} failed",
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Failed)
    );
    for failed in trials.iter().filter(|t| t.state == TrialState::Failed) {
        println!(
            "trial {} failed: {}",
            failed.number,
            failed.error.as_deref().unwrap_or("?")
        );
    }
    let best = summary.best.ok_or("no trial completed")?;
    let best_arch = best.params.str("arch")?.to_owned();
    println!(
        "{}",
        json!({
            "best_val_accuracy": best.value,
            "best_arch": best_arch,
            "trials": trials.len(),
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

/// One trial of a `command` sweep, as the trial process protocol has it:
/// params and seed from the environment, a JSON line per epoch on stdout,
/// exit status 0 when the trial completes.
fn run_one_trial(
    data: &TrainingData,
    channels: i64,
    config: &TrainConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let params: serde_json::Map<String, Value> =
        serde_json::from_str(&env("HYPERSWEEP_PARAMS")?)
            .map_err(|e| format!("HYPERSWEEP_PARAMS: expected a JSON object: {e}"))?;
    let seed: u64 = env("HYPERSWEEP_SEED")?
        .parse()
        .map_err(|e| format!("HYPERSWEEP_SEED: expected an unsigned integer: {e}"))?;
    // A GPU slot's process sees its one GPU as device 0
    // (CUDA_VISIBLE_DEVICES).
    let device = if tch::Cuda::is_available() {
        Device::Cuda(0)
    } else {
        Device::Cpu
    };
    let print_report = |step: u64, value: f64| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", json!({"step": step, "val_accuracy": value}));
        let _ = out.flush();
        // The sweep decides, and stops a pruned trial with SIGTERM.
        Decision::Continue
    };
    let (_cancel, cancelled) = tokio::sync::watch::channel(false);
    let ctx = TrialContext {
        study: env("HYPERSWEEP_STUDY").unwrap_or_default(),
        number: env("HYPERSWEEP_TRIAL")?
            .parse()
            .map_err(|e| format!("HYPERSWEEP_TRIAL: expected an unsigned integer: {e}"))?,
        attempt: 0,
        seed,
        repeat: 0,
        params: params.into_iter().collect::<Params>(),
        device,
        log_dir: None,
        reporter: Reporter::new(Arc::new(print_report), cancelled),
    };
    let net = CellNetConfig {
        channels,
        ..CellNetConfig::digits(ctx.params.str("arch")?)
    };
    match train_cell(&ctx, data, &net, config)? {
        RunOutcome::Complete(_) => Ok(()),
        other => Err(format!("the trial ended as {other:?}").into()),
    }
}
