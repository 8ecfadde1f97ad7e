//! The domain: plain Rust, no database, no HTTP.
//!
//! - [`status`]: the five run statuses and the lifecycle's edge table (docs/DESIGN.md §1).
//! - [`failure`]: the six error classes and the stages they happen in (docs/DESIGN.md §3).
//! - [`run`]: the run as the rest of the program sees it, and its results.
//! - [`job`]: jobs, batches of runs submitted together.
//! - [`memory`]: a run's per-shot outcomes, in shot order.
//! - [`qpy`]: `qpy` sources, Qiskit's binary circuit format as base64 text.
//! - [`records`]: audit rows and analytics events as read back.
//! - [`circuit`]: users, circuits, versions and the rules for their names.
//! - [`credential`]: API tokens, browser sessions, who a request is, and their audit vocabulary.
//! - [`role`]: roles a user may hold (the operator), and an operator's cancel reason.
//! - [`id_prefix`]: a run id or its first digits, as an operator searches for a run.
//! - [`clock`]: where "now" comes from, injectable for tests.
//! - [`text`]: untrusted text made safe for a terminal or a log line.

pub mod circuit;
pub mod clock;
pub mod credential;
pub mod failure;
pub mod id_prefix;
pub mod job;
pub mod memory;
pub mod qpy;
pub mod records;
pub mod role;
pub mod run;
pub mod status;
pub mod text;

pub use circuit::{Circuit, CircuitSummary, CircuitVersion, Manifest, User, Visibility};
pub use clock::{Clock, ManualClock, SystemClock};
pub use credential::{
    ApiToken, Caller, ChangedBy, Credential, CredentialChange, CredentialKind, Session,
};
pub use failure::{ErrorClass, ErrorStage, Failure, MAX_MESSAGE_BYTES};
pub use id_prefix::{IdPrefix, InvalidIdPrefix};
pub use job::{Job, JobRun, JobSummary, NewJob};
pub use memory::{Memory, MemoryError, MemoryPage};
pub use records::{AuditEntry, OutboxEvent, RUN_VIEWED};
pub use role::{InvalidCancelReason, Role, UnknownRole, cancel_reason};
pub use run::{NewRun, Parameters, QueueStanding, Run, RunOptions, RunResults, RunSpec};
pub use status::{Action, Edge, RunStatus};
pub use text::escape_untrusted;
