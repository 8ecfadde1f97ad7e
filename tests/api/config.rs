//! A bad configuration stops start-up with one line naming the key, exit code 2.

use std::process::Command;

fn serve_with(file: Option<&str>, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qrun"));
    cmd.env_clear().current_dir(dir.path());
    if let Some(text) = file {
        let path = dir.path().join("qrun.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.arg("serve").envs(env.iter().copied());
    let out = cmd.output().expect("qrun runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (config file, environment, the key the error must name)
type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_configuration_is_one_line_naming_the_key_and_exit_2() {
    let cases: &[Case] = &[
        (
            Some("[server]\nbind = \"127.0.0.1:0\"\nlisten = 1\n"),
            &[],
            "server.listen",
        ),
        (
            Some("[database]\nmax_connections = \"many\"\n"),
            &[],
            "database.max_connections",
        ),
        (
            None,
            &[("QRUN__RECORDER__MAX_BATCH", "lots")],
            "recorder.max_batch",
        ),
        (
            None,
            &[("QRUN__SERVER__BIND", "not-an-address")],
            "server.bind",
        ),
        (None, &[("QRUN__LOGGING__FORMAT", "xml")], "logging.format"),
        (
            None,
            &[("QRUN_CONFIG", "/nonexistent/qrun.toml")],
            "/nonexistent/qrun.toml",
        ),
    ];
    for (file, env, key) in cases {
        let (code, stderr) = serve_with(*file, env);
        assert_eq!(code, Some(2), "{file:?} {env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{file:?} {env:?}: not one line: {stderr}");
        assert!(
            lines[0].contains(key),
            "{file:?} {env:?}: `{stderr}` does not name {key}"
        );
    }
}

/// What a node's configuration cannot mean, said exactly (docs/DESIGN.md §9): a node that would
/// do nothing, and a key that moved.
#[test]
fn a_node_with_nothing_to_do_and_a_moved_key_are_refused_with_exit_2() {
    let cases: &[Case] = &[
        (
            Some("[server]\nenabled = false\n[executor]\nenabled = false\n"),
            &[],
            "qrun: config: key `server.enabled`: a node with both server.enabled \
             and executor.enabled false would do nothing: enable one",
        ),
        (
            None,
            &[
                ("QRUN__SERVER__ENABLED", "false"),
                ("QRUN__EXECUTOR__ENABLED", "false"),
            ],
            "qrun: config: key `server.enabled`: a node with both server.enabled \
             and executor.enabled false would do nothing: enable one",
        ),
        (
            Some("[executor]\nshutdown_grace_s = 5\n"),
            &[],
            "qrun: config: key `executor.shutdown_grace_s`: moved to \
             `server.shutdown_grace_s` (one deadline for the whole node)",
        ),
    ];
    for (file, env, line) in cases {
        let (code, stderr) = serve_with(*file, env);
        assert_eq!(code, Some(2), "{file:?} {env:?}: {stderr}");
        assert_eq!(stderr, format!("{line}\n"), "{file:?} {env:?}");
    }
}
