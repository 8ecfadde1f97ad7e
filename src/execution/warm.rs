//! A command backend's warm pool (`backends[].warm`, docs/DESIGN.md §13): programs started
//! ahead of their runs, each in a sandbox of its own ([`Sandbox::start`]), that do their
//! start-up work (the Qiskit runner imports Qiskit and Aer, ~0.5 s) and then wait on stdin
//! for their one job. A run takes one ([`WarmPool::take`]) and [`Sandbox::finish`]es it; a
//! replacement is started at once. No started program serves two runs, so no sandbox is
//! shared: a warm run differs from a cold one only in when its program started.
//!
//! Started programs are killed when the pool is closed ([`WarmPool::close`], at shutdown) or
//! dropped, and with the service (bubblewrap's parent-death signal, tied to the tokio worker
//! thread that started them).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use qrun_sandbox::{Ending, Sandbox, Started};

/// The programs of one backend started ahead of their runs.
pub struct WarmPool {
    sandbox: Arc<Sandbox>,
    program: PathBuf,
    args: Arc<[OsString]>,
    /// How many started programs to keep waiting (`warm`).
    size: usize,
    /// The waiting programs, oldest first; `None` once closed.
    ready: Mutex<Option<VecDeque<Started>>>,
}

impl WarmPool {
    /// A pool of `size` programs (none started yet: [`WarmPool::refill`]).
    pub fn new(
        sandbox: Arc<Sandbox>,
        program: PathBuf,
        args: Arc<[OsString]>,
        size: usize,
    ) -> WarmPool {
        WarmPool {
            sandbox,
            program,
            args,
            size,
            ready: Mutex::new(Some(VecDeque::with_capacity(size))),
        }
    }

    /// A started program for one run: a waiting one that is still alive if there is one,
    /// else one started now (a cold start); either way a replacement is started in the
    /// background. `Err`: the program could not be started (the ending a run reports).
    /// Call from a tokio worker thread (the started program's parent-death signal).
    pub fn take(self: &Arc<Self>) -> Result<Started, Ending> {
        let waiting = {
            let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            let mut found = None;
            while let Some(mut started) = ready.as_mut().and_then(VecDeque::pop_front) {
                if started.is_running() {
                    found = Some(started);
                    break;
                }
                // It died waiting (killed from outside, a start-up failure): its run would
                // fail for nothing, so it is discarded and a fresh one used.
                tracing::warn!(program = %self.program.display(), "a warm program died waiting");
            }
            found
        };
        let pool = Arc::clone(self);
        tokio::spawn(async move { pool.refill() });
        match waiting {
            Some(started) => Ok(started),
            None => self.sandbox.start(&self.program, &self.args),
        }
    }

    /// Starts programs until `size` wait (nothing once closed). Runs on the calling thread:
    /// a tokio worker (the parent-death signal is tied to it). A program that cannot be
    /// started is logged, and the pool stays short until the next run refills it.
    pub fn refill(&self) {
        loop {
            let missing = match &*self.ready.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(ready) => self.size.saturating_sub(ready.len()),
                None => return,
            };
            if missing == 0 {
                return;
            }
            let started = match self.sandbox.start(&self.program, &self.args) {
                Ok(started) => started,
                Err(ending) => {
                    tracing::warn!(
                        program = %self.program.display(),
                        %ending,
                        "cannot start a warm program"
                    );
                    return;
                }
            };
            let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
            match ready.as_mut() {
                Some(ready) if ready.len() < self.size => ready.push_back(started),
                // Closed, or filled meanwhile by another refill: this one is killed.
                _ => return,
            }
        }
    }

    /// How many programs wait now.
    pub fn waiting(&self) -> usize {
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, VecDeque::len)
    }

    /// Kills every waiting program and starts no more (shutdown). Blocking: removing each
    /// program's cgroup waits for its processes to be reaped.
    pub fn close(&self) {
        let ready = self.ready.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(ready);
    }
}
