//! Visibility, exactly as the seed states it: a public circuit's runs are readable by anyone
//! with the URL; a private circuit's runs are 404 to everyone but the circuit's owner. The
//! submitter's identity is shown only to the submitter and the circuit's owner.

use crate::domain::{Circuit, Run, User, Visibility};

/// Whether `viewer` may know that `circuit` (and its runs) exist.
pub fn can_see(viewer: Option<&User>, circuit: &Circuit) -> bool {
    circuit.visibility == Visibility::Public || viewer.is_some_and(|v| v.id == circuit.owner_id)
}

/// Whether `viewer` may see who submitted `run`.
pub fn sees_submitter(viewer: Option<&User>, run: &Run, circuit: &Circuit) -> bool {
    viewer.is_some_and(|v| v.id == run.user_id || v.id == circuit.owner_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn user() -> User {
        User {
            id: Uuid::now_v7(),
            handle: "u".into(),
            created_at: Utc::now(),
            disabled_at: None,
        }
    }

    fn circuit(owner: &User, visibility: Visibility) -> Circuit {
        Circuit {
            id: Uuid::now_v7(),
            owner_id: owner.id,
            owner_handle: owner.handle.clone(),
            name: "c".into(),
            visibility,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn the_matrix() {
        let owner = user();
        let other = user();
        for (visibility, viewer, seen) in [
            (Visibility::Public, None, true),
            (Visibility::Public, Some(&other), true),
            (Visibility::Public, Some(&owner), true),
            (Visibility::Private, None, false),
            (Visibility::Private, Some(&other), false),
            (Visibility::Private, Some(&owner), true),
        ] {
            assert_eq!(
                can_see(viewer, &circuit(&owner, visibility)),
                seen,
                "{visibility:?} {viewer:?}"
            );
        }
    }
}
