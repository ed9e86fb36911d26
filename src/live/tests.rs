//! The protocol over a real socket, served from a [`MemoryStorage`].

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use hypersweep_search::sweep::parse_sweep;
use hypersweep_search::{Params, TrialState, Value};
use hypersweep_trials::{MemoryStorage, NewTrial, Storage, StorageError, TrialOutcome};

use super::protocol::{MAX_REQUEST, PAGE_BYTES, TrialsReply};
use super::{LiveStorage, SOCKET_FILE, serve};

/// A store with study `s` of three trials: 0 complete, 1 and 2 running.
fn store() -> Arc<dyn Storage> {
    let storage = MemoryStorage::new();
    let spec = parse_sweep(
        r#"{"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}"#,
        "t.json",
    )
    .expect("spec");
    storage.create_study("s", &spec).expect("study");
    for i in 0..3 {
        let mut params = Params::new();
        params.insert("x", Value::from(f64::from(i) / 4.0));
        storage
            .create_trial("s", NewTrial::new(params))
            .expect("trial");
    }
    storage.report("s", 1, 3, 0.5).expect("report");
    storage
        .finish_trial("s", 0, complete(0.25))
        .expect("finish");
    Arc::new(storage)
}

fn complete(value: f64) -> TrialOutcome {
    TrialOutcome {
        state: TrialState::Complete,
        value: Some(value),
        error: None,
    }
}

/// Sends raw bytes, reads one reply line as JSON.
fn exchange(stream: &mut UnixStream, bytes: &[u8]) -> serde_json::Value {
    stream.write_all(bytes).expect("send");
    let mut line = String::new();
    BufReader::new(stream.try_clone().expect("clone"))
        .read_line(&mut line)
        .expect("reply");
    serde_json::from_str(&line).expect("the reply is JSON")
}

#[test]
fn garbage_gets_an_error_and_the_connection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let storage = store();
    let _server = serve(dir.path(), Arc::clone(&storage)).unwrap();
    let mut stream = UnixStream::connect(dir.path().join(SOCKET_FILE)).unwrap();
    for bad in [
        &b"not json\n"[..],
        b"\xff\xfe\x00\n",
        b"\n",
        b"{\"op\": \"delete_study\", \"name\": \"s\"}\n",
        b"{\"op\": \"trial\", \"study\": \"s\"}\n",
        b"[1, 2, 3]\n",
    ] {
        let reply = exchange(&mut stream, bad);
        assert!(
            reply["error"]
                .as_str()
                .is_some_and(|e| e.contains("bad request")),
            "{bad:?} -> {reply}"
        );
    }
    let reply = exchange(&mut stream, b"{\"op\": \"studies\"}\n");
    assert_eq!(reply, serde_json::json!({"studies": ["s"]}));
    let reply = exchange(
        &mut stream,
        b"{\"op\": \"trial\", \"study\": \"s\", \"number\": 9}\n",
    );
    assert_eq!(reply["kind"], "no_trial", "{reply}");
    let reply = exchange(&mut stream, b"{\"op\": \"trials\", \"study\": \"nope\"}\n");
    assert_eq!(reply["kind"], "no_study", "{reply}");
}

#[test]
fn an_oversized_request_is_refused_and_the_connection_closed() {
    let dir = tempfile::tempdir().unwrap();
    let _server = serve(dir.path(), store()).unwrap();
    let mut stream = UnixStream::connect(dir.path().join(SOCKET_FILE)).unwrap();
    // The server may close before reading everything: a failed write is fine.
    let _ = stream.write_all(&vec![b'a'; MAX_REQUEST + 10]);
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("longer than")),
        "{reply}"
    );
    let mut rest = Vec::new();
    assert_eq!(reader.read_to_end(&mut rest).unwrap(), 0, "closed after");
}

#[test]
fn live_storage_reads_the_owners_store_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = store();
    let _server = serve(dir.path(), Arc::clone(&storage)).unwrap();
    let live = LiveStorage::connect(dir.path()).unwrap();
    assert_eq!(live.owner_pid(), std::process::id());
    assert_eq!(live.list_studies().unwrap(), vec!["s".to_owned()]);
    assert_eq!(
        live.load_study("s").unwrap(),
        storage.load_study("s").unwrap()
    );
    assert_eq!(live.load_study("nope").unwrap(), None);
    let trials = live.trials("s").unwrap();
    assert_eq!(trials, storage.trials("s").unwrap());
    assert_eq!(trials[1].intermediate, vec![(3, 0.5)]);
    assert_eq!(live.trial("s", 0).unwrap().value, Some(0.25));
    assert!(matches!(
        live.trial("s", 7),
        Err(StorageError::NoTrial { number: 7, .. })
    ));
    assert!(matches!(live.trials("nope"), Err(StorageError::NoStudy(_))));
    let changes = live.changes("s", Some(1), &[1]).unwrap();
    let numbers: Vec<u64> = changes.iter().map(|t| t.number).collect();
    assert_eq!(numbers, vec![1, 2]);

    let err = live.finish_trial("s", 1, complete(1.0)).unwrap_err();
    assert!(
        matches!(err, StorageError::ReadOnly { pid, .. } if pid == std::process::id()),
        "{err}"
    );
    assert!(err.to_string().contains("read-only view"), "{err}");
    assert!(live.delete_study("s").is_err());
    assert!(live.heartbeat("s", 1).is_err());
    assert_eq!(storage.trial("s", 1).unwrap().state, TrialState::Running);
}

#[test]
fn long_studies_come_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let storage = store();
    // 30 trials of about 100 KB each: three pages or more.
    let big = "y".repeat(100 * 1024);
    for _ in 0..30 {
        let mut params = Params::new();
        params.insert("x", Value::from(big.clone()));
        storage.create_trial("s", NewTrial::new(params)).unwrap();
    }
    let _server = serve(dir.path(), Arc::clone(&storage)).unwrap();
    let mut stream = UnixStream::connect(dir.path().join(SOCKET_FILE)).unwrap();
    let first: TrialsReply = serde_json::from_value(exchange(
        &mut stream,
        b"{\"op\":\"trials\",\"study\":\"s\"}\n",
    ))
    .unwrap();
    assert!(first.more);
    assert!(first.trials.len() < 33);
    let bytes = serde_json::to_string(&first.trials).unwrap().len();
    assert!(bytes < PAGE_BYTES + 200 * 1024, "{bytes}");

    let live = LiveStorage::connect(dir.path()).unwrap();
    assert_eq!(live.trials("s").unwrap(), storage.trials("s").unwrap());
}

#[test]
fn the_socket_is_private_replaces_a_stale_one_and_goes_with_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SOCKET_FILE);
    std::fs::write(&path, "left by a killed owner").unwrap();
    let storage = store();
    let server = serve(dir.path(), Arc::clone(&storage)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let live = LiveStorage::connect(dir.path()).unwrap();
    drop(server);
    assert!(!path.exists());
    // The open connection was ended, not left hanging.
    assert!(live.list_studies().is_err());
    assert!(LiveStorage::connect(dir.path()).is_err());
}

#[test]
fn the_server_does_not_keep_the_store_alive() {
    let dir = tempfile::tempdir().unwrap();
    let storage = store();
    let _server = serve(dir.path(), Arc::clone(&storage)).unwrap();
    let live = LiveStorage::connect(dir.path()).unwrap();
    drop(storage);
    let err = live.list_studies().unwrap_err();
    assert!(err.to_string().contains("the store is closed"), "{err}");
}
