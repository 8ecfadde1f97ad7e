//! The analytics outbox beyond transitions: recording a run page's view, and delivery —
//! claiming due events (held for a while so no other node sends them meanwhile: `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL), recording the answer (delivered, retry later, parked for
//! good), pruning delivered events after a retention period, and erasing a user's events on
//! request.

use chrono::TimeDelta;
use entity::analytics_outbox::{self, Column};
use entity::runs;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};
use uuid::Uuid;

use super::convert::status_to_db;
use super::records::view_event;
use super::runs::outbox_from_db;
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

    /// Claims up to `limit` due events (undelivered, not parked, `next_attempt_at <= now`,
    /// now in the database's clock: [`super::time`]), oldest due first: counts the attempt
    /// and holds them for `hold`, when they are due again should this node die mid-send
    /// (at-least-once). The due ids are read and locked first, then updated, in one
    /// transaction (as `Store::claim` does, for the same reason: a locking subquery with a
    /// LIMIT inside the UPDATE may take more than `limit`).
    pub async fn claim_outbox(&self, limit: u64, hold: TimeDelta) -> Result<Vec<OutboxEvent>> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let due: Vec<Uuid> = analytics_outbox::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::ParkedAt.is_null())
            .filter(Column::NextAttemptAt.lte(now))
            .order_by_asc(Column::NextAttemptAt)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple()
            .all(&txn)
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed = analytics_outbox::Entity::update_many()
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::NextAttemptAt, Expr::val(now + hold))
            .filter(Column::Id.is_in(due))
            .filter(Column::DeliveredAt.is_null())
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        claimed.sort_by_key(|e| (e.created_at, e.id));
        Ok(claimed.into_iter().map(outbox_from_db).collect())
    }

    /// Marks events delivered, now.
    pub async fn mark_delivered(&self, ids: &[Uuid]) -> Result<()> {
        self.update_events(
            ids,
            vec![
                (Column::DeliveredAt, self.time.now_plus(TimeDelta::zero())),
                (Column::LastError, Expr::val(None::<String>)),
            ],
        )
        .await
    }

    /// Makes events due again `after` from now, remembering why they failed.
    pub async fn reschedule(&self, ids: &[Uuid], after: TimeDelta, error: &str) -> Result<()> {
        self.update_events(
            ids,
            vec![
                (Column::NextAttemptAt, self.time.now_plus(after)),
                (Column::LastError, Expr::val(error)),
            ],
        )
        .await
    }

    /// Sets events aside for good (the sink refused them); they stay for inspection.
    pub async fn park(&self, ids: &[Uuid], error: &str) -> Result<()> {
        self.update_events(
            ids,
            vec![
                (Column::ParkedAt, self.time.now_plus(TimeDelta::zero())),
                (Column::LastError, Expr::val(error)),
            ],
        )
        .await
    }

    /// Sets `values` on the events `ids`; times are expressions of the statement
    /// ([`super::time::Time::now_plus`]).
    async fn update_events(&self, ids: &[Uuid], values: Vec<(Column, Expr)>) -> Result<()> {
        let mut update = analytics_outbox::Entity::update_many();
        for (column, value) in values {
            update = update.col_expr(column, value);
        }
        update
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(&self.db)
            .await?;
        Ok(())
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
