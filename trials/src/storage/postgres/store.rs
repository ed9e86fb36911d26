//! [`Storage`] on PostgreSQL: each method is a statement or a transaction,
//! run through the pool with retries (`connections.rs`), except the claim,
//! whose transaction spans the caller's decision.
//!
//! A claim runs its decision on the caller's thread (the decision borrows
//! the caller's cache and closure, which cannot move to the store's
//! runtime), so its transaction is driven step by step: begin, lock the
//! study's row and read the changes; decide; insert and commit. The
//! connection is held in a [`ClaimConnection`] between steps: if the
//! decision panics or a step fails, the connection is closed rather than
//! returned to the pool, and the server rolls the transaction back.

use deadpool_postgres::Object;
use hypersweep_search::sweep::SweepSpec;
use std::path::PathBuf;

use super::PostgresStorage;
use super::connections::{ATTEMPTS, Failure, backoff};
use super::rows::{
    NOW_MS, TRIAL_COLUMNS, missing_trial, record_json, state_label, study_exists, to_i64,
    to_i64_saturating, to_u64, trial_from_row, update_row,
};
use crate::error::StorageError;
use crate::storage::{ClaimDecision, NewTrial, Staleness, Storage, StudyCache, StudyRecord, rules};
use crate::trial::{Repeats, Trial, TrialOutcome, TrialUpdate};
use hypersweep_search::TrialState;
use tokio_postgres::GenericClient;

/// Trials numbered above `after` and the listed unfinished ones, by number.
async fn read_changes(
    client: &(impl GenericClient + Sync),
    study: &str,
    after: Option<u64>,
    unfinished: &[u64],
) -> Result<Vec<Trial>, Failure> {
    let above = after.map_or(-1, to_i64_saturating);
    let listed: Vec<i64> = unfinished
        .iter()
        .filter(|&&n| after.is_none_or(|a| n <= a))
        .map(|&n| to_i64_saturating(n))
        .collect();
    let rows = client
        .query(
            &format!(
                "SELECT {TRIAL_COLUMNS} FROM hypersweep_trials t
                 WHERE t.study = $1 AND (t.number > $2 OR t.number = ANY($3))
                 ORDER BY t.number"
            ),
            &[&study, &above, &listed],
        )
        .await?;
    rows.iter().map(|row| trial_from_row(study, row)).collect()
}

/// One trial with its reports, or the reason there is none.
async fn read_trial(
    client: &(impl GenericClient + Sync),
    study: &str,
    number: u64,
    lock: bool,
) -> Result<Trial, Failure> {
    let sql = format!(
        "SELECT {TRIAL_COLUMNS} FROM hypersweep_trials t
         WHERE t.study = $1 AND t.number = $2{}",
        if lock { " FOR UPDATE OF t" } else { "" }
    );
    match client
        .query_opt(&sql, &[&study, &to_i64_saturating(number)])
        .await?
    {
        Some(row) => trial_from_row(study, &row),
        None => Err(missing_trial(client, study, number).await),
    }
}

async fn now_ms(client: &(impl GenericClient + Sync)) -> Result<u64, Failure> {
    let row = client.query_one(&format!("SELECT {NOW_MS}"), &[]).await?;
    to_u64(row.try_get(0)?, || "clock_timestamp()".to_owned())
}

async fn load_study(
    client: &(impl GenericClient + Sync),
    name: &str,
) -> Result<Option<StudyRecord>, Failure> {
    let Some(row) = client
        .query_opt(
            "SELECT spec, created_ms, revisions FROM hypersweep_studies WHERE name = $1",
            &[&name],
        )
        .await?
    else {
        return Ok(None);
    };
    let key = || format!("studies/{name}");
    let spec: &str = row.try_get(0)?;
    let spec: SweepSpec = serde_json::from_str(spec).map_err(|e| StorageError::Corrupt {
        key: key(),
        message: e.to_string(),
    })?;
    let revisions: &str = row.try_get(2)?;
    let revisions = serde_json::from_str(revisions).map_err(|e| StorageError::Corrupt {
        key: key(),
        message: e.to_string(),
    })?;
    Ok(Some(StudyRecord {
        name: name.to_owned(),
        spec,
        created_ms: to_u64(row.try_get(1)?, key)?,
        revisions,
    }))
}

impl PostgresStorage {
    /// Applies `change` to a running trial, under its row lock, and returns
    /// the trial as stored.
    fn update_running<C>(&self, study: &str, number: u64, change: C) -> Result<Trial, StorageError>
    where
        C: Fn(&mut Trial, u64) + Clone + Send + Sync + 'static,
    {
        self.conn.call(
            (study.to_owned(), change),
            move |mut client: Object, (study, change)| async move {
                let tx = client.transaction().await?;
                let mut trial = read_trial(&*tx, &study, number, true).await?;
                rules::ensure_running(&trial)?;
                change(&mut trial, now_ms(&*tx).await?);
                update_row(&*tx, &trial).await?;
                tx.commit().await?;
                Ok(trial)
            },
        )
    }

    /// One attempt at a claim (see the module docs).
    fn try_claim(
        &self,
        study: &str,
        cache: &mut StudyCache,
        decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, Failure> {
        let mut held = ClaimConnection(Some(self.conn.get()?));
        let (after, unfinished) = cache.watermark();
        let begun = self.conn.run({
            let (client, study) = (held.take()?, study.to_owned());
            async move {
                let result = begin_claim(&client, &study, after, &unfinished).await;
                Ok((client, result))
            }
        })?;
        held.0 = Some(begun.0);
        let (number, changes) = begun.1?;
        cache.apply(changes);
        if cache.next_number() != number {
            return Err(StorageError::Backend(format!(
                "study `{study}`: the cache expects trial {} next, the database {number}",
                cache.next_number()
            ))
            .into());
        }
        let Some(new) = decide(cache, number) else {
            let client = held.take()?;
            self.conn.run(async move {
                client
                    .batch_execute("ROLLBACK")
                    .await
                    .map_err(|e| Failure::from(e).into_storage())
            })?;
            return Ok(None);
        };
        let committed = self.conn.run({
            let (client, study) = (held.take()?, study.to_owned());
            async move {
                let result = insert_claimed(&client, &study, number, new).await;
                Ok((client, result))
            }
        })?;
        let (client, trial) = committed;
        held.0 = Some(client);
        let trial = trial?;
        held.release();
        cache.apply([&trial]);
        Ok(Some(trial))
    }
}

/// Begins a claim's transaction: locks the study's row (waiting for any
/// other claim of the study to commit), then reads the changes since the
/// cache's watermark, which now include every earlier claim.
async fn begin_claim(
    client: &Object,
    study: &str,
    after: Option<u64>,
    unfinished: &[u64],
) -> Result<(u64, Vec<Trial>), Failure> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    let row = client
        .query_opt(
            "SELECT next_number FROM hypersweep_studies WHERE name = $1 FOR UPDATE",
            &[&study],
        )
        .await?
        .ok_or_else(|| StorageError::NoStudy(study.to_owned()))?;
    let number = to_u64(row.try_get(0)?, || format!("studies/{study}"))?;
    let changes = read_changes(&***client, study, after, unfinished).await?;
    Ok((number, changes))
}

/// Ends a claim's transaction: stores the trial and the next number.
async fn insert_claimed(
    client: &Object,
    study: &str,
    number: u64,
    new: NewTrial,
) -> Result<Trial, Failure> {
    let trial = rules::new_trial(study, number, new, now_ms(&***client).await?);
    client
        .execute(
            "INSERT INTO hypersweep_trials (study, number, state, asked, heartbeat_ms, record)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &study,
                &to_i64(number)?,
                &state_label(trial.state),
                &trial.asked,
                &to_i64(trial.heartbeat_ms)?,
                &record_json(&trial)?,
            ],
        )
        .await?;
    client
        .execute(
            "UPDATE hypersweep_studies SET next_number = $2 WHERE name = $1",
            &[&study, &to_i64(number + 1)?],
        )
        .await?;
    client.batch_execute("COMMIT").await?;
    Ok(trial)
}

/// A connection inside a claim's transaction. Dropped while still held (an
/// error or a panicking decision), it is detached from the pool and closed,
/// so the server rolls the transaction back and no one reuses it.
struct ClaimConnection(Option<Object>);

impl ClaimConnection {
    fn take(&mut self) -> Result<Object, Failure> {
        self.0.take().ok_or_else(|| {
            StorageError::Backend("a claim's connection was lost between steps".to_owned()).into()
        })
    }

    /// The transaction ended: the connection goes back to the pool.
    fn release(&mut self) {
        self.0.take();
    }
}

impl Drop for ClaimConnection {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

impl Storage for PostgresStorage {
    fn create_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        let spec_json = serde_json::to_string(spec).map_err(|e| StorageError::Corrupt {
            key: format!("studies/{name}"),
            message: e.to_string(),
        })?;
        self.conn.call(
            (name.to_owned(), spec_json),
            |client: Object, (name, spec)| async move {
                client
                    .execute(
                        &format!(
                            "INSERT INTO hypersweep_studies (name, spec, created_ms)
                             VALUES ($1, $2, {NOW_MS}) ON CONFLICT (name) DO NOTHING"
                        ),
                        &[&name, &spec],
                    )
                    .await?;
                load_study(&**client, &name).await?.ok_or_else(|| {
                    StorageError::Backend(format!("study `{name}` was deleted as it was created"))
                        .into()
                })
            },
        )
    }

    fn update_study(&self, name: &str, spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        let spec = spec.clone();
        self.conn.call(
            (name.to_owned(), spec),
            |mut client: Object, (name, spec)| async move {
                let tx = client.transaction().await?;
                let locked = tx
                    .query_opt(
                        "SELECT 1 FROM hypersweep_studies WHERE name = $1 FOR UPDATE",
                        &[&name],
                    )
                    .await?;
                if locked.is_none() {
                    return Err(StorageError::NoStudy(name.clone()).into());
                }
                let mut record = load_study(&*tx, &name)
                    .await?
                    .ok_or_else(|| StorageError::NoStudy(name.clone()))?;
                rules::apply_spec_update(&mut record, &spec, now_ms(&*tx).await?);
                let corrupt = |e: serde_json::Error| StorageError::Corrupt {
                    key: format!("studies/{name}"),
                    message: e.to_string(),
                };
                let spec_json = serde_json::to_string(&record.spec).map_err(corrupt)?;
                let revisions = serde_json::to_string(&record.revisions).map_err(corrupt)?;
                tx.execute(
                    "UPDATE hypersweep_studies SET spec = $2, revisions = $3 WHERE name = $1",
                    &[&name, &spec_json, &revisions],
                )
                .await?;
                tx.commit().await?;
                Ok(record)
            },
        )
    }

    fn load_study(&self, name: &str) -> Result<Option<StudyRecord>, StorageError> {
        self.conn
            .call(name.to_owned(), |client: Object, name| async move {
                load_study(&**client, &name).await
            })
    }

    fn list_studies(&self) -> Result<Vec<String>, StorageError> {
        self.conn.call((), |client: Object, ()| async move {
            // Byte order, as the other backends list them.
            let rows = client
                .query(
                    "SELECT name FROM hypersweep_studies ORDER BY name COLLATE \"C\"",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| row.try_get(0).map_err(Failure::from))
                .collect()
        })
    }

    fn delete_study(&self, name: &str) -> Result<bool, StorageError> {
        // Deleting the row waits for a claim holding it; trials and reports
        // go with it (ON DELETE CASCADE).
        self.conn
            .call(name.to_owned(), |client: Object, name| async move {
                let deleted = client
                    .execute("DELETE FROM hypersweep_studies WHERE name = $1", &[&name])
                    .await?;
                Ok(deleted > 0)
            })
    }

    fn claim(
        &self,
        study: &str,
        cache: &mut StudyCache,
        decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, StorageError> {
        let mut attempt = 1;
        loop {
            match self.try_claim(study, cache, decide) {
                Err(f) if f.is_retryable() && attempt < ATTEMPTS => {
                    tracing::warn!(study, attempt, error = ?f, "PostgreSQL claim retried");
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                result => return result.map_err(Failure::into_storage),
            }
        }
    }

    fn changes(
        &self,
        study: &str,
        after: Option<u64>,
        unfinished: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        self.conn.call(
            (study.to_owned(), unfinished.to_vec()),
            move |client: Object, (study, unfinished)| async move {
                let changes = read_changes(&**client, &study, after, &unfinished).await?;
                if changes.is_empty() && !study_exists(&**client, &study).await? {
                    return Err(StorageError::NoStudy(study).into());
                }
                Ok(changes)
            },
        )
    }

    fn report(&self, study: &str, number: u64, step: u64, value: f64) -> Result<(), StorageError> {
        // One statement: the UPDATE locks the running row, so a finish
        // racing with this report either waits for it or makes it a no-op.
        self.conn
            .call(study.to_owned(), move |client: Object, study| async move {
                let inserted = client
                    .execute(
                        &format!(
                            "WITH t AS (
                             UPDATE hypersweep_trials SET heartbeat_ms = {NOW_MS}
                             WHERE study = $1 AND number = $2 AND state = 'running'
                             RETURNING study, number)
                         INSERT INTO hypersweep_reports (study, number, step, value)
                         SELECT study, number, $3::int8, $4::float8 FROM t
                         ON CONFLICT (study, number, step) DO UPDATE SET value = EXCLUDED.value"
                        ),
                        &[&study, &to_i64_saturating(number), &to_i64(step)?, &value],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(missing_trial(&**client, &study, number).await);
                }
                Ok(())
            })
    }

    fn set_params(
        &self,
        study: &str,
        number: u64,
        update: TrialUpdate,
    ) -> Result<(), StorageError> {
        self.update_running(study, number, move |t, _| update.clone().apply(t))
            .map(drop)
    }

    fn set_repeats(&self, study: &str, number: u64, repeats: Repeats) -> Result<(), StorageError> {
        self.update_running(study, number, move |t, now| {
            t.repeats = Some(repeats.clone());
            t.heartbeat_ms = now;
        })
        .map(drop)
    }

    fn set_log_path(&self, study: &str, number: u64, path: PathBuf) -> Result<(), StorageError> {
        self.update_running(study, number, move |t, _| t.log_path = Some(path.clone()))
            .map(drop)
    }

    fn heartbeat(&self, study: &str, number: u64) -> Result<(), StorageError> {
        self.conn
            .call(study.to_owned(), move |client: Object, study| async move {
                let updated = client
                    .execute(
                        &format!(
                            "UPDATE hypersweep_trials SET heartbeat_ms = {NOW_MS}
                         WHERE study = $1 AND number = $2 AND state = 'running'"
                        ),
                        &[&study, &to_i64_saturating(number)],
                    )
                    .await?;
                if updated == 0 {
                    return Err(missing_trial(&**client, &study, number).await);
                }
                Ok(())
            })
    }

    fn finish_trial(
        &self,
        study: &str,
        number: u64,
        outcome: TrialOutcome,
    ) -> Result<Trial, StorageError> {
        rules::ensure_final(study, number, &outcome)?;
        self.update_running(study, number, move |t, now| {
            rules::apply_finish(t, outcome.clone(), now);
        })
    }

    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        self.conn
            .call(study.to_owned(), move |client: Object, study| async move {
                read_trial(&**client, &study, number, false).await
            })
    }

    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError> {
        self.changes(study, None, &[])
    }

    fn reap_stale(
        &self,
        study: &str,
        staleness: Staleness,
        reason: &str,
    ) -> Result<Vec<Trial>, StorageError> {
        self.conn.call(
            (study.to_owned(), reason.to_owned()),
            move |mut client: Object, (study, reason)| async move {
                let tx = client.transaction().await?;
                // Locks the running trials; one finished meanwhile is
                // skipped (its row no longer matches once the lock is had).
                let rows = tx
                    .query(
                        &format!(
                            "SELECT {TRIAL_COLUMNS} FROM hypersweep_trials t
                             WHERE t.study = $1 AND t.state = 'running'
                             ORDER BY t.number FOR UPDATE OF t"
                        ),
                        &[&study],
                    )
                    .await?;
                if rows.is_empty() && !study_exists(&*tx, &study).await? {
                    return Err(StorageError::NoStudy(study).into());
                }
                let now = now_ms(&*tx).await?;
                let mut reaped = Vec::new();
                for row in &rows {
                    let mut trial = trial_from_row(&study, row)?;
                    if trial.state == TrialState::Running && rules::is_stale(&trial, staleness, now)
                    {
                        rules::apply_finish(&mut trial, rules::reaped_outcome(&reason), now);
                        update_row(&*tx, &trial).await?;
                        reaped.push(trial);
                    }
                }
                tx.commit().await?;
                Ok(reaped)
            },
        )
    }
}
