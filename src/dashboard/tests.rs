//! The feed's cursor and the server's answers, over a [`MemoryStorage`].

use std::io::{Read, Write};
use std::sync::Arc;

use hypersweep_search::sweep::parse_sweep;
use hypersweep_search::{Params, TrialState, Value};
use hypersweep_trials::{MemoryStorage, NewTrial, Storage, TrialOutcome};

use super::Dashboard;
use super::feed::StudyFeed;

/// A store with study `s` of three trials: 0 complete, 1 and 2 running.
fn store() -> Arc<dyn Storage> {
    let storage = MemoryStorage::new();
    let spec = parse_sweep(
        r#"{"method": "random", "metric": {"name": "loss"}, "parameters": {"x": {"min": 0.0, "max": 1.0}}}"#,
        "t.json",
    )
    .expect("spec");
    storage.create_study("s", &spec).expect("study");
    for i in 0..3 {
        add_trial(&storage, f64::from(i) / 4.0);
    }
    storage
        .finish_trial("s", 0, complete(0.25))
        .expect("finish");
    Arc::new(storage)
}

fn add_trial(storage: &dyn Storage, x: f64) -> u64 {
    let mut params = Params::new();
    params.insert("x", Value::from(x));
    storage
        .create_trial("s", NewTrial::new(params))
        .expect("trial")
        .number
}

fn complete(value: f64) -> TrialOutcome {
    TrialOutcome {
        state: TrialState::Complete,
        value: Some(value),
        error: None,
    }
}

fn numbers(trials: &[serde_json::Value]) -> Vec<u64> {
    trials.iter().map(|t| t["n"].as_u64().expect("n")).collect()
}

#[test]
fn a_poll_gets_only_what_changed_since_its_cursor() {
    let storage = store();
    let mut feed = StudyFeed::open(storage.as_ref(), "s")
        .expect("read")
        .expect("the study exists");
    let v1 = feed.version();
    let all = feed.since(0);
    assert_eq!(numbers(&all.trials), [0, 1, 2]);
    assert!(all.head.is_some());

    // Nothing moved: same version, nothing sent, not even the head.
    assert!(!feed.refresh(storage.as_ref()).expect("refresh"));
    let quiet = feed.since(v1);
    assert_eq!(
        (quiet.version, quiet.trials.len(), quiet.head),
        (v1, 0, None)
    );

    // Trial 1 reports, trial 2 finishes, trial 3 starts: those three only.
    storage.report("s", 1, 1, 0.9).expect("report");
    storage.finish_trial("s", 2, complete(0.1)).expect("finish");
    let three = add_trial(storage.as_ref(), 0.9);
    assert!(feed.refresh(storage.as_ref()).expect("refresh"));
    let delta = feed.since(v1);
    assert!(delta.version > v1);
    assert_eq!(numbers(&delta.trials), [1, 2, three]);
    let head = delta.head.expect("the head comes with changes");
    assert_eq!(head["counts"]["complete"], 2);
    assert_eq!(head["best"], 2, "trial 2 (0.1) is the new best");
    assert_eq!(
        (&delta.trials[0]["i0"], &delta.trials[0]["iv"]),
        (&serde_json::json!(1), &serde_json::json!([0.9]))
    );

    // A page that already has the new version gets nothing; a cursor the
    // feed never handed out (an earlier server's) gets everything.
    assert!(feed.since(delta.version).trials.is_empty());
    assert_eq!(feed.since(delta.version + 7).trials.len(), 4);
}

#[test]
fn the_page_carries_its_cursor_and_the_polling_script() {
    let storage = store();
    let feed = StudyFeed::open(storage.as_ref(), "s")
        .expect("read")
        .expect("the study exists");
    let data = feed.page_data(1500);
    assert_eq!(data["live"]["study"], "s");
    assert_eq!(data["live"]["version"], feed.version());
    assert_eq!(data["live"]["poll_ms"], 1500);
    assert_eq!(data["trials"].as_array().map(Vec::len), Some(3));
    assert!(
        StudyFeed::open(storage.as_ref(), "nope")
            .expect("read")
            .is_none()
    );
}

/// One HTTP/1.1 request with the given Host; the status code and the body.
fn get(addr: std::net::SocketAddr, path: &str, host: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_server_answers_changes_and_refuses_foreign_hosts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dashboard = runtime
        .block_on(Dashboard::bind(
            "127.0.0.1".parse().expect("ip"),
            0,
            store(),
            None,
        ))
        .expect("bind");
    let addr = dashboard.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(dashboard.serve(async {
        let _ = stopped.await;
    }));
    let host = addr.to_string();

    let (status, body) = get(addr, "/api/changes?study=s&since=0", &host);
    assert_eq!(status, 200, "{body}");
    let delta: serde_json::Value = serde_json::from_str(body.trim()).expect("the changes are JSON");
    assert_eq!(delta["trials"].as_array().map(Vec::len), Some(3));
    let (status, body) = get(addr, "/", &format!("localhost:{}", addr.port()));
    assert_eq!(status, 200);
    assert!(body.contains("hypersweep dashboard: <span"), "{body}");
    assert!(body.contains("/api/changes"), "the polling script is in");
    let (status, _) = get(addr, "/study?name=nope", &host);
    assert_eq!(status, 404);
    let (status, _) = get(addr, "/api/changes?study=s&since=x", &host);
    assert_eq!(status, 400);
    let (status, body) = get(addr, "/api/studies", "evil.example:80");
    assert_eq!(status, 403, "{body}");

    stop.send(()).expect("stop");
    runtime
        .block_on(server)
        .expect("join")
        .expect("served without error");
}
