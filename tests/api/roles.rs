//! The operator role at the command line (`qrun user grant|revoke HANDLE ROLE`) and in
//! `GET /api/me`, on both databases: granted and revoked with their audit rows, refused with
//! one clear line for an unknown user or role or a change that changes nothing.

use serde_json::{Value, json};

use crate::cli::{assert_verified, qrun, refused_with as refused, stdout};
use crate::helpers::{TestApp, TestDb, http};
use crate::on_both_databases;

/// `GET /api/me`'s `roles` for `token`.
async fn roles(app: &TestApp, token: &str) -> Value {
    let me: Value = http()
        .get(app.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["roles"].clone()
}

async fn granting_and_revoking_the_operator_role_is_audited_and_shown_by_api_me(db: TestDb) {
    assert!(qrun(&db, &["migrate"]).status.success());
    let created = qrun(&db, &["user", "create", "carol"]);
    assert!(created.status.success(), "{created:?}");
    let token = stdout(&created).trim().to_owned();

    let granted = qrun(&db, &["user", "grant", "carol", "operator"]);
    assert!(granted.status.success(), "{granted:?}");
    assert_eq!(
        stdout(&granted),
        "granted the operator role to carol; in effect everywhere within 10 s \
         (auth.token_cache_ttl_s)\n"
    );
    refused(
        &qrun(&db, &["user", "grant", "carol", "operator"]),
        1,
        "qrun: user `carol` already holds the operator role; nothing changed",
    );
    refused(
        &qrun(&db, &["user", "grant", "nobody", "operator"]),
        2,
        "qrun: no user `nobody`",
    );
    refused(
        &qrun(&db, &["user", "grant", "carol", "admin"]),
        2,
        "qrun: no role `admin`; the roles are: operator",
    );
    refused(
        &qrun(&db, &["user", "revoke", "carol", "Operator"]),
        2,
        "qrun: no role `Operator`; the roles are: operator",
    );

    let app = TestApp::spawn(db).await;
    assert_eq!(roles(&app, &token).await, json!(["operator"]));
    let carol = app.store().user_by_handle("carol").await.unwrap().unwrap();
    assert!(carol.is_operator());
    let db = app.into_db().await;

    let revoked = qrun(&db, &["user", "revoke", "carol", "operator"]);
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(
        stdout(&revoked),
        "revoked the operator role from carol; in effect everywhere within 10 s \
         (auth.token_cache_ttl_s)\n"
    );
    refused(
        &qrun(&db, &["user", "revoke", "carol", "operator"]),
        1,
        "qrun: user `carol` does not hold the operator role; nothing changed",
    );
    // The audit rows are valid credential changes.
    assert_verified(&db, 0);

    let app = TestApp::spawn(db).await;
    assert_eq!(roles(&app, &token).await, json!([]));
    let audit = app.store().audit_of("user", carol.id).await.unwrap();
    let rows: Vec<(String, Value)> = audit
        .iter()
        .map(|e| (e.action.clone(), e.metadata.clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "user.role_granted".to_owned(),
                json!({"by": "operator", "role": "operator"})
            ),
            (
                "user.role_revoked".to_owned(),
                json!({"by": "operator", "role": "operator"})
            ),
        ]
    );
    assert!(audit.iter().all(|e| e.actor_user_id == carol.id));
    assert!(audit[0].created_at <= audit[1].created_at);
    app.stop().await;
}

on_both_databases!(granting_and_revoking_the_operator_role_is_audited_and_shown_by_api_me);
