//! The README, kept true: its curl session runs as written (every command a newcomer pastes
//! works), its code map names every top-level directory, `src/` module and `tests/` entry of
//! the repository and nothing that is gone, and every citation of the design names a section
//! `docs/DESIGN.md` has.

use std::collections::BTreeSet;
use std::path::Path;
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
        r#""handle":"alice""#,
        r#""name":"default","#,
        r#""current":true}]}"#,
        r#""revoked_at":"20"#,
        r#""code":"unauthorized""#,
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected}:\n{stdout}\n{stderr}"
        );
    }
}

/// The repository's root (the `qrun` package's manifest directory).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's files that exist, relative to its root, as `git ls-files` lists them:
/// tracked, and untracked ones no `.gitignore` excludes (so a module is checked before it is
/// added). `None`, said loudly, outside a git checkout; in CI (`CI` set), a panic.
fn repository_files() -> Option<Vec<String>> {
    let listed = std::process::Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root())
        .output()
        .ok()
        .filter(|out| out.status.success());
    let Some(listed) = listed else {
        if std::env::var_os("CI").is_some() {
            panic!("`git ls-files` failed: the documentation tests must run in CI");
        }
        eprintln!(
            "\n*** SKIPPED: `git ls-files` failed (not a git checkout?); the README's code map \
             and the design's citations are not checked. These tests must run in CI. ***\n"
        );
        return None;
    };
    let files = String::from_utf8(listed.stdout).expect("UTF-8 paths");
    Some(
        files
            .split('\0')
            .filter(|path| !path.is_empty() && root().join(path).exists())
            .map(str::to_owned)
            .collect(),
    )
}

/// The paths the README's code map names: the backticked names in each row's first cell, under
/// "### Code map".
fn code_map() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme
        .split("### Code map")
        .nth(1)
        .expect("the README has its code map");
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2) // the header and its rule
        .flat_map(|row| {
            let cell = row.split('|').nth(1).unwrap_or_default();
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What the code map must name, from the repository's files: every top-level directory
/// (`fuzz/`), and every entry of `src/` and `tests/`, a directory (`src/http/`) or a file
/// (`src/cache.rs`, `tests/metrics.rs`).
fn must_be_named(files: &[String]) -> BTreeSet<String> {
    let mut entries = BTreeSet::new();
    for file in files {
        let parts: Vec<&str> = file.split('/').collect();
        if let [top, _, ..] = parts.as_slice() {
            entries.insert(format!("{top}/"));
        }
        if let [dir @ ("src" | "tests"), entry, inside @ ..] = parts.as_slice() {
            let slash = if inside.is_empty() { "" } else { "/" };
            entries.insert(format!("{dir}/{entry}{slash}"));
        }
    }
    entries
}

/// Whether the code map's `names` name `entry`: a file by its path, a directory by its path
/// or by a path inside it (`config/default.toml` names `config/`, `.ci/run` names `.ci/`).
fn named(names: &[String], entry: &str) -> bool {
    names
        .iter()
        .any(|name| name == entry || (entry.ends_with('/') && name.starts_with(entry)))
}

#[test]
fn the_readme_code_map_names_every_top_level_directory_and_module_and_nothing_gone() {
    let Some(files) = repository_files() else {
        return;
    };
    let names = code_map();
    assert!(names.len() > 10, "the code map was not found: {names:?}");
    let missing: Vec<String> = must_be_named(&files)
        .into_iter()
        .filter(|entry| !named(&names, entry))
        .collect();
    assert!(
        missing.is_empty(),
        "the README's code map (### Code map) names no row for {}: add a row saying what each \
         owns",
        missing.join(", ")
    );
    let gone: Vec<&String> = names
        .iter()
        .filter(|name| !root().join(name).exists())
        .collect();
    assert!(
        gone.is_empty(),
        "the README's code map names paths that do not exist: {gone:?}"
    );
}

/// The section numbers of `docs/DESIGN.md` (`## N. Title`) and the anchors GitHub gives them
/// (`#n-title`).
fn design_sections() -> (BTreeSet<u32>, BTreeSet<String>) {
    let design = std::fs::read_to_string(root().join("docs/DESIGN.md")).expect("docs/DESIGN.md");
    let mut numbers = BTreeSet::new();
    let mut anchors = BTreeSet::new();
    for heading in design.lines().filter_map(|l| l.strip_prefix("## ")) {
        if let Some((number, _)) = heading.split_once(". ")
            && let Ok(number) = number.parse()
        {
            numbers.insert(number);
        }
        let anchor: String = heading
            .chars()
            .filter_map(|c| match c {
                ' ' | '-' => Some('-'),
                c if c.is_alphanumeric() || c == '_' => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        anchors.insert(anchor);
    }
    (numbers, anchors)
}

/// The section numbers a citation starting at `text` names: `§12`, or a list `§12, §13`.
fn cited_sections(mut text: &str) -> Vec<u32> {
    let mut numbers = Vec::new();
    loop {
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let Ok(number) = text[..digits].parse() else {
            return numbers;
        };
        numbers.push(number);
        match text[digits..].strip_prefix(", §") {
            Some(rest) => text = rest,
            None => return numbers,
        }
    }
}

#[test]
fn every_design_citation_names_a_section_of_docs_design_md() {
    let Some(files) = repository_files() else {
        return;
    };
    let (sections, anchors) = design_sections();
    assert!(
        sections.len() >= 16,
        "docs/DESIGN.md's sections: {sections:?}"
    );
    // Written in two pieces, so that this file does not cite the old form, or link to a
    // heading, itself.
    let old_form = concat!("DESIGN", " §");
    let link = concat!("DESIGN.md", "#");
    let mut wrong = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(root().join(file)) else {
            continue; // not text
        };
        if text.contains(old_form) {
            wrong.push(format!("{file}: `{old_form}…` (cite `docs/DESIGN.md §N`)"));
        }
        for (at, needle) in text.match_indices("DESIGN.md §") {
            for number in cited_sections(&text[at + needle.len()..]) {
                if !sections.contains(&number) {
                    wrong.push(format!(
                        "{file}: `docs/DESIGN.md §{number}`: no such section"
                    ));
                }
            }
        }
        for (at, needle) in text.match_indices(link) {
            let anchor: String = text[at + needle.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !anchors.contains(&anchor) {
                wrong.push(format!("{file}: `{link}{anchor}`: no such heading"));
            }
        }
        if file == "docs/DESIGN.md" {
            for (at, needle) in text.match_indices('§') {
                for number in cited_sections(&text[at + needle.len()..]) {
                    if !sections.contains(&number) {
                        wrong.push(format!("{file}: `§{number}`: no such section"));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "design citations that do not resolve:\n{}",
        wrong.join("\n")
    );
}
