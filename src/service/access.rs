//! Visibility, exactly as the seed states it: a public circuit's runs are readable by anyone
//! with the URL; a private circuit's runs are 404 to everyone but the circuit's owner. The
//! submitter's identity is shown only to the submitter and the circuit's owner. An operator
//! (docs/DESIGN.md §15) sees every run, with its submitter and full audit — not the private
//! circuits themselves.

use crate::domain::{Circuit, Run, User, Visibility};

/// Whether `viewer` may know that `circuit` (and its runs) exist.
pub fn can_see(viewer: Option<&User>, circuit: &Circuit) -> bool {
    circuit.visibility == Visibility::Public || viewer.is_some_and(|v| v.id == circuit.owner_id)
}

/// Whether `viewer` may see `circuit`'s runs: whoever may see the circuit, and operators.
pub fn can_see_runs(viewer: Option<&User>, circuit: &Circuit) -> bool {
    can_see(viewer, circuit) || viewer.is_some_and(User::is_operator)
}

/// Whether `viewer` may see who submitted `run` (and the audit's nodes and cancellers).
pub fn sees_submitter(viewer: Option<&User>, run: &Run, circuit: &Circuit) -> bool {
    viewer.is_some_and(|v| v.id == run.user_id || v.id == circuit.owner_id || v.is_operator())
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
            operator_since: None,
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

    #[test]
    fn an_operator_sees_every_run_and_its_submitter_but_not_private_circuits() {
        let owner = user();
        let operator = User {
            operator_since: Some(Utc::now()),
            ..user()
        };
        let private = circuit(&owner, Visibility::Private);
        let run_of = |submitter: &User| {
            let spec = crate::domain::RunSpec {
                circuit_id: private.id,
                circuit_version: 1,
                backend_type: "simulator".into(),
                backend_name: "statevector".into(),
                framework: "qiskit".into(),
                shots: 1,
                analytics_consent: None,
                parameters: Default::default(),
                seed: None,
                memory: false,
                options: Default::default(),
            };
            let new = crate::domain::NewRun {
                user_id: submitter.id,
                idempotency_key: None,
                spec,
                traceparent: None,
            };
            Run::pending(Uuid::now_v7(), new, Utc::now())
        };
        assert!(!can_see(Some(&operator), &private));
        assert!(can_see_runs(Some(&operator), &private));
        assert!(sees_submitter(Some(&operator), &run_of(&owner), &private));
        let other = user();
        assert!(!can_see_runs(Some(&other), &private));
        assert!(!can_see_runs(None, &private));
        assert!(!sees_submitter(Some(&other), &run_of(&owner), &private));
    }
}
