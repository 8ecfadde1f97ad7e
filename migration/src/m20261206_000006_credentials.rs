//! Credentials that can be taken back (issue 28, docs/DESIGN.md §2):
//!
//! - `users.disabled_at`: when an operator disabled the account (`qrun user disable`); `NULL`
//!   for an account in use. A disabled user's every credential is refused.
//! - `sessions`: the console's browser sessions, each its own credential (`POST /login` makes
//!   one from an API token; `POST /logout` revokes it). Like an API token it is stored only as
//!   the SHA-256 of its secret (`secret_hash`); it names the token it was opened with
//!   (`token_id`: revoking that token ends the session too) and expires (`expires_at`, after
//!   `auth.session_ttl_s`).
//!
//! The same statements on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    DisabledAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenId,
    SecretHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::DisabledAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        let foreign = |name: &str, column: Sessions, table: DynIden, id: DynIden| {
            ForeignKey::create()
                .name(name)
                .from(Sessions::Table, column)
                .to(table, id)
                .on_delete(ForeignKeyAction::Restrict)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                    .col(ColumnDef::new(Sessions::TokenId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::SecretHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Sessions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .check((
                        "sessions_expire_after_creation".to_owned(),
                        Expr::cust("expires_at > created_at"),
                    ))
                    .foreign_key(&mut foreign(
                        "fk_sessions_user",
                        Sessions::UserId,
                        Users::Table.into_iden(),
                        Users::Id.into_iden(),
                    ))
                    .foreign_key(&mut foreign(
                        "fk_sessions_token",
                        Sessions::TokenId,
                        ApiTokens::Table.into_iden(),
                        ApiTokens::Id.into_iden(),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX sessions_user_idx ON sessions (user_id)")
            .await?;
        Ok(())
    }
}
