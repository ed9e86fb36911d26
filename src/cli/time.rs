//! Timestamps as people read them.

use std::time::{Duration, UNIX_EPOCH};

/// `ms` since the Unix epoch as an ISO 8601 (RFC 3339) UTC time with
/// milliseconds, e.g. `2026-12-01T17:13:35.123Z`.
pub fn iso8601(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Whole seconds as people read a long duration: `59s`, `2m30s`, `2h02m`.
pub fn clock(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day), 12:34:56.789 UTC.
        assert_eq!(iso8601(951_827_696_789), "2000-02-29T12:34:56.789Z");
    }
}
