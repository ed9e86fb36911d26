//! Templating and builder validation (process behaviour is tested in
//! `tests/command_runner.rs`).

use std::collections::HashSet;

use hypersweep_search::Params;
use serde_json::json;

use super::macros::{CommandTemplate, TemplateInputs, find_interpreter};
use super::*;

fn params() -> Params {
    let mut p = Params::new();
    p.insert("lr", json!(0.001));
    p.insert("layers", json!(3));
    p.insert("opt", json!("adam w"));
    p.insert("amp", json!(true));
    p.insert("ema", json!(false));
    p.insert("sizes", json!([1, 2]));
    p
}

fn argv(command: &[&str], program: Option<&str>, names: Option<&[&str]>) -> Vec<String> {
    let names: Option<HashSet<String>> = names.map(|n| n.iter().map(|s| s.to_string()).collect());
    let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    let inputs = TemplateInputs {
        program,
        param_names: names.as_ref(),
    };
    let template = CommandTemplate::parse(&command, &inputs).expect("valid template");
    template.expand(
        &params(),
        Some(std::path::Path::new("/tmp/p.json")),
        Some(77),
    )
}

#[test]
fn placeholders_render_values_without_quotes() {
    let out = argv(
        &["train", "--lr={lr}", "{opt}", "{layers}x{amp}", "{sizes}"],
        None,
        None,
    );
    assert_eq!(out, ["train", "--lr=0.001", "adam w", "3xtrue", "[1,2]"]);
}

#[test]
fn args_macros() {
    let out = argv(&["t", "${args}"], None, None);
    assert_eq!(
        out,
        [
            "t",
            "--lr=0.001",
            "--layers=3",
            "--opt=adam w",
            "--amp=true",
            "--ema=false",
            "--sizes=[1,2]"
        ]
    );
    let out = argv(&["t", "${args_no_hyphens}"], None, None);
    assert_eq!(out[1], "lr=0.001");
    assert_eq!(out[4], "amp=true");
    let out = argv(&["t", "${args_no_boolean_flags}"], None, None);
    assert_eq!(
        out,
        [
            "t",
            "--lr=0.001",
            "--layers=3",
            "--opt=adam w",
            "--amp",
            "--sizes=[1,2]"
        ]
    );
}

#[test]
fn json_macros() {
    let out = argv(
        &["t", "${args_json}", "--cfg=${args_json_file}"],
        None,
        None,
    );
    let parsed: serde_json::Value = serde_json::from_str(&out[1]).expect("JSON");
    assert_eq!(parsed["opt"], "adam w");
    assert_eq!(parsed["sizes"], json!([1, 2]));
    assert_eq!(out[2], "--cfg=/tmp/p.json");
}

#[test]
fn default_command_is_wandbs() {
    let runner = CommandRunner::builder(vec![]).program("train.py").build();
    assert!(runner.is_ok());
    let out = argv(
        &["${env}", "${interpreter}", "${program}", "${args}"],
        Some("train.py"),
        None,
    );
    assert_eq!(out[0], "/usr/bin/env");
    assert!(out[1] == "python3" || out[1] == "python");
    assert_eq!(out[2], "train.py");
    assert_eq!(out[3], "--lr=0.001");
}

#[test]
fn shell_variables_and_code_braces_stay_literal() {
    let script = "echo ${HOME} {'a': 1} {x:.2f} {lr}";
    let out = argv(&["sh", "-c", script], None, None);
    assert_eq!(out[2], "echo ${HOME} {'a': 1} {x:.2f} 0.001");
}

#[test]
fn known_space_keeps_unknown_names_and_drops_inactive_ones() {
    let names = ["lr", "momentum"];
    let out = argv(
        &["t", "--lr={lr}", "--momentum={momentum}", "print(f'{x}')"],
        None,
        Some(&names),
    );
    assert_eq!(out, ["t", "--lr=0.001", "print(f'{x}')"]);
    // Without the space, a name missing from the trial stays literal.
    let out = argv(&["t", "--momentum={momentum}"], None, None);
    assert_eq!(out, ["t", "--momentum={momentum}"]);
}

#[test]
fn invalid_templates_are_rejected() {
    let build = |cmd: &[&str]| {
        CommandRunner::builder(cmd.iter().map(|s| s.to_string()).collect())
            .build()
            .map(|_| ())
    };
    assert_eq!(build(&[]), Err(CommandError::EmptyCommand));
    assert_eq!(build(&["", "x"]), Err(CommandError::EmptyProgram));
    assert_eq!(
        build(&["t", "${argz}"]),
        Err(CommandError::UnknownMacro {
            name: "argz".to_owned()
        })
    );
    assert!(matches!(
        build(&["t", "x${args}"]),
        Err(CommandError::MacroNotAlone { .. })
    ));
    assert_eq!(
        build(&["${env}", "python3", "${program}"]),
        Err(CommandError::MissingProgram)
    );
    let empty_metric = CommandRunner::builder(vec!["t".into()]).metric(" ").build();
    assert!(matches!(empty_metric, Err(CommandError::EmptyMetric)));
}

#[test]
fn interpreter_prefers_python3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let make = |name: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join(name);
        std::fs::write(&path, "").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    let path = Some(dir.path().as_os_str().to_owned());
    assert_eq!(find_interpreter(path.clone()), "python3");
    make("python");
    assert_eq!(find_interpreter(path.clone()), "python");
    make("python3");
    assert_eq!(find_interpreter(path), "python3");
}

#[test]
fn log_path_prefers_the_runners_dir() {
    let runner = CommandRunner::builder(vec!["t".into()])
        .build()
        .expect("valid");
    assert_eq!(runner.log_path(None, 3, 0), None);
    assert_eq!(
        runner.log_path(Some(std::path::Path::new("/ctx")), 3, 1),
        Some(PathBuf::from("/ctx/trial-00003-1.log"))
    );
    let runner = CommandRunner::builder(vec!["t".into()])
        .log_dir("/mine")
        .build()
        .expect("valid");
    assert_eq!(
        runner.log_path(Some(std::path::Path::new("/ctx")), 12, 0),
        Some(PathBuf::from("/mine/trial-00012-0.log"))
    );
}

#[test]
fn builder_from_sweep_reads_program_metric_timeout_and_names() {
    use hypersweep_search::sweep::{EarlyTerminate, Metric, RunConfig};
    use hypersweep_search::{Domain, Method, Param, SearchSpace, SearcherOptions};
    use std::time::Duration;

    let lr = Param::new(
        "lr",
        Domain::Float {
            low: 1e-4,
            high: 1e-1,
            log: true,
            step: None,
        },
    );
    let spec = SweepSpec {
        name: None,
        description: None,
        method: Method::Random,
        metric: Metric {
            name: "val_loss".to_owned(),
            ..Metric::default()
        },
        space: SearchSpace::new(vec![lr]).expect("valid space"),
        early_terminate: None::<EarlyTerminate>,
        run: RunConfig {
            trial_timeout: Some(Duration::from_secs(60)),
            ..RunConfig::default()
        },
        command: None,
        program: Some("train.py".to_owned()),
        searcher: SearcherOptions::default(),
        extra: serde_json::Map::new(),
        custom: Default::default(),
    };
    let runner = CommandRunner::builder_from_sweep(&spec)
        .build()
        .expect("valid");
    assert_eq!(runner.metric(), "val_loss");
    assert_eq!(runner.config.trial_timeout, Some(Duration::from_secs(60)));
    let mut p = Params::new();
    p.insert("lr", json!(0.01));
    let argv = runner.config.template.expand(&p, None, None);
    assert_eq!(argv[0], "/usr/bin/env");
    assert_eq!(&argv[2..], ["train.py", "--lr=0.01"]);

    let mut without = spec.clone();
    without.program = None;
    assert!(matches!(
        CommandRunner::builder_from_sweep(&without).build(),
        Err(CommandError::EmptyCommand)
    ));
}

#[test]
fn seed_placeholders_give_the_seed_unless_a_param_is_named_seed() {
    let with_seed =
        |names: Option<&[&str]>| argv(&["train", "--seed={seed}", "${seed}"], None, names);
    assert_eq!(with_seed(Some(&["lr"])), ["train", "--seed=77", "77"]);
    assert_eq!(with_seed(None), ["train", "--seed=77", "77"]);
    let mut p = params();
    p.insert("seed", json!(5));
    let names: HashSet<String> = ["lr", "seed"].map(str::to_owned).into_iter().collect();
    let inputs = TemplateInputs {
        program: None,
        param_names: Some(&names),
    };
    let command = ["train", "--seed={seed}", "${seed}"].map(str::to_owned);
    let template = CommandTemplate::parse(&command, &inputs).expect("valid template");
    assert_eq!(
        template.expand(&p, None, Some(77)),
        ["train", "--seed=5", "5"]
    );
}
