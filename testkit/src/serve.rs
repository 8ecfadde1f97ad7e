//! A real `qrun serve` process, as an operator starts it, and `qrun user create`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Api, Error};

/// How long a node may take to say `listening on http://ADDR`.
const STARTUP: Duration = Duration::from_secs(60);

/// What each line a node logs is handed to (without terminal escapes), besides being
/// drained: a bench's log file, a test's list of every line.
pub type LineSink = Box<dyn FnMut(&str) + Send>;

/// A `qrun serve` child process that has logged `listening on http://ADDR`; killed (SIGKILL)
/// on drop unless it has already been stopped or reaped.
pub struct Served {
    pub child: Child,
    /// `http://ADDR`.
    pub base: String,
    /// Reads its standard error until the node closes it.
    reader: Option<JoinHandle<()>>,
}

impl Served {
    /// Spawns `command` (a `qrun … serve` command line, with its directory and environment
    /// set) and waits for its `listening on http://ADDR` line, in either log format. Its
    /// standard error is read for its whole life (so it never blocks on a full pipe), each
    /// line handed to `sink` if given. A node that exits or stays silent is killed, and the
    /// error carries what it said.
    pub fn start(mut command: Command, mut sink: Option<LineSink>) -> Result<Served, Error> {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{command:?} does not start: {e}"))?;
        let stderr = child.stderr.take().ok_or("no piped stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // What it said before listening, for the error should it never listen.
        let said = Arc::new(Mutex::new(Vec::new()));
        let before = said.clone();
        let reader = std::thread::spawn(move || {
            let mut listening = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let line = strip_ansi(&line);
                if let Some(sink) = &mut sink {
                    sink(&line);
                }
                if listening {
                    continue;
                }
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    listening = true;
                    // The address ends where the text line's words or the JSON string do.
                    let addr = rest
                        .chars()
                        .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
                        .collect::<String>();
                    let _ = tx.send(addr);
                } else {
                    before.lock().unwrap().push(line);
                }
            }
        });
        match rx.recv_timeout(STARTUP) {
            Ok(addr) => Ok(Served {
                child,
                base: format!("http://{addr}"),
                reader: Some(reader),
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "no `listening on http://ADDR` line ({e}); it said:\n{}",
                    said.lock().unwrap().join("\n")
                )
                .into())
            }
        }
    }

    /// A client of its API (the tests' shared HTTP client).
    pub fn api(&self) -> Api {
        Api::new(&self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the node dies at once, with no drain; reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the node to exit and for every line it logged to have reached the sink; its
    /// exit status.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait()?;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Ok(status)
    }

    /// SIGTERM (the node drains, then exits), and waits for it; nothing if it has already
    /// exited and been reaped.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A reaped child is not signalled again (its pid may be another process's by now).
        self.kill();
    }
}

/// What an operator does first on a database: `qrun migrate`, then `qrun user create HANDLE`,
/// each by a command `qrun` makes (with its configuration, environment and user set): the new
/// user's API token, the only line the second prints.
pub fn create_user(qrun: impl Fn() -> Command, handle: &str) -> Result<String, Error> {
    let run = |args: &[&str]| -> Result<std::process::Output, Error> {
        let out = qrun()
            .args(args)
            .output()
            .map_err(|e| format!("qrun {args:?} does not start: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "qrun {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(out)
    };
    run(&["migrate"])?;
    let out = run(&["user", "create", handle])?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// `s` without its terminal escape sequences (a node's log may be coloured).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
