//! Credentials (docs/DESIGN.md §2, §6, §15): API tokens, which programs present as `Authorization:
//! Bearer`, and browser sessions, which the console's sign-in makes from a token and keeps in
//! its cookie; who a request authenticated as; and the audit vocabulary of their changes.
//!
//! A credential is `PREFIX` + its row's id (32 hex digits, not secret) + 256 random bits (64
//! hex digits); only the SHA-256 of the whole is stored. The prefixes tell the kinds apart, so
//! a session secret is never taken for an API token nor the other way round.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::User;

/// The two kinds of credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// An API token: `qrun_` + id + secret (`Authorization: Bearer`).
    Token,
    /// A browser session: `qrun_s_` + id + secret (the console's `qrun_token` cookie).
    Session,
}

impl CredentialKind {
    /// What its text starts with; recognisable by secret scanners.
    pub fn prefix(self) -> &'static str {
        match self {
            CredentialKind::Token => "qrun_",
            CredentialKind::Session => "qrun_s_",
        }
    }

    /// The row id a well-formed credential of this kind names: exactly the prefix, 32 hex
    /// digits of id and 64 of secret; `None` for anything else.
    pub fn id_of(self, text: &str) -> Option<Uuid> {
        let rest = text.strip_prefix(self.prefix())?;
        if rest.len() != 96 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Uuid::try_parse(&rest[..32]).ok()
    }
}

/// An API token as it is listed: never its secret, which is shown once, at creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    /// What the operator called it (`qrun user token create --name`), e.g. `default`.
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When a request last presented it (written at most once per `auth.token_cache_ttl_s`).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A browser session, made by signing in with an API token (`POST /login`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The API token it was opened with: revoking the token ends the session.
    pub token_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// `created_at` + `auth.session_ttl_s`; from then on it is refused.
    pub expires_at: DateTime<Utc>,
    /// Set by `POST /logout`.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The credential a request authenticated with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An API token: its id and name (what `GET /api/me` reports).
    Token { id: Uuid, name: String },
    /// A browser session: its id, the token it was opened with, and when it expires.
    Session {
        id: Uuid,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    },
}

impl Credential {
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::Token { .. } => CredentialKind::Token,
            Credential::Session { .. } => CredentialKind::Session,
        }
    }

    /// The API token behind this credential: the token itself, or the one a session was
    /// opened with (the `current` one of a token list).
    pub fn token_id(&self) -> Uuid {
        match self {
            Credential::Token { id, .. } => *id,
            Credential::Session { token_id, .. } => *token_id,
        }
    }

    /// Whether revoking the credential `id` ends this one: it is that credential, or a session
    /// opened with that token.
    pub fn ends_with(&self, id: Uuid) -> bool {
        match self {
            Credential::Token { id: own, .. } => *own == id,
            Credential::Session {
                id: own, token_id, ..
            } => *own == id || *token_id == id,
        }
    }
}

/// Who a request is: an enabled user and the live credential it presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: User,
    pub credential: Credential,
}

/// Who changed a credential: its owner (the API, the console) or an operator (the command
/// line). The audit row's `metadata.by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangedBy {
    User,
    Operator,
}

impl ChangedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangedBy::User => "user",
            ChangedBy::Operator => "operator",
        }
    }
}

/// A credential change, as the audit log records it (`audit_logs.action`; `resource_type` is
/// the part before the dot, `resource_id` the token's, session's or user's id, `actor_user_id`
/// the owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialChange {
    TokenCreated,
    TokenRevoked,
    SessionCreated,
    SessionRevoked,
    UserDisabled,
    UserEnabled,
    /// A role granted to the user (`qrun user grant`); the row's `role` names it.
    RoleGranted,
    /// A role taken back (`qrun user revoke`); the row's `role` names it.
    RoleRevoked,
}

impl CredentialChange {
    pub const ALL: [CredentialChange; 8] = [
        CredentialChange::TokenCreated,
        CredentialChange::TokenRevoked,
        CredentialChange::SessionCreated,
        CredentialChange::SessionRevoked,
        CredentialChange::UserDisabled,
        CredentialChange::UserEnabled,
        CredentialChange::RoleGranted,
        CredentialChange::RoleRevoked,
    ];

    /// The `audit_logs.action` value: `token.created`, `user.disabled`, …
    pub fn audit_action(self) -> &'static str {
        match self {
            CredentialChange::TokenCreated => "token.created",
            CredentialChange::TokenRevoked => "token.revoked",
            CredentialChange::SessionCreated => "session.created",
            CredentialChange::SessionRevoked => "session.revoked",
            CredentialChange::UserDisabled => "user.disabled",
            CredentialChange::UserEnabled => "user.enabled",
            CredentialChange::RoleGranted => "user.role_granted",
            CredentialChange::RoleRevoked => "user.role_revoked",
        }
    }

    /// The `audit_logs.resource_type` value: `token`, `session` or `user`.
    pub fn resource_type(self) -> &'static str {
        match self {
            CredentialChange::TokenCreated | CredentialChange::TokenRevoked => "token",
            CredentialChange::SessionCreated | CredentialChange::SessionRevoked => "session",
            CredentialChange::UserDisabled
            | CredentialChange::UserEnabled
            | CredentialChange::RoleGranted
            | CredentialChange::RoleRevoked => "user",
        }
    }
}

/// Why a token name is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a token name must be 1–64 characters without control characters")]
pub struct InvalidTokenName;

/// A token's name: 1–64 characters, none of them a control character (it is printed by
/// `qrun user token list` and shown by `GET /api/me`).
pub fn validate_token_name(name: &str) -> Result<(), InvalidTokenName> {
    let length = name.chars().count();
    if (1..=64).contains(&length) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(InvalidTokenName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_only_its_own_credentials() {
        let id = Uuid::now_v7();
        let secret = "ab".repeat(32);
        let token = format!("qrun_{}{secret}", id.simple());
        let session = format!("qrun_s_{}{secret}", id.simple());
        assert_eq!(CredentialKind::Token.id_of(&token), Some(id));
        assert_eq!(CredentialKind::Session.id_of(&session), Some(id));
        assert_eq!(CredentialKind::Token.id_of(&session), None);
        assert_eq!(CredentialKind::Session.id_of(&token), None);
        for bad in [
            "",
            "qrun_",
            "qrun_s_",
            &token[..token.len() - 1],
            &format!("{token}0"),
            &token.replacen("qrun_", "qrum_", 1),
            &format!("qrun_{}", "g".repeat(96)),
        ] {
            assert_eq!(CredentialKind::Token.id_of(bad), None, "{bad}");
            assert_eq!(CredentialKind::Session.id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn revoking_a_token_ends_the_sessions_opened_with_it() {
        let (token, other) = (Uuid::now_v7(), Uuid::now_v7());
        let session = Credential::Session {
            id: Uuid::now_v7(),
            token_id: token,
            expires_at: Utc::now(),
        };
        assert!(session.ends_with(token));
        assert!(!session.ends_with(other));
        let bearer = Credential::Token {
            id: token,
            name: "cli".into(),
        };
        assert!(bearer.ends_with(token) && !bearer.ends_with(other));
    }

    #[test]
    fn token_names() {
        for ok in ["default", "ci", "laptop – 2026", &"n".repeat(64)] {
            assert_eq!(validate_token_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a\nb", "tab\t", "\u{1b}[31m", &"n".repeat(65)] {
            assert_eq!(validate_token_name(bad), Err(InvalidTokenName), "{bad:?}");
        }
    }

    #[test]
    fn every_change_names_its_resource_in_its_action() {
        for change in CredentialChange::ALL {
            let (resource, _) = change.audit_action().split_once('.').unwrap();
            assert_eq!(resource, change.resource_type());
        }
    }
}
