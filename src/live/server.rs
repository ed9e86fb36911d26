//! The owner's side: answers read-only requests about its store.
//!
//! Plain threads rather than tokio tasks: an embedder may own a store
//! without a runtime, the requests are rare (a person running `status`), and
//! a thread per connection can never delay the sweep's tasks, whatever a
//! client does. The threads hold the store only through a [`Weak`], so the
//! server never keeps a store open after its owner lets go of it.

use std::collections::HashMap;
use std::fs;
use std::io::{BufReader, Write};
use std::net::Shutdown;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use hypersweep_trials::{Storage, StorageError, now_ms};

use super::protocol::{
    ErrorKind, ErrorReply, HelloReply, Line, MAX_REPLY, MAX_REQUEST, PAGE_BYTES, Request,
    StudiesReply, StudyReply, TrialReply, read_line,
};
use super::{LiveError, SOCKET_FILE};

/// Connections served at once; more are told to come back later.
pub const MAX_CONNECTIONS: usize = 16;
/// A client that does not read its reply for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves read-only requests about `storage` on `<dir>/hypersweep.sock`
/// until the returned server is dropped. Call it only as the store's owner
/// (after opening it): a socket file already there is taken as stale and
/// replaced.
pub fn serve(dir: &Path, storage: Arc<dyn Storage>) -> Result<LiveServer, LiveError> {
    let path = dir.join(SOCKET_FILE);
    let listener = bind_private(dir, &path).map_err(|source| LiveError::Serve {
        path: path.clone(),
        source,
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let connections = Arc::new(Connections::default());
    let state = Accept {
        listener,
        storage: Arc::downgrade(&storage),
        stop: Arc::clone(&stop),
        connections: Arc::clone(&connections),
    };
    let accept = std::thread::Builder::new()
        .name("hypersweep-live".to_owned())
        .spawn(move || state.run())
        .map_err(|source| LiveError::Serve {
            path: path.clone(),
            source,
        })?;
    Ok(LiveServer {
        path,
        stop,
        accept: Some(accept),
        connections,
    })
}

/// A running server; dropping it stops it and removes the socket file.
#[derive(Debug)]
pub struct LiveServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Connections>,
}

impl LiveServer {
    /// The socket's path.
    pub fn socket_path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The accept loop wakes only for a connection: make one. If the
        // socket file was removed under us, the loop cannot be woken; leave
        // its thread parked (it holds no strong reference to the store).
        let woke = UnixStream::connect(&self.path).is_ok();
        if let Some(accept) = self.accept.take()
            && woke
        {
            let _ = accept.join();
        }
        self.connections.shut_all();
        let _ = fs::remove_file(&self.path);
    }
}

/// Binds the socket where only this user can connect, with no window in
/// which it exists with looser permissions: it is created inside a fresh
/// directory of mode 0700, made 0600, then renamed into place (which also
/// replaces a stale socket left by an owner that was killed).
fn bind_private(dir: &Path, path: &Path) -> std::io::Result<UnixListener> {
    let staging = dir.join(format!(".live-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let result = (|| {
        let temp = staging.join("s");
        let listener = UnixListener::bind(&temp)?;
        fs::set_permissions(&temp, fs::Permissions::from_mode(0o600))?;
        fs::rename(&temp, path)?;
        Ok(listener)
    })();
    let _ = fs::remove_dir_all(&staging);
    result
}

/// Open connections, so that stopping the server can end them.
#[derive(Debug, Default)]
struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, UnixStream>>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, UnixStream>> {
        // The map holds only handles; a panic elsewhere leaves it usable.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `stream`; `None` when [`MAX_CONNECTIONS`] are open.
    fn add(&self, stream: &UnixStream) -> Option<u64> {
        let mut open = self.lock();
        if open.len() >= MAX_CONNECTIONS {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        open.insert(id, stream.try_clone().ok()?);
        Some(id)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn shut_all(&self) {
        for stream in self.lock().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The accept loop's state.
struct Accept {
    listener: UnixListener,
    storage: Weak<dyn Storage>,
    stop: Arc<AtomicBool>,
    connections: Arc<Connections>,
}

impl Accept {
    fn run(self) {
        for stream in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let mut stream = match stream {
                Ok(s) => s,
                Err(err) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin.
                    tracing::warn!(%err, "live socket: accept failed");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let Some(id) = self.connections.add(&stream) else {
                let busy =
                    ErrorReply::other(format!("busy: {MAX_CONNECTIONS} connections already open"));
                let _ = writeln!(stream, "{}", busy.to_line());
                continue;
            };
            let storage = Weak::clone(&self.storage);
            let connections = Arc::clone(&self.connections);
            let spawned = std::thread::Builder::new()
                .name("hypersweep-live-conn".to_owned())
                .spawn(move || {
                    serve_connection(stream, &storage);
                    connections.remove(id);
                });
            if let Err(err) = spawned {
                tracing::warn!(%err, "live socket: no thread for a connection");
                self.connections.remove(id);
            }
        }
    }
}

/// Answers requests on one connection until the client leaves, sends a line
/// over the limit, or the connection fails.
fn serve_connection(stream: UnixStream, storage: &Weak<dyn Storage>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let reply = match read_line(&mut reader, MAX_REQUEST) {
            Ok(Line::Text(line)) => answer_line(storage, &line),
            Ok(Line::TooLong) => {
                // The rest of the line is unread, so the stream cannot be
                // trusted to resume at a request boundary: answer and close.
                let reply = ErrorReply::other(format!(
                    "request longer than {MAX_REQUEST} bytes; closing the connection"
                ));
                let _ = writeln!(writer, "{}", reply.to_line());
                return;
            }
            Ok(Line::Eof) | Err(_) => return,
        };
        if writeln!(writer, "{reply}").is_err() {
            return;
        }
    }
}

/// The reply line (without newline) to one request line.
pub(crate) fn answer_line(storage: &Weak<dyn Storage>, line: &[u8]) -> String {
    let request: Request = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(err) => return ErrorReply::other(format!("bad request: {err}")).to_line(),
    };
    match answer(storage, request) {
        Ok(reply) if reply.len() <= MAX_REPLY => reply,
        Ok(reply) => ErrorReply::other(format!(
            "the reply ({} bytes) is over the limit of {MAX_REPLY} bytes",
            reply.len()
        ))
        .to_line(),
        Err(err) => error_reply(&err).to_line(),
    }
}

fn answer(storage: &Weak<dyn Storage>, request: Request) -> Result<String, StorageError> {
    match request {
        Request::Hello {} => to_line(&HelloReply {
            pid: std::process::id(),
            now_ms: now_ms(),
        }),
        Request::Studies {} => to_line(&StudiesReply {
            studies: open(storage)?.list_studies()?,
        }),
        Request::Study { name } => to_line(&StudyReply {
            study: open(storage)?.load_study(&name)?,
        }),
        Request::Trial { study, number } => to_line(&TrialReply {
            trial: open(storage)?.trial(&study, number)?,
        }),
        // `changes` with no `unfinished` is exactly "trials above `after`",
        // and NoStudy when the study is missing.
        Request::Trials { study, after } => {
            trials_page(&open(storage)?.changes(&study, after, &[])?)
        }
    }
}

/// The store, unless its owner has let go of it.
fn open(storage: &Weak<dyn Storage>) -> Result<Arc<dyn Storage>, StorageError> {
    storage
        .upgrade()
        .ok_or_else(|| StorageError::Backend("the store is closed".to_owned()))
}

/// A `trials` reply holding the first trials of `trials` that fit in a page.
fn trials_page(trials: &[hypersweep_trials::Trial]) -> Result<String, StorageError> {
    let mut body = String::from(r#"{"trials":["#);
    let mut taken = 0;
    for trial in trials {
        if taken > 0 && body.len() >= PAGE_BYTES {
            break;
        }
        if taken > 0 {
            body.push(',');
        }
        body.push_str(&to_line(trial)?);
        taken += 1;
    }
    body.push_str(&format!(r#"],"more":{}}}"#, taken < trials.len()));
    Ok(body)
}

/// One value as JSON. Trials and records are plain data, so a failure would
/// be a bug: it goes to the client as an error rather than crashing the owner.
fn to_line<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value)
        .map_err(|err| StorageError::Backend(format!("cannot encode the reply: {err}")))
}

fn error_reply(err: &StorageError) -> ErrorReply {
    let kind = match err {
        StorageError::NoStudy(_) => ErrorKind::NoStudy,
        StorageError::NoTrial { .. } => ErrorKind::NoTrial,
        _ => ErrorKind::Other,
    };
    ErrorReply {
        error: err.to_string(),
        kind,
    }
}
