//! Quasi-random search: the points of a scrambled Sobol sequence over the
//! encoded unit cube, one coordinate per parameter, decoded through
//! [`SearchSpace::decode`].
//!
//! Sobol points (I. M. Sobol', USSR Comput. Math. Math. Phys. 7, 1967) fill
//! the cube far more evenly than independent draws: every run of 2^m points
//! puts exactly one point in each of 2^m equal slices of any axis. Direction
//! numbers are Joe & Kuo's new-joe-kuo-6.21201 (SIAM J. Sci. Comput. 30,
//! 2008) for the first 1024 dimensions; the sequence is randomised once per
//! study by the study seed with a random linear matrix scramble and a digital
//! shift (Matoušek 1998, Owen 2003), which keeps those stratification
//! properties while making different seeds give different point sets and
//! moving the first point off the origin.
//!
//! Conditional parameters get a coordinate of their own like any other;
//! `decode` drops those that are inactive, so a child's coordinates are
//! simply unused on the branches where it does not exist. Parameters beyond
//! the 1024th get independent uniform coordinates from the suggestion's RNG
//! (random search in those dimensions).
//!
//! The point's index is the number of trials in the history (all states), so
//! nothing lives only in memory: a resumed study continues the sequence
//! exactly where it stopped. Cost per suggestion: O(32 d) bit operations for
//! d parameters, plus O(32²) once per dimension for the scramble (cached).

mod directions;
mod sequence;

use rand::RngExt;

pub use sequence::{MAX_DIMS, SobolSequence, direction_integers};

use crate::{History, Params, SearchError, SearchSpace, Searcher, StdRng};

/// Scrambled Sobol points, the index taken from the history.
#[derive(Debug, Clone)]
pub struct SobolSearcher {
    sequence: SobolSequence,
}

impl SobolSearcher {
    /// A searcher whose scramble is drawn from the study's `seed`.
    pub fn new(seed: u64) -> Self {
        SobolSearcher {
            sequence: SobolSequence::scrambled(seed),
        }
    }

    /// The unit-cube point with number `index`, one coordinate per
    /// parameter of a `dims`-parameter space; `rng` supplies the coordinates
    /// beyond [`MAX_DIMS`].
    pub fn point(&mut self, index: u64, dims: usize, rng: &mut StdRng) -> Vec<f64> {
        (0..dims)
            .map(|d| {
                self.sequence
                    .coordinate(index, d)
                    .unwrap_or_else(|| rng.random::<f64>())
            })
            .collect()
    }
}

impl Searcher for SobolSearcher {
    fn name(&self) -> &str {
        "sobol"
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut StdRng,
    ) -> Result<Params, SearchError> {
        let index = history.trials.len() as u64;
        let coords = self.point(index, space.len(), rng);
        Ok(space.decode(&coords))
    }
}
