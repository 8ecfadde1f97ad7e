//! The console's dashboard counts the last hour's finished runs by status, framework and error
//! class (`Store::finished_since`): a partial index on `completed_at` makes that a range scan
//! of the hour's rows instead of a scan of every run ever. The same statement on both
//! databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX runs_completed_idx ON runs (completed_at) \
                 WHERE completed_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }
}
