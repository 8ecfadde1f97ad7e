//! The service's rules, independent of HTTP: who may see and do what, and how a request
//! becomes lifecycle commands. The HTTP layer parses, calls these, and shapes the answer.
//!
//! - [`access`]: visibility of circuits and runs, and of the submitter's identity.
//! - [`auth`]: bearer tokens to users, with a short-lived cache.
//! - [`runs`]: submit, read, list, cancel, audit.
//! - [`circuits`]: create, add versions, read.
//! - [`health`]: the stranded-runs report.
//! - [`limits`]: the per-user submission rate.

pub mod access;
pub mod auth;
pub mod circuits;
pub mod health;
pub mod limits;
pub mod runs;

use std::sync::Arc;

use crate::actors::recorder::RecorderUnavailable;
use crate::store::StoreError;

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

impl From<RecorderUnavailable> for ServiceError {
    fn from(_: RecorderUnavailable) -> Self {
        ServiceError::Unavailable("the service is restarting or shutting down; try again".into())
    }
}
