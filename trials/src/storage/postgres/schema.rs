//! The tables, their version, and the migrations between versions.
//!
//! `hypersweep_meta` holds `schema_version`. On connect, every process runs
//! [`migrate`]: one transaction that first takes a transaction-scoped
//! advisory lock, so two processes connecting to a new database at once do
//! not both create the tables (`CREATE TABLE IF NOT EXISTS` alone races on
//! the catalog); it then applies the migrations from the version found to
//! [`SCHEMA_VERSION`]. A database written by a newer hypersweep is refused
//! rather than misread.
//!
//! Tables (`hypersweep_` prefix, so the database may hold other things):
//! - `studies`: name, spec (JSON), created_ms, and `next_number`, the
//!   counter a claim bumps in its transaction (gap-free, unlike a SEQUENCE);
//! - `trials`: (study, number) key, `state`, `asked`, `heartbeat_ms` as
//!   columns for the queries, and the rest of the [`Trial`](crate::Trial) as
//!   its serde JSON (which keeps NaN and infinities). JSON is kept as text,
//!   byte for byte: `jsonb` would reorder the params' keys;
//! - `reports`: (study, number, step) key and a float8 value (float8 stores
//!   NaN and infinities), so a report is one small row however long the
//!   trial runs.
//!
//! The partial index on running trials serves reaping and the catch-up of
//! unfinished trials; everything else goes through the primary keys.

use deadpool_postgres::Object;

use super::connections::Failure;
use crate::error::StorageError;

/// The schema version this build writes and reads.
pub(super) const SCHEMA_VERSION: u32 = 1;

/// Key of the advisory lock held while migrating ("hyperswe" in ASCII).
const MIGRATION_LOCK: i64 = 0x6879_7065_7273_7765;

/// `MIGRATIONS[v]` takes a database from version `v` to `v + 1` (version 0:
/// no tables yet).
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1];

const V1: &str = "
CREATE TABLE hypersweep_studies (
    name        text PRIMARY KEY,
    spec        text NOT NULL,
    created_ms  int8 NOT NULL,
    next_number int8 NOT NULL DEFAULT 0,
    revisions   text NOT NULL DEFAULT '[]'
);
CREATE TABLE hypersweep_trials (
    study        text NOT NULL REFERENCES hypersweep_studies (name) ON DELETE CASCADE,
    number       int8 NOT NULL,
    state        text NOT NULL,
    asked        bool NOT NULL,
    heartbeat_ms int8 NOT NULL,
    record       text NOT NULL,
    PRIMARY KEY (study, number)
);
CREATE INDEX hypersweep_trials_running ON hypersweep_trials (study, number)
    WHERE state = 'running';
CREATE TABLE hypersweep_reports (
    study  text NOT NULL,
    number int8 NOT NULL,
    step   int8 NOT NULL,
    value  float8 NOT NULL,
    PRIMARY KEY (study, number, step),
    FOREIGN KEY (study, number) REFERENCES hypersweep_trials (study, number) ON DELETE CASCADE
);
";

/// Creates or migrates the tables (see the module docs).
pub(super) async fn migrate(client: &mut Object, label: &str) -> Result<(), Failure> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS hypersweep_meta (key text PRIMARY KEY, value text NOT NULL)",
    )
    .await?;
    let found: Option<String> = tx
        .query_opt(
            "SELECT value FROM hypersweep_meta WHERE key = 'schema_version'",
            &[],
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    let current = match found {
        None => 0,
        Some(text) => match text.parse::<u32>() {
            Ok(v) if v <= SCHEMA_VERSION => v,
            _ => {
                return Err(StorageError::SchemaVersion {
                    path: label.to_owned(),
                    found: text,
                    expected: SCHEMA_VERSION,
                }
                .into());
            }
        },
    };
    for sql in &MIGRATIONS[current as usize..] {
        tx.batch_execute(sql).await?;
    }
    if current != SCHEMA_VERSION {
        tx.execute(
            "INSERT INTO hypersweep_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&SCHEMA_VERSION.to_string()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
