//! The run page in a real browser: Debian's headless Chromium, driven by
//! `tests/browser/run-page.mjs` (playwright-core), opens a running run's page, sees the badge
//! turn `completed` without a reload and the histogram appear, and saves a screenshot to
//! `target/tmp/run-page.png`. The run's backend waits for a release file that this test
//! writes only once the browser has seen `running`, so nothing depends on timing.
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/browser` (`.ci/run` provides all
//! three). Without them it prints a loud SKIPPED line, except under `CI`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::{executing, shell_backend};
use crate::helpers::{TestDb, http};

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What is missing to run the browser, if anything.
fn missing() -> Vec<&'static str> {
    let mut missing = Vec::new();
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("node");
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM);
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        missing.push("tests/browser/node_modules (npm ci)");
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_runs_page_turns_completed_without_a_reload() {
    let missing = missing();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test must run in CI; missing: {missing:?}"
        );
        eprintln!("\n*** SKIPPED browser test: missing {missing:?} (.ci/run installs them) ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let gated = shell_backend(
        dir.path(),
        "gated",
        &format!(
            "i=0\nwhile [ ! -e '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n\
             printf '{{\"counts\": {{\"00\": 51, \"11\": 49}}}}'",
            release.display()
        ),
    );
    let app = executing(TestDb::sqlite(), vec![gated]).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let id = app
        .submit_run(&alice, "alice/bell", ("command", "gated"), 100)
        .await;
    app.wait_status(id, qrun::domain::RunStatus::Running).await;

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut child = tokio::process::Command::new("node")
        .arg("run-page.mjs")
        .arg(app.url(&format!("/alice/bell/runs/{id}")))
        .arg(&screenshot)
        .current_dir(browser_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line == "seen running" {
                return true;
            }
        }
        false
    })
    .await;
    // Let the run finish whatever the browser saw, so the app stops cleanly.
    std::fs::write(&release, b"").unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the browser script finishes within a minute")
        .unwrap();
    let mut errors = String::new();
    stderr.read_to_string(&mut errors).await.unwrap();
    assert_eq!(seen, Ok(true), "the browser never saw `running`: {errors}");
    assert!(status.success(), "the browser script failed: {errors}");
    let last = stdout.next_line().await.unwrap().unwrap_or_default();
    eprintln!("browser: {last}");
    assert!(std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 0));
    // The page the browser ended on is the completed page the server renders.
    let html = http()
        .get(app.url(&format!("/alice/bell/runs/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"class="badge s-completed""#));
    app.stop().await;
}
