//! The connection pool's state, for the `qrun_database_pool_*` gauges (docs/DESIGN.md §8).

use sea_orm::sqlx;

use super::Store;

/// Connections of this process's pool at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open, in use or idle.
    pub open: u32,
    /// Open connections waiting in the pool for a caller.
    pub idle: u32,
    /// The most the pool opens (`database.max_connections`).
    pub max: u32,
}

impl PoolStats {
    /// Open connections a caller holds now.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

impl Store {
    /// The pool's connections now.
    pub fn pool_stats(&self) -> PoolStats {
        if self.is_postgres() {
            stats(self.db.get_postgres_connection_pool())
        } else {
            stats(self.db.get_sqlite_connection_pool())
        }
    }
}

fn stats<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolStats {
    PoolStats {
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}
