//! Every page against WCAG 2.2 AA in headless Chromium (`tests/browser/a11y.mjs`): axe-core
//! finds no violation in light and dark at 1100 px and 390 px, no page is wider than a 390 px
//! viewport, on every page the first Tab reaches the skip link and Enter on it moves focus to
//! `<main>`, and the keyboard alone reaches a large circuit's run form within a few stops. Screenshots `a11y-NAME-SCHEME-WIDTH.png` go to `target/tmp/`.
//!
//! The page list (`plain` below) takes a page in one line: its name, its path, who looks; the
//! pages a form post leads to (a refusal) and a page's states (a `<details>` opened) are one
//! line each after it, naming the form and the fields to post. Both refused source forms quote
//! a source with a line far wider than a phone, so their excerpt scrolls sideways.

use std::path::Path;

use qrun::domain::{ErrorClass, ErrorStage, Failure, RunResults};
use qrun::store::{Change, FailCause};

use serde_json::{Value, json};

use super::browser::{Script, browser_available};
use crate::helpers::{BELL, TestApp, TestDb};

/// A malformed source (an unknown gate on line 5) whose excerpt on the refused page holds a
/// line far wider than a phone: the excerpt scrolls sideways, so it must be reachable by
/// keyboard (axe's `scrollable-region-focusable`).
fn malformed_with_a_long_line() -> String {
    format!(
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\n// {}\nqreg q[1];\nnot_a_gate q[0];\n",
        "a comment far wider than a phone's screen ".repeat(8)
    )
}

/// Lines of the large circuit (the issue's: 1,725 line numbers before the run form).
const LARGE: usize = 1_725;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_core_in_light_and_dark_and_fits_a_phone() {
    if !browser_available() {
        return;
    }
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    let (_, operator) = app.operator("carol").await;
    app.create_circuit(&token, "bell", "public").await;
    let mut large =
        String::from("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\n");
    for _ in 0..LARGE - 5 {
        large.push_str("h q[0];\n");
    }
    large.push_str("measure q -> c;\n");
    app.upload(&token, "large", "public", &large).await;
    let submit = || app.submit_run(&token, "alice/bell", ("simulator", "statevector"), 100);
    let (completed, failed, running) = (submit().await, submit().await, submit().await);
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    let pending = submit().await;
    // Cancelled: one by its submitter, one by an operator (through the operator's form).
    let (by_user, by_operator) = (submit().await, submit().await);
    let cancelled = reqwest::Client::new()
        .post(app.url(&format!("/api/runs/{by_user}/cancel")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let operator_browser = app.browser().signed_in(&operator).await;
    let cancelled = operator_browser
        .post(
            &format!("/admin/runs/{by_operator}/cancel"),
            &[("reason", "the queue is being drained for maintenance")],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.html);
    // A circuit with two versions (the version picker).
    app.upload(&token, "two", "public", BELL).await;
    let second = reqwest::Client::new()
        .post(app.url("/api/circuits/alice/two/versions"))
        .bearer_auth(&token)
        .json(&json!({"source": BELL, "manifest": {"framework": "qiskit", "format": "openqasm2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 201);
    app.transition(
        completed,
        Change::Complete {
            results: RunResults {
                counts: [("00".to_owned(), 51), ("11".to_owned(), 49)].into(),
                shots: 100,
                execution_time: 0.002,
                unique_states: 2,
                method: None,
                precision: None,
            },
            memory: None,
        },
    )
    .await
    .unwrap();
    app.transition(
        failed,
        Change::Fail {
            failure: Failure::new(
                ErrorClass::ValidationError,
                ErrorStage::Prepare,
                "3:1: unknown gate foo",
            ),
            cause: FailCause::Executor,
        },
    )
    .await
    .unwrap();

    let job = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "runs": [testkit::run_body("alice/bell", ("simulator", "statevector"), 10)],
            "tags": ["a11y"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 201);
    let job: serde_json::Value = job.json().await.unwrap();
    let job = job["id"].as_str().unwrap().to_owned();

    let run = |id| format!("/alice/bell/runs/{id}");
    // (name, path, who looks: "user" signed in, "operator" signed in as an operator, "visitor" anonymous, "newcomer" anonymous
    // before the consent banner's choice). One line per page.
    let plain: Vec<(&str, String, &str)> = vec![
        ("dashboard", "/".into(), "user"),
        ("runs", "/runs".into(), "user"),
        ("circuit", "/alice/bell".into(), "user"),
        ("circuit-anonymous", "/alice/bell".into(), "visitor"),
        ("run-completed", run(completed), "user"),
        ("run-failed", run(failed), "user"),
        ("run-running", run(running), "visitor"),
        ("run-pending", run(pending), "user"),
        ("login", "/login".into(), "visitor"),
        ("consent-banner", "/".into(), "newcomer"),
        ("not-found", "/no/such/page/here".into(), "user"),
        ("error-401", "/runs".into(), "visitor"),
        ("circuits", "/circuits".into(), "user"),
        ("upload", "/circuits/new".into(), "user"),
        ("jobs", "/jobs".into(), "user"),
        ("job", format!("/jobs/{job}"), "user"),
        ("tokens", "/tokens".into(), "user"),
        ("admin-runs", "/admin/runs".into(), "operator"),
        (
            "admin-cancel",
            format!("/admin/runs/{pending}/cancel"),
            "operator",
        ),
        ("run-as-operator", run(failed), "operator"),
        ("run-cancelled", run(by_user), "user"),
        ("run-cancelled-by-operator", run(by_operator), "user"),
        ("run-cancelled-as-operator", run(by_operator), "operator"),
        (
            "admin-cancel-ended",
            format!("/admin/runs/{by_operator}/cancel"),
            "operator",
        ),
        ("circuit-versions", "/alice/two".into(), "user"),
        (
            "circuit-version-1",
            "/alice/two?version=1".into(),
            "visitor",
        ),
        // Empty lists and search results.
        ("runs-none", "/runs?circuit=alice/large".into(), "user"),
        ("runs-filtered", "/runs?status=cancelled".into(), "user"),
        ("runs-empty", "/runs".into(), "operator"),
        ("circuits-search", "/circuits?q=bel".into(), "user"),
        ("circuits-none", "/circuits?q=zzz".into(), "user"),
        ("circuits-empty", "/circuits".into(), "operator"),
        ("jobs-none", "/jobs?tag=none".into(), "user"),
        ("admin-runs-search", "/admin/runs?q=ffff".into(), "operator"),
        (
            "admin-runs-filtered",
            "/admin/runs?status=cancelled".into(),
            "operator",
        ),
    ];
    let mut pages: Vec<Value> = plain
        .iter()
        .map(|(name, path, who)| json!({"name": name, "path": path, "as": who}))
        .collect();
    // Pages a form post leads to (the harness fills the form on `path` and posts it) and a
    // page's states (`open`: a `<details>` opened). One line each.
    let malformed = malformed_with_a_long_line();
    pages.extend([
        json!({"name": "upload-refused", "path": "/circuits/new", "as": "user",
            "submit": {"form": "#source-form", "fields": {"name": "broken", "source": malformed}}}),
        json!({"name": "version-refused", "path": "/alice/bell", "as": "user",
            "submit": {"form": "#new-version form", "fields": {"source": malformed}}}),
        json!({"name": "run-refused", "path": "/alice/bell", "as": "user",
            "submit": {"form": "#run-form", "fields": {"shots": "0"}}}),
        json!({"name": "admin-cancel-refused", "path": format!("/admin/runs/{pending}/cancel"),
            "as": "operator", "submit": {"form": "form.cancel", "fields": {"reason": ""}}}),
        json!({"name": "new-version-open", "path": "/alice/bell", "as": "user", "open": "#new-version"}),
    ]);
    let names: Vec<String> = pages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let json = serde_json::to_string(&pages).unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut script = Script::start(
        "a11y.mjs",
        &[
            &app.url(""),
            &token,
            shots.to_str().unwrap(),
            &json,
            "/alice/large",
            &operator,
        ],
    );
    for name in &names {
        if script.expect(&format!("checked {name}")).await.is_none() {
            panic!(
                "the browser stopped before {name}: {}",
                script.errors().await
            );
        }
    }
    for width in [1100, 390] {
        let Some(line) = script.expect(&format!("keyboard {width}:")).await else {
            panic!("no keyboard check at {width} px: {}", script.errors().await);
        };
        eprintln!("keyboard {width} px: {line}");
        assert!(line.contains(&format!("{LARGE} source lines")), "{line}");
    }
    if script.expect("done").await.is_none() {
        panic!("{}", script.errors().await);
    }
    script.finish().await.expect("the browser script succeeds");
    for name in &names {
        for file in [
            format!("a11y-{name}-light-1100.png"),
            format!("a11y-{name}-dark-390.png"),
        ] {
            assert!(
                std::fs::metadata(shots.join(&file)).is_ok_and(|m| m.len() > 0),
                "{file}"
            );
        }
    }
    eprintln!("screenshots in {}", shots.display());
    app.stop().await;
}
