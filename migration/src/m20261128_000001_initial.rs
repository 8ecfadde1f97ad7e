//! The initial schema of docs/DESIGN.md §2.
//!
//! Invariants live in the schema where both databases can hold them: CHECK constraints on the
//! run row (status values, terminal ⇔ `completed_at`, results only on completed, error fields
//! only on failed, `started_at` exactly when the run has started) and a unique idempotency key
//! per user. Hot queries get partial indexes (`WHERE status = …`), which SQLite and PostgreSQL
//! both understand with the same text.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATUSES: &str = "'pending','running','completed','failed','cancelled'";
const TERMINAL: &str = "'completed','failed','cancelled'";
const ERROR_CLASSES: &str = "'validation_error','resource_limit','timeout','backend_error','storage_error','internal_error'";
const STAGES: &str = "'prepare','execute','store','recovery'";

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Handle,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    Name,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Circuits {
    Table,
    Id,
    OwnerId,
    Name,
    Visibility,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CircuitVersions {
    Table,
    CircuitId,
    Version,
    Source,
    Manifest,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    UserId,
    CircuitId,
    CircuitVersion,
    Status,
    BackendType,
    BackendName,
    Framework,
    Shots,
    Results,
    ErrorClass,
    ErrorMessage,
    ErrorStage,
    AnalyticsConsent,
    CreatedAt,
    StartedAt,
    CompletedAt,
    ClaimedBy,
    LeaseExpiresAt,
    IdempotencyKey,
    OutboxPrunedAt,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    ActorUserId,
    Action,
    ResourceType,
    ResourceId,
    Metadata,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AnalyticsOutbox {
    Table,
    Id,
    RunId,
    Event,
    DistinctId,
    Properties,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    DeliveredAt,
    LastError,
    ParkedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn check(name: &str, sql: String) -> (String, Expr) {
    (name.to_owned(), Expr::cust(sql))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Users::Handle)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Users::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(
                        ColumnDef::new(ApiTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ApiTokens::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(ApiTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ApiTokens::Name).string_len(128).not_null())
                    .col(
                        ColumnDef::new(ApiTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::LastUsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ApiTokens::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(&mut fk(
                        "fk_api_tokens_user",
                        (ApiTokens::Table, ApiTokens::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Circuits::Table)
                    .col(ColumnDef::new(Circuits::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Circuits::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Circuits::Name).string_len(128).not_null())
                    .col(
                        ColumnDef::new(Circuits::Visibility)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Circuits::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .check(check(
                        "circuits_visibility_valid",
                        "visibility IN ('public','private')".into(),
                    ))
                    .foreign_key(&mut fk(
                        "fk_circuits_owner",
                        (Circuits::Table, Circuits::OwnerId),
                        (Users::Table, Users::Id),
                    ))
                    .index(
                        Index::create()
                            .name("circuits_owner_name_key")
                            .unique()
                            .col(Circuits::OwnerId)
                            .col(Circuits::Name),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CircuitVersions::Table)
                    .col(ColumnDef::new(CircuitVersions::CircuitId).uuid().not_null())
                    .col(
                        ColumnDef::new(CircuitVersions::Version)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CircuitVersions::Source).text().not_null())
                    .col(
                        ColumnDef::new(CircuitVersions::Manifest)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CircuitVersions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(CircuitVersions::CircuitId)
                            .col(CircuitVersions::Version),
                    )
                    .check(check(
                        "circuit_versions_version_positive",
                        "version > 0".into(),
                    ))
                    .foreign_key(&mut fk(
                        "fk_circuit_versions_circuit",
                        (CircuitVersions::Table, CircuitVersions::CircuitId),
                        (Circuits::Table, Circuits::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .col(ColumnDef::new(Runs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Runs::UserId).uuid().not_null())
                    .col(ColumnDef::new(Runs::CircuitId).uuid().not_null())
                    .col(ColumnDef::new(Runs::CircuitVersion).integer().not_null())
                    .col(ColumnDef::new(Runs::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Runs::BackendType).string_len(64).not_null())
                    .col(ColumnDef::new(Runs::BackendName).string_len(64).not_null())
                    .col(ColumnDef::new(Runs::Framework).string_len(64).not_null())
                    .col(ColumnDef::new(Runs::Shots).big_integer().not_null())
                    .col(ColumnDef::new(Runs::Results).json_binary().null())
                    .col(ColumnDef::new(Runs::ErrorClass).string_len(32).null())
                    .col(ColumnDef::new(Runs::ErrorMessage).text().null())
                    .col(ColumnDef::new(Runs::ErrorStage).string_len(16).null())
                    .col(ColumnDef::new(Runs::AnalyticsConsent).boolean().null())
                    .col(ColumnDef::new(Runs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Runs::StartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Runs::CompletedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Runs::ClaimedBy).string_len(128).null())
                    .col(ColumnDef::new(Runs::LeaseExpiresAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Runs::IdempotencyKey).string_len(255).null())
                    .col(ColumnDef::new(Runs::OutboxPrunedAt).timestamp_with_time_zone().null())
                    .check(check("runs_status_valid", format!("status IN ({STATUSES})")))
                    .check(check("runs_shots_positive", "shots > 0".into()))
                    .check(check(
                        "runs_terminal_has_completed_at",
                        format!(
                            "(status IN ({TERMINAL}) AND completed_at IS NOT NULL) \
                             OR (status NOT IN ({TERMINAL}) AND completed_at IS NULL)"
                        ),
                    ))
                    .check(check(
                        "runs_started_at_once_started",
                        "(status = 'pending' AND started_at IS NULL) \
                         OR (status IN ('running','completed','failed') AND started_at IS NOT NULL) \
                         OR status = 'cancelled'"
                            .into(),
                    ))
                    .check(check(
                        "runs_results_only_completed",
                        "(status = 'completed' AND results IS NOT NULL) \
                         OR (status <> 'completed' AND results IS NULL)"
                            .into(),
                    ))
                    .check(check(
                        "runs_error_only_failed",
                        format!(
                            "(status = 'failed' AND error_class IN ({ERROR_CLASSES}) \
                               AND error_stage IN ({STAGES}) AND error_message IS NOT NULL) \
                             OR (status <> 'failed' AND error_class IS NULL \
                               AND error_stage IS NULL AND error_message IS NULL)"
                        ),
                    ))
                    .foreign_key(&mut fk(
                        "fk_runs_user",
                        (Runs::Table, Runs::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(
                        &mut fk(
                            "fk_runs_circuit_version",
                            (Runs::Table, Runs::CircuitId),
                            (CircuitVersions::Table, CircuitVersions::CircuitId),
                        )
                        .from_col(Runs::CircuitVersion)
                        .to_col(CircuitVersions::Version)
                        .to_owned(),
                    )
                    .index(
                        Index::create()
                            .name("runs_user_idempotency_key")
                            .unique()
                            .col(Runs::UserId)
                            .col(Runs::IdempotencyKey),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(
                        ColumnDef::new(AuditLogs::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditLogs::ActorUserId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogs::Action).string_len(32).not_null())
                    .col(
                        ColumnDef::new(AuditLogs::ResourceType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogs::ResourceId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogs::Metadata).json_binary().not_null())
                    .col(
                        ColumnDef::new(AuditLogs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AnalyticsOutbox::Table)
                    .col(
                        ColumnDef::new(AnalyticsOutbox::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AnalyticsOutbox::RunId).uuid().not_null())
                    .col(
                        ColumnDef::new(AnalyticsOutbox::Event)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AnalyticsOutbox::DistinctId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AnalyticsOutbox::Properties)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AnalyticsOutbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AnalyticsOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AnalyticsOutbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AnalyticsOutbox::DeliveredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(AnalyticsOutbox::LastError).text().null())
                    .col(
                        ColumnDef::new(AnalyticsOutbox::ParkedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;

        // Indexes for the hot queries; partial where the predicate is fixed.
        let db = manager.get_connection();
        for sql in [
            // claim: oldest pending first
            "CREATE INDEX runs_pending_idx ON runs (created_at) WHERE status = 'pending'",
            // watchdog: running past the TTL, or past the lease
            "CREATE INDEX runs_running_started_idx ON runs (started_at) WHERE status = 'running'",
            "CREATE INDEX runs_running_lease_idx ON runs (lease_expires_at) WHERE status = 'running'",
            // admission: a user's active runs
            "CREATE INDEX runs_user_active_idx ON runs (user_id) \
             WHERE status IN ('pending','running')",
            // listing: a user's runs, newest first
            "CREATE INDEX runs_user_created_idx ON runs (user_id, created_at, id)",
            // a circuit's runs (run page index)
            "CREATE INDEX runs_circuit_created_idx ON runs (circuit_id, created_at, id)",
            // audit timeline of one run
            "CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id, created_at)",
            // outbox: undelivered, due first
            "CREATE INDEX analytics_outbox_due_idx ON analytics_outbox (next_attempt_at) \
             WHERE delivered_at IS NULL AND parked_at IS NULL",
            "CREATE INDEX analytics_outbox_run_idx ON analytics_outbox (run_id)",
            "CREATE INDEX api_tokens_user_idx ON api_tokens (user_id)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
