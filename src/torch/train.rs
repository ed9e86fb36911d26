//! The training loop every trainer shares: AdamW on the cross-entropy,
//! shuffled mini-batches, validation accuracy reported after each epoch.
//!
//! The trial's value is the validation accuracy after its last epoch
//! (maximise it). A `Prune` answer to an epoch's report ends the trial as
//! `Pruned`; a cancelled trial stops at the next batch.

use std::sync::Mutex;

use hypersweep_trials::{Decision, RunOutcome, TrialContext};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, TchError, Tensor};

use super::amp::LossScaler;
use super::cell_net::{CellNetConfig, CellNetwork};
use super::data::Classification;
use super::mlp::{Mlp, MlpConfig};
use super::{TrainError, tch_device};

/// A model that maps a batch of feature rows to class logits.
pub trait Classifier {
    /// Features per row the model expects.
    fn input_width(&self) -> i64;

    /// Logits `[n, classes]` of the rows `xs` (`[n, input_width]`); `train`
    /// selects training behaviour (batch statistics, dropout).
    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError>;
}

/// Floating-point precision of training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Precision {
    /// Mixed precision on a CUDA device (float16 autocast with dynamic loss
    /// scaling), float32 on the CPU.
    #[default]
    Auto,
    /// Float32 everywhere.
    Full,
}

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set; each ends with one report.
    pub epochs: u64,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// AdamW's learning rate.
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Mixed or full precision.
    pub precision: Precision,
}

impl Default for TrainConfig {
    /// 20 epochs of batches of 64 at learning rate 3e-3, weight decay 1e-4.
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 64,
            learning_rate: 3e-3,
            weight_decay: 1e-4,
            precision: Precision::Auto,
        }
    }
}

/// Limits checked before training.
const MAX_EPOCHS: u64 = 100_000;
const MAX_BATCH: usize = 1 << 20;

/// Examples per forward pass when measuring validation accuracy.
const EVAL_BATCH: i64 = 1024;

/// Mixed into the trial's seed for the batch order, so the order and the
/// weight initialisation do not draw the same numbers.
const SHUFFLE_SALT: u64 = 0x5348_5546_464c_4521;

impl TrainConfig {
    fn check(&self) -> Result<(), TrainError> {
        let bad = |what: String| Err(TrainError::Config(what));
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return bad(format!(
                "epochs must be between 1 and {MAX_EPOCHS}, got {}",
                self.epochs
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return bad(format!(
                "batch_size must be between 1 and {MAX_BATCH}, got {}",
                self.batch_size
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning_rate must be a positive number, got {}",
                self.learning_rate
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight_decay must be a number >= 0, got {}",
                self.weight_decay
            ));
        }
        Ok(())
    }
}

/// A training and a validation set, shared by every trial of a sweep; each
/// device gets its tensors once, on first use.
#[derive(Debug)]
pub struct TrainingData {
    train: Classification,
    valid: Classification,
    on_device: Mutex<Vec<(tch::Device, DeviceTensors)>>,
}

/// The data as tensors on one device.
#[derive(Debug)]
struct DeviceTensors {
    train_x: Tensor,
    train_y: Tensor,
    valid_x: Tensor,
    valid_y: Tensor,
}

impl DeviceTensors {
    /// New handles on the same storage, for one trial's thread.
    fn share(&self) -> DeviceTensors {
        DeviceTensors {
            train_x: self.train_x.shallow_clone(),
            train_y: self.train_y.shallow_clone(),
            valid_x: self.valid_x.shallow_clone(),
            valid_y: self.valid_y.shallow_clone(),
        }
    }
}

impl TrainingData {
    /// Training and validation sets with the same features and classes.
    pub fn new(train: Classification, valid: Classification) -> Result<TrainingData, TrainError> {
        if train.is_empty() || valid.is_empty() {
            return Err(TrainError::Config(
                "the training and validation sets must not be empty".to_owned(),
            ));
        }
        if train.width() != valid.width() || train.classes() != valid.classes() {
            return Err(TrainError::Config(format!(
                "training ({} features, {} classes) and validation ({} features, {} classes) sets differ",
                train.width(),
                train.classes(),
                valid.width(),
                valid.classes()
            )));
        }
        Ok(TrainingData {
            train,
            valid,
            on_device: Mutex::new(Vec::new()),
        })
    }

    /// The training set.
    pub fn train(&self) -> &Classification {
        &self.train
    }

    /// The validation set.
    pub fn valid(&self) -> &Classification {
        &self.valid
    }

    /// The tensors on `device`, made on first use.
    fn tensors(&self, device: tch::Device) -> Result<DeviceTensors, TrainError> {
        let torch = |e| TrainError::from_tch(e, device);
        // A trial that panicked while holding the lock left the list whole
        // (entries are pushed complete), so a poisoned lock is still usable.
        let mut cache = self.on_device.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, t)) = cache.iter().find(|(d, _)| *d == device) {
            return Ok(t.share());
        }
        let upload = |set: &Classification| -> Result<(Tensor, Tensor), TchError> {
            let x = Tensor::try_from(&set.features().as_standard_layout())?.f_to_device(device)?;
            let y = Tensor::try_from(&set.labels().as_standard_layout())?.f_to_device(device)?;
            Ok((x, y))
        };
        let (train_x, train_y) = upload(&self.train).map_err(torch)?;
        let (valid_x, valid_y) = upload(&self.valid).map_err(torch)?;
        let tensors = DeviceTensors {
            train_x,
            train_y,
            valid_x,
            valid_y,
        };
        let shared = tensors.share();
        cache.push((device, tensors));
        Ok(shared)
    }
}

/// Serialises seeding torch's global generator with building a model, so
/// a trial's initial weights are a function of its seed even when trials
/// run in parallel.
static SEEDED_INIT: Mutex<()> = Mutex::new(());

/// Builds a model under `vs` with torch's generator seeded by `seed`.
fn build_seeded<M>(
    seed: u64,
    build: impl FnOnce() -> Result<M, TrainError>,
) -> Result<M, TrainError> {
    let _guard = SEEDED_INIT.lock().unwrap_or_else(|p| p.into_inner());
    // torch takes an i64 seed; every bit of ours is kept.
    tch::manual_seed(seed as i64);
    build()
}

/// Trains the cell network `net` for the trial `ctx` on its slot's device.
pub fn train_cell(
    ctx: &TrialContext,
    data: &TrainingData,
    net: &CellNetConfig,
    config: &TrainConfig,
) -> Result<RunOutcome, TrainError> {
    let vs = nn::VarStore::new(tch_device(ctx.device));
    let model = build_seeded(ctx.seed, || CellNetwork::new(&vs.root(), net))?;
    train_classifier(ctx, &model, &vs, data, config)
}

/// Trains the MLP `mlp` for the trial `ctx` on its slot's device.
pub fn train_mlp(
    ctx: &TrialContext,
    data: &TrainingData,
    mlp: &MlpConfig,
    config: &TrainConfig,
) -> Result<RunOutcome, TrainError> {
    let vs = nn::VarStore::new(tch_device(ctx.device));
    let model = build_seeded(ctx.seed, || Mlp::new(&vs.root(), mlp))?;
    train_classifier(ctx, &model, &vs, data, config)
}

/// Trains `model`, whose variables are in `vs`, on `data`: `config.epochs`
/// epochs, each reported to `ctx` as its validation accuracy. Answers
/// `Complete(accuracy after the last epoch)`, or `Pruned` when a report
/// was answered `Prune`.
pub fn train_classifier(
    ctx: &TrialContext,
    model: &dyn Classifier,
    vs: &nn::VarStore,
    data: &TrainingData,
    config: &TrainConfig,
) -> Result<RunOutcome, TrainError> {
    config.check()?;
    if model.input_width() != data.train.width() as i64 {
        return Err(TrainError::Config(format!(
            "the model takes {} features per example, the data has {}",
            model.input_width(),
            data.train.width()
        )));
    }
    let device = vs.device();
    let torch = |e| TrainError::from_tch(e, device);
    let tensors = data.tensors(device)?;
    let mixed = config.precision == Precision::Auto && device.is_cuda();
    let mut opt = nn::adamw(0.9, 0.999, config.weight_decay)
        .build(vs, config.learning_rate)
        .map_err(torch)?;
    let mut scaler = LossScaler::default();
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ SHUFFLE_SALT);
    let mut order: Vec<i64> = (0..data.train.len() as i64).collect();
    let mut accuracy = 0.0;
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        let index = Tensor::f_from_slice(&order)
            .and_then(|t| t.f_to_device(device))
            .map_err(torch)?;
        for start in (0..order.len()).step_by(config.batch_size) {
            if ctx.reporter.is_cancelled() {
                return Ok(RunOutcome::Failed("cancelled".to_owned()));
            }
            let len = config.batch_size.min(order.len() - start) as i64;
            let mut step = || -> Result<(), TchError> {
                let rows = index.f_narrow(0, start as i64, len)?;
                let xs = tensors.train_x.f_index_select(0, &rows)?;
                let ys = tensors.train_y.f_index_select(0, &rows)?;
                opt.zero_grad();
                // Autocast is set either way: its flag is per thread, and a
                // slot's thread may come from a trial that panicked under it.
                let loss = tch::autocast(mixed, || cross_entropy(model, &xs, &ys))?;
                if mixed {
                    scaler.backward_step(&loss, &mut opt)?;
                } else {
                    loss.f_backward()?;
                    opt.step();
                }
                Ok(())
            };
            step().map_err(torch)?;
        }
        accuracy = {
            // A guard, not `tch::no_grad`: it turns gradients back on even
            // if the model panics, so the slot thread's next trial trains.
            let _no_grad = tch::no_grad_guard();
            tch::autocast(mixed, || {
                evaluate(model, &tensors.valid_x, &tensors.valid_y)
            })
        }
        .map_err(torch)?;
        if ctx.report(epoch, accuracy) == Decision::Prune {
            return Ok(RunOutcome::Pruned);
        }
    }
    Ok(RunOutcome::Complete(accuracy))
}

/// Mean cross-entropy of the model's logits on `xs` against labels `ys`.
fn cross_entropy(model: &dyn Classifier, xs: &Tensor, ys: &Tensor) -> Result<Tensor, TchError> {
    model.forward(xs, true)?.f_cross_entropy_loss::<Tensor>(
        ys,
        None,
        tch::Reduction::Mean,
        -100,
        0.0,
    )
}

/// Fraction of `xs` the model classifies as `ys`, in evaluation mode.
fn evaluate(model: &dyn Classifier, xs: &Tensor, ys: &Tensor) -> Result<f64, TchError> {
    let n = xs.size().first().copied().unwrap_or(0);
    let mut correct = 0i64;
    for start in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - start);
        let predicted = model
            .forward(&xs.f_narrow(0, start, len)?, false)?
            .f_argmax(1, false)?;
        correct += predicted
            .f_eq_tensor(&ys.f_narrow(0, start, len)?)?
            .f_sum(Kind::Int64)?
            .f_int64_value(&[])?;
    }
    Ok(correct as f64 / n.max(1) as f64)
}
