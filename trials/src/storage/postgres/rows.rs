//! Trials as rows: the columns read back, and the conversions between the
//! database's signed integers and the store's unsigned numbers.
//!
//! A trial's row keeps its record as JSON without intermediate values (they
//! live in `hypersweep_reports`) and with the heartbeat as a column (the one
//! field that changes often); [`TRIAL_COLUMNS`] reads both back in one
//! statement, so a trial and its reports come from one snapshot.

use hypersweep_search::TrialState;
use tokio_postgres::{GenericClient, Row};

use super::connections::Failure;
use crate::error::StorageError;
use crate::trial::Trial;

/// The database's clock, in ms since the Unix epoch: every timestamp the
/// store writes or compares comes from here, so processes agree.
pub(super) const NOW_MS: &str = "floor(extract(epoch FROM clock_timestamp()) * 1000)::int8";

/// The columns [`trial_from_row`] reads, for a query over `hypersweep_trials t`.
pub(super) const TRIAL_COLUMNS: &str = "t.number, t.record, t.heartbeat_ms,
    ARRAY(SELECT r.step FROM hypersweep_reports r
          WHERE r.study = t.study AND r.number = t.number ORDER BY r.step),
    ARRAY(SELECT r.value FROM hypersweep_reports r
          WHERE r.study = t.study AND r.number = t.number ORDER BY r.step)";

/// The `state` column's value.
pub(super) fn state_label(state: TrialState) -> &'static str {
    match state {
        TrialState::Running => "running",
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        TrialState::Failed => "failed",
    }
}

/// A trial read with [`TRIAL_COLUMNS`].
pub(super) fn trial_from_row(study: &str, row: &Row) -> Result<Trial, Failure> {
    let number = to_u64(row.try_get(0)?, || format!("trials/{study}"))?;
    let label = || format!("trials/{study}/{number}");
    let record: &str = row.try_get(1)?;
    let mut trial: Trial = serde_json::from_str(record).map_err(|e| corrupt(label(), e))?;
    trial.heartbeat_ms = to_u64(row.try_get(2)?, label)?;
    let steps: Vec<i64> = row.try_get(3)?;
    let values: Vec<f64> = row.try_get(4)?;
    trial.intermediate = steps
        .into_iter()
        .zip(values)
        .map(|(step, value)| Ok((to_u64(step, label)?, value)))
        .collect::<Result<_, Failure>>()?;
    Ok(trial)
}

/// The JSON kept in the `record` column.
pub(super) fn record_json(trial: &Trial) -> Result<String, Failure> {
    let stored = Trial {
        intermediate: Vec::new(),
        ..trial.clone()
    };
    serde_json::to_string(&stored)
        .map_err(|e| corrupt(format!("trials/{}/{}", trial.study, trial.number), e).into())
}

/// Writes every column of an existing trial's row from `trial`.
pub(super) async fn update_row(
    client: &(impl GenericClient + Sync),
    trial: &Trial,
) -> Result<(), Failure> {
    client
        .execute(
            "UPDATE hypersweep_trials SET state = $3, asked = $4, heartbeat_ms = $5, record = $6
             WHERE study = $1 AND number = $2",
            &[
                &trial.study,
                &to_i64(trial.number)?,
                &state_label(trial.state),
                &trial.asked,
                &to_i64(trial.heartbeat_ms)?,
                &record_json(trial)?,
            ],
        )
        .await?;
    Ok(())
}

/// The error of an operation on trial `number` whose row was not found or
/// not running: which of NoStudy, NoTrial or AlreadyFinished it is.
pub(super) async fn missing_trial(
    client: &(impl GenericClient + Sync),
    study: &str,
    number: u64,
) -> Failure {
    let query = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM hypersweep_studies WHERE name = $1),
                    (SELECT state FROM hypersweep_trials WHERE study = $1 AND number = $2)",
            &[&study, &to_i64_saturating(number)],
        )
        .await;
    let row = match query {
        Ok(row) => row,
        Err(e) => return e.into(),
    };
    let (exists, state): (bool, Option<String>) = match (row.try_get(0), row.try_get(1)) {
        (Ok(exists), Ok(state)) => (exists, state),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    let (study, number) = (study.to_owned(), number);
    match state {
        Some(s) if s != state_label(TrialState::Running) => {
            StorageError::AlreadyFinished { study, number }.into()
        }
        Some(_) => StorageError::Backend(format!(
            "trial {number} of study `{study}` changed during the operation"
        ))
        .into(),
        None if exists => StorageError::NoTrial { study, number }.into(),
        None => StorageError::NoStudy(study).into(),
    }
}

/// Whether the study exists (to tell an empty answer from a missing study).
pub(super) async fn study_exists(
    client: &(impl GenericClient + Sync),
    study: &str,
) -> Result<bool, Failure> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM hypersweep_studies WHERE name = $1)",
            &[&study],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// A number, step or time as the database's int8.
pub(super) fn to_i64(x: u64) -> Result<i64, Failure> {
    i64::try_from(x)
        .map_err(|_| StorageError::Backend(format!("{x} is beyond PostgreSQL's int8")).into())
}

/// As [`to_i64`], for bounds of a query, where anything beyond int8 means
/// "beyond every row".
pub(super) fn to_i64_saturating(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// An int8 read back; negative only in a damaged table.
pub(super) fn to_u64(x: i64, key: impl FnOnce() -> String) -> Result<u64, Failure> {
    u64::try_from(x).map_err(|e| corrupt(key(), e).into())
}

fn corrupt(key: String, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        key,
        message: e.to_string(),
    }
}
