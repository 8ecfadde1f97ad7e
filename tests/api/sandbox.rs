//! Command backends in the sandbox, through the service (docs/DESIGN.md §13): a hostile program run
//! by `qrun serve` reaches nothing of the service with the sandbox and everything without it;
//! each cap ends its run with its own class and message; nothing a run started outlives it
//! (its end, a cancel, the service's SIGTERM); formats are checked at submission.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use qrun::app::Hooks;
use qrun::config::{BackendConfig, SandboxConfig};
use qrun::domain::{MAX_MESSAGE_BYTES, RunStatus};
use serde_json::{Value, json};

use crate::helpers::{
    BELL, SIMULATOR, TestApp, TestDb, circuit_body, executing, http, run_body, wait_until,
};
use crate::on_both_databases;
use crate::serve::{serve, serve_with};

/// Tries each way out of the sandbox (`sandbox/tests/hostile.py`'s probes, each in a child
/// process of its own) and answers the job with all its shots on one key, a bit per escape
/// (1: reached). argv[1]: JSON of what the probes need.
const HOSTILE: &str = concat!(
    include_str!("../../sandbox/tests/hostile.py"),
    r#"
job = json.load(sys.stdin)
escapes = [
    lambda: connect(a["service_port"]),
    lambda: connect(a["other_port"]),
    lambda: read(a["service_dir"] + "/qrun.db"),
    lambda: read(a["service_dir"] + "/qrun.toml"),
    lambda: write(a["service_dir"] + "/pwned"),
    secret,
    lambda: os.listdir(a["home"]),
    lambda: find("cmdline", b"qrun\x00serve"),
    lambda: remount_write("/usr", a["usr_canary"]),
    sysctl,
    nested_user_namespace,
    io_uring,
    ptrace,
    userfaultfd,
    keyctl,
    inherited_fds,
    lambda: fill("/dev/shm/fill"),
    lambda: fill("/fill"),
    host_hostname,
]
key = "".join("1" if tried(escape) else "0" for escape in escapes)
print(json.dumps({"counts": {key: job["shots"]}}))
"#
);

/// The escapes' names, in the key's order (its first character is the first escape). The
/// first [`UNCONFINED`] are what the same program reaches without the sandbox.
const ESCAPES: [&str; 19] = [
    "the service's port",
    "another local port",
    "the service's database",
    "the service's config file",
    "a write outside /tmp",
    "a secret of the service's environment",
    "the service's home directory",
    "the service's process",
    "a remount of /usr, writing into it",
    "a kernel-wide setting in /proc/sys",
    "a nested user namespace",
    "io_uring",
    "ptrace of another process",
    "userfaultfd",
    "the kernel keyring",
    "a descriptor the service inherited",
    "/dev/shm past tmp_mb",
    "the sandbox's root past tmp_mb",
    "the host's hostname",
];
const UNCONFINED: usize = 8;

/// The unprivileged uid the service runs as in the tests of a service that is not root
/// (needs no account).
const SERVICE_UID: u32 = 64000;
/// A kernel-wide setting the program tries to change (harmless; restored if changed).
const SYSCTL: &str = "/proc/sys/fs/lease-break-time";

/// What the host shows after a hostile run.
#[derive(Debug, PartialEq)]
struct HostView {
    /// The canary the `/usr` remount writes exists.
    usr_canary: bool,
    /// The kernel setting changed.
    sysctl_changed: bool,
    /// The service's log on descriptor 9 was written to.
    log_written: bool,
    /// A process of the run was host root.
    root_process: bool,
}

/// Runs the hostile program once through `qrun serve`, started from a shell as `qrun serve
/// 7<secret 9>>log` with a secret in its environment, as root or as [`SERVICE_UID`]
/// (`as_root`), with the sandbox on or off. The key it answered and what the host shows.
async fn hostile_run(sandbox: bool, as_root: bool) -> (String, HostView) {
    let uid = if as_root { 0 } else { SERVICE_UID };
    let service = owned_dir(uid, 0o700);
    let home = owned_dir(uid, 0o700);
    let scripts = owned_dir(uid, 0o755);
    let script = scripts.path().join("hostile.py");
    std::fs::write(&script, HOSTILE).unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let usr_canary = format!(
        "/usr/qrun-canary-{}-{sandbox}-{as_root}",
        std::process::id()
    );
    let args = json!({
        "service_port": port,
        "other_port": other.local_addr().unwrap().port(),
        "service_dir": service.path(),
        "home": home.path(),
        "usr_canary": usr_canary,
        "sysctl": SYSCTL,
        "sysctl_value": "44",
        "fill_mb": 32,
        "hostname": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(),
        "nr": {
            "io_uring_setup": nix::libc::SYS_io_uring_setup,
            "userfaultfd": nix::libc::SYS_userfaultfd,
            "keyctl": nix::libc::SYS_keyctl,
        },
    });
    let config = service.path().join("qrun.toml");
    std::fs::write(
        &config,
        format!(
            "[analytics]\nposthog_api_key = \"phc_secret\"\n\n\
             [[backends]]\ntype = \"command\"\nname = \"hostile\"\nprogram = \"/usr/bin/python3\"\n\
             args = [{script}, {args}]\ntimeout_s = 60\n\
             [backends.sandbox]\nenabled = {sandbox}\ntmp_mb = 16\nread_only_paths = [{scripts}]\n",
            script = toml_string(script.to_str().unwrap()),
            args = toml_string(&args.to_string()),
            scripts = toml_string(scripts.path().to_str().unwrap()),
        ),
    )
    .unwrap();
    chown(&config, uid);
    let secret = service.path().join("secret");
    std::fs::write(&secret, "5e5a1c").unwrap();
    let log = service.path().join("log");
    std::fs::write(&log, "").unwrap();
    chown(&secret, uid);
    chown(&log, uid);
    let qrun_dir = runnable_qrun(uid);
    let qrun = qrun_dir.path().join("qrun");
    let env = [
        ("QRUN_CONFIG", config.to_str().unwrap()),
        ("QRUN__SERVER__BIND", &format!("127.0.0.1:{port}")),
        ("QRUN_TEST_SECRET", "5e5a1c"),
        ("QRUN__LOGGING__LEVEL", "warn,qrun=info"),
        ("HOME", home.path().to_str().unwrap()),
    ];
    let token = create_user(&qrun, service.path(), &config, uid);
    let sysctl_before = std::fs::read_to_string(SYSCTL).unwrap();
    // As a script or a CI step might start it: a secret on 7, a log on 9.
    let served = serve_with(service.path(), &env, |command| {
        *command = std::process::Command::new("/bin/sh");
        command.args([
            "-c",
            "exec \"$0\" serve 7<\"$1\" 9>>\"$2\"",
            qrun.to_str().unwrap(),
            secret.to_str().unwrap(),
            log.to_str().unwrap(),
        ]);
        command.uid(uid).gid(uid);
    });
    let api = served.api();
    // A circuit of a bit per escape: its results must fit it.
    let source = format!(
        "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1];\ncreg c[{}];\nmeasure q[0] -> c[0];\n",
        ESCAPES.len()
    );
    let body = circuit_body("wide", "public", "openqasm2", &source);
    api.upload(&token, &body).await.unwrap();
    let watching = tokio_util::sync::CancellationToken::new();
    let watcher = tokio::spawn(host_uids(
        watching.clone(),
        script.to_str().unwrap().to_owned(),
    ));
    let body = run_body("alice/wide", ("command", "hostile"), 7);
    let run = api.submit(&token, &body, &[]).await.unwrap();
    let id = run["id"].as_str().unwrap().to_owned();
    let read = || async { api.run(&id).await.unwrap() };
    wait_until(Duration::from_secs(60), "the hostile run ends", || async {
        let status = read().await["status"].clone();
        status == "completed" || status == "failed"
    })
    .await;
    watching.cancel();
    let uids = watcher.await.unwrap();
    assert!(!uids.is_empty(), "no process of the run was seen");
    let done = read().await;
    assert_eq!(done["status"], "completed", "{done}");
    let counts = done["results"]["counts"].as_object().unwrap();
    assert_eq!(counts.len(), 1, "{counts:?}");
    drop(other);
    let sysctl_changed = std::fs::read_to_string(SYSCTL).unwrap() != sysctl_before;
    if sysctl_changed {
        std::fs::write(SYSCTL, &sysctl_before).unwrap();
    }
    let view = HostView {
        usr_canary: std::fs::remove_file(&usr_canary).is_ok(),
        sysctl_changed,
        log_written: std::fs::metadata(&log).unwrap().len() > 0,
        root_process: uids.contains(&0),
    };
    (counts.keys().next().unwrap().clone(), view)
}

/// A temporary directory owned by `uid` with `mode`.
fn owned_dir(uid: u32, mode: u32) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    chown(dir.path(), uid);
    dir
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

/// A directory anyone may enter holding the qrun binary as `qrun`, so that `uid` can run it
/// (the checkout may be under a directory only root can enter): a hard link where the
/// filesystem allows, else a copy.
fn runnable_qrun(uid: u32) -> tempfile::TempDir {
    let dir = owned_dir(uid, 0o755);
    let (binary, link) = (env!("CARGO_BIN_EXE_qrun"), dir.path().join("qrun"));
    if std::fs::hard_link(binary, &link).is_err() {
        std::fs::copy(binary, &link).unwrap();
    }
    dir
}

/// The host uids (real, effective, saved, filesystem) of every process whose command line
/// holds `marker`, looked at every 5 ms until `watching` is cancelled.
async fn host_uids(watching: tokio_util::sync::CancellationToken, marker: String) -> Vec<u32> {
    let mut uids = Vec::new();
    while !watching.is_cancelled() {
        for pid in processes_with(&marker) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if let Some(line) = status.lines().find_map(|l| l.strip_prefix("Uid:")) {
                uids.extend(
                    line.split_whitespace()
                        .filter_map(|u| u.parse::<u32>().ok()),
                );
            }
        }
        tokio::select! {
            () = watching.cancelled() => {}
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    uids
}

/// Creates user alice with the `qrun` binary at `qrun`, run as `uid`; her token.
fn create_user(qrun: &Path, dir: &Path, config: &Path, uid: u32) -> String {
    let command = || {
        let mut command = std::process::Command::new(qrun);
        command
            .env_clear()
            .env("QRUN_CONFIG", config)
            .env("QRUN__LOGGING__LEVEL", "warn")
            .current_dir(dir)
            .uid(uid)
            .gid(uid);
        command
    };
    testkit::create_user(command, "alice").unwrap_or_else(|e| panic!("{e}"))
}

/// This test process's uid (the owner of its `/proc` entry).
fn my_uid() -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap())
}

/// A root service and an unprivileged one: with the sandbox, every escape fails, on the
/// host too (no canary in `/usr`, the kernel setting unchanged, the inherited log empty, no
/// process of the run host root); without it, the same program reaches the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_program_reaches_nothing_in_the_sandbox_and_everything_without_it() {
    assert_eq!(
        my_uid(),
        0,
        "this test starts qrun serve as root and as uid {SERVICE_UID}: run it as root"
    );
    let clean = HostView {
        usr_canary: false,
        sysctl_changed: false,
        log_written: false,
        root_process: false,
    };
    for as_root in [true, false] {
        let (inside, host) = hostile_run(true, as_root).await;
        for (i, escape) in ESCAPES.iter().enumerate() {
            assert_eq!(
                &inside[i..=i],
                "0",
                "with the sandbox (service as root: {as_root}) the program reached {escape}"
            );
        }
        assert_eq!(host, clean, "service as root: {as_root}");
    }
    // Unconfined, a program of the service's own user reaches all of it.
    let (outside, _) = hostile_run(false, false).await;
    for (i, escape) in ESCAPES[..UNCONFINED].iter().enumerate() {
        assert_eq!(
            &outside[i..=i],
            "1",
            "without the sandbox the program missed {escape}"
        );
    }
}

/// A sandboxed command backend running `/usr/bin/python3 -c BODY MARKER`, with `sandbox`
/// adjusting its policy. BODY reads the job from stdin first.
fn python_backend(
    name: &str,
    body: &str,
    sandbox: impl FnOnce(&mut SandboxConfig),
) -> BackendConfig {
    let mut policy = SandboxConfig::default();
    sandbox(&mut policy);
    BackendConfig::Command {
        name: name.into(),
        program: PathBuf::from("/usr/bin/python3"),
        args: vec![
            "-c".into(),
            format!("import json, os, sys, time\njob = json.load(sys.stdin)\n{body}"),
            marker(name),
        ],
        formats: vec!["openqasm2".into(), "python".into()],
        timeout_s: 60,
        max_shots: 1000,
        max_source_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
        max_qubits: None,
        native_gates: Vec::new(),
        options: Vec::new(),
        warm: 0,
        sandbox: policy,
    }
}

/// A string no other process on the machine has in its command line.
fn marker(name: &str) -> String {
    format!("qrun-test-{name}-{}", std::process::id())
}

/// Host pids whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.windows(marker.len()).any(|w| w == marker.as_bytes()))
        })
        .filter(|pid| crate::helpers::process_alive(*pid))
        .collect()
}

/// Answers every shot on "00" (the Bell circuit's two bits) after starting a daemon (double
/// fork, new session) that sleeps.
const DAEMON: &str = r#"
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["sleep", "300", sys.argv[1]])
    os._exit(0)
os.wait()
time.sleep(float(os.environ.get("LINGER", "0")))
print(json.dumps({"counts": {"00": job["shots"]}}))
"#;

async fn caps_app(db: TestDb) -> (TestApp, String) {
    let backends = vec![
        python_backend(
            "memory",
            "b = bytearray(3 << 30)\nb[::4096] = b'x' * len(b[::4096])",
            |s| s.memory_mb = 256,
        ),
        python_backend("cpu", "while True:\n    pass", |s| s.cpu_s = Some(2)),
        python_backend(
            "forkbomb",
            "while True:\n    try:\n        if os.fork() == 0:\n            time.sleep(300)\n            os._exit(0)\n    except OSError:\n        sys.exit(1)",
            |s| s.max_processes = 32,
        ),
    ];
    app_with(db, backends).await
}

/// An executing application with `backends` besides the configured ones, alice, her token
/// and her public `bell` circuit.
async fn app_with(db: TestDb, backends: Vec<BackendConfig>) -> (TestApp, String) {
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.backends.extend(backends);
    };
    let app = TestApp::spawn_with(db, adjust, Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    (app, token)
}

/// Each cap ends its run with its own class and a message naming the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cap_fails_its_run_with_its_class_and_the_service_keeps_serving() {
    let (app, token) = caps_app(TestDb::sqlite()).await;
    for (backend, class, message) in [
        ("memory", "resource_limit", "memory limit 256 MiB exceeded"),
        ("cpu", "timeout", "CPU time limit 2 s exceeded"),
        ("forkbomb", "resource_limit", "32"),
    ] {
        let id = app
            .submit_run(&token, "alice/bell", ("command", backend), 10)
            .await;
        let run = app.wait_terminal(id).await;
        assert_eq!(run["status"], "failed", "{backend}: {run}");
        assert_eq!(run["error_class"], class, "{backend}: {run}");
        assert_eq!(run["error_stage"], "execute", "{backend}: {run}");
        let said = run["error_message"].as_str().unwrap();
        assert!(said.contains(message), "{backend}: {said}");
        assert!(
            processes_with(&marker(backend)).is_empty(),
            "{backend} left processes"
        );
    }
    let health = http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

/// A daemon a run started is gone when the run ends, and when the run is cancelled.
async fn nothing_a_run_started_outlives_it(db: TestDb) {
    // Backends of this test's own: its SQLite and PostgreSQL halves run at once in this
    // process, and each must see only its own daemons.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (daemon, lingering) = (format!("daemon-{tag}"), format!("lingering-{tag}"));
    let backends = vec![
        python_backend(&daemon, DAEMON, |_| {}),
        python_backend(&lingering, DAEMON, |s| {
            s.env.insert("LINGER".into(), "300".into());
        }),
    ];
    let (app, token) = app_with(db, backends).await;
    let id = app
        .submit_run(&token, "alice/bell", ("command", &daemon), 10)
        .await;
    assert_eq!(app.wait_terminal(id).await["status"], "completed");
    assert!(
        processes_with(&marker(&daemon)).is_empty(),
        "the daemon outlived its run"
    );

    let id = app
        .submit_run(&token, "alice/bell", ("command", &lingering), 10)
        .await;
    app.wait_status(id, RunStatus::Running).await;
    wait_until(Duration::from_secs(30), "the daemon runs", || async {
        !processes_with(&marker(&lingering)).is_empty()
    })
    .await;
    let cancelled = app.api().post_cancel(&token, id).await.unwrap();
    assert_eq!(cancelled.status(), 200);
    wait_until(
        Duration::from_secs(10),
        "the daemon dies with the cancel",
        || async { processes_with(&marker(&lingering)).is_empty() },
    )
    .await;
    assert_eq!(app.run_json(id).await["status"], "cancelled");
    app.stop().await;
}

on_both_databases!(nothing_a_run_started_outlives_it);

/// SIGTERM of `qrun serve` (its graceful shutdown) leaves no process of a run behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_dies_with_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("qrun.toml");
    let name = "sigterm";
    let backend = format!(
        "[server]\nshutdown_grace_s = 1\n\n[[backends]]\ntype = \"command\"\nname = \"{name}\"\n\
         program = \"/usr/bin/python3\"\nargs = [\"-c\", {body}, \"{marker}\"]\ntimeout_s = 600\n\
         [backends.sandbox]\nenv = {{ LINGER = \"300\" }}\n",
        body = toml_string(&format!(
            "import json, os, sys, time\njob = json.load(sys.stdin)\n{DAEMON}"
        )),
        marker = marker(name),
    );
    std::fs::write(&config, backend).unwrap();
    let mut served = serve(
        dir.path(),
        &[
            ("QRUN_CONFIG", config.to_str().unwrap()),
            ("QRUN__LOGGING__LEVEL", "warn,qrun=info"),
        ],
    );
    let token = create_user(
        Path::new(env!("CARGO_BIN_EXE_qrun")),
        dir.path(),
        &config,
        my_uid(),
    );
    let api = served.api();
    api.upload(&token, &circuit_body("bell", "public", "openqasm2", BELL))
        .await
        .unwrap();
    let body = run_body("alice/bell", ("command", name), 5);
    api.submit(&token, &body, &[]).await.unwrap();
    wait_until(Duration::from_secs(30), "the daemon runs", || async {
        !processes_with(&marker(name)).is_empty()
    })
    .await;
    let pid = served.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::task::spawn_blocking(move || served.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    wait_until(
        Duration::from_secs(10),
        "nothing of the run is left",
        || async { processes_with(&marker(name)).is_empty() },
    )
    .await;
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `python` sources upload (never parsed here) and run only where a backend accepts them; an
/// unknown format is refused at upload.
async fn formats_are_checked_at_upload_and_submission(db: TestDb) {
    let (app, token) = caps_app(db).await;
    let (api, token) = (app.api(), token.as_str());
    let source = "from qiskit import QuantumCircuit\ncircuit = QuantumCircuit(1)\n";
    let upload = |format, name| {
        let (api, body) = (&api, circuit_body(name, "public", format, source));
        async move { api.post_circuit(token, &body).await.unwrap() }
    };
    assert_eq!(upload("python", "py").await.status(), 201);
    let refused = upload("cobol", "cb").await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_manifest");
    let runs_before = app.store().run_counts().await.unwrap();
    let body = run_body("alice/py", SIMULATOR, 10);
    let response = api.post_run(token, &body, &[]).await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_format", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("python"),
        "{error}"
    );
    assert_eq!(
        app.store().run_counts().await.unwrap(),
        runs_before,
        "no run was created"
    );
    app.stop().await;
}

on_both_databases!(formats_are_checked_at_upload_and_submission);

/// A program's exit-65 error as large as its stdout may be (16 MiB, the default
/// `max_output_bytes`) fails its run as `validation_error` with the message cut to
/// `MAX_MESSAGE_BYTES` and saying so, kept once: on the run, not in its audit rows. The
/// service goes on answering.
async fn an_error_message_of_16_mib_is_cut_and_stored_once(db: TestDb) {
    const MAX_OUTPUT: usize = 16 << 20;
    // The JSON around the message takes 41 bytes.
    const MESSAGE_BYTES: usize = MAX_OUTPUT - 64;
    let mut loud = python_backend(
        "loud",
        &format!(
            "error = {{'line': None, 'message': 'x' * {MESSAGE_BYTES}}}\n\
             sys.stdout.write(json.dumps({{'error': error}}))\nsys.exit(65)"
        ),
        |_| {},
    );
    if let BackendConfig::Command {
        max_output_bytes, ..
    } = &mut loud
    {
        *max_output_bytes = MAX_OUTPUT;
    }
    let (app, token) = app_with(db, vec![loud]).await;
    let id = app
        .submit_run(&token, "alice/bell", ("command", "loud"), 10)
        .await;
    let run = app.wait_terminal(id).await;
    assert_eq!(
        (&run["status"], &run["error_class"], &run["error_stage"]),
        (
            &json!("failed"),
            &json!("validation_error"),
            &json!("prepare")
        ),
        "{}",
        run["error_message"]
    );
    assert_eq!(
        run["error_message"].as_str().unwrap(),
        format!(
            "{} … [truncated: {MESSAGE_BYTES} bytes in all]",
            "x".repeat(MAX_MESSAGE_BYTES)
        )
    );
    let audit = app.get_json(&format!("/api/runs/{id}/audit")).await;
    let entries = audit["entries"].as_array().unwrap();
    let failed = entries.last().unwrap();
    assert_eq!(failed["action"], "run.failed", "{audit}");
    assert_eq!(failed["metadata"]["error_class"], "validation_error");
    assert_eq!(failed["metadata"]["stage"], "prepare");
    assert!(
        entries
            .iter()
            .all(|e| e["metadata"].get("message").is_none() && !e.to_string().contains("xxxxxxxx")),
        "{audit}"
    );
    let health = http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

on_both_databases!(an_error_message_of_16_mib_is_cut_and_stored_once);
