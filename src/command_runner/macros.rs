//! The command template: `{name}` placeholders and W&B's `${...}` macros,
//! parsed once when the runner is built and expanded per trial into argv.
//!
//! Nothing here goes through a shell: every template element becomes argv
//! elements as is, so a value with spaces or quotes reaches the program
//! intact. Two syntaxes are recognised:
//!
//! - `{name}` anywhere inside an element, where `name` looks like a
//!   parameter name (letters, digits, `_`, `.`, `-`; not starting with a
//!   digit, `.` or `-`). Text like `{'a': 1}` or `{x:.2f}` in an inline
//!   script is not a placeholder. When the runner knows the search space,
//!   a `{name}` naming none of its parameters stays literal text (so a
//!   `python3 -c` script's f-strings survive), and an element whose
//!   parameter is inactive in a trial (a condition is not met) is dropped
//!   from argv. Without a known space every `{name}` is a placeholder, and
//!   one naming no parameter of the trial stays literal.
//! - `${macro}`, W&B's macros. The multi-argument ones (`${args}`,
//!   `${args_no_hyphens}`, `${args_no_boolean_flags}`) must be a whole
//!   element; the others may sit inside one (`--config=${args_json_file}`).
//!   A whole element `${x}` naming no macro is an error (no shell would
//!   expand it); inside a longer element it stays literal, because it is
//!   most likely a shell variable in a `sh -c` script.
//! - `{seed}` and `${seed}`: the evaluation's seed (`HYPERSWEEP_SEED`),
//!   unless the space has a parameter named `seed`, which then wins (a
//!   sweep that searches over seeds keeps working).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use hypersweep_search::Params;
use serde_json::Value;

use super::CommandError;

/// The placeholder of the evaluation's seed.
pub(crate) const SEED: &str = "seed";

/// What `${env}` expands to (W&B's choice on Unix).
pub(crate) const ENV_PROGRAM: &str = "/usr/bin/env";

/// How a multi-argument macro renders each parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgsStyle {
    /// `${args}`: `--name=value`.
    Hyphens,
    /// `${args_no_hyphens}`: `name=value`.
    NoHyphens,
    /// `${args_no_boolean_flags}`: `--name=value`, but `true` is `--name`
    /// and `false` is left out.
    NoBooleanFlags,
}

/// A piece of one template element.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Param(String),
    /// `{seed}` or `${seed}`: the evaluation's seed.
    Seed,
    /// `${args_json}`.
    ArgsJson,
    /// `${args_json_file}`.
    ArgsJsonFile,
}

/// One element of the command template.
#[derive(Debug, Clone, PartialEq)]
enum Element {
    /// Expands to one argument per active parameter.
    Args(ArgsStyle),
    /// Expands to exactly one argument (or none when a placeholder's
    /// parameter is inactive).
    Text(Vec<Piece>),
}

/// A parsed, validated command template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CommandTemplate {
    elements: Vec<Element>,
    uses_json_file: bool,
    /// Whether the parameter names were known when parsing (then a missing
    /// parameter is an inactive one, and its element is dropped).
    space_known: bool,
}

/// What a template needs from outside when it is parsed.
pub(crate) struct TemplateInputs<'a> {
    /// `program` (W&B), for `${program}`.
    pub program: Option<&'a str>,
    /// The search space's parameter names, when known.
    pub param_names: Option<&'a HashSet<String>>,
}

impl CommandTemplate {
    /// Parses `command`, resolving `${env}`, `${interpreter}` and
    /// `${program}` now.
    pub(crate) fn parse(
        command: &[String],
        inputs: &TemplateInputs<'_>,
    ) -> Result<Self, CommandError> {
        if command.is_empty() {
            return Err(CommandError::EmptyCommand);
        }
        if command[0].trim().is_empty() {
            return Err(CommandError::EmptyProgram);
        }
        let mut elements = Vec::with_capacity(command.len());
        let mut interpreter = None;
        for element in command {
            if let Some(style) = whole_args_macro(element) {
                elements.push(Element::Args(style));
                continue;
            }
            let pieces = parse_element(element, inputs, &mut interpreter)?;
            elements.push(Element::Text(pieces));
        }
        let uses_json_file = elements
            .iter()
            .any(|e| matches!(e, Element::Text(pieces) if pieces.contains(&Piece::ArgsJsonFile)));
        Ok(CommandTemplate {
            elements,
            uses_json_file,
            space_known: inputs.param_names.is_some(),
        })
    }

    /// True when expanding needs a params file (`${args_json_file}`).
    pub(crate) fn uses_json_file(&self) -> bool {
        self.uses_json_file
    }

    /// The argv for one evaluation. `json_file` is where the params JSON
    /// was written, when [`CommandTemplate::uses_json_file`]; `seed` is the
    /// evaluation's seed (`None`: shown as `<seed>`, for `check`).
    pub(crate) fn expand(
        &self,
        params: &Params,
        json_file: Option<&Path>,
        seed: Option<u64>,
    ) -> Vec<String> {
        let mut argv = Vec::new();
        for element in &self.elements {
            match element {
                Element::Args(style) => argv.extend(render_args(params, *style)),
                Element::Text(pieces) => {
                    let rendered = render_text(pieces, params, json_file, seed, self.space_known);
                    if let Some(arg) = rendered {
                        argv.push(arg);
                    }
                }
            }
        }
        argv
    }
}

/// W&B's default command when only `program` is given:
/// `${env} ${interpreter} ${program} ${args}`.
pub(crate) fn default_command() -> Vec<String> {
    ["${env}", "${interpreter}", "${program}", "${args}"]
        .map(str::to_owned)
        .to_vec()
}

fn whole_args_macro(element: &str) -> Option<ArgsStyle> {
    match element {
        "${args}" => Some(ArgsStyle::Hyphens),
        "${args_no_hyphens}" => Some(ArgsStyle::NoHyphens),
        "${args_no_boolean_flags}" => Some(ArgsStyle::NoBooleanFlags),
        _ => None,
    }
}

fn parse_element(
    element: &str,
    inputs: &TemplateInputs<'_>,
    interpreter: &mut Option<String>,
) -> Result<Vec<Piece>, CommandError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = element;
    while let Some(open) = rest.find('{') {
        let dollar = open > 0 && rest.as_bytes()[open - 1] == b'$';
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let name = &rest[open + 1..close];
        let start = if dollar { open - 1 } else { open };
        let piece = if dollar {
            macro_piece(element, name, inputs, interpreter)?
        } else if name == SEED && inputs.param_names.is_none_or(|names| !names.contains(name)) {
            Some(Piece::Seed)
        } else if is_param_name(name) && inputs.param_names.is_none_or(|names| names.contains(name))
        {
            Some(Piece::Param(name.to_owned()))
        } else {
            None
        };
        match piece {
            Some(piece) => {
                literal.push_str(&rest[..start]);
                push_piece(&mut pieces, &mut literal, piece);
                rest = &rest[close + 1..];
            }
            None => {
                // Not ours: keep the text up to and including the brace.
                literal.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// Appends `piece`, merging literals so expansion stays simple.
fn push_piece(pieces: &mut Vec<Piece>, literal: &mut String, piece: Piece) {
    if let Piece::Literal(text) = piece {
        literal.push_str(&text);
        return;
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
    pieces.push(piece);
}

/// The piece for `${name}` inside `element`; `None` keeps it literal.
fn macro_piece(
    element: &str,
    name: &str,
    inputs: &TemplateInputs<'_>,
    interpreter: &mut Option<String>,
) -> Result<Option<Piece>, CommandError> {
    let piece = match name {
        "env" => Piece::Literal(ENV_PROGRAM.to_owned()),
        "interpreter" => Piece::Literal(
            interpreter
                .get_or_insert_with(|| find_interpreter(std::env::var_os("PATH")))
                .clone(),
        ),
        "program" => match inputs.program {
            Some(program) => Piece::Literal(program.to_owned()),
            None => return Err(CommandError::MissingProgram),
        },
        "args_json" => Piece::ArgsJson,
        SEED if inputs.param_names.is_none_or(|names| !names.contains(SEED)) => Piece::Seed,
        SEED => Piece::Param(SEED.to_owned()),
        "args_json_file" => Piece::ArgsJsonFile,
        "args" | "args_no_hyphens" | "args_no_boolean_flags" => {
            return Err(CommandError::MacroNotAlone {
                element: element.to_owned(),
                name: name.to_owned(),
            });
        }
        _ if element == format!("${{{name}}}") => {
            return Err(CommandError::UnknownMacro {
                name: name.to_owned(),
            });
        }
        _ => return Ok(None),
    };
    Ok(Some(piece))
}

fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `${interpreter}`: `python3` when it is on `PATH`, else `python` when that
/// is, else `python3` (whose spawn error then names what is missing).
pub(crate) fn find_interpreter(path: Option<std::ffi::OsString>) -> String {
    let dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for candidate in ["python3", "python"] {
        if dirs.iter().any(|dir| is_executable(&dir.join(candidate))) {
            return candidate.to_owned();
        }
    }
    "python3".to_owned()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A value as one argument: strings unquoted, everything else as compact
/// JSON (`0.001`, `true`, `[1,2]`, `null`).
pub(crate) fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_args(params: &Params, style: ArgsStyle) -> Vec<String> {
    params
        .iter()
        .filter_map(|(name, value)| match (style, value) {
            (ArgsStyle::NoBooleanFlags, Value::Bool(true)) => Some(format!("--{name}")),
            (ArgsStyle::NoBooleanFlags, Value::Bool(false)) => None,
            (ArgsStyle::NoHyphens, v) => Some(format!("{name}={}", render_value(v))),
            (_, v) => Some(format!("--{name}={}", render_value(v))),
        })
        .collect()
}

fn render_text(
    pieces: &[Piece],
    params: &Params,
    json_file: Option<&Path>,
    seed: Option<u64>,
    space_known: bool,
) -> Option<String> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Param(name) => match params.get(name) {
                Some(value) => out.push_str(&render_value(value)),
                None if space_known => return None,
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
            // Without a known space a trial may still have a `seed` param.
            Piece::Seed => match (params.get(SEED), seed) {
                (Some(value), _) => out.push_str(&render_value(value)),
                (None, Some(seed)) => out.push_str(&seed.to_string()),
                (None, None) => out.push_str("<seed>"),
            },
            Piece::ArgsJson => out.push_str(&params.to_nested().to_string()),
            Piece::ArgsJsonFile => {
                if let Some(path) = json_file {
                    out.push_str(&path.to_string_lossy());
                }
            }
        }
    }
    Some(out)
}
