//! The console's pages on the rendered output, on both databases: the dashboard (counts,
//! charts, no ids, moving as runs finish), "My runs" (one's own only, filters in the URL,
//! canonical URLs, cursor pages, live badges) and the circuit page (numbered source, version
//! picker, the form only to the signed in), each with the API's visibility.

use serde_json::{Value, json};
use std::collections::BTreeMap;

use qrun::app::Hooks;
use qrun::config::Config;
use qrun::domain::{ErrorClass, ErrorStage, Failure, Manifest, RunResults};
use qrun::store::{Canceller, Change, FailCause};

use crate::helpers::{SIMULATOR, TestApp, TestDb, http, sleepy_backend, wait_until};
use crate::on_both_databases;

fn results(shots: u64) -> RunResults {
    RunResults {
        counts: BTreeMap::from([
            ("00".to_owned(), shots / 2),
            ("11".to_owned(), shots - shots / 2),
        ]),
        shots,
        execution_time: 0.001,
        unique_states: 2,
        method: None,
        precision: None,
    }
}

fn fail() -> Change {
    Change::Fail {
        failure: Failure::new(ErrorClass::BackendError, ErrorStage::Execute, "it broke"),
        cause: FailCause::Executor,
    }
}

/// What each run's live badge has, and nothing else on a page (the script's selector included).
const BADGE: &str = r#"" data-run=""#;

/// The number a dashboard tile shows.
fn count(html: &str, key: &str) -> u64 {
    let marker = format!(r#"<div class="count" id="count-{key}">"#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {key} tile: {html}"))
        + marker.len();
    html[start..start + html[start..].find('<').unwrap()]
        .parse()
        .unwrap()
}

async fn the_dashboard_counts_runs_and_charts_the_last_hours_endings_without_an_id(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (alice, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let submit = || app.submit_run(&token, "alice/bell", ("simulator", "statevector"), 100);
    let (done, failed, running) = (submit().await, submit().await, submit().await);
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    let (pending, cancelled) = (submit().await, submit().await);
    app.transition(
        done,
        Change::Complete {
            results: results(100),
            memory: None,
        },
    )
    .await
    .unwrap();
    app.transition(failed, fail()).await.unwrap();
    app.transition(
        cancelled,
        Change::Cancel {
            by: Canceller::User(alice.id),
        },
    )
    .await
    .unwrap();

    let (status, html) = app.page("/", None, None).await;
    assert_eq!(status, 200, "{html}");
    for (key, n) in [
        ("pending", 1),
        ("running", 1),
        ("stranded", 0),
        ("completed", 1),
        ("failed", 1),
        ("cancelled", 1),
    ] {
        assert_eq!(count(&html, key), n, "{key}");
    }
    for title in [
        "<title>qiskit, completed: 1</title>",
        "<title>qiskit, failed: 1</title>",
        "<title>backend_error, failed: 1</title>",
        "<title>timeout, failed: 0</title>",
    ] {
        assert!(html.contains(title), "{title}: {html}");
    }
    assert!(html.contains("Oldest pending run: <strong>"), "{html}");
    // The queue per backend: the one pending run on the simulator.
    assert!(
        html.contains(r#"<td id="queue-simulator/statevector">1</td>"#),
        "{html}"
    );
    // Live (a refresh, no stream), and public counts only: no id, no handle, no circuit.
    assert!(html.contains(r#"data-refresh="3""#) && html.contains("<script>"));
    for secret in [done, failed, running, pending, cancelled]
        .map(|id| id.to_string())
        .into_iter()
        .chain([alice.id.to_string(), "alice".into(), "bell".into()])
    {
        assert!(!html.contains(&secret), "{secret} on the dashboard");
    }
    // Signed in, the same numbers and the way to one's runs.
    let session = app.session(&token).await;
    let (_, html) = app.page("/", None, Some(&session)).await;
    assert!(
        html.contains(r#"href="/runs""#) && html.contains("Signed in as <strong>alice</strong>")
    );
    assert_eq!(app.page("/", Some("qrun_forged"), None).await.0, 401);

    // The numbers move as runs finish (the snapshot is at most a couple of seconds old).
    app.transition(
        running,
        Change::Complete {
            results: results(100),
            memory: None,
        },
    )
    .await
    .unwrap();
    wait_until(
        std::time::Duration::from_secs(20),
        "the dashboard counts 2 completed",
        || async {
            let (_, html) = app.page("/", None, None).await;
            count(&html, "completed") == 2 && count(&html, "running") == 0
        },
    )
    .await;
    app.stop().await;
}

async fn my_runs_are_ones_own_filtered_in_the_url_in_cursor_pages_with_live_badges(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let other = sleepy_backend(dir.path(), "other", 0.0);
    let app = TestApp::spawn_with(
        db,
        |c: &mut Config| c.backends.push(other),
        Hooks::default(),
    )
    .await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "ghz", "public").await;
    let mut mine = Vec::new();
    for i in 0..27 {
        let (circuit, backend) = match i % 3 {
            0 => ("alice/ghz", ("simulator", "statevector")),
            1 => ("alice/bell", ("command", "other")),
            _ => ("alice/bell", ("simulator", "statevector")),
        };
        mine.push(app.submit_run(&alice, circuit, backend, 10).await);
    }
    // Three of Alice's oldest are claimed (before Bob submits: with his run waiting, fair share
    // would start it among them); one of those fails.
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    app.transition(mine[1], fail()).await.unwrap();
    let theirs = app
        .submit_run(&bob, "alice/bell", ("simulator", "statevector"), 10)
        .await;

    assert_eq!(app.page("/runs", None, None).await.0, 401);
    let browser = app.browser().signed_in(&alice).await;
    let first = browser.get("/runs").await;
    assert_eq!(first.status, 200, "{}", first.html);
    assert_eq!(first.html.matches(BADGE).count(), 25);
    assert!(
        !first.html.contains(&theirs.to_string()),
        "bob's run on alice's page"
    );
    // Newest first.
    let newest = first.html.find(&mine[26].to_string()).unwrap();
    assert!(newest < first.html.find(&mine[2].to_string()).unwrap());
    // Live: at most four streams (the newest pending runs), and a refresh for the rest.
    let streams: Vec<String> = mine[23..]
        .iter()
        .rev()
        .map(|id| format!("/api/runs/{id}/events"))
        .collect();
    assert!(
        first
            .html
            .contains(&format!(r#"data-events="{}""#, streams.join(" "))),
        "{}",
        first.html
    );
    assert!(first.html.contains(r#"data-refresh="3""#));

    // The cursor page has the two oldest and the way back; no way further.
    let start = first
        .html
        .find("href=\"/runs?cursor=")
        .expect("an older page")
        + 6;
    let older = &first.html[start..start + first.html[start..].find('"').unwrap()];
    let second = browser.get(older).await;
    assert_eq!(second.html.matches(BADGE).count(), 2, "{}", second.html);
    assert!(second.html.contains(&mine[0].to_string()) && second.html.contains("← Newest"));
    assert!(!second.html.contains("Older runs"));

    // Filters: by status, circuit and backend, each in the URL.
    for (query, expected) in [
        ("status=failed", vec![mine[1]]),
        ("status=running", vec![mine[2], mine[0]]),
        ("circuit=alice/ghz&status=running", vec![mine[0]]),
        ("backend=command/other&status=failed", vec![mine[1]]),
        ("circuit=alice/nothing", vec![]),
    ] {
        let page = browser.get(&format!("/runs?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.html);
        assert_eq!(page.html.matches(BADGE).count(), expected.len(), "{query}");
        for id in expected {
            assert!(page.html.contains(&id.to_string()), "{query}");
        }
    }
    let filtered = browser.get("/runs?backend=command/other").await;
    assert_eq!(filtered.html.matches(BADGE).count(), 9);
    assert!(
        filtered
            .html
            .contains(r#"<option value="command/other" selected>"#)
    );
    assert!(
        browser
            .get("/runs?status=completed")
            .await
            .html
            .contains("No run matches these filters.")
    );

    // Defaults and unknown keys leave the URL; a malformed value is a 400 naming it.
    for (asked, canonical) in [
        ("/runs?status=&circuit=&backend=", "/runs"),
        (
            "/runs?status=failed&circuit=&sort=asc",
            "/runs?status=failed",
        ),
        (
            "/runs?backend=command%2Fother&status=",
            "/runs?backend=command/other",
        ),
    ] {
        let answer = browser.get(asked).await;
        assert_eq!(
            (answer.status, answer.location.as_deref()),
            (303, Some(canonical)),
            "{asked}"
        );
    }
    for (query, key) in [
        ("status=Failed", "status"),
        ("circuit=bell", "circuit"),
        ("cursor=x", "cursor"),
    ] {
        let answer = browser.get(&format!("/runs?{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(
            answer.html.contains(&format!("`{key}` must be")),
            "{}",
            answer.html
        );
    }
    // A NUL (which PostgreSQL cannot store or compare) is refused at the edge, naming the key,
    // on both databases (it was a 500 on PostgreSQL).
    for (query, key) in [
        ("circuit=a%00/b", "circuit"),
        ("backend=simulator/a%00", "backend"),
        ("status=failed%00", "status"),
    ] {
        let answer = browser.get(&format!("/runs?{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(
            answer
                .html
                .contains(&format!("`{key}` contains a NUL character")),
            "{}",
            answer.html
        );
    }
    app.stop().await;
}

async fn the_circuit_page_numbers_its_source_picks_versions_and_offers_the_form_to_the_signed_in(
    db: TestDb,
) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let ghz = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n";
    let manifest = Manifest {
        framework: "qiskit".into(),
        format: "openqasm2".into(),
    };
    app.store()
        .add_circuit_version(
            circuit["id"].as_str().unwrap().parse().unwrap(),
            ghz,
            &manifest,
        )
        .await
        .unwrap();
    app.create_circuit(&token, "secret", "private").await;
    let run = app
        .submit_run(&bob, "alice/bell", ("simulator", "statevector"), 10)
        .await;

    let (status, html) = app.page("/alice/bell", None, None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r##"<div class="line" id="L3"><a class="ln" href="#L3" tabindex="-1">3</a><code>qreg q[3];</code></div>"##), "{html}");
    assert_eq!(
        html.matches(r#"<div class="line""#).count(),
        ghz.lines().count()
    );
    assert!(html.contains("Version 2 (latest)"));
    assert!(
        html.contains(r#"<option value="2" selected>2 (latest)</option>"#)
            && html.contains(r#"<option value="1">1</option>"#),
        "{html}"
    );
    // Anonymous: no form, the way to log in; the runs, live.
    assert!(
        !html.contains(r#"id="run-form""#) && html.contains(r#"href="/login?next=/alice/bell""#)
    );
    assert!(html.contains(&format!(r#"data-events="/api/runs/{run}/events""#)));

    let (_, v1) = app.page("/alice/bell?version=1", None, None).await;
    assert!(
        v1.contains("Version 1 of 2") && v1.contains("<code>qreg q[2];</code>"),
        "{v1}"
    );
    assert!(!v1.contains("<code>qreg q[3];</code>"));
    for missing in [
        "/alice/bell?version=3",
        "/alice/bell?version=0",
        "/alice/bell?version=latest",
    ] {
        assert_eq!(app.page(missing, None, None).await.0, 404, "{missing}");
    }

    // Signed in (anyone, for a public circuit): the form for the version shown.
    let bob_session = app.session(&bob).await;
    let (_, html) = app
        .page("/alice/bell?version=1", None, Some(&bob_session))
        .await;
    assert!(
        html.contains(r#"id="run-form""#) && html.contains(r#"name="version" value="1""#),
        "{html}"
    );
    assert!(html.contains(r#"<option value="simulator/statevector" selected>"#));
    assert!(html.contains("Run version 1"));

    // A private circuit, any version of it: its owner only; to anyone else exactly what a
    // circuit that does not exist answers.
    let session = app.session(&token).await;
    assert_eq!(app.page("/alice/secret", None, Some(&session)).await.0, 200);
    for path in ["/alice/secret", "/alice/secret?version=1"] {
        for (bearer, cookie) in [
            (None, None),
            (Some(bob.as_str()), None),
            (None, Some(bob_session.as_str())),
        ] {
            let hidden = app.page(path, bearer, cookie).await;
            let missing = app
                .page(&path.replace("secret", "nothing"), bearer, cookie)
                .await;
            assert_eq!(hidden.0, 404, "{path}");
            assert_eq!(
                hidden, missing,
                "{path}: a private circuit must look like none"
            );
        }
    }
    app.stop().await;
}

async fn every_console_page_keeps_the_run_pages_security_headers(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let run = app
        .submit_run(&token, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let job = http()
        .post(app.url("/api/jobs"))
        .bearer_auth(&token)
        .json(&json!({"runs": [testkit::run_body("alice/bell", SIMULATOR, 10)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 201);
    let job: Value = job.json().await.unwrap();
    let job = job["id"].as_str().unwrap().to_owned();
    let alice = app.session(&token).await;
    let (_, carol) = app.operator("carol").await;
    let carol = app.session(&carol).await;
    // Every page a browser GETs (the routes of src/http/pages), as whoever may see it, and the
    // error pages: the same headers on each.
    for (path, session, status) in [
        ("/".to_owned(), Some(&alice), 200),
        ("/runs".into(), Some(&alice), 200),
        ("/alice/bell".into(), Some(&alice), 200),
        (format!("/alice/bell/runs/{run}"), Some(&alice), 200),
        ("/login".into(), None, 200),
        ("/circuits".into(), Some(&alice), 200),
        ("/circuits/new".into(), Some(&alice), 200),
        ("/jobs".into(), Some(&alice), 200),
        (format!("/jobs/{job}"), Some(&alice), 200),
        ("/tokens".into(), Some(&alice), 200),
        ("/admin/runs".into(), Some(&carol), 200),
        (format!("/admin/runs/{run}/cancel"), Some(&carol), 200),
        ("/no/such/page".into(), Some(&alice), 404),
        ("/runs".into(), None, 401),
    ] {
        // As a browser asks: an API client's unknown path gets JSON, not the 404 page.
        let mut request = http().get(app.url(&path)).header("accept", "text/html");
        if let Some(session) = session {
            request = request.header("cookie", format!("qrun_token={session}"));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        let csp = headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy ({status})"))
            .to_str()
            .unwrap();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("form-action 'self'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let html = response.text().await.unwrap();
        // Nothing external: no link to another site, no stylesheet or script file.
        assert!(
            !html.contains(r#"href="http"#) && !html.contains(" src="),
            "{path}"
        );
    }
    app.stop().await;
}

on_both_databases!(
    the_dashboard_counts_runs_and_charts_the_last_hours_endings_without_an_id,
    my_runs_are_ones_own_filtered_in_the_url_in_cursor_pages_with_live_badges,
    the_circuit_page_numbers_its_source_picks_versions_and_offers_the_form_to_the_signed_in,
    every_console_page_keeps_the_run_pages_security_headers,
);
