//! Storage throughput: what one trial costs the store.
//!
//! `create_finish` is the per-trial cost a sweep pays (create, then finish;
//! on sled the finish flushes, the create only for an asked trial), `report`
//! the per-step cost of an intermediate value (never flushed) into trials of
//! 10 and 1,000 steps, and `list` the cost of reading a whole study of 1,000
//! or 10,000 trials back, which a caller pays whenever it rebuilds a history
//! from the store (so a scheduler should keep its history up to date itself
//! rather than list the study per trial).
//!
//! Run: `cargo bench --bench storage` (one group: `cargo bench --bench
//! storage -- report`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hypersweep_search::sweep::SweepSpec;
use hypersweep_search::{Domain, Method, Param, Params, SearchSpace, Value};
use hypersweep_trials::{MemoryStorage, NewTrial, SledStorage, Storage, TrialOutcome, TrialState};

fn spec() -> SweepSpec {
    let space = SearchSpace::new(vec![
        Param::new(
            "lr",
            Domain::Float {
                low: 1e-5,
                high: 1e-1,
                log: true,
                step: None,
            },
        ),
        Param::new(
            "layers",
            Domain::Int {
                low: 1,
                high: 8,
                log: false,
                step: None,
            },
        ),
    ])
    .expect("valid space");
    SweepSpec {
        name: None,
        description: None,
        method: Method::Random,
        metric: Default::default(),
        space,
        early_terminate: None,
        run: Default::default(),
        command: None,
        program: None,
        searcher: Default::default(),
        extra: Default::default(),
        custom: Default::default(),
    }
}

/// A trial as the random searcher would start it.
fn new_trial(i: u64) -> NewTrial {
    let mut params = Params::new();
    params.insert("lr", Value::from(1e-3 * (1.0 + (i % 97) as f64)));
    params.insert("layers", Value::from(1 + i % 8));
    NewTrial {
        device: Some("cpu".to_owned()),
        worker: Some("bench:1".to_owned()),
        ..NewTrial::new(params)
    }
}

fn complete(value: f64) -> TrialOutcome {
    TrialOutcome {
        state: TrialState::Complete,
        value: Some(value),
        error: None,
    }
}

fn create_finish(s: &dyn Storage, i: u64) {
    let t = s.create_trial("bench", new_trial(i)).expect("create");
    s.finish_trial("bench", t.number, complete(i as f64))
        .expect("finish");
}

/// Runs `f` against a fresh memory store and a fresh sled store.
fn each_backend(
    c: &mut Criterion,
    group: &str,
    mut f: impl FnMut(&mut Criterion, &str, &dyn Storage),
) {
    let memory = MemoryStorage::new();
    memory.create_study("bench", &spec()).expect("study");
    f(c, &format!("{group}/memory"), &memory);

    let dir = tempfile::tempdir().expect("tempdir");
    let sled = SledStorage::open(dir.path().join("hypersweep.db")).expect("open");
    sled.create_study("bench", &spec()).expect("study");
    f(c, &format!("{group}/sled"), &sled);
}

fn bench_create_finish(c: &mut Criterion) {
    each_backend(c, "create_finish", |c, name, s| {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        let mut i = 0u64;
        group.bench_function("trial", |b| {
            b.iter(|| {
                create_finish(s, i);
                i += 1;
            })
        });
        group.finish();
    });
}

fn bench_report(c: &mut Criterion) {
    // Cost per report into a trial that already holds `steps` values (the
    // value at one step is replaced, as a repeated step would be): the
    // record is rewritten whole, so this grows with the training length.
    for steps in [10u64, 1_000] {
        each_backend(c, "report", |c, name, s| {
            let t = s.create_trial("bench", new_trial(0)).expect("create");
            for step in 0..steps {
                s.report("bench", t.number, step, 0.5).expect("report");
            }
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Elements(1));
            let mut step = 0u64;
            group.bench_with_input(BenchmarkId::new("steps", steps), &steps, |b, &steps| {
                b.iter(|| {
                    s.report("bench", t.number, step % steps, 0.25)
                        .expect("report");
                    step += 1;
                })
            });
            group.finish();
        });
    }
}

fn bench_list(c: &mut Criterion) {
    for n in [1_000u64, 10_000] {
        each_backend(c, "list", |c, name, s| {
            for i in 0..n {
                create_finish(s, i);
            }
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Elements(n));
            group.bench_with_input(BenchmarkId::new("trials", n), &n, |b, _| {
                b.iter(|| black_box(s.trials("bench").expect("list")).len())
            });
            group.finish();
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench_create_finish, bench_report, bench_list
}
criterion_main!(benches);
