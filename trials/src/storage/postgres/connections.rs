//! Connections to the database: a runtime of the store's own, a bounded
//! pool, and retries.
//!
//! Why a runtime of its own: [`Storage`](crate::Storage) is synchronous and
//! is called from plain threads, from tokio workers inside `block_in_place`
//! ([`crate::blocking`]), from `spawn_blocking` threads, and directly on a
//! current-thread runtime (`#[tokio::test]`, small embedders). Blocking on a
//! future with `block_on` panics in that last case, and the sync `postgres`
//! crate (which `r2d2_postgres` wraps) blocks that way internally. So each
//! store owns a two-thread tokio runtime that runs tokio-postgres's
//! connections and the pool; a sync method spawns its future there and waits
//! on a std channel, which works from any thread, in or out of a runtime.
//!
//! Why deadpool-postgres: the maintained pool for tokio-postgres. It is
//! bounded ([`POOL_SIZE`] connections per store, which is per process), times
//! out waiting for a connection and connecting rather than hanging, and drops
//! a connection that closed instead of handing it out again.
//!
//! Retries: a serialization failure or deadlock (SQLSTATE 40001, 40P01), a
//! server shutting a connection down (57P01..57P03, class 08) or a dropped
//! socket make the whole operation run again, at most [`ATTEMPTS`] times with
//! a short doubling backoff. Operations are transactions or single
//! statements, so a failed attempt left nothing behind; a broken connection
//! is not reused (the pool checks `is_closed` before handing one out), so the
//! next attempt runs on a fresh one.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::error::StorageError;

/// Connections per store handle (per process). Claims hold one through their
/// decision; reports and heartbeats of the running trials share the rest.
pub(super) const POOL_SIZE: usize = 8;
/// Worker threads of the store's runtime: they only drive sockets.
const RUNTIME_THREADS: usize = 2;
/// Longest wait for a free connection or for a new one to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Tries of one operation, the first included.
pub(super) const ATTEMPTS: u32 = 5;
/// Backoff before the second try; doubled before each later one.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// Why an attempt failed: the database (maybe worth a retry) or the store's
/// own rules (never).
#[derive(Debug)]
pub(super) enum Failure {
    /// From the server or the connection.
    Db(tokio_postgres::Error),
    /// A rule of the store (no such trial, already finished, corrupt row).
    Store(StorageError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Failure::Store(e)
    }
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => Failure::Db(e),
            other => Failure::Store(StorageError::Backend(format!(
                "no PostgreSQL connection: {other}"
            ))),
        }
    }
}

impl Failure {
    /// True when running the operation again may succeed.
    pub(super) fn is_retryable(&self) -> bool {
        let Failure::Db(e) = self else {
            return false;
        };
        if let Some(code) = e.code() {
            return *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || code.code().starts_with("08");
        }
        e.is_closed() || source_is_io(e)
    }

    /// The error a caller sees.
    pub(super) fn into_storage(self) -> StorageError {
        match self {
            Failure::Store(e) => e,
            Failure::Db(e) => StorageError::Backend(describe(&e)),
        }
    }
}

fn source_is_io(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The server's message and SQLSTATE when there is one, else the chain of
/// causes (tokio-postgres's own text is only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "PostgreSQL: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        );
    }
    let mut text = format!("PostgreSQL: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The store's runtime and pool.
pub(super) struct Connections {
    /// `Some` until drop, which shuts it down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// Where the database is, for messages (no password).
    label: String,
}

impl Connections {
    /// Starts the runtime and the (still empty) pool.
    pub(super) fn open(url: &str) -> Result<Self, StorageError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        let label = label(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("hypersweep-postgres")
            .enable_all()
            .build()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StorageError::Backend(format!("PostgreSQL pool: {e}")))?;
        Ok(Connections {
            runtime: Some(runtime),
            pool,
            label,
        })
    }

    /// Where the database is (host, port, database; no password).
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Runs `fut` on the store's runtime and waits for it, from any thread.
    pub(super) fn run<T, F>(&self, fut: F) -> Result<T, StorageError>
    where
        F: Future<Output = Result<T, StorageError>> + Send + 'static,
        T: Send + 'static,
    {
        let stopped = || StorageError::Backend("the PostgreSQL store's runtime stopped".to_owned());
        let runtime = self.runtime.as_ref().ok_or_else(stopped)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The caller may be gone only if it panicked; nothing to tell.
            let _ = tx.send(fut.await);
        });
        // A panic inside `fut` drops `tx`: an error here, not a hang.
        rx.recv().map_err(|_| stopped())?
    }

    /// Runs `op` on a pooled connection with `args`, retrying as the module
    /// docs say, and waits for its result.
    pub(super) fn call<A, T, F, Fut>(&self, args: A, op: F) -> Result<T, StorageError>
    where
        A: Clone + Send + 'static,
        T: Send + 'static,
        F: Fn(Object, A) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.run(async move {
            let mut attempt = 1;
            loop {
                let result = match pool.get().await {
                    Ok(client) => op(client, args.clone()).await,
                    Err(e) => Err(Failure::from(e)),
                };
                match result {
                    Ok(value) => return Ok(value),
                    Err(f) if f.is_retryable() && attempt < ATTEMPTS => {
                        tracing::warn!(attempt, error = ?f, "PostgreSQL operation retried");
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(f) => return Err(f.into_storage()),
                }
            }
        })
    }

    /// A connection of the pool, for a transaction that spans several calls
    /// (a claim, which decides on the caller's thread).
    pub(super) fn get(&self) -> Result<Object, Failure> {
        let pool = self.pool.clone();
        self.run(async move { Ok(pool.get().await.map_err(Failure::from)) })?
    }
}

/// The pause after failed attempt number `attempt` (from 1).
pub(super) fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(6))
}

impl Drop for Connections {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks end, which panics when
        // the store is dropped inside an async context; nothing is pending
        // here once every call has returned, so background shutdown loses
        // nothing.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn label(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgres://{host}:{port}/{db}")
}
