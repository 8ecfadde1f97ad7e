//! Users, circuits and their versions, and the rules for their names.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Role;

/// An account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub handle: String,
    pub created_at: DateTime<Utc>,
    /// When an operator disabled it (`qrun user disable`); `None` while it is in use. A
    /// disabled user's credentials are all refused.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Since when it holds the operator role (`qrun user grant HANDLE operator`); `None` for
    /// everyone else.
    pub operator_since: Option<DateTime<Utc>>,
}

impl User {
    /// Whether it holds the operator role.
    pub fn is_operator(&self) -> bool {
        self.operator_since.is_some()
    }

    /// The roles it holds, in [`Role::ALL`]'s order (`GET /api/me`'s `roles`).
    pub fn roles(&self) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|role| match role {
                Role::Operator => self.is_operator(),
            })
            .collect()
    }
}

/// Who may see a circuit and its runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

/// Whether `name` can name a framework (`manifest.framework`, `executor.frameworks`): 1–64
/// lowercase ASCII letters, digits, `-`, `_` or `.`.
pub fn is_framework_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// A named circuit of one owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Circuit {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub owner_handle: String,
    pub name: String,
    pub visibility: Visibility,
    pub created_at: DateTime<Utc>,
}

/// A circuit as a list of circuits shows it: with its latest version's number and manifest,
/// and when that version was uploaded (the circuit's last change of source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitSummary {
    pub circuit: Circuit,
    pub latest_version: i32,
    pub manifest: Manifest,
    pub updated_at: DateTime<Utc>,
}

/// What a circuit version's manifest declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// e.g. `qiskit`
    pub framework: String,
    /// e.g. `openqasm2`
    pub format: String,
}

/// One immutable version of a circuit's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitVersion {
    pub circuit_id: Uuid,
    pub version: i32,
    pub source: String,
    pub manifest: Manifest,
    pub created_at: DateTime<Utc>,
}

/// Why a handle or circuit name is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} must be 1–{max} characters of a–z, 0–9, `-`, `_` or `.`, starting with a letter or digit"
)]
pub struct InvalidName {
    pub what: &'static str,
    pub max: usize,
}

fn check_name(value: &str, what: &'static str, max: usize) -> Result<(), InvalidName> {
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if first_ok && rest_ok && value.len() <= max {
        Ok(())
    } else {
        Err(InvalidName { what, max })
    }
}

/// Handles that would collide with the service's own top-level paths (`/api/...`,
/// `/admin/...`, the console's `/circuits/new` and `/jobs/{id}`): a user so named could have no
/// circuit or run pages.
pub const RESERVED_HANDLES: [&str; 4] = ["api", "admin", "circuits", "jobs"];

/// A user handle: lower-case, URL-safe, at most 39 characters, not reserved.
pub fn validate_handle(handle: &str) -> Result<(), InvalidName> {
    check_name(handle, "a handle", 39)?;
    if RESERVED_HANDLES.contains(&handle) {
        return Err(InvalidName {
            what: "a handle (not a reserved word such as `api`)",
            max: 39,
        });
    }
    Ok(())
}

/// A circuit name: lower-case, URL-safe, at most 100 characters.
pub fn validate_circuit_name(name: &str) -> Result<(), InvalidName> {
    check_name(name, "a circuit name", 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["alice", "a", "bell-state", "qft_8", "v1.2", "0x"] {
            assert!(validate_circuit_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "Alice",
            "a b",
            "a/b",
            "é",
            "<script>",
            &"a".repeat(101),
        ] {
            assert!(validate_circuit_name(bad).is_err(), "{bad}");
        }
        assert!(validate_handle(&"a".repeat(40)).is_err());
        assert!(validate_handle("api").is_err());
        assert!(
            validate_handle("admin").is_err(),
            "`/admin/…` is the operator's"
        );
        assert!(validate_handle("apis").is_ok());
    }
}
