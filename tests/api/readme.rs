//! The README's curl session, run as written: every command a newcomer pastes works.

use std::time::Duration;

/// The `sh` block under "## A session with curl".
fn session_block() -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## A session with curl")
        .nth(1)
        .expect("the README has its curl session");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an sh block");
    block.to_owned()
}

#[test]
fn the_readme_curl_session_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_qrun"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -euo pipefail\n{}", session_block());
    let child = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("BASE", format!("http://127.0.0.1:{port}"))
        .env("QRUN__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("QRUN__LOGGING__LEVEL", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            panic!("the session hangs");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for expected in [
        r#""owner":"alice","name":"bell""#,
        r#""status":"pending""#,
        "event:status",
        r#""status":"completed""#,
        r#""action":"run.completed""#,
        r#""code":"run_terminal""#,
        r#""stranded":0"#,
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected}:\n{stdout}\n{stderr}"
        );
    }
}
