//! The trial process: its own process group and termination of the whole
//! group.
//!
//! The child is started as the leader of a new process group, so a
//! termination reaches everything it started (a shell's children, data
//! loader workers) and not only the direct child. Terminating sends
//! SIGTERM to the group, waits up to the grace period while still reading
//! output, then sends SIGKILL to the group. Once the leader has exited, any
//! member still alive gets SIGKILL too, so a trial leaves no orphans. If the
//! future running a trial is dropped mid-way, [`GroupGuard`] kills the group
//! and tokio reaps the leader (`kill_on_drop`). If hypersweep itself is
//! killed, the watchdog (`watchdog.rs`) kills the group.

use std::time::Duration;

use tokio::process::Child;

use super::watchdog;

/// How long output is still read after the group is gone, for data left in
/// the pipes; only a process that left the group can keep a pipe open
/// longer.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// Kills the process group on drop unless disarmed.
#[derive(Debug)]
pub(crate) struct GroupGuard {
    pgid: Option<libc::pid_t>,
}

impl GroupGuard {
    /// Guards the group led by `child`.
    pub(crate) fn new(child: &Child) -> Self {
        let pgid = child.id().and_then(|id| libc::pid_t::try_from(id).ok());
        if let Some(pgid) = pgid {
            watchdog::watch(pgid);
        }
        GroupGuard { pgid }
    }

    /// Sends `signal` to every process of the group.
    pub(crate) fn signal(&self, signal: libc::c_int) {
        if let Some(pgid) = self.pgid {
            // SAFETY: kill(2) with a negative pid signals a process group; it
            // touches no memory of ours. ESRCH (group gone) is expected and
            // ignored.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }

    /// Kills what is left of the group and stops guarding it.
    pub(crate) fn kill_rest(&mut self) {
        self.signal(libc::SIGKILL);
        if let Some(pgid) = self.pgid.take() {
            watchdog::release(pgid);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_rest();
    }
}

/// Words for how a process ended, from its exit status.
pub(crate) fn describe_exit(status: std::process::ExitStatus) -> ExitKind {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => ExitKind::Success,
        (Some(code), _) => ExitKind::Code(code),
        (None, Some(signal)) => ExitKind::Signal(signal),
        (None, None) => ExitKind::Code(-1),
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitKind {
    /// Exit code 0.
    Success,
    /// Another exit code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}
