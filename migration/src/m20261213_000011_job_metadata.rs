//! `jobs.metadata`: a JSON object the job's submitter attached to it (`POST /api/jobs`'s
//! `metadata`, at most 64 KiB as compact JSON; the Qiskit client keeps a Sampler's PUB shapes
//! and register layout there), `NULL` when none. Set at creation and never changed. An
//! expansion: a binary that does not know it never reads it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Metadata,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(ColumnDef::new(Jobs::Metadata).json().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::Metadata)
                    .to_owned(),
            )
            .await
    }
}
