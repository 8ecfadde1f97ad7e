//! The console's token page on both databases, as a browser uses it: `/tokens` lists what
//! `GET /api/tokens` lists (the token this browser signed in with marked, never a secret),
//! "Revoke" revokes through the API's service call (audited `"by": "user"`, refused at once),
//! another user's token is the 404 page, a foreign `Origin` is 403, and revoking the token the
//! session was made from logs the browser out.

use serde_json::json;
use uuid::Uuid;

use qrun::store::users::hash_token;

use crate::credentials::{audit, get};
use crate::helpers::{TestApp, TestDb};
use crate::on_both_databases;

async fn the_token_page_lists_and_revokes_ones_own_tokens_as_the_api_does(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (alice, first) = app.user("alice").await;
    let (laptop, second) = app.store().create_token(alice.id, "laptop").await.unwrap();
    let (bob, bobs) = app.user("bob").await;
    let browser = app.browser().signed_in(&first).await;

    // Signed out: the 401 page; the navigation links the page when signed in.
    assert_eq!(app.browser().get("/tokens").await.status, 401);
    let listed = browser.get("/tokens").await;
    assert_eq!(listed.status, 200, "{}", listed.html);
    assert!(listed.html.contains(r#"<a href="/tokens">Tokens</a>"#));
    // What the API lists, in its order; this browser's token marked; never a secret.
    let (_, api) = get(&app, "/api/tokens", &first).await;
    let ids: Vec<&str> = api["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let at = |id: &str| listed.html.find(&format!(r#"id="token-{id}""#));
    assert_eq!(ids.len(), 2);
    assert!(at(ids[0]).unwrap() < at(ids[1]).unwrap(), "newest first");
    assert_eq!(ids[0], laptop.id.to_string());
    let first_id = ids[1];
    let row = |id: &str| {
        let start = at(id).unwrap();
        let end = listed.html[start..].find("</tr>").unwrap() + start;
        listed.html[start..end].to_owned()
    };
    assert!(row(first_id).contains("(this browser signed in with it)"));
    assert!(!row(ids[0]).contains("this browser"));
    assert!(row(ids[0]).contains(&format!(r#"action="/tokens/{}/revoke""#, laptop.id)));
    for secret in [&first, &second, &hash_token(&first), &hash_token(&second)] {
        assert!(!listed.html.contains(secret.as_str()), "a secret shown");
    }
    assert!(!listed.html.contains(&bob.id.to_string()));
    let revoke = format!("/tokens/{}/revoke", laptop.id);

    // A foreign Origin: 403, nothing revoked.
    let foreign = browser
        .post_from("https://evil.example", &revoke, &[])
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.html);
    assert_eq!(get(&app, "/api/me", &second).await.0, 200);
    // Another user's token, one that does not exist, a malformed id: the same 404 page.
    let bob_browser = app.browser().signed_in(&bobs).await;
    for path in [
        revoke.clone(),
        format!("/tokens/{}/revoke", Uuid::now_v7()),
        "/tokens/not-an-id/revoke".to_owned(),
    ] {
        let answer = bob_browser.post(&path, &[]).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.html);
        assert!(answer.html.contains("token not found"), "{}", answer.html);
    }
    assert_eq!(get(&app, "/api/me", &second).await.0, 200);
    // Signed out: 401.
    assert_eq!(app.browser().post(&revoke, &[]).await.status, 401);

    // Alice revokes her laptop's token: back to the list, refused at once, audited as the
    // API's revocation; the list shows it revoked, without a button.
    let revoked = browser.post(&revoke, &[]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.html);
    assert_eq!(revoked.location.as_deref(), Some("/tokens"));
    assert_eq!(get(&app, "/api/me", &second).await.0, 401);
    let rows = audit(&app, "token", laptop.id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[1],
        (
            "token.revoked".to_owned(),
            json!({"by": "user", "name": "laptop"})
        )
    );
    let after = browser.get("/tokens").await;
    assert!(!after.html.contains(&format!(r#"action="{revoke}""#)));
    // Revoking it again changes nothing.
    assert_eq!(browser.post(&revoke, &[]).await.status, 303);
    assert_eq!(
        app.store()
            .audit_of("token", laptop.id)
            .await
            .unwrap()
            .len(),
        2
    );

    // Revoking the token this browser signed in with ends its session: to the login form,
    // the cookie dropped, the old cookie refused.
    let cookie = browser.cookie("qrun_token").unwrap();
    let itself = browser
        .post(&format!("/tokens/{first_id}/revoke"), &[])
        .await;
    assert_eq!(itself.status, 303, "{}", itself.html);
    assert_eq!(itself.location.as_deref(), Some("/login"));
    assert_eq!(get(&app, "/api/me", &first).await.0, 401);
    let old = app
        .browser()
        .with_cookie("qrun_token", &cookie)
        .get("/tokens")
        .await;
    assert_eq!(old.status, 401);
    assert_eq!(get(&app, "/api/me", &bobs).await.0, 200, "bob is untouched");
    app.stop().await;
}

on_both_databases!(the_token_page_lists_and_revokes_ones_own_tokens_as_the_api_does);
