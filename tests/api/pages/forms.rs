//! The console's forms, on both databases, as a browser posts them: the run form (303 to the
//! new run, idempotent, refusals shown again in the form), "Cancel" and "Run again" on the run
//! page, the consent banner and what it changes (the consent stamped on a run exactly as
//! `X-Analytics-Consent` would stamp it; `run_viewed_shared_link` once per run per browser
//! session, never without consent), and cross-origin posts refused.

use std::collections::{BTreeMap, BTreeSet};

use qrun::app::Hooks;
use qrun::config::{BackendConfig, Config};
use qrun::domain::{RUN_VIEWED, RunStatus};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Browser, TestApp, TestDb, not_delivering, sleepy_backend};
use crate::on_both_databases;

/// The run id a redirect to a run page names.
fn run_of(location: Option<&str>, circuit: &str) -> Uuid {
    let location = location.expect("a redirect");
    location
        .strip_prefix(&format!("/{circuit}/runs/"))
        .unwrap_or_else(|| panic!("not a run page of {circuit}: {location}"))
        .parse()
        .unwrap()
}

/// An application with an extra command backend that runs Python sources only.
async fn app_with_python_backend(db: TestDb) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut python = sleepy_backend(dir.path(), "py", 0.0);
    if let BackendConfig::Command { formats, .. } = &mut python {
        *formats = vec!["python".into()];
    }
    let app = TestApp::spawn_with(
        db,
        |c: &mut Config| c.backends.push(python),
        Hooks::default(),
    )
    .await;
    (app, dir)
}

async fn the_run_form_makes_a_run_and_shows_a_refusal_in_the_form(db: TestDb) {
    let (app, _dir) = app_with_python_backend(db).await;
    let (_, alice) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "secret", "private").await;
    let browser = app.browser().signed_in(&bob_token).await;

    let form = [
        ("version", "1"),
        ("backend", "simulator/statevector"),
        ("shots", "100"),
        ("key", "form-1"),
    ];
    let made = browser.post("/alice/bell/runs", &form).await;
    assert_eq!(made.status, 303, "{}", made.html);
    let id = run_of(made.location.as_deref(), "alice/bell");
    let run = app.store().run(id).await.unwrap().expect("the run exists");
    assert_eq!(
        (run.user_id, run.spec.shots, run.status),
        (bob.id, 100, RunStatus::Pending)
    );
    assert_eq!(
        (run.spec.backend_type.as_str(), run.spec.circuit_version),
        ("simulator", 1)
    );
    // The same form posted again (a double click) is the same run.
    let again = browser.post("/alice/bell/runs", &form).await;
    assert_eq!(run_of(again.location.as_deref(), "alice/bell"), id);

    // The run page offers Cancel (the submitter's) and Run again, which makes a new run.
    let page = browser.get(&format!("/alice/bell/runs/{id}")).await;
    assert!(
        page.html
            .contains(&format!(r#"action="/alice/bell/runs/{id}/cancel""#)),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains(r#"<input type="hidden" name="backend" value="simulator/statevector">"#)
    );
    let rerun = browser
        .post(
            "/alice/bell/runs",
            &[
                ("version", "1"),
                ("backend", "simulator/statevector"),
                ("shots", "100"),
                ("key", "form-2"),
            ],
        )
        .await;
    let second = run_of(rerun.location.as_deref(), "alice/bell");
    assert_ne!(second, id);

    // Refusals: the circuit page again, with the form as posted and the reason.
    for (fields, status, reason) in [
        (
            vec![("backend", "simulator/statevector"), ("shots", "0")],
            400,
            "shots must be between 1 and",
        ),
        (
            vec![("backend", "command/py"), ("shots", "10")],
            400,
            "does not execute openqasm2 circuits",
        ),
        (
            vec![("backend", "simulator/nope"), ("shots", "10")],
            400,
            "no backend `simulator/nope`",
        ),
        (
            vec![("backend", "simulator/statevector"), ("shots", "ten")],
            400,
            "shots must be a whole number",
        ),
        (
            vec![
                ("backend", "simulator/statevector"),
                ("shots", "10"),
                ("param.theta", "0.5"),
            ],
            400,
            "an OpenQASM 2 circuit has no parameters; got theta",
        ),
        (
            vec![
                ("backend", "simulator/statevector"),
                ("shots", "10"),
                ("key", "form-1"),
            ],
            422,
            "Idempotency-Key was already used",
        ),
    ] {
        let answer = browser.post("/alice/bell/runs", &fields).await;
        assert_eq!(answer.status, status, "{fields:?}: {}", answer.html);
        assert!(
            answer.html.contains(r#"role="alert">"#) && answer.html.contains(reason),
            "{fields:?}: {}",
            answer.html
        );
        assert!(
            answer.html.contains(r#"id="run-form""#)
                && answer.html.contains("<code>OPENQASM 2.0;</code>")
        );
        let shots = fields.iter().find(|(k, _)| *k == "shots").unwrap().1;
        assert!(
            answer.html.contains(&format!(
                r#"name="shots" min="1" max="100000" value="{shots}""#
            )),
            "{fields:?}"
        );
    }
    // A version the circuit does not have, and a circuit one may not see: the API's 404,
    // identical for a private circuit and for none at all.
    let answer = browser
        .post(
            "/alice/bell/runs",
            &[
                ("version", "9"),
                ("backend", "simulator/statevector"),
                ("shots", "1"),
            ],
        )
        .await;
    assert_eq!(answer.status, 404);
    let fields = [("backend", "simulator/statevector"), ("shots", "1")];
    let hidden = browser.post("/alice/secret/runs", &fields).await;
    let missing = browser.post("/alice/nothing/runs", &fields).await;
    assert_eq!((hidden.status, &hidden.html), (404, &missing.html));
    // Without a session, or with a bad one: 401, nothing made.
    for stranger in [
        app.browser(),
        app.browser().with_cookie("qrun_token", "qrun_forged"),
    ] {
        assert_eq!(stranger.post("/alice/bell/runs", &fields).await.status, 401);
    }
    assert_eq!(
        runs_of(&app, &bob_token).await,
        2,
        "only the two runs the form made"
    );
    app.stop().await;
}

/// An OpenQASM 3 circuit's `input`s are fields of its form; the run binds what they hold, and
/// "Run again" binds the same; a missing one is shown in the form.
async fn the_run_form_binds_an_openqasm3_circuits_inputs(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let rotation = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\ninput float[64] theta;\nqubit q;\nbit c;\nry(theta) q;\nc = measure q;\n";
    app.upload_as(&alice, "rotation", "public", rotation, "openqasm3")
        .await;
    let browser = app.browser().signed_in(&alice).await;
    let page = browser.get("/alice/rotation").await;
    assert!(
        page.html
            .contains(r#"<input type="text" inputmode="decimal" name="param.theta" required>"#),
        "{}",
        page.html
    );
    assert!(page.html.contains("float[64]"));
    let made = browser
        .post(
            "/alice/rotation/runs",
            &[
                ("backend", "simulator/statevector"),
                ("shots", "10"),
                ("param.theta", "0.5"),
            ],
        )
        .await;
    let id = run_of(made.location.as_deref(), "alice/rotation");
    let run = app.store().run(id).await.unwrap().unwrap();
    assert_eq!(
        run.spec.parameters,
        BTreeMap::from([("theta".to_owned(), 0.5)])
    );
    let page = browser.get(&format!("/alice/rotation/runs/{id}")).await;
    assert!(
        page.html
            .contains(r#"<input type="hidden" name="param.theta" value="0.5">"#),
        "{}",
        page.html
    );
    // The run page shows the values it ran with (issue 15).
    assert!(
        page.html
            .contains(r#"<dt>parameters</dt><dd class="mono">theta = 0.5</dd>"#),
        "{}",
        page.html
    );
    let again = browser
        .post(
            "/alice/rotation/runs",
            &[
                ("backend", "simulator/statevector"),
                ("shots", "10"),
                ("param.theta", "0.5"),
            ],
        )
        .await;
    let second = run_of(again.location.as_deref(), "alice/rotation");
    assert_eq!(
        app.store()
            .run(second)
            .await
            .unwrap()
            .unwrap()
            .spec
            .parameters,
        run.spec.parameters
    );
    let missing = browser
        .post(
            "/alice/rotation/runs",
            &[("backend", "simulator/statevector"), ("shots", "10")],
        )
        .await;
    assert_eq!(missing.status, 400);
    assert!(
        missing.html.contains("missing parameter 'theta'"),
        "{}",
        missing.html
    );
    app.stop().await;
}

/// How many runs `token`'s user has.
async fn runs_of(app: &TestApp, token: &str) -> usize {
    let page: Value = crate::helpers::http()
        .get(app.url("/api/runs?limit=100"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["runs"].as_array().unwrap().len()
}

async fn cancel_on_the_run_page_is_the_submitters_while_the_run_lives(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let (_, carol) = app.user("carol").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "other", "public").await;
    let bob_browser = app.browser().signed_in(&bob_token).await;
    let made = bob_browser
        .post(
            "/alice/bell/runs",
            &[("backend", "simulator/statevector"), ("shots", "10")],
        )
        .await;
    let id = run_of(made.location.as_deref(), "alice/bell");
    let cancel = format!("/alice/bell/runs/{id}/cancel");

    // Someone else sees no button and is refused; so is a stranger, and the wrong path.
    let carol_browser = app.browser().signed_in(&carol).await;
    let page = carol_browser.get(&format!("/alice/bell/runs/{id}")).await;
    assert!(!page.html.contains("Cancel run") && page.html.contains("Run again"));
    assert_eq!(carol_browser.post(&cancel, &[]).await.status, 403);
    assert_eq!(app.browser().post(&cancel, &[]).await.status, 401);
    let elsewhere = bob_browser
        .post(&format!("/alice/other/runs/{id}/cancel"), &[])
        .await;
    assert_eq!(elsewhere.status, 404);
    let malformed = bob_browser
        .post("/alice/bell/runs/not-a-run/cancel", &[])
        .await;
    assert_eq!(malformed.status, 404);
    assert_eq!(
        app.store().run(id).await.unwrap().unwrap().status,
        RunStatus::Pending
    );

    // The submitter cancels: back to the run page, which says so and offers it no more.
    let answer = bob_browser.post(&cancel, &[]).await;
    assert_eq!(
        (answer.status, answer.location),
        (303, Some(format!("/alice/bell/runs/{id}")))
    );
    let page = bob_browser.get(&format!("/alice/bell/runs/{id}")).await;
    assert!(
        page.html.contains(r#"class="badge s-cancelled""#) && page.html.contains(" by bob."),
        "{}",
        page.html
    );
    assert!(!page.html.contains("Cancel run"));
    let audit = app.store().audit_timeline(id).await.unwrap();
    let cancelled = audit
        .iter()
        .find(|e| e.action == "run.cancelled")
        .expect("audited");
    assert_eq!(cancelled.metadata["by"], "user");
    assert_eq!(cancelled.metadata["cancelled_by"], bob.id.to_string());
    // Once ended, a cancel is the API's 409.
    let late = bob_browser.post(&cancel, &[]).await;
    assert_eq!(late.status, 409, "{}", late.html);
    assert!(late.html.contains("the run is already cancelled"));
    app.stop().await;
}

async fn cross_origin_form_posts_are_refused(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let id = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let browser = app.browser().signed_in(&alice).await;
    for origin in [
        "https://evil.example",
        "null",
        &format!("http://{}.evil.example", app.app.addr()),
    ] {
        let posts: [(String, Vec<(&str, &str)>); 3] = [
            (
                "/alice/bell/runs".into(),
                vec![("backend", "simulator/statevector"), ("shots", "10")],
            ),
            (format!("/alice/bell/runs/{id}/cancel"), vec![]),
            (
                "/consent".into(),
                vec![("choice", "granted"), ("next", "/")],
            ),
        ];
        for (path, form) in posts {
            let answer = browser.post_from(origin, &path, &form).await;
            assert_eq!(answer.status, 403, "{origin} {path}: {}", answer.html);
            assert!(answer.html.contains("cross-origin form posts are refused"));
        }
    }
    assert_eq!(browser.cookie("qrun_consent"), None, "no cookie was set");
    assert_eq!(runs_of(&app, &alice).await, 1, "no run was made");
    assert_eq!(
        app.store().run(id).await.unwrap().unwrap().status,
        RunStatus::Pending
    );
    // The same posts from the site itself go through.
    assert_eq!(
        browser
            .post(&format!("/alice/bell/runs/{id}/cancel"), &[])
            .await
            .status,
        303
    );
    app.stop().await;
}

/// The lifecycle events in the outbox for `run`.
async fn lifecycle_events(app: &TestApp, run: Uuid) -> BTreeSet<String> {
    app.store()
        .outbox_for_run(run)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .filter(|e| e != RUN_VIEWED)
        .collect()
}

async fn the_banners_choice_is_stamped_on_a_run_exactly_as_the_header_would_be(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let circuit = app.create_circuit(&alice, "bell", "public").await;
    let circuit_id = circuit["id"].as_str().unwrap();
    // The banner shows until a choice is made, then the footer says which.
    let browser = app.browser().signed_in(&alice).await;
    let page = browser.get("/alice/bell").await;
    assert!(page.html.contains(r#"id="consent""#) && page.html.contains("not chosen, so declined"));
    let chosen = browser
        .post(
            "/consent",
            &[("choice", "granted"), ("next", "/alice/bell")],
        )
        .await;
    assert_eq!(
        (chosen.status, chosen.location.as_deref()),
        (303, Some("/alice/bell"))
    );
    assert_eq!(browser.cookie("qrun_consent").as_deref(), Some("granted"));
    let page = browser.get("/alice/bell").await;
    assert!(
        !page.html.contains(r#"id="consent""#)
            && page.html.contains("Analytics: <strong>allowed</strong>")
    );
    assert_eq!(
        browser
            .post("/consent", &[("choice", "maybe")])
            .await
            .status,
        400
    );
    let off_site = browser
        .post(
            "/consent",
            &[("choice", "denied"), ("next", "https://evil.example")],
        )
        .await;
    assert_eq!(off_site.location.as_deref(), Some("/"));

    // The cookie's value read exactly as the header's: the same consent, the same events.
    for value in [
        None,
        Some("denied"),
        Some("granted"),
        Some("GRANTED"),
        Some("yes"),
    ] {
        let mut browser = app.browser().signed_in(&alice).await;
        if let Some(value) = value {
            browser = browser.with_cookie("qrun_consent", value);
        }
        let made = browser
            .post(
                "/alice/bell/runs",
                &[("backend", "simulator/statevector"), ("shots", "100")],
            )
            .await;
        let by_page = run_of(made.location.as_deref(), "alice/bell");
        // The header refuses what it does not know (400); the cookie then records nothing.
        let header = match value {
            Some("yes") => None,
            other => other,
        };
        let headers: Vec<(&str, &str)> = header
            .map(|v| ("X-Analytics-Consent", v))
            .into_iter()
            .collect();
        let response = app.submit_http(&alice, circuit_id, &headers).await;
        assert_eq!(response.status(), 201);
        let by_api: Uuid = response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let page_run = app.store().run(by_page).await.unwrap().unwrap();
        let api_run = app.store().run(by_api).await.unwrap().unwrap();
        assert_eq!(
            page_run.spec.analytics_consent, api_run.spec.analytics_consent,
            "{value:?}"
        );
        let granted = matches!(value, Some("granted" | "GRANTED"));
        assert_eq!(page_run.spec.analytics_consent, Some(granted), "{value:?}");
        assert_eq!(
            lifecycle_events(&app, by_page).await,
            lifecycle_events(&app, by_api).await,
            "{value:?}"
        );
        assert_eq!(
            lifecycle_events(&app, by_page)
                .await
                .contains("run_requested"),
            granted,
            "{value:?}"
        );
    }
    app.stop().await;
}

/// The view events in the outbox for `run`.
async fn views(app: &TestApp, run: Uuid) -> Vec<qrun::domain::OutboxEvent> {
    app.store()
        .outbox_for_run(run)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == RUN_VIEWED)
        .collect()
}

/// Views `run`'s page `times` times.
async fn view(browser: &Browser<'_>, run: Uuid, times: usize) {
    for _ in 0..times {
        let page = browser.get(&format!("/alice/bell/runs/{run}")).await;
        assert_eq!(page.status, 200, "{}", page.html);
    }
}

async fn a_run_page_view_is_recorded_once_per_run_per_session_and_never_without_consent(
    db: TestDb,
) {
    // The test delivers the outbox itself.
    let app = TestApp::spawn_with(db, not_delivering, Hooks::default()).await;
    let (alice, alice_token) = app.user("alice").await;
    let (bob, bob_token) = app.user("bob").await;
    let circuit = app.create_circuit(&alice_token, "bell", "public").await;
    app.create_circuit(&alice_token, "secret", "private").await;
    // A run whose submitter did not consent: a viewer's consent is the viewer's own.
    let unconsented = app
        .submit_run(&alice_token, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let response = app
        .submit_http(
            &alice_token,
            circuit["id"].as_str().unwrap(),
            &[("X-Analytics-Consent", "granted")],
        )
        .await;
    let consented: Uuid = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let secret = app
        .submit_run(
            &alice_token,
            "alice/secret",
            ("simulator", "statevector"),
            10,
        )
        .await;

    // No choice, declined, or something else: nothing, and no session.
    for browser in [
        app.browser(),
        app.browser().with_cookie("qrun_consent", "denied"),
        app.browser().with_cookie("qrun_consent", "yes"),
        app.browser()
            .signed_in(&bob_token)
            .await
            .with_cookie("qrun_consent", "denied"),
    ] {
        view(&browser, unconsented, 2).await;
        assert_eq!(browser.cookie("qrun_session"), None);
    }
    assert!(views(&app, unconsented).await.is_empty());

    // An anonymous visitor who consented: one event however often it looks, in its session.
    let anonymous = app.browser().with_cookie("qrun_consent", "granted");
    view(&anonymous, unconsented, 3).await;
    let session = anonymous.cookie("qrun_session").expect("a session began");
    let recorded = views(&app, unconsented).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].distinct_id, session);
    assert_eq!(recorded[0].properties["run_id"], unconsented.to_string());
    assert_eq!(recorded[0].properties["signed_in"], false);
    assert_eq!(recorded[0].properties["run_status"], "pending");
    // Another run in the same session: its own event; a HEAD records nothing.
    view(&anonymous, consented, 2).await;
    assert_eq!(views(&app, consented).await.len(), 1);
    let fresh = Uuid::new_v4().to_string();
    let head = no_redirect_head(&app, &format!("/alice/bell/runs/{unconsented}"), &fresh).await;
    assert_eq!(head, 200);
    assert_eq!(views(&app, unconsented).await.len(), 1);

    // A signed-in visitor who consented, in a new session: a second event, under their id.
    let signed_in = app
        .browser()
        .signed_in(&bob_token)
        .await
        .with_cookie("qrun_consent", "granted");
    view(&signed_in, unconsented, 2).await;
    let recorded = views(&app, unconsented).await;
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded
            .iter()
            .any(|e| e.distinct_id == bob.id.to_string() && e.properties["signed_in"] == true)
    );
    // A page one may not see records nothing.
    let hidden = signed_in.get(&format!("/alice/secret/runs/{secret}")).await;
    assert_eq!(hidden.status, 404);
    assert!(views(&app, secret).await.is_empty());
    // Declining ends the session.
    signed_in
        .post("/consent", &[("choice", "denied"), ("next", "/")])
        .await;
    assert_eq!(signed_in.cookie("qrun_session"), None);

    // `qrun verify` holds with view events, on runs with and without their submitter's consent,
    // and after delivery and pruning (view events go once delivered; later views come back).
    let report = app.store().verify().await.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    app.transition(
        consented,
        qrun::store::Change::Cancel {
            by: qrun::store::Canceller::User(alice.id),
        },
    )
    .await
    .unwrap();
    // Everything due, delivered.
    let due = app.store().take_outbox(1000).await.unwrap();
    let ids: Vec<Uuid> = due.events().iter().map(|e| e.id).collect();
    for run in [unconsented, consented] {
        assert!(due.events().iter().any(|e| e.run_id == run));
    }
    due.delivered(&ids).await.unwrap();
    due.finish().await.unwrap();
    let pruned = app
        .store()
        .prune_outbox(chrono::TimeDelta::hours(-1))
        .await
        .unwrap();
    assert_eq!(pruned, 1, "the consented run's lifecycle events");
    assert!(
        app.store()
            .outbox_for_run(unconsented)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.store()
            .outbox_for_run(consented)
            .await
            .unwrap()
            .is_empty()
    );
    view(&anonymous, consented, 1).await;
    assert_eq!(views(&app, consented).await.len(), 1);
    let report = app.store().verify().await.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    app.stop().await;
}

/// A HEAD of `path` in browser session `session` with consent; its status.
async fn no_redirect_head(app: &TestApp, path: &str, session: &str) -> u16 {
    crate::helpers::no_redirects()
        .head(app.url(path))
        .header(
            "cookie",
            format!("qrun_consent=granted; qrun_session={session}"),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_databases!(
    the_run_form_makes_a_run_and_shows_a_refusal_in_the_form,
    the_run_form_binds_an_openqasm3_circuits_inputs,
    cancel_on_the_run_page_is_the_submitters_while_the_run_lives,
    cross_origin_form_posts_are_refused,
    the_banners_choice_is_stamped_on_a_run_exactly_as_the_header_would_be,
    a_run_page_view_is_recorded_once_per_run_per_session_and_never_without_consent,
);
