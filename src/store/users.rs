//! Accounts and API tokens. A token is shown once, at creation; only its SHA-256 hash is
//! stored. Tokens carry 256 random bits, so a fast hash is the right tool (a password hash's
//! stretching protects low-entropy secrets and would only slow every request).

use entity::{api_tokens, users};
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Result, Store};
use crate::domain::User;

/// Prefix of every qrun token, so a leaked one is recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "qrun_";

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

fn user_from_db(row: users::Model) -> User {
    User {
        id: row.id,
        handle: row.handle,
        created_at: row.created_at,
    }
}

impl Store {
    /// Creates a user and a first token; returns the token (the only time it is visible).
    pub async fn create_user(&self, handle: &str) -> Result<(User, String)> {
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let user = users::Entity::insert(users::ActiveModel {
            id: Set(Uuid::now_v7()),
            handle: Set(handle.to_owned()),
            created_at: Set(now),
        })
        .exec_with_returning(&txn)
        .await?;
        let token = new_token();
        api_tokens::Entity::insert(api_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.id),
            token_hash: Set(hash_token(&token)),
            name: Set("default".to_owned()),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok((user_from_db(user), token))
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

    /// The user a token belongs to, unless the token is unknown or revoked.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        self.user_by_token_hash(&hash_token(token)).await
    }

    /// As [`Store::user_by_token`], given the token's hash; marks the token used now.
    pub async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>> {
        let Some(row) = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(token_hash))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        api_tokens::Entity::update_many()
            .set(api_tokens::ActiveModel {
                last_used_at: Set(Some(self.clock.now())),
                ..Default::default()
            })
            .filter(api_tokens::Column::Id.eq(row.id))
            .exec(&self.db)
            .await?;
        self.user(row.user_id).await
    }
}
