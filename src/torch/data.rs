//! Labelled data sets as `ndarray` arrays, and the digits data set that ships
//! with the crate.
//!
//! The digits (`data/digits/digits.csv.gz`, 1,797 images of 8x8 pixels with
//! values 0..16, ten classes; provenance and license in
//! `data/digits/README.md`) are compiled into the binary, so nothing is read
//! from disk or downloaded at run time. [`digits`] scales the pixels to
//! `[0, 1]`; [`Classification::split`] holds out a stratified, seeded
//! validation set, and [`digits_split`] is the split the examples, tests and
//! docs/benchmarks.md use.

use std::io::Read;

use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// The shipped digits, as scikit-learn's wheel has them.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits/digits.csv.gz");

/// Number of digits images.
pub const DIGITS_ROWS: usize = 1797;

/// Side of a digits image, in pixels.
pub const DIGITS_SIDE: usize = 8;

/// The largest pixel value in the digits (a count of on pixels in a 4x4
/// block of the original 32x32 bitmap).
const DIGITS_MAX_PIXEL: f32 = 16.0;

/// Fraction of each class held out by [`digits_split`].
pub const DIGITS_VALID_FRACTION: f64 = 0.2;

/// Seed of [`digits_split`].
pub const DIGITS_SPLIT_SEED: u64 = 2013;

/// Most classes a [`Classification`] may have (labels are small integers).
pub const MAX_CLASSES: usize = 1 << 16;

/// A data set of feature rows and integer class labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    features: Array2<f32>,
    labels: Array1<i64>,
    classes: usize,
}

/// Why a data set could not be read or split.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A line of a CSV source is not what was expected.
    #[error("{source_name} line {line}: {message}")]
    Line {
        /// The file or data set read.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// The data as a whole is unusable.
    #[error("{0}")]
    Invalid(String),
    /// Decompression failed.
    #[error("{source_name}: {err}")]
    Io {
        /// The file or data set read.
        source_name: String,
        /// The I/O error.
        err: std::io::Error,
    },
}

impl Classification {
    /// A data set of `features` (one row per example) and `labels` in
    /// `0..classes`.
    pub fn new(
        features: Array2<f32>,
        labels: Array1<i64>,
        classes: usize,
    ) -> Result<Classification, DataError> {
        if features.nrows() != labels.len() {
            return Err(DataError::Invalid(format!(
                "{} feature rows but {} labels",
                features.nrows(),
                labels.len()
            )));
        }
        if classes == 0 || classes > MAX_CLASSES {
            return Err(DataError::Invalid(format!(
                "classes must be between 1 and {MAX_CLASSES}, got {classes}"
            )));
        }
        if let Some((row, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l < 0 || l as usize >= classes)
        {
            return Err(DataError::Invalid(format!(
                "label {label} of row {row} is outside 0..{classes}"
            )));
        }
        if let Some(bad) = features.iter().find(|v| !v.is_finite()) {
            return Err(DataError::Invalid(format!(
                "features must be finite, found {bad}"
            )));
        }
        Ok(Classification {
            features,
            labels,
            classes,
        })
    }

    /// Reads CSV text with one example per line: numeric features, then an
    /// integer label in the last column (the layout of scikit-learn's
    /// `digits.csv`). Classes are `0..=max label`. `source_name` names the
    /// data in errors.
    pub fn from_csv(text: &str, source_name: &str) -> Result<Classification, DataError> {
        let line_error = |line: usize, message: String| DataError::Line {
            source_name: source_name.to_owned(),
            line,
            message,
        };
        let mut values: Vec<f32> = Vec::new();
        let mut labels: Vec<i64> = Vec::new();
        let mut width: Option<usize> = None;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let (label, features) = fields
                .split_last()
                .filter(|(_, f)| !f.is_empty())
                .ok_or_else(|| line_error(line_no, "expected features and a label".to_owned()))?;
            match width {
                None => width = Some(features.len()),
                Some(w) if w != features.len() => {
                    return Err(line_error(
                        line_no,
                        format!(
                            "expected {} features and a label, found {} fields",
                            w,
                            fields.len()
                        ),
                    ));
                }
                Some(_) => {}
            }
            for (column, field) in features.iter().enumerate() {
                let v: f32 = field.parse().map_err(|_| {
                    line_error(
                        line_no,
                        format!("column {}: expected a number, found `{field}`", column + 1),
                    )
                })?;
                values.push(v);
            }
            let label: i64 = label.parse().map_err(|_| {
                line_error(
                    line_no,
                    format!("last column: expected an integer label, found `{label}`"),
                )
            })?;
            if label < 0 || label as usize >= MAX_CLASSES {
                return Err(line_error(
                    line_no,
                    format!("label {label} is outside 0..{MAX_CLASSES}"),
                ));
            }
            labels.push(label);
        }
        let width =
            width.ok_or_else(|| DataError::Invalid(format!("{source_name} holds no examples")))?;
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        let features = Array2::from_shape_vec((labels.len(), width), values)
            .map_err(|e| DataError::Invalid(format!("{source_name}: {e}")))?;
        Classification::new(features, Array1::from(labels), classes)
    }

    /// The feature rows.
    pub fn features(&self) -> &Array2<f32> {
        &self.features
    }

    /// The labels, in `0..classes`.
    pub fn labels(&self) -> &Array1<i64> {
        &self.labels
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features per example.
    pub fn width(&self) -> usize {
        self.features.ncols()
    }

    /// The examples at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Classification {
        Classification {
            features: self.features.select(Axis(0), rows),
            labels: self.labels.select(Axis(0), rows),
            classes: self.classes,
        }
    }

    /// Splits into (train, validation): `valid_fraction` of each class
    /// (rounded, at least one example of every class that has two) goes to
    /// validation, chosen by a generator seeded with `seed`. The same data,
    /// fraction and seed give the same split.
    pub fn split(
        &self,
        valid_fraction: f64,
        seed: u64,
    ) -> Result<(Classification, Classification), DataError> {
        if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
            return Err(DataError::Invalid(format!(
                "the validation fraction must be in (0, 1), got {valid_fraction}"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut train = Vec::new();
        let mut valid = Vec::new();
        for class in 0..self.classes as i64 {
            let mut rows: Vec<usize> = (0..self.len())
                .filter(|&r| self.labels[r] == class)
                .collect();
            rows.shuffle(&mut rng);
            let held = if rows.len() < 2 {
                0
            } else {
                ((rows.len() as f64 * valid_fraction).round() as usize).clamp(1, rows.len() - 1)
            };
            valid.extend_from_slice(&rows[..held]);
            train.extend_from_slice(&rows[held..]);
        }
        // Back in data order, so the split does not group the classes.
        train.sort_unstable();
        valid.sort_unstable();
        if valid.is_empty() {
            return Err(DataError::Invalid(
                "no class has two examples to hold one out".to_owned(),
            ));
        }
        Ok((self.select(&train), self.select(&valid)))
    }
}

/// The 1,797 digits, pixels scaled to `[0, 1]`, rows in the shipped order;
/// each row is an 8x8 image in row-major order.
pub fn digits() -> Result<Classification, DataError> {
    let source_name = "data/digits/digits.csv.gz";
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|err| DataError::Io {
            source_name: source_name.to_owned(),
            err,
        })?;
    let raw = Classification::from_csv(&text, source_name)?;
    if raw.len() != DIGITS_ROWS || raw.width() != DIGITS_SIDE * DIGITS_SIDE || raw.classes != 10 {
        return Err(DataError::Invalid(format!(
            "{source_name}: expected {DIGITS_ROWS} rows of {} pixels in 10 classes, found {} rows of {} in {}",
            DIGITS_SIDE * DIGITS_SIDE,
            raw.len(),
            raw.width(),
            raw.classes
        )));
    }
    let features = raw.features / DIGITS_MAX_PIXEL;
    Classification::new(features, raw.labels, raw.classes)
}

/// The digits split the examples and tests use: [`DIGITS_VALID_FRACTION`]
/// of each class held out with [`DIGITS_SPLIT_SEED`] (1,438 train, 359
/// validation).
pub fn digits_split() -> Result<(Classification, Classification), DataError> {
    digits()?.split(DIGITS_VALID_FRACTION, DIGITS_SPLIT_SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_digits_have_their_known_shape_and_class_counts() {
        let d = digits().expect("the shipped digits parse");
        assert_eq!((d.len(), d.width(), d.classes()), (1797, 64, 10));
        // Known answer: scikit-learn's digits hold these many of each digit.
        let counts: Vec<usize> = (0..10)
            .map(|c| d.labels().iter().filter(|&&l| l == c).count())
            .collect();
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        let max = d.features().iter().copied().fold(f32::MIN, f32::max);
        let min = d.features().iter().copied().fold(f32::MAX, f32::min);
        assert_eq!((min, max), (0.0, 1.0));
        // The first image is a zero whose first row is 0,0,5,13,9,1,0,0.
        assert_eq!(d.labels()[0], 0);
        let first_row: Vec<f32> = d.features().row(0).iter().take(8).copied().collect();
        let expected: Vec<f32> = [0., 0., 5., 13., 9., 1., 0., 0.]
            .iter()
            .map(|v| v / 16.0)
            .collect();
        assert_eq!(first_row, expected);
    }

    #[test]
    fn the_split_is_stratified_disjoint_and_deterministic() {
        let d = digits().expect("digits");
        let (train, valid) = digits_split().expect("split");
        assert_eq!(train.len() + valid.len(), d.len());
        assert_eq!(valid.len(), 359);
        for c in 0..10 {
            let n = d.labels().iter().filter(|&&l| l == c).count();
            let v = valid.labels().iter().filter(|&&l| l == c).count();
            assert_eq!(v, (n as f64 * DIGITS_VALID_FRACTION).round() as usize);
        }
        let (train2, valid2) = digits_split().expect("split again");
        assert_eq!((train, valid), (train2, valid2));
        let (_, other) = d.split(DIGITS_VALID_FRACTION, 1).expect("split seed 1");
        assert_ne!(other.labels(), digits_split().expect("split").1.labels());
    }

    #[test]
    fn malformed_csv_is_refused_with_its_line() {
        let err = Classification::from_csv("1,2,0\n1,x,1\n", "t.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv line 2: column 2: expected a number, found `x`"
        );
        let err = Classification::from_csv("1,2,0\n1,1\n", "t.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv line 2: expected 2 features and a label, found 2 fields"
        );
        let err = Classification::from_csv("1,2,0.5\n", "t.csv").unwrap_err();
        assert!(err.to_string().contains("integer label"), "{err}");
        let err = Classification::from_csv("1,2,-1\n", "t.csv").unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        assert!(Classification::from_csv("\n", "t.csv").is_err());
    }

    #[test]
    fn a_validation_fraction_outside_zero_one_is_refused() {
        let d = Classification::from_csv("1,0\n2,0\n3,1\n4,1\n", "t.csv").expect("tiny");
        assert!(d.split(0.0, 0).is_err());
        assert!(d.split(1.0, 0).is_err());
        assert!(d.split(f64::NAN, 0).is_err());
        let (train, valid) = d.split(0.5, 0).expect("half");
        assert_eq!((train.len(), valid.len()), (2, 2));
        assert_eq!(valid.labels().to_vec(), vec![0, 1]);
    }
}
