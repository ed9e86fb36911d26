//! The reader's side: a [`Storage`] whose reads go to the owner's socket.
//!
//! It implements the whole trait so that every read-only command works on it
//! unchanged; writes are refused with [`StorageError::ReadOnly`], because the
//! only process allowed to write a sled store is its owner.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hypersweep_search::sweep::SweepSpec;
use hypersweep_trials::{
    ClaimDecision, Staleness, Storage, StorageError, StudyCache, StudyRecord, Trial, TrialOutcome,
};
use serde::de::DeserializeOwned;

use super::protocol::{
    ErrorKind, ErrorReply, HelloReply, Line, MAX_REPLY, Request, StudiesReply, StudyReply,
    TrialReply, TrialsReply, read_line,
};
use super::{LiveError, SOCKET_FILE};

/// How long the client waits for one reply before giving up on the owner.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A read-only view of a sled store, read through the process that owns it.
#[derive(Debug)]
pub struct LiveStorage {
    dir: PathBuf,
    pid: u32,
    conn: Mutex<Connection>,
}

#[derive(Debug)]
struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// A reply was cut short: the stream is no longer at a line boundary.
    broken: bool,
}

impl LiveStorage {
    /// Connects to the owner of the store in `dir` and asks who it is.
    pub fn connect(dir: &Path) -> Result<Self, LiveError> {
        let socket = dir.join(SOCKET_FILE);
        let connect_error = |source| LiveError::Connect {
            socket: socket.clone(),
            source,
        };
        let writer = UnixStream::connect(&socket).map_err(connect_error)?;
        writer
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(connect_error)?;
        let reader = BufReader::new(writer.try_clone().map_err(connect_error)?);
        let mut live = LiveStorage {
            dir: dir.to_path_buf(),
            pid: 0,
            conn: Mutex::new(Connection {
                reader,
                writer,
                broken: false,
            }),
        };
        let hello: HelloReply = live
            .request(&Request::Hello {})
            .map_err(|e| LiveError::Handshake(e.to_string()))?;
        live.pid = hello.pid;
        Ok(live)
    }

    /// Pid of the process that owns the store.
    pub fn owner_pid(&self) -> u32 {
        self.pid
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-request leaves `broken` set or the stream aligned.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `request` and decodes the reply as `T`, or as the typed error.
    fn request<T: DeserializeOwned>(&self, request: &Request) -> Result<T, StorageError> {
        let mut conn = self.lock();
        if conn.broken {
            return Err(self.backend("the connection broke on an earlier reply"));
        }
        let mut line = serde_json::to_string(request)
            .map_err(|e| self.backend(&format!("cannot encode the request: {e}")))?;
        line.push('\n');
        conn.writer.write_all(line.as_bytes())?;
        let reply = match read_line(&mut conn.reader, MAX_REPLY)? {
            Line::Text(text) => text,
            Line::Eof => return Err(self.backend("the owner closed the connection")),
            Line::TooLong => {
                conn.broken = true;
                return Err(self.backend(&format!("a reply over {MAX_REPLY} bytes")));
            }
        };
        drop(conn);
        let value: serde_json::Value = serde_json::from_slice(&reply)
            .map_err(|e| self.backend(&format!("unreadable reply: {e}")))?;
        if value.get("error").is_some() {
            let err: ErrorReply = serde_json::from_value(value)
                .map_err(|e| self.backend(&format!("unreadable error reply: {e}")))?;
            return Err(self.typed_error(request, err));
        }
        serde_json::from_value(value).map_err(|e| self.backend(&format!("unexpected reply: {e}")))
    }

    fn typed_error(&self, request: &Request, err: ErrorReply) -> StorageError {
        match (err.kind, request) {
            (ErrorKind::NoStudy, Request::Trials { study, .. } | Request::Trial { study, .. }) => {
                StorageError::NoStudy(study.clone())
            }
            (ErrorKind::NoTrial, Request::Trial { study, number }) => StorageError::NoTrial {
                study: study.clone(),
                number: *number,
            },
            _ => self.backend(&err.error),
        }
    }

    fn backend(&self, message: &str) -> StorageError {
        StorageError::Backend(format!(
            "reading the store at {} through pid {}: {message}",
            self.dir.display(),
            self.pid
        ))
    }

    fn read_only(&self, operation: &'static str) -> StorageError {
        StorageError::ReadOnly {
            path: self.dir.display().to_string(),
            pid: self.pid,
            operation,
        }
    }

    /// Trials numbered above `after`, page by page.
    fn trials_after(&self, study: &str, after: Option<u64>) -> Result<Vec<Trial>, StorageError> {
        let mut out: Vec<Trial> = Vec::new();
        let mut after = after;
        loop {
            let page: TrialsReply = self.request(&Request::Trials {
                study: study.to_owned(),
                after,
            })?;
            let last = page.trials.last().map(|t| t.number);
            out.extend(page.trials);
            match last {
                // A page always holds a trial when more follow; the check
                // keeps a faulty server from looping us forever.
                Some(n) if page.more && after.is_none_or(|a| n > a) => after = Some(n),
                _ => return Ok(out),
            }
        }
    }
}

impl Storage for LiveStorage {
    fn create_study(&self, _name: &str, _spec: &SweepSpec) -> Result<StudyRecord, StorageError> {
        Err(self.read_only("create_study"))
    }

    fn load_study(&self, name: &str) -> Result<Option<StudyRecord>, StorageError> {
        let reply: StudyReply = self.request(&Request::Study {
            name: name.to_owned(),
        })?;
        Ok(reply.study)
    }

    fn list_studies(&self) -> Result<Vec<String>, StorageError> {
        let reply: StudiesReply = self.request(&Request::Studies {})?;
        Ok(reply.studies)
    }

    fn delete_study(&self, _name: &str) -> Result<bool, StorageError> {
        Err(self.read_only("delete_study"))
    }

    fn update_study(
        &self,
        _name: &str,
        _spec: &hypersweep_search::sweep::SweepSpec,
    ) -> Result<StudyRecord, StorageError> {
        Err(self.read_only("update_study"))
    }

    fn claim(
        &self,
        _study: &str,
        _cache: &mut StudyCache,
        _decide: &mut ClaimDecision<'_>,
    ) -> Result<Option<Trial>, StorageError> {
        Err(self.read_only("claim"))
    }

    fn changes(
        &self,
        study: &str,
        after: Option<u64>,
        unfinished: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        let mut out = Vec::new();
        for &number in unfinished.iter().filter(|&&n| after.is_none_or(|a| n <= a)) {
            match self.trial(study, number) {
                Ok(t) => out.push(t),
                Err(StorageError::NoTrial { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.extend(self.trials_after(study, after)?);
        Ok(out)
    }

    fn report(
        &self,
        _study: &str,
        _number: u64,
        _step: u64,
        _value: f64,
    ) -> Result<(), StorageError> {
        Err(self.read_only("report"))
    }

    fn set_params(
        &self,
        _study: &str,
        _number: u64,
        _update: hypersweep_trials::TrialUpdate,
    ) -> Result<(), StorageError> {
        Err(self.read_only("set_params"))
    }

    fn set_repeats(
        &self,
        _study: &str,
        _number: u64,
        _repeats: hypersweep_trials::Repeats,
    ) -> Result<(), StorageError> {
        Err(self.read_only("set_repeats"))
    }

    fn set_log_path(&self, _study: &str, _number: u64, _path: PathBuf) -> Result<(), StorageError> {
        Err(self.read_only("set_log_path"))
    }

    fn heartbeat(&self, _study: &str, _number: u64) -> Result<(), StorageError> {
        Err(self.read_only("heartbeat"))
    }

    fn finish_trial(
        &self,
        _study: &str,
        _number: u64,
        _outcome: TrialOutcome,
    ) -> Result<Trial, StorageError> {
        Err(self.read_only("finish_trial"))
    }

    fn trial(&self, study: &str, number: u64) -> Result<Trial, StorageError> {
        let reply: TrialReply = self.request(&Request::Trial {
            study: study.to_owned(),
            number,
        })?;
        Ok(reply.trial)
    }

    fn trials(&self, study: &str) -> Result<Vec<Trial>, StorageError> {
        self.trials_after(study, None)
    }

    fn reap_stale(
        &self,
        _study: &str,
        _staleness: Staleness,
        _reason: &str,
    ) -> Result<Vec<Trial>, StorageError> {
        Err(self.read_only("reap_stale"))
    }
}
