//! The console in a real browser: Debian's headless Chromium, driven by scripts in
//! `tests/browser/` (playwright-core). Screenshots go to `target/tmp/` (`CARGO_TARGET_TMPDIR`).
//!
//! - `run-page.mjs`: a running run's page turns `completed` without a reload and the histogram
//!   appears (`run-page.png`); its "JSON" and "CSV" downloads hold the API's counts; in a
//!   browser in Asia/Kolkata its times show in +05:30 (the `datetime` attribute UTC), and with
//!   JavaScript disabled they stay UTC.
//! - `console.mjs`: signs in, accepts the consent banner, runs a circuit from its page and
//!   watches the new run reach `completed` without a reload, cancels a running run with the
//!   page's button, watches the dashboard's count move as a run finishes, lists "My runs"
//!   (`consent-banner.png`, `circuit.png`, `run-completed.png`, `run-cancelled.png`,
//!   `dashboard.png`, `runs.png`), and logs out: the session cookie, put back, is refused.
//! - `admin.mjs` (its test is `super::admin`'s): an operator finds a run by id prefix and
//!   cancels it with a reason; an ordinary user gets the 404 (`admin-*.png`).
//! - `circuits.mjs` (its test in `circuits.rs`): uploads a circuit and runs it, a malformed
//!   upload's message at its line, "My circuits", a job's page, all at 390 px too.
//!
//! Runs are held by backends that wait for a release file this test writes only once the
//! browser has seen what it must see, so nothing depends on timing.
//!
//! `a11y.rs` drives `a11y.mjs` (axe-core on every page) with this harness ([`Script`]).
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/browser` (`.ci/run` provides all
//! three). Without them it prints a loud SKIPPED line, except under `CI`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use qrun::domain::{RUN_VIEWED, RunStatus};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout};
use uuid::Uuid;

use super::{executing, shell_backend};
use crate::helpers::{TestDb, http};

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where a browser test on `db` keeps its screenshots: `target/tmp/sqlite/` or
/// `target/tmp/postgres/` (the two runs of a test must not remove each other's).
pub(super) fn screenshots(db: &TestDb) -> PathBuf {
    let kind = db.url.split(':').next().unwrap_or("db");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(kind);
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// Whether the browser can run; if not, says so loudly (and fails under `CI`).
pub(super) fn browser_available() -> bool {
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
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the browser tests must run in CI; missing: {missing:?}"
    );
    eprintln!("\n*** SKIPPED browser test: missing {missing:?} (.ci/run installs them) ***\n");
    false
}

/// A browser script running: its output line by line, its errors at the end.
pub(super) struct Script {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: ChildStderr,
}

impl Script {
    pub(super) fn start(script: &str, args: &[&str]) -> Script {
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(browser_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        Script {
            lines: BufReader::new(child.stdout.take().unwrap()).lines(),
            stderr: child.stderr.take().unwrap(),
            child,
        }
    }

    /// The next line that starts with `prefix`, within a minute; what follows the prefix.
    /// `None` if the script ended (or went quiet) first.
    pub(super) async fn expect(&mut self, prefix: &str) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = self.lines.next_line().await.ok()? {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(rest.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    /// Waits (a minute at most) for the script to end; its error output if it failed.
    pub(super) async fn finish(mut self) -> Result<(), String> {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .map_err(|_| "the browser script did not finish within a minute".to_owned())?
            .map_err(|e| e.to_string())?;
        let mut errors = String::new();
        self.stderr.read_to_string(&mut errors).await.ok();
        if status.success() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The script's error output, after it ended (for a failure's message).
    pub(super) async fn errors(self) -> String {
        self.finish().await.err().unwrap_or_default()
    }
}

/// A command backend that answers Bell counts once `release` exists (at most a minute).
fn gated(dir: &Path, name: &str, release: &Path) -> qrun::config::BackendConfig {
    shell_backend(
        dir,
        name,
        &format!(
            "i=0\nwhile [ ! -e '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n\
             printf '{{\"counts\": {{\"00\": 51, \"11\": 49}}}}'",
            release.display()
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_runs_page_turns_completed_without_a_reload() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let app = executing(TestDb::sqlite(), vec![gated(dir.path(), "gated", &release)]).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let id = app
        .submit_run(&alice, "alice/bell", ("command", "gated"), 100)
        .await;
    app.wait_status(id, RunStatus::Running).await;

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let url = app.url(&format!("/alice/bell/runs/{id}"));
    let mut script = Script::start("run-page.mjs", &[&url, screenshot.to_str().unwrap()]);
    let seen = script.expect("seen running").await;
    // Let the run finish whatever the browser saw, so the app stops cleanly.
    std::fs::write(&release, b"").unwrap();
    if seen.is_none() {
        panic!("the browser never saw `running`: {}", script.errors().await);
    }
    let last = script.expect("completed without a reload").await;
    eprintln!(
        "browser: completed without a reload{}",
        last.unwrap_or_default()
    );
    let Some(downloads) = script.expect("downloads equal the API's counts").await else {
        panic!("the downloads were not checked: {}", script.errors().await);
    };
    eprintln!("browser: downloads equal the API's counts {downloads}");
    // The page script shows times in the viewer's zone; without it they stay UTC.
    for step in ["times localized:", "without script: UTC"] {
        let Some(line) = script.expect(step).await else {
            panic!("no `{step}`: {}", script.errors().await);
        };
        eprintln!("browser: {step} {line}");
    }
    script.finish().await.expect("the browser script succeeds");
    assert!(std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 0));
    // The page the browser ended on is the completed page the server renders.
    let html = http().get(url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"class="badge s-completed""#));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_cancels_and_counts_in_a_browser() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (release, hold) = (dir.path().join("release"), dir.path().join("hold"));
    let app = executing(
        TestDb::sqlite(),
        vec![
            gated(dir.path(), "gated", &release),
            gated(dir.path(), "held", &hold),
            shell_backend(
                dir.path(),
                "broken",
                "echo 'the device is down' >&2\nexit 3",
            ),
        ],
    )
    .await;
    let (alice, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    // A failure for the dashboard's charts to show.
    let broken = app
        .submit_run(&token, "alice/bell", ("command", "broken"), 10)
        .await;
    app.wait_status(broken, RunStatus::Failed).await;

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pictures = [
        "consent-banner.png",
        "circuit.png",
        "run-completed.png",
        "run-cancelled.png",
        "dashboard.png",
        "runs.png",
    ];
    for picture in pictures {
        let _ = std::fs::remove_file(shots.join(picture));
    }
    let mut script = Script::start(
        "console.mjs",
        &[&app.url(""), &token, shots.to_str().unwrap()],
    );
    let step = async {
        // The form's run is live on its page: let it finish.
        let made: Uuid = script.expect("seen live ").await?.parse().ok()?;
        std::fs::write(&release, b"").unwrap();
        script.expect("completed ").await?;
        let held: Uuid = script.expect("cancelled ").await?.parse().ok()?;
        // The dashboard is open: finish a run for its count to move.
        script.expect("dashboard ").await?;
        let more = app
            .submit_run(&token, "alice/bell", ("simulator", "statevector"), 100)
            .await;
        app.wait_status(more, RunStatus::Completed).await;
        script.expect("dashboard moved").await?;
        script.expect("logged out").await?;
        script.expect("done").await?;
        Some((made, held))
    }
    .await;
    // Whatever happened, nothing stays held, so the app stops cleanly.
    std::fs::write(&hold, b"").unwrap();
    std::fs::write(&release, b"").unwrap();
    let Some((made, held)) = step else {
        panic!("the browser stopped early: {}", script.errors().await);
    };
    script.finish().await.expect("the browser script succeeds");
    for picture in pictures {
        assert!(
            std::fs::metadata(shots.join(picture)).is_ok_and(|m| m.len() > 0),
            "{picture}"
        );
    }

    // What the browser did is what the service recorded: the form's run, stamped with the
    // banner's consent, completed, its page's view recorded once; the other cancelled by its
    // submitter.
    let run = app.store().run(made).await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.spec.analytics_consent),
        (RunStatus::Completed, Some(true))
    );
    assert_eq!(run.user_id, alice.id);
    let views: Vec<_> = app
        .store()
        .outbox_for_run(made)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == RUN_VIEWED)
        .collect();
    assert_eq!(views.len(), 1, "{views:?}");
    let cancelled = app.store().run(held).await.unwrap().unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let audit = app.store().audit_timeline(held).await.unwrap();
    assert_eq!(audit.last().unwrap().metadata["by"], "user");
    eprintln!("screenshots in {}", shots.display());
    app.stop().await;
}
