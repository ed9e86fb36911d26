//! Regression: domains with enormous numbers of values. Under TPE an integer
//! range of 2^31 values once built one bucket edge per value (16.8 GB RSS),
//! and wider ranges or a tiny `q` aborted on an impossible allocation.
//! Every searcher must now either refuse the domain where it enters (with
//! the parameter's path and the limit) or suggest in bounded memory.
//!
//! Memory is measured with a counting global allocator: the peak of live
//! bytes over the whole test must stay far below what any per-value
//! allocation would take. One test in this binary, so the peak is ours.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use hypersweep_search::{
    Direction, Domain, History, Method, Observation, Param, SearchSpace, SearcherOptions,
    TrialState, build_searcher, suggestion_rng,
};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Far below one byte per value of the accepted domains (2^31 .. 2^54).
const PEAK_LIMIT: usize = 256 << 20;

fn int(low: i64, high: i64, log: bool, step: Option<i64>) -> Domain {
    Domain::Int {
        low,
        high,
        log,
        step,
    }
}

fn float(low: f64, high: f64, step: Option<f64>) -> Domain {
    Domain::Float {
        low,
        high,
        log: false,
        step,
    }
}

fn refused(domain: Domain, field: &str) {
    let err = SearchSpace::new(vec![Param::new("p", domain.clone())])
        .expect_err(&format!("{domain:?} must be refused"));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("parameters.p.{field}: ")),
        "{domain:?}: {text}"
    );
}

#[test]
fn huge_domains_are_refused_or_searched_in_bounded_memory() {
    // Refused where they enter, naming the path.
    refused(int(i64::MIN, i64::MAX, false, None), "min");
    refused(int(0, i64::MAX, false, None), "max");
    refused(int(1, i64::MAX, true, None), "max");
    refused(int(i64::MIN, 0, false, Some(1 << 40)), "min");
    refused(float(-f64::MAX, f64::MAX, None), "max");
    refused(float(0.0, 1.0, Some(1e-300)), "step");
    refused(float(1e6, 1e6 + 1.0, Some(1e-12)), "step");
    refused(
        Domain::Normal {
            mu: 0.0,
            sigma: 1.0,
            log: false,
            q: Some(1e-320),
        },
        "q",
    );
    refused(
        Domain::Normal {
            mu: 700.0,
            sigma: 10.0,
            log: true,
            q: None,
        },
        "sigma",
    );

    // Accepted: the widest of each kind, and a few everyday huge ones.
    let widest = 1i64 << 53;
    let space = SearchSpace::new(vec![
        Param::new("seed", int(i32::MIN.into(), i32::MAX.into(), false, None)),
        Param::new("wide", int(-widest, widest, false, None)),
        Param::new("log_wide", int(1, widest, true, None)),
        Param::new("stepped", int(-widest, widest, false, Some(3))),
        Param::new("tiny_step", float(0.0, 1.0, Some(1e-12))),
        Param::new(
            "tiny_q",
            Domain::Normal {
                mu: 0.0,
                sigma: 1.0,
                log: false,
                q: Some(1e-12),
            },
        ),
    ])
    .expect("these domains are valid");

    let methods = [
        Method::Grid,
        Method::Random,
        Method::Sobol,
        Method::Tpe,
        Method::Gp,
        Method::Evolution,
    ];
    for method in methods {
        let mut searcher = build_searcher(method, &SearcherOptions::default(), 7);
        let mut history = History::new(Direction::Minimize);
        let space = if method == Method::Grid {
            // The grid needs finite axes: everything but the normal.
            SearchSpace::new(
                space
                    .params()
                    .iter()
                    .filter(|p| p.name != "tiny_q")
                    .cloned()
                    .collect(),
            )
            .expect("a subset of a valid space")
        } else {
            space.clone()
        };
        for number in 0..24u64 {
            let mut rng = suggestion_rng(7, number);
            let params = searcher
                .suggest(&space, &history, &mut rng)
                .unwrap_or_else(|e| panic!("{method:?}, trial {number}: {e}"));
            assert!(space.admits(&params), "{method:?}: {params:?}");
            let value = params.f64("tiny_step").unwrap_or(0.5) + (number % 5) as f64;
            history.upsert(Observation {
                number,
                params,
                state: TrialState::Complete,
                value: Some(value),
                intermediate: Vec::new(),
                duration_ms: None,
            });
        }
        let peak = PEAK.load(Ordering::Relaxed);
        assert!(
            peak < PEAK_LIMIT,
            "{method:?}: peak allocation {peak} bytes"
        );
    }
}
