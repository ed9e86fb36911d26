//! The RNG of one suggestion, derived from the study's seed and the trial's
//! number.
//!
//! Many processes share one study, and each suggestion is made by whichever
//! process reserved the trial number. For a suggestion to be the same in any
//! of them (and after a resume), its randomness must not depend on how many
//! draws that process made before: so every suggestion gets a fresh RNG that
//! is a function of (study seed, trial number) only. The scheduler, the
//! `Study` ask/tell API, the quality suite's worker and the tests all call
//! this one function; a second copy of the formula would drift, and two
//! callers that disagree give different suggestions for the same trial.

use rand::SeedableRng;

use crate::StdRng;

/// The RNG of the suggestion for trial `number` of a study seeded `seed`.
///
/// Nearby pairs (seed 1 and 2, trial 7 and 8) get unrelated streams.
pub fn suggestion_rng(seed: u64, number: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix64(splitmix64(seed) ^ number))
}

/// SplitMix64's finaliser (Steele, Lea and Flood, "Fast splittable
/// pseudorandom number generators", OOPSLA 2014): spreads nearby inputs
/// apart. Hashing the seed before mixing in the number keeps (seed, number)
/// and (number, seed) apart.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;

    #[test]
    fn same_pair_same_stream_and_neighbours_differ() {
        let draw = |seed, number| suggestion_rng(seed, number).random::<u64>();
        assert_eq!(draw(3, 7), draw(3, 7));
        assert_ne!(draw(3, 7), draw(3, 8));
        assert_ne!(draw(3, 7), draw(4, 7));
        assert_ne!(draw(3, 7), draw(7, 3));
    }

    #[test]
    fn mixer_is_splitmix64() {
        // The first output of SplitMix64 seeded 0, from its reference
        // implementation: a changed formula would change every stored
        // study's future suggestions.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }
}
