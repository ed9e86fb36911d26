//! In-process tch (libtorch) trainers for sweeps: a NAS-Bench-201-style cell
//! network for small images ([`CellNetwork`]), an MLP for tabular data
//! ([`Mlp`]), one training loop for both ([`train_classifier`]), and the
//! 8x8 handwritten digits, shipped with the crate ([`data::digits`]).
//!
//! # Why in-process
//!
//! A trial here is a Rust closure handed to [`crate::Study::optimize`]: it
//! runs on its worker slot's thread, trains on the slot's device
//! (`Device::Cuda(i)` becomes [`tch::Device::Cuda`], anything else the CPU)
//! and reports its validation accuracy after every epoch through
//! [`TrialContext::report`], so the study's pruner (ASHA, median, ...) stops
//! poor trials between epochs. The data set is held as `ndarray` arrays and
//! turned into tensors once per device ([`TrainingData`]), not per batch or
//! per trial.
//!
//! # Isolation, and its limit
//!
//! Torch errors surface as `Err` through tch's fallible (`f_*`) calls in the
//! model construction, the forward and backward passes and the data
//! transfers; [`TrainError`] carries them up and the trial fails with the
//! message (an allocation failure, CUDA's "out of memory" included, is told
//! apart as [`TrainError::OutOfMemory`]). The few tch calls without a
//! fallible form (the optimizer's step) panic on a torch error, and the
//! scheduler catches a panicking trial and fails that trial only. Either
//! way the tensors of the failed trial are dropped and the sweep goes on.
//!
//! What a process cannot survive, in-process trials cannot either: a
//! segfault or `abort()` in native code, the kernel's OOM killer (host
//! memory), or a CUDA device-side assert, which poisons the CUDA context of
//! every trial in the process. Sweeps that expect those run each trial as its
//! own process instead (a `command` sweep through
//! [`CommandRunner`](crate::CommandRunner), one process per trial), which the
//! same trainers serve: `examples/nas_digits.rs --trial` is such a trial
//! process, `examples/sweeps/nas_digits_processes.json` its sweep.
//!
//! # Mixed precision
//!
//! On a CUDA device, [`Precision::Auto`] runs the forward pass under
//! autocast (float16 where torch deems it safe) and scales the loss with a
//! dynamic loss scaler ([`amp::LossScaler`]) so small float16 gradients do not
//! underflow. On the CPU training stays in float32. The GPU path is written
//! to the libtorch API but has not been run on a GPU in this repository's
//! tests (no GPU in CI).
//!
//! # Reproducibility
//!
//! A trial's weights are initialised from its seed ([`TrialContext::seed`])
//! under a process-wide lock (torch's generator is global), and its batches
//! are shuffled by a generator of its own. Dropout draws from torch's global
//! generator, so trials with dropout that run in parallel are not bit-for-bit
//! reproducible; neither are CUDA kernels in general.

pub mod amp;
mod cell_net;
pub mod data;
mod layers;
mod mlp;
mod train;

use hypersweep_trials::{Device, RunOutcome};
use tch::TchError;

use crate::study::IntoOutcome;

pub use cell_net::{CellNetConfig, CellNetwork, NAS_BENCH_201_OPS};
pub use data::{Classification, DataError};
pub use mlp::{Mlp, MlpConfig};
pub use train::{
    Classifier, Precision, TrainConfig, TrainingData, train_cell, train_classifier, train_mlp,
};

/// The tch device of a worker slot's [`Device`]: `Cuda(i)` is GPU `i`, the
/// CPU is the CPU. These trainers use one device per trial, so a slot of
/// several GPUs (`gpus_per_trial` > 1, [`Device::CudaGroup`]) trains on its
/// first GPU; a trainer that spreads over the group (DDP) is a `command`
/// trial's job.
pub fn tch_device(device: Device) -> tch::Device {
    match device.gpus().first() {
        Some(&i) => tch::Device::Cuda(i as usize),
        None => tch::Device::Cpu,
    }
}

/// Why a trial's training failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The configuration cannot be trained (an unknown op, a zero width).
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A param the trainer reads is missing or of the wrong type.
    #[error(transparent)]
    Param(#[from] hypersweep_search::ParamError),
    /// Torch could not allocate memory (CUDA out of memory, or the host's
    /// allocator refused).
    #[error("out of memory on {device:?}: {message}")]
    OutOfMemory {
        /// Where the allocation failed.
        device: tch::Device,
        /// Torch's message, first line.
        message: String,
    },
    /// Any other torch error.
    #[error("torch error on {device:?}: {message}")]
    Torch {
        /// The device the trial trained on.
        device: tch::Device,
        /// Torch's message, first line.
        message: String,
    },
}

impl TrainError {
    /// Classifies a torch error raised while training on `device`.
    pub fn from_tch(err: TchError, device: tch::Device) -> TrainError {
        // Torch's own message, without tch's "Internal torch error: ".
        let full = match err {
            TchError::Torch(message) => message,
            other => other.to_string(),
        };
        // Torch's messages carry a C++ backtrace after the first line.
        let message = full.lines().next().unwrap_or_default().trim().to_owned();
        if is_allocation_failure(&full) {
            TrainError::OutOfMemory { device, message }
        } else {
            TrainError::Torch { device, message }
        }
    }

    /// True for [`TrainError::OutOfMemory`].
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, TrainError::OutOfMemory { .. })
    }
}

/// True when torch's message is an allocation failure: CUDA's caching
/// allocator says "CUDA out of memory", the CPU allocator "can't allocate
/// memory".
fn is_allocation_failure(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("out of memory") || lower.contains("can't allocate memory")
}

/// A trainer's result as the trial's outcome: the accuracy completes it,
/// `Pruned` stays pruned, an error fails the trial with its message.
impl IntoOutcome for Result<RunOutcome, TrainError> {
    fn into_outcome(self) -> RunOutcome {
        self.unwrap_or_else(|e| RunOutcome::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_trains_on_its_gpu_or_the_first_of_its_group() {
        assert_eq!(tch_device(Device::Cpu), tch::Device::Cpu);
        assert_eq!(tch_device(Device::Cuda(3)), tch::Device::Cuda(3));
        let group = Device::from_gpus(&[2, 5]).expect("a group of two");
        assert!(matches!(group, Device::CudaGroup(_)));
        assert_eq!(tch_device(group), tch::Device::Cuda(2));
    }

    #[test]
    fn allocation_failures_are_told_from_other_torch_errors() {
        let cpu = TchError::Torch(
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes.\nframe 0"
                .into(),
        );
        let err = TrainError::from_tch(cpu, tch::Device::Cpu);
        assert!(err.is_out_of_memory());
        assert_eq!(
            err.to_string(),
            "out of memory on Cpu: DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes."
        );
        let cuda = TchError::Torch("CUDA out of memory. Tried to allocate 2.00 GiB".into());
        assert!(TrainError::from_tch(cuda, tch::Device::Cuda(0)).is_out_of_memory());
        let shape = TchError::Torch("mat1 and mat2 shapes cannot be multiplied".into());
        assert!(!TrainError::from_tch(shape, tch::Device::Cpu).is_out_of_memory());
    }
}
