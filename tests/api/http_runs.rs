//! The HTTP API end to end: the run routes, visibility and consent, idempotency, pagination.

use qrun::app::Hooks;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, http};
use crate::on_both_databases;

/// Sends a request; the status and the JSON body (Null when not JSON).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http().request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the request is answered");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Reads an SSE response to its end; the `data` of each `status` event.
async fn read_events(response: reqwest::Response) -> Vec<Value> {
    let text = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the stream ends after the terminal event")
        .expect("a body");
    text.split("\n\n")
        .filter(|block| block.contains("event:status"))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data:")))
        .map(|data| serde_json::from_str(data).expect("JSON data"))
        .collect()
}

async fn a_run_goes_through_every_route(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (alice, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    assert_eq!(circuit["owner"], "alice");
    assert_eq!(circuit["version"], 1);

    let response = app
        .submit_http(&token, circuit["id"].as_str().unwrap(), &[])
        .await;
    assert_eq!(response.status(), 201);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["status"], "pending");
    assert_eq!(run["user_id"], alice.id.to_string());
    assert_eq!(run["framework"], "qiskit");
    assert_eq!(run["circuit"], "alice/bell");
    assert_eq!(run["analytics_consent"], false);
    assert_eq!(run["results"], Value::Null);
    let id = run["id"].as_str().unwrap().to_owned();

    let (status, read) = call(
        &app,
        Method::GET,
        &format!("/api/runs/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status, &read["id"]), (200, &run["id"]));
    let (status, page) = call(&app, Method::GET, "/api/runs", Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(page["runs"][0]["id"], run["id"]);
    assert_eq!(page["next_cursor"], Value::Null);

    // Watch it live, cancel it, and see the stream end with the terminal event.
    let events = http()
        .get(app.url(&format!("/api/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (status, cancelled) = call(
        &app,
        Method::POST,
        &format!("/api/runs/{id}/cancel"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled"))
    );
    let seen: Vec<String> = read_events(events)
        .await
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ["pending", "cancelled"]);

    let (status, again) = call(
        &app,
        Method::POST,
        &format!("/api/runs/{id}/cancel"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("run_terminal"))
    );

    let (status, audit) = call(
        &app,
        Method::GET,
        &format!("/api/runs/{id}/audit"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["run.requested", "run.cancelled"]);
    // Anonymous viewers do not learn who acted.
    for entry in audit["entries"].as_array().unwrap() {
        assert_eq!(entry["actor_user_id"], Value::Null);
        assert!(entry["metadata"].get("cancelled_by").is_none(), "{entry}");
    }
    // A terminal run's stream is its one event.
    let events = http()
        .get(app.url(&format!("/api/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(read_events(events).await.len(), 1);
    app.stop().await;
}

/// What one viewer may do with a run of one circuit: statuses of GET run / audit / events /
/// circuit, POST versions, POST run, cancel; and whether they see the submitter.
struct Expect<'a> {
    who: &'a str,
    token: Option<&'a str>,
    read: u16,
    versions: u16,
    submit: u16,
    cancel: u16,
    sees: bool,
}

async fn visibility_matrix_holds_on_every_route(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_alice, owner) = app.user("alice").await;
    let (bob_user, other) = app.user("bob").await;
    let (_carol, third) = app.user("carol").await;
    for visibility in ["public", "private"] {
        let name = format!("c-{visibility}");
        let circuit = app.create_circuit(&owner, &name, visibility).await;
        let cid = circuit["id"].as_str().unwrap();
        let run: Value = app
            .submit_http(&owner, cid, &[])
            .await
            .json()
            .await
            .unwrap();
        let rid = run["id"].as_str().unwrap();
        let public = visibility == "public";
        let hidden = if public { 200 } else { 404 };
        let viewers = [
            Expect {
                who: "owner",
                token: Some(&owner),
                read: 200,
                versions: 201,
                submit: 201,
                cancel: 200,
                sees: true,
            },
            Expect {
                who: "other",
                token: Some(&other),
                read: hidden,
                versions: if public { 403 } else { 404 },
                submit: if public { 201 } else { 404 },
                cancel: if public { 403 } else { 404 },
                sees: false,
            },
            Expect {
                who: "anonymous",
                token: None,
                read: hidden,
                versions: 401,
                submit: 401,
                cancel: 401,
                sees: false,
            },
        ];
        for Expect {
            who,
            token,
            read,
            versions,
            submit,
            cancel,
            sees,
        } in viewers
        {
            let case = format!("{visibility} circuit, {who}");
            let (status, body) =
                call(&app, Method::GET, &format!("/api/runs/{rid}"), token, None).await;
            assert_eq!(status, read, "GET run: {case}: {body}");
            if status == 200 {
                assert_eq!(body["user_id"].is_null(), !sees, "user_id: {case}");
                assert_eq!(
                    body["analytics_consent"].is_null(),
                    !sees,
                    "consent: {case}"
                );
            } else {
                assert_eq!(body["error"]["code"], "not_found", "{case}");
            }
            let (status, body) = call(
                &app,
                Method::GET,
                &format!("/api/runs/{rid}/audit"),
                token,
                None,
            )
            .await;
            assert_eq!(status, read, "GET audit: {case}: {body}");
            if status == 200 {
                assert_eq!(
                    body["entries"][0]["actor_user_id"].is_null(),
                    !sees,
                    "actor: {case}"
                );
            }
            let mut events = http().get(app.url(&format!("/api/runs/{rid}/events")));
            if let Some(t) = token {
                events = events.bearer_auth(t);
            }
            assert_eq!(
                events.send().await.unwrap().status(),
                read,
                "GET events: {case}"
            );
            let (status, _) = call(
                &app,
                Method::GET,
                &format!("/api/circuits/alice/{name}"),
                token,
                None,
            )
            .await;
            assert_eq!(status, read, "GET circuit: {case}");
            let version = json!({"source": crate::helpers::BELL, "manifest": {"framework": "qiskit", "format": "openqasm2"}});
            let (status, body) = call(
                &app,
                Method::POST,
                &format!("/api/circuits/alice/{name}/versions"),
                token,
                Some(version),
            )
            .await;
            assert_eq!(status, versions, "POST versions: {case}: {body}");
            let submission = json!({"circuit": format!("alice/{name}"), "backend": {"type": "simulator", "name": "statevector"}, "shots": 10});
            let (status, body) =
                call(&app, Method::POST, "/api/runs", token, Some(submission)).await;
            assert_eq!(status, submit, "POST run: {case}: {body}");
            if who != "owner" {
                let (status, body) = call(
                    &app,
                    Method::POST,
                    &format!("/api/runs/{rid}/cancel"),
                    token,
                    None,
                )
                .await;
                assert_eq!(status, cancel, "cancel: {case}: {body}");
            }
        }
        let (status, _) = call(
            &app,
            Method::POST,
            &format!("/api/runs/{rid}/cancel"),
            Some(&owner),
            None,
        )
        .await;
        assert_eq!(status, 200, "the submitter cancels: {visibility}");
    }

    // Bob submits on Alice's public circuit: Alice (the circuit's owner) and Bob see who;
    // Carol and anonymous visitors do not; Alice may not cancel Bob's run.
    let circuit = app.create_circuit(&owner, "shared", "public").await;
    let run: Value = app
        .submit_http(&other, circuit["id"].as_str().unwrap(), &[])
        .await
        .json()
        .await
        .unwrap();
    let rid = run["id"].as_str().unwrap();
    for (who, token, sees) in [
        ("owner", Some(&owner), true),
        ("submitter", Some(&other), true),
        ("third", Some(&third), false),
        ("anonymous", None, false),
    ] {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("/api/runs/{rid}"),
            token.map(String::as_str),
            None,
        )
        .await;
        assert_eq!(status, 200, "{who}");
        let expected = if sees {
            json!(bob_user.id)
        } else {
            Value::Null
        };
        assert_eq!(body["user_id"], expected, "{who}");
    }
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/runs/{rid}/cancel"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = call(&app, Method::GET, "/api/runs", None, None).await;
    assert_eq!(status, 401, "listing needs a token");
    app.stop().await;
}

async fn consent_header_decides_analytics(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap();
    for (header, consent) in [
        (None, Some(false)),
        (Some("granted"), Some(true)),
        (Some("GRANTED"), Some(true)),
        (Some("Granted"), Some(true)),
        (Some("denied"), Some(false)),
        (Some("DENIED"), Some(false)),
        (Some("yes"), None),
        (Some(""), None),
        (Some("granted,denied"), None),
    ] {
        let headers: Vec<(&str, &str)> = header
            .map(|h| ("X-Analytics-Consent", h))
            .into_iter()
            .collect();
        let response = app.submit_http(&token, cid, &headers).await;
        match consent {
            Some(consent) => {
                assert_eq!(response.status(), 201, "{header:?}");
                let run: Value = response.json().await.unwrap();
                assert_eq!(run["analytics_consent"], consent, "{header:?}");
                let id = run["id"].as_str().unwrap().parse().unwrap();
                let events = app.store().outbox_for_run(id).await.unwrap();
                assert_eq!(events.len(), usize::from(consent), "{header:?}: {events:?}");
            }
            None => {
                assert_eq!(response.status(), 400, "{header:?}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "invalid_consent", "{header:?}");
            }
        }
    }
    app.stop().await;
}

async fn an_idempotency_key_creates_one_run_even_under_concurrent_duplicates(db: TestDb) {
    let app = Arc::new(TestApp::spawn(db).await);
    let (_, token) = app.user("alice").await;
    let (_, other) = app.user("bob").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, token, cid) = (app.clone(), token.clone(), cid.clone());
            tokio::spawn(async move {
                let response = app
                    .submit_http(&token, &cid, &[("Idempotency-Key", "k-1")])
                    .await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body["id"].as_str().unwrap().to_owned())
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        let (status, id) = task.await.unwrap();
        assert!(status == 200 || status == 201, "{status}");
        created += usize::from(status == 201);
        ids.insert(id);
    }
    assert_eq!((ids.len(), created), (1, 1), "{ids:?}");
    // Another user's identical key is theirs alone.
    let response = app
        .submit_http(&other, &cid, &[("Idempotency-Key", "k-1")])
        .await;
    assert_eq!(response.status(), 201);
    // The same key for a different submission is refused: any one field of it differing.
    let same = json!({"circuit_id": cid, "backend": {"type": "simulator", "name": "statevector"}, "shots": 100});
    let differing = [
        ("shots", json!({"shots": 7}), None),
        ("seed", json!({"seed": 11}), None),
        (
            "consent",
            json!({}),
            Some(("X-Analytics-Consent", "granted")),
        ),
    ];
    for (what, change, header) in differing {
        let mut body = same.clone();
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let mut request = http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "k-1")
            .json(&body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 422, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "idempotency_key_reused", "{what}");
    }
    let counts = app.store().run_counts().await.unwrap();
    assert_eq!(counts.values().sum::<u64>(), 2);
    Arc::into_inner(app).expect("no other owner").stop().await;
}

async fn listing_pages_are_stable_and_filtered(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    let bell = app.create_circuit(&token, "bell", "public").await;
    let other = app.create_circuit(&token, "other", "private").await;
    let mut submitted = Vec::new();
    for i in 0..25 {
        let cid = if i % 5 == 0 { &other } else { &bell };
        let run: Value = app
            .submit_http(&token, cid["id"].as_str().unwrap(), &[])
            .await
            .json()
            .await
            .unwrap();
        submitted.push(run["id"].as_str().unwrap().to_owned());
    }
    submitted.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/runs?limit=10&cursor={c}"),
            None => "/api/runs?limit=10".to_owned(),
        };
        let (status, page) = call(&app, Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(
            page["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, submitted, "every run once, newest first");
    for (query, expected) in [
        ("circuit=alice/other&limit=100", 5),
        ("status=completed", 0),
        ("status=pending&limit=100", 25),
    ] {
        let (_, page) = call(
            &app,
            Method::GET,
            &format!("/api/runs?{query}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(page["runs"].as_array().unwrap().len(), expected, "{query}");
    }
    // Someone else's listing is their own.
    let (_, bob) = app.user("bob").await;
    let (_, page) = call(&app, Method::GET, "/api/runs", Some(&bob), None).await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 0);
    app.stop().await;
}

async fn the_health_report_counts_without_ids(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "secret", "private").await;
    for _ in 0..3 {
        app.submit_http(&token, circuit["id"].as_str().unwrap(), &[])
            .await;
    }
    for path in ["/api/health/runs", "/api/health/dagster/runs"] {
        let (status, body) = call(&app, Method::GET, path, None, None).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["pending"], 3, "{path}: {body}");
        assert_eq!(body["running"], 0);
        assert_eq!(body["stranded"], 0);
        assert_eq!(body["window_s"], 3600);
        assert!(body["oldest_pending_age_s"].as_f64().unwrap() >= 0.0);
        let text = body.to_string();
        assert!(
            !text.contains(circuit["id"].as_str().unwrap()) && !text.contains("secret"),
            "{text}"
        );
    }
    app.stop().await;
}

async fn a_revoked_token_is_refused(db: TestDb) {
    let app = TestApp::spawn_with(db, |c| c.auth.token_cache_ttl_s = 0, Hooks::default()).await;
    let (user, token) = app.user("alice").await;
    let (status, _) = call(&app, Method::GET, "/api/runs", Some(&token), None).await;
    assert_eq!(status, 200);
    app.store()
        .execute_raw(&format!(
            "UPDATE api_tokens SET revoked_at = created_at WHERE user_id IN \
             (SELECT id FROM users WHERE handle = '{}')",
            user.handle
        ))
        .await
        .unwrap();
    let (status, body) = call(&app, Method::GET, "/api/runs", Some(&token), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    app.stop().await;
}

async fn a_private_runs_events_accept_the_owners_page_cookie(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, owner) = app.user("alice").await;
    let (_, other) = app.user("bob").await;
    let circuit = app.create_circuit(&owner, "secret", "private").await;
    let run: Value = app
        .submit_http(&owner, circuit["id"].as_str().unwrap(), &[])
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/runs/{}/events", run["id"].as_str().unwrap());
    let (owners, others) = (app.session(&owner).await, app.session(&other).await);
    // The cookie holds a session: the owner's API token there is refused.
    for (cookie, status) in [
        (Some(&owners), 200),
        (Some(&others), 404),
        (None, 404),
        (Some(&owner), 401),
    ] {
        let mut request = http().get(app.url(&path));
        if let Some(token) = cookie {
            request = request.header("cookie", format!("qrun_token={token}"));
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            status,
            "cookie of {cookie:?}"
        );
    }
    // The cookie reads; it never writes: mutations stay bearer-only.
    let response = http()
        .post(app.url(&format!("/api/runs/{}/cancel", run["id"].as_str().unwrap())))
        .header("cookie", format!("qrun_token={owners}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    app.stop().await;
}

/// Versions added at the same time get consecutive numbers, none refused.
async fn concurrent_versions_get_consecutive_numbers(db: TestDb) {
    let app = Arc::new(TestApp::spawn(db).await);
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let version = json!({"source": crate::helpers::BELL, "manifest": {"framework": "qiskit", "format": "openqasm2"}});
                call(
                    &app,
                    Method::POST,
                    "/api/circuits/alice/bell/versions",
                    Some(&token),
                    Some(version),
                )
                .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 201, "{body}");
        versions.push(body["version"].as_i64().unwrap());
    }
    versions.sort();
    assert_eq!(versions, (2..=9).collect::<Vec<_>>());
    Arc::into_inner(app).unwrap().stop().await;
}

/// The nodes that claimed and handed back a run are in its audit timeline for its submitter and
/// the circuit's owner (and operators), never for anonymous viewers or other users of a public
/// circuit's run, on the API or the run page: a default node id names a host and a process.
async fn the_audit_timeline_names_no_node_to_the_public(db: TestDb) {
    use qrun::store::Change;
    const NODE: &str = "db-host-4711-beef";
    let app = TestApp::spawn(db).await;
    let fixture = app.circuit_of("alice").await;
    let (_, bob) = app.user("bob").await;
    let run = app.submit(&fixture, Some(false)).await.id;
    assert_eq!(app.claim(NODE, 1, 300).await.len(), 1);
    let handed_back = Change::HandBack { node: NODE.into() };
    app.transition(run, handed_back).await.expect("handed back");
    let audit = async |token: Option<&str>| {
        let (status, audit) = call(
            &app,
            Method::GET,
            &format!("/api/runs/{run}/audit"),
            token,
            None,
        )
        .await;
        assert_eq!(status, 200);
        audit["entries"].as_array().unwrap().clone()
    };
    for (who, token) in [("anonymous", None), ("bob", Some(bob.as_str()))] {
        let entries = audit(token).await;
        let actions: Vec<&str> = entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["run.requested", "run.started", "run.handed_back"]);
        for entry in &entries {
            assert!(entry["metadata"].get("node").is_none(), "{who}: {entry}");
        }
        assert!(!Value::Array(entries).to_string().contains(NODE), "{who}");
        let page = format!("/alice/bell/runs/{run}");
        let (status, html) = app.page(&page, token, None).await;
        assert_eq!(status, 200);
        assert!(!html.contains(NODE), "{who}'s run page names the node");
    }
    let entries = audit(Some(&fixture.token)).await;
    assert_eq!(entries[1]["metadata"]["node"], NODE);
    assert_eq!(entries[2]["metadata"]["node"], NODE);
    let (_, html) = app
        .page(
            &format!("/alice/bell/runs/{run}"),
            Some(&fixture.token),
            None,
        )
        .await;
    assert!(html.contains(NODE), "the owner's run page names the node");
    app.stop().await;
}

on_both_databases!(
    the_audit_timeline_names_no_node_to_the_public,
    concurrent_versions_get_consecutive_numbers,
    a_private_runs_events_accept_the_owners_page_cookie,
    a_run_goes_through_every_route,
    visibility_matrix_holds_on_every_route,
    consent_header_decides_analytics,
    an_idempotency_key_creates_one_run_even_under_concurrent_duplicates,
    listing_pages_are_stable_and_filtered,
    the_health_report_counts_without_ids,
    a_revoked_token_is_refused,
);

/// `GET /api/backends` (public) lists every configured backend with what a client needs to
/// build its target: formats, limits, native gates, run options.
#[tokio::test]
async fn the_backends_say_what_they_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut aer = crate::helpers::sleepy_backend(dir.path(), "aer", 0.0);
    if let qrun::config::BackendConfig::Command {
        formats,
        max_qubits,
        native_gates,
        options,
        ..
    } = &mut aer
    {
        *formats = vec!["python".into(), "openqasm3".into()];
        *max_qubits = Some(26);
        *native_gates = vec!["cx".into(), "rz".into(), "sx".into(), "x".into()];
        *options = vec!["method".into(), "noise_model".into()];
    }
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        |c| c.backends.push(aer),
        qrun::app::Hooks::default(),
    )
    .await;
    let response = http().get(app.url("/api/backends")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let backends = body["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 2, "{body}");
    let simulator = &backends[0];
    assert_eq!(
        (&simulator["type"], &simulator["name"]),
        (&json!("simulator"), &json!("statevector"))
    );
    assert_eq!(simulator["formats"], json!(["openqasm2", "openqasm3"]));
    // The widest circuit by any method: a Clifford one on the stabilizer.
    assert_eq!(
        (&simulator["max_qubits"], &simulator["max_shots"]),
        (&json!(10000), &json!(100000))
    );
    assert_eq!(
        simulator["methods"],
        json!([
            {"name": "statevector", "max_qubits": 24},
            {"name": "stabilizer", "max_qubits": 10000},
        ])
    );
    let gates: Vec<&str> = simulator["native_gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    for gate in ["h", "cx", "rz", "u", "ccx", "measure"] {
        assert!(gates.contains(&gate), "{gate}: {gates:?}");
    }
    assert_eq!(simulator["options"], json!(["method", "precision"]));
    assert_eq!(
        backends[1],
        json!({"type": "command", "name": "aer", "formats": ["python", "openqasm3"],
               "max_qubits": 26, "methods": [], "max_shots": 100000,
               "native_gates": ["cx", "rz", "sx", "x"], "options": ["method", "noise_model"]})
    );
    app.stop().await;
}

/// A run's `seed` makes its counts reproducible; one outside 0..=2^63-1 is refused.
#[tokio::test]
async fn a_seed_makes_a_run_reproducible() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        crate::helpers::executing,
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let submit = |seed: Value| {
        let request = http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .json(&json!({"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"},
                          "shots": 1000, "seed": seed}));
        async move { request.send().await.unwrap() }
    };
    let mut counts = Vec::new();
    for seed in [json!(7), json!(7), json!(8)] {
        let response = submit(seed.clone()).await;
        assert_eq!(response.status(), 201);
        let run: Value = response.json().await.unwrap();
        assert_eq!(run["seed"], seed);
        let done = app.wait_terminal(run["id"].as_str().unwrap()).await;
        counts.push(done["results"]["counts"].clone());
    }
    assert_eq!(counts[0], counts[1], "the same seed, the same counts");
    assert_ne!(counts[0], counts[2], "another seed, other counts");
    for (bad, code) in [
        (json!(-1), "invalid_seed"),
        (json!(9_223_372_036_854_775_808_u64), "invalid_body"),
        (json!("7"), "invalid_body"),
    ] {
        let response = submit(bad.clone()).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{bad}: {body}");
    }
    app.stop().await;
}
