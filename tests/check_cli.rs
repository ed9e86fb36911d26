//! `hypersweep check` on real sweep files, driven through the binary: good
//! files print their space and exit 0; every malformed file exits 2 with the
//! file name and the JSON path of the problem on stderr, and never panics.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn check(relative: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hypersweep"))
        .arg("check")
        .arg(repo_file(relative))
        .output()
        .expect("the hypersweep binary runs")
}

/// stdout with runs of spaces collapsed, so column widths do not matter.
fn squeezed_stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `check` on a good file and returns its squeezed summary.
fn check_ok(relative: &str) -> String {
    let out = check(relative);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{relative}: {stderr}");
    squeezed_stdout(&out)
}

fn assert_lines(summary: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            summary.lines().any(|l| l == *line),
            "missing line `{line}` in:\n{summary}"
        );
    }
}

#[test]
fn wandb_file_with_nested_groups() {
    let summary = check_ok("examples/sweeps/wandb_mnist_nested.json");
    assert_lines(
        &summary,
        &[
            "method gp",
            "metric val_loss (minimize)",
            "run 60 trials, 4 parallel, timeout 8h, seed 7, devices auto",
            "parameters (11):",
            "lr float [1e-5, 0.1] log",
            "batch_size int [16, 256] log step 16",
            "epochs const 20",
            "momentum float [0, 0.99] when optimizer in [\"sgd\"]",
            "weight_decay float [1.01301e-5, 0.0100518] log when optimizer in [\"adamw\", \"sgd\"]",
            "model.width int [64, 1024] log",
            "model.depth int [2, 8]",
            "model.dropout float [0, 0.5]",
            "model.skip_every categorical [1, 2] when model.kind in [\"resmlp\"]",
        ],
    );
}

#[test]
fn nas_cell_file() {
    let summary = check_ok("examples/sweeps/nas_cell.json");
    assert_lines(
        &summary,
        &[
            "method evolution",
            "arch cell of 4 nodes over [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]",
        ],
    );
}

#[test]
fn yaml_wandb_file_with_hyperband() {
    let summary = check_ok("examples/sweeps/wandb_cifar_hyperband.yaml");
    assert_lines(
        &summary,
        &[
            "method random",
            "metric val_acc (maximize, target 0.95)",
            "early hyperband, W&B's bands (eta 3, the best value so far; judged at iterations 3, 9, 27, 81, 243, 729, ...)",
            "run 100 trials, 2 parallel, timeout 1h30m, devices [0, 1]",
            "batch_size int [32, 256] log",
            "momentum float [0.8, 0.99] when optimizer in [\"sgd\"]",
            "augment categorical [true, false]",
        ],
    );
}

#[test]
fn wandb_file_with_probabilities() {
    let summary = check_ok("tests/fixtures/wandb_probabilities.json");
    assert_lines(
        &summary,
        &[
            "run 40 trials, 1 parallel, devices cpu",
            "optimizer categorical [\"adam\", \"sgd\", \"rmsprop\"] p [0.6, 0.3, 0.1]",
            "dropout float [0, 0.5] step 0.05",
            "warmup_steps int [0, 2000] step 100",
            "init_scale normal mu 0 sigma 0.02",
            "layers categorical [[64,64], [128,64], [256,128,64]]",
        ],
    );
}

#[test]
fn wandb_grid_file() {
    let summary = check_ok("tests/fixtures/wandb_grid.json");
    assert_lines(
        &summary,
        &[
            "method grid",
            "dropout float [0, 0.4] step 0.1",
            "weight_decay float [1e-6, 0.001] log grid_points 4",
        ],
    );
}

#[test]
fn nni_search_space_with_nested_choice() {
    let summary = check_ok("examples/sweeps/nni_search_space.json");
    assert_lines(
        &summary,
        &[
            // An NNI file names no method: `auto`, with where it switches.
            "method auto",
            &hypersweep_search::auto::plan(9)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "metric default (minimize)",
            "hidden_size int [64, 512] step 64",
            "num_layers int [1, 4]",
            "optimizer categorical [\"sgd\", \"adam\", \"rmsprop\"]",
            "optimizer.sgd.momentum float [0.5, 0.99] when optimizer in [\"sgd\"]",
            "optimizer.sgd.nesterov categorical [true, false] when optimizer in [\"sgd\"]",
            "optimizer.adam.beta1 float [0.8, 0.95] when optimizer in [\"adam\"]",
        ],
    );
}

#[test]
fn flat_nni_search_space() {
    let summary = check_ok("tests/fixtures/nni_flat.json");
    assert_lines(
        &summary,
        &[
            "parameters (8):",
            "lr float [1e-5, 0.1] log step 1e-5",
            "dropout_rate float [0.5, 0.9]",
            "weight_decay log_normal mu -9 sigma 1",
            "grad_clip normal mu 1 sigma 0.5 q 0.1",
        ],
    );
}

/// Every malformed file, with the path its error must name.
const MALFORMED: &[(&str, &str)] = &[
    ("min_above_max.json", "parameters.lr.max"),
    (
        "nested_min_above_max.json",
        "parameters.model.parameters.width.max",
    ),
    ("log_range_zero.json", "parameters.lr.min"),
    ("unknown_distribution.json", "parameters.lr.distribution"),
    ("unknown_top_key.json", "early_terminte"),
    ("unknown_param_key.json", "parameters.dropout.maximum"),
    ("empty_values.json", "parameters.optimizer.values"),
    (
        "probabilities_sum.json",
        "parameters.optimizer.probabilities",
    ),
    (
        "probabilities_count.json",
        "parameters.optimizer.probabilities",
    ),
    (
        "when_missing_parent.json",
        "parameters.momentum.when.optimiser",
    ),
    ("when_continuous_parent.json", "parameters.momentum.when.lr"),
    ("cyclic_conditions.json", ".when."),
    ("unknown_method.json", "method"),
    ("grid_continuous.json", "parameters.lr"),
    ("grid_normal.json", "parameters.init_std"),
    ("invalid_json.json", "line 4, column 38"),
    ("wrong_type.json", "parameters.lr.min"),
    ("nni_bad_randint.json", "num_layers._value"),
    ("nni_nested_bad.json", "optimizer._value[0].momentum._value"),
    ("invalid_yaml.yaml", "line 6, column"),
    ("yaml_bad_goal.yml", "metric.goal"),
];

#[test]
fn malformed_files_exit_2_naming_file_and_path() {
    for (name, path) in MALFORMED {
        let relative = format!("tests/fixtures/bad/{name}");
        let out = check(&relative);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let file = repo_file(&relative).display().to_string();
        assert!(
            stderr.contains(&format!("{file}: ")),
            "{name}: no file name in {stderr}"
        );
        assert!(stderr.contains(path), "{name}: no `{path}` in {stderr}");
        assert!(out.stdout.is_empty(), "{name}: printed a summary");
    }
}

#[test]
fn error_messages_say_what_was_expected() {
    let stderr = |name: &str| {
        String::from_utf8_lossy(&check(&format!("tests/fixtures/bad/{name}")).stderr).into_owned()
    };
    assert!(stderr("unknown_distribution.json").contains("log_uniform_values"));
    assert!(stderr("unknown_method.json").contains("`bayes`"));
    assert!(stderr("unknown_top_key.json").contains("(did you mean `early_terminate`?)"));
    assert!(stderr("when_missing_parent.json").contains("(did you mean `optimizer`?)"));
    assert!(stderr("wrong_type.json").contains("expected a number, got the string \"abc\""));
    assert!(stderr("cyclic_conditions.json").contains("cycle"));
    assert!(stderr("probabilities_sum.json").contains("sum to 1"));
}

#[test]
fn unreadable_file_exits_2_with_its_name() {
    let out = check("tests/fixtures/no_such_sweep.json");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no_such_sweep.json"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Every good file's space, as the library parses it, decodes any point of
/// the unit cube into a configuration the space admits: the mapped domains
/// are usable by a searcher, not merely printable.
#[test]
fn good_files_decode_into_admissible_configurations() {
    let good = [
        "examples/sweeps/wandb_mnist_nested.json",
        "examples/sweeps/wandb_cifar_hyperband.yaml",
        "examples/sweeps/nni_search_space.json",
        "examples/sweeps/nas_cell.json",
        "examples/sweeps/nas_digits_processes.json",
        "tests/fixtures/wandb_probabilities.json",
        "tests/fixtures/wandb_grid.json",
        "tests/fixtures/nni_flat.json",
    ];
    for relative in good {
        let path = repo_file(relative);
        let text = std::fs::read_to_string(&path).expect("fixture is readable");
        let spec = hypersweep::search::sweep::parse_sweep(&text, relative)
            .unwrap_or_else(|e| panic!("{e}"));
        let n = spec.space.len();
        for k in 0..=20 {
            // A different coordinate per parameter, sweeping the whole cube.
            let coords: Vec<f64> = (0..n).map(|i| ((k * (i + 3)) % 21) as f64 / 20.0).collect();
            let params = spec.space.decode(&coords);
            assert!(
                spec.space.admits(&params),
                "{relative}: {coords:?} -> {params:?}"
            );
        }
    }
}

/// `check` on a sweep file written for the test.
fn check_text(dir: &std::path::Path, text: &str) -> Output {
    let path = dir.join("sweep.json");
    std::fs::write(&path, text).expect("write");
    Command::new(env!("CARGO_BIN_EXE_hypersweep"))
        .arg("check")
        .arg(&path)
        .output()
        .expect("the hypersweep binary runs")
}

#[test]
fn check_validates_the_command_and_prints_the_first_trials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let space = r#""method": "grid", "metric": {"name": "loss"},
        "parameters": {"lr": {"values": [0.1, 0.2]}}"#;
    let out = check_text(
        dir.path(),
        &format!(r#"{{{space}, "command": ["${{interpreter}}", "${{bogus}}"]}}"#),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sweep.json: command: unknown macro `${bogus}`"),
        "{stderr}"
    );

    let out = check_text(
        dir.path(),
        &format!(r#"{{{space}, "command": ["sh", "train.sh", "--lr={{lr}}", "--seed={{seed}}"]}}"#),
    );
    assert!(out.status.success());
    let stdout = squeezed_stdout(&out);
    assert!(
        stdout.contains("first sh train.sh --lr=0.1 --seed=<seed>"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning"), "`{{seed}}` is known: {stdout}");

    let out = check_text(
        dir.path(),
        &format!(r#"{{{space}, "command": ["no-such-trainer-xyz", "--lr={{lr}}"]}}"#),
    );
    assert!(out.status.success(), "a missing program is a warning");
    let typo = check_text(
        dir.path(),
        &format!(r#"{{{space}, "command": ["sh", "train.sh", "--lr={{learning_rate}}"]}}"#),
    );
    assert!(
        squeezed_stdout(&typo)
            .contains("warning `{learning_rate}` in the command names no parameter"),
        "{}",
        squeezed_stdout(&typo)
    );
    let stdout = squeezed_stdout(&out);
    assert!(
        stdout.contains("warning `no-such-trainer-xyz` is not an executable on PATH"),
        "{stdout}"
    );
}

/// `check` prints the worker slots a run would start: groups of
/// `gpus_per_trial` GPUs, each shared by `trials_per_device` trials, and the
/// GPUs left over.
#[test]
fn gpu_slots_are_listed_with_the_idle_gpus() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ddp.json");
    std::fs::write(
        &file,
        r#"{"command": ["torchrun", "train.py", "--lr={lr}"],
            "parameters": {"lr": {"values": [0.1, 0.01]}},
            "run": {"trials": 4, "parallel": 8, "devices": [0, 1, 2, 3, 4],
                    "gpus_per_trial": 2, "trials_per_device": 2}}"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_hypersweep"))
        .arg("check")
        .arg(&file)
        .output()
        .expect("the hypersweep binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_lines(
        &squeezed_stdout(&out),
        &[
            "run 4 trials, 8 parallel, 2 trials per device, 2 GPUs per trial, devices [0, 1, 2, 3, 4]",
            "slots 4: [0,1] [2,3] [0,1] [2,3] (idle GPUs: 4)",
        ],
    );
}
