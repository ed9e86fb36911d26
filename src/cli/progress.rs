//! Progress of a running sweep: a bar on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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
        // indicatif's own `{eta}` extrapolates from the bar's position, which
        // starts at the trials counted before this run: on a resumed study
        // it would promise an end before anything ran. The ETA is ours.
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} finished, {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_position(counted);
        bar.set_message(summary(&Progress {
            counted,
            budget,
            ..Progress::default()
        }));
        let b = bar.clone();
        let eta = Mutex::new(Eta::new(counted));
        let obs: Observer = Arc::new(move |e: &SweepEvent| {
            let p = progress_of(e);
            let left = eta
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .left(p, Instant::now());
            b.set_position(p.counted);
            b.set_message(format!("{} (ETA {})", summary(p), fmt_eta(left)));
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

/// The time left, from the rate at which this run has counted trials.
struct Eta {
    start: Instant,
    counted_at_start: u64,
}

impl Eta {
    fn new(counted_at_start: u64) -> Eta {
        Eta {
            start: Instant::now(),
            counted_at_start,
        }
    }

    /// `None` until a trial of this run has been counted (there is no rate
    /// to extrapolate from), and without a budget.
    fn left(&self, p: &Progress, now: Instant) -> Option<Duration> {
        let done = p.counted.checked_sub(self.counted_at_start)?;
        let remaining = p.budget?.saturating_sub(p.counted);
        if done == 0 {
            return None;
        }
        let per_trial = now.duration_since(self.start).as_secs_f64() / done as f64;
        Some(Duration::from_secs_f64(per_trial * remaining as f64))
    }
}

fn fmt_eta(left: Option<Duration>) -> String {
    left.map_or_else(|| "-".to_owned(), |d| super::time::clock(d.as_secs()))
}

fn progress_of(e: &SweepEvent) -> &Progress {
    match e {
        SweepEvent::Started { progress, .. } | SweepEvent::Finished { progress, .. } => progress,
    }
}

fn summary(p: &Progress) -> String {
    format!(
        "{} running, {} pruned, {} failed, best {}",
        p.running,
        p.pruned,
        p.failed,
        fmt_value(p.best)
    )
}

fn fmt_value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.6}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(counted: u64) -> Progress {
        Progress {
            counted,
            budget: Some(100),
            ..Progress::default()
        }
    }

    #[test]
    fn no_eta_before_a_trial_of_this_run_is_counted() {
        let eta = Eta::new(40);
        let later = eta.start + Duration::from_secs(30);
        // A resumed study: 40 counted before this run, none since.
        assert_eq!(eta.left(&progress(40), later), None);
        assert_eq!(fmt_eta(eta.left(&progress(40), later)), "-");
        // 10 in 30 s: 3 s each, 50 left.
        assert_eq!(
            eta.left(&progress(50), later),
            Some(Duration::from_secs(150))
        );
        let unbounded = Progress {
            budget: None,
            ..progress(50)
        };
        assert_eq!(eta.left(&unbounded, later), None);
    }

    #[test]
    fn eta_and_summary_text() {
        assert_eq!(fmt_eta(Some(Duration::from_secs(59))), "59s");
        assert_eq!(fmt_eta(Some(Duration::from_secs(150))), "2m30s");
        assert_eq!(fmt_eta(Some(Duration::from_secs(7322))), "2h02m");
        let p = Progress {
            running: 2,
            pruned: 3,
            failed: 1,
            best: Some(0.5),
            ..progress(10)
        };
        assert_eq!(summary(&p), "2 running, 3 pruned, 1 failed, best 0.500000");
    }
}
