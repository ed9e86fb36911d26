//! Parameter domains and their encoding to the unit interval.
//!
//! Every domain maps to one coordinate in `[0, 1]` and back. Model-based
//! searchers (TPE, GP, Sobol) work only on these coordinates, so the domain
//! alone decides what "near" means: log domains are encoded in log space,
//! integers and stepped floats get equal-width buckets per admissible value,
//! normal domains are encoded through their CDF (so a uniform coordinate is a
//! draw from the prior), categoricals by the centre of their index bucket.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cell;
use crate::special::{norm_cdf, norm_ppf};

/// The set of values one parameter can take, with its prior.
///
/// The enum grows (the `Cell` domain came after the others), so it is
/// `#[non_exhaustive]`; build values with the short constructors
/// ([`Domain::float`], [`Domain::int`], [`Domain::choice`], [`Domain::cell`])
/// and their modifiers ([`Domain::log`], [`Domain::step`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Domain {
    /// A real number in `[low, high]`, uniform (or log-uniform when `log`),
    /// optionally restricted to `low + k * step`.
    Float {
        /// Lower bound, inclusive.
        low: f64,
        /// Upper bound, inclusive.
        high: f64,
        /// Search in log space; requires `low > 0`.
        #[serde(default)]
        log: bool,
        /// Admissible values are `low + k * step` (W&B's `q`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<f64>,
    },
    /// An integer in `[low, high]`, optionally log-scaled and stepped.
    Int {
        /// Lower bound, inclusive.
        low: i64,
        /// Upper bound, inclusive.
        high: i64,
        /// Search in log space; requires `low >= 1`.
        #[serde(default)]
        log: bool,
        /// Admissible values are `low + k * step`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<i64>,
    },
    /// An unbounded real with a normal prior N(mu, sigma²) (W&B's `normal`);
    /// with `log`, the value's logarithm is normal (`log_normal`); with `q`,
    /// values are rounded to multiples of `q` (`q_normal`).
    Normal {
        /// Mean of the normal (of the log when `log`).
        mu: f64,
        /// Standard deviation, > 0.
        sigma: f64,
        /// The value is `exp` of a normal draw.
        #[serde(default)]
        log: bool,
        /// Round to multiples of `q`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        q: Option<f64>,
    },
    /// One of a list of JSON values, with optional prior probabilities.
    Categorical {
        /// The choices; any JSON values.
        choices: Vec<Value>,
        /// Prior probability of each choice (sums to 1), uniform when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        probabilities: Option<Vec<f64>>,
    },
    /// A fixed value.
    Const {
        /// The value.
        value: Value,
    },
    /// A NAS-Bench-201-style cell: a DAG over `nodes` where node `i` takes
    /// one of `ops` on the edge from each node `j < i`. Its value is the
    /// architecture string (see [`crate::cell`]); searchers search it as one
    /// categorical per edge.
    Cell {
        /// Number of nodes, input and output included (4 in NAS-Bench-201).
        nodes: usize,
        /// The op names; `none` means no edge.
        ops: Vec<String>,
        /// Propose cells with no path from input to output too (by default
        /// searchers skip them: they compute nothing).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        run_disconnected: bool,
    },
}

/// The most values [`Domain::bucket_edges`] lists: a domain's edges are
/// allocated, and an integer range can hold 2^53 values.
pub const MAX_BUCKET_EDGES: usize = 1 << 16;

/// The largest integer bound a domain may have: every integer up to 2^53 is
/// an exact `f64`, and the model-based searchers work on `f64` coordinates,
/// so a wider bound would decode to values outside the domain or skip some.
pub const MAX_EXACT_INT: i64 = 1 << 53;

/// The most values a stepped float domain may have (`(max - min) / step`):
/// beyond it, `min + k * step` no longer tells neighbouring `k` apart.
pub const MAX_STEPPED_VALUES: f64 = (1u64 << 52) as f64;

/// Keeps decoded coordinates off the exact ends of the unit interval, where a
/// normal domain's inverse CDF is infinite.
const UNIT_MARGIN: f64 = 1e-12;

impl Domain {
    /// A uniform float in `[low, high]`; chain [`Domain::log`] or
    /// [`Domain::step`] to change it.
    pub fn float(low: f64, high: f64) -> Domain {
        Domain::Float {
            low,
            high,
            log: false,
            step: None,
        }
    }

    /// A uniform integer in `[low, high]`.
    pub fn int(low: i64, high: i64) -> Domain {
        Domain::Int {
            low,
            high,
            log: false,
            step: None,
        }
    }

    /// One of `choices`, uniformly.
    pub fn choice<V: Into<Value>>(choices: impl IntoIterator<Item = V>) -> Domain {
        Domain::Categorical {
            choices: choices.into_iter().map(Into::into).collect(),
            probabilities: None,
        }
    }

    /// A fixed value.
    pub fn constant(value: impl Into<Value>) -> Domain {
        Domain::Const {
            value: value.into(),
        }
    }

    /// A cell of `nodes` nodes with one of `ops` per edge; disconnected cells
    /// are skipped (see [`Domain::run_disconnected`]).
    pub fn cell<S: Into<String>>(nodes: usize, ops: impl IntoIterator<Item = S>) -> Domain {
        Domain::Cell {
            nodes,
            ops: ops.into_iter().map(Into::into).collect(),
            run_disconnected: false,
        }
    }

    /// The same domain searched in log space (floats, integers, normals);
    /// other domains are returned unchanged.
    pub fn log(mut self) -> Domain {
        if let Domain::Float { log, .. } | Domain::Int { log, .. } | Domain::Normal { log, .. } =
            &mut self
        {
            *log = true;
        }
        self
    }

    /// The same domain restricted to `low + k * step` (floats, integers; an
    /// integer domain takes the step rounded to a whole number, so a step
    /// below 0.5 fails validation). Other domains are returned unchanged.
    pub fn step(mut self, step: impl Into<f64>) -> Domain {
        let step = step.into();
        match &mut self {
            Domain::Float { step: s, .. } => *s = Some(step),
            Domain::Int { step: s, .. } => *s = Some(step.round() as i64),
            _ => {}
        }
        self
    }

    /// A cell domain that proposes disconnected cells too; other domains are
    /// returned unchanged.
    pub fn run_disconnected(mut self) -> Domain {
        if let Domain::Cell {
            run_disconnected, ..
        } = &mut self
        {
            *run_disconnected = true;
        }
        self
    }

    /// Number of distinct values, if finite.
    pub fn cardinality(&self) -> Option<usize> {
        match self {
            // i128 and saturating casts: an unvalidated domain gives a huge
            // count, never an overflow (validation keeps real ones below
            // `MAX_DISCRETE_VALUES`).
            Domain::Int {
                low, high, step, ..
            } => {
                let width = i128::from(*high) - i128::from(*low);
                let count = width / i128::from((*step).unwrap_or(1).max(1)) + 1;
                Some(usize::try_from(count.max(1)).unwrap_or(usize::MAX))
            }
            Domain::Float {
                low,
                high,
                step: Some(step),
                ..
            } => Some((((high - low) / step + 1e-9).floor() as usize).saturating_add(1)),
            Domain::Categorical { choices, .. } => Some(choices.len()),
            Domain::Const { .. } => Some(1),
            Domain::Cell { nodes, ops, .. } => Some(cell::arch_count(*nodes, ops.len())),
            Domain::Float { .. } | Domain::Normal { .. } => None,
        }
    }

    /// The `c + 1` edges, in `[0, 1]`, of the coordinate ranges that decode
    /// to each of the `c` values of an integer or stepped domain, in order:
    /// `edges[0] = 0`, `edges[c] = 1`, and value `k` is decoded from
    /// `[edges[k], edges[k + 1])`. Equal-width buckets except for log
    /// integers, whose edges are the half-integers in log space. `None` for
    /// continuous, categorical and constant domains, and for domains of more
    /// than [`MAX_BUCKET_EDGES`] values (the edges are allocated; a caller
    /// with more values must work with the coordinates).
    pub fn bucket_edges(&self) -> Option<Vec<f64>> {
        let c = match self {
            Domain::Int { .. } | Domain::Float { step: Some(_), .. } => self.cardinality()?,
            _ => return None,
        };
        if c > MAX_BUCKET_EDGES {
            return None;
        }
        let mut edges: Vec<f64> = match self {
            Domain::Int {
                low,
                high,
                log: true,
                step: None,
            } => {
                let (l, h) = ((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln());
                (0..=c)
                    .map(|i| ((*low as f64 - 0.5 + i as f64).ln() - l) / (h - l))
                    .collect()
            }
            _ => (0..=c).map(|i| i as f64 / c as f64).collect(),
        };
        // Exact ends, whatever the rounding above.
        edges[0] = 0.0;
        edges[c] = 1.0;
        Some(edges)
    }

    /// True for categorical and constant domains (no order between values).
    pub fn is_categorical(&self) -> bool {
        matches!(self, Domain::Categorical { .. } | Domain::Const { .. })
    }

    /// Maps a value of this domain to its coordinate in `[0, 1]`; `None` when
    /// the value does not belong to the domain's type.
    pub fn encode(&self, value: &Value) -> Option<f64> {
        let u = match self {
            Domain::Float {
                low,
                high,
                log,
                step,
            } => {
                let x = value.as_f64()?;
                match step {
                    Some(step) => bucket_coordinate((x - low) / step, self.cardinality()?),
                    None if *log => (x.ln() - low.ln()) / (high.ln() - low.ln()),
                    None if high > low => (x - low) / (high - low),
                    None => 0.5,
                }
            }
            Domain::Int {
                low,
                high,
                log,
                step,
            } => {
                let x = value.as_f64()?;
                let (low, high) = (*low as f64, *high as f64);
                match step {
                    Some(step) => bucket_coordinate((x - low) / *step as f64, self.cardinality()?),
                    None if *log => {
                        ((x).ln() - (low - 0.5).ln()) / ((high + 0.5).ln() - (low - 0.5).ln())
                    }
                    None => (x - low + 0.5) / (high - low + 1.0),
                }
            }
            Domain::Normal { mu, sigma, log, .. } => {
                let x = value.as_f64()?;
                let x = if *log { x.ln() } else { x };
                norm_cdf((x - mu) / sigma)
            }
            Domain::Categorical { choices, .. } => {
                let i = choices.iter().position(|c| c == value)?;
                bucket_coordinate(i as f64, choices.len())
            }
            Domain::Const { .. } => 0.5,
            Domain::Cell { nodes, ops, .. } => {
                let choice = cell::parse_arch(value.as_str()?, *nodes, ops)?;
                let index = cell::arch_index(&choice, ops.len())?;
                (index as f64 + 0.5) / self.cardinality()? as f64
            }
        };
        Some(u.clamp(0.0, 1.0))
    }

    /// Maps a coordinate in `[0, 1]` to a value of the domain, applying log
    /// scale, rounding and steps. Coordinates outside are clamped.
    pub fn decode(&self, u: f64) -> Value {
        let u = if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) };
        match self {
            Domain::Float {
                low,
                high,
                log,
                step,
            } => {
                let x = match step {
                    Some(step) => {
                        let k = bucket_index(u, self.cardinality().unwrap_or(1));
                        let x = low + k as f64 * step;
                        return grid_value(x.clamp(*low, *high), *step);
                    }
                    None if *log => (low.ln() + u * (high.ln() - low.ln())).exp(),
                    None => low + u * (high - low),
                };
                float_value(x.clamp(*low, *high))
            }
            Domain::Int {
                low,
                high,
                log,
                step,
            } => {
                let x = match step {
                    Some(step) => {
                        low + bucket_index(u, self.cardinality().unwrap_or(1)) as i64 * step
                    }
                    None if *log => {
                        let (l, h) = ((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln());
                        (l + u * (h - l)).exp().round() as i64
                    }
                    None => (*low as f64 - 0.5 + u * ((high - low) as f64 + 1.0)).round() as i64,
                };
                Value::from(x.clamp(*low, *high))
            }
            Domain::Normal { mu, sigma, log, q } => {
                let z = norm_ppf(u.clamp(UNIT_MARGIN, 1.0 - UNIT_MARGIN));
                let mut x = mu + sigma * z;
                if *log {
                    x = x.exp();
                }
                match q {
                    Some(q) => grid_value((x / q).round() * q, *q),
                    None => float_value(x),
                }
            }
            Domain::Categorical { choices, .. } => choices[bucket_index(u, choices.len())].clone(),
            Domain::Const { value } => value.clone(),
            Domain::Cell { nodes, ops, .. } => {
                let count = self.cardinality().unwrap_or(1);
                let index = bucket_index(u, count) as u128;
                let choice = cell::arch_of_index(index, *nodes, ops.len());
                Value::String(cell::arch_string(*nodes, ops, &choice))
            }
        }
    }

    /// True when `value` is one this domain can produce (within float
    /// tolerance for steps).
    pub fn contains(&self, value: &Value) -> bool {
        match self {
            Domain::Float {
                low, high, step, ..
            } => value.as_f64().is_some_and(|x| {
                let tol = 1e-9 * (1.0 + high.abs().max(low.abs()));
                x >= low - tol
                    && x <= high + tol
                    && step.is_none_or(|s| is_whole_steps((x - low) / s))
            }),
            Domain::Int {
                low, high, step, ..
            } => value.as_i64().is_some_and(|x| {
                x >= *low && x <= *high && step.is_none_or(|s| (x - low) % s == 0)
            }),
            Domain::Normal { log, q, .. } => value.as_f64().is_some_and(|x| {
                x.is_finite() && (!log || x >= 0.0) && q.is_none_or(|q| is_whole_steps(x / q))
            }),
            Domain::Categorical { choices, .. } => choices.contains(value),
            Domain::Const { value: v } => v == value,
            Domain::Cell { nodes, ops, .. } => value
                .as_str()
                .is_some_and(|s| cell::parse_arch(s, *nodes, ops).is_some()),
        }
    }
}

/// Centre of bucket `k` of `n` equal buckets of the unit interval.
fn bucket_coordinate(k: f64, n: usize) -> f64 {
    (k.round() + 0.5) / n as f64
}

/// Index of the bucket (of `n` equal ones) that holds `u`; the first for
/// `u < 0` or NaN, the last for `u >= 1`. (Truncation toward zero is the
/// floor on the non-negative values it is given, without a call to `floor`:
/// the TPE runs this for every candidate.)
pub(crate) fn bucket_index(u: f64, n: usize) -> usize {
    ((u * n as f64).max(0.0) as usize).min(n.saturating_sub(1))
}

/// A float as a JSON number; a stepped float is cleaned of representation
/// noise (0.30000000000000004 -> 0.3) by a round trip through 12 significant
/// digits.
pub(crate) fn float_value(x: f64) -> Value {
    let cleaned = twelve_digits(x).unwrap_or(x);
    serde_json::Number::from_f64(cleaned).map_or(Value::Null, Value::Number)
}

/// `x` rounded to 12 significant digits, as `format!("{x:.12e}").parse()`
/// gives it, written on the stack: this runs for every float of every
/// suggestion, and the heap string was a tenth of a trivial trial's cost.
fn twelve_digits(x: f64) -> Option<f64> {
    twelve_digits_fast(x).or_else(|| twelve_digits_formatted(x))
}

/// Exact powers of ten as `f64` (every one up to 1e22 is representable).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// [`twelve_digits`] without formatting, for the common case, `None` where
/// it cannot be sure of the same bits. The 13 digits are `r`, the integer
/// nearest `|x| / 10^k`; that quotient is one rounded operation away from
/// the exact one (off by at most 2^-10 below 10^13), so unless it lies
/// within 0.01 of a tie, `r` is the digit string the formatter rounds to.
/// Then `r / 10^-k` (or `r * 10^k`) is one correctly rounded operation on
/// two exact operands (`r < 2^53`, `|k| <= 22`), which is the nearest double
/// to the decimal: what parsing the formatted text gives (Clinger's fast
/// path). About a twentieth of the formatted round trip's cost.
fn twelve_digits_fast(x: f64) -> Option<f64> {
    let a = x.abs();
    if !a.is_normal() {
        return None;
    }
    let k = a.log10().floor() as i32 - 12;
    let p = *POW10.get(usize::try_from(k.unsigned_abs()).ok()?)?;
    let scaled = if k >= 0 { a / p } else { a * p };
    // `log10` may be one off next to a power of ten: leave that to the
    // formatter rather than correct it here.
    if !(1e12..1e13).contains(&scaled) {
        return None;
    }
    let floor = scaled.floor();
    let frac = scaled - floor;
    if (frac - 0.5).abs() < 0.01 {
        return None;
    }
    let r = if frac > 0.5 { floor + 1.0 } else { floor };
    let v = if k >= 0 { r * p } else { r / p };
    Some(v.copysign(x))
}

/// [`twelve_digits`] through the text, the reference the fast path agrees
/// with bit for bit.
fn twelve_digits_formatted(x: f64) -> Option<f64> {
    use std::fmt::Write;
    let mut text = StackText::default();
    write!(text, "{x:.12e}").ok()?;
    text.as_str()?.parse().ok()
}

/// A short text on the stack (a float in `{:.12e}` needs at most 21 bytes).
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes.get(..self.len)?).ok()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dest = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A value on a grid of spacing `grain` (a step or a normal's `q`) as a JSON
/// number: cleaned like [`float_value`] unless 12 digits are too few for the
/// grid (a step of 1e-12 over [1, 2]), when cleaning would move it off.
pub(crate) fn grid_value(x: f64, grain: f64) -> Value {
    let cleaned = twelve_digits(x).unwrap_or(x);
    let x = if (cleaned - x).abs() <= grain * 1e-6 {
        cleaned
    } else {
        x
    };
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// True when `k`, a value's offset in steps, is a whole number up to the
/// rounding of the division that computed it (relative to `k` itself for
/// the 2^52-value grids validation allows).
fn is_whole_steps(k: f64) -> bool {
    (k - k.round()).abs() < 1e-6_f64.max(k.abs() * 16.0 * f64::EPSILON)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn twelve_digits_is_the_heap_round_trip_it_replaced() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            0.1 + 0.2,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -1.234_567_890_123_456_7e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(f64::from_bits(state));
        }
        // Where the fast path answers: floats of every magnitude it takes,
        // near powers of ten, and decimals of 14 digits ending in 5 (ties,
        // and one ulp either side of them).
        for _ in 0..50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let magnitude = 10f64.powi((state % 44) as i32 - 12);
            values.push((u - 0.5) * magnitude);
            values.push(
                10f64.powi((state % 40) as i32 - 15) * (1.0 + f64::EPSILON * (u - 0.5) * 8.0),
            );
            let tie = format!(
                "{}5e{}",
                1_000_000_000_000 + (state % 8_999_999_999_999),
                (state % 30) as i32 - 25
            );
            let tie: f64 = tie.parse().unwrap_or(0.0);
            values.extend([
                tie,
                f64::from_bits(tie.to_bits() + 1),
                f64::from_bits(tie.to_bits() - 1),
            ]);
        }
        let mut fast = 0;
        for x in values {
            let heap: f64 = format!("{x:.12e}").parse().unwrap_or(x);
            fast += usize::from(twelve_digits_fast(x).is_some());
            let stack = twelve_digits(x).unwrap_or(x);
            assert!(
                heap.to_bits() == stack.to_bits() || (heap.is_nan() && stack.is_nan()),
                "{x:e}: {heap:e} vs {stack:e}"
            );
        }
        // The plain floats above mostly took the fast path (the ties and the
        // neighbours of powers of ten mostly did not): both paths were checked.
        assert!(fast > 60_000, "fast path taken {fast} times");
    }

    #[test]
    fn int_buckets_have_equal_width() {
        let d = Domain::Int {
            low: 1,
            high: 4,
            log: false,
            step: None,
        };
        let mut counts = [0; 4];
        for i in 0..4000 {
            let v = d.decode((i as f64 + 0.5) / 4000.0).as_i64().unwrap();
            counts[(v - 1) as usize] += 1;
        }
        assert_eq!(counts, [1000; 4]);
    }

    #[test]
    fn stepped_float_round_trips() {
        let d = Domain::Float {
            low: 0.1,
            high: 1.0,
            log: false,
            step: Some(0.1),
        };
        assert_eq!(d.cardinality(), Some(10));
        for k in 0..10 {
            let v = float_value(0.1 + k as f64 * 0.1);
            let u = d.encode(&v).unwrap();
            assert_eq!(d.decode(u), v);
        }
        assert_eq!(d.decode(1.0), json!(1.0));
    }

    #[test]
    fn bucket_edges_bound_the_coordinates_of_each_value() {
        let domains = [
            Domain::Int {
                low: -2,
                high: 3,
                log: false,
                step: None,
            },
            Domain::Int {
                low: 1,
                high: 100,
                log: true,
                step: None,
            },
            Domain::Int {
                low: 0,
                high: 20,
                log: false,
                step: Some(5),
            },
            Domain::Float {
                low: 0.1,
                high: 1.0,
                log: false,
                step: Some(0.1),
            },
        ];
        for d in &domains {
            let edges = d.bucket_edges().unwrap();
            let c = d.cardinality().unwrap();
            assert_eq!((edges.len(), edges[0], edges[c]), (c + 1, 0.0, 1.0));
            for k in 0..c {
                let (a, b) = (edges[k], edges[k + 1]);
                assert!(a < b, "{d:?}: bucket {k} is empty");
                // Every point strictly inside decodes to the same value, and
                // that value encodes back inside.
                let value = d.decode(a + 0.01 * (b - a));
                assert_eq!(d.decode(a + 0.99 * (b - a)), value, "{d:?}: bucket {k}");
                let u = d.encode(&value).unwrap();
                assert!(
                    a <= u && u <= b,
                    "{d:?}: {value} encodes to {u}, not in [{a}, {b}]"
                );
            }
        }
        assert_eq!(
            Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None
            }
            .bucket_edges(),
            None
        );
    }

    #[test]
    fn categorical_keeps_json_values() {
        let d = Domain::Categorical {
            choices: vec![json!("a"), json!([1, 2]), json!({"k": true})],
            probabilities: None,
        };
        let u = d.encode(&json!([1, 2])).unwrap();
        assert_eq!(d.decode(u), json!([1, 2]));
        assert_eq!(d.encode(&json!("zzz")), None);
    }

    #[test]
    fn normal_decodes_through_the_cdf() {
        let d = Domain::Normal {
            mu: 2.0,
            sigma: 3.0,
            log: false,
            q: None,
        };
        assert!((d.decode(0.5).as_f64().unwrap() - 2.0).abs() < 1e-12);
        let u = d.encode(&json!(5.0)).unwrap();
        assert!((u - norm_cdf(1.0)).abs() < 1e-12);
        assert!(d.decode(0.0).as_f64().unwrap().is_finite());
    }
}
