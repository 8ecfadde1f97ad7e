//! SQLite's own limit for qrun's run lifecycle (issue 7): the three transactions one
//! consented run writes, with nothing of qrun around them.
//!
//! ```sh
//! cargo bench --bench sqlite_limit                          # 10 s per loop, 32 tasks
//! cargo bench --bench sqlite_limit -- --secs 30 --tasks 32  # or SQLITE_LIMIT_SECS / _TASKS
//! ```
//!
//! Each lifecycle is what `src/store/lifecycle.rs` and `src/store/records.rs` write for a
//! run submitted with analytics consent and executed to completion, statement for statement
//! (the SQL sea-orm generates for them, the same bound types, JSON of the same shape):
//! 1. submit: `INSERT runs` (pending, `ON CONFLICT (user_id, idempotency_key) DO NOTHING`)
//!    + `INSERT audit_logs` (run.requested) + `INSERT analytics_outbox` (run_requested);
//! 2. start: guarded `UPDATE runs … WHERE id = ? AND status IN ('pending') AND created_at < ?
//!    AND (started_at IS NULL OR started_at < ?) RETURNING *` + audit + outbox;
//! 3. complete: the same guard from `running`, setting `results` (a Bell circuit's counts at
//!    100 shots) + audit + outbox.
//!
//! Each step is its own transaction. The database is opened as `src/store/connect.rs` opens
//! it (WAL, `synchronous = FULL`, foreign keys on, a busy timeout), in a fresh file on the
//! project's disk (`target/tmp`, not a tmpfs: every commit is an fsync), migrated by the
//! real migrations (`migration::Migrator`) and seeded with one user, one public Bell circuit
//! and its version 1.
//!
//! Two loops, each on its own fresh database:
//! - **single**: one task, one connection, one lifecycle after another: the single-writer
//!   loop issue 7 names as SQLite's limit.
//! - **concurrent**: `--tasks` tasks (default 32) over a pool of as many connections, each
//!   running lifecycles back to back. SQLite serialises their write transactions on its write
//!   lock (waiters sleep in the busy handler); what can overlap is everything outside it (the
//!   deferred BEGIN, the client's own work, the hops to sqlx's connection threads), so this
//!   can beat the single loop on a busy machine.
//!
//! qrun itself batches lifecycle steps of many runs into one transaction (the Recorder's
//! group commit), which this loop deliberately does not.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use qrun::domain::{Action, RunResults};
use rand::Rng;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    FromQueryResult, Statement, TransactionTrait, Value,
};
use serde_json::json;
use testkit::BELL;
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "SQLite's own limit for qrun's run lifecycle (issue 7)")]
struct Args {
    /// Seconds each loop runs.
    #[arg(long, env = "SQLITE_LIMIT_SECS", default_value_t = 10.0)]
    secs: f64,
    /// Concurrent tasks of the second loop (0 skips it).
    #[arg(long, env = "SQLITE_LIMIT_TASKS", default_value_t = 32)]
    tasks: usize,
    /// Connections of the concurrent loop's pool; default one per task.
    #[arg(long)]
    pool: Option<u32>,
    /// SQLite busy timeout, milliseconds (qrun's store waits on the write lock this long).
    #[arg(long, default_value_t = 10_000)]
    busy_timeout_ms: u64,
    /// Directory for the database files; default a fresh temporary directory under
    /// target/tmp, removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

const USER: Uuid = Uuid::from_u128(0x1111_1111_1111_4111_8111_1111_1111_1111);
const CIRCUIT: Uuid = Uuid::from_u128(0x2222_2222_2222_4222_8222_2222_2222_2222);
const NODE: &str = "bench-host-4242-5f0c9e2a";
const SHOTS: i64 = 100;
const LEASE: TimeDelta = TimeDelta::seconds(30);
/// src/store/records.rs's namespace of outbox event ids (uuid v5 of "{run_id}/{event}").
const OUTBOX_NAMESPACE: Uuid = Uuid::from_u128(0x5d3c_7f0e_9a41_4b8e_8f62_1c0d_2e4a_7b91);

const RUN_COLUMNS: &str = r#""id", "user_id", "circuit_id", "circuit_version", "status", "backend_type", "backend_name", "framework", "shots", "results", "error_class", "error_message", "error_stage", "analytics_consent", "created_at", "started_at", "completed_at", "claimed_by", "lease_expires_at", "idempotency_key", "outbox_pruned_at""#;

fn main() -> Result<(), Error> {
    let args = Args::parse();
    if !args.secs.is_finite() || args.secs <= 0.0 {
        return Err("--secs must be a positive number".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Error> {
    let temp;
    let dir = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            std::fs::create_dir_all(&base)?;
            temp = tempfile::Builder::new()
                .prefix("sqlite_limit")
                .tempdir_in(base)?;
            temp.path().to_owned()
        }
    };
    let duration = Duration::from_secs_f64(args.secs);
    let busy = Duration::from_millis(args.busy_timeout_ms);

    let single_db = open(&dir, "single", 1, busy).await?;
    println!(
        "sqlite_limit: {}; qrun's migrations; fresh databases in {}",
        sqlite_settings(&single_db).await?,
        dir.display()
    );
    println!(
        "one lifecycle = 3 transactions (submit, start, complete), each a run row change + audit row + outbox row"
    );

    let single = measure(single_db, 1, duration).await?;
    single.print("single loop (1 task, 1 connection)");

    let concurrent = if args.tasks > 0 {
        let pool = args.pool.unwrap_or(u32::try_from(args.tasks)?);
        let db = open(&dir, "concurrent", pool, busy).await?;
        let figures = measure(db, args.tasks, duration).await?;
        figures.print(&format!("{} tasks, pool of {pool}", args.tasks));
        Some(figures)
    } else {
        None
    };

    let mut rerun = format!(
        "cargo bench --bench sqlite_limit -- --secs {} --tasks {}",
        args.secs, args.tasks
    );
    if let Some(pool) = args.pool {
        rerun.push_str(&format!(" --pool {pool}"));
    }
    if args.busy_timeout_ms != 10_000 {
        rerun.push_str(&format!(" --busy-timeout-ms {}", args.busy_timeout_ms));
    }
    println!("rerun: {rerun}");
    println!(
        "RESULT sqlite single_lifecycles_per_s={:.1} single_avg_ms={:.3} tasks={} concurrent_lifecycles_per_s={} concurrent_avg_ms={} concurrent_errors={}",
        single.rate(),
        single.avg_ms(),
        args.tasks,
        concurrent
            .as_ref()
            .map_or("-".into(), |c| format!("{:.1}", c.rate())),
        concurrent
            .as_ref()
            .map_or("-".into(), |c| format!("{:.3}", c.avg_ms())),
        concurrent.as_ref().map_or(0, |c| c.errors),
    );
    Ok(())
}

/// Opens a fresh database file as qrun's store does, migrates and seeds it.
async fn open(
    dir: &std::path::Path,
    name: &str,
    connections: u32,
    busy: Duration,
) -> Result<DatabaseConnection, Error> {
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(file)?;
        }
    }
    let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    options
        .max_connections(connections)
        .min_connections(connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(60))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(busy)
        });
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    seed(&db).await?;
    Ok(db)
}

/// The SQLite version and the settings a pooled connection actually has.
async fn sqlite_settings(db: &DatabaseConnection) -> Result<String, Error> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sqlite_version() AS v, journal_mode AS j, synchronous AS s, \
                    foreign_keys AS f, timeout AS t \
             FROM pragma_journal_mode, pragma_synchronous, pragma_foreign_keys, pragma_busy_timeout",
        ))
        .await?
        .ok_or("no settings")?;
    let synchronous: i32 = row.try_get("", "s")?;
    let synchronous = match synchronous {
        0 => "OFF",
        1 => "NORMAL",
        2 => "FULL",
        3 => "EXTRA",
        _ => "?",
    };
    Ok(format!(
        "SQLite {}, journal_mode={}, synchronous={synchronous}, foreign_keys={}, busy_timeout={} ms",
        row.try_get::<String>("", "v")?,
        row.try_get::<String>("", "j")?,
        row.try_get::<i32>("", "f")?,
        row.try_get::<i32>("", "t")?,
    ))
}

fn stmt(sql: impl Into<String>, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

async fn seed(db: &DatabaseConnection) -> Result<(), Error> {
    let now = Utc::now();
    db.execute_raw(stmt(
        r#"INSERT INTO "users" ("id", "handle", "created_at") VALUES (?, ?, ?)"#,
        vec![USER.into(), "bench".into(), now.into()],
    ))
    .await?;
    db.execute_raw(stmt(
        r#"INSERT INTO "circuits" ("id", "owner_id", "name", "visibility", "created_at") VALUES (?, ?, ?, ?, ?)"#,
        vec![
            CIRCUIT.into(),
            USER.into(),
            "bell".into(),
            "public".into(),
            now.into(),
        ],
    ))
    .await?;
    db.execute_raw(stmt(
        r#"INSERT INTO "circuit_versions" ("circuit_id", "version", "source", "manifest", "created_at") VALUES (?, ?, ?, ?, ?)"#,
        vec![
            CIRCUIT.into(),
            1i32.into(),
            BELL.into(),
            json!({"framework": "qiskit", "format": "openqasm2"}).into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

struct Figures {
    lifecycles: u64,
    errors: u64,
    elapsed: Duration,
    /// Sum over lifecycles of their own duration (submit to completed).
    busy: Duration,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.lifecycles as f64 / self.elapsed.as_secs_f64()
    }

    fn avg_ms(&self) -> f64 {
        if self.lifecycles == 0 {
            return f64::NAN;
        }
        self.busy.as_secs_f64() * 1000.0 / self.lifecycles as f64
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: {} lifecycles in {:.2} s = {:.1} lifecycles/s ({:.1} transactions/s), \
             avg {:.3} ms per lifecycle, {} errors",
            self.lifecycles,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.rate() * 3.0,
            self.avg_ms(),
            self.errors
        );
    }
}

/// Runs `tasks` loops of lifecycles for `duration`, then checks what they wrote.
async fn measure(
    db: DatabaseConnection,
    tasks: usize,
    duration: Duration,
) -> Result<Figures, Error> {
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let busy_us = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let db = db.clone();
        let (done, errors, busy_us) = (done.clone(), errors.clone(), busy_us.clone());
        handles.push(tokio::spawn(async move {
            let mut first_error = None;
            while Instant::now() < deadline {
                let began = Instant::now();
                match lifecycle(&db).await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        let us = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                        busy_us.fetch_add(us, Ordering::Relaxed);
                    }
                    Err(err) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| err.to_string());
                    }
                }
            }
            first_error
        }));
    }
    for handle in handles {
        if let Some(err) = handle.await? {
            eprintln!("sqlite_limit: a lifecycle failed: {err}");
        }
    }
    let elapsed = start.elapsed();
    let figures = Figures {
        lifecycles: done.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        busy: Duration::from_micros(busy_us.load(Ordering::Relaxed)),
    };
    check(&db, figures.lifecycles).await?;
    db.close().await?;
    Ok(figures)
}

/// Every counted lifecycle left a completed run, three audit rows and three outbox rows.
async fn check(db: &DatabaseConnection, lifecycles: u64) -> Result<(), Error> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            r#"SELECT (SELECT COUNT(*) FROM "runs" WHERE "status" = 'completed') AS completed,
                      (SELECT COUNT(*) FROM "audit_logs") AS audit,
                      (SELECT COUNT(*) FROM "analytics_outbox") AS outbox"#,
        ))
        .await?
        .ok_or("no counts")?;
    let completed: i64 = row.try_get("", "completed")?;
    let audit: i64 = row.try_get("", "audit")?;
    let outbox: i64 = row.try_get("", "outbox")?;
    let n = i64::try_from(lifecycles)?;
    if completed != n || audit < 3 * n || outbox < 3 * n {
        return Err(format!(
            "{lifecycles} lifecycles counted but {completed} completed runs, {audit} audit rows, {outbox} outbox rows"
        )
        .into());
    }
    Ok(())
}

/// The time one step writes at: now, strictly after the run's last stamp (qrun's guard).
fn after(last: DateTime<Utc>) -> DateTime<Utc> {
    Utc::now().max(last + TimeDelta::microseconds(1))
}

/// The analytics event of one of the lifecycle's actions this bench writes.
fn event(action: Action) -> &'static str {
    action.event().expect("the bench writes no hand-back")
}

fn event_id(run_id: Uuid, action: Action) -> Uuid {
    Uuid::new_v5(
        &OUTBOX_NAMESPACE,
        format!("{run_id}/{}", event(action)).as_bytes(),
    )
}

async fn lifecycle(db: &DatabaseConnection) -> Result<(), Error> {
    let (counts00, execution_time) = {
        let mut rng = rand::rng();
        (
            rng.random_range(35u64..=65),
            rng.random_range(50..=2000) as f64 / 1e6,
        )
    };
    let results = RunResults {
        counts: [
            ("00".to_owned(), counts00),
            ("11".to_owned(), 100 - counts00),
        ]
        .into(),
        shots: 100,
        execution_time,
        unique_states: 2,
        method: None,
        precision: None,
    };

    // 1. submit
    let run_id = Uuid::now_v7();
    let created = Utc::now();
    let txn = db.begin().await?;
    txn.execute_raw(stmt(
        format!(
            r#"INSERT INTO "runs" ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT ("user_id", "idempotency_key") DO NOTHING"#
        ),
        vec![
            run_id.into(),
            USER.into(),
            CIRCUIT.into(),
            1i32.into(),
            "pending".into(),
            "simulator".into(),
            "statevector".into(),
            "qiskit".into(),
            SHOTS.into(),
            Value::Json(None),
            Value::String(None),
            Value::String(None),
            Value::String(None),
            Some(true).into(),
            created.into(),
            Value::ChronoDateTimeUtc(None),
            Value::ChronoDateTimeUtc(None),
            Value::String(None),
            Value::ChronoDateTimeUtc(None),
            Value::String(None),
            Value::ChronoDateTimeUtc(None),
        ],
    ))
    .await?;
    let requested = json!({
        "framework": "qiskit", "backend_type": "simulator", "backend_name": "statevector",
        "from": null, "to": "pending", "shots": SHOTS, "circuit_version": 1, "by": "user",
    });
    let properties = json!({
        "run_id": run_id, "circuit_id": CIRCUIT, "framework": "qiskit",
        "backend_class": "simulator", "backend_name": "statevector", "shots": SHOTS,
    });
    records(
        &txn,
        run_id,
        Action::Requested,
        requested,
        properties,
        created,
    )
    .await?;
    txn.commit().await?;

    // 2. start
    let started = after(created);
    let lease = started + LEASE;
    let txn = db.begin().await?;
    guarded_update(
        &txn,
        r#""status" = ?, "started_at" = ?, "claimed_by" = ?, "lease_expires_at" = ?"#,
        vec!["running".into(), started.into(), NODE.into(), lease.into()],
        run_id,
        "pending",
        started,
    )
    .await?;
    let metadata = json!({
        "framework": "qiskit", "backend_type": "simulator", "backend_name": "statevector",
        "from": "pending", "to": "running", "node": NODE, "lease_expires_at": lease,
        "by": "executor",
    });
    let properties = json!({
        "run_id": run_id, "circuit_id": CIRCUIT, "framework": "qiskit",
        "backend_class": "simulator", "backend_name": "statevector", "shots": SHOTS,
    });
    records(&txn, run_id, Action::Started, metadata, properties, started).await?;
    txn.commit().await?;

    // 3. complete
    let completed = after(started);
    let txn = db.begin().await?;
    guarded_update(
        &txn,
        r#""status" = ?, "results" = ?, "completed_at" = ?, "lease_expires_at" = ?"#,
        vec![
            "completed".into(),
            serde_json::to_value(&results)?.into(),
            completed.into(),
            Value::ChronoDateTimeUtc(None),
        ],
        run_id,
        "running",
        completed,
    )
    .await?;
    let metadata = json!({
        "framework": "qiskit", "backend_type": "simulator", "backend_name": "statevector",
        "from": "running", "to": "completed", "shots": results.shots,
        "execution_time": results.execution_time, "unique_states": results.unique_states,
        "by": "executor",
    });
    let properties = json!({
        "run_id": run_id, "circuit_id": CIRCUIT, "framework": "qiskit",
        "backend_class": "simulator", "backend_name": "statevector",
        "execution_time": results.execution_time, "shots": results.shots,
        "unique_states": results.unique_states,
    });
    records(
        &txn,
        run_id,
        Action::Completed,
        metadata,
        properties,
        completed,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The compare-and-set of an edge, as src/store/lifecycle.rs's `guarded_update` writes it;
/// the updated row is read back into the entity model, as there.
async fn guarded_update(
    txn: &DatabaseTransaction,
    set: &str,
    mut values: Vec<Value>,
    run_id: Uuid,
    from: &str,
    now: DateTime<Utc>,
) -> Result<entity::runs::Model, Error> {
    values.extend([run_id.into(), from.into(), now.into(), now.into()]);
    let rows = txn
        .query_all_raw(stmt(
            format!(
                r#"UPDATE "runs" SET {set} WHERE "runs"."id" = ? AND "runs"."status" IN (?) AND "runs"."created_at" < ? AND ("runs"."started_at" IS NULL OR "runs"."started_at" < ?) RETURNING {RUN_COLUMNS}"#
            ),
            values,
        ))
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| format!("run {run_id}: the guard from {from} matched no row"))?;
    Ok(entity::runs::Model::from_query_result(row, "")?)
}

/// The audit row and the (consented) outbox row of one step, as src/store/records.rs writes
/// them.
async fn records(
    txn: &DatabaseTransaction,
    run_id: Uuid,
    action: Action,
    metadata: serde_json::Value,
    properties: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    txn.execute_raw(stmt(
        r#"INSERT INTO "audit_logs" ("id", "actor_user_id", "action", "resource_type", "resource_id", "metadata", "created_at") VALUES (?, ?, ?, ?, ?, ?, ?)"#,
        vec![
            Uuid::now_v7().into(),
            USER.into(),
            action.audit_action().into(),
            "run".into(),
            run_id.into(),
            metadata.into(),
            now.into(),
        ],
    ))
    .await?;
    txn.execute_raw(stmt(
        r#"INSERT INTO "analytics_outbox" ("id", "run_id", "event", "distinct_id", "properties", "created_at", "attempts", "next_attempt_at", "delivered_at", "last_error", "parked_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"#,
        vec![
            event_id(run_id, action).into(),
            run_id.into(),
            event(action).into(),
            USER.to_string().into(),
            properties.into(),
            now.into(),
            0i32.into(),
            now.into(),
            Value::ChronoDateTimeUtc(None),
            Value::String(None),
            Value::ChronoDateTimeUtc(None),
        ],
    ))
    .await?;
    Ok(())
}
