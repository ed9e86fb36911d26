//! A headless Chromium driven over the DevTools protocol, for the tests of
//! the report and the dashboard.
//!
//! The protocol runs over a pipe (`--remote-debugging-pipe`: commands on
//! the browser's fd 3, replies and events on its fd 4, each message JSON
//! ended by a NUL byte), so no WebSocket client, no port and no download is
//! needed. The browser records every console error, uncaught exception and
//! request of the page; the tests check them.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Chromium, when installed (`.ci/run` installs Debian's `chromium`):
/// `HYPERSWEEP_CHROMIUM`, else `chromium` or `chromium-browser` on PATH.
pub fn chromium() -> Option<String> {
    let candidates = std::env::var("HYPERSWEEP_CHROMIUM")
        .ok()
        .into_iter()
        .chain(["chromium".to_owned(), "chromium-browser".to_owned()]);
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Chromium, or `None` after saying why the test skips; under `CI` a
/// missing browser fails the test.
pub fn chromium_or_skip() -> Option<String> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and no chromium was found (.ci/run installs it)"
        );
        eprintln!(
            "skipping: no chromium on PATH (apt-get install chromium, or set HYPERSWEEP_CHROMIUM)"
        );
    }
    found
}

/// One page in a headless browser.
pub struct Browser {
    child: Child,
    commands: File,
    replies: BufReader<File>,
    next_id: u64,
    session: Option<String>,
    /// Every event received so far.
    pub events: Vec<Value>,
}

fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

impl Browser {
    /// Starts `binary` headless with a fresh profile in `profile`; killed
    /// after `limit` at the latest (`timeout`), so a hung browser fails the
    /// test instead of holding it.
    pub fn launch(binary: &str, profile: &Path, limit: Duration) -> Browser {
        let (cmd_read, cmd_write) = pipe();
        let (reply_read, reply_write) = pipe();
        let mut command = Command::new("timeout");
        command
            .arg(limit.as_secs().to_string())
            .arg(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // A page opened over the protocol is a background tab, whose
                // timers (the dashboard's polling) would be throttled.
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--remote-debugging-pipe",
                "--window-size=1280,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork
        // and exec. The ends are first copied above fd 10, so that placing
        // one on 3 or 4 cannot overwrite the other.
        unsafe {
            command.pre_exec(move || {
                let read = libc::fcntl(cmd_read, libc::F_DUPFD, 10);
                let write = libc::fcntl(reply_write, libc::F_DUPFD, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start chromium");
        // SAFETY: each fd came from pipe2 above and is owned here alone; the
        // child's ends are closed in this process once it has them.
        let (commands, replies) = unsafe {
            libc::close(cmd_read);
            libc::close(reply_write);
            (File::from_raw_fd(cmd_write), File::from_raw_fd(reply_read))
        };
        Browser {
            child,
            commands,
            replies: BufReader::new(replies),
            next_id: 1,
            session: None,
            events: Vec::new(),
        }
    }

    fn read_message(&mut self) -> Value {
        let mut buf = Vec::new();
        let n = self
            .replies
            .read_until(0, &mut buf)
            .expect("read from chromium");
        assert!(n > 0, "chromium closed the pipe (crashed or timed out)");
        buf.pop();
        serde_json::from_slice(&buf).expect("chromium sends JSON")
    }

    /// Sends a command (to the page once one is open) and waits for its
    /// result, keeping the events that arrive meanwhile.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.commands.write_all(&bytes).expect("write to chromium");
        loop {
            let reply = self.read_message();
            if reply["id"] == id {
                assert!(
                    reply.get("error").is_none(),
                    "{method} failed: {}",
                    reply["error"]
                );
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    /// Opens `url` in a new page and waits for its load event.
    pub fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = Some(
            attached["sessionId"]
                .as_str()
                .expect("a session id")
                .to_owned(),
        );
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
            "Page.enable",
        ] {
            self.call(domain, json!({}));
        }
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
        );
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            assert!(Instant::now() < deadline, "the page did not load");
            let event = self.read_message();
            self.events.push(event);
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "`{expression}` threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page, checking every 100 ms
    /// until `limit`; panics with `what` when it never is.
    pub fn wait_for(&mut self, expression: &str, limit: Duration, what: &str) {
        let deadline = Instant::now() + limit;
        loop {
            if self.eval(expression) == json!(true) {
                return;
            }
            if Instant::now() >= deadline {
                let state = self.eval(
                    "(document.getElementById('hs-live') || {}).textContent + ' | ' + \
                     Array.from(document.querySelectorAll('.js-error')).map(e => e.textContent).join('; ')",
                );
                panic!(
                    "timed out waiting for {what}; the page says: {state}; errors: {:?}",
                    self.errors()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A mouse event at viewport coordinates (`mousePressed`,
    /// `mouseMoved`, `mouseReleased`), the left button.
    pub fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1 }),
        );
    }

    /// Console errors, uncaught exceptions and error log entries so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Runtime.exceptionThrown" => Some(e["params"]["exceptionDetails"].to_string()),
                "Runtime.consoleAPICalled"
                    if matches!(e["params"]["type"].as_str(), Some("error" | "assert")) =>
                {
                    Some(e["params"]["args"].to_string())
                }
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    Some(e["params"]["entry"].to_string())
                }
                _ => None,
            })
            .collect()
    }

    /// The URL of every request the page made so far.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// Requests that left this machine: anything but `file:`, `data:`,
    /// `about:` and loopback HTTP.
    pub fn outside_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|u| {
                !(u.starts_with("file://")
                    || u.starts_with("data:")
                    || u.starts_with("about:")
                    || u.starts_with("http://127.0.0.1:")
                    || u.starts_with("http://localhost:"))
            })
            .collect()
    }

    /// A PNG of the page, `width` wide and as tall as the page.
    pub fn screenshot(&mut self, width: u32) -> Vec<u8> {
        let height = self.eval("document.documentElement.scrollHeight");
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        decode_base64(shot["data"].as_str().expect("image data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SIGTERM, which `timeout` passes on to the browser (a SIGKILL
        // would end only `timeout`).
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: a plain kill(2) of our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

/// Standard base64 (the screenshot's encoding), without a crate for it.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| u32::from(value(c))).collect();
        let n = v.iter().fold(0u32, |acc, &x| (acc << 6) | x) << (6 * (4 - v.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..v.len().saturating_sub(1)]);
    }
    out
}
