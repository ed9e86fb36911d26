//! A trial's output as bounded lines, with every byte kept in its log.
//!
//! A trial may print anything: a progress bar redrawn with `\r` for hours, a
//! gigabyte on one line, binary. hypersweep's memory must not depend on it,
//! so a line is cut at [`MAX_LINE_BYTES`] for parsing (a report is a short
//! JSON object; a longer line is not one) while the log file receives the
//! line whole, as the trial wrote it, byte for byte.
//!
//! Both `\n` and `\r` end a line for parsing: a terminal shows what follows
//! the last `\r`, and a report printed after a progress bar's `\r` is read
//! as its own line (`\r\n` is one ending). A bar that never prints a newline
//! therefore costs nothing either.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The longest line kept for parsing; the rest of a longer line goes only
/// to the log.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// A trial's log file, shared by its stdout and stderr streams; `None` once
/// a write failed (the trial then runs on without a log, with a warning).
pub(crate) type SharedLog = Arc<Mutex<Option<std::fs::File>>>;

/// Writes `bytes` to the log, dropping the log after a failed write.
fn log_bytes(log: &SharedLog, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let Ok(mut guard) = log.lock() else {
        return;
    };
    if let Some(file) = guard.as_mut() {
        // Unbuffered on purpose: `tail -f` on a trial's log shows it live.
        if let Err(e) = file.write_all(bytes) {
            tracing::warn!("cannot write a trial log, no longer logging it: {e}");
            *guard = None;
        }
    }
}

/// Lines of one output stream, cut for parsing, whole in the log; invalid
/// UTF-8 replaced rather than fatal.
#[derive(Debug)]
pub(crate) struct LineStream<R> {
    reader: Option<BufReader<R>>,
    /// The current line's first [`MAX_LINE_BYTES`] bytes.
    head: Vec<u8>,
    /// The current line outgrew `head`, which is already in the log.
    overflowed: bool,
    /// The last line ended with `\r`: a `\n` right after it ends nothing.
    after_cr: bool,
    log: SharedLog,
}

impl<R: AsyncRead + Unpin> LineStream<R> {
    /// Lines of `reader` (none when the stream was not captured), teed into
    /// `log`.
    pub(crate) fn new(reader: Option<R>, log: SharedLog) -> Self {
        LineStream {
            reader: reader.map(BufReader::new),
            head: Vec::new(),
            overflowed: false,
            after_cr: false,
            log,
        }
    }

    /// True once the stream has ended.
    pub(crate) fn is_done(&self) -> bool {
        self.reader.is_none()
    }

    /// The next line without its ending, at most [`MAX_LINE_BYTES`] long;
    /// `None` at the end. Cancel safe: nothing is consumed from the reader
    /// across an await, and a partly read line stays for the next call.
    pub(crate) async fn next_line(&mut self) -> Option<String> {
        loop {
            let reader = self.reader.as_mut()?;
            // A read error ends the stream like EOF: the trial's exit status
            // still decides its outcome.
            let available = reader.fill_buf().await.unwrap_or(&[]);
            if available.is_empty() {
                self.reader = None;
                if self.head.is_empty() && !self.overflowed {
                    return None;
                }
                return Some(self.end_line(b""));
            }
            if std::mem::take(&mut self.after_cr) && available[0] == b'\n' {
                log_bytes(&self.log, b"\n");
                reader.consume(1);
                continue;
            }
            let end = available.iter().position(|&b| b == b'\n' || b == b'\r');
            let taken = end.map_or(available.len(), |i| i + 1);
            let (text, ending) = match end {
                Some(i) => (&available[..i], &available[i..=i]),
                None => (available, &b""[..]),
            };
            append(&mut self.head, &mut self.overflowed, &self.log, text);
            let ending = ending.to_vec();
            reader.consume(taken);
            if !ending.is_empty() {
                self.after_cr = ending == b"\r";
                return Some(self.end_line(&ending));
            }
        }
    }

    /// Logs the line's ending (and its head, unless logged already) and
    /// returns the head as text.
    fn end_line(&mut self, ending: &[u8]) -> String {
        if !self.overflowed {
            log_bytes(&self.log, &self.head);
        }
        log_bytes(&self.log, ending);
        self.overflowed = false;
        let line = String::from_utf8_lossy(&self.head).into_owned();
        self.head.clear();
        line
    }
}

/// Adds `text` to the current line: into `head` while it fits, then the
/// head once and every later byte straight to the log.
fn append(head: &mut Vec<u8>, overflowed: &mut bool, log: &SharedLog, text: &[u8]) {
    if *overflowed {
        log_bytes(log, text);
        return;
    }
    let room = MAX_LINE_BYTES - head.len();
    if text.len() <= room {
        head.extend_from_slice(text);
        return;
    }
    head.extend_from_slice(&text[..room]);
    log_bytes(log, head);
    log_bytes(log, &text[room..]);
    *overflowed = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> (Vec<String>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log: SharedLog = Arc::new(Mutex::new(Some(std::fs::File::create(&path).unwrap())));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let lines = runtime.block_on(async {
            let mut stream = LineStream::new(Some(input), Arc::clone(&log));
            let mut out = Vec::new();
            while let Some(line) = stream.next_line().await {
                out.push(line);
            }
            out
        });
        drop(log);
        (lines, std::fs::read(&path).unwrap())
    }

    #[test]
    fn carriage_returns_end_lines_and_the_log_keeps_every_byte() {
        let input = b"10%\r50%\r{\"loss\": 1}\r\nplain\nlast";
        let (lines, log) = lines_of(input);
        assert_eq!(lines, ["10%", "50%", "{\"loss\": 1}", "plain", "last"]);
        assert_eq!(log, input);
    }

    #[test]
    fn a_long_line_is_cut_for_parsing_and_whole_in_the_log() {
        let mut input = vec![b'x'; 3 * MAX_LINE_BYTES + 17];
        input.extend_from_slice(b"\n{\"loss\": 2}\n\xff\xfe binary\n");
        let (lines, log) = lines_of(&input);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(lines[1], "{\"loss\": 2}");
        assert!(lines[2].ends_with(" binary"));
        assert_eq!(log, input);
    }
}
