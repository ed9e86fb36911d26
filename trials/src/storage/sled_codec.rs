//! Keys and values of the sled store (layout in `sled_store.rs`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StorageError;

/// `len(study) as u32 BE ++ study`: the prefix of all of a study's keys.
/// The length makes keys unambiguous whatever bytes a study name holds.
pub(crate) fn study_prefix(study: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + study.len() + 16);
    // Names longer than 4 GiB are not names; saturating keeps this total.
    let len = u32::try_from(study.len()).unwrap_or(u32::MAX);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(study.as_bytes());
    key
}

/// Key of a trial record: big-endian numbers sort in number order.
pub(crate) fn trial_key(study: &str, number: u64) -> Vec<u8> {
    let mut key = study_prefix(study);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

/// Key of one intermediate value: the trial's key, then the step.
pub(crate) fn report_key(study: &str, number: u64, step: u64) -> Vec<u8> {
    let mut key = trial_key(study, number);
    key.extend_from_slice(&step.to_be_bytes());
    key
}

/// The 8 big-endian bytes at `at` in `key`.
pub(crate) fn u64_at(key: &[u8], at: usize) -> Result<u64, StorageError> {
    key.get(at..at + 8)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StorageError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            message: format!("key too short for a number at byte {at}"),
        })
}

/// A report value: the float's bits, so NaN payloads and -0.0 survive.
pub(crate) fn encode_value(value: f64) -> [u8; 8] {
    value.to_bits().to_be_bytes()
}

/// Inverse of [`encode_value`].
pub(crate) fn decode_value(
    bytes: &[u8],
    label: impl FnOnce() -> String,
) -> Result<f64, StorageError> {
    <[u8; 8]>::try_from(bytes)
        .map(|b| f64::from_bits(u64::from_be_bytes(b)))
        .map_err(|_| StorageError::Corrupt {
            key: label(),
            message: format!("expected 8 bytes of a float, found {}", bytes.len()),
        })
}

pub(crate) fn study_label(name: &str) -> String {
    format!("studies/{name}")
}

pub(crate) fn trial_label(study: &str, number: u64) -> String {
    format!("trials/{study}/{number}")
}

pub(crate) fn report_label(study: &str, number: u64, step: u64) -> String {
    format!("reports/{study}/{number}/{step}")
}

/// JSON, as every record but the report values.
pub(crate) fn encode<T: Serialize>(
    value: &T,
    label: impl FnOnce() -> String,
) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Corrupt {
        key: label(),
        message: e.to_string(),
    })
}

/// Inverse of [`encode`]; a record that does not parse is `Corrupt`.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    label: impl FnOnce() -> String,
) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt {
        key: label(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_number_then_step() {
        assert!(trial_key("s", 255) < trial_key("s", 256));
        assert!(trial_key("s", 1) < trial_key("s", u64::MAX));
        assert!(report_key("s", 1, 9) < report_key("s", 2, 0));
        assert!(report_key("s", 1, 255) < report_key("s", 1, 256));
        let at = study_prefix("s").len();
        assert_eq!(u64_at(&report_key("s", 77, 5), at).ok(), Some(77));
        assert_eq!(u64_at(&report_key("s", 77, 5), at + 8).ok(), Some(5));
        assert!(u64_at(&trial_key("s", 77), at + 8).is_err());
    }

    #[test]
    fn a_name_that_extends_another_has_its_own_prefix() {
        // Without the length prefix, "a" ++ number could collide with "a\0..".
        assert!(!trial_key("a", 5).starts_with(&study_prefix("a\0")));
        assert!(!trial_key("a\0", 5).starts_with(&study_prefix("a")));
    }

    #[test]
    fn report_values_keep_their_bits() {
        for x in [f64::NAN, -f64::NAN, f64::INFINITY, -0.0, 1.5e-300] {
            let back = decode_value(&encode_value(x), String::new).ok();
            assert_eq!(back.map(f64::to_bits), Some(x.to_bits()));
        }
        assert!(decode_value(&[1, 2, 3], String::new).is_err());
    }
}
