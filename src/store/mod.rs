//! Storage: the only module that knows sea-orm (and the `entity` / `migration` crates).
//!
//! - [`connect`]: opening the database (SQLite pragmas, pool sizes).
//! - [`schema`]: where the schema stands for this binary (`qrun migrate --status`), and
//!   migrating it on purpose.
//! - [`lifecycle`]: the only code that writes `runs.status`: creation and every edge of the
//!   lifecycle, each as one transaction holding the guarded compare-and-set on the run row,
//!   its audit row and (with consent) its analytics outbox row.
//! - [`records`]: what those audit rows and analytics events contain.
//! - [`convert`]: entity rows ⇄ domain types.
//! - [`runs`], [`users`], [`sessions`], [`circuits`]: reads; accounts and API tokens; browser
//!   sessions; circuits and versions.
//! - [`jobs`]: jobs (batches of runs): reads, listings, tags.
//! - [`memory`]: a run's per-shot memory, a page at a time.
//! - [`verify`]: the invariant checker behind `qrun verify`.
//! - [`notify`]: `NOTIFY`/`LISTEN` wake-ups between nodes on PostgreSQL.
//! - [`time`]: whose clock a judged timestamp is read from (the database's, on PostgreSQL).

pub mod circuits;
pub mod connect;
mod convert;
pub mod jobs;
pub mod lifecycle;
pub mod memory;
pub mod notify;
pub mod outbox;
mod pool;
pub mod queues;
mod records;
pub mod runs;
pub mod schema;
pub mod sessions;
pub mod time;
pub mod users;
pub mod verify;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, RuntimeErr, SqlErr};

use uuid::Uuid;

use crate::cache::Immutable;
use crate::config::SchedulingConfig;
use crate::domain::{CircuitVersion, Clock};

pub use lifecycle::{
    Applied, BatchOutcome, Canceller, Change, ClaimOrder, Claimed, Command, FailCause, JobApplied,
    WriteError,
};
pub use outbox::OutboxBatch;
pub use pool::PoolStats;
pub use time::Time;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// This binary cannot work with the schema it found.
    #[error(transparent)]
    Schema(#[from] schema::Mismatch),
}

impl StoreError {
    /// Whether the database is unreachable or unable to work for now — down or restarting,
    /// its connections killed, the pool exhausted, the file locked past the busy timeout, the
    /// disk full — as opposed to a problem with what was asked. Retrying later may succeed;
    /// callers answer 503 with Retry-After, or retry.
    pub fn is_transient(&self) -> bool {
        let StoreError::Database(err) = self else {
            return false;
        };
        let runtime = match err {
            DbErr::ConnectionAcquire(_) => return true,
            DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
            _ => return false,
        };
        let RuntimeErr::SqlxError(err) = runtime else {
            return false;
        };
        match err.as_ref() {
            sea_orm::sqlx::Error::Io(_)
            | sea_orm::sqlx::Error::Tls(_)
            | sea_orm::sqlx::Error::PoolTimedOut
            | sea_orm::sqlx::Error::PoolClosed
            | sea_orm::sqlx::Error::WorkerCrashed
            | sea_orm::sqlx::Error::Protocol(_) => true,
            sea_orm::sqlx::Error::Database(db) => {
                db.code().is_some_and(|code| transient_code(&code))
            }
            _ => false,
        }
    }

    /// Whether the database rolled the transaction back only because of another one running
    /// at the same time — a deadlock (PostgreSQL `40P01`: two batches locking the same runs in
    /// different orders) or a serialization failure (`40001`) — so the same transaction,
    /// begun again at once, is expected to succeed (PostgreSQL's advice for both).
    pub fn is_concurrency_conflict(&self) -> bool {
        let StoreError::Database(err) = self else {
            return false;
        };
        let (DbErr::Exec(runtime) | DbErr::Query(runtime) | DbErr::Conn(runtime)) = err else {
            return false;
        };
        let RuntimeErr::SqlxError(err) = runtime else {
            return false;
        };
        match err.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|code| code == "40P01" || code == "40001"),
            _ => false,
        }
    }

    /// The name of the unique constraint this error violated, if it is such a violation.
    pub fn unique_violation(&self) -> Option<String> {
        match self {
            StoreError::Database(err) => match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(detail)) => Some(detail),
                _ => None,
            },
            StoreError::Corrupt(_) | StoreError::Schema(_) => None,
        }
    }
}

/// Database error codes that mean "not now" rather than "not this".
fn transient_code(code: &str) -> bool {
    // PostgreSQL SQLSTATEs: class 08 (connection exception), 53 (insufficient resources:
    // disk full, out of memory, too many connections), 57P01-57P05 (the server shutting down,
    // restarting, or terminating this backend), 40001/40P01 (serialization failure,
    // deadlock: retry the transaction).
    if code.len() == 5 {
        return code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P")
            || code == "40001"
            || code == "40P01";
    }
    // SQLite result codes (extended codes keep the primary one in the low byte): BUSY,
    // LOCKED, NOMEM, IOERR, FULL, CANTOPEN.
    code.parse::<u32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 10 | 13 | 14))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// This process's clock: stamps no other node judges (circuits, a token's last use).
    clock: Arc<dyn Clock>,
    /// The clock of judged stamps (run lifecycle, leases, analytics delivery).
    time: Time,
    caches: Arc<Caches>,
    /// How claims share the executors among users ([`lifecycle`]'s claim).
    scheduling: Arc<SchedulingConfig>,
}

/// Rows that never change, kept (see [`crate::cache`]).
struct Caches {
    /// Users' handles by id (a circuit's owner).
    handles: Immutable<Uuid, String>,
    /// Circuits' ids by `(owner handle, name)`; a circuit's row (its visibility changes) is
    /// read every time.
    circuit_names: Immutable<(String, String), Uuid>,
    versions: Immutable<(Uuid, i32), CircuitVersion>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            handles: Immutable::new(100_000, |_| 1),
            circuit_names: Immutable::new(100_000, |_| 1),
            versions: Immutable::new(64 << 20, |v| v.source.len().max(1)),
        }
    }
}

impl Store {
    /// This process's clock (for what no other node judges).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Now in the clock of judged stamps ([`time`]): the database's on PostgreSQL.
    pub async fn now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        self.time.now(&self.db).await
    }

    /// Whether this is PostgreSQL (many nodes may share it).
    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == sea_orm::DbBackend::Postgres
    }

    /// A listener for the wake-ups other nodes send ([`notify`]), on PostgreSQL; `None` on
    /// SQLite (one node: its wake-ups stay in the process).
    pub fn listener(&self) -> Option<notify::Listener> {
        self.is_postgres()
            .then(|| notify::Listener::new(self.db.get_postgres_connection_pool().clone()))
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), waiting up to the busy timeout for it: a deferred transaction that
    /// reads first could not upgrade to a writer once another connection had committed, and
    /// would fail with `SQLITE_BUSY` at once instead of waiting. PostgreSQL ignores the mode.
    async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
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
