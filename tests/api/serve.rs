//! `qrun serve` as an operator starts it: the real binary, no configuration file.

use std::process::Command;
use std::time::{Duration, Instant};

pub use testkit::Served;

/// Starts `qrun serve` in `dir` with `env`, and waits for its `listening on http://ADDR` line.
pub fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> Served {
    serve_with(dir, env, |_| {})
}

/// [`serve`], with the command adjusted (or replaced) by `adjust` before the working
/// directory and environment are set on it: only `env` and a free port, nothing inherited.
pub fn serve_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    adjust: impl FnOnce(&mut Command),
) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qrun"));
    command.arg("serve");
    adjust(&mut command);
    command
        .current_dir(dir)
        .env_clear()
        .env("QRUN__SERVER__BIND", "127.0.0.1:0")
        .envs(env.iter().copied());
    Served::start(command, None).unwrap_or_else(|e| panic!("qrun serve: {e}"))
}

#[tokio::test]
async fn serve_without_configuration_uses_sqlite_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path(), &[]);
    let client = crate::helpers::http();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let response = client.get(format!("{}/readyz", served.base)).send().await;
        match response {
            Ok(r) if r.status() == 200 => break r,
            _ if Instant::now() > deadline => panic!("never ready: {response:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"database": true, "actors": true, "stopping": false})
    );
    let health = client
        .get(format!("{}/healthz", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = client
        .get(format!("{}/metrics", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{metrics:?}"
    );
    assert!(
        dir.path().join("qrun.db").exists(),
        "qrun.db in the working directory"
    );
    let missing = client
        .get(format!("{}/nope", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn sigterm_and_sigint_shut_down_cleanly_with_exit_0() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut served = serve(dir.path(), &[]);
        let pid = served.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let exit = loop {
            if let Some(exit) = served.child.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "{signal}: still running");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(exit.code(), Some(0), "{signal}");
    }
}
