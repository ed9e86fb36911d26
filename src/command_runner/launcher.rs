//! What a trial on GPUs is told besides `CUDA_VISIBLE_DEVICES`, so that a
//! trial that starts its own processes, one per GPU (torchrun,
//! `torch.multiprocessing.spawn` with `init_method="env://"`, Lightning,
//! Accelerate, Horovod), uses all of its slot's GPUs, and two such trials on
//! one machine never meet at one rendezvous port.
//!
//! The names are the launchers' own, so that a script needs no change:
//!
//! - `HYPERSWEEP_GPUS`: how many GPUs the slot owns (`gpus_per_trial`), for
//!   `mp.spawn(nprocs=...)` or `horovodrun -np`;
//! - `MASTER_ADDR=127.0.0.1` and `MASTER_PORT`: the rendezvous of
//!   `env://` process groups (PyTorch's default init method; Lightning and
//!   Accelerate read them too);
//! - `PET_NPROC_PER_NODE`, `PET_MASTER_ADDR`, `PET_MASTER_PORT`: torchrun
//!   reads every option it is not given on its command line from a `PET_`
//!   variable, so a plain `torchrun train.py` starts one process per GPU of
//!   the slot at the slot's port (its `--standalone` mode finds a port of its
//!   own, and flags given on the command line win).
//!
//! Per-process variables (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`,
//! `LOCAL_WORLD_SIZE`) are left to the launcher: set on the trial process
//! itself they would make a script believe a launcher had already started
//! it. Horovod picks its own free ports, and needs only the GPU count.
//!
//! The port is a free one the OS gives (bound to port 0 and released, as
//! torchrun's standalone mode and Ray do), and this process hands no port to
//! two running trials at once: a trial's [`PortLease`] holds it until the
//! trial ends. A variable the runner's own `env` sets is not overridden.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hypersweep_trials::Device;

/// The rendezvous address: a slot's GPUs are all on this machine.
const LOOPBACK: &str = "127.0.0.1";
/// Draws of a free port before giving up (each draw that returns a port
/// leased to a running trial is drawn again).
const PORT_DRAWS: usize = 64;

/// Ports leased to running trials of this process.
static LEASED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn leased() -> MutexGuard<'static, BTreeSet<u16>> {
    // The set stays valid whatever a panicking holder did: it only holds
    // ports.
    LEASED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A rendezvous port held for one running trial; released on drop.
#[derive(Debug)]
pub(crate) struct PortLease {
    port: u16,
}

impl PortLease {
    /// A port free on this machine now and leased to no running trial of
    /// this process.
    pub(crate) fn take() -> Result<PortLease, String> {
        for _ in 0..PORT_DRAWS {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| format!("cannot find a free rendezvous port: {e}"))?;
            let port = listener
                .local_addr()
                .map_err(|e| format!("cannot find a free rendezvous port: {e}"))?
                .port();
            if leased().insert(port) {
                return Ok(PortLease { port });
            }
        }
        Err(format!(
            "cannot find a free rendezvous port: {PORT_DRAWS} draws all gave ports of running trials"
        ))
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        leased().remove(&self.port);
    }
}

/// What a trial process is told about its slot's GPUs.
#[derive(Debug)]
pub(crate) struct LauncherEnv {
    /// The variables to set.
    pub(crate) vars: Vec<(&'static str, String)>,
    /// The lease of the rendezvous port, to keep until the trial ends.
    pub(crate) lease: Option<PortLease>,
}

/// The variables of a trial on `device` (none on the CPU, where
/// `CUDA_VISIBLE_DEVICES` is inherited as it is). `user_env` is the
/// runner's own `env`, whose variables win.
pub(crate) fn launcher_env(
    device: Device,
    user_env: &[(String, String)],
) -> Result<LauncherEnv, String> {
    let Some(visible) = device.cuda_visible_devices() else {
        return Ok(LauncherEnv {
            vars: Vec::new(),
            lease: None,
        });
    };
    let lease = PortLease::take()?;
    let gpus = device.gpus().len().to_string();
    let port = lease.port().to_string();
    let vars = [
        ("CUDA_VISIBLE_DEVICES", visible),
        ("HYPERSWEEP_GPUS", gpus.clone()),
        ("MASTER_ADDR", LOOPBACK.to_owned()),
        ("MASTER_PORT", port.clone()),
        ("PET_NPROC_PER_NODE", gpus),
        ("PET_MASTER_ADDR", LOOPBACK.to_owned()),
        ("PET_MASTER_PORT", port),
    ];
    let vars = vars
        .into_iter()
        .filter(|(key, _)| !user_env.iter().any(|(k, _)| k == key))
        .collect();
    Ok(LauncherEnv {
        vars,
        lease: Some(lease),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_distinct_while_held_and_freed_on_drop() {
        let leases: Vec<PortLease> = (0..8).map(|_| PortLease::take().unwrap()).collect();
        let ports: BTreeSet<u16> = leases.iter().map(PortLease::port).collect();
        assert_eq!(ports.len(), leases.len());
        assert!(ports.iter().all(|p| leased().contains(p)));
        // Port 1 is privileged: no draw of port 0 returns it, so no other
        // test touches it.
        leased().insert(1);
        drop(PortLease { port: 1 });
        assert!(!leased().contains(&1));
    }

    #[test]
    fn cpu_slots_get_nothing_and_user_env_wins() {
        let cpu = launcher_env(Device::Cpu, &[]).unwrap();
        assert!(cpu.vars.is_empty() && cpu.lease.is_none());
        let group = Device::from_gpus(&[0, 1]).unwrap();
        let user = [("MASTER_ADDR".to_owned(), "10.0.0.1".to_owned())];
        let LauncherEnv { vars, lease } = launcher_env(group, &user).unwrap();
        assert!(vars.iter().all(|(k, _)| *k != "MASTER_ADDR"));
        let port = lease.unwrap().port().to_string();
        let get = |key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        assert_eq!(get("CUDA_VISIBLE_DEVICES").as_deref(), Some("0,1"));
        assert_eq!(get("HYPERSWEEP_GPUS").as_deref(), Some("2"));
        assert_eq!(get("PET_NPROC_PER_NODE").as_deref(), Some("2"));
        assert_eq!(get("MASTER_PORT"), Some(port.clone()));
        assert_eq!(get("PET_MASTER_PORT"), Some(port));
    }
}
