//! The Matérn-5/2 kernel with one length scale per input dimension (ARD).
//!
//! Numeric dimensions contribute `(x_d - y_d)² / ℓ_d²` to the scaled squared
//! distance `r²`; categorical dimensions contribute `1 / ℓ_d²` when the two
//! choices differ and nothing when they agree (a Hamming distance, so no
//! false order is imposed on the choices). Matérn-5/2 (Rasmussen & Williams
//! 2006, eq. 4.17) is twice differentiable, the usual choice for BO since
//! Snoek et al. 2012: smooth enough for gradients, rough enough not to
//! over-extrapolate like the squared exponential.

/// √5, the Matérn-5/2 scale.
const SQRT5: f64 = 2.236_067_977_499_79;

/// Two coordinates closer than this are the same categorical choice (both are
/// bucket centres computed by the same formula, so they agree exactly).
const SAME_CHOICE: f64 = 1e-9;

/// How one kernel input dimension measures distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DimKind {
    /// Squared difference of coordinates.
    Numeric,
    /// 0 when equal, 1 otherwise.
    Categorical,
}

/// The kernel's contribution of dimension `kind` to `r²` before division by
/// the squared length scale.
#[inline]
pub(crate) fn dim_distance(kind: DimKind, a: f64, b: f64) -> f64 {
    match kind {
        DimKind::Numeric => (a - b) * (a - b),
        DimKind::Categorical => {
            if (a - b).abs() > SAME_CHOICE {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Scaled squared distance `r² = Σ_d dist_d(a, b) / ℓ_d²`, with
/// `inv_sq_ls[d] = 1 / ℓ_d²`.
#[inline]
pub(crate) fn scaled_sq_distance(
    kinds: &[DimKind],
    inv_sq_ls: &[f64],
    a: &[f64],
    b: &[f64],
) -> f64 {
    kinds
        .iter()
        .zip(inv_sq_ls)
        .zip(a.iter().zip(b))
        .map(|((&k, &w), (&x, &y))| w * dim_distance(k, x, y))
        .sum()
}

/// Unit-variance Matérn-5/2 correlation as a function of `r²`:
/// `(1 + √5 r + 5r²/3) exp(-√5 r)`.
#[inline]
pub(crate) fn matern52(r2: f64) -> f64 {
    let r = r2.max(0.0).sqrt();
    (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * (-SQRT5 * r).exp()
}

/// Derivative of [`matern52`] with respect to `r²`:
/// `-(5/6) (1 + √5 r) exp(-√5 r)`, finite at `r = 0` (which is why the
/// kernel is parameterised by `r²`).
#[cfg(test)]
fn matern52_grad_r2(r2: f64) -> f64 {
    let r = r2.max(0.0).sqrt();
    -5.0 / 6.0 * (1.0 + SQRT5 * r) * (-SQRT5 * r).exp()
}

/// [`matern52`] and its derivative with respect to `r²`,
/// `-(5/6) (1 + √5 r) exp(-√5 r)`, finite at `r = 0` (which is why the kernel
/// is parameterised by `r²`); one `exp` for both.
#[inline]
pub(crate) fn matern52_and_grad(r2: f64) -> (f64, f64) {
    let r = r2.max(0.0).sqrt();
    let e = (-SQRT5 * r).exp();
    (
        (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e,
        -5.0 / 6.0 * (1.0 + SQRT5 * r) * e,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_difference() {
        for r2 in [0.01, 0.3, 1.0, 4.0] {
            let h = 1e-6;
            let fd = (matern52(r2 + h) - matern52(r2 - h)) / (2.0 * h);
            assert!((fd - matern52_grad_r2(r2)).abs() < 1e-6, "r2 {r2}");
            assert_eq!(matern52_and_grad(r2), (matern52(r2), matern52_grad_r2(r2)));
        }
        assert_eq!(matern52(0.0), 1.0);
    }

    #[test]
    fn categorical_distance_is_hamming() {
        let kinds = [DimKind::Numeric, DimKind::Categorical];
        let w = [4.0, 2.0];
        assert_eq!(
            scaled_sq_distance(&kinds, &w, &[0.1, 0.25], &[0.6, 0.25]),
            1.0
        );
        assert_eq!(
            scaled_sq_distance(&kinds, &w, &[0.1, 0.25], &[0.1, 0.75]),
            2.0
        );
    }
}
