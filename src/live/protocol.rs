//! The wire format shared by the server and the client: one JSON request per
//! line, one JSON reply per line.
//!
//! Requests are tagged by `op`:
//! - `{"op": "hello"}` -> `{"pid": N, "now_ms": T}` (who owns the store, and
//!   its clock);
//! - `{"op": "studies"}` -> `{"studies": ["name", ...]}`;
//! - `{"op": "study", "name": S}` -> `{"study": record-or-null}`;
//! - `{"op": "trials", "study": S, "after": N-or-null}` -> `{"trials":
//!   [...], "more": bool}`: trials numbered above `after`, by number, one
//!   page (at most [`PAGE_BYTES`] of JSON, but always at least one trial);
//!   `more` says to ask again after the last one;
//! - `{"op": "trial", "study": S, "number": N}` -> `{"trial": {...}}`.
//!
//! A failure is `{"error": "message", "kind": K}` with `kind` one of
//! `no_study`, `no_trial`, `other`, so the client can rebuild the typed
//! error. Both sides read lines through [`read_line`], which stops at a
//! limit: a request line is at most [`MAX_REQUEST`] bytes, a reply at most
//! [`MAX_REPLY`], so neither side's memory depends on what the other sends.

use std::io::{self, BufRead, Read};

use hypersweep_trials::{StudyRecord, Trial};
use serde::{Deserialize, Serialize};

/// Longest request line the server reads; a longer one ends the connection.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Longest reply line either side produces or reads.
pub const MAX_REPLY: usize = 64 * 1024 * 1024;
/// A `trials` page stops growing once its trials' JSON passes this size.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The owner's pid and clock.
    Hello {},
    /// Names of all studies.
    Studies {},
    /// One study record.
    Study {
        /// Study name.
        name: String,
    },
    /// A page of trials numbered above `after`.
    Trials {
        /// Study name.
        study: String,
        /// Last number already read (`None`: from the first trial).
        #[serde(default)]
        after: Option<u64>,
    },
    /// One trial.
    Trial {
        /// Study name.
        study: String,
        /// Trial number.
        number: u64,
    },
}

/// Reply to [`Request::Hello`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloReply {
    /// Pid of the process that owns the store.
    pub pid: u32,
    /// Its clock, ms since the Unix epoch.
    pub now_ms: u64,
}

/// Reply to [`Request::Studies`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudiesReply {
    /// Study names.
    pub studies: Vec<String>,
}

/// Reply to [`Request::Study`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReply {
    /// The record, if the study exists.
    pub study: Option<StudyRecord>,
}

/// Reply to [`Request::Trials`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialsReply {
    /// Trials, by number.
    pub trials: Vec<Trial>,
    /// More trials follow the last one.
    pub more: bool,
}

/// Reply to [`Request::Trial`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialReply {
    /// The trial.
    pub trial: Trial,
}

/// What kind of failure an [`ErrorReply`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The study does not exist.
    NoStudy,
    /// The trial does not exist.
    NoTrial,
    /// Anything else (bad request, store failure).
    #[serde(other)]
    Other,
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong, for people.
    pub error: String,
    /// What went wrong, for the client.
    #[serde(default = "other_kind")]
    pub kind: ErrorKind,
}

fn other_kind() -> ErrorKind {
    ErrorKind::Other
}

impl ErrorReply {
    /// An error of kind `other`.
    pub fn other(message: impl Into<String>) -> Self {
        ErrorReply {
            error: message.into(),
            kind: ErrorKind::Other,
        }
    }

    /// The reply as one line of JSON (without the newline).
    pub fn to_line(&self) -> String {
        // A struct of a string and a unit enum always serializes.
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"error":"unencodable error","kind":"other"}"#.to_owned())
    }
}

/// One line read by [`read_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The peer closed the connection before sending anything more.
    Eof,
    /// A line, without its newline.
    Text(Vec<u8>),
    /// The line passed the limit; the rest of it is still unread.
    TooLong,
}

/// Reads one line of at most `max` bytes (the newline not counted). A last
/// line without a newline counts as a line.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Line> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(Line::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Line::Text(buf));
    }
    if buf.len() > max {
        return Ok(Line::TooLong);
    }
    Ok(Line::Text(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_line_stops_at_the_limit() {
        let mut r = io::Cursor::new(b"abc\ndefgh\nij".to_vec());
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Text(b"abc".to_vec()));
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::TooLong);
        let mut r = io::Cursor::new(b"abcd\nij".to_vec());
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Text(b"abcd".to_vec()));
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Text(b"ij".to_vec()));
        assert_eq!(read_line(&mut r, 4).unwrap(), Line::Eof);
    }

    #[test]
    fn requests_read_as_documented() {
        let r: Request = serde_json::from_str(r#"{"op":"trials","study":"s"}"#).unwrap();
        assert_eq!(
            r,
            Request::Trials {
                study: "s".into(),
                after: None
            }
        );
        let r: Request = serde_json::from_str(r#"{"op":"trial","study":"s","number":4}"#).unwrap();
        assert_eq!(
            r,
            Request::Trial {
                study: "s".into(),
                number: 4
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"delete","name":"s"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"op":"studies","x":1}"#).is_err());
    }

    #[test]
    fn unknown_error_kinds_read_as_other() {
        let e: ErrorReply = serde_json::from_str(r#"{"error":"x","kind":"new_kind"}"#).unwrap();
        assert_eq!(e.kind, ErrorKind::Other);
        let e: ErrorReply = serde_json::from_str(r#"{"error":"x"}"#).unwrap();
        assert_eq!(e.kind, ErrorKind::Other);
    }
}
