//! How one trial is run: the [`Runner`] trait and what it is handed.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use hypersweep_search::Params;
use tokio::sync::watch;

/// A boxed, sendable future (what [`Runner::run`] returns).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Where a trial runs.
///
/// A slot of one GPU is always [`Device::Cuda`], so code written for one
/// GPU per trial (an in-process trainer that moves its model to
/// `Device::Cuda(i)`) keeps working; only `gpus_per_trial` > 1 gives
/// [`Device::CudaGroup`]. [`Device::gpus`] lists a slot's GPUs whatever its
/// form. `#[non_exhaustive]`: more forms may come (MIG instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Device {
    /// The CPU.
    Cpu,
    /// GPU `i`, exposed to a trial process as `CUDA_VISIBLE_DEVICES=i`.
    Cuda(u32),
    /// Several GPUs for one trial that trains on all of them itself
    /// (torchrun, DDP, Horovod): `CUDA_VISIBLE_DEVICES=0,1` and the
    /// launcher's variables (see the command runner).
    CudaGroup(GpuGroup),
}

impl Device {
    /// The device of a slot owning `gpus`: the CPU for none, [`Device::Cuda`]
    /// for one, a [`Device::CudaGroup`] for more; `None` above
    /// [`GpuGroup::MAX`] GPUs or with a GPU listed twice.
    pub fn from_gpus(gpus: &[u32]) -> Option<Device> {
        match gpus {
            [] => Some(Device::Cpu),
            [i] => Some(Device::Cuda(*i)),
            _ => GpuGroup::new(gpus).map(Device::CudaGroup),
        }
    }

    /// The GPU indices this slot owns, in order (empty on the CPU).
    pub fn gpus(&self) -> &[u32] {
        match self {
            Device::Cpu => &[],
            Device::Cuda(i) => std::slice::from_ref(i),
            Device::CudaGroup(group) => group.ids(),
        }
    }

    /// The GPUs as `CUDA_VISIBLE_DEVICES` lists them (`"0,1"`); `None` on
    /// the CPU.
    pub fn cuda_visible_devices(&self) -> Option<String> {
        let gpus = self.gpus();
        (!gpus.is_empty()).then(|| {
            gpus.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cuda_visible_devices() {
            None => write!(f, "cpu"),
            Some(list) => write!(f, "cuda:{list}"),
        }
    }
}

/// The GPUs of a multi-GPU slot: 2 to [`GpuGroup::MAX`] distinct indices,
/// held inline so that [`Device`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GpuGroup {
    ids: [u32; GpuGroup::MAX],
    len: u8,
}

impl GpuGroup {
    /// The most GPUs in one group (the sweep file's limit on
    /// `gpus_per_trial`).
    pub const MAX: usize = hypersweep_search::sweep::MAX_GPUS_PER_TRIAL as usize;

    /// The group of `gpus`, in order; `None` for fewer than 2, more than
    /// [`GpuGroup::MAX`], or a GPU listed twice.
    pub fn new(gpus: &[u32]) -> Option<GpuGroup> {
        if gpus.len() < 2 || gpus.len() > Self::MAX {
            return None;
        }
        if gpus.iter().enumerate().any(|(k, g)| gpus[..k].contains(g)) {
            return None;
        }
        let mut ids = [0; Self::MAX];
        ids[..gpus.len()].copy_from_slice(gpus);
        Some(GpuGroup {
            ids,
            len: gpus.len() as u8,
        })
    }

    /// The GPU indices, in order.
    pub fn ids(&self) -> &[u32] {
        &self.ids[..usize::from(self.len)]
    }
}

impl fmt::Debug for GpuGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

/// The pruner's answer to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep training.
    Continue,
    /// Stop: the trial is worse than its peers at this step.
    Prune,
}

/// How a runner says a trial ended. The scheduler turns this into the stored
/// state (a non-finite `Complete` value becomes Failed).
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Finished with this value.
    Complete(f64),
    /// Stopped after a `Prune` decision.
    Pruned,
    /// Failed, with the reason.
    Failed(String),
}

/// Hands a trial's intermediate values to the scheduler (which records them
/// and asks the pruner) and tells the trial when it must stop.
#[derive(Clone)]
pub struct Reporter {
    sink: Arc<dyn Fn(u64, f64) -> Decision + Send + Sync>,
    cancel: watch::Receiver<bool>,
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Reporter {
    /// A reporter that passes reports to `sink` and watches `cancel`.
    pub fn new(
        sink: Arc<dyn Fn(u64, f64) -> Decision + Send + Sync>,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        Reporter { sink, cancel }
    }

    /// A reporter that records nothing, never prunes and is never cancelled
    /// (for running an objective outside a study).
    pub fn detached() -> Self {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive so `cancelled()` never resolves.
        std::mem::forget(tx);
        Reporter::new(Arc::new(|_, _| Decision::Continue), rx)
    }

    /// Records `value` at `step`; answers whether to go on. Synchronous and
    /// cheap: callable from a training loop on any thread.
    pub fn report(&self, step: u64, value: f64) -> Decision {
        if self.is_cancelled() {
            return Decision::Prune;
        }
        (self.sink)(step, value)
    }

    /// True once the scheduler wants the trial stopped (second Ctrl-C,
    /// timeout).
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves when the trial must stop.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.clone();
        // An Err means the sender is gone: nobody can cancel any more.
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Everything a runner gets for one trial.
#[derive(Debug, Clone)]
pub struct TrialContext {
    /// Study name.
    pub study: String,
    /// Trial number.
    pub number: u64,
    /// Retry count.
    pub attempt: u32,
    /// The seed of this evaluation: a function of the study's seed and the
    /// trial (see [`hypersweep_search::evaluation_seed`]), the same when the
    /// trial is re-run after a crash. Seed the training's RNGs with it.
    pub seed: u64,
    /// Which evaluation of the configuration this is, from 0 (`run.repeats`
    /// runs each configuration several times, each with its own seed).
    pub repeat: u32,
    /// The configuration to evaluate.
    pub params: Params,
    /// Where to run.
    pub device: Device,
    /// Where the runner may put the trial's log file, if anywhere.
    pub log_dir: Option<PathBuf>,
    /// Intermediate values go here.
    pub reporter: Reporter,
}

impl TrialContext {
    /// The seed of this evaluation (see [`TrialContext::seed`](#structfield.seed)).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Shorthand for `self.reporter.report(step, value)`.
    pub fn report(&self, step: u64, value: f64) -> Decision {
        self.reporter.report(step, value)
    }
}

/// Runs trials. One runner serves every slot of a sweep, concurrently.
pub trait Runner: Send + Sync + 'static {
    /// Runs one trial to its end. Must return (not hang) once the reporter is
    /// cancelled.
    fn run(&self, ctx: TrialContext) -> BoxFuture<RunOutcome>;

    /// The same runner as one synchronous call per trial, when it is one (a
    /// Rust closure). The scheduler then runs each worker slot as a thread
    /// of its own that claims, runs and records its trials in a loop, with
    /// no hand-off between threads per trial; the sweep's task only
    /// supervises (stops, timeouts, heartbeats). `None` (the default): every
    /// trial goes through [`Runner::run`].
    fn as_blocking(&self) -> Option<&dyn BlockingRunner> {
        None
    }
}

/// A runner whose trial is a synchronous call on the caller's thread (see
/// [`Runner::as_blocking`]).
pub trait BlockingRunner: Send + Sync {
    /// Runs one trial on this thread. A panic must be caught and returned as
    /// [`RunOutcome::Failed`]. The call cannot be stopped from outside: a
    /// cancelled trial is recorded at once, its later reports answer
    /// [`Decision::Prune`], and the call's result is dropped when it returns.
    fn run_blocking(&self, ctx: &TrialContext) -> RunOutcome;
}
