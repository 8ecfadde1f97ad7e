//! Jobs (`jobs`, `job_tags`, `job_runs`, docs/DESIGN.md §2): reading them, listing one's own,
//! replacing their tags. A job and its runs are created by the lifecycle
//! ([`super::lifecycle`], in one transaction with the runs' `run.requested` rows); nothing
//! here writes a run.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{job_runs, job_tags, jobs, runs};
use sea_orm::sea_query::{Condition, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::convert::run_from_db;
use super::records::insert_all;
use super::{Result, Store, StoreError};
use crate::domain::job::JobMetadata;
use crate::domain::{Job, JobRun, JobSummary};

impl Store {
    /// One job with its runs in submission order, if it exists.
    pub async fn job(&self, id: Uuid) -> Result<Option<Job>> {
        load_job(&self.db, id).await
    }

    /// The job run `run_id` was submitted in, with the run's name there, if it was submitted
    /// in one.
    pub async fn job_of_run(&self, run_id: Uuid) -> Result<Option<(Uuid, Option<String>)>> {
        Ok(job_runs::Entity::find()
            .filter(job_runs::Column::RunId.eq(run_id))
            .one(&self.db)
            .await?
            .map(|member| (member.job_id, member.name)))
    }

    /// `user_id`'s jobs, newest first: those tagged `tag` if given, created before `before`
    /// (`(created_at, id)` of the previous page's last), at most `limit`.
    pub async fn jobs_of(
        &self,
        user_id: Uuid,
        tag: Option<&str>,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> Result<Vec<JobSummary>> {
        let mut query = jobs::Entity::find().filter(jobs::Column::UserId.eq(user_id));
        if let Some(tag) = tag {
            query = query.filter(
                jobs::Column::Id.in_subquery(
                    Query::select()
                        .column(job_tags::Column::JobId)
                        .from(job_tags::Entity)
                        .and_where(job_tags::Column::Tag.eq(tag))
                        .to_owned(),
                ),
            );
        }
        if let Some((at, id)) = before {
            query = query.filter(
                Condition::any().add(jobs::Column::CreatedAt.lt(at)).add(
                    Condition::all()
                        .add(jobs::Column::CreatedAt.eq(at))
                        .add(jobs::Column::Id.lt(id)),
                ),
            );
        }
        let rows = query
            .order_by_desc(jobs::Column::CreatedAt)
            .order_by_desc(jobs::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|j| j.id).collect();
        let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
        for row in job_tags::Entity::find()
            .filter(job_tags::Column::JobId.is_in(ids.clone()))
            .order_by_asc(job_tags::Column::Tag)
            .all(&self.db)
            .await?
        {
            tags.entry(row.job_id).or_default().push(row.tag);
        }
        let counts: Vec<(Uuid, i64)> = job_runs::Entity::find()
            .select_only()
            .column(job_runs::Column::JobId)
            .column_as(job_runs::Column::RunId.count(), "n")
            .filter(job_runs::Column::JobId.is_in(ids))
            .group_by(job_runs::Column::JobId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let counts: HashMap<Uuid, i64> = counts.into_iter().collect();
        Ok(rows
            .into_iter()
            .map(|row| JobSummary {
                tags: tags.remove(&row.id).unwrap_or_default(),
                runs: counts.get(&row.id).copied().unwrap_or(0).max(0) as u64,
                id: row.id,
                created_at: row.created_at,
            })
            .collect())
    }

    /// Replaces job `id`'s tags with `tags` (sorted, distinct) in one transaction.
    pub async fn set_job_tags(&self, id: Uuid, tags: &[String]) -> Result<()> {
        let txn = self.db.begin().await?;
        job_tags::Entity::delete_many()
            .filter(job_tags::Column::JobId.eq(id))
            .exec(&txn)
            .await?;
        insert_all(&txn, tag_rows(id, tags)).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The `job_tags` rows of job `id`.
pub(super) fn tag_rows(id: Uuid, tags: &[String]) -> Vec<job_tags::ActiveModel> {
    tags.iter()
        .map(|tag| job_tags::ActiveModel {
            job_id: Set(id),
            tag: Set(tag.clone()),
        })
        .collect()
}

/// A job's `metadata` column: `NULL` when it has none.
pub(super) fn metadata_to_db(metadata: &JobMetadata) -> Option<serde_json::Value> {
    (!metadata.is_empty()).then(|| serde_json::Value::Object(metadata.clone()))
}

/// Job `id`'s `metadata` column read back (`NULL`: none).
fn metadata_from_db(id: Uuid, column: Option<serde_json::Value>) -> Result<JobMetadata> {
    match column {
        None => Ok(JobMetadata::new()),
        Some(serde_json::Value::Object(map)) => Ok(map),
        Some(other) => Err(StoreError::Corrupt(format!(
            "job {id}: metadata is not an object: {other}"
        ))),
    }
}

/// Job `id` as `db` (a connection or the creating transaction) has it.
pub(super) async fn load_job(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Job>> {
    let Some(row) = jobs::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let tags = job_tags::Entity::find()
        .filter(job_tags::Column::JobId.eq(id))
        .order_by_asc(job_tags::Column::Tag)
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect();
    let members = job_runs::Entity::find()
        .filter(job_runs::Column::JobId.eq(id))
        .order_by_asc(job_runs::Column::Position)
        .all(db)
        .await?;
    let mut by_id: HashMap<Uuid, runs::Model> = runs::Entity::find()
        .filter(runs::Column::Id.is_in(members.iter().map(|m| m.run_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let runs = members
        .into_iter()
        .map(|member| {
            let row = by_id.remove(&member.run_id).ok_or_else(|| {
                StoreError::Corrupt(format!("job {id}: run {} is missing", member.run_id))
            })?;
            Ok(JobRun {
                name: member.name,
                run: run_from_db(row)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Some(Job {
        id,
        user_id: row.user_id,
        tags,
        created_at: row.created_at,
        metadata: metadata_from_db(id, row.metadata)?,
        runs,
    }))
}
