//! Jobs (issue 30, docs/DESIGN.md §2): a batch of runs submitted together (`POST /api/jobs`),
//! a record of its own.
//!
//! - `jobs`: `id` (v7), `user_id` (who submitted it), `idempotency_key` (unique per user, as
//!   a run's), `created_at`.
//! - `job_tags`: a job's tags, one row each (`GET /api/jobs?tag=…` reads its index), replaced
//!   as a whole by `PUT /api/jobs/{id}/tags`.
//! - `job_runs`: the job's runs in submission order (`position` from 0) with each one's
//!   `name` (Qiskit's `circuit.name`); a run belongs to at most one job.
//!
//! The same statements on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    UserId,
    IdempotencyKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum JobTags {
    Table,
    JobId,
    Tag,
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    JobId,
    Position,
    RunId,
    Name,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(ColumnDef::new(Jobs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Jobs::UserId).uuid().not_null())
                    .col(ColumnDef::new(Jobs::IdempotencyKey).string_len(255).null())
                    .col(
                        ColumnDef::new(Jobs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_jobs_user")
                            .from(Jobs::Table, Jobs::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobTags::Table)
                    .col(ColumnDef::new(JobTags::JobId).uuid().not_null())
                    .col(ColumnDef::new(JobTags::Tag).string_len(255).not_null())
                    .primary_key(Index::create().col(JobTags::JobId).col(JobTags::Tag))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_job_tags_job")
                            .from(JobTags::Table, JobTags::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobRuns::Table)
                    .col(ColumnDef::new(JobRuns::JobId).uuid().not_null())
                    .col(ColumnDef::new(JobRuns::Position).integer().not_null())
                    .col(
                        ColumnDef::new(JobRuns::RunId)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(JobRuns::Name).string_len(255).null())
                    .primary_key(Index::create().col(JobRuns::JobId).col(JobRuns::Position))
                    .check((
                        "job_runs_position_from_zero".to_owned(),
                        Expr::cust("position >= 0"),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_job_runs_job")
                            .from(JobRuns::Table, JobRuns::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_job_runs_run")
                            .from(JobRuns::Table, JobRuns::RunId)
                            .to(Runs::Table, Runs::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for index in [
            "CREATE UNIQUE INDEX jobs_user_idempotency_idx ON jobs (user_id, idempotency_key)",
            "CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at, id)",
            "CREATE INDEX job_tags_tag_idx ON job_tags (tag, job_id)",
        ] {
            db.execute_unprepared(index).await?;
        }
        Ok(())
    }
}
