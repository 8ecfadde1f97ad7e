//! Reading runs and what their transitions recorded.

use std::collections::BTreeMap;

use entity::{analytics_outbox, audit_logs, runs};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::convert::{run_from_db, status_from_db};
use super::{Result, Store};
use crate::domain::{AuditEntry, OutboxEvent, Run, RunStatus};

pub(super) fn audit_from_db(row: audit_logs::Model) -> AuditEntry {
    AuditEntry {
        id: row.id,
        actor_user_id: row.actor_user_id,
        action: row.action,
        resource_id: row.resource_id,
        metadata: row.metadata,
        created_at: row.created_at,
    }
}

pub(super) fn outbox_from_db(row: analytics_outbox::Model) -> OutboxEvent {
    OutboxEvent {
        id: row.id,
        run_id: row.run_id,
        event: row.event,
        distinct_id: row.distinct_id,
        properties: row.properties,
        created_at: row.created_at,
        attempts: row.attempts,
        delivered_at: row.delivered_at,
    }
}

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
        Ok(audit_logs::Entity::find()
            .filter(audit_logs::Column::ResourceType.eq("run"))
            .filter(audit_logs::Column::ResourceId.eq(run_id))
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
