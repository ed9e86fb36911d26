//! `hypersweep report`: the study as one self-contained HTML file
//! ([`hypersweep::report`]).
//!
//! The file is written whole to a temporary name beside the target and then
//! renamed, so a reader (or a browser reloading it) never sees half a page.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::common::{StudyArgs, StudySnapshot, read_study};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Store and study.
    #[command(flatten)]
    pub study: StudyArgs,
    /// The HTML file to write; `<study>.html` when left out.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs `report`.
pub fn run(args: ReportArgs) -> anyhow::Result<i32> {
    let StudySnapshot {
        name,
        record,
        trials,
        ..
    } = read_study(&args.study)?;
    let html = hypersweep::report::render(&record, &trials);
    let path = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.html", file_stem(&name))));
    write_whole(&path, html.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    outln!(
        "wrote {} ({} trials, {} KiB)",
        path.display(),
        trials.len(),
        html.len().div_ceil(1024)
    );
    Ok(0)
}

/// A study name as a file name: path separators and other awkward bytes
/// become `_`.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_names_become_safe_file_names() {
        assert_eq!(file_stem("mnist-lr_2.1"), "mnist-lr_2.1");
        assert_eq!(file_stem("a/b c"), "a_b_c");
    }
}
