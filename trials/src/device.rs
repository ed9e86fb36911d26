//! Worker slots and the devices they own.
//!
//! A sweep runs at most `parallel` trials at once, one per slot, and each slot
//! owns one [`Device`] for its whole life, so two trials never share a GPU
//! unless `trials_per_device` says they may. A slot owns one GPU, or
//! `gpus_per_trial` of them for a trial that trains on several GPUs itself
//! (torchrun, DDP, Horovod). `devices: auto` asks `nvidia-smi -L` which GPUs
//! exist and falls back to the CPU when the tool is missing or lists none
//! (when a trial asks for one GPU; with more it is an error, since such a
//! trial cannot run as meant on the CPU).

use std::process::Command;

use hypersweep_search::sweep::Devices;

use crate::runner::{Device, GpuGroup};

/// The GPU indices `nvidia-smi -L` lists, or none when it is absent or fails.
pub fn detect_gpus() -> Vec<u32> {
    match Command::new("nvidia-smi").arg("-L").output() {
        Ok(out) if out.status.success() => parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout)),
        _ => Vec::new(),
    }
}

/// Parses `nvidia-smi -L` output (`GPU 0: NVIDIA H100 (UUID: ...)` lines).
/// MIG sub-devices (indented `MIG ...` lines) are not separate slots here.
pub fn parse_nvidia_smi(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("GPU ")?;
            let (index, _) = rest.split_once(':')?;
            index.trim().parse().ok()
        })
        .collect()
}

/// Why a sweep's slots cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// Fewer GPUs than one trial asks for.
    #[error(
        "each trial asks for {per_trial} GPUs (`gpus_per_trial`) but {} {found}",
        if *.detected { "`devices: auto` found" } else { "the devices list" }
    )]
    TooFewGpus {
        /// `gpus_per_trial`.
        per_trial: usize,
        /// GPUs available.
        found: usize,
        /// Whether they were found by `nvidia-smi` (`devices: auto`).
        detected: bool,
    },
    /// `gpus_per_trial` out of its range.
    #[error("`gpus_per_trial` must be from 1 to {max}, got {0}", max = GpuGroup::MAX)]
    GpusPerTrial(usize),
}

/// The slots of a sweep and the GPUs none of them owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPlan {
    /// One device per slot; its length is the parallelism.
    pub slots: Vec<Device>,
    /// GPUs given to no slot: those left over when their count is not a
    /// multiple of `gpus_per_trial`, and groups beyond `parallel`.
    pub idle_gpus: Vec<u32>,
}

/// The slots of a sweep: one device per slot, at most `parallel` of them.
///
/// On the CPU every slot gets [`Device::Cpu`]. With GPUs, consecutive GPUs
/// of the list form groups of `gpus_per_trial` (GPUs left over are idle),
/// each group gets `trials_per_device` slots, and the number of slots is
/// capped by both `parallel` and the groups (a trial never waits for a GPU
/// another trial holds, and two slots share a GPU only when
/// `trials_per_device` > 1). `devices: auto` without GPUs runs on the CPU
/// when each trial asks for one GPU, and is an error when it asks for more.
pub fn slots(
    devices: &Devices,
    parallel: usize,
    trials_per_device: usize,
    gpus_per_trial: usize,
) -> Result<Vec<Device>, SlotError> {
    plan_slots(devices, parallel, trials_per_device, gpus_per_trial).map(|plan| plan.slots)
}

/// [`slots`] with the GPUs left idle, for `check`.
pub fn plan_slots(
    devices: &Devices,
    parallel: usize,
    trials_per_device: usize,
    gpus_per_trial: usize,
) -> Result<SlotPlan, SlotError> {
    let gpus = match devices {
        Devices::Cpu => Vec::new(),
        Devices::Auto => detect_gpus(),
        Devices::List(ids) => ids.clone(),
        // `Devices` is non-exhaustive; a form added to the sweep file without
        // a slot rule here runs on the CPU rather than on a guessed GPU.
        _ => Vec::new(),
    };
    let detected = matches!(devices, Devices::Auto);
    plan_for(&gpus, parallel, trials_per_device, gpus_per_trial, detected)
}

/// [`slots`] for a known list of GPUs (empty: CPU).
pub fn slots_for(
    gpus: &[u32],
    parallel: usize,
    trials_per_device: usize,
    gpus_per_trial: usize,
) -> Result<Vec<Device>, SlotError> {
    plan_for(gpus, parallel, trials_per_device, gpus_per_trial, false).map(|plan| plan.slots)
}

fn plan_for(
    gpus: &[u32],
    parallel: usize,
    trials_per_device: usize,
    gpus_per_trial: usize,
    detected: bool,
) -> Result<SlotPlan, SlotError> {
    if gpus_per_trial == 0 || gpus_per_trial > GpuGroup::MAX {
        return Err(SlotError::GpusPerTrial(gpus_per_trial));
    }
    let parallel = parallel.max(1);
    if gpus.is_empty() && gpus_per_trial == 1 {
        return Ok(SlotPlan {
            slots: vec![Device::Cpu; parallel],
            idle_gpus: Vec::new(),
        });
    }
    if gpus.len() < gpus_per_trial {
        return Err(SlotError::TooFewGpus {
            per_trial: gpus_per_trial,
            found: gpus.len(),
            detected,
        });
    }
    let groups: Vec<Device> = gpus
        .chunks_exact(gpus_per_trial)
        .map(|group| Device::from_gpus(group).ok_or(SlotError::GpusPerTrial(gpus_per_trial)))
        .collect::<Result<_, _>>()?;
    let per = trials_per_device.max(1);
    // Round-robin over the groups so that parallel < slots spreads trials
    // over all GPUs before doubling up on one.
    let slots: Vec<Device> = (0..per)
        .flat_map(|_| groups.iter().copied())
        .take(parallel)
        .collect();
    let idle_gpus = gpus
        .iter()
        .copied()
        .filter(|g| !slots.iter().any(|d| d.gpus().contains(g)))
        .collect();
    Ok(SlotPlan { slots, idle_gpus })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nvidia_smi_listing() {
        let text = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)\n\
                    GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-5678)\n  \
                    MIG 1g.10gb Device 0: (UUID: MIG-abc)\n";
        assert_eq!(parse_nvidia_smi(text), vec![0, 1]);
        assert!(parse_nvidia_smi("No devices were found\n").is_empty());
    }

    fn visible(slots: &[Device]) -> Vec<String> {
        slots
            .iter()
            .map(|d| d.cuda_visible_devices().unwrap_or_else(|| "cpu".into()))
            .collect()
    }

    #[test]
    fn cpu_gets_parallel_slots() {
        assert_eq!(slots_for(&[], 3, 1, 1).unwrap(), vec![Device::Cpu; 3]);
        assert_eq!(slots(&Devices::Cpu, 0, 1, 1).unwrap(), vec![Device::Cpu]);
    }

    #[test]
    fn gpus_spread_before_sharing() {
        assert_eq!(
            slots_for(&[0, 1], 3, 2, 1).unwrap(),
            vec![Device::Cuda(0), Device::Cuda(1), Device::Cuda(0)]
        );
        // parallel above the device slots: capped, never oversubscribed.
        assert_eq!(
            slots(&Devices::List(vec![2]), 4, 1, 1).unwrap(),
            vec![Device::Cuda(2)]
        );
    }

    #[test]
    fn gpus_per_trial_groups_consecutive_gpus() {
        let slots = slots_for(&[0, 1, 2, 3], 8, 1, 2).unwrap();
        assert_eq!(visible(&slots), ["0,1", "2,3"]);
        assert!(matches!(slots[0], Device::CudaGroup(_)));
        assert_eq!(slots[1].gpus(), [2, 3]);
        assert_eq!(slots[1].to_string(), "cuda:2,3");
        // The list's order, not sorted order, makes the groups.
        assert_eq!(
            visible(&slots_for(&[3, 1, 0, 2], 8, 1, 2).unwrap()),
            ["3,1", "0,2"]
        );
        // One GPU per trial is the plain Cuda(i), as before.
        assert_eq!(slots_for(&[5], 1, 1, 1).unwrap(), [Device::Cuda(5)]);
    }

    #[test]
    fn trials_per_device_shares_whole_groups() {
        let slots = slots_for(&[0, 1, 2, 3], 8, 2, 2).unwrap();
        assert_eq!(visible(&slots), ["0,1", "2,3", "0,1", "2,3"]);
        // parallel 3 spreads over both groups before doubling up on one.
        let slots = slots_for(&[0, 1, 2, 3], 3, 2, 2).unwrap();
        assert_eq!(visible(&slots), ["0,1", "2,3", "0,1"]);
    }

    #[test]
    fn leftover_gpus_are_idle_and_never_shared() {
        let plan = plan_for(&[0, 1, 2, 3, 4], 8, 1, 2, false).unwrap();
        assert_eq!(visible(&plan.slots), ["0,1", "2,3"]);
        assert_eq!(plan.idle_gpus, [4]);
        // parallel below the groups: the groups not used are idle too.
        let plan = plan_for(&[0, 1, 2, 3, 4, 5], 1, 1, 3, false).unwrap();
        assert_eq!(visible(&plan.slots), ["0,1,2"]);
        assert_eq!(plan.idle_gpus, [3, 4, 5]);
        // No GPU is in two slots.
        let plan = plan_for(&[0, 1, 2, 3, 4, 5, 6], 8, 1, 3, false).unwrap();
        let mut owned: Vec<u32> = plan.slots.iter().flat_map(|d| d.gpus().to_vec()).collect();
        owned.sort_unstable();
        assert_eq!(owned, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn too_few_gpus_is_an_error_not_the_cpu() {
        assert_eq!(
            slots_for(&[0], 2, 1, 2),
            Err(SlotError::TooFewGpus {
                per_trial: 2,
                found: 1,
                detected: false
            })
        );
        let err = plan_for(&[], 2, 1, 4, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "each trial asks for 4 GPUs (`gpus_per_trial`) but `devices: auto` found 0"
        );
        assert_eq!(slots_for(&[0, 1], 1, 1, 0), Err(SlotError::GpusPerTrial(0)));
        assert!(slots_for(&[0, 1], 1, 1, GpuGroup::MAX + 1).is_err());
    }

    #[test]
    fn gpu_groups_hold_distinct_gpus_inline() {
        assert_eq!(Device::from_gpus(&[]), Some(Device::Cpu));
        assert_eq!(Device::from_gpus(&[7]), Some(Device::Cuda(7)));
        assert_eq!(Device::from_gpus(&[1, 1]), None);
        let max: Vec<u32> = (0..GpuGroup::MAX as u32).collect();
        assert_eq!(Device::from_gpus(&max).unwrap().gpus(), max);
        let over: Vec<u32> = (0..=GpuGroup::MAX as u32).collect();
        assert_eq!(Device::from_gpus(&over), None);
        assert_eq!(format!("{:?}", GpuGroup::new(&[2, 0]).unwrap()), "[2, 0]");
    }
}
