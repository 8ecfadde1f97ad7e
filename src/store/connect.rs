//! Opening the database.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: a transaction is on disk when its commit
//! returns, so a run answered with 201 survives a power loss as well as a process crash
//! (`NORMAL` would survive a process crash but may lose the last commits on power loss). The
//! cost is one fsync per commit, which the Recorder amortises by committing batches.

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database};

use super::Time;
use super::{Result, Store};
use crate::domain::{Clock, SystemClock};

/// The key of the PostgreSQL advisory lock that serialises migrations across nodes:
/// `'qrun'` as a big-endian integer, arbitrary but fixed.
pub const MIGRATION_LOCK: i64 = 0x7172_756e;

/// How to open the database.
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    /// `sqlite://PATH?mode=rwc` or `postgres://…`
    pub url: String,
    pub max_connections: u32,
    /// Time at start-up to reach the database.
    pub connect_timeout: Duration,
    /// Time a statement waits for a pooled connection, and on SQLite for the write lock.
    pub wait_timeout: Duration,
}

impl Store {
    /// Opens the database (not migrating it). Judged stamps ([`super::time`]) come from
    /// `clock` when one is given (tests), else from PostgreSQL's clock or, on SQLite, this
    /// machine's.
    pub async fn connect(
        settings: &ConnectSettings,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Store> {
        let mut options = ConnectOptions::new(settings.url.clone());
        let wait_timeout = settings.wait_timeout;
        options
            .max_connections(settings.max_connections)
            .min_connections(1)
            .connect_timeout(settings.connect_timeout)
            .acquire_timeout(settings.wait_timeout)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(move |opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(wait_timeout)
            })
            // PostgreSQL's NOTICEs ("relation … already exists, skipping" at every start) are
            // no news to an operator: only warnings and errors reach the log.
            .map_sqlx_postgres_opts(|opts| opts.options([("client_min_messages", "warning")]));
        let db = Database::connect(options).await?;
        let (clock, time) = match clock {
            Some(clock) => (clock.clone(), Time::Clock(clock)),
            None => {
                let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                let time = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
                    Time::Database
                } else {
                    Time::Clock(clock.clone())
                };
                (clock, time)
            }
        };
        Ok(Store {
            db,
            clock,
            time,
            caches: Default::default(),
        })
    }

    /// Applies pending migrations. On PostgreSQL, under a session-level advisory lock
    /// ([`MIGRATION_LOCK`]) held on a connection of its own: nodes starting together on a fresh
    /// database migrate one after the other (the second finds nothing left to do) instead of
    /// racing to create the same tables. On SQLite, in one write transaction, which a second
    /// process waits for (at the busy timeout).
    pub async fn migrate(&self) -> Result<()> {
        if !self.is_postgres() {
            // One write transaction (`BEGIN IMMEDIATE`) for them all: another process waits
            // for it (up to the busy timeout), then finds nothing left to do.
            let txn = self.begin_write().await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await?;
            return Ok(());
        }
        use sea_orm::sqlx::query;
        let conn_err = |e: sea_orm::sqlx::Error| {
            sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()))
        };
        let mut lock = self
            .db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(conn_err)?;
        query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *lock)
            .await
            .map_err(conn_err)?;
        let migrated = Migrator::up(&self.db, None).await;
        // Should the unlock fail, the connection is closed instead of going back to the pool:
        // the lock ends with its session.
        if query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *lock)
            .await
            .is_err()
        {
            lock.close_on_drop();
        }
        Ok(migrated?)
    }
}
