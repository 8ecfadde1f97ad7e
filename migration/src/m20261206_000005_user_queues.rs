//! Fair-share claiming (docs/DESIGN.md §10): each user's queue — how many of their runs are
//! pending and how many running — kept beside the runs by the lifecycle's writer
//! (`src/store/lifecycle.rs`, in the transaction of every status change), so a claim picks
//! among the users with work waiting (one row each) instead of scanning every pending run, and
//! reads a user's running count from the row it locks. `last_claimed_at` breaks ties between
//! users as a round robin. Backfilled from the runs; `qrun verify` checks the counts. (No CHECK
//! on them: a change is an upsert of deltas, and PostgreSQL checks the proposed row — a
//! negative delta — before it finds the conflict.)
//!
//! A user's pending runs oldest first get a partial index of their own: the claim takes the
//! head of each chosen user's queue.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveIden)]
enum UserQueues {
    Table,
    UserId,
    Pending,
    Running,
    LastClaimedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserQueues::Table)
                    .col(
                        ColumnDef::new(UserQueues::UserId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(UserQueues::Pending)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(UserQueues::Running)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(UserQueues::LastClaimedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserQueues::Table, UserQueues::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // The users with work waiting, fewest running first, then served longest ago (the
        // claim's first step, read in this order): SQLite sorts NULLs first already, and
        // takes no NULLS clause in an index.
        let nulls_first = match manager.get_database_backend() {
            DatabaseBackend::Postgres => " NULLS FIRST",
            _ => "",
        };
        db.execute_unprepared(&format!(
            "CREATE INDEX user_queues_waiting_idx ON user_queues \
             (running, last_claimed_at{nulls_first}, user_id) WHERE pending > 0"
        ))
        .await?;
        for sql in [
            "INSERT INTO user_queues (user_id, pending, running) \
             SELECT user_id, \
                    SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), \
                    SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) \
             FROM runs WHERE status IN ('pending', 'running') GROUP BY user_id",
            // a user's pending runs, oldest first (the head of each chosen queue)
            "CREATE INDEX runs_user_pending_idx ON runs (user_id, created_at) \
             WHERE status = 'pending'",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
