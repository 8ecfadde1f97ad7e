//! Accounts and API tokens: users (created, disabled, enabled, granted and revoked roles) and
//! their tokens (issued, listed, revoked, looked up). Every change commits with its audit row
//! (docs/DESIGN.md §2); browser sessions are [`super::sessions`].
//!
//! A token is shown once, at creation; only its SHA-256 hash is stored. Tokens carry 256 random
//! bits, so a fast hash is the right tool (a password hash's stretching protects low-entropy
//! secrets and would only slow every request).
//!
//! A token is `qrun_` + its row id (32 hex digits, not secret) + the secret (64 hex digits):
//! the row is found by its id, and the stored hash is compared with the presented token's in
//! constant time, so nothing secret is ever compared by the database's index or an early-exit
//! string comparison ("split token"). Sessions are made the same way, with their own prefix
//! ([`CredentialKind`]).

use entity::{api_tokens, audit_logs, users};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Map, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::convert::{new_token_to_db, new_user_to_db, token_from_db, user_from_db};
use super::lifecycle::WriteError;
use super::records::credential_audit;
use super::runs::RunFilter;
use super::{Canceller, Change, Command, Result, Store, StoreError};
use crate::domain::{
    ApiToken, Caller, ChangedBy, Credential, CredentialChange, CredentialKind, Role, RunStatus,
    User,
};

/// Prefix of every qrun token, so a leaked one is recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "qrun_";

/// The stored form of a credential (an API token or a session secret): its SHA-256, in hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new credential of `kind` for the row `id`: the prefix, the id, 256 random bits.
pub(super) fn new_secret(kind: CredentialKind, id: Uuid) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{}{}{}", kind.prefix(), id.simple(), hex::encode(secret))
}

/// Whether `presented` hashes to `stored`, compared in constant time.
pub(super) fn hash_matches(presented: &str, stored: &str) -> bool {
    bool::from(hash_token(presented).as_bytes().ct_eq(stored.as_bytes()))
}

/// What revoking a token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// It was live and is revoked now (with its audit row).
    Now(ApiToken),
    /// It was revoked before: nothing changed.
    Already(ApiToken),
    /// No such token (of that owner).
    NotFound,
}

/// Inserts a token for `user_id` named `name`, with its `token.created` audit row (`by`), in
/// `db`'s transaction; the token as listed and its text (the only time it is visible).
async fn insert_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    name: &str,
    by: ChangedBy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(ApiToken, String)> {
    let token = ApiToken {
        id: Uuid::now_v7(),
        user_id,
        name: name.to_owned(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let text = new_secret(CredentialKind::Token, token.id);
    api_tokens::Entity::insert(new_token_to_db(&token, hash_token(&text)))
        .exec_without_returning(db)
        .await?;
    let details = Map::from_iter([("name".to_owned(), json!(name))]);
    audit(
        db,
        credential_audit(
            CredentialChange::TokenCreated,
            token.id,
            user_id,
            by,
            details,
            now,
        ),
    )
    .await?;
    Ok((token, text))
}

/// Inserts one audit row.
pub(super) async fn audit(db: &impl ConnectionTrait, row: audit_logs::ActiveModel) -> Result<()> {
    audit_logs::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

impl Store {
    /// Creates a user and a first token named `default` (an operator's doing, audited as
    /// `token.created`); returns the token (the only time it is visible).
    pub async fn create_user(&self, handle: &str) -> Result<(User, String)> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let user = User {
            id: Uuid::now_v7(),
            handle: handle.to_owned(),
            created_at: now,
            disabled_at: None,
            operator_since: None,
        };
        users::Entity::insert(new_user_to_db(&user))
            .exec_without_returning(&txn)
            .await?;
        let (_, token) = insert_token(&txn, user.id, "default", ChangedBy::Operator, now).await?;
        txn.commit().await?;
        Ok((user, token))
    }

    /// Issues another token named `name` for `user_id` (an operator's doing, audited as
    /// `token.created`); the token as listed and its text (the only time it is visible).
    pub async fn create_token(&self, user_id: Uuid, name: &str) -> Result<(ApiToken, String)> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let created = insert_token(&txn, user_id, name, ChangedBy::Operator, now).await?;
        txn.commit().await?;
        Ok(created)
    }

    pub async fn user_by_handle(&self, handle: &str) -> Result<Option<User>> {
        Ok(users::Entity::find()
            .filter(users::Column::Handle.eq(handle))
            .one(&self.db)
            .await?
            .map(user_from_db))
    }

    pub async fn user(&self, id: Uuid) -> Result<Option<User>> {
        Ok(users::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(user_from_db))
    }

    /// A user's tokens, revoked ones included, newest first; never a secret.
    pub async fn tokens_of(&self, user_id: Uuid) -> Result<Vec<ApiToken>> {
        Ok(api_tokens::Entity::find()
            .filter(api_tokens::Column::UserId.eq(user_id))
            .order_by_desc(api_tokens::Column::CreatedAt)
            .order_by_desc(api_tokens::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(token_from_db)
            .collect())
    }

    /// One token, if it exists.
    pub async fn token(&self, id: Uuid) -> Result<Option<ApiToken>> {
        Ok(api_tokens::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(token_from_db))
    }

    /// Revokes token `id` — only if it is `owner`'s, when an owner is given (another user's
    /// token is [`Revoked::NotFound`]) — with its `token.revoked` audit row saying `by`, in
    /// one transaction. A token revoked before is left as it is (no second row). The sessions
    /// opened with it end with it ([`Store::caller_by_session`] checks the token).
    pub async fn revoke_token(
        &self,
        id: Uuid,
        owner: Option<Uuid>,
        by: ChangedBy,
    ) -> Result<Revoked> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        let mut find = api_tokens::Entity::find_by_id(id);
        if let Some(owner) = owner {
            find = find.filter(api_tokens::Column::UserId.eq(owner));
        }
        let Some(row) = find.one(&txn).await? else {
            return Ok(Revoked::NotFound);
        };
        // Guarded: of two revocations at once, one writes (PostgreSQL re-checks the condition
        // after waiting for the other's row lock; SQLite has one writer).
        let updated = api_tokens::Entity::update_many()
            .set(api_tokens::ActiveModel {
                revoked_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(api_tokens::Column::Id.eq(id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if updated == 0 {
            let current = api_tokens::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .map(token_from_db);
            return Ok(current.map_or(Revoked::NotFound, Revoked::Already));
        }
        let mut token = token_from_db(row);
        token.revoked_at = Some(now);
        let details = Map::from_iter([("name".to_owned(), json!(token.name))]);
        audit(
            &txn,
            credential_audit(
                CredentialChange::TokenRevoked,
                id,
                token.user_id,
                by,
                details,
                now,
            ),
        )
        .await?;
        txn.commit().await?;
        Ok(Revoked::Now(token))
    }

    /// Who presents `token`: its user and the token, unless the token is malformed, unknown
    /// or revoked or its user disabled. Marks the token used now (in the background, best
    /// effort).
    pub async fn caller_by_token(&self, token: &str) -> Result<Option<Caller>> {
        let Some(id) = CredentialKind::Token.id_of(token) else {
            return Ok(None);
        };
        let Some(row) = api_tokens::Entity::find_by_id(id)
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if !hash_matches(token, &row.token_hash) {
            return Ok(None);
        }
        // Bookkeeping, off the request's path: a burst of first requests must not queue on
        // the write lock (or fail with it) to read who is calling.
        let touch = api_tokens::Entity::update_many()
            .set(api_tokens::ActiveModel {
                last_used_at: Set(Some(self.clock.now())),
                ..Default::default()
            })
            .filter(api_tokens::Column::Id.eq(row.id));
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(err) = touch.exec(&db).await {
                tracing::debug!(error = %err, "recording a token's last use failed");
            }
        });
        Ok(self
            .user(row.user_id)
            .await?
            .filter(|user| user.disabled_at.is_none())
            .map(|user| Caller {
                user,
                credential: Credential::Token {
                    id: row.id,
                    name: row.name,
                },
            }))
    }

    /// The user `token` authenticates ([`Store::caller_by_token`]).
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        Ok(self.caller_by_token(token).await?.map(|caller| caller.user))
    }

    /// Disables (`disabled = true`) or enables user `user_id`, with its `user.disabled` or
    /// `user.enabled` audit row (`"by": "operator"`), in one transaction. `None` for no such
    /// user; `Some(false)` when it already was so (nothing written).
    pub async fn set_disabled(&self, user_id: Uuid, disabled: bool) -> Result<Option<bool>> {
        let change = if disabled {
            CredentialChange::UserDisabled
        } else {
            CredentialChange::UserEnabled
        };
        self.stamp_user(
            user_id,
            users::Column::DisabledAt,
            disabled,
            change,
            Map::new(),
        )
        .await
    }

    /// Grants (`granted = true`) or revokes `role` of user `user_id`, with its
    /// `user.role_granted` or `user.role_revoked` audit row (`"by": "operator"`, `"role"`), in
    /// one transaction. `None` for no such user; `Some(false)` when the user already held it
    /// (or did not) — nothing written.
    pub async fn set_role(&self, user_id: Uuid, role: Role, granted: bool) -> Result<Option<bool>> {
        let column = match role {
            Role::Operator => users::Column::OperatorSince,
        };
        let change = if granted {
            CredentialChange::RoleGranted
        } else {
            CredentialChange::RoleRevoked
        };
        let details = Map::from_iter([("role".to_owned(), json!(role.as_str()))]);
        self.stamp_user(user_id, column, granted, change, details)
            .await
    }

    /// Sets the user's timestamp `column` to now (`on`) or clears it, guarded on its being
    /// the other way, with `change`'s audit row (`"by": "operator"` and `details`) in the same
    /// transaction. `None` for no such user; `Some(false)` when nothing changed.
    async fn stamp_user(
        &self,
        user_id: Uuid,
        column: users::Column,
        on: bool,
        change: CredentialChange,
        details: Map<String, serde_json::Value>,
    ) -> Result<Option<bool>> {
        let txn = self.begin_write().await?;
        let now = self.time.now(&txn).await?;
        // Guarded: of two changes at once, one writes.
        let updated = users::Entity::update_many()
            .col_expr(column, Expr::value(on.then_some(now)))
            .filter(users::Column::Id.eq(user_id))
            .filter(if on {
                column.is_null()
            } else {
                column.is_not_null()
            })
            .exec(&txn)
            .await?
            .rows_affected;
        if updated == 0 {
            let exists = users::Entity::find_by_id(user_id).one(&txn).await?;
            return Ok(exists.map(|_| false));
        }
        audit(
            &txn,
            credential_audit(change, user_id, user_id, ChangedBy::Operator, details, now),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(true))
    }

    /// Cancels every pending run of `user_id` as an operator would (`qrun run cancel`: the
    /// lifecycle's guarded cancel, each with its `run.cancelled` audit row saying `"by":
    /// "operator"` and, with consent, its event), a page of [`CANCEL_PAGE`] runs per
    /// transaction. How many it cancelled; a run claimed meanwhile is left to run.
    pub async fn cancel_pending_runs_of(&self, user_id: Uuid) -> Result<u64> {
        let mut cancelled = 0;
        loop {
            let pending = self
                .list_runs(&RunFilter {
                    user_id: Some(user_id),
                    status: Some(RunStatus::Pending),
                    limit: CANCEL_PAGE,
                    ..Default::default()
                })
                .await?;
            if pending.is_empty() {
                return Ok(cancelled);
            }
            let commands: Vec<Command> = pending
                .iter()
                .map(|run| Command::Transition {
                    run_id: run.id,
                    change: Change::Cancel {
                        by: Canceller::Operator,
                    },
                })
                .collect();
            let mut moved = 0;
            for outcome in self.apply(&commands).await {
                match outcome {
                    Ok(_) => moved += 1,
                    // Claimed or ended since the page was read: no longer pending.
                    Err(WriteError::Store(err)) => {
                        return Err(StoreError::Database(sea_orm::DbErr::Custom(
                            err.to_string(),
                        )));
                    }
                    Err(_refused) => {}
                }
            }
            cancelled += moved;
            if moved == 0 && pending.len() < CANCEL_PAGE as usize {
                return Ok(cancelled);
            }
        }
    }
}

/// Runs [`Store::cancel_pending_runs_of`] cancels per transaction.
pub const CANCEL_PAGE: u64 = 500;
