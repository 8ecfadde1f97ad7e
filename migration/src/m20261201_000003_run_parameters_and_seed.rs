//! `runs.parameters`: the values a run binds to its circuit's OpenQASM 3 `input` declarations
//! (or a Python circuit's free parameters), `{"theta": 0.5}`; `NULL` when it binds none.
//! `runs.seed`: the seed of the run's sampling (the same seed, circuit and shots give the same
//! counts); `NULL` for a fresh one each time. Both set at creation and never changed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Parameters,
    Seed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(ColumnDef::new(Runs::Parameters).json().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(ColumnDef::new(Runs::Seed).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .drop_column(Runs::Parameters)
                    .drop_column(Runs::Seed)
                    .to_owned(),
            )
            .await
    }
}
