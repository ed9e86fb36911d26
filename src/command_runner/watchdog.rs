//! Trial process groups die with hypersweep, even by SIGKILL.
//!
//! A trial runs in its own process group, killed when the trial ends, when
//! its future is dropped, and on Ctrl-C. None of that runs when hypersweep
//! itself is SIGKILLed (the OOM killer, a cluster's scheduler, `kill -9`):
//! the trials would live on until they next write to their closed pipes, so
//! a GPU trial that prints once an epoch would keep its GPU beside the
//! resumed sweep's trials.
//!
//! The watchdog is a tiny `/bin/sh` process started once, in its own process
//! group (so Ctrl-C on the terminal does not reach it). hypersweep keeps the
//! only write end of a pipe to its stdin and writes `add PGID` when a trial
//! group starts and `del PGID` when it is gone. When hypersweep dies for any
//! reason the kernel closes that pipe; the watchdog reads EOF and SIGKILLs
//! every group still registered, then exits. At a normal exit no group is
//! left, so it kills nothing.
//!
//! Why not `PR_SET_PDEATHSIG` in each trial: the signal follows the death of
//! the *thread* that forked the child, and tokio retires threads (a worker
//! handed to `block_in_place` may end as an idle blocking thread), which would
//! kill healthy trials; and it reaches only the group leader, not what the
//! leader started. Limits: a trial that leaves its process group (`setsid`,
//! a daemonizing launcher) escapes and is its own responsibility; a SIGKILL
//! between a trial's spawn and its `add` (microseconds) can orphan it.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The watchdog's script: groups are kept as ` PGID PGID ... ` in a string.
const SCRIPT: &str = r#"trap '' INT HUP TERM
groups=" "
while read -r op g; do
  case "$op" in
    add) groups="$groups$g " ;;
    del) case "$groups" in *" $g "*) groups="${groups%% $g *} ${groups#* $g }" ;; esac ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
"#;

/// The pipe to the watchdog; `None` when it could not be started (trials
/// then run without the protection, after one warning).
static WATCHDOG: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();

fn watchdog() -> &'static Mutex<Option<ChildStdin>> {
    WATCHDOG.get_or_init(|| {
        use std::os::unix::process::CommandExt;
        let started = Command::new("/bin/sh")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match started {
            // The child is never waited for: it outlives us by design, and
            // at our exit it is reparented and reaped by init.
            Ok(mut child) => Mutex::new(child.stdin.take()),
            Err(e) => {
                tracing::warn!(
                    "cannot start the trial watchdog (/bin/sh): {e}; trials may outlive a killed hypersweep"
                );
                Mutex::new(None)
            }
        }
    })
}

fn send(line: std::fmt::Arguments<'_>) {
    let Ok(mut pipe) = watchdog().lock() else {
        return;
    };
    let failed = pipe.as_mut().map(|stdin| stdin.write_fmt(line));
    if let Some(Err(e)) = failed {
        tracing::warn!("the trial watchdog is gone ({e}); trials may outlive a killed hypersweep");
        *pipe = None;
    }
}

/// Registers a trial's process group: killed if hypersweep dies before
/// [`release`].
pub(crate) fn watch(pgid: libc::pid_t) {
    send(format_args!("add {pgid}\n"));
}

/// Forgets a group that is gone, so that its id, once reused by an
/// unrelated group, is never killed.
pub(crate) fn release(pgid: libc::pid_t) {
    send(format_args!("del {pgid}\n"));
}
