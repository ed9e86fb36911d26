//! The statistics of repeated evaluations: a sample's mean and standard
//! error, Student-t intervals, and the paired t-test `confirm` and `ablate`
//! use to say whether two configurations can be told apart.
//!
//! Repeats are few (3 to 10 seeds), so intervals use Student's t with
//! `n - 1` degrees of freedom, not the normal's 1.96: with 5 seeds the 95%
//! half-width is 2.78 standard errors, and calling a 1.96-wide interval
//! "95%" would overstate the evidence. The t distribution is computed here
//! rather than taken from a crate: its CDF is the regularized incomplete
//! beta function `I_x(df/2, 1/2)` at `x = df / (df + t^2)`, evaluated by
//! its continued fraction (modified Lentz), with `ln Γ` from Lanczos'
//! approximation; the quantile inverts the CDF by bisection, which is
//! exact to the float's precision and cheap at this scale (a few hundred
//! CDF evaluations per interval, a handful of intervals per table). The
//! tests check both against published tables.

/// Mean and spread of a sample of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// How many values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Unbiased variance (divided by `n - 1`); zero for one value.
    pub variance: f64,
}

impl Sample {
    /// The sample of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Sample> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let variance = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Sample { n, mean, variance })
    }

    /// Standard error of the mean; `None` with fewer than two values.
    pub fn std_error(&self) -> Option<f64> {
        (self.n > 1).then(|| (self.variance / self.n as f64).sqrt())
    }

    /// Half-width of the two-sided `level` (e.g. 0.95) confidence interval
    /// of the mean, by Student's t with `n - 1` degrees of freedom; `None`
    /// with fewer than two values.
    pub fn half_width(&self, level: f64) -> Option<f64> {
        let se = self.std_error()?;
        Some(student_t_quantile(0.5 + level / 2.0, (self.n - 1) as f64) * se)
    }
}

/// The result of a paired t-test of `a - b` over shared seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTest {
    /// Pairs compared.
    pub n: usize,
    /// Mean of `a - b`.
    pub mean_diff: f64,
    /// Half-width of its 95% interval.
    pub half_width: f64,
    /// Two-sided p-value of "the mean difference is zero".
    pub p_value: f64,
}

impl PairedTest {
    /// True when the 95% interval of the difference excludes zero.
    pub fn distinguishable(&self) -> bool {
        self.p_value < 0.05
    }
}

/// The paired t-test of `a[i] - b[i]` (the same seed gave `a[i]` and
/// `b[i]`); `None` with fewer than two pairs. Identical pairs give a zero
/// difference with p-value 1; a constant non-zero difference, p-value 0.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Option<PairedTest> {
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let s = Sample::of(&diffs)?;
    let se = s.std_error()?;
    let df = (s.n - 1) as f64;
    let p_value = if se > 0.0 {
        2.0 * (1.0 - student_t_cdf((s.mean / se).abs(), df))
    } else if s.mean == 0.0 {
        1.0
    } else {
        0.0
    };
    Some(PairedTest {
        n: s.n,
        mean_diff: s.mean,
        half_width: student_t_quantile(0.975, df) * se,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// P(T <= t) for Student's t with `df` degrees of freedom (`df > 0`).
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = df / (df + t * t);
    let tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, x);
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The `p` quantile of Student's t with `df` degrees of freedom.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    // Bracket, then bisect: the CDF is monotone, so this cannot miss.
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while student_t_cdf(hi, df) < p {
        lo = hi;
        hi *= 2.0;
        if hi > 1e300 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `I_x(a, b)`, the regularized incomplete beta function.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2);
    // beyond it, use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function, by the modified
/// Lentz method.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    const MAX_TERMS: usize = 500;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..=MAX_TERMS {
        let m = m as f64;
        // The even step, then the odd step, of the fraction's terms.
        for coefficient in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + coefficient * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coefficient / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            f *= d * c;
        }
        if (d * c - 1.0).abs() < EPS {
            break;
        }
    }
    f
}

/// `ln Γ(x)` for `x > 0`, by Lanczos' approximation (g = 7, 9 terms;
/// relative error below 1e-15 over the positive reals).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, &c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_published_table() {
        // Two-sided 95% and 99% critical values (e.g. NIST/SEMATECH
        // e-Handbook, table 1.3.6.7.2), to the table's 3 decimals.
        let table = [
            (0.975, 1.0, 12.706),
            (0.975, 2.0, 4.303),
            (0.975, 4.0, 2.776),
            (0.975, 9.0, 2.262),
            (0.975, 29.0, 2.045),
            (0.975, 100.0, 1.984),
            (0.995, 4.0, 4.604),
            (0.995, 10.0, 3.169),
            (0.95, 5.0, 2.015),
            (0.90, 3.0, 1.638),
        ];
        for (p, df, expected) in table {
            let q = student_t_quantile(p, df);
            assert!(
                (q - expected).abs() < 6e-4,
                "t({p}, {df}) = {q}, expected {expected}"
            );
            assert!((student_t_quantile(1.0 - p, df) + q).abs() < 1e-9);
        }
        // Many degrees of freedom: the normal's 1.95996.
        assert!((student_t_quantile(0.975, 1e7) - 1.959_964).abs() < 1e-4);
    }

    #[test]
    fn t_cdf_has_closed_forms_at_one_and_two_degrees_of_freedom() {
        for t in [-3.0_f64, -0.5, 0.0, 0.7, 2.0, 10.0] {
            let cauchy = 0.5 + t.atan() / std::f64::consts::PI;
            assert!(
                (student_t_cdf(t, 1.0) - cauchy).abs() < 1e-12,
                "df 1 at {t}"
            );
            let df2 = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!((student_t_cdf(t, 2.0) - df2).abs() < 1e-12, "df 2 at {t}");
        }
    }

    #[test]
    fn ln_gamma_matches_factorials_and_the_half() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn sample_interval_is_t_times_the_standard_error() {
        let s = Sample::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).expect("non-empty");
        assert_eq!(s.mean, 3.0);
        assert!((s.variance - 2.5).abs() < 1e-12);
        let se = (2.5f64 / 5.0).sqrt();
        assert!((s.std_error().expect("n > 1") - se).abs() < 1e-12);
        let hw = s.half_width(0.95).expect("n > 1");
        assert!((hw - 2.776_445 * se).abs() < 1e-5);
        assert!(Sample::of(&[1.0]).expect("one").std_error().is_none());
        assert!(Sample::of(&[]).is_none());
    }

    #[test]
    fn paired_test_against_a_worked_example() {
        // Differences 1, 2, 3, 4, 5 minus 0: mean 3, se 0.7071, t 4.243 on
        // 4 df, two-sided p 0.01324 (from the t CDF's closed form for 4 df:
        // p = 1 - (3/2 s - 1/2 s^3), s = t / sqrt(4 + t^2)).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let test = paired_t_test(&a, &[0.0; 5]).expect("5 pairs");
        assert!((test.mean_diff - 3.0).abs() < 1e-12);
        let t = 3.0 / (0.5f64).sqrt();
        let s = t / (4.0 + t * t).sqrt();
        let p = 1.0 - (1.5 * s - 0.5 * s.powi(3));
        assert!((test.p_value - p).abs() < 1e-10, "{} vs {p}", test.p_value);
        assert!(test.distinguishable());
        let same = paired_t_test(&a, &a).expect("5 pairs");
        assert_eq!((same.mean_diff, same.p_value), (0.0, 1.0));
        assert!(!same.distinguishable());
        assert!(paired_t_test(&[1.0], &[2.0]).is_none());
    }
}
