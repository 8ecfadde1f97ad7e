//! Per-shot memory (issue 30, docs/DESIGN.md §2):
//!
//! - `runs.memory`: whether the submission asked for every shot's outcome (`"memory": true`);
//!   set at creation and never changed.
//! - `run_memory`: a completed run's shots, one row per run, apart from `runs` so that no read
//!   of a run row carries them: `memory` is every shot's count key, each `key_width`
//!   characters (register groups and their spaces, exactly as the counts' keys), concatenated
//!   in shot order without separators, so a page of shots is one `substr` on either
//!   database. Its length is checked to be `key_width × shots`. Written in the completion's
//!   transaction; never changed.
//!
//! The same statements on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    Memory,
}

#[derive(DeriveIden)]
enum RunMemory {
    Table,
    RunId,
    KeyWidth,
    Shots,
    Memory,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(
                        ColumnDef::new(Runs::Memory)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RunMemory::Table)
                    .col(
                        ColumnDef::new(RunMemory::RunId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RunMemory::KeyWidth).integer().not_null())
                    .col(ColumnDef::new(RunMemory::Shots).big_integer().not_null())
                    .col(ColumnDef::new(RunMemory::Memory).text().not_null())
                    .check((
                        "run_memory_holds_every_shot".to_owned(),
                        Expr::cust(
                            "key_width >= 0 AND shots > 0 AND length(memory) = key_width * shots",
                        ),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_run_memory_run")
                            .from(RunMemory::Table, RunMemory::RunId)
                            .to(Runs::Table, Runs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }
}
