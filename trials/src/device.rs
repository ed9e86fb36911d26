//! Worker slots and the devices they own.
//!
//! A sweep runs at most `parallel` trials at once, one per slot, and each slot
//! owns one [`Device`] for its whole life, so two trials never share a GPU
//! unless `trials_per_device` says they may. `devices: auto` asks
//! `nvidia-smi -L` which GPUs exist and falls back to the CPU when the tool is
//! missing or lists none.

use std::process::Command;

use hypersweep_search::sweep::Devices;

use crate::runner::Device;

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

/// The slots of a sweep: one device per slot, at most `parallel` of them.
///
/// On the CPU every slot gets [`Device::Cpu`]. With GPUs each device gets
/// `trials_per_device` slots, and the number of slots is capped by both
/// `parallel` and the GPUs available (a trial never waits for a GPU another
/// trial holds).
pub fn slots(devices: &Devices, parallel: usize, trials_per_device: usize) -> Vec<Device> {
    let gpus = match devices {
        Devices::Cpu => Vec::new(),
        Devices::Auto => detect_gpus(),
        Devices::List(ids) => ids.clone(),
        // `Devices` is non-exhaustive; a form added to the sweep file without
        // a slot rule here runs on the CPU rather than on a guessed GPU.
        _ => Vec::new(),
    };
    slots_for(&gpus, parallel, trials_per_device)
}

/// [`slots`] for a known list of GPUs (empty: CPU).
pub fn slots_for(gpus: &[u32], parallel: usize, trials_per_device: usize) -> Vec<Device> {
    let parallel = parallel.max(1);
    if gpus.is_empty() {
        return vec![Device::Cpu; parallel];
    }
    let per = trials_per_device.max(1);
    // Round-robin over devices so that parallel < slots spreads trials over
    // all GPUs before doubling up on one.
    (0..per)
        .flat_map(|_| gpus.iter().map(|&i| Device::Cuda(i)))
        .take(parallel)
        .collect()
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

    #[test]
    fn cpu_gets_parallel_slots() {
        assert_eq!(slots_for(&[], 3, 1), vec![Device::Cpu; 3]);
        assert_eq!(slots(&Devices::Cpu, 0, 1), vec![Device::Cpu]);
    }

    #[test]
    fn gpus_spread_before_sharing() {
        assert_eq!(
            slots_for(&[0, 1], 3, 2),
            vec![Device::Cuda(0), Device::Cuda(1), Device::Cuda(0)]
        );
        // parallel above the device slots: capped, never oversubscribed.
        assert_eq!(slots(&Devices::List(vec![2]), 4, 1), vec![Device::Cuda(2)]);
    }
}
