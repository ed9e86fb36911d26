//! How a value with its spread is written: `0.4123 ± 0.0210 (95%, 5 seeds)`.

use std::fmt;

use hypersweep_trials::Trial;
use hypersweep_trials::stats::Sample;

/// A mean over seeds with its 95% half-width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The mean.
    pub mean: f64,
    /// Half-width of its 95% Student-t interval (`None` with one value).
    pub half_width: Option<f64>,
    /// How many values.
    pub n: usize,
}

impl Estimate {
    /// The estimate of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let s = Sample::of(values)?;
        Some(Estimate {
            mean: s.mean,
            half_width: s.half_width(0.95),
            n: s.n,
        })
    }

    /// The estimate of a trial's value: over its repeats when it has them.
    pub fn of_trial(t: &Trial) -> Option<Estimate> {
        match &t.repeats {
            Some(r) if !r.values.is_empty() => Estimate::of(&r.values),
            _ => t.value.and_then(|v| Estimate::of(&[v])),
        }
    }

    /// The interval's ends, when it has one.
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.half_width.map(|h| (self.mean - h, self.mean + h))
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.half_width {
            Some(h) => write!(
                f,
                "{} ± {} (95%, {} seeds)",
                number(self.mean),
                number(h),
                self.n
            ),
            None => write!(f, "{} (1 seed)", number(self.mean)),
        }
    }
}

/// A trial's value for `best` and `status`: the mean with its interval when
/// it was repeated, else the value as stored.
pub fn value_text(t: &Trial) -> String {
    match (&t.repeats, t.value) {
        (Some(_), _) => Estimate::of_trial(t).map_or_else(|| "none".to_owned(), |e| e.to_string()),
        (None, Some(v)) => v.to_string(),
        (None, None) => "none".to_owned(),
    }
}

/// A number for a table: 4 decimals in the usual range, else scientific.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || (1e-3..1e5).contains(&a) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// A difference, always signed.
pub(crate) fn signed(x: f64) -> String {
    let text = number(x);
    if x >= 0.0 { format!("+{text}") } else { text }
}

/// A p-value for a table: `< 0.001`, `= 0.018`.
pub(crate) fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_owned()
    } else {
        format!("= {p:.3}")
    }
}
