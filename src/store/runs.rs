//! Reading runs and what their transitions recorded, and any resource's audit rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{analytics_outbox, audit_logs, runs};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::convert::{
    audit_from_db, class_from_db, class_to_db, outbox_from_db, run_from_db, status_from_db,
    status_to_db,
};
use super::{Result, Store};
use crate::domain::{AuditEntry, ErrorClass, OutboxEvent, Run, RunStatus};

impl Store {
    /// One run, if it exists.
    pub async fn run(&self, id: Uuid) -> Result<Option<Run>> {
        runs::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(run_from_db)
            .transpose()
    }

    /// How many runs are in each status (every status present, zeros included).
    pub async fn run_counts(&self) -> Result<BTreeMap<RunStatus, u64>> {
        let rows: Vec<(entity::enums::RunStatus, i64)> = runs::Entity::find()
            .select_only()
            .column(runs::Column::Status)
            .column_as(runs::Column::Id.count(), "n")
            .group_by(runs::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut counts: BTreeMap<RunStatus, u64> =
            RunStatus::ALL.into_iter().map(|s| (s, 0)).collect();
        for (status, n) in rows {
            counts.insert(status_from_db(status), n.max(0) as u64);
        }
        Ok(counts)
    }

    /// A run's audit timeline, oldest first.
    pub async fn audit_timeline(&self, run_id: Uuid) -> Result<Vec<AuditEntry>> {
        self.audit_of("run", run_id).await
    }

    /// The audit rows of one resource (`run`, `token`, `session` or `user`, docs/DESIGN.md
    /// §2), oldest first.
    pub async fn audit_of(
        &self,
        resource_type: &str,
        resource_id: Uuid,
    ) -> Result<Vec<AuditEntry>> {
        Ok(audit_logs::Entity::find()
            .filter(audit_logs::Column::ResourceType.eq(resource_type))
            .filter(audit_logs::Column::ResourceId.eq(resource_id))
            .order_by_asc(audit_logs::Column::CreatedAt)
            .order_by_asc(audit_logs::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(audit_from_db)
            .collect())
    }

    /// A run's analytics events still in the outbox, oldest first.
    pub async fn outbox_for_run(&self, run_id: Uuid) -> Result<Vec<OutboxEvent>> {
        Ok(analytics_outbox::Entity::find()
            .filter(analytics_outbox::Column::RunId.eq(run_id))
            .order_by_asc(analytics_outbox::Column::CreatedAt)
            .order_by_asc(analytics_outbox::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(outbox_from_db)
            .collect())
    }
}

/// Which runs to list, newest first: one user's (the API, the console), or anyone's (the
/// operator's `qrun run list` and `/admin/runs`).
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<RunStatus>,
    pub circuit_id: Option<Uuid>,
    /// `(backend_type, backend_name)`.
    pub backend: Option<(String, String)>,
    /// The node that claimed it last (`claimed_by`).
    pub node: Option<String>,
    pub error_class: Option<ErrorClass>,
    /// Only runs created at or after this time.
    pub created_since: Option<DateTime<Utc>>,
    /// Only runs created strictly before this time.
    pub created_until: Option<DateTime<Utc>>,
    /// Only runs that ended (`completed_at`) at or after this time: the dashboard's "last
    /// hour" counts.
    pub ended_since: Option<DateTime<Utc>>,
    /// Only stranded runs, as [`Store::run_health`] counts them: running, and started before
    /// the first time (the time-to-live's horizon) or holding a lease that expired before the
    /// second (now).
    pub stranded: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Only ids in this inclusive range ([`crate::domain::IdPrefix::range`]): a range of the
    /// primary key, which both databases' indexes serve (SQLite stores ids as 16-byte blobs,
    /// PostgreSQL as `uuid`; both compare them bytewise, which is the order of their hex).
    pub ids: Option<(Uuid, Uuid)>,
    /// Keyset cursor: only runs strictly older than this `(created_at, id)`.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// The statement [`Store::list_runs`] runs for `filter`: its conditions, newest first
/// (`created_at`, then `id`), at most `filter.limit` rows. Public so that a test can ask each
/// database how it plans it (the indexes that serve it: docs/DESIGN.md §15).
pub fn list_runs_query(filter: &RunFilter) -> sea_orm::Select<runs::Entity> {
    let mut query = runs::Entity::find();
    if let Some(user) = filter.user_id {
        query = query.filter(runs::Column::UserId.eq(user));
    }
    if let Some((kind, name)) = &filter.backend {
        query = query
            .filter(runs::Column::BackendType.eq(kind.as_str()))
            .filter(runs::Column::BackendName.eq(name.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(runs::Column::Status.eq(status_to_db(status)));
    }
    if let Some(circuit) = filter.circuit_id {
        query = query.filter(runs::Column::CircuitId.eq(circuit));
    }
    if let Some(node) = &filter.node {
        query = query.filter(runs::Column::ClaimedBy.eq(node.as_str()));
    }
    if let Some(class) = filter.error_class {
        query = query.filter(runs::Column::ErrorClass.eq(class_to_db(class)));
    }
    if let Some(since) = filter.created_since {
        query = query.filter(runs::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.created_until {
        query = query.filter(runs::Column::CreatedAt.lt(until));
    }
    if let Some(since) = filter.ended_since {
        query = query.filter(runs::Column::CompletedAt.gte(since));
    }
    if let Some((ttl_horizon, now)) = filter.stranded {
        query = query.filter(stranded(ttl_horizon, now));
    }
    if let Some((low, high)) = filter.ids {
        query = query.filter(runs::Column::Id.between(low, high));
    }
    if let Some((created, id)) = filter.before {
        query = query.filter(
            Condition::any()
                .add(runs::Column::CreatedAt.lt(created))
                .add(
                    Condition::all()
                        .add(runs::Column::CreatedAt.eq(created))
                        .add(runs::Column::Id.lt(id)),
                ),
        );
    }
    query
        .order_by_desc(runs::Column::CreatedAt)
        .order_by_desc(runs::Column::Id)
        .limit(filter.limit)
}

/// A stranded run: running, and started before `ttl_horizon` or holding a lease that expired
/// before `now` (what the watchdog recovers: `Store::stranded_runs`).
pub(super) fn stranded(ttl_horizon: DateTime<Utc>, now: DateTime<Utc>) -> Condition {
    Condition::all().add(status_filter(RunStatus::Running)).add(
        Condition::any()
            .add(runs::Column::StartedAt.lt(ttl_horizon))
            .add(runs::Column::LeaseExpiresAt.lt(now)),
    )
}

/// Counts and ages behind `/api/health/runs` and the watchdog's gauges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunHealth {
    pub pending: u64,
    pub running: u64,
    /// Running runs past the TTL horizon or past their lease.
    pub stranded: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub oldest_running: Option<DateTime<Utc>>,
}

impl Store {
    /// How many runs are pending (served by the claim index).
    pub async fn count_pending(&self) -> Result<u64> {
        Ok(runs::Entity::find()
            .filter(status_filter(RunStatus::Pending))
            .count(&self.db)
            .await?)
    }

    /// How many runs are pending per backend, as `(type, name, count)`, backends with none
    /// left out. Counts the pending runs (the dashboard's snapshot takes it at most once every
    /// 2 s, whoever asks).
    pub async fn pending_by_backend(&self) -> Result<Vec<(String, String, u64)>> {
        let rows: Vec<(String, String, i64)> = runs::Entity::find()
            .select_only()
            .column(runs::Column::BackendType)
            .column(runs::Column::BackendName)
            .column_as(runs::Column::Id.count(), "pending")
            .filter(status_filter(RunStatus::Pending))
            .group_by(runs::Column::BackendType)
            .group_by(runs::Column::BackendName)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, name, n)| (kind, name, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// How many of `user_id`'s runs are pending or running.
    pub async fn count_active(&self, user_id: Uuid) -> Result<u64> {
        Ok(runs::Entity::find()
            .filter(runs::Column::UserId.eq(user_id))
            .filter(runs::Column::Status.is_in([
                status_to_db(RunStatus::Pending),
                status_to_db(RunStatus::Running),
            ]))
            .count(&self.db)
            .await?)
    }

    /// A page of runs per `filter`, ordered by `(created_at, id)` descending.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        list_runs_query(filter)
            .all(&self.db)
            .await?
            .into_iter()
            .map(run_from_db)
            .collect()
    }

    /// Counts and ages of live runs. `ttl_horizon`: a run started before it is stranded; so is
    /// one whose lease expired before `now`. Every query is served by a partial index.
    pub async fn run_health(
        &self,
        ttl_horizon: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RunHealth> {
        let pending = status_filter(RunStatus::Pending);
        let running = status_filter(RunStatus::Running);
        let count = |query: sea_orm::Select<runs::Entity>| async move {
            query.count(&self.db).await.map_err(super::StoreError::from)
        };
        let stranded = runs::Entity::find().filter(stranded(ttl_horizon, now));
        let oldest = |condition: Condition, column: runs::Column| async move {
            runs::Entity::find()
                .select_only()
                .column(column)
                .filter(condition)
                .order_by_asc(column)
                .into_tuple::<Option<DateTime<Utc>>>()
                .one(&self.db)
                .await
                .map(Option::flatten)
                .map_err(super::StoreError::from)
        };
        Ok(RunHealth {
            pending: count(runs::Entity::find().filter(pending.clone())).await?,
            running: count(runs::Entity::find().filter(running.clone())).await?,
            stranded: count(stranded).await?,
            oldest_pending: oldest(pending, runs::Column::CreatedAt).await?,
            oldest_running: oldest(running, runs::Column::StartedAt).await?,
        })
    }
}

/// How many runs finished (reached `status`) with one framework and error class since some
/// time: one group of [`Store::finished_between`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedCount {
    pub status: RunStatus,
    pub framework: String,
    /// For failed runs.
    pub error_class: Option<ErrorClass>,
    pub runs: u64,
}

impl Store {
    /// The runs that finished at or after `since` (and before `until`, if given), counted by
    /// status, framework and error class: a range scan of `runs_completed_idx`.
    pub async fn finished_between(
        &self,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<FinishedCount>> {
        let rows: Vec<(
            entity::enums::RunStatus,
            String,
            Option<entity::enums::ErrorClass>,
            i64,
        )> = runs::Entity::find()
            .select_only()
            .column(runs::Column::Status)
            .column(runs::Column::Framework)
            .column(runs::Column::ErrorClass)
            .column_as(runs::Column::Id.count(), "n")
            .filter(runs::Column::CompletedAt.gte(since))
            .apply_if(until, |query, until| {
                query.filter(runs::Column::CompletedAt.lt(until))
            })
            .group_by(runs::Column::Status)
            .group_by(runs::Column::Framework)
            .group_by(runs::Column::ErrorClass)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(status, framework, class, n)| FinishedCount {
                status: status_from_db(status),
                framework,
                error_class: class.map(class_from_db),
                runs: n.max(0) as u64,
            })
            .collect())
    }
}

fn status_filter(status: RunStatus) -> Condition {
    Condition::all().add(runs::Column::Status.eq(status_to_db(status)))
}

impl Store {
    /// The newest `limit` runs of a circuit, newest first: a range scan of
    /// `runs_circuit_created_idx (circuit_id, created_at, id)`, never a table scan.
    pub async fn recent_runs_of_circuit(&self, circuit_id: Uuid, limit: u64) -> Result<Vec<Run>> {
        runs::Entity::find()
            .filter(runs::Column::CircuitId.eq(circuit_id))
            .order_by_desc(runs::Column::CreatedAt)
            .order_by_desc(runs::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(run_from_db)
            .collect()
    }
}
