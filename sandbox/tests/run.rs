//! Running programs, sandboxed and not: input, output, environment, exit statuses, output
//! caps, the wall-clock limit, cancellation, and start-up probes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{DAEMON, MIB, MINUTE, assert_all_gone, marker, policy, processes_with, run_with, sh};
use qrun_sandbox::{CancellationToken, Ending, Exit, Policy, Sandbox, SetupError, Stream};

fn exited(ending: Ending) -> (Exit, String, String) {
    match ending {
        Ending::Exited {
            exit,
            stdout,
            stderr,
        } => (
            exit,
            String::from_utf8(stdout).unwrap(),
            String::from_utf8(stderr).unwrap(),
        ),
        other => panic!("expected an exit, got {other:?}"),
    }
}

#[tokio::test]
async fn stdin_goes_in_and_stdout_and_stderr_come_back() {
    for enabled in [true, false] {
        let (exit, stdout, stderr) =
            exited(sh(policy(enabled), "cat; echo oops >&2", b"{\"shots\": 10}").await);
        assert_eq!(
            (exit, stdout.as_str(), stderr.as_str()),
            (Exit::Code(0), "{\"shots\": 10}", "oops\n"),
            "enabled = {enabled}"
        );
    }
}

#[tokio::test]
async fn the_environment_is_exactly_path_home_lang_and_the_configured_env() {
    let configured = |enabled| Policy {
        enabled,
        env: [("OMP_NUM_THREADS".to_owned(), "1".to_owned())].into(),
        ..Policy::default()
    };
    let (_, env, _) = exited(sh(configured(true), "env; pwd", b"").await);
    let mut lines: Vec<&str> = env.lines().collect();
    lines.sort_unstable();
    // dash sets PWD itself.
    assert_eq!(
        lines,
        [
            "/tmp",
            "HOME=/tmp",
            "LANG=C.UTF-8",
            "OMP_NUM_THREADS=1",
            "PATH=/usr/bin:/bin",
            "PWD=/tmp"
        ]
    );

    // Without the sandbox HOME and the working directory are a fresh private directory,
    // removed afterwards.
    let (_, env, _) = exited(sh(configured(false), "env; pwd", b"").await);
    let workdir = PathBuf::from(env.lines().last().unwrap());
    assert!(workdir.starts_with(std::env::temp_dir()), "{env}");
    assert!(
        env.contains(&format!("HOME={}\n", workdir.display())),
        "{env}"
    );
    assert!(!workdir.exists(), "the working directory is removed");
    let mut names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["HOME", "LANG", "OMP_NUM_THREADS", "PATH", "PWD"]);
}

#[tokio::test]
async fn without_the_sandbox_the_working_directory_is_private_and_never_an_old_ones_name() {
    // A killed service leaves its working directories behind, and its pid comes round
    // again: directories named for this process (pid and a counter, as they once were) must
    // not refuse a run.
    let leftovers: Vec<PathBuf> = (0..8)
        .map(|n| std::env::temp_dir().join(format!("qrun-run-{}-{n}", std::process::id())))
        .collect();
    for dir in &leftovers {
        std::fs::create_dir_all(dir).unwrap();
    }
    let (exit, mode, stderr) = exited(sh(policy(false), "stat -c %a .", b"").await);
    for dir in &leftovers {
        std::fs::remove_dir(dir).unwrap();
    }
    assert_eq!(
        (exit, mode.as_str(), stderr.as_str()),
        (Exit::Code(0), "700\n", "")
    );
}

#[tokio::test]
async fn exit_statuses_and_signals_are_reported_as_such() {
    for enabled in [true, false] {
        let (exit, _, stderr) = exited(sh(policy(enabled), "echo boom >&2; exit 3", b"").await);
        assert_eq!((exit, stderr.as_str()), (Exit::Code(3), "boom\n"));
        let (exit, _, _) = exited(sh(policy(enabled), "kill -SEGV $$", b"").await);
        assert_eq!(exit, Exit::Signal(11), "enabled = {enabled}");
    }
}

#[tokio::test]
async fn endless_output_is_capped_and_the_program_killed() {
    for enabled in [true, false] {
        for (redirect, stream) in [("", Stream::Stdout), (">&2", Stream::Stderr)] {
            let mark = marker("output");
            let ending = run_with(
                policy(enabled),
                "/bin/sh",
                &["-c", &format!("yes 0101 {redirect}"), &mark],
                b"",
                MINUTE,
                64 * 1024,
                &CancellationToken::new(),
            )
            .await;
            assert_eq!(
                ending,
                Ending::OutputTooLarge {
                    stream,
                    limit_bytes: 65536
                }
            );
            assert_eq!(
                ending.to_string(),
                format!("{stream} output exceeded 65536 bytes")
            );
            assert_all_gone(&mark);
        }
    }
}

#[tokio::test]
async fn the_wall_clock_limit_kills_every_process_of_the_run() {
    for enabled in common::daemon_modes() {
        let mark = marker("timeout");
        let ending = run_with(
            policy(enabled),
            "/usr/bin/python3",
            &["-c", DAEMON, &mark, "1000"],
            b"",
            Duration::from_secs(2),
            MIB,
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(
            ending,
            Ending::WallTimeout {
                limit: Duration::from_secs(2)
            }
        );
        assert_eq!(
            ending.to_string(),
            "did not finish within the time limit of 2 s"
        );
        assert_all_gone(&mark);
    }
}

#[tokio::test]
async fn a_daemon_dies_when_its_run_ends() {
    for enabled in common::daemon_modes() {
        let mark = marker("ends");
        let ending = run_with(
            policy(enabled),
            "/usr/bin/python3",
            &["-c", DAEMON, &mark, "0"],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        let (exit, stdout, stderr) = exited(ending);
        assert_eq!(
            (exit, stdout.as_str()),
            (Exit::Code(0), "daemon ready\n"),
            "{stderr}"
        );
        assert_all_gone(&mark);
    }
}

#[tokio::test]
async fn cancelling_kills_every_process_of_the_run() {
    for enabled in common::daemon_modes() {
        let mark = marker("cancel");
        let cancel = CancellationToken::new();
        let running = {
            let (mark, cancel) = (mark.clone(), cancel.clone());
            tokio::spawn(async move {
                run_with(
                    policy(enabled),
                    "/usr/bin/python3",
                    &["-c", DAEMON, &mark, "1000"],
                    b"",
                    MINUTE,
                    MIB,
                    &cancel,
                )
                .await
            })
        };
        let probe = mark.clone();
        tokio::task::spawn_blocking(move || {
            common::wait_until("the daemon runs", MINUTE, || {
                processes_with(&probe).into_iter().any(common::is_daemon)
            })
        })
        .await
        .unwrap();
        cancel.cancel();
        assert_eq!(running.await.unwrap(), Ending::Cancelled);
        assert_all_gone(&mark);
    }
}

#[tokio::test]
async fn dropping_the_run_kills_every_process_of_the_run() {
    let mark = marker("drop");
    let running = {
        let mark = mark.clone();
        tokio::spawn(async move {
            run_with(
                policy(true),
                "/usr/bin/python3",
                &["-c", DAEMON, &mark, "1000"],
                b"",
                MINUTE,
                MIB,
                &CancellationToken::new(),
            )
            .await
        })
    };
    let probe = mark.clone();
    tokio::task::spawn_blocking(move || {
        common::wait_until("the daemon runs", MINUTE, || {
            processes_with(&probe).into_iter().any(common::is_daemon)
        })
    })
    .await
    .unwrap();
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_all_gone(&mark);
}

#[tokio::test]
async fn a_missing_program_does_not_start() {
    for enabled in [true, false] {
        let ending = run_with(
            policy(enabled),
            "/nonexistent/backend",
            &[],
            b"",
            MINUTE,
            MIB,
            &CancellationToken::new(),
        )
        .await;
        let Ending::NotStarted { reason } = &ending else {
            panic!("{ending:?}");
        };
        assert!(reason.contains("/nonexistent/backend"), "{reason}");
        assert!(reason.contains("No such file or directory"), "{reason}");
    }
}

#[tokio::test]
async fn the_probe_accepts_a_visible_program_and_names_what_is_wrong_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("backend.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    assert_eq!(
        Sandbox::new(policy(true)).probe(Path::new("/bin/sh")).await,
        Ok(())
    );
    // A script in a directory the sandbox does not show, then shown.
    assert_eq!(
        Sandbox::new(policy(true)).probe(&script).await,
        Err(SetupError::ProgramNotVisible(script.clone()))
    );
    let shown = Policy {
        read_only_paths: vec![dir.path().to_owned()],
        ..Policy::default()
    };
    assert_eq!(Sandbox::new(shown).probe(&script).await, Ok(()));
    assert_eq!(Sandbox::new(policy(false)).probe(&script).await, Ok(()));

    let missing = Policy {
        read_only_paths: vec![PathBuf::from("/nonexistent/venv")],
        ..Policy::default()
    };
    let err = Sandbox::new(missing)
        .probe(Path::new("/bin/sh"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "read-only path /nonexistent/venv is not an existing absolute path"
    );
}
