//! `hypersweep dashboard` and `run --dashboard` through the binary.
//!
//! The main test runs a sweep whose later trials wait for a gate file, opens
//! the dashboard (a second process reading the sled store through the
//! sweep's live socket) in headless Chromium, opens the gate, and checks
//! that the page shows the trials that finished after it was opened,
//! without a reload, a console error or a request off the machine. The
//! others check the sweep's own dashboard, the study list, and PostgreSQL
//! (with `HYPERSWEEP_TEST_POSTGRES`).

mod browser;
mod cli_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use browser::Browser;
use cli_support::{BIN, path, python_sweep, run_ok, text};
use serde_json::{Value, json};

/// Trials 0 and 1 finish at once; later ones report their first epoch and
/// then wait for the file `gate` beside the script.
const GATED: &str = r#"
import json, os, time
p = json.loads(os.environ["HYPERSWEEP_PARAMS"])
n = int(os.environ["HYPERSWEEP_TRIAL"])
gate = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gate")
for epoch in range(1, 4):
    print(json.dumps({"epoch": epoch, "loss": p["x"] + 1.0 / epoch}), flush=True)
    while n >= 2 and not os.path.exists(gate):
        time.sleep(0.05)
"#;

fn gated_sweep(dir: &Path, name: &str, trials: u64) -> std::path::PathBuf {
    python_sweep(
        dir,
        GATED,
        json!({
            "name": name,
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["adam", "sgd"]}},
            "run": {"trials": trials, "parallel": 2, "seed": 5}
        }),
    )
}

/// A child process killed (SIGTERM) when the test ends, passing or not.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: a plain kill(2) of our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Process {
    Process(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    )
}

/// The first `http://ADDR/` a stream prints (the dashboard's address);
/// the rest of the stream is drained in the background.
fn address(stream: impl Read + Send + 'static) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                let addr = line[at + 7..].split('/').next().unwrap_or("").to_owned();
                let _ = tx.send(Ok(addr));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(output)) => panic!("no dashboard address printed; output:\n{output}"),
        Err(_) => panic!("no dashboard address printed within a minute"),
    }
}

fn stdout_of(p: &mut Process) -> ChildStdout {
    p.0.stdout.take().expect("piped")
}

fn stderr_of(p: &mut Process) -> ChildStderr {
    p.0.stderr.take().expect("piped")
}

/// `GET path` over HTTP/1.1; the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the dashboard");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn changes(addr: &str, study: &str, since: u64) -> Value {
    let (status, body) = get(addr, &format!("/api/changes?study={study}&since={since}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("the changes are JSON")
}

/// Waits until `done` holds for the study's trials as the dashboard at
/// `addr` reports them.
fn wait_for_trials(addr: &str, study: &str, what: &str, done: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delta = changes(addr, study, 0);
        if done(delta["trials"].as_array().expect("trials")) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn state(trials: &[Value], n: u64) -> Option<&str> {
    trials
        .iter()
        .find(|t| t["n"] == n)
        .and_then(|t| t["s"].as_str())
}

#[test]
fn the_dashboard_shows_trials_that_finish_after_the_page_opened() {
    let Some(binary) = browser::chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let spec = gated_sweep(dir.path(), "gated", 4);
    let mut sweep = spawn(&[
        "run",
        path(&spec),
        "--storage",
        path(&store),
        "--dashboard",
        "0",
    ]);
    let own = address(stderr_of(&mut sweep));
    // The sweep owns the store once it serves its live socket; the
    // dashboard process then reads through it.
    wait_for_trials(&own, "gated", "trials 2 and 3 to report", |t| {
        t.len() == 4
            && state(t, 1) == Some("complete")
            && t.iter()
                .filter(|t| t["iv"].as_array().is_some_and(|i| !i.is_empty()))
                .count()
                == 4
    });
    let mut dashboard = spawn(&["dashboard", "--storage", path(&store), "--port", "0"]);
    let addr = address(stdout_of(&mut dashboard));

    let mut page = Browser::launch(
        &binary,
        &dir.path().join("profile"),
        Duration::from_secs(180),
    );
    page.open(&format!("http://{addr}/"));
    page.wait_for(
        "document.body.hasAttribute('data-version')",
        Duration::from_secs(60),
        "the dashboard to draw",
    );
    assert_eq!(page.eval("document.body.dataset.errors"), "0");
    // History, curves, parallel coordinates and two slices; the contour
    // waits for importance, which two complete trials do not give.
    assert_eq!(
        page.eval("document.querySelectorAll('main canvas').length"),
        5
    );
    assert_eq!(
        page.eval("+document.querySelector('#curves canvas').dataset.marks"),
        4,
        "the running trials' curves are drawn"
    );
    assert_eq!(
        page.eval("document.querySelector('#hs-wrap tr[data-n=\"3\"] td.state-running') !== null"),
        true,
        "trial 3 is shown running"
    );
    let version = page.eval("+document.body.dataset.version");

    std::fs::write(dir.path().join("gate"), "").expect("open the gate");
    page.wait_for(
        "document.querySelector('#hs-wrap tr[data-n=\"3\"] td.state-complete') !== null \
         && document.querySelector('#hs-wrap tr[data-n=\"2\"] td.state-complete') !== null",
        Duration::from_secs(60),
        "trials 2 and 3 to show as complete without a reload",
    );
    assert!(
        page.eval("+document.body.dataset.version").as_u64() > version.as_u64(),
        "a newer version was merged"
    );
    let summary = page.eval("document.querySelector('#summary').textContent");
    assert!(
        summary
            .as_str()
            .is_some_and(|s| s.contains("4 total: 4 complete")),
        "{summary}"
    );
    assert_eq!(page.eval("document.body.dataset.trials"), "4");
    // The page asked for changes since its cursor; at the current version
    // there is nothing to send.
    let polls: Vec<String> = page
        .requests()
        .into_iter()
        .filter(|u| u.contains("/api/changes?"))
        .collect();
    assert!(
        !polls.is_empty() && polls.iter().all(|u| u.contains("&since=")),
        "{polls:?}"
    );
    let current = page
        .eval("+document.body.dataset.version")
        .as_u64()
        .expect("a version");
    let idle = changes(&addr, "gated", current);
    assert_eq!(idle["trials"], json!([]));
    assert!(
        idle.get("head").is_none(),
        "nothing changed, no head: {idle}"
    );

    assert_eq!(page.eval("document.body.dataset.errors"), "0");
    assert_eq!(page.errors(), Vec::<String>::new(), "console errors");
    assert_eq!(
        page.outside_requests(),
        Vec::<String>::new(),
        "requests off the machine"
    );
    drop(page);
    drop(dashboard);
    let out = sweep.0.wait().expect("the sweep ends");
    assert!(out.success(), "the sweep failed");
}

#[test]
fn a_store_of_several_studies_gets_a_study_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::write(dir.path().join("gate"), "").expect("no waiting");
    for name in ["first", "second <b>"] {
        let spec = gated_sweep(dir.path(), name, 3);
        run_ok(&["run", path(&spec), "--storage", path(&store)]);
    }
    // Nobody owns the store: the dashboard opens it itself.
    let mut dashboard = spawn(&["dashboard", "--storage", path(&store), "--port", "0"]);
    let addr = address(stdout_of(&mut dashboard));
    let (status, list) = get(&addr, "/");
    assert_eq!(status, 200);
    assert!(list.contains("href=\"/study?name=first\""), "{list}");
    assert!(
        list.contains("href=\"/study?name=second%20%3Cb%3E\">second &lt;b&gt;</a>"),
        "{list}"
    );
    let (status, studies) = get(&addr, "/api/studies");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&studies).expect("json"),
        json!({"studies": ["first", "second <b>"]})
    );
    let (status, page) = get(&addr, "/study?name=second%20%3Cb%3E");
    assert_eq!(status, 200);
    assert!(page.contains("hypersweep dashboard: <span id=\"hs-title\">second &lt;b&gt;</span>"));
    assert_eq!(
        changes(&addr, "first", 0)["trials"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let (status, body) = get(&addr, "/study?name=third");
    assert_eq!((status, body.as_str()), (404, "no study named `third`"));
    // While the dashboard owns the store, `status` reads through it.
    let out = run_ok(&["status", "--storage", path(&store), "--study", "first"]);
    assert!(
        text(&out.stdout).contains("3 total"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_dashboard_listens_on_loopback_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::write(dir.path().join("gate"), "").expect("no waiting");
    let spec = gated_sweep(dir.path(), "local", 2);
    run_ok(&["run", path(&spec), "--storage", path(&store)]);
    let mut dashboard = spawn(&["dashboard", "--storage", path(&store), "--port", "0"]);
    let addr = address(stdout_of(&mut dashboard));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    drop(dashboard);
    let out = cli_support::run(&["dashboard", "--storage", path(&store), "--host", "nowhere"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--host"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_dashboard_reads_postgres() {
    const URL_ENV: &str = "HYPERSWEEP_TEST_POSTGRES";
    let Some(server) = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{URL_ENV} is unset: CI must start PostgreSQL (scripts/pg-test-server.sh)"
        );
        eprintln!("skipped: {URL_ENV} is unset (start a server with scripts/pg-test-server.sh)");
        return;
    };
    let db = format!("hypersweep_cli_dashboard_{}", std::process::id());
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([server.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
    };
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {db}"));
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/{db}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gate"), "").expect("no waiting");
    let spec = gated_sweep(dir.path(), "pg", 3);
    let out = Command::new(BIN)
        .args(["run", path(&spec), "--storage", &url])
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    {
        let mut dashboard = spawn(&["dashboard", "--storage", &url, "--port", "0"]);
        let addr = address(stdout_of(&mut dashboard));
        let delta = changes(&addr, "pg", 0);
        assert_eq!(delta["trials"].as_array().map(Vec::len), Some(3));
        assert_eq!(delta["head"]["counts"]["complete"], 3);
    }
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
