//! Many processes on one study in PostgreSQL: trials per second with 1, 4
//! and 16 worker processes, and the cost of one claim (catch-up, budget,
//! suggestion, insert) at 10 and at 10,000 finished trials.
//!
//! The workers are real processes (this bench binary started again with
//! `--worker`), each with its own connection pool, sharing one study and one
//! budget through the database; the objective is trivial, so the figures are
//! the engine's cost per trial: the claim under the study's row lock, the
//! finish, and the catch-up with what the other processes wrote.
//!
//! Run with a server: `source scripts/pg-test-server.sh` (or any server
//! where the user may create databases), then
//! `HYPERSWEEP_TEST_POSTGRES=postgres://... cargo bench --bench postgres`.
//! `HYPERSWEEP_BENCH_TRIALS=N` changes the 2,000 trials of the throughput
//! runs.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use hypersweep::Study;
use hypersweep::search::{Method, build_searcher};
use hypersweep::trials::scheduler::{Budget, suggest};
use hypersweep::trials::{NewTrial, PostgresStorage, SharedSearcher, Storage, StudyCache};
use hypersweep::trials::{TrialOutcome, TrialState};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn study(storage: Arc<dyn Storage>, parallel: usize) -> Res<Study> {
    support::study("bench", storage, parallel)
}

fn psql(url: &str, sql: &str) -> Res<()> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(())
}

/// A fresh database on the server; returns its URL.
fn fresh_database(server: &str, name: &str) -> Res<String> {
    psql(
        server,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    psql(server, &format!("CREATE DATABASE {name}"))?;
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

/// One worker process: runs trivial trials until the study holds `total`.
fn worker(url: &str, total: u64) -> Res<()> {
    let storage: Arc<dyn Storage> = Arc::new(PostgresStorage::connect(url)?);
    let study = study(storage, 1)?;
    study.optimize_to(Some(total), support::objective)?;
    Ok(())
}

/// Trials per second with `processes` workers sharing a budget of `total`.
fn throughput(server: &str, processes: usize, total: u64) -> Res<f64> {
    let url = fresh_database(server, &format!("hypersweep_bench_{processes}"))?;
    // The study exists before the workers start, as after `run` made it.
    study(Arc::new(PostgresStorage::connect(&url)?), 1)?;
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let children = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .args(["--worker", &url, &total.to_string()])
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for mut child in children {
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("a worker failed: {status}").into());
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let trials = PostgresStorage::connect(&url)?.trials("bench")?;
    let counted = Budget::from_trials(&trials, None, 0).counted();
    if counted != total {
        return Err(format!("{counted} trials counted, expected {total}").into());
    }
    psql(
        server,
        &format!("DROP DATABASE IF EXISTS hypersweep_bench_{processes} WITH (FORCE)"),
    )?;
    Ok(total as f64 / elapsed)
}

/// Median time of one claim + finish, with `finished` trials in the study
/// and a cache that keeps up (as a running worker's does).
fn claim_latency(server: &str, finished: u64) -> Res<Duration> {
    let url = fresh_database(server, "hypersweep_bench_latency")?;
    let storage: Arc<dyn Storage> = Arc::new(PostgresStorage::connect(&url)?);
    study(Arc::clone(&storage), 1)?;
    let searcher: SharedSearcher = Arc::new(Mutex::new(build_searcher(
        Method::Random,
        &Default::default(),
        1,
    )));
    let mut cache = StudyCache::new(Default::default(), Budget::default());
    let claim_and_finish = |cache: &mut StudyCache| -> Res<()> {
        let trial = storage
            .claim("bench", cache, &mut |cache, number| {
                suggest(&searcher, &support::space(), 1, cache, number)
                    .ok()
                    .map(NewTrial::new)
            })?
            .ok_or("no trial claimed")?;
        let done = storage.finish_trial(
            "bench",
            trial.number,
            TrialOutcome {
                state: TrialState::Complete,
                value: Some(1.0),
                error: None,
            },
        )?;
        cache.apply([done]);
        Ok(())
    };
    for _ in 0..finished {
        claim_and_finish(&mut cache)?;
    }
    let mut times = Vec::new();
    for _ in 0..101 {
        let start = Instant::now();
        claim_and_finish(&mut cache)?;
        times.push(start.elapsed());
    }
    times.sort();
    psql(
        server,
        "DROP DATABASE IF EXISTS hypersweep_bench_latency WITH (FORCE)",
    )?;
    Ok(times[times.len() / 2])
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        let url = args.get(2).ok_or("--worker URL TOTAL")?;
        let total = args.get(3).ok_or("--worker URL TOTAL")?.parse()?;
        return worker(url, total);
    }
    let Ok(server) = std::env::var("HYPERSWEEP_TEST_POSTGRES") else {
        eprintln!("skipped: set HYPERSWEEP_TEST_POSTGRES (source scripts/pg-test-server.sh)");
        return Ok(());
    };
    let total = std::env::var("HYPERSWEEP_BENCH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    for processes in [1, 4, 16] {
        let rate = throughput(&server, processes, total)?;
        println!(
            "postgres: {total} trivial trials, random searcher, {processes} worker processes: {rate:.0} trials/s"
        );
    }
    for finished in [10, 10_000] {
        let t = claim_latency(&server, finished)?;
        println!(
            "postgres: claim + finish at {finished} finished trials: median {:.2} ms",
            t.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
