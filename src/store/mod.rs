//! Storage: the only module that knows sea-orm (and the `entity` / `migration` crates).
//!
//! - [`connect`]: opening the database (SQLite pragmas, pool sizes) and migrating it.
//! - [`lifecycle`]: the only code that writes `runs.status`: creation and every edge of the
//!   lifecycle, each as one transaction holding the guarded compare-and-set on the run row,
//!   its audit row and (with consent) its analytics outbox row.
//! - [`records`]: what those audit rows and analytics events contain.
//! - [`convert`]: entity rows ⇄ domain types.
//! - [`runs`], [`users`], [`circuits`]: reads, accounts and tokens, circuits and versions.
//! - [`verify`]: the invariant checker behind `qrun verify`.

pub mod circuits;
pub mod connect;
mod convert;
pub mod lifecycle;
pub mod outbox;
mod records;
pub mod runs;
pub mod users;
pub mod verify;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, SqlErr};

use crate::domain::Clock;

pub use lifecycle::{Applied, Change, Command, FailCause, Rejection};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The name of the unique constraint this error violated, if it is such a violation.
    pub fn unique_violation(&self) -> Option<String> {
        match self {
            StoreError::Database(err) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(detail)) => Some(detail),
                _ => None,
            },
            StoreError::Corrupt(_) => None,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl Store {
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// Runs a statement as given. For tests and tools that must reach past the model, e.g. to
    /// plant a violation or break a table on purpose.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        use sea_orm::ConnectionTrait;
        Ok(self.db.execute_unprepared(sql).await?.rows_affected())
    }
}
