//! The service's rules, independent of HTTP: who may see and do what, and how a request
//! becomes lifecycle commands. The HTTP layer parses, calls [`Service`]'s methods, and shapes
//! the answer; the command line calls the same methods.
//!
//! - [`access`]: visibility of circuits and runs, and of the submitter's identity.
//! - [`admission`]: whether a run's circuit fits its parameters and its backend, at submission.
//! - [`auth`]: credentials (API tokens, browser sessions) to callers, with a short-lived cache.
//! - [`credentials`]: who a request is, one's own tokens, signing in and out.
//! - [`runs`]: submit, read, list, cancel, audit.
//! - [`operator`]: the operator's view: every user's runs, and cancelling any with a reason.
//! - [`circuits`]: create, add versions, read.
//! - [`health`]: the stranded-runs report and readiness.
//! - [`dashboard`]: the console's dashboard, a snapshot shared by every viewer.
//! - [`history`]: the dashboard's last hour per minute (endings, queue depth), in memory.
//! - [`limits`]: the per-user submission rate and the queue caps' counts.
//! - [`rules`]: what the rules take from the configuration, read once at start-up.
//!
//! Architecture invariant: dependencies run one way, `app → http → service → store / actors`;
//! nothing here knows warp, JSON shapes or the raw configuration.

pub mod access;
pub mod admission;
pub mod auth;
pub mod circuits;
pub mod credentials;
pub mod dashboard;
pub mod health;
pub mod history;
pub mod jobs;
pub mod limits;
pub mod operator;
pub mod rules;
pub mod runs;

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::actors::RecorderHandle;
use crate::actors::recorder::RecorderError;
use crate::store::{Store, StoreError, WriteError};

pub use crate::actors::StatusChange;
pub use rules::Rules;

/// The rules with everything they need: the store (reads), the Recorder (every lifecycle
/// write), token authentication, the admission limits and the settings in [`Rules`]. One per
/// process, shared by every request.
pub struct Service {
    store: Store,
    recorder: RecorderHandle,
    auth: auth::Authenticator,
    submissions: limits::SubmissionLimiter,
    counts: limits::Counts,
    admission: admission::Admission,
    rules: Rules,
    /// The actor tree's root, for readiness.
    tree: ractor::ActorCell,
    /// The dashboard's latest snapshot.
    dashboard: dashboard::DashboardCache,
    /// The node's last hour, per minute (fed by the actor tree's HistorySampler and the snapshots).
    history: history::SharedHistory,
}

impl Service {
    pub fn new(
        store: Store,
        recorder: RecorderHandle,
        tree: ractor::ActorCell,
        history: history::SharedHistory,
        rules: Rules,
    ) -> Service {
        Service {
            auth: auth::Authenticator::new(store.clone(), rules.token_cache_ttl),
            submissions: limits::SubmissionLimiter::new(
                rules.user_submissions_per_s,
                rules.user_submission_burst,
            ),
            counts: limits::Counts::default(),
            admission: admission::Admission::default(),
            store,
            recorder,
            rules,
            tree,
            dashboard: dashboard::DashboardCache::default(),
            history,
        }
    }

    /// The store (the command line and tests read through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The Recorder (tests drive transitions through it).
    pub fn recorder(&self) -> &RecorderHandle {
        &self.recorder
    }

    /// The settings the rules run with.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Committed status changes of runs, from now on (live views).
    pub fn changes(&self) -> broadcast::Receiver<StatusChange> {
        self.recorder.subscribe()
    }
}

/// Why a request was refused. Each variant is one HTTP status (decided in `http::error`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed or asks for something impossible (400).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The thing does not exist, or the caller may not know it does (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller can see the thing but may not do this to it (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing is not in a state that allows this (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request contradicts an earlier one (422).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A dependency is down for now; try again (503).
    #[error("{0}")]
    Unavailable(String),
    /// The service is at capacity; retry after the given seconds (503).
    #[error("{message}")]
    Overloaded { message: String, retry_after: u64 },
    /// The caller has too much in flight; retry after the given seconds (429).
    #[error("{message}")]
    TooMany {
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    /// A bug or a broken invariant (500); the cause is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        Self::from(Arc::new(err))
    }
}

/// A database failure, perhaps shared by a batch of commands.
impl From<Arc<StoreError>> for ServiceError {
    fn from(err: Arc<StoreError>) -> Self {
        if err.is_transient() {
            tracing::warn!(error = %err, "database unavailable");
            ServiceError::Unavailable("the database is unavailable; try again shortly".into())
        } else {
            ServiceError::Internal(anyhow::Error::new(err))
        }
    }
}

/// A lifecycle command that did not take effect: a guard's refusal is a conflict (or the run
/// is gone), a database failure is as [`StoreError`] says, a missing Recorder is "not now".
impl From<RecorderError> for ServiceError {
    fn from(err: RecorderError) -> Self {
        match err {
            RecorderError::Write(WriteError::Conflict { current, .. }) => ServiceError::Conflict {
                code: "run_terminal",
                message: format!("the run is already {current}"),
            },
            RecorderError::Write(WriteError::NotFound(_)) => ServiceError::NotFound("run"),
            RecorderError::Write(WriteError::Store(err)) => err.into(),
            RecorderError::Unavailable => ServiceError::Unavailable(
                "the service is restarting or shutting down; try again".into(),
            ),
        }
    }
}
