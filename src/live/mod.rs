//! Live inspection of a sled store through the process that owns it.
//!
//! sled cannot be opened by two processes, so while `hypersweep run` (or an
//! embedder) owns a store, `status`, `best` and `export` could not read it
//! and an overnight sweep could not be checked until it ended. The owner
//! therefore serves read-only requests on a Unix socket in the store
//! directory ([`serve`], `<store>/hypersweep.sock`), and a reader that finds
//! the store locked connects there instead ([`LiveStorage`], a [`Storage`]
//! whose writes are refused).
//!
//! A Unix socket rather than TCP: it is reachable only from this machine,
//! and its file mode (0600) limits it to the user who owns the sweep, with no
//! token to manage. The protocol ([`protocol`]) is JSON lines, bounded on both
//! sides, so a misbehaving client costs the owner one thread and a few
//! kilobytes, never a panic or a stalled sweep.
//!
//! [`Storage`]: hypersweep_trials::Storage

mod client;
pub mod protocol;
mod server;

use std::path::PathBuf;

use thiserror::Error;

pub use client::LiveStorage;
pub use server::{LiveServer, MAX_CONNECTIONS, serve};

/// Name of the socket file inside the store directory.
pub const SOCKET_FILE: &str = "hypersweep.sock";

/// Why a live server could not start, or its owner could not be reached.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The socket could not be created.
    #[error("cannot serve the store on {path}: {source}")]
    Serve {
        /// Socket path.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Nobody answers on the socket (no owner, or an owner without a server).
    #[error("cannot reach the store's owner on {socket}: {source}")]
    Connect {
        /// Socket path.
        socket: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Something answered, but not as an owner would.
    #[error("the store's owner did not answer the greeting: {0}")]
    Handshake(String),
}

#[cfg(test)]
mod tests;
