//! Special functions of the standard normal distribution, used by the
//! encoding of normal-distributed parameters, by TPE's truncated Gaussians and
//! by the GP's expected improvement.

// AS 241's coefficients are kept exactly as published, digits beyond f64
// precision included, so they can be checked against the paper.
#![allow(clippy::excessive_precision)]

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// The error function erf(x).
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The complementary error function erfc(x) = 1 - erf(x), accurate in the
/// tails (no cancellation for large x).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// Standard normal density φ(z).
pub fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// Standard normal cumulative distribution Φ(z), accurate in both tails.
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z * FRAC_1_SQRT_2)
}

/// log Φ(z), finite far into the lower tail where Φ(z) underflows.
pub fn log_norm_cdf(z: f64) -> f64 {
    if z > -5.0 {
        norm_cdf(z).ln()
    } else {
        // Asymptotic series of the Mills ratio: Φ(z) ≈ φ(z)/|z| (1 - 1/z² + 3/z⁴ - 15/z⁶ + 105/z⁸).
        let z2 = z * z;
        let series =
            1.0 - 1.0 / z2 + 3.0 / (z2 * z2) - 15.0 / (z2 * z2 * z2) + 105.0 / (z2 * z2 * z2 * z2);
        -0.5 * z2 - (2.0 * PI).sqrt().ln() - (-z).ln() + series.ln()
    }
}

/// Inverse of the standard normal CDF, Φ⁻¹(p), for p in (0, 1); ±∞ at 0 and 1.
///
/// Wichura's algorithm AS 241 (PPND16), relative accuracy about 1e-16.
pub fn norm_ppf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                + 67265.770927008700853)
                * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r.ln()).sqrt();
    let val = if r <= 5.0 {
        let r = r - 1.6;
        (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
            + 0.24178072517745061177)
            * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966)
                * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        let r = r - 5.0;
        (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
            + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5)
                * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 { -val } else { val }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Reference values from Abramowitz & Stegun, table 7.1.
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
        assert!((erf(1.0) - 0.842_700_792_949_714_9).abs() < 1e-14);
        assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-18);
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn ppf_inverts_cdf() {
        for &p in &[1e-12, 1e-6, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-9] {
            let z = norm_ppf(p);
            assert!((norm_cdf(z) - p).abs() / p.min(1.0 - p) < 1e-9, "p={p}");
        }
    }

    #[test]
    fn log_cdf_is_continuous_and_finite_in_the_tail() {
        let a = log_norm_cdf(-4.999_999);
        let b = log_norm_cdf(-5.000_001);
        assert!((a - b).abs() < 1e-4);
        assert!(log_norm_cdf(-40.0).is_finite());
        assert!((log_norm_cdf(-40.0) - (-804.608_442_013_754_2)).abs() < 1e-6);
    }
}
