//! Progress of a running sweep: a bar on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::sync::Arc;

use hypersweep_trials::TrialState;
use hypersweep_trials::scheduler::{Observer, Progress, SweepEvent};
use indicatif::{ProgressBar, ProgressStyle};

/// Builds the observer for a sweep with `budget` trials; the bar (if any) is
/// returned so the caller can finish it.
pub fn observer(budget: Option<u64>, counted: u64) -> (Observer, Option<ProgressBar>) {
    if std::io::stdout().is_terminal() {
        let bar = match budget {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::no_length(),
        };
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} finished, {msg} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_position(counted);
        let b = bar.clone();
        let obs: Observer = Arc::new(move |e: &SweepEvent| {
            let p = progress_of(e);
            b.set_position(p.counted);
            b.set_message(summary(p));
        });
        (obs, Some(bar))
    } else {
        let obs: Observer = Arc::new(|e: &SweepEvent| {
            if let SweepEvent::Finished { trial, progress } = e {
                let outcome = match trial.state {
                    TrialState::Complete => format!("complete, value {}", fmt_value(trial.value)),
                    TrialState::Pruned => format!("pruned, value {}", fmt_value(trial.value)),
                    TrialState::Failed => {
                        format!("failed: {}", trial.error.as_deref().unwrap_or("unknown"))
                    }
                    TrialState::Running => "running".to_owned(),
                };
                let of = progress.budget.map_or(String::new(), |b| format!("/{b}"));
                outln!(
                    "trial {} {outcome} [{}{of} finished, {}]",
                    trial.number,
                    progress.counted,
                    summary(progress)
                );
            }
        });
        (obs, None)
    }
}

fn progress_of(e: &SweepEvent) -> &Progress {
    match e {
        SweepEvent::Started { progress, .. } | SweepEvent::Finished { progress, .. } => progress,
    }
}

fn summary(p: &Progress) -> String {
    format!(
        "{} running, {} failed, best {}",
        p.running,
        p.failed,
        fmt_value(p.best)
    )
}

fn fmt_value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.6}"))
}
