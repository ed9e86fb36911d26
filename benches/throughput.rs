//! Engine overhead: what the scheduler adds around a trivial objective.
//!
//! Two measurements, both with the random searcher on a two-parameter space
//! (`x` in [-5, 5], `y` log in [1e-3, 1]) and the objective `x * x + y`, the
//! same study `benches/overhead/run.py` gives rustuna:
//! - *throughput*: `Study::optimize` of N trials (10,000 by default) in a
//!   memory store and in a sled store (temporary directory), parallel 1 and
//!   4. Every trial is claimed (catch-up, budget, suggestion, stored
//!   Running), run on the blocking pool, finished (on sled: flushed) and
//!   counted, so this is the fixed cost per trial of a real sweep;
//! - *ask latency*: one `Study::ask` (the claim alone: catch-up, suggestion,
//!   store) when the study already holds 10 and 10,000 finished trials. For
//!   random search it should not grow with the study: a catch-up reads only
//!   what changed since the last one.
//!
//! Each throughput figure is the median of `HYPERSWEEP_BENCH_REPEAT` runs (3
//! by default), wall clock and the process's CPU time (on a shared machine
//! the CPU time is the steadier of the two), each latency the median of 200
//! asks
//! (so "at 10 finished trials" means between 10 and 210). Run with
//! `cargo bench --bench throughput`; arguments that do not start with `--`
//! select rows by substring (`cargo bench --bench throughput -- memory`),
//! `HYPERSWEEP_BENCH_TRIALS=N` changes the 10,000 trials. Lines starting
//! with `overhead:` are read by `benches/overhead/run.py`.

use std::sync::Arc;
use std::time::Instant;

mod support;

use hypersweep::Study;
use hypersweep::trials::{MemoryStorage, SledStorage, Storage};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The two stores measured; a sled store lives in its own temporary
/// directory, removed when the value is dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Memory,
    Sled,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sled => "sled",
        }
    }

    fn open(self) -> BenchResult<(Arc<dyn Storage>, Option<tempfile::TempDir>)> {
        Ok(match self {
            Backend::Memory => (Arc::new(MemoryStorage::new()), None),
            Backend::Sled => {
                let dir = tempfile::tempdir()?;
                let store = SledStorage::open(dir.path().join("store"))?;
                (Arc::new(store), Some(dir))
            }
        })
    }
}

fn study(storage: Arc<dyn Storage>, parallel: usize) -> BenchResult<Study> {
    support::study("overhead", storage, parallel)
}

/// Seconds (wall clock, and CPU of the whole process) for `trials` trials
/// of a fresh study.
fn throughput_once(backend: Backend, trials: u64, parallel: usize) -> BenchResult<(f64, f64)> {
    let (storage, _dir) = backend.open()?;
    let study = study(storage, parallel)?;
    let cpu = process_cpu_seconds();
    let start = Instant::now();
    let summary = study.optimize(trials, support::objective)?;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu;
    assert_eq!(summary.counted, trials, "every trial counted");
    Ok((elapsed, cpu))
}

/// CPU time of this process, every thread, in seconds. On a machine shared
/// with other work the wall clock also counts the time others held the
/// cores; the CPU time is this process's own work.
fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is handed.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median seconds of one ask once the study holds each of `sizes` finished
/// trials (the study grows from one size to the next through
/// `optimize`).
fn ask_latency(backend: Backend, sizes: &[u64], asks: usize) -> BenchResult<Vec<f64>> {
    let (storage, _dir) = backend.open()?;
    let study = study(storage, 1)?;
    let mut held = 0;
    let mut out = Vec::new();
    for &size in sizes {
        if size > held {
            study.optimize(size - held, support::objective)?;
            held = size;
        }
        let mut times = Vec::with_capacity(asks);
        for _ in 0..asks {
            let start = Instant::now();
            let trial = study.ask()?;
            times.push(start.elapsed().as_secs_f64());
            // Told at once, so the next ask meets no unfinished trial; the
            // study grows by `asks` trials, which the next size absorbs.
            study.tell(trial.number, objective_of(&trial.params))?;
        }
        held += asks as u64;
        out.push(median(&mut times));
    }
    Ok(out)
}

fn objective_of(params: &hypersweep::search::Params) -> f64 {
    let x = params.f64("x").unwrap_or(f64::NAN);
    let y = params.f64("y").unwrap_or(f64::NAN);
    x * x + y
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Asks per latency figure.
const ASKS: usize = 200;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> BenchResult<()> {
    let trials: u64 = env_or("HYPERSWEEP_BENCH_TRIALS", 10_000);
    let repeat: usize = env_or("HYPERSWEEP_BENCH_REPEAT", 3).max(1);
    // `cargo bench` passes `--bench`; everything else filters rows.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let selected = |row: &str| filters.is_empty() || filters.iter().any(|f| row.contains(f));

    for backend in [Backend::Memory, Backend::Sled] {
        for parallel in [1, 4] {
            let row = format!("throughput/{}/parallel {parallel}", backend.name());
            if !selected(&row) {
                continue;
            }
            let runs = (0..repeat)
                .map(|_| throughput_once(backend, trials, parallel))
                .collect::<BenchResult<Vec<(f64, f64)>>>()?;
            let (mut walls, mut cpus): (Vec<f64>, Vec<f64>) = runs.into_iter().unzip();
            let all = walls
                .iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
                .join(" ");
            let seconds = median(&mut walls);
            let cpu = median(&mut cpus);
            println!(
                "overhead: {row}: {trials} trials in {seconds:.3} s (median of {repeat}: {all}), {:.0} trials/s, cpu {cpu:.3} s",
                trials as f64 / seconds
            );
        }
    }

    let sizes = [10, 10_000];
    for backend in [Backend::Memory, Backend::Sled] {
        let row = format!("ask/{}", backend.name());
        if !selected(&row) {
            continue;
        }
        let latencies = ask_latency(backend, &sizes, ASKS)?;
        for (size, latency) in sizes.iter().zip(latencies) {
            println!(
                "overhead: {row}/{size} finished: {:.1} µs (median of {ASKS} asks)",
                latency * 1e6
            );
        }
    }
    Ok(())
}
