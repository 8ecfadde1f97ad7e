//! Accounts and API tokens. A token is shown once, at creation; only its SHA-256 hash is
//! stored. Tokens carry 256 random bits, so a fast hash is the right tool (a password hash's
//! stretching protects low-entropy secrets and would only slow every request).
//!
//! A token is `qrun_` + its row id (32 hex digits, not secret) + the secret (64 hex digits):
//! the row is found by its id, and the stored hash is compared with the presented token's in
//! constant time, so nothing secret is ever compared by the database's index or an early-exit
//! string comparison ("split token").

use entity::{api_tokens, users};
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::convert::user_from_db;
use super::{Result, Store};
use crate::domain::User;

/// Prefix of every qrun token, so a leaked one is recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "qrun_";

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token(id: Uuid) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{TOKEN_PREFIX}{}{}", id.simple(), hex::encode(secret))
}

/// The row id a well-formed token names.
fn token_id(token: &str) -> Option<Uuid> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    if rest.len() != 96 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Uuid::try_parse(&rest[..32]).ok()
}

async fn insert_token(
    db: &impl sea_orm::ConnectionTrait,
    user_id: Uuid,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let token_id = Uuid::now_v7();
    let token = new_token(token_id);
    api_tokens::Entity::insert(api_tokens::ActiveModel {
        id: Set(token_id),
        user_id: Set(user_id),
        token_hash: Set(hash_token(&token)),
        name: Set(name.to_owned()),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

impl Store {
    /// Creates a user and a first token; returns the token (the only time it is visible).
    pub async fn create_user(&self, handle: &str) -> Result<(User, String)> {
        let now = self.clock.now();
        let txn = self.begin_write().await?;
        let user = users::Entity::insert(users::ActiveModel {
            id: Set(Uuid::now_v7()),
            handle: Set(handle.to_owned()),
            created_at: Set(now),
        })
        .exec_with_returning(&txn)
        .await?;
        let token = insert_token(&txn, user.id, "default", now).await?;
        txn.commit().await?;
        Ok((user_from_db(user), token))
    }

    /// Issues another token for `user_id`; returns it (the only time it is visible).
    pub async fn create_token(&self, user_id: Uuid) -> Result<String> {
        insert_token(&self.db, user_id, "cli", self.clock.now()).await
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

    /// The user a token belongs to, unless the token is malformed, unknown or revoked; marks
    /// the token used now (in the background, best effort).
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        let Some(id) = token_id(token) else {
            return Ok(None);
        };
        let Some(row) = api_tokens::Entity::find_by_id(id)
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let presented = hash_token(token);
        if !bool::from(presented.as_bytes().ct_eq(row.token_hash.as_bytes())) {
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
        self.user(row.user_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_row_and_only_well_formed_tokens_do() {
        let id = Uuid::now_v7();
        let token = new_token(id);
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 96);
        assert_eq!(token_id(&token), Some(id));
        assert_ne!(new_token(id), token, "the secret is random");
        for bad in [
            "",
            "qrun_",
            &token[..token.len() - 1],
            &format!("{token}0"),
            &token.replacen("qrun_", "qrum_", 1),
            &format!("qrun_{}", "g".repeat(96)),
        ] {
            assert_eq!(token_id(bad), None, "{bad}");
        }
    }
}
