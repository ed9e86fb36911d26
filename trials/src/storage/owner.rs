//! Which process owns a store directory.
//!
//! A sled store belongs to one process at a time. sled itself refuses a
//! second open with an opaque I/O error, so before sled is touched the store
//! takes its own advisory lock (`flock`, through `File::try_lock`) on
//! `owner.pid` and writes its pid into it. A second process then fails at
//! once, with the owner's pid to show the user. The operating system drops
//! the lock when the owner exits, even by `kill -9`; the stale pid file that
//! such a death leaves behind is simply overwritten by the next owner.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::StorageError;

/// Name of the pid file inside the store directory.
pub(crate) const PID_FILE: &str = "owner.pid";

/// Held for the life of an open store; removes the pid file on drop.
#[derive(Debug)]
pub(crate) struct OwnerLock {
    path: PathBuf,
    // Closing this file releases the lock, so it must outlive the database.
    _file: File,
}

impl OwnerLock {
    /// Takes ownership of `dir`, or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, StorageError> {
        let path = dir.join(PID_FILE);
        // A departing owner unlinks the file while still holding the lock; a
        // contender that opened the old file just before would then lock a
        // file nobody else sees. Re-checking that the path still names the
        // locked file closes that window; a couple of retries are plenty.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(locked(dir)),
                Err(TryLockError::Error(e)) => return Err(StorageError::Io(e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            return Ok(OwnerLock { path, _file: file });
        }
        Err(locked(dir))
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Best effort: a leftover file is harmless (the lock is what counts).
        let _ = fs::remove_file(&self.path);
    }
}

/// The error for a store owned by another process, with its pid if known.
pub(crate) fn locked(dir: &Path) -> StorageError {
    StorageError::Locked {
        path: dir.display().to_string(),
        pid: read_owner_pid(dir).unwrap_or(0),
    }
}

/// The pid written by the store's current (or last) owner.
pub(crate) fn read_owner_pid(dir: &Path) -> Option<u32> {
    fs::read_to_string(dir.join(PID_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    // Windows cannot unlink a file that is open, so the race cannot happen.
    path.exists()
}
