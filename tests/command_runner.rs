//! `CommandRunner` driving small real processes (`sh`, `python3`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hypersweep::CommandRunner;
use hypersweep::search::Params;
use hypersweep::trials::{Decision, Device, Reporter, RunOutcome, Runner, TrialContext};
use serde_json::{Value, json};
use tokio::sync::watch;

type Reports = Arc<Mutex<Vec<(u64, f64)>>>;

/// A reporter that records every report and answers with `decide`.
fn reporter(
    decide: impl Fn(u64, f64) -> Decision + Send + Sync + 'static,
) -> (Reporter, Reports, watch::Sender<bool>) {
    let reports: Reports = Arc::default();
    let sink = Arc::clone(&reports);
    let (cancel, rx) = watch::channel(false);
    let reporter = Reporter::new(
        Arc::new(move |step, value| {
            sink.lock().expect("lock").push((step, value));
            decide(step, value)
        }),
        rx,
    );
    (reporter, reports, cancel)
}

fn context(params: Params, reporter: Reporter, log_dir: Option<&Path>) -> TrialContext {
    TrialContext {
        study: "demo".to_owned(),
        number: 7,
        attempt: 0,
        seed: 4242,
        repeat: 0,
        params,
        device: Device::Cpu,
        log_dir: log_dir.map(Path::to_path_buf),
        reporter,
    }
}

fn runner(command: &[&str], metric: &str) -> CommandRunner {
    CommandRunner::builder(command.iter().map(|s| s.to_string()).collect())
        .metric(metric)
        .grace_period(Duration::from_millis(300))
        .build()
        .expect("valid command")
}

fn failed(outcome: &RunOutcome) -> &str {
    match outcome {
        RunOutcome::Failed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// True while `pid` runs (a zombie awaiting its reaper counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.trim().chars().next());
            !matches!(state, Some('Z' | 'X'))
        }
        Err(_) => false,
    }
}

/// Resolves once the first report has arrived.
async fn first_report(reports: &Reports) -> f64 {
    loop {
        if let Some(&(_, value)) = reports.lock().expect("lock").first() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Bound on how long a terminated trial may take to return in these tests:
/// generous for a loaded machine, far below the children's `sleep 100`.
const PROMPT: Duration = Duration::from_secs(5);

/// Waits (up to [`PROMPT`]) for `pid` to be gone.
async fn gone(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < PROMPT {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn three_reports_complete_with_the_last_value_and_are_logged() {
    let script = r#"
import json, sys
for step, loss in [(1, 0.9), (2, 0.5), (3, 0.25)]:
    print(json.dumps({"step": step, "loss": loss}), flush=True)
print("warming up", file=sys.stderr)
print("not json")
"#;
    let logs = tempfile::tempdir().expect("temp dir");
    let (rep, reports, _cancel) = reporter(|_, _| Decision::Continue);
    let ctx = context(Params::new(), rep, Some(logs.path()));
    let runner = runner(&["python3", "-c", script], "loss");
    let outcome = runner.run(ctx).await;
    assert_eq!(outcome, RunOutcome::Complete(0.25));
    assert_eq!(
        *reports.lock().expect("lock"),
        [(1, 0.9), (2, 0.5), (3, 0.25)]
    );
    let log_path = runner
        .log_path(Some(logs.path()), 7, 0)
        .expect("a log path");
    assert!(log_path.ends_with("trial-00007-0.log"));
    let log = std::fs::read_to_string(log_path).expect("log written");
    assert!(log.contains(r#"{"step": 3, "loss": 0.25}"#), "{log}");
    assert!(
        log.contains("warming up\n") && log.contains("not json\n"),
        "{log}"
    );
}

#[tokio::test]
async fn steps_default_to_a_running_counter() {
    let script = r#"echo '{"acc": 0.1}'; echo '{"acc": 0.2, "epoch": 5}'; echo '{"acc": 0.3}'"#;
    let (rep, reports, _cancel) = reporter(|_, _| Decision::Continue);
    let outcome = runner(&["sh", "-c", script], "acc")
        .run(context(Params::new(), rep, None))
        .await;
    assert_eq!(outcome, RunOutcome::Complete(0.3));
    assert_eq!(
        *reports.lock().expect("lock"),
        [(1, 0.1), (5, 0.2), (6, 0.3)]
    );
}

#[tokio::test]
async fn non_zero_exit_fails_with_the_stderr_tail() {
    let script = "echo 'line one' >&2; echo 'Traceback: boom' >&2; exit 3";
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let outcome = runner(&["sh", "-c", script], "loss")
        .run(context(Params::new(), rep, None))
        .await;
    assert_eq!(failed(&outcome), "exit code 3: line one\nTraceback: boom");
}

#[tokio::test]
async fn exit_zero_without_the_metric_fails() {
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let outcome = runner(&["sh", "-c", r#"echo '{"acc": 1}'"#], "loss")
        .run(context(Params::new(), rep, None))
        .await;
    assert_eq!(failed(&outcome), "exited 0 without reporting metric `loss`");
}

#[tokio::test]
async fn a_nan_report_fails_the_trial() {
    // json.dumps writes NaN bare, which is not JSON but must still count.
    let script = r#"import json; print(json.dumps({"loss": 1.0})); print(json.dumps({"loss": float("nan")}))"#;
    let (rep, reports, _cancel) = reporter(|_, _| Decision::Continue);
    let outcome = runner(&["python3", "-c", script], "loss")
        .run(context(Params::new(), rep, None))
        .await;
    assert_eq!(
        failed(&outcome),
        "reported a non-finite value of `loss`: NaN"
    );
    let reports = reports.lock().expect("lock");
    assert_eq!(reports.len(), 2);
    assert!(reports[1].1.is_nan());
}

#[tokio::test]
async fn a_missing_program_fails_with_the_os_error() {
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let outcome = runner(&["/nonexistent/train-hypersweep"], "loss")
        .run(context(Params::new(), rep, None))
        .await;
    let message = failed(&outcome);
    assert!(
        message.starts_with("cannot start `/nonexistent/train-hypersweep`: "),
        "{message}"
    );
    assert!(message.contains("No such file"), "{message}");
}

#[tokio::test]
async fn a_signal_is_reported() {
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let outcome = runner(&["sh", "-c", "kill -9 $$"], "loss")
        .run(context(Params::new(), rep, None))
        .await;
    assert_eq!(failed(&outcome), "killed by signal 9");
}

#[tokio::test]
async fn a_hang_times_out_within_timeout_plus_grace() {
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    // The shell and its sleep ignore SIGTERM: only SIGKILL ends them.
    let script = r#"trap '' TERM; sleep 100 & echo "{\"pid\": $!}"; wait"#;
    let runner = CommandRunner::builder(vec!["sh".into(), "-c".into(), script.into()])
        .metric("pid")
        .trial_timeout(Duration::from_millis(300))
        .grace_period(Duration::from_millis(200))
        .build()
        .expect("valid");
    let start = Instant::now();
    let outcome = runner.run(context(Params::new(), rep.clone(), None)).await;
    let elapsed = start.elapsed();
    assert_eq!(failed(&outcome), "timed out after 300 ms");
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < PROMPT, "{elapsed:?}");
}

#[tokio::test]
async fn a_prune_decision_kills_the_process_and_its_children() {
    let (rep, reports, _cancel) = reporter(|_, _| Decision::Prune);
    let script = r#"sleep 100 & echo "{\"pid\": $!}"; wait"#;
    let start = Instant::now();
    let outcome = runner(&["sh", "-c", script], "pid")
        .run(context(Params::new(), rep, None))
        .await;
    assert_eq!(outcome, RunOutcome::Pruned);
    assert!(start.elapsed() < PROMPT);
    let grandchild = reports.lock().expect("lock")[0].1 as u32;
    assert!(gone(grandchild).await, "grandchild {grandchild} survived");
}

#[tokio::test]
async fn stragglers_are_killed_when_the_leader_exits() {
    // The background sleep keeps stdout open: without killing the group the
    // runner would wait for it.
    let script = r#"sleep 100 & echo "{\"pid\": $!}""#;
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let start = Instant::now();
    let outcome = runner(&["sh", "-c", script], "pid")
        .run(context(Params::new(), rep, None))
        .await;
    let RunOutcome::Complete(pid) = outcome else {
        panic!("expected Complete, got {outcome:?}");
    };
    assert!(start.elapsed() < PROMPT);
    assert!(gone(pid as u32).await, "grandchild {pid} survived");
}

#[tokio::test]
async fn cancellation_interrupts_the_trial() {
    let (rep, reports, cancel) = reporter(|_, _| Decision::Continue);
    let script = r#"sleep 100 & echo "{\"pid\": $!}"; wait"#;
    let run = runner(&["sh", "-c", script], "pid").run(context(Params::new(), rep, None));
    let cancel_later = async {
        first_report(&reports).await;
        let _ = cancel.send(true);
    };
    let start = Instant::now();
    let (outcome, ()) = tokio::join!(run, cancel_later);
    assert_eq!(failed(&outcome), "interrupted");
    assert!(start.elapsed() < PROMPT);
    let grandchild = reports.lock().expect("lock")[0].1 as u32;
    assert!(gone(grandchild).await, "grandchild {grandchild} survived");
}

#[tokio::test]
async fn dropping_the_run_kills_the_group() {
    let (rep, reports, _cancel) = reporter(|_, _| Decision::Continue);
    let script = r#"sleep 100 & echo "{\"pid\": $!}"; wait"#;
    let run = runner(&["sh", "-c", script], "pid").run(context(Params::new(), rep, None));
    let grandchild = tokio::select! {
        outcome = run => panic!("the trial should still be running, got {outcome:?}"),
        pid = first_report(&reports) => pid as u32,
    };
    assert!(gone(grandchild).await, "grandchild {grandchild} survived");
}

#[tokio::test]
async fn params_reach_argv_and_environment() {
    let script = r#"
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in
    ["HYPERSWEEP_PARAMS", "HYPERSWEEP_TRIAL", "HYPERSWEEP_STUDY", "CUDA_VISIBLE_DEVICES",
     "HYPERSWEEP_GPUS", "EXTRA"]}}))
print(json.dumps({"loss": 0.5}))
"#;
    let mut params = Params::new();
    params.insert("lr", json!(0.01));
    params.insert("opt", json!("adam w"));
    params.insert("amp", json!(true));
    let logs = tempfile::tempdir().expect("temp dir");
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let mut ctx = context(params, rep, Some(logs.path()));
    ctx.device = Device::Cuda(2);
    let command = [
        "python3",
        "-c",
        script,
        "--rate={lr}",
        "${args}",
        "${args_json_file}",
    ];
    let runner = CommandRunner::builder(command.iter().map(|s| s.to_string()).collect())
        .env("EXTRA", "x")
        .build()
        .expect("valid");
    assert_eq!(runner.run(ctx).await, RunOutcome::Complete(0.5));

    let log = std::fs::read_to_string(logs.path().join("trial-00007-0.log")).expect("log");
    let first: Value = serde_json::from_str(log.lines().next().expect("a line")).expect("JSON");
    let params_file = logs.path().join("trial-00007-0.params.json");
    assert_eq!(
        first["argv"],
        json!([
            "--rate=0.01",
            "--lr=0.01",
            "--opt=adam w",
            "--amp=true",
            params_file.to_string_lossy()
        ])
    );
    let expected_params = json!({"lr": 0.01, "opt": "adam w", "amp": true});
    let env = &first["env"];
    let env_params: Value =
        serde_json::from_str(env["HYPERSWEEP_PARAMS"].as_str().expect("set")).expect("JSON");
    assert_eq!(env_params, expected_params);
    assert_eq!(env["HYPERSWEEP_TRIAL"], "7");
    assert_eq!(env["HYPERSWEEP_STUDY"], "demo");
    assert_eq!(env["CUDA_VISIBLE_DEVICES"], "2");
    assert_eq!(env["HYPERSWEEP_GPUS"], "1");
    assert_eq!(env["EXTRA"], "x");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(params_file).expect("params file"))
            .expect("JSON");
    assert_eq!(file, expected_params);
}

#[tokio::test]
async fn the_seed_reaches_the_process_as_env_and_placeholders() {
    // The context's seed is 4242, evaluation 0.
    let script = r#"echo "{\"loss\": $HYPERSWEEP_SEED, \"r\": $HYPERSWEEP_REPEAT}"; echo "{\"loss\": $(( $1 + $2 ))}""#;
    let (rep, _reports, _cancel) = reporter(|_, _| Decision::Continue);
    let ctx = context(Params::new(), rep, None);
    let runner = runner(&["sh", "-c", script, "sh", "{seed}", "${seed}"], "loss");
    assert_eq!(runner.run(ctx).await, RunOutcome::Complete(8484.0));
}

/// Two multi-GPU trials running at once on one machine (slots of
/// `gpus_per_trial: 2` over GPUs 0-3): each sees its own two GPUs and the
/// launcher's variables, and each can bind its rendezvous port while the
/// other holds its own (as torchrun's store would).
#[tokio::test]
async fn multi_gpu_slots_get_their_gpus_and_distinct_rendezvous_ports() {
    let script = r#"
import json, os, socket, sys, time
out = sys.argv[1]
store = socket.socket()
store.bind((os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])))
store.listen()
keys = ["CUDA_VISIBLE_DEVICES", "HYPERSWEEP_GPUS", "MASTER_ADDR", "MASTER_PORT",
        "PET_NPROC_PER_NODE", "PET_MASTER_ADDR", "PET_MASTER_PORT", "WORLD_SIZE", "LOCAL_RANK"]
with open(os.path.join(out, os.environ["HYPERSWEEP_TRIAL"] + ".json"), "w") as f:
    json.dump({k: os.environ.get(k) for k in keys}, f)
# Hold the port until the other trial has bound its own.
deadline = time.time() + 60
while len([n for n in os.listdir(out) if n.endswith(".json")]) < 2:
    if time.time() > deadline:
        sys.exit("the other trial never started")
    time.sleep(0.01)
print(json.dumps({"loss": 1.0}))
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_string_lossy().into_owned();
    let runner = runner(&["python3", "-c", script, &out], "loss");
    let slots = hypersweep::trials::device::slots_for(&[0, 1, 2, 3], 2, 1, 2).expect("slots");
    let trial = |number: u64, device: Device| {
        let (rep, _, cancel) = reporter(|_, _| Decision::Continue);
        let mut ctx = context(Params::new(), rep, None);
        ctx.number = number;
        ctx.device = device;
        (ctx, cancel)
    };
    let (a, _ca) = trial(1, slots[0]);
    let (b, _cb) = trial(2, slots[1]);
    let (ra, rb) = tokio::join!(runner.run(a), runner.run(b));
    assert_eq!(ra, RunOutcome::Complete(1.0));
    assert_eq!(rb, RunOutcome::Complete(1.0));
    let read = |n: u64| -> Value {
        let text = std::fs::read_to_string(dir.path().join(format!("{n}.json"))).expect("env");
        serde_json::from_str(&text).expect("JSON")
    };
    let (ea, eb) = (read(1), read(2));
    assert_eq!(ea["CUDA_VISIBLE_DEVICES"], "0,1");
    assert_eq!(eb["CUDA_VISIBLE_DEVICES"], "2,3");
    for env in [&ea, &eb] {
        assert_eq!(env["HYPERSWEEP_GPUS"], "2");
        assert_eq!(env["PET_NPROC_PER_NODE"], "2");
        assert_eq!(env["MASTER_ADDR"], "127.0.0.1");
        assert_eq!(env["PET_MASTER_ADDR"], "127.0.0.1");
        assert_eq!(env["MASTER_PORT"], env["PET_MASTER_PORT"]);
        // Per-process variables are the launcher's to set.
        assert_eq!(env["WORLD_SIZE"], Value::Null);
        assert_eq!(env["LOCAL_RANK"], Value::Null);
    }
    assert_ne!(ea["MASTER_PORT"], eb["MASTER_PORT"]);
}

/// A CPU slot gets none of the launcher's variables (the parent's
/// `CUDA_VISIBLE_DEVICES`, if any, is inherited as it is).
#[tokio::test]
async fn cpu_slots_get_no_launcher_variables() {
    let script = r#"
import json, os
print(json.dumps({"loss": float(sum(k in os.environ for k in
    ["HYPERSWEEP_GPUS", "MASTER_PORT", "PET_MASTER_PORT", "PET_NPROC_PER_NODE"]))}))
"#;
    let (rep, _, _cancel) = reporter(|_, _| Decision::Continue);
    let ctx = context(Params::new(), rep, None);
    let runner = runner(&["python3", "-c", script], "loss");
    assert_eq!(runner.run(ctx).await, RunOutcome::Complete(0.0));
}
