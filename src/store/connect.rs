//! Opening the database.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: a transaction is on disk when its commit
//! returns, so a run answered with 201 survives a power loss as well as a process crash
//! (`NORMAL` would survive a process crash but may lose the last commits on power loss). The
//! cost is one fsync per commit, which the Recorder amortises by committing batches.

use std::sync::Arc;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database};

use super::Time;
use super::{Result, Store};
use crate::config::{DatabaseConfig, SchedulingConfig};
use crate::domain::{Clock, SystemClock};

impl Store {
    /// Opens the database (neither checking nor migrating its schema: [`super::schema`]). Judged stamps ([`super::time`]) come from
    /// `clock` when one is given (tests), else from PostgreSQL's clock or, on SQLite, this
    /// machine's.
    pub async fn connect(
        settings: &DatabaseConfig,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Store> {
        let mut options = ConnectOptions::new(settings.url.clone());
        let wait_timeout = settings.wait_timeout();
        options
            .max_connections(settings.max_connections)
            .min_connections(1)
            .connect_timeout(settings.connect_timeout())
            .acquire_timeout(settings.wait_timeout())
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
        // Nodes started together on a fresh SQLite file race to set it up: opening one (WAL
        // mode) can meet SQLITE_BUSY before the busy timeout applies. Retried within the same
        // patience as any wait for the database.
        let sqlite = settings.url.starts_with("sqlite:");
        let started = std::time::Instant::now();
        let db = loop {
            match Database::connect(options.clone()).await {
                Err(err)
                    if sqlite
                        && started.elapsed() < wait_timeout
                        && super::StoreError::from(err.clone()).is_transient() =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                opened => break opened?,
            }
        };
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
            scheduling: Default::default(),
        })
    }

    /// This store with claims made under `scheduling` (fair share, the per-user cap; by default
    /// neither weights nor a cap).
    pub fn with_scheduling(mut self, scheduling: SchedulingConfig) -> Store {
        self.scheduling = Arc::new(scheduling);
        self
    }
}
