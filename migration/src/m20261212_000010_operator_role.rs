//! The operator role (issue 32, docs/DESIGN.md §2, §15): `users.operator_since`, when `qrun user
//! grant HANDLE operator` made the user an operator; `NULL` for everyone else (and again after
//! `qrun user revoke HANDLE operator`). An operator sees every user's runs in the console
//! (`/admin/runs`) and may cancel any of them. An expansion: a binary that does not know the
//! column never reads it, so nobody is an operator to it.
//!
//! `runs_created_idx` on `runs (created_at, id)`: every user's runs newest first, a page at a
//! time (`/admin/runs`, `qrun run list`), and a time range of them, read in index order rather
//! than sorting the whole table for each page. (A search by id prefix is a range of the
//! primary key.)
//!
//! The same statements on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    OperatorSince,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::OperatorSince)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX runs_created_idx ON runs (created_at, id)")
            .await?;
        Ok(())
    }
}
