//! The report's "Confidence" section: how much of a result is the seed.
//!
//! Static HTML written here (no script, no chart library): the spread of
//! each repeated trial's values over its seeds (a strip of one dot per
//! seed, on one scale for all trials), and the table of every confirmation
//! and ablation round, as `confirm` and `ablate` print them. The search's
//! other sections show search trials only; the rounds' re-runs are here.

use std::fmt::Write as _;

use hypersweep_search::sweep::SweepSpec;
use hypersweep_trials::Trial;

use crate::evidence::{
    AblationTable, ConfirmTable, Estimate, ablation_table, confirm_table, latest_round, seed_values,
};

use super::escape_html;

/// Most repeated trials listed (the best ones).
const MAX_REPEATED_ROWS: usize = 30;

/// Width and height of a spread strip, in pixels.
const STRIP: (f64, f64) = (160.0, 14.0);

/// The section's inner HTML for a study's trials (search and rounds).
pub(super) fn confidence_html(spec: &SweepSpec, trials: &[Trial]) -> String {
    let mut out = String::new();
    repeated_trials(&mut out, spec, trials);
    for round in 0..=latest_round(trials, "confirm").unwrap_or(0) {
        let table = confirm_table(spec, trials, round);
        if !table.rows.is_empty() {
            confirm_html(&mut out, &table);
        }
    }
    for round in 0..=latest_round(trials, "ablate").unwrap_or(0) {
        let table = ablation_table(spec, trials, round);
        if table.full.is_some() || !table.rows.is_empty() {
            ablation_html(&mut out, &table);
        }
    }
    if out.is_empty() {
        out.push_str(
            "<p class=\"hint\">No repeated trials and no confirmation or ablation rounds yet: \
             see <code>run.repeats</code>, <code>hypersweep confirm</code> and \
             <code>hypersweep ablate</code>.</p>",
        );
    }
    out
}

fn repeated_trials(out: &mut String, spec: &SweepSpec, trials: &[Trial]) {
    let mut repeated: Vec<(&Trial, Estimate)> = trials
        .iter()
        .filter(|t| t.role.is_search() && t.repeats.is_some())
        .filter_map(|t| Estimate::of_trial(t).map(|e| (t, e)))
        .collect();
    if repeated.is_empty() {
        return;
    }
    let direction = spec.metric.goal;
    repeated.sort_by(|a, b| {
        direction
            .loss(a.1.mean)
            .total_cmp(&direction.loss(b.1.mean))
    });
    repeated.truncate(MAX_REPEATED_ROWS);
    let all: Vec<f64> = repeated
        .iter()
        .flat_map(|(t, _)| seed_values(t).into_iter().map(|v| v.1))
        .filter(|v| v.is_finite())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let _ = write!(
        out,
        "<h3>Repeated trials: spread over seeds</h3>\
         <p class=\"hint\">The {} best of {} repeated trials; each dot is one seed's {}, on one scale \
         from {} to {}.</p><table class=\"trials\"><tr><th>trial</th><th>mean ± 95%</th>\
         <th>std. error</th><th>seeds</th><th>spread</th></tr>",
        repeated.len(),
        trials
            .iter()
            .filter(|t| t.repeats.is_some() && t.role.is_search())
            .count(),
        escape_html(&spec.metric.name),
        crate::evidence::number(lo),
        crate::evidence::number(hi)
    );
    for (t, e) in &repeated {
        let se = t
            .repeats
            .as_ref()
            .and_then(|r| r.std_error)
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.4}"));
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{se}</td><td>{}</td><td>{}</td></tr>",
            t.number,
            escape_html(&e.to_string()),
            e.n,
            strip(&seed_values(t), lo, hi)
        );
    }
    out.push_str("</table>");
}

/// One dot per value on a shared [lo, hi] scale.
fn strip(values: &[(u64, f64)], lo: f64, hi: f64) -> String {
    let (w, h) = STRIP;
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut svg = format!("<svg width=\"{w}\" height=\"{h}\" role=\"img\">");
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{0}\" x2=\"{w}\" y2=\"{0}\" stroke=\"#ccc\"/>",
        h / 2.0
    );
    for &(seed, v) in values.iter().filter(|v| v.1.is_finite()) {
        let x = 3.0 + (w - 6.0) * (v - lo) / span;
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{}\" r=\"3\" fill=\"#1565c0\" fill-opacity=\"0.6\">\
             <title>seed {seed}: {v}</title></circle>",
            h / 2.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn confirm_html(out: &mut String, table: &ConfirmTable) {
    let _ = write!(
        out,
        "<h3>Confirmation round {}</h3><table class=\"trials\"><tr><th>rank</th><th>trial</th>\
         <th>searched</th><th>confirmed mean ± 95%</th><th>params</th></tr>",
        table.round
    );
    for (i, r) in table.rows.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            r.of,
            r.searched
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}")),
            escape_html(&r.estimate.to_string()),
            escape_html(&serde_json::to_string(&r.params).unwrap_or_default())
        );
    }
    out.push_str("</table>");
    // The verdict line, as `confirm` prints it.
    if let Some(verdict) = table.to_string().lines().find(|l| l.starts_with("winner")) {
        let _ = write!(out, "<p>{}</p>", escape_html(verdict));
    }
}

fn ablation_html(out: &mut String, table: &AblationTable) {
    let full = table
        .full
        .map_or_else(|| "not run yet".to_owned(), |e| e.to_string());
    let _ = write!(
        out,
        "<h3>Ablation round {} of trial {}</h3><p>unablated: {}</p><table class=\"trials\">\
         <tr><th>param</th><th>best</th><th>baseline</th><th>after reset</th>\
         <th>effect of reset ± 95%</th><th>p-value</th></tr>",
        table.round,
        table.of,
        escape_html(&full)
    );
    for r in &table.rows {
        let (effect, p) = r.effect.map_or_else(
            || ("no shared seeds".to_owned(), "-".to_owned()),
            |e| {
                (
                    format!("{:+.4} ± {:.4}", e.mean_diff, e.half_width),
                    format!("{:.3}", e.p_value),
                )
            },
        );
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{effect}</td><td>{p}</td></tr>",
            escape_html(&r.param),
            escape_html(&r.best.to_string()),
            escape_html(&r.baseline.to_string()),
            escape_html(&r.estimate.to_string()),
        );
    }
    out.push_str("</table>");
    if !table.at_baseline.is_empty() {
        let _ = write!(
            out,
            "<p class=\"hint\">Already at baseline (no variant): {}</p>",
            escape_html(&table.at_baseline.join(", "))
        );
    }
}

#[cfg(test)]
mod tests {
    use hypersweep_search::Params;
    use hypersweep_search::sweep::parse_sweep;
    use hypersweep_trials::storage::StudyRecord;
    use hypersweep_trials::{Repeats, TrialRole, TrialState};
    use serde_json::json;

    use super::*;

    fn trial(number: u64, x: f64, values: &[f64], role: TrialRole) -> Trial {
        let mut params = Params::new();
        params.insert("x", json!(x));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        serde_json::from_value::<Trial>(json!({
            "study": "s", "number": number, "params": params, "state": TrialState::Complete,
            "value": mean, "started_ms": 1, "seeds": (0..values.len() as u64).collect::<Vec<_>>(),
            "repeats": Repeats::of(values.to_vec()), "role": role,
        }))
        .expect("a trial")
    }

    #[test]
    fn the_section_shows_spreads_and_rounds_and_the_rest_shows_the_search() {
        let spec = parse_sweep(
            r#"{"method": "random", "metric": {"name": "loss", "goal": "minimize"},
                "parameters": {"x": {"min": 0.0, "max": 1.0}}}"#,
            "s.json",
        )
        .expect("a spec");
        let confirm = |variant, of| TrialRole::Confirm {
            round: 0,
            variant,
            variants: 2,
            of,
        };
        let trials = vec![
            trial(0, 0.1, &[1.0, 1.2, 1.1], TrialRole::Search),
            trial(1, 0.2, &[2.0, 2.2, 2.1], TrialRole::Search),
            trial(2, 0.1, &[1.0, 1.1, 1.2, 1.0], confirm(0, 0)),
            trial(3, 0.2, &[2.0, 2.1, 2.3, 2.0], confirm(1, 1)),
        ];
        let html = confidence_html(&spec, &trials);
        assert!(
            html.contains("Repeated trials: spread over seeds"),
            "{html}"
        );
        assert_eq!(
            html.matches("<circle").count(),
            6,
            "one dot per seed of the search trials"
        );
        assert!(html.contains("Confirmation round 0"), "{html}");
        assert!(html.contains("distinguishable"), "{html}");
        let record = StudyRecord {
            name: "s".into(),
            spec,
            created_ms: 0,
            revisions: Vec::new(),
        };
        let page = crate::report::render(&record, &trials);
        assert!(page.contains("<section id=\"confidence\">"));
        assert!(
            page.contains(r#""total":2"#),
            "the search views count search trials only"
        );
    }
}
