//! Whose clock a timestamp is read from (docs/DESIGN.md §14).
//!
//! Every time another node judges — `created_at` against a claim, `started_at` against the
//! watchdog's time-to-live, `lease_expires_at`, an analytics event's `next_attempt_at` — is
//! written and compared in the database's clock on PostgreSQL: the transaction's `now()`, the
//! same value every statement of the transaction sees, or `statement_timestamp()` inside the
//! one statement that writes it. A node's own clock may be minutes off (a node 10 minutes
//! ahead once failed live runs of a healthy node as "stranded"); the database's is the one
//! clock every node shares. On SQLite the database is a file of this process, so its clock is
//! this machine's. Tests inject a [`Clock`] (a `ManualClock`) and move time by hand.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Result, StoreError};
use crate::domain::Clock;

/// Where judged timestamps come from.
#[derive(Clone)]
pub enum Time {
    /// PostgreSQL's `now()`.
    Database,
    /// A clock of this process: the wall clock on SQLite, an injected one in tests.
    Clock(Arc<dyn Clock>),
}

impl Time {
    /// Now, as `conn` sees it: inside a transaction, the transaction's timestamp (PostgreSQL's
    /// `now()` is fixed when the transaction starts), so a transaction's rows share one time.
    pub async fn now(&self, conn: &impl ConnectionTrait) -> Result<DateTime<Utc>> {
        match self {
            Time::Clock(clock) => Ok(clock.now()),
            Time::Database => {
                let row = conn
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT now() AS now",
                    ))
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("SELECT now() returned no row".into()))?;
                Ok(row.try_get::<DateTime<Utc>>("", "now")?)
            }
        }
    }

    /// Now plus `delta`, as an expression of the statement that writes it:
    /// `statement_timestamp() + interval` on PostgreSQL (evaluated by the database when the
    /// statement starts — inside a long transaction, such as a delivery's that stays open while
    /// the sink answers, later than `now()`, the transaction's start), a value otherwise.
    pub fn now_plus(&self, delta: TimeDelta) -> Expr {
        match self {
            Time::Clock(clock) => Expr::val(clock.now() + delta),
            Time::Database => Expr::cust(format!(
                "statement_timestamp() + interval '{} microseconds'",
                delta.num_microseconds().unwrap_or(i64::MAX)
            )),
        }
    }
}
