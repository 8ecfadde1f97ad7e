//! Terminal is forever, in the database too: a trigger refuses any update that changes a
//! terminal run's status, timestamps, results or error fields, so even a buggy code path
//! cannot rewrite history. (Bookkeeping columns — the analytics pruning mark — stay
//! writable.) The same rule in each dialect: a PL/pgSQL function on PostgreSQL, a
//! `RAISE(ABORT)` trigger on SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The message both databases give.
pub const REFUSAL: &str = "terminal runs are immutable";

const GUARDED: [&str; 8] = [
    "status",
    "results",
    "error_class",
    "error_message",
    "error_stage",
    "started_at",
    "completed_at",
    "shots",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let terminal = "('completed','failed','cancelled')";
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                let changed = GUARDED
                    .iter()
                    .map(|c| format!("NEW.{c} IS DISTINCT FROM OLD.{c}"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION runs_terminal_immutable() RETURNS trigger AS $$
                     BEGIN
                       IF OLD.status IN {terminal} AND ({changed}) THEN
                         RAISE EXCEPTION '{REFUSAL}: run %', OLD.id USING ERRCODE = 'check_violation';
                       END IF;
                       RETURN NEW;
                     END $$ LANGUAGE plpgsql"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER runs_terminal_immutable BEFORE UPDATE ON runs \
                     FOR EACH ROW EXECUTE FUNCTION runs_terminal_immutable()",
                )
                .await?;
            }
            _ => {
                let changed = GUARDED
                    .iter()
                    .map(|c| format!("NEW.{c} IS NOT OLD.{c}"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER runs_terminal_immutable BEFORE UPDATE ON runs \
                     WHEN OLD.status IN {terminal} AND ({changed}) \
                     BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                ))
                .await?;
            }
        }
        Ok(())
    }
}
