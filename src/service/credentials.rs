//! Credentials as requests use them (docs/DESIGN.md §6, §15): who presents a credential, a
//! user's own API tokens and revoking one, and the console's sign-in and sign-out, which make
//! and revoke a browser session. A revocation made here is forgotten by this node's cache at
//! once ([`super::auth`]); the issuing and disabling of accounts is the operator's command line.

use uuid::Uuid;

use super::{Service, ServiceError};
use crate::domain::{ApiToken, Caller, ChangedBy, CredentialKind, User};
use crate::store::users::Revoked;

impl Service {
    /// Who presents `text` as a credential of `kind`: `None` for a malformed, unknown, revoked
    /// or expired credential or a disabled user (each refused within the bound
    /// [`super::auth`] documents).
    pub async fn authenticate(
        &self,
        kind: CredentialKind,
        text: &str,
    ) -> Result<Option<Caller>, ServiceError> {
        let caller = self.auth.authenticate(kind, text).await?;
        if let Some(caller) = &caller {
            crate::telemetry::note_user(caller.user.id);
        }
        Ok(caller)
    }

    /// `user`'s API tokens, revoked ones included, newest first; never a secret.
    pub async fn tokens(&self, user: &User) -> Result<Vec<ApiToken>, ServiceError> {
        Ok(self.store.tokens_of(user.id).await?)
    }

    /// Revokes `user`'s own token `id` (audited `"by": "user"`); this node refuses it, and the
    /// sessions opened with it, from the next request on. Another user's token, or none, is
    /// "not found"; one revoked before is answered as it is.
    pub async fn revoke_own_token(&self, user: &User, id: Uuid) -> Result<ApiToken, ServiceError> {
        match self
            .store
            .revoke_token(id, Some(user.id), ChangedBy::User)
            .await?
        {
            Revoked::Now(token) => {
                self.auth.forget(token.id);
                Ok(token)
            }
            Revoked::Already(token) => Ok(token),
            Revoked::NotFound => Err(ServiceError::NotFound("token")),
        }
    }

    /// Signs a browser in with the API token `token` (read afresh, never from the cache): the
    /// user and the secret of a new session lasting `auth.session_ttl_s`, for the console's
    /// cookie; `None` if the token is not live or its user is disabled.
    pub async fn sign_in(&self, token: &str) -> Result<Option<(User, String)>, ServiceError> {
        Ok(self
            .store
            .create_session(token, self.rules.session_ttl)
            .await?
            .map(|(user, _, secret)| (user, secret)))
    }

    /// Signs a browser out: revokes the session `secret` (audited `"by": "user"`), which this
    /// node refuses from the next request on. A secret that names no live session is nothing
    /// to end.
    pub async fn sign_out(&self, secret: &str) -> Result<(), ServiceError> {
        if let Some(session) = self.store.revoke_session(secret, ChangedBy::User).await? {
            self.auth.forget(session.id);
        }
        Ok(())
    }
}
