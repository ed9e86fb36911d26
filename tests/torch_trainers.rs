//! The tch trainers (feature `torch`) on the shipped digits, on the CPU:
//! they learn, they report every epoch so pruners act, and a trial that
//! panics or runs out of memory fails alone while the sweep goes on.
//!
//! Run with `cargo test --features torch --test torch_trainers` after the
//! build recipe in DEVELOPERS.md.

use std::sync::Arc;

use hypersweep::Study;
use hypersweep::search::{Direction, Domain, Method, Param, Params, SearchSpace, Value};
use hypersweep::torch::{
    CellNetConfig, MlpConfig, TrainConfig, TrainError, TrainingData, data, train_cell, train_mlp,
};
use hypersweep::trials::{
    AshaPruner, Device, Reporter, RunOutcome, Trial, TrialContext, TrialState,
};

/// A small cell: a 3x3 convolution from the input, then a 1x1 convolution
/// and a skip on the way to the output.
const SMALL_CELL: &str =
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";

fn digits() -> Arc<TrainingData> {
    let (train, valid) = data::digits_split().expect("the shipped digits load");
    Arc::new(TrainingData::new(train, valid).expect("a valid split"))
}

fn study(space: SearchSpace, method: Method, parallel: usize) -> Study {
    Study::builder()
        .space(space)
        .direction(Direction::Maximize)
        .metric("val_accuracy")
        .method(method)
        .parallel(parallel)
        .seed(3)
        .build()
        .expect("study")
}

fn one_param(name: &str, domain: Domain) -> SearchSpace {
    SearchSpace::new(vec![Param::new(name, domain)]).expect("space")
}

fn mlp(width: i64) -> MlpConfig {
    MlpConfig {
        inputs: 64,
        width,
        depth: 1,
        dropout: 0.0,
        classes: 10,
    }
}

fn by_number(mut trials: Vec<Trial>) -> Vec<Trial> {
    trials.sort_by_key(|t| t.number);
    trials
}

#[test]
fn a_small_fixed_cell_reaches_90_percent_validation_accuracy_on_cpu() {
    tch::set_num_threads(2);
    let data = digits();
    let epochs = 6;
    let s = study(
        one_param("arch", Domain::constant(SMALL_CELL)),
        Method::Random,
        1,
    );
    s.optimize(1, move |ctx: &TrialContext| -> Result<_, TrainError> {
        let net = CellNetConfig {
            channels: 8,
            ..CellNetConfig::digits(ctx.params.str("arch")?)
        };
        let config = TrainConfig {
            epochs,
            ..TrainConfig::default()
        };
        train_cell(ctx, &data, &net, &config)
    })
    .expect("sweep");
    let trials = s.trials().expect("trials");
    let t = &trials[0];
    assert_eq!(t.state, TrialState::Complete, "{:?}", t.error);
    let accuracy = t.value.expect("a value");
    assert!(accuracy >= 0.90, "validation accuracy {accuracy}");
    // One report per epoch, and the trial's value is the last one.
    let steps: Vec<u64> = t.intermediate.iter().map(|&(s, _)| s).collect();
    assert_eq!(steps, (1..=epochs).collect::<Vec<_>>());
    assert_eq!(t.intermediate.last().map(|&(_, v)| v), Some(accuracy));
}

#[test]
fn an_mlp_reaches_90_percent_validation_accuracy_on_cpu() {
    tch::set_num_threads(2);
    let data = digits();
    let s = study(one_param("width", Domain::constant(64)), Method::Random, 1);
    s.optimize(1, move |ctx: &TrialContext| -> Result<_, TrainError> {
        let config = TrainConfig {
            epochs: 10,
            ..TrainConfig::default()
        };
        train_mlp(ctx, &data, &mlp(ctx.params.i64("width")?), &config)
    })
    .expect("sweep");
    let t = &s.trials().expect("trials")[0];
    assert_eq!(t.state, TrialState::Complete, "{:?}", t.error);
    let accuracy = t.value.expect("a value");
    assert!(accuracy >= 0.90, "validation accuracy {accuracy}");
}

#[test]
fn a_panicking_trial_and_an_out_of_memory_trial_fail_alone() {
    tch::set_num_threads(1);
    let data = digits();
    let cases = ["train", "torch_panic", "out_of_memory", "train_again"];
    let s = study(one_param("case", Domain::choice(cases)), Method::Grid, 2);
    s.optimize(4, move |ctx: &TrialContext| -> Result<_, TrainError> {
        let config = TrainConfig {
            epochs: 2,
            ..TrainConfig::default()
        };
        match ctx.params.str("case")? {
            // A torch call without `f_` fails inside tch, which panics.
            "torch_panic" => {
                let a = tch::Tensor::zeros([2, 3], tch::kind::FLOAT_CPU);
                let b = tch::Tensor::zeros([4, 5], tch::kind::FLOAT_CPU);
                let _ = a.matmul(&b);
                unreachable!("a 2x3 by 4x5 product is refused")
            }
            // 2^40 hidden units: 2^48 bytes of weights, more than any
            // address space holds, so the allocator refuses at once.
            "out_of_memory" => train_mlp(ctx, &data, &mlp(1 << 40), &config),
            _ => train_mlp(ctx, &data, &mlp(32), &config),
        }
    })
    .expect("the sweep survives its failed trials");
    let trials = by_number(s.trials().expect("trials"));
    assert_eq!(trials.len(), 4);
    for t in &trials {
        let case = t.params.get("case").and_then(Value::as_str).unwrap_or("?");
        let error = t.error.as_deref().unwrap_or("");
        match case {
            "torch_panic" => {
                assert_eq!(t.state, TrialState::Failed, "{case}");
                assert!(error.contains("panicked"), "{case}: {error}");
            }
            "out_of_memory" => {
                assert_eq!(t.state, TrialState::Failed, "{case}");
                assert!(error.starts_with("out of memory on Cpu"), "{case}: {error}");
            }
            _ => {
                assert_eq!(t.state, TrialState::Complete, "{case}: {error}");
                assert!(t.value.is_some_and(|v| v > 0.5), "{case}: {:?}", t.value);
            }
        }
    }
}

#[test]
fn asha_prunes_a_trial_that_cannot_learn_after_its_first_epoch() {
    tch::set_num_threads(2);
    let data = digits();
    // In grid order: a learning rate that learns, then one too small to
    // move the weights. Trials run one at a time, so the second meets the
    // first's value at the rung of epoch 1.
    let s = Study::builder()
        .space(one_param("learning_rate", Domain::choice([3e-3, 1e-9])))
        .direction(Direction::Maximize)
        .method(Method::Grid)
        .pruner(Arc::new(AshaPruner::new(1, 3.0).max_resource(4)))
        .seed(3)
        .build()
        .expect("study");
    s.optimize(2, move |ctx: &TrialContext| -> Result<_, TrainError> {
        let config = TrainConfig {
            epochs: 4,
            learning_rate: ctx.params.f64("learning_rate")?,
            ..TrainConfig::default()
        };
        train_mlp(ctx, &data, &mlp(32), &config)
    })
    .expect("sweep");
    let trials = by_number(s.trials().expect("trials"));
    let lr = |t: &Trial| t.params.get("learning_rate").and_then(Value::as_f64);
    assert_eq!(lr(&trials[0]), Some(3e-3));
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(trials[0].intermediate.len(), 4);
    assert_eq!(lr(&trials[1]), Some(1e-9));
    assert_eq!(trials[1].state, TrialState::Pruned);
    assert_eq!(trials[1].intermediate.len(), 1);
}

#[test]
fn a_string_that_is_not_a_cell_fails_its_trial_with_the_reason() {
    let data = digits();
    let s = study(
        one_param("arch", Domain::constant("|conv~0|+|none~0|none~1|")),
        Method::Random,
        1,
    );
    s.optimize(1, move |ctx: &TrialContext| -> Result<_, TrainError> {
        let net = CellNetConfig::digits(ctx.params.str("arch")?);
        train_cell(ctx, &data, &net, &TrainConfig::default())
    })
    .expect("sweep");
    let t = &s.trials().expect("trials")[0];
    assert_eq!(t.state, TrialState::Failed);
    let error = t.error.as_deref().unwrap_or("");
    assert!(
        error.contains("`|conv~0|+|none~0|none~1|` is not a cell"),
        "{error}"
    );
}

/// A trial context outside any study, on the CPU.
fn context(seed: u64) -> TrialContext {
    TrialContext {
        study: "direct".to_owned(),
        number: 0,
        attempt: 0,
        seed,
        repeat: 0,
        params: Params::new(),
        device: Device::Cpu,
        log_dir: None,
        reporter: Reporter::detached(),
    }
}

#[test]
fn a_trial_on_the_cpu_is_a_function_of_its_seed() {
    let data = digits();
    let config = TrainConfig {
        epochs: 2,
        ..TrainConfig::default()
    };
    let run = |seed| train_mlp(&context(seed), &data, &mlp(32), &config).expect("trains");
    let first = run(11);
    assert!(matches!(first, RunOutcome::Complete(_)), "{first:?}");
    assert_eq!(run(11), first);
    assert_ne!(run(12), first);
}

#[test]
fn a_cell_with_no_path_to_its_output_predicts_one_class_for_every_image() {
    let data = digits();
    let net = CellNetConfig {
        channels: 4,
        ..CellNetConfig::digits(
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",
        )
    };
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let outcome = train_cell(&context(0), &data, &net, &config).expect("trains");
    // The network's output does not depend on the image, so its accuracy is
    // the share of one class in the validation set: at most 37 of 359.
    let RunOutcome::Complete(accuracy) = outcome else {
        panic!("{outcome:?}")
    };
    let largest_class = (0..10)
        .map(|c| data.valid().labels().iter().filter(|&&l| l == c).count())
        .max()
        .unwrap_or(0);
    assert_eq!(largest_class, 37);
    assert!(accuracy <= 37.0 / 359.0 + 1e-12, "{accuracy}");
}
