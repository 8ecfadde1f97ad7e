//! Every page against WCAG 2.2 AA in headless Chromium (`tests/browser/a11y.mjs`): axe-core
//! finds no violation in light and dark at 1100 px and 390 px, no page is wider than a 390 px
//! viewport, and the keyboard alone reaches the skip link first and a large circuit's run form
//! within a few stops. Screenshots `a11y-NAME-SCHEME-WIDTH.png` go to `target/tmp/`.
//!
//! The page list (`pages` below) takes a page in one line: its name, its path, who looks.

use std::path::Path;

use qrun::domain::{ErrorClass, ErrorStage, Failure, RunResults};
use qrun::store::{Change, FailCause};

use super::browser::{Script, browser_available};
use crate::helpers::{TestApp, TestDb};

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
    app.transition(
        completed,
        Change::Complete {
            results: RunResults {
                counts: [("00".to_owned(), 51), ("11".to_owned(), 49)].into(),
                shots: 100,
                execution_time: 0.002,
                unique_states: 2,
                method: None,
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
    let pages: Vec<(&str, String, &str)> = vec![
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
    ];
    let json = serde_json::to_string(
        &pages
            .iter()
            .map(|(name, path, who)| serde_json::json!({"name": name, "path": path, "as": who}))
            .collect::<Vec<_>>(),
    )
    .unwrap();
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
    for (name, _, _) in &pages {
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
    for (name, _, _) in &pages {
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
