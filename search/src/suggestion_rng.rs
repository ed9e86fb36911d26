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

/// Which use a seed is drawn for. Each stream hashes a distinct tag into the
/// study seed, so the seeds handed to trials never correlate with the
/// suggestions' RNGs (nor confirmation seeds with search seeds), even though
/// all of them are functions of the same (study seed, number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedStream {
    /// The seeds of a search trial's evaluations, by trial number.
    Trial,
    /// The seeds shared by every configuration of a confirmation round, by
    /// round.
    Confirm,
    /// The seeds shared by every variant of an ablation round, by round.
    Ablate,
}

impl SeedStream {
    fn tag(self) -> u64 {
        // Arbitrary, fixed forever: changing one changes every stored
        // study's future seeds.
        match self {
            SeedStream::Trial => 0x7472_6961_6c5f_7365, // "trial_se"
            SeedStream::Confirm => 0x636f_6e66_6972_6d5f, // "confirm_"
            SeedStream::Ablate => 0x6162_6c61_7465_5f5f, // "ablate__"
        }
    }
}

/// The seed of evaluation `repeat` of `key` (a trial number, or a round) in
/// `stream`, for a study seeded `seed`: what a trial sees as
/// `HYPERSWEEP_SEED`, `{seed}` or `ctx.seed()`.
///
/// The single home of the formula: the scheduler, the `Study` API and the
/// `confirm` and `ablate` commands all call it, so a re-run of a trial (a
/// retry after a crash, a resumed round) gets the same seeds.
pub fn evaluation_seed(seed: u64, stream: SeedStream, key: u64, repeat: u32) -> u64 {
    splitmix64(splitmix64(splitmix64(seed ^ stream.tag()) ^ key) ^ u64::from(repeat))
}

/// The seeds of `repeats` evaluations (see [`evaluation_seed`]).
pub fn evaluation_seeds(seed: u64, stream: SeedStream, key: u64, repeats: u32) -> Vec<u64> {
    (0..repeats.max(1))
        .map(|r| evaluation_seed(seed, stream, key, r))
        .collect()
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
    fn evaluation_seeds_are_stable_distinct_and_apart_from_suggestions() {
        let s = evaluation_seed(3, SeedStream::Trial, 7, 0);
        assert_eq!(s, evaluation_seed(3, SeedStream::Trial, 7, 0));
        assert_ne!(s, evaluation_seed(3, SeedStream::Trial, 7, 1));
        assert_ne!(s, evaluation_seed(3, SeedStream::Trial, 8, 0));
        assert_ne!(s, evaluation_seed(3, SeedStream::Confirm, 7, 0));
        assert_ne!(s, suggestion_rng(3, 7).random::<u64>());
        let seeds = evaluation_seeds(3, SeedStream::Ablate, 0, 5);
        assert_eq!(seeds.len(), 5);
        let distinct: std::collections::HashSet<_> = seeds.iter().collect();
        assert_eq!(distinct.len(), 5);
        assert_eq!(evaluation_seeds(3, SeedStream::Trial, 0, 0).len(), 1);
    }

    #[test]
    fn mixer_is_splitmix64() {
        // The first output of SplitMix64 seeded 0, from its reference
        // implementation: a changed formula would change every stored
        // study's future suggestions.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }
}
