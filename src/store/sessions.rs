//! Browser sessions (docs/DESIGN.md §15): the console's sign-in makes one from an API token and
//! keeps only its secret in the browser's cookie; logging out revokes it. Stored as API tokens
//! are (the SHA-256 of `qrun_s_` + id + 256 random bits, found by the id and compared in
//! constant time, [`super::users`]); each creation and revocation commits with its audit row.
//!
//! A session is live while it is not revoked, has not expired, the token it was opened with is
//! not revoked and its user is not disabled. Its expiry is judged in the one clock every node
//! shares ([`super::time`]: PostgreSQL's on PostgreSQL).

use chrono::TimeDelta;
use entity::{api_tokens, sessions};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, json};
use uuid::Uuid;

use super::convert::{new_session_to_db, session_from_db, user_from_db};
use super::records::credential_audit;
use super::users::{audit, hash_matches, hash_token, new_secret};
use super::{Result, Store};
use crate::domain::{
    Caller, ChangedBy, Credential, CredentialChange, CredentialKind, Session, User,
};

impl Store {
    /// Signs in with the API token `token`, read afresh (never from a cache): a session of its
    /// user lasting `ttl`, with its `session.created` audit row (`"by": "user"`, the token's id
    /// and the expiry), in one transaction. The user, the session and its secret (the only
    /// time it is visible); `None` if the token is not live or its user is disabled.
    pub async fn create_session(
        &self,
        token: &str,
        ttl: TimeDelta,
    ) -> Result<Option<(User, Session, String)>> {
        let Some(token_id) = CredentialKind::Token.id_of(token) else {
            return Ok(None);
        };
        let txn = self.begin_write().await?;
        let Some(row) = api_tokens::Entity::find_by_id(token_id)
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        if !hash_matches(token, &row.token_hash) {
            return Ok(None);
        }
        let Some(user) = entity::users::Entity::find_by_id(row.user_id)
            .one(&txn)
            .await?
            .map(user_from_db)
            .filter(|user| user.disabled_at.is_none())
        else {
            return Ok(None);
        };
        let now = self.time.now(&txn).await?;
        let session = Session {
            id: Uuid::now_v7(),
            user_id: user.id,
            token_id,
            created_at: now,
            expires_at: now + ttl,
            revoked_at: None,
        };
        let secret = new_secret(CredentialKind::Session, session.id);
        sessions::Entity::insert(new_session_to_db(&session, hash_token(&secret)))
            .exec_without_returning(&txn)
            .await?;
        api_tokens::Entity::update_many()
            .set(api_tokens::ActiveModel {
                last_used_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(api_tokens::Column::Id.eq(token_id))
            .exec(&txn)
            .await?;
        let details = Map::from_iter([
            ("token_id".to_owned(), json!(token_id)),
            ("expires_at".to_owned(), json!(session.expires_at)),
        ]);
        audit(
            &txn,
            credential_audit(
                CredentialChange::SessionCreated,
                session.id,
                user.id,
                ChangedBy::User,
                details,
                now,
            ),
        )
        .await?;
        txn.commit().await?;
        Ok(Some((user, session, secret)))
    }

    /// Who presents the session `secret`, and how long it has left (in the shared clock), if
    /// it is live (see the module's docs); `None` for a malformed, unknown, revoked or expired
    /// one, one whose token was revoked, or one whose user is disabled.
    pub async fn caller_by_session(&self, secret: &str) -> Result<Option<(Caller, TimeDelta)>> {
        let Some(id) = CredentialKind::Session.id_of(secret) else {
            return Ok(None);
        };
        let Some(row) = sessions::Entity::find_by_id(id)
            .filter(sessions::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if !hash_matches(secret, &row.secret_hash) {
            return Ok(None);
        }
        let session = session_from_db(row);
        let left = session.expires_at - self.now().await?;
        if left <= TimeDelta::zero() {
            return Ok(None);
        }
        let token_live = api_tokens::Entity::find_by_id(session.token_id)
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .is_some();
        if !token_live {
            return Ok(None);
        }
        Ok(self
            .user(session.user_id)
            .await?
            .filter(|user| user.disabled_at.is_none())
            .map(|user| {
                let caller = Caller {
                    user,
                    credential: Credential::Session {
                        id: session.id,
                        token_id: session.token_id,
                        expires_at: session.expires_at,
                    },
                };
                (caller, left)
            }))
    }

    /// Revokes the session `secret` names (logging out), with its `session.revoked` audit row
    /// saying `by`, in one transaction. The session as it was, if this revoked it; `None` for a
    /// malformed, unknown or already revoked one (nothing written). An expired session is
    /// revoked all the same: the browser asked to end it.
    pub async fn revoke_session(&self, secret: &str, by: ChangedBy) -> Result<Option<Session>> {
        let Some(id) = CredentialKind::Session.id_of(secret) else {
            return Ok(None);
        };
        let txn = self.begin_write().await?;
        let Some(row) = sessions::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(None);
        };
        if !hash_matches(secret, &row.secret_hash) {
            return Ok(None);
        }
        let now = self.time.now(&txn).await?;
        let updated = sessions::Entity::update_many()
            .set(sessions::ActiveModel {
                revoked_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(sessions::Column::Id.eq(id))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if updated == 0 {
            return Ok(None);
        }
        let session = session_from_db(row);
        audit(
            &txn,
            credential_audit(
                CredentialChange::SessionRevoked,
                session.id,
                session.user_id,
                by,
                Map::new(),
                now,
            ),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(session))
    }

    /// One session, if it exists (its secret is never stored).
    pub async fn session(&self, id: Uuid) -> Result<Option<Session>> {
        Ok(sessions::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(session_from_db))
    }
}
