//! `qrun run show | list | cancel`: the operator's view of runs, on the database `serve` uses
//! (its configuration), while the service runs or not. Everything goes through the store —
//! ids are compared as ids, never as text (SQLite keeps them as 16-byte blobs) — and a cancel
//! through the lifecycle store's guarded cancel, one transaction with its audit row (`"by":
//! "operator"`, and the `reason` given with `--reason`) and, with the run's consent, its
//! analytics event. A node executing the run
//! stops it at its next lease renewal.
//!
//! The text output passes through [`escape_untrusted`] whole: its error messages, names and
//! audit metadata are written by users and their programs. `--json` is JSON as it is.
//!
//! Exit codes: 0 done; 1 for a run that does not exist (or a cancel the run's state refuses,
//! or a `--reason` that is empty or over 500 characters), with one line on stderr; 2 for an unknown user handle.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Subcommand;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::{
    AuditEntry, Circuit, QueueStanding, Run, RunSpec, RunStatus, User, cancel_reason,
    escape_untrusted,
};
use crate::store::runs::RunFilter;
use crate::store::{Canceller, Change, Command, Store, WriteError};

#[derive(Subcommand)]
pub enum RunCommand {
    /// Show a run and its audit timeline: what happened to it, when, and why.
    Show {
        id: String,
        /// One JSON object `{"run", "audit"}` instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List runs, newest first, one line each.
    List {
        /// Only runs in this status (pending, running, completed, failed, cancelled).
        #[arg(long)]
        status: Option<RunStatus>,
        /// Only runs created longer ago than this: 90s, 10m, 2h, 1d.
        #[arg(long, value_parser = parse_age)]
        older_than: Option<Duration>,
        /// Only this user's runs.
        #[arg(long)]
        user: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Cancel a pending or running run as an operator (the audit says `"by": "operator"`).
    Cancel {
        id: String,
        /// Why (1–500 characters): the audit row's `reason`, which the run's page shows.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Runs `command` against `store`; the exit code.
pub async fn run(store: &Store, command: RunCommand) -> anyhow::Result<ExitCode> {
    match command {
        RunCommand::Show { id, json } => show(store, &id, json).await,
        RunCommand::List {
            status,
            older_than,
            user,
            limit,
        } => list(store, status, older_than, user.as_deref(), limit).await,
        RunCommand::Cancel { id, reason } => cancel(store, &id, reason.as_deref()).await,
    }
}

/// `10m` → 10 minutes: a whole number and a unit (`s`, `m`, `h`, `d`).
fn parse_age(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 10m, 2h or 1d"))?;
    let unit_s = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{text}` is not a duration like 90s, 10m, 2h or 1d"
            ));
        }
    };
    Ok(Duration::from_secs(number.saturating_mul(unit_s)))
}

/// The run `id` names, or the one line saying why there is none.
async fn find(store: &Store, id: &str) -> anyhow::Result<Result<Run, String>> {
    let Ok(uuid) = Uuid::parse_str(id.trim()) else {
        return Ok(Err(format!("`{id}` is not a run id")));
    };
    Ok(store
        .run(uuid)
        .await?
        .ok_or_else(|| format!("no run {uuid}")))
}

async fn show(store: &Store, id: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let run = match find(store, id).await? {
        Ok(run) => run,
        Err(line) => return Ok(refuse(&line)),
    };
    let user = store.user(run.user_id).await?;
    let circuit = store.circuit(run.spec.circuit_id).await?;
    let audit = store.audit_timeline(run.id).await?;
    let standing = store.queue_standing(&run).await?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&show_json(
                &run,
                user.as_ref(),
                circuit.as_ref(),
                standing.as_ref(),
                &audit
            ))?
        );
    } else {
        let text = show_text(
            &run,
            user.as_ref(),
            circuit.as_ref(),
            standing.as_ref(),
            &audit,
        );
        print!("{}", escape_untrusted(&text));
    }
    Ok(ExitCode::SUCCESS)
}

/// A time as the operator's commands print it: `2026-12-10 09:30:00.123 UTC`.
pub(super) fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// A span in words: `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`.
fn span(d: TimeDelta) -> String {
    let ms = d.num_milliseconds().max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1e3),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1_000),
        3_600_000..86_400_000 => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
        _ => format!("{} d {} h", ms / 86_400_000, ms % 86_400_000 / 3_600_000),
    }
}

/// The run as an operator reads it: its facts, how it ended, its audit timeline.
fn show_text(
    run: &Run,
    user: Option<&User>,
    circuit: Option<&Circuit>,
    standing: Option<&QueueStanding>,
    audit: &[AuditEntry],
) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "  {key:<13} {value}");
    };
    let circuit_text = match circuit {
        Some(c) => format!(
            "{}/{} (version {}, {})",
            c.owner_handle,
            c.name,
            run.spec.circuit_version,
            c.visibility.as_str()
        ),
        None => format!(
            "{} (version {}; missing)",
            run.spec.circuit_id, run.spec.circuit_version
        ),
    };
    line("status", run.status.as_str().to_owned());
    if let Some(standing) = standing {
        let estimate = standing.estimated_start_at.map_or_else(
            || "no estimate yet".to_owned(),
            |t| format!("start ≈ {}", at(t)),
        );
        line(
            "queue",
            format!("position {} ({estimate})", standing.position),
        );
    }
    line("circuit", circuit_text);
    line(
        "submitted by",
        match user {
            Some(u) => format!("{} ({})", u.handle, u.id),
            None => format!("{} (missing)", run.user_id),
        },
    );
    line(
        "backend",
        format!("{}/{}", run.spec.backend_type, run.spec.backend_name),
    );
    line("framework", run.spec.framework.clone());
    line("shots", run.spec.shots.to_string());
    line(
        "consent",
        match run.spec.analytics_consent {
            Some(true) => "granted",
            Some(false) => "denied",
            None => "none (legacy)",
        }
        .to_owned(),
    );
    line("created", at(run.created_at));
    if let Some(started) = run.started_at {
        line(
            "started",
            format!(
                "{} (queued {})",
                at(started),
                span(started - run.created_at)
            ),
        );
    }
    if let Some(done) = run.completed_at {
        let took = match run.started_at {
            Some(started) => format!("ran {}", span(done - started)),
            None => format!("{} after creation", span(done - run.created_at)),
        };
        line("finished", format!("{} ({took})", at(done)));
    }
    if let Some(node) = &run.claimed_by
        && !run.status.is_terminal()
    {
        let lease = run
            .lease_expires_at
            .map(|t| format!(", lease until {}", at(t)))
            .unwrap_or_default();
        line("node", format!("{node}{lease}"));
    }
    if let Some(results) = &run.results {
        let mut top: Vec<(&String, &u64)> = results.counts.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = top
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let more = top
            .len()
            .checked_sub(8)
            .filter(|n| *n > 0)
            .map(|n| format!(" (+{n} more)"))
            .unwrap_or_default();
        line(
            "results",
            format!(
                "{} outcomes over {} shots in {}: {}{more}",
                results.unique_states,
                results.shots,
                span(TimeDelta::microseconds(
                    (results.execution_time * 1e6) as i64
                )),
                shown.join(" ")
            ),
        );
    }
    if run.status == RunStatus::Failed {
        line(
            "error",
            format!(
                "{} at {}: {}",
                run.error_class.map(|c| c.as_str()).unwrap_or("?"),
                run.error_stage.map(|s| s.as_str()).unwrap_or("?"),
                run.error_message.as_deref().unwrap_or("")
            ),
        );
    }
    let mut text = format!("run {}\n{out}timeline\n", run.id);
    for entry in audit {
        let _ = writeln!(
            text,
            "  {}  {:<14} {}",
            at(entry.created_at),
            entry.action,
            transition(&entry.metadata)
        );
    }
    text
}

/// An audit row's metadata in words: `pending → running  by executor  node=… lease_expires_at=…`;
/// what the run's own facts already say (framework, backend) is left out.
fn transition(metadata: &Value) -> String {
    let Value::Object(metadata) = metadata else {
        return String::new();
    };
    let text = |key: &str| match metadata.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let mut line = match text("from") {
        from if from.is_empty() => format!("→ {}", text("to")),
        from => format!("{from} → {}", text("to")),
    };
    line.push_str(&format!("  by {}", text("by")));
    const SHOWN: [&str; 6] = [
        "from",
        "to",
        "by",
        "framework",
        "backend_type",
        "backend_name",
    ];
    let rest: Vec<String> = metadata
        .iter()
        .filter(|(key, value)| !SHOWN.contains(&key.as_str()) && !value.is_null())
        .map(|(key, value)| match value {
            Value::String(s) => format!("{key}={s}"),
            other => format!("{key}={other}"),
        })
        .collect();
    if !rest.is_empty() {
        line.push_str("  ");
        line.push_str(&rest.join(" "));
    }
    line
}

/// The operator's whole view of a run row: every field, taken apart by name (no `..`), so a
/// field added to [`Run`] or [`RunSpec`] does not compile until it is shown here.
fn show_json(
    run: &Run,
    user: Option<&User>,
    circuit: Option<&Circuit>,
    standing: Option<&QueueStanding>,
    audit: &[AuditEntry],
) -> Value {
    let Run {
        id,
        user_id,
        idempotency_key,
        spec,
        status,
        results,
        error_class,
        error_message,
        error_stage,
        created_at,
        started_at,
        completed_at,
        claimed_by,
        lease_expires_at,
    } = run;
    let RunSpec {
        circuit_id,
        circuit_version,
        backend_type,
        backend_name,
        framework,
        shots,
        analytics_consent,
        parameters,
        seed,
        memory,
        options,
    } = spec;
    json!({
        "run": {
            "id": id,
            "status": status.as_str(),
            "user": {"id": user_id, "handle": user.map(|u| &u.handle)},
            "circuit": {
                "id": circuit_id,
                "owner": circuit.map(|c| &c.owner_handle),
                "name": circuit.map(|c| &c.name),
                "visibility": circuit.map(|c| c.visibility.as_str()),
                "version": circuit_version,
            },
            "backend_type": backend_type,
            "backend_name": backend_name,
            "framework": framework,
            "shots": shots,
            "parameters": parameters,
            "seed": seed,
            "memory": memory,
            "options": options,
            "results": results,
            "error_class": error_class.map(|c| c.as_str()),
            "error_stage": error_stage.map(|s| s.as_str()),
            "error_message": error_message,
            "analytics_consent": analytics_consent,
            "created_at": created_at,
            "started_at": started_at,
            "completed_at": completed_at,
            "claimed_by": claimed_by,
            "lease_expires_at": lease_expires_at,
            "idempotency_key": idempotency_key,
            "queue_position": standing.map(|s| s.position),
            "estimated_start_at": standing.and_then(|s| s.estimated_start_at),
        },
        "audit": audit.iter().map(|e| json!({
            "id": e.id,
            "action": e.action,
            "actor_user_id": e.actor_user_id,
            "metadata": e.metadata,
            "created_at": e.created_at,
        })).collect::<Vec<_>>(),
    })
}

async fn list(
    store: &Store,
    status: Option<RunStatus>,
    older_than: Option<Duration>,
    handle: Option<&str>,
    limit: u64,
) -> anyhow::Result<ExitCode> {
    let user_id = match handle {
        None => None,
        Some(handle) => match store.user_by_handle(handle).await? {
            Some(user) => Some(user.id),
            None => {
                eprintln!("qrun: no user `{handle}`");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let now = store.now().await?; // the clock `created_at` was stamped in
    // "Older than" is a keyset bound: created at or before `now - age` (every id sorts below
    // the largest uuid).
    let before = older_than.map(|age| {
        let age = TimeDelta::from_std(age).unwrap_or(TimeDelta::MAX);
        let bound = now
            .checked_sub_signed(age)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        (bound, Uuid::max())
    });
    let runs = store
        .list_runs(&RunFilter {
            user_id,
            status,
            before,
            limit,
            ..RunFilter::default()
        })
        .await?;
    println!(
        "{:<36}  {:<9}  {:>10}  {:<16}  {:<28}  {:<24}  {:>7}",
        "ID", "STATUS", "AGE", "USER", "CIRCUIT", "BACKEND", "SHOTS"
    );
    for run in runs {
        let user = store.user(run.user_id).await?;
        let circuit = store.circuit(run.spec.circuit_id).await?;
        let line = format!(
            "{:<36}  {:<9}  {:>10}  {:<16}  {:<28}  {:<24}  {:>7}",
            run.id,
            run.status.as_str(),
            span(now - run.created_at),
            user.map(|u| u.handle).unwrap_or_else(|| "?".into()),
            circuit
                .map(|c| format!("{}/{}", c.owner_handle, c.name))
                .unwrap_or_else(|| "?".into()),
            format!("{}/{}", run.spec.backend_type, run.spec.backend_name),
            run.spec.shots
        );
        println!("{}", escape_untrusted(&line));
    }
    Ok(ExitCode::SUCCESS)
}

async fn cancel(store: &Store, id: &str, reason: Option<&str>) -> anyhow::Result<ExitCode> {
    let by = match reason.map(cancel_reason).transpose() {
        Ok(None) => Canceller::Operator,
        Ok(Some(reason)) => Canceller::OperatorWithReason {
            operator: None,
            reason,
        },
        Err(err) => return Ok(refuse(&err.to_string())),
    };
    let run = match find(store, id).await? {
        Ok(run) => run,
        Err(line) => return Ok(refuse(&line)),
    };
    let command = Command::Transition {
        run_id: run.id,
        change: Change::Cancel { by },
    };
    match store.apply_one(command).await {
        Ok(applied) => {
            let from = applied.from.map(RunStatus::as_str).unwrap_or("?");
            println!("cancelled run {} (it was {from})", run.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(WriteError::Conflict { current, .. }) => Ok(refuse(&format!(
            "run {} is already {current}; nothing changed",
            run.id
        ))),
        Err(WriteError::NotFound(id)) => Ok(refuse(&format!("no run {id}"))),
        Err(WriteError::Store(err)) => Err(anyhow::anyhow!("{err}")),
    }
}

/// One line on stderr, exit 1.
fn refuse(line: &str) -> ExitCode {
    eprintln!("qrun: {line}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_a_number_and_a_unit() {
        for (text, seconds) in [
            ("90s", 90),
            ("10m", 600),
            ("2h", 7200),
            ("1d", 86_400),
            ("0s", 0),
        ] {
            assert_eq!(parse_age(text), Ok(Duration::from_secs(seconds)), "{text}");
        }
        for bad in ["", "10", "m", "1.5h", "-1m", "10 m", "10M", "1w"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_read_well() {
        for (ms, text) in [
            (0, "0 ms"),
            (850, "850 ms"),
            (4_200, "4.2 s"),
            (185_000, "3 min 5 s"),
            (7_800_000, "2 h 10 min"),
            (273_600_000, "3 d 4 h"),
        ] {
            assert_eq!(span(TimeDelta::milliseconds(ms)), text);
        }
    }
}
