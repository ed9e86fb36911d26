//! What a report costs: `report::render` (importance included) on studies of
//! 1,000 and 50,000 trials of 10 params with 20 intermediate values each, the
//! HTML's size, and PED-ANOVA alone on 10,000 trials x 10 params.
//!
//! Run: `cargo bench --bench report` (median of 3 runs per row; the data is
//! synthetic and seeded, so rows compare across commits). With
//! `HYPERSWEEP_BENCH_REPORT_DIR=dir` the reports are also written there, to
//! time a browser on them (`scripts/report-open-time.sh` does). With
//! `HYPERSWEEP_BENCH_DASHBOARD_PORT=port` (feature `dashboard`), the
//! 50,000-trial study is then served by the live dashboard on
//! 127.0.0.1:port from an in-memory store until the bench is stopped.

use std::time::{Duration, Instant};

use hypersweep::report::render;
use hypersweep_search::importance::ped_anova;
use hypersweep_search::sweep::parse_sweep;
use hypersweep_search::{Direction, Observation, Params, TrialState};
use hypersweep_trials::Trial;
use hypersweep_trials::storage::StudyRecord;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::json;

const PARAMS: usize = 10;

fn record() -> StudyRecord {
    let mut parameters = serde_json::Map::new();
    for i in 0..PARAMS {
        parameters.insert(format!("x{i}"), json!({"min": 0.0, "max": 1.0}));
    }
    let text = json!({
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": parameters,
    })
    .to_string();
    StudyRecord {
        name: "bench".to_owned(),
        spec: parse_sweep(&text, "bench.json").expect("the bench sweep parses"),
        created_ms: 1_700_000_000_000,
        revisions: Vec::new(),
    }
}

/// `n` trials; the loss depends mostly on x0, a little on x1.
fn trials(n: u64, steps: u64) -> Vec<Trial> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..n)
        .map(|number| {
            let mut params = Params::new();
            let xs: Vec<f64> = (0..PARAMS).map(|_| rng.random()).collect();
            for (i, x) in xs.iter().enumerate() {
                params.insert(format!("x{i}"), json!(x));
            }
            let value = 10.0 * (xs[0] - 0.3).powi(2) + (xs[1] - 0.5).powi(2);
            let started_ms = 1_700_000_000_000 + number * 1000;
            Trial {
                study: "bench".to_owned(),
                number,
                params,
                state: TrialState::Complete,
                value: Some(value),
                intermediate: (1..=steps).map(|s| (s, value + 1.0 / s as f64)).collect(),
                started_ms,
                finished_ms: Some(started_ms + 900),
                heartbeat_ms: started_ms + 900,
                attempt: 0,
                retry_of: None,
                device: Some("cpu".to_owned()),
                error: None,
                log_path: Some(format!("logs/bench/{number}.log").into()),
                worker: None,
                asked: false,
                distributions: Default::default(),
                user_attrs: Default::default(),
                seeds: Vec::new(),
                repeats: None,
                role: Default::default(),
            }
        })
        .collect()
}

fn median_of_3(mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[1]
}

fn main() {
    let record = record();
    for n in [1_000, 50_000] {
        let trials = trials(n, 20);
        let mut html = String::new();
        let time = median_of_3(|| html = render(&record, &trials));
        let size = html.len();
        // To time a browser on it: HYPERSWEEP_BENCH_REPORT_DIR=dir.
        if let Some(dir) = std::env::var_os("HYPERSWEEP_BENCH_REPORT_DIR") {
            let path = std::path::Path::new(&dir).join(format!("report-{n}.html"));
            std::fs::write(&path, &html).expect("write the report");
        }
        println!(
            "render {n} trials x {PARAMS} params x 20 steps: {:.3} s, {:.1} MiB",
            time.as_secs_f64(),
            size as f64 / (1 << 20) as f64
        );
    }
    let observations: Vec<Observation> = trials(10_000, 0).iter().map(Trial::observation).collect();
    let space = record.spec.space.clone();
    let time = median_of_3(|| {
        let ranked = ped_anova(&space, &observations, Direction::Minimize).expect("ranked");
        assert_eq!(ranked[0].param, "x0");
    });
    println!(
        "ped_anova 10000 trials x {PARAMS} params: {:.4} s",
        time.as_secs_f64()
    );
    if let Some(port) = std::env::var("HYPERSWEEP_BENCH_DASHBOARD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        serve_dashboard(port, &record, trials(50_000, 20));
    }
}

/// Serves `trials` on the live dashboard at 127.0.0.1:`port`, forever.
#[cfg(feature = "dashboard")]
fn serve_dashboard(port: u16, record: &StudyRecord, trials: Vec<Trial>) {
    use hypersweep_trials::StudyCache;
    use hypersweep_trials::{MemoryStorage, NewTrial, Storage, TrialOutcome};
    let storage = MemoryStorage::new();
    storage
        .create_study(&record.name, &record.spec)
        .expect("study");
    // One cache for every claim: a claim then reads only what is new.
    let mut cache = StudyCache::new(Default::default(), Default::default());
    for t in trials {
        let mut new = Some(NewTrial::new(t.params.clone()));
        storage
            .claim(&record.name, &mut cache, &mut |_, _| new.take())
            .expect("claim");
        for &(step, value) in &t.intermediate {
            storage
                .report(&record.name, t.number, step, value)
                .expect("report");
        }
        let outcome = TrialOutcome {
            state: t.state,
            value: t.value,
            error: None,
        };
        storage
            .finish_trial(&record.name, t.number, outcome)
            .expect("finish");
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dashboard = hypersweep::dashboard::Dashboard::bind(
            "127.0.0.1".parse().expect("ip"),
            port,
            std::sync::Arc::new(storage),
            None,
        )
        .await
        .expect("bind");
        println!(
            "dashboard on http://{}/",
            dashboard.local_addr().expect("addr")
        );
        dashboard
            .serve(std::future::pending())
            .await
            .expect("serve");
    });
}

#[cfg(not(feature = "dashboard"))]
fn serve_dashboard(_port: u16, _record: &StudyRecord, _trials: Vec<Trial>) {
    eprintln!("HYPERSWEEP_BENCH_DASHBOARD_PORT needs the `dashboard` feature");
}
