//! The analytics outbox beyond transitions: recording a run page's view, and delivery —
//! taking due events (on PostgreSQL locked `FOR UPDATE SKIP LOCKED` while they are sent, so
//! no other node sends them meanwhile), recording the answer (delivered, retry later, parked
//! for good), pruning delivered events after a retention period, and erasing a user's events on
//! request.

use chrono::TimeDelta;
use entity::analytics_outbox::{self, Column};
use entity::runs;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait, TryInsertResult,
};
use uuid::Uuid;

use super::convert::{outbox_from_db, status_to_db};
use super::records::view_event;
use super::{Result, Store};
use crate::domain::{OutboxEvent, RUN_VIEWED, Run, RunStatus};

/// Most runs one pruning pass handles.
const PRUNE_BATCH: u64 = 1000;

impl Store {
    /// Records that a browser `session` whose visitor consented viewed `run`'s page
    /// ([`RUN_VIEWED`]; `viewer` is the signed-in user, if any): one outbox row per (run,
    /// session), its id derived from both ([`super::records::view_event_id`]), so viewing
    /// again in the same session inserts nothing. Whether a row was inserted. The caller
    /// decides consent; nothing here checks it.
    pub async fn record_run_view(
        &self,
        run: &Run,
        session: Uuid,
        viewer: Option<Uuid>,
    ) -> Result<bool> {
        let row = view_event(run, session, viewer, self.now().await?);
        let inserted = analytics_outbox::Entity::insert(row)
            .on_conflict_do_nothing_on([Column::Id])
            .exec_without_returning(&self.db)
            .await?;
        Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
    }

    /// Takes up to `limit` due events (undelivered, not parked, `next_attempt_at <= now`, now
    /// in the database's clock: [`super::time`]), oldest due first, for one delivery. On
    /// PostgreSQL they are read `FOR UPDATE SKIP LOCKED` in a transaction the batch keeps
    /// open until [`OutboxBatch::finish`]: another node's dispatcher skips them while they are
    /// sent, and should this node die mid-send its connection's end releases them, due at
    /// once (at-least-once; each event's uuid lets the receiver deduplicate). Nothing is
    /// written to take them. On SQLite (one node) they are only read, and each verdict is its
    /// own short write, so no write lock is held while the sink answers.
    pub async fn take_outbox(&self, limit: u64) -> Result<OutboxBatch<'_>> {
        let txn = if self.is_postgres() {
            Some(self.db.begin().await?)
        } else {
            None
        };
        let now = match &txn {
            Some(txn) => self.time.now(txn).await?,
            None => self.now().await?,
        };
        let mut due = analytics_outbox::Entity::find()
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::ParkedAt.is_null())
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_asc(Column::NextAttemptAt)
            .limit(limit);
        let rows = match &txn {
            Some(txn) => {
                due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
                due.all(txn).await?
            }
            None => due.all(&self.db).await?,
        };
        let mut events: Vec<OutboxEvent> = rows.into_iter().map(outbox_from_db).collect();
        events.sort_by_key(|e| (e.created_at, e.id));
        Ok(OutboxBatch {
            store: self,
            txn,
            events,
        })
    }

    /// Events waiting for delivery (not delivered, not parked).
    pub async fn outbox_depth(&self) -> Result<u64> {
        Ok(analytics_outbox::Entity::find()
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::ParkedAt.is_null())
            .count(&self.db)
            .await?)
    }

    /// Deletes the lifecycle events of terminal runs all of whose lifecycle events were
    /// delivered more than `retention` ago, marking those runs pruned (so `qrun verify` knows
    /// why they have none). A run still live, or with an event not yet delivered or parked,
    /// keeps all its events. View events ([`RUN_VIEWED`]) are no run's record: each is deleted
    /// on its own once delivered more than `retention` ago. How many runs were pruned.
    pub async fn prune_outbox(&self, retention: TimeDelta) -> Result<u64> {
        let now = self.now().await?;
        let delivered_before = now - retention;
        analytics_outbox::Entity::delete_many()
            .filter(Column::Event.eq(RUN_VIEWED))
            .filter(Column::DeliveredAt.lt(delivered_before))
            .exec(&self.db)
            .await?;
        let terminal = [
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .map(status_to_db);
        let candidates: Vec<Uuid> = analytics_outbox::Entity::find()
            .select_only()
            .column(Column::RunId)
            .filter(Column::Event.ne(RUN_VIEWED))
            .filter(
                Column::RunId.in_subquery(
                    Query::select()
                        .column(runs::Column::Id)
                        .from(runs::Entity)
                        .and_where(runs::Column::Status.is_in(terminal))
                        .and_where(runs::Column::OutboxPrunedAt.is_null())
                        .to_owned(),
                ),
            )
            .group_by(Column::RunId)
            .having(Expr::cust("COUNT(*) = COUNT(delivered_at)"))
            .having(Expr::expr(Func::max(Expr::col(Column::DeliveredAt))).lt(delivered_before))
            .limit(PRUNE_BATCH)
            .into_tuple()
            .all(&self.db)
            .await?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write().await?;
        analytics_outbox::Entity::delete_many()
            .filter(Column::RunId.is_in(candidates.iter().copied()))
            .filter(Column::Event.ne(RUN_VIEWED))
            .exec(&txn)
            .await?;
        runs::Entity::update_many()
            .set(runs::ActiveModel {
                outbox_pruned_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(runs::Column::Id.is_in(candidates.iter().copied()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(candidates.len() as u64)
    }

    /// Erasure (GDPR Art. 17) of a user's analytics here: stops capture for their live runs,
    /// deletes every event of theirs still in the outbox (delivered ones are the sink's to
    /// erase) and marks their runs pruned. How many undelivered events were deleted.
    pub async fn forget_analytics(&self, user_id: Uuid) -> Result<u64> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let live = [RunStatus::Pending, RunStatus::Running].map(status_to_db);
        runs::Entity::update_many()
            .set(runs::ActiveModel {
                analytics_consent: Set(Some(false)),
                ..Default::default()
            })
            .filter(runs::Column::UserId.eq(user_id))
            .filter(runs::Column::Status.is_in(live))
            .filter(runs::Column::AnalyticsConsent.eq(true))
            .exec(&txn)
            .await?;
        let distinct_id = user_id.to_string();
        let undelivered = analytics_outbox::Entity::delete_many()
            .filter(Column::DistinctId.eq(distinct_id.clone()))
            .filter(Column::DeliveredAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        analytics_outbox::Entity::delete_many()
            .filter(Column::DistinctId.eq(distinct_id))
            .exec(&txn)
            .await?;
        runs::Entity::update_many()
            .set(runs::ActiveModel {
                outbox_pruned_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(runs::Column::UserId.eq(user_id))
            .filter(runs::Column::AnalyticsConsent.eq(true))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(undelivered)
    }
}

/// Due events taken for one delivery ([`Store::take_outbox`]) and the verdicts recorded for
/// them. Each verdict counts an attempt. On PostgreSQL the verdicts join the transaction that
/// locked the events, committed by [`OutboxBatch::finish`]; dropped unfinished, it rolls back
/// and the events are due again at once.
pub struct OutboxBatch<'a> {
    store: &'a Store,
    txn: Option<DatabaseTransaction>,
    events: Vec<OutboxEvent>,
}

impl OutboxBatch<'_> {
    /// The events, oldest first.
    pub fn events(&self) -> &[OutboxEvent] {
        &self.events
    }

    /// Marks events delivered, now.
    pub async fn delivered(&self, ids: &[Uuid]) -> Result<()> {
        let now = self.store.time.now_plus(TimeDelta::zero());
        self.record(
            ids,
            vec![
                (Column::DeliveredAt, now),
                (Column::LastError, Expr::val(None::<String>)),
            ],
        )
        .await
    }

    /// Makes events due again `after` from now, remembering why they failed.
    pub async fn reschedule(&self, ids: &[Uuid], after: TimeDelta, error: &str) -> Result<()> {
        let due = self.store.time.now_plus(after);
        self.record(
            ids,
            vec![
                (Column::NextAttemptAt, due),
                (Column::LastError, Expr::val(error)),
            ],
        )
        .await
    }

    /// Sets events aside for good (the sink refused them); they stay for inspection.
    pub async fn park(&self, ids: &[Uuid], error: &str) -> Result<()> {
        let now = self.store.time.now_plus(TimeDelta::zero());
        self.record(
            ids,
            vec![
                (Column::ParkedAt, now),
                (Column::LastError, Expr::val(error)),
            ],
        )
        .await
    }

    /// Commits the verdicts (PostgreSQL; on SQLite each was its own write).
    pub async fn finish(self) -> Result<()> {
        if let Some(txn) = self.txn {
            txn.commit().await?;
        }
        Ok(())
    }

    /// Sets `values` on the events `ids` and counts the attempt; times are expressions of
    /// the statement ([`super::time::Time::now_plus`]).
    async fn record(&self, ids: &[Uuid], values: Vec<(Column, Expr)>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut update = analytics_outbox::Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1));
        for (column, value) in values {
            update = update.col_expr(column, value);
        }
        let update = update.filter(Column::Id.is_in(ids.iter().copied()));
        match &self.txn {
            Some(txn) => update.exec(txn).await?,
            None => update.exec(&self.store.db).await?,
        };
        Ok(())
    }
}
