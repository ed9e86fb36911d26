//! Synthetic test functions with known optima, for tests and the quality
//! suite. Each takes a point in its natural box and returns the value to
//! minimise; [`Problem`] bundles the box and the optimum.

use std::f64::consts::PI;

use crate::domain::Domain;
use crate::error::SearchError;
use crate::params::{ParamError, Params};
use crate::space::{Param, SearchSpace};

/// A synthetic minimisation problem: a box and a function with a known
/// minimum.
#[derive(Debug, Clone, Copy)]
pub struct Problem {
    /// Name used in reports.
    pub name: &'static str,
    /// Lower and upper bound of each coordinate.
    pub bounds: &'static [(f64, f64)],
    /// The global minimum value.
    pub optimum: f64,
    /// The function.
    pub f: fn(&[f64]) -> f64,
}

impl Problem {
    /// The problem's box as a search space: one uniform float `x{i}` per
    /// coordinate.
    pub fn space(&self) -> Result<SearchSpace, SearchError> {
        let params = self
            .bounds
            .iter()
            .enumerate()
            .map(|(i, &(low, high))| {
                let domain = Domain::Float {
                    low,
                    high,
                    log: false,
                    step: None,
                };
                Param::new(format!("x{i}"), domain)
            })
            .collect();
        SearchSpace::new(params)
    }

    /// The point a configuration of [`Problem::space`] stands for.
    pub fn point(&self, params: &Params) -> Result<Vec<f64>, ParamError> {
        (0..self.bounds.len())
            .map(|i| params.f64(&format!("x{i}")))
            .collect()
    }

    /// Regret of `value`: distance above the optimum (never negative).
    pub fn regret(&self, value: f64) -> f64 {
        (value - self.optimum).max(0.0)
    }
}

/// Branin-Hoo on [-5, 10] x [0, 15]; minimum 0.397887 at three points.
pub fn branin(x: &[f64]) -> f64 {
    let (x1, x2) = (x[0], x[1]);
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];

/// Hartmann 3-D on [0, 1]^3; minimum -3.86278.
pub fn hartmann3(x: &[f64]) -> f64 {
    const A: [[f64; 3]; 4] = [
        [3.0, 10.0, 30.0],
        [0.1, 10.0, 35.0],
        [3.0, 10.0, 30.0],
        [0.1, 10.0, 35.0],
    ];
    const P: [[f64; 3]; 4] = [
        [0.3689, 0.1170, 0.2673],
        [0.4699, 0.4387, 0.7470],
        [0.1091, 0.8732, 0.5547],
        [0.0381, 0.5743, 0.8828],
    ];
    -(0..4)
        .map(|i| {
            let s: f64 = (0..3).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
            HARTMANN_ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

/// Hartmann 6-D on [0, 1]^6; minimum -3.32237.
pub fn hartmann6(x: &[f64]) -> f64 {
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    -(0..4)
        .map(|i| {
            let s: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
            HARTMANN_ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

/// Rosenbrock in any dimension; minimum 0 at (1, ..., 1).
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// Ackley in any dimension; minimum 0 at the origin.
pub fn ackley(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let sq = x.iter().map(|v| v * v).sum::<f64>() / n;
    let cs = x.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / n;
    -20.0 * (-0.2 * sq.sqrt()).exp() - cs.exp() + 20.0 + std::f64::consts::E
}

/// Rastrigin in any dimension; minimum 0 at the origin.
pub fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (2.0 * PI * v).cos())
            .sum::<f64>()
}

/// The sphere shifted to have its minimum 0 at (0.3, 0.3, ...) times the box
/// half-width, so the centre of the box is not optimal.
pub fn shifted_sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| (v - SPHERE_SHIFT).powi(2)).sum()
}

/// Where [`shifted_sphere`]'s minimum lies in each coordinate.
pub const SPHERE_SHIFT: f64 = 1.5;

/// Branin on its box.
pub const BRANIN: Problem = Problem {
    name: "branin",
    bounds: &[(-5.0, 10.0), (0.0, 15.0)],
    optimum: 0.397_887_357_729_738,
    f: branin,
};

/// Hartmann 3-D on the unit cube.
pub const HARTMANN3: Problem = Problem {
    name: "hartmann3",
    bounds: &[(0.0, 1.0); 3],
    optimum: -3.862_779_787_332_77,
    f: hartmann3,
};

/// Hartmann 6-D on the unit cube.
pub const HARTMANN6: Problem = Problem {
    name: "hartmann6",
    bounds: &[(0.0, 1.0); 6],
    optimum: -3.322_368_011_391_339,
    f: hartmann6,
};

/// Rosenbrock 5-D on [-2.048, 2.048]^5.
pub const ROSENBROCK5: Problem = Problem {
    name: "rosenbrock5",
    bounds: &[(-2.048, 2.048); 5],
    optimum: 0.0,
    f: rosenbrock,
};

/// Ackley 5-D on [-32.768, 32.768]^5.
pub const ACKLEY5: Problem = Problem {
    name: "ackley5",
    bounds: &[(-32.768, 32.768); 5],
    optimum: 0.0,
    f: ackley,
};

/// Rastrigin 4-D on [-5.12, 5.12]^4.
pub const RASTRIGIN4: Problem = Problem {
    name: "rastrigin4",
    bounds: &[(-5.12, 5.12); 4],
    optimum: 0.0,
    f: rastrigin,
};

/// Shifted sphere 20-D on [-5, 5]^20.
pub const SPHERE20: Problem = Problem {
    name: "sphere20",
    bounds: &[(-5.0, 5.0); 20],
    optimum: 0.0,
    f: shifted_sphere,
};

/// All synthetic continuous problems.
pub const ALL: &[Problem] = &[
    BRANIN,
    HARTMANN3,
    HARTMANN6,
    ROSENBROCK5,
    ACKLEY5,
    RASTRIGIN4,
    SPHERE20,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_minima() {
        assert!((branin(&[PI, 2.275]) - BRANIN.optimum).abs() < 1e-6);
        assert!((hartmann3(&[0.114614, 0.555649, 0.852547]) - HARTMANN3.optimum).abs() < 1e-5);
        let x6 = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
        assert!((hartmann6(&x6) - HARTMANN6.optimum).abs() < 1e-5);
        assert_eq!(rosenbrock(&[1.0; 5]), 0.0);
        assert!(ackley(&[0.0; 5]).abs() < 1e-12);
        assert_eq!(rastrigin(&[0.0; 4]), 0.0);
        assert_eq!(shifted_sphere(&[SPHERE_SHIFT; 20]), 0.0);
    }
}
