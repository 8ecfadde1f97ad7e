//! Roles a user may hold beyond their own runs and circuits (issue 32, docs/DESIGN.md §15).
//! There is one: the operator, who sees every user's runs in the console (`/admin/runs`, each
//! run's page with its full audit) and may cancel any of them. An operator grants and revokes
//! it at the command line (`qrun user grant HANDLE operator`), audited.

use std::fmt;
use std::str::FromStr;

/// A role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Sees and cancels every user's runs (the console's `/admin/runs`).
    Operator,
}

impl Role {
    pub const ALL: [Role; 1] = [Role::Operator];

    /// Its name: what `qrun user grant` takes, `GET /api/me`'s `roles` lists and the audit
    /// row's `role` says.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that names no role.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no role `{0}`; the roles are: operator")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Exactly a role's name ([`Role::as_str`]).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// Longest reason an operator may give for cancelling another user's run, in characters.
pub const MAX_CANCEL_REASON: usize = 500;

/// Why an operator's cancel reason is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a reason is required: 1–500 characters without control characters other than newlines")]
pub struct InvalidCancelReason;

/// The reason an operator gives for cancelling another user's run (the console's
/// `/admin/runs`; the audit row's `reason`, shown on the run's page): trimmed, 1 to
/// [`MAX_CANCEL_REASON`] characters, no control character but a newline (a form's `\r\n`
/// reads as `\n`).
pub fn cancel_reason(text: &str) -> Result<String, InvalidCancelReason> {
    let text = text.trim().replace("\r\n", "\n");
    let length = text.chars().count();
    if (1..=MAX_CANCEL_REASON).contains(&length)
        && !text.chars().any(|c| c.is_control() && c != '\n')
    {
        Ok(text)
    } else {
        Err(InvalidCancelReason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reasons() {
        assert_eq!(
            cancel_reason("  stuck for hours \n"),
            Ok("stuck for hours".into())
        );
        assert_eq!(cancel_reason("a\r\nb"), Ok("a\nb".into()));
        assert_eq!(cancel_reason(&"é".repeat(500)), Ok("é".repeat(500)));
        for bad in ["", "   ", "\u{1b}[31m", "tab\there", &"r".repeat(501)] {
            assert_eq!(cancel_reason(bad), Err(InvalidCancelReason), "{bad:?}");
        }
    }

    #[test]
    fn roles_read_back_from_their_names_and_nothing_else() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse(), Ok(role));
        }
        for bad in ["", "Operator", "admin", " operator", "operator "] {
            assert_eq!(
                bad.parse::<Role>(),
                Err(UnknownRole(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(
            UnknownRole("admin".into()).to_string(),
            "no role `admin`; the roles are: operator"
        );
    }
}
