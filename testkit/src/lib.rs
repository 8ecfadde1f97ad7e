//! What qrun's tests and benches share: the harness for a qrun under test, written once.
//!
//! - [`TestDb`] (`db.rs`): a fresh, empty database — a SQLite file in a temporary directory or
//!   a new PostgreSQL database — dropped with its value.
//! - [`Served`] (`serve.rs`): a real `qrun serve` child process, up once it has logged
//!   `listening on http://ADDR`; and [`create_user`], `qrun migrate` then `qrun user create`'s token.
//! - [`Api`] (`api.rs`): a client of one node's HTTP API, each route the harnesses use as a
//!   method; [`http`], the tests' shared HTTP client.
//! - [`samples`] (`scrape.rs`): a `/metrics` scrape read back, sample by sample.
//! - [`BELL`], [`SIMULATOR`]: the circuit and the backend most runs use.
//! - [`wait_until`], [`process_alive`] (`wait.rs`): waiting on conditions, never on a sleep.
//!
//! The in-process application of the integration tests (`TestApp`, `tests/api/helpers.rs`) is
//! built on these; so are the benches' load clients (`benches/support/mod.rs`). Nothing here
//! depends on the `qrun` crate: a node is reached through its binary and its HTTP API.

mod api;
mod db;
mod scrape;
mod serve;
mod wait;

pub use api::{Api, circuit_body, http, run_body, run_body_by_id};
pub use db::{POSTGRES_ENV, TestDb};
pub use scrape::{Sample, samples};
pub use serve::{LineSink, Served, create_user};
pub use wait::{process_alive, wait_until};

/// What the harness's fallible calls return: a message naming what failed and, for an HTTP
/// answer other than the one expected, its status and body.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A Bell pair in OpenQASM 2.0: two classical bits, outcomes `00` and `11`.
pub const BELL: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n";

/// The built-in state-vector simulator, as a run's `backend` names it: (type, name).
pub const SIMULATOR: (&str, &str) = ("simulator", "statevector");
