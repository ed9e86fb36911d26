//! The Sobol sequence itself: direction integers from Joe & Kuo's table,
//! points in Gray-code order (Antonov & Saleev), and the linear matrix
//! scramble plus digital shift (Matoušek 1998; Owen 2003) that randomises it
//! while keeping its net properties.

use super::directions::DIRECTIONS;

/// Bits of each coordinate: points are multiples of 2^-32, and the sequence
/// has 2^32 distinct points per dimension.
const BITS: usize = 32;

/// Number of dimensions with direction numbers (the van der Corput dimension
/// plus one per table row).
pub const MAX_DIMS: usize = DIRECTIONS.len() + 1;

/// Direction integers `V_1..V_32` of one dimension, each a 32-bit binary
/// fraction (bit 31 is 1/2), or `None` beyond [`MAX_DIMS`].
///
/// Dimension 0 is van der Corput's (`m_k = 1`). The others extend Joe & Kuo's
/// initial `m_1..m_s` with the recurrence of Bratley & Fox (ACM TOMS 14,
/// 1988, eq. on p. 90):
/// `m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2^(s-1) a_(s-1) m_(k-s+1) ^ 2^s m_(k-s) ^ m_(k-s)`.
pub fn direction_integers(dim: usize) -> Option<[u32; BITS]> {
    let mut m = [1u32; BITS];
    if dim > 0 {
        let &(s, a, initial) = DIRECTIONS.get(dim - 1)?;
        let s = s as usize;
        m[..s].copy_from_slice(initial);
        for k in s..BITS {
            let mut mk = m[k - s] ^ (m[k - s] << s);
            for j in 1..s {
                // a_j is bit s-1-j of `a` (a_1 is the coefficient of x^(s-1)).
                if (a >> (s - 1 - j)) & 1 == 1 {
                    mk ^= m[k - j] << j;
                }
            }
            m[k] = mk;
        }
    }
    let mut v = [0u32; BITS];
    for (k, vk) in v.iter_mut().enumerate() {
        // m_k (1-based k) is odd and below 2^k, so it fills the top k bits.
        *vk = m[k] << (BITS - 1 - k);
    }
    Some(v)
}

/// One dimension of a (possibly scrambled) Sobol sequence.
#[derive(Debug, Clone)]
struct Dimension {
    /// Direction integers after the scramble matrix.
    directions: [u32; BITS],
    /// Digital shift XOR'd into every point.
    shift: u32,
}

impl Dimension {
    fn coordinate(&self, index: u32) -> f64 {
        // Gray-code order: point n is the XOR of the directions of the bits
        // set in gray(n), so consecutive points differ by one direction and
        // the first 2^m points are the same set as in natural order.
        let gray = index ^ (index >> 1);
        let mut x = self.shift;
        for (k, v) in self.directions.iter().enumerate() {
            if (gray >> k) & 1 == 1 {
                x ^= v;
            }
        }
        f64::from(x) / 2f64.powi(BITS as i32)
    }
}

/// The Sobol sequence over the unit cube, plain or scrambled by a seed.
///
/// Dimensions are built lazily and cached; each depends only on the seed and
/// its own number, so asking for more dimensions never changes earlier ones.
#[derive(Debug, Clone)]
pub struct SobolSequence {
    seed: Option<u64>,
    dims: Vec<Dimension>,
}

impl SobolSequence {
    /// The plain sequence (first point at the origin).
    pub fn unscrambled() -> Self {
        SobolSequence {
            seed: None,
            dims: Vec::new(),
        }
    }

    /// The sequence under a random linear matrix scramble and digital shift
    /// drawn from `seed`.
    pub fn scrambled(seed: u64) -> Self {
        SobolSequence {
            seed: Some(seed),
            dims: Vec::new(),
        }
    }

    /// Coordinate `dim` of point `index`, in `[0, 1)`; `None` when `dim` is
    /// at or beyond [`MAX_DIMS`]. Indices wrap around after 2^32 points.
    pub fn coordinate(&mut self, index: u64, dim: usize) -> Option<f64> {
        while self.dims.len() <= dim {
            let next = self.build_dimension(self.dims.len())?;
            self.dims.push(next);
        }
        Some(self.dims[dim].coordinate(index as u32))
    }

    fn build_dimension(&self, dim: usize) -> Option<Dimension> {
        let plain = direction_integers(dim)?;
        let Some(seed) = self.seed else {
            return Some(Dimension {
                directions: plain,
                shift: 0,
            });
        };
        // A generator of our own rather than `StdRng`, so the scramble of a
        // study stays the same across rand upgrades and a resumed sweep
        // continues the very same sequence.
        let mut bits = SplitMix64(seed ^ (dim as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        // Row i of the lower-triangular matrix L, as the mask of the input
        // digits that output digit i sums (digit 0 is the 1/2 bit): the
        // diagonal is 1, entries left of it random, so L is invertible and
        // maps elementary intervals onto elementary intervals.
        let mut rows = [0u32; BITS];
        for (i, row) in rows.iter_mut().enumerate() {
            let diagonal = 1u32 << (BITS - 1 - i);
            let left_of_diagonal = !(u32::MAX >> i);
            *row = (bits.next() as u32 & left_of_diagonal) | diagonal;
        }
        let mut directions = [0u32; BITS];
        for (out, v) in directions.iter_mut().zip(plain) {
            *out = apply_matrix(&rows, v);
        }
        Some(Dimension {
            directions,
            shift: bits.next() as u32,
        })
    }
}

/// `L x` over GF(2), `x` a column of digits, L given by its rows.
fn apply_matrix(rows: &[u32; BITS], x: u32) -> u32 {
    rows.iter().enumerate().fold(0, |y, (i, row)| {
        y | (((row & x).count_ones() & 1) << (BITS - 1 - i))
    })
}

/// Vigna's SplitMix64: small, fast, and fixed forever.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurrence_extends_known_direction_numbers() {
        // Dimension 2 (x + 1): m = 1, 3, 5, 15, 17, 51, ...
        let v = direction_integers(1).unwrap();
        let m: Vec<u32> = (0..6).map(|k| v[k] >> (31 - k)).collect();
        assert_eq!(m, [1, 3, 5, 15, 17, 51]);
        // Dimension 3 (x^2 + x + 1, m = 1, 3): m_3 = 2 m_2 ^ 4 m_1 ^ m_1 = 3.
        let v = direction_integers(2).unwrap();
        assert_eq!(v[2] >> 29, 3);
        assert!(direction_integers(MAX_DIMS).is_none());
        assert_eq!(MAX_DIMS, 1024);
    }

    #[test]
    fn unscrambled_points_match_the_published_sequence() {
        let mut s = SobolSequence::unscrambled();
        let expected = [
            [0.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.75, 0.25, 0.25],
            [0.25, 0.75, 0.75],
            [0.375, 0.375, 0.625],
            [0.875, 0.875, 0.125],
            [0.625, 0.125, 0.875],
            [0.125, 0.625, 0.375],
        ];
        for (n, row) in expected.iter().enumerate() {
            for (d, &x) in row.iter().enumerate() {
                assert_eq!(s.coordinate(n as u64, d), Some(x), "point {n} dim {d}");
            }
        }
    }

    #[test]
    fn scramble_matrix_is_unit_lower_triangular() {
        let rows = {
            let mut bits = SplitMix64(7);
            let mut rows = [0u32; BITS];
            for (i, row) in rows.iter_mut().enumerate() {
                *row = (bits.next() as u32 & !(u32::MAX >> i)) | (1 << (31 - i));
            }
            rows
        };
        // Each unit vector e_j maps to itself plus digits below it only.
        for j in 0..BITS {
            let e = 1u32 << (31 - j);
            let y = apply_matrix(&rows, e);
            assert_eq!(y & !(u32::MAX >> j), e & !(u32::MAX >> j), "column {j}");
            assert_ne!(y & e, 0);
        }
    }
}
