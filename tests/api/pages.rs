//! The HTML pages on the rendered output: badges per status, the histogram, escaping, the
//! visibility rules (404s, the submitter hidden from anonymous visitors), the circuit index,
//! the login cookie; the console's pages (`console`) and forms (`forms`); and (in `browser`)
//! the console in headless Chromium.

mod a11y;
mod admin;
mod browser;
mod circuits;
mod console;
mod forms;
mod run_page;
mod tokens;

use qrun::app::Hooks;
use std::collections::BTreeMap;

use qrun::config::{BackendConfig, Config};
use qrun::domain::{ErrorClass, ErrorStage, Failure, RunResults, RunStatus};
use qrun::store::{Canceller, Change, FailCause};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, http};
use crate::on_both_databases;

/// An application that executes runs, with `backends` added to the configured ones.
async fn executing(db: TestDb, backends: Vec<BackendConfig>) -> TestApp {
    TestApp::spawn_with(
        db,
        |config: &mut Config| {
            crate::helpers::executing(config);
            config.backends.extend(backends);
        },
        Hooks::default(),
    )
    .await
}

/// A command backend that runs `body` (a shell script) on the job.
fn shell_backend(dir: &std::path::Path, name: &str, body: &str) -> BackendConfig {
    crate::helpers::open_to_programs(dir);
    let script = dir.join(format!("{name}.sh"));
    std::fs::write(&script, format!("#!/bin/sh\ncat >/dev/null\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    BackendConfig::Command {
        name: name.into(),
        program: script,
        args: vec![],
        formats: vec!["openqasm2".into()],
        timeout_s: 60,
        max_shots: 100_000,
        max_source_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
        max_qubits: None,
        native_gates: Vec::new(),
        options: Vec::new(),
        warm: 0,
        sandbox: qrun::config::SandboxConfig {
            read_only_paths: vec![dir.to_owned()],
            ..Default::default()
        },
    }
}

fn bell_results() -> RunResults {
    RunResults {
        counts: BTreeMap::from([("00".to_owned(), 51), ("11".to_owned(), 49)]),
        shots: 100,
        execution_time: 0.002,
        unique_states: 2,
        method: None,
        precision: None,
    }
}

async fn every_status_has_its_badge_and_the_submitter_is_hidden_from_anonymous(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let (_, carol) = app.user("carol").await;
    let alice_session = app.session(&alice).await;
    app.create_circuit(&alice, "bell", "public").await;
    let new_run = || app.submit_run(&bob_token, "alice/bell", ("simulator", "statevector"), 100);
    // Three runs claimed (the only way a run starts), then two that stay pending.
    let running = new_run().await;
    let completed = new_run().await;
    let failed = new_run().await;
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    let pending = new_run().await;
    let cancelled = new_run().await;
    let complete = Change::Complete {
        results: bell_results(),
        memory: None,
    };
    app.transition(completed, complete).await.unwrap();
    let failure = Failure::new(
        ErrorClass::BackendError,
        ErrorStage::Execute,
        "the backend fell over",
    );
    let fail = Change::Fail {
        failure,
        cause: FailCause::Executor,
    };
    app.transition(failed, fail).await.unwrap();
    app.transition(
        cancelled,
        Change::Cancel {
            by: Canceller::User(bob.id),
        },
    )
    .await
    .unwrap();

    for (id, status) in [
        (pending, "pending"),
        (running, "running"),
        (completed, "completed"),
        (failed, "failed"),
        (cancelled, "cancelled"),
    ] {
        let path = format!("/alice/bell/runs/{id}");
        let (code, html) = app.page(&path, None, None).await;
        assert_eq!(code, 200, "{status}: {html}");
        assert!(
            html.contains(&format!(
                r#"<span id="status" class="badge s-{status}" data-run="{id}">{status}</span>"#
            )),
            "{status}: {html}"
        );
        for fact in [
            "qiskit",
            "simulator/statevector",
            "queue wait",
            "duration",
            "Timeline",
            "run.requested",
        ] {
            assert!(html.contains(fact), "{status} lacks {fact}");
        }
        // Live only while non-terminal; complete without the script either way.
        let live = format!(r#"data-events="/api/runs/{id}/events""#);
        assert_eq!(
            html.contains(&live),
            matches!(status, "pending" | "running"),
            "{status}"
        );
        // The page script is on every page (it localizes times); live or not is `data-events`.
        assert_eq!(html.matches("<script>").count(), 1, "{status}");
        // Anonymous: neither the submitter's handle nor their id, anywhere (timeline included).
        assert!(
            !html.contains("submitted by") && !html.contains("bob"),
            "{status}: {html}"
        );
        assert!(!html.contains(&bob.id.to_string()), "{status}");
        // Another signed-in user is no better off; the submitter and the owner see who.
        let (_, as_carol) = app.page(&path, Some(&carol), None).await;
        assert!(!as_carol.contains("bob") && !as_carol.contains(&bob.id.to_string()));
        for (bearer, cookie) in [
            (Some(bob_token.as_str()), None),
            (None, Some(alice_session.as_str())),
        ] {
            let (_, html) = app.page(&path, bearer, cookie).await;
            assert!(
                html.contains("<dt>submitted by</dt><dd>bob</dd>"),
                "{status}: {html}"
            );
        }
    }

    let (_, html) = app
        .page(&format!("/alice/bell/runs/{completed}"), None, None)
        .await;
    assert_eq!(html.matches(r#"<rect class="bar""#).count(), 2, "{html}");
    assert!(html.contains(r#"data-outcome="00""#) && html.contains(r#"data-outcome="11""#));
    assert!(html.contains("<title>00: 51 (51.00%)</title>") && !html.contains("other ("));

    let (_, html) = app
        .page(&format!("/alice/bell/runs/{failed}"), None, None)
        .await;
    for text in ["backend_error", "execute", "the backend fell over"] {
        assert!(html.contains(text), "failed page lacks {text}");
    }
    assert!(!html.contains("<svg"));

    let (_, html) = app
        .page(&format!("/alice/bell/runs/{cancelled}"), None, None)
        .await;
    assert!(
        html.contains("Cancelled at <time") && !html.contains(" by bob"),
        "{html}"
    );
    let (_, html) = app
        .page(
            &format!("/alice/bell/runs/{cancelled}"),
            Some(&bob_token),
            None,
        )
        .await;
    assert!(html.contains(" by bob."), "{html}");
    app.stop().await;
}

async fn hostile_backend_output_is_escaped(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let hostile = shell_backend(
        dir.path(),
        "hostile",
        "echo '<script>alert(1)</script><img src=x onerror=alert(2)>' >&2\nexit 3",
    );
    let app = executing(db, vec![hostile]).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let id = app
        .submit_run(&alice, "alice/bell", ("command", "hostile"), 10)
        .await;
    let run = app.wait_status(id, RunStatus::Failed).await;
    assert!(
        run["error_message"]
            .as_str()
            .unwrap()
            .contains("<script>alert(1)</script>")
    );

    let (code, html) = app
        .page(&format!("/alice/bell/runs/{id}"), None, None)
        .await;
    assert_eq!(code, 200);
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{html}"
    );
    // No tag of the message survived: the page's own script is the only one.
    assert!(
        html.matches("<script").count() == 1 && !html.contains("<img"),
        "{html}"
    );
    app.stop().await;
}

/// Seven qubits in superposition: 128 outcomes, so 64 bars and one "other" for the rest.
async fn many_outcomes_share_an_other_bar(db: TestDb) {
    let app = executing(db, vec![]).await;
    let (_, alice) = app.user("alice").await;
    let source =
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[7];\ncreg c[7];\nh q;\nmeasure q -> c;\n";
    app.upload(&alice, "wide", "public", source).await;
    let id = app
        .submit_run(&alice, "alice/wide", ("simulator", "statevector"), 20_000)
        .await;
    let run = app.wait_status(id, RunStatus::Completed).await;
    let outcomes = run["results"]["counts"].as_object().unwrap().len();
    assert!(outcomes > 64, "{outcomes}");

    let (_, html) = app
        .page(&format!("/alice/wide/runs/{id}"), None, None)
        .await;
    assert_eq!(html.matches(r#"<rect class="bar""#).count(), 64);
    assert_eq!(html.matches(r#"<rect class="bar other""#).count(), 1);
    assert!(
        html.contains(&format!("other ({} outcomes)", outcomes - 64)),
        "{html}"
    );
    app.stop().await;
}

async fn private_wrong_and_malformed_paths_are_404(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "secret", "private").await;
    let secret = app
        .submit_run(&alice, "alice/secret", ("simulator", "statevector"), 100)
        .await;
    let public = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100)
        .await;
    let path = format!("/alice/secret/runs/{secret}");

    // The owner sees it, by header or by cookie; nobody else learns it exists.
    let (alice_session, bob_session) = (app.session(&alice).await, app.session(&bob).await);
    assert_eq!(app.page(&path, Some(&alice), None).await.0, 200);
    assert_eq!(app.page(&path, None, Some(&alice_session)).await.0, 200);
    // The cookie holds a session: an API token there is no credential at all.
    assert_eq!(app.page(&path, None, Some(&alice)).await.0, 401);
    for (bearer, cookie) in [
        (None, None),
        (Some(bob.as_str()), None),
        (None, Some(bob_session.as_str())),
    ] {
        let (code, html) = app.page(&path, bearer, cookie).await;
        assert_eq!(code, 404, "{bearer:?} {cookie:?}");
        assert!(html.contains("404 Not Found") && !html.contains(&secret.to_string()));
    }
    for wrong in [
        format!("/bob/secret/runs/{secret}"),
        format!("/alice/bell/runs/{secret}"),
        format!("/alice/secret/runs/{public}"),
        format!("/alice/bell/runs/{}", Uuid::now_v7()),
        "/alice/bell/runs/not-a-uuid".to_owned(),
        "/nobody/nothing".to_owned(),
    ] {
        assert_eq!(app.page(&wrong, Some(&alice), None).await.0, 404, "{wrong}");
    }
    // The private circuit's index: its owner only.
    assert_eq!(app.page("/alice/secret", None, None).await.0, 404);
    assert_eq!(app.page("/alice/secret", Some(&bob), None).await.0, 404);
    let (code, html) = app.page("/alice/secret", Some(&alice), None).await;
    assert_eq!(code, 200);
    assert!(html.contains(&format!(r#"href="/alice/secret/runs/{secret}""#)));

    // A bad token is 401 (and drops the cookie), not a silent anonymous view.
    let response = http()
        .get(app.url(&format!("/alice/bell/runs/{public}")))
        .header("cookie", "qrun_token=qrun_revoked")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );

    // The API keeps its paths and its JSON errors.
    for (path, status, code) in [
        ("/api/runs", 401, "unauthorized"),
        ("/api/nothing", 404, "route_not_found"),
        ("/api/circuits/runs/bell", 404, "not_found"),
    ] {
        let response = http().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}");
    }
    app.stop().await;
}

async fn the_circuit_index_lists_recent_runs_newest_first(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "other", "public").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100)
                .await,
        );
    }
    let elsewhere = app
        .submit_run(&alice, "alice/other", ("simulator", "statevector"), 100)
        .await;
    let (code, html) = app.page("/alice/bell", None, None).await;
    assert_eq!(code, 200);
    let positions: Vec<usize> = ids
        .iter()
        .map(|id| {
            html.find(&format!(r#"href="/alice/bell/runs/{id}""#))
                .expect("listed")
        })
        .collect();
    assert!(
        positions[2] < positions[1] && positions[1] < positions[0],
        "{positions:?}"
    );
    assert!(!html.contains(&elsewhere.to_string()));
    assert!(html.contains(r#"class="badge s-pending""#));
    app.stop().await;
}

on_both_databases!(
    every_status_has_its_badge_and_the_submitter_is_hidden_from_anonymous,
    hostile_backend_output_is_escaped,
    many_outcomes_share_an_other_bar,
    private_wrong_and_malformed_paths_are_404,
    the_circuit_index_lists_recent_runs_newest_first,
);

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_refuses_other_origins() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, alice) = app.user("alice").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, body: String, origin: Option<String>| {
        let mut request = client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let own_origin = Some(format!("http://{}", app.app.addr()));

    let response = post(
        "/login",
        format!("token={alice}&next=%2Falice%2Fbell"),
        own_origin.clone(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/alice/bell");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let session = cookie
        .strip_prefix("qrun_token=")
        .and_then(|rest| rest.strip_suffix("; Path=/; HttpOnly; SameSite=Strict"))
        .unwrap_or_else(|| panic!("{cookie}"));
    assert!(
        session.starts_with("qrun_s_") && !cookie.contains(alice.as_str()),
        "the cookie holds a session of its own, never the token: {cookie}"
    );

    let response = post("/login", "token=qrun_wrong".into(), None)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());

    let evil = Some("https://evil.example".to_owned());
    let response = post("/login", format!("token={alice}"), evil.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(
        post("/logout", String::new(), evil).await.unwrap().status(),
        403
    );

    let (code, html) = app.page("/login", None, Some(session)).await;
    assert_eq!(code, 200);
    assert!(html.contains("logged in as <strong>alice</strong>"));

    let response = post("/logout", String::new(), own_origin).await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    app.stop().await;
}

#[test]
fn metrics_label_pages_with_their_templates_and_the_api_first() {
    use qrun::http::route_template;
    for (path, template) in [
        ("/alice/bell/runs/0190", "/{owner}/{circuit}/runs/{id}"),
        ("/alice/bell", "/{owner}/{circuit}"),
        ("/login", "/login"),
        ("/", "/"),
        ("/runs", "/runs"),
        ("/runs/bell", "/{owner}/{circuit}"),
        ("/consent", "/consent"),
        ("/alice/bell/runs", "/{owner}/{circuit}/runs"),
        (
            "/alice/bell/runs/0190/cancel",
            "/{owner}/{circuit}/runs/{id}/cancel",
        ),
        ("/api/runs", "/api/runs"),
        ("/api/runs/x", "/api/runs/{id}"),
        ("/api/circuits/runs/bell", "/api/circuits/{owner}/{name}"),
        ("/api/nothing", "unmatched"),
        ("/healthz", "/healthz"),
    ] {
        assert_eq!(route_template(path), template, "{path}");
    }
}
