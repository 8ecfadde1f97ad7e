//! `qrun serve` as an operator starts it: the real binary, no configuration file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `qrun serve` child process; killed on drop.
pub struct Served {
    pub child: Child,
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `qrun serve` in `dir` with `env`, and waits for its `listening on http://ADDR` line.
pub fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> Served {
    serve_with(dir, env, |_| {})
}

/// [`serve`], with the command adjusted (or replaced) by `adjust` before the working
/// directory, environment and output are set on it.
pub fn serve_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    adjust: impl FnOnce(&mut Command),
) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qrun"));
    command.arg("serve");
    adjust(&mut command);
    let mut child = command
        .current_dir(dir)
        .env_clear()
        .env("QRUN__SERVER__BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qrun serve starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    // What it said before listening, for the failure message should it never listen.
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = said.clone();
    std::thread::spawn(move || {
        let mut listening = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on http://").nth(1) {
                listening = true;
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
            } else if !listening {
                log.lock().unwrap().push(line);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| {
            panic!(
                "no `listening on http://ADDR` line ({e}); it said:\n{}",
                said.lock().unwrap().join("\n")
            )
        });
    Served {
        child,
        base: format!("http://{addr}"),
    }
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
    assert_eq!(body, serde_json::json!({"database": true, "actors": true}));
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
