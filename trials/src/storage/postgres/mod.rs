//! PostgreSQL storage (feature `postgres`): several processes or machines on
//! one study.
//!
//! The database does what the in-process locks do for the embedded stores:
//! - a claim is one transaction that locks the study's row
//!   (`SELECT ... FOR UPDATE`), so claims of a study are serialised across
//!   every connection; the study's `next_number` counter is bumped in that
//!   transaction, so numbers stay gap-free even when a claim rolls back (a
//!   SEQUENCE would leave a gap);
//! - a trial changes only while its row says `running`, checked under the
//!   row's lock, so a finished trial never changes;
//! - every timestamp (start, heartbeat, finish, the "now" a staleness is
//!   judged against) is read from the database's clock, so machines with
//!   skewed clocks agree on which trials are stale.
//!
//! The life-cycle rules themselves (what a report, a finish or a reap does
//! to a trial) come from `rules.rs`, as for the other backends. The module is
//! split by concept: `connections.rs` (runtime, pool, retries), `schema.rs`
//! (tables and migrations), `rows.rs` (trial rows to records and back) and
//! `store.rs` (the [`Storage`] implementation).
//!
//! Connections are plain TCP or Unix sockets without TLS: the intended
//! deployment is a database on a private network or reached through a
//! tunnel.

mod connections;
mod rows;
mod schema;
mod store;

use connections::Connections;

use crate::error::StorageError;

/// [`Storage`](super::Storage) in a PostgreSQL database, shared by any number
/// of processes.
///
/// Each handle owns a small runtime and a bounded pool of connections (see
/// `connections.rs` for why); its methods block their caller for a round trip
/// or a few, from any thread or runtime. The tables are prefixed
/// `hypersweep_`, so the database may hold other things too.
pub struct PostgresStorage {
    conn: Connections,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("database", &self.conn.label())
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// The schema version this build writes and reads.
    pub const SCHEMA_VERSION: u32 = schema::SCHEMA_VERSION;

    /// Connects to the database at `url` (`postgres://user@host:port/db`, or
    /// libpq's `key=value` form), creating or migrating the tables.
    ///
    /// Fails with [`StorageError::SchemaVersion`] when a newer hypersweep has
    /// written the database, and with [`StorageError::Backend`] when the URL
    /// is invalid or the server cannot be reached.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        let conn = Connections::open(url)?;
        let label = conn.label().to_owned();
        conn.call(label, |client, label| async move {
            let mut client = client;
            schema::migrate(&mut client, &label).await
        })?;
        Ok(PostgresStorage { conn })
    }
}
