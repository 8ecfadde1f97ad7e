//! Database faults: PostgreSQL's connections killed (`pg_terminate_backend`), SQLite's write
//! lock held by another process. Submissions meanwhile are answered 201, or 503 with
//! Retry-After — never a 500, never a hang — the service recovers by itself, and every run
//! that got a 201 completes, with `verify` clean.

use qrun::app::Hooks;
use std::sync::Arc;
use std::time::Duration;

use qrun::domain::RunStatus;
use qrun::store::{Command, StoreError, WriteError};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::helpers::{TestApp, TestDb, executing, http, wait_until};
use crate::on_both_databases;

/// How long a request waits for the database before it is refused (`database.wait_timeout_ms`,
/// the test's setting): well under each outage. On SQLite it is the busy timeout the held
/// write lock outlasts; on PostgreSQL also the pool's wait for a connection, which must cover
/// the app opening its first connections on a loaded machine (at 300 ms, one full CI run in
/// three had a fixture upload answered 503 before any fault).
fn wait_timeout_ms(config: &qrun::config::Config) -> u64 {
    if config.database.url.starts_with("postgres") {
        1000
    } else {
        300
    }
}

/// A fault on the database behind a running app, injected from outside it.
enum Fault {
    /// Kill every connection to the database, again and again.
    Terminate(DatabaseConnection),
    /// Hold SQLite's write lock.
    Lock(DatabaseConnection),
}

impl Fault {
    async fn new(url: &str) -> Fault {
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(1).sqlx_logging(false);
        let conn = Database::connect(options)
            .await
            .expect("a second connection");
        if url.starts_with("postgres") {
            Fault::Terminate(conn)
        } else {
            Fault::Lock(conn)
        }
    }

    /// Keeps the database unusable for `period`; how many faults were injected.
    async fn inject(&self, period: Duration) -> u64 {
        let until = tokio::time::Instant::now() + period;
        match self {
            Fault::Terminate(admin) => {
                let mut killed = 0;
                while tokio::time::Instant::now() < until {
                    let row = admin
                        .query_one_raw(sea_orm::Statement::from_string(
                            admin.get_database_backend(),
                            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                             WHERE datname = current_database() AND pid <> pg_backend_pid()",
                        ))
                        .await
                        .expect("terminating the app's connections")
                        .expect("a row");
                    killed += row.try_get::<i64>("", "n").unwrap() as u64;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                killed
            }
            Fault::Lock(conn) => {
                conn.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
                tokio::time::sleep_until(until).await;
                conn.execute_unprepared("COMMIT").await.unwrap();
                1
            }
        }
    }
}

async fn a_database_outage_is_503_then_the_service_recovers(db: TestDb) {
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.database.wait_timeout_ms = wait_timeout_ms(config);
    };
    let app = Arc::new(TestApp::spawn_with(db, adjust, Hooks::default()).await);
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let circuit_id = circuit["id"].as_str().unwrap().to_owned();
    let fault = Fault::new(&app.db.url).await;

    let outage = Duration::from_millis(1500);
    let stop = Arc::new(tokio::sync::Notify::new());
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let (app, token, circuit_id, stop) =
                (app.clone(), token.clone(), circuit_id.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let stopped = stop.notified();
                tokio::pin!(stopped);
                loop {
                    let request = http()
                        .post(app.url("/api/runs"))
                        .bearer_auth(&token)
                        .timeout(Duration::from_secs(30))
                        .json(&serde_json::json!({
                            "circuit_id": circuit_id,
                            "backend": {"type": "simulator", "name": "statevector"},
                            "shots": 100,
                        }))
                        .send();
                    let response = tokio::select! {
                        r = request => r.expect("an answer, never a hang or a dropped connection"),
                        _ = &mut stopped => return answers,
                    };
                    let status = response.status().as_u16();
                    let retry_after = response.headers().get("retry-after").cloned();
                    let body: serde_json::Value = response.json().await.unwrap();
                    answers.push((status, retry_after, body));
                }
            })
        })
        .collect();
    let injected = fault.inject(outage).await;
    // Submissions go on after the fault until each client has been answered 201 again.
    wait_until(
        Duration::from_secs(30),
        "submissions accepted again",
        || {
            let (app, token, circuit_id) = (app.clone(), token.clone(), circuit_id.clone());
            async move {
                let response = app.submit_http(&token, &circuit_id, &[]).await;
                response.status() == 201
            }
        },
    )
    .await;
    stop.notify_waiters();
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.unwrap());
    }

    assert!(injected > 0, "the fault was injected");
    let refused: Vec<_> = answers.iter().filter(|(s, ..)| *s == 503).collect();
    let unexpected: Vec<_> = answers
        .iter()
        .filter(|(s, ..)| *s != 201 && *s != 503)
        .collect();
    assert!(unexpected.is_empty(), "only 201 or 503: {unexpected:?}");
    assert!(!refused.is_empty(), "the outage was seen by clients");
    for (_, retry_after, body) in &refused {
        assert!(retry_after.is_some(), "503 carries Retry-After: {body}");
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
    }
    eprintln!(
        "{injected} faults; {} submissions: {} accepted, {} refused with 503",
        answers.len(),
        answers.len() - refused.len(),
        refused.len()
    );

    // Every accepted run completes; nothing is stuck, nothing is lost.
    let accepted = answers.iter().filter(|(s, ..)| *s == 201).count() + 1;
    wait_until(
        Duration::from_secs(60),
        "every accepted run terminal",
        || async {
            let counts = app.store().run_counts().await.unwrap();
            counts.get(&RunStatus::Pending).copied().unwrap_or(0) == 0
                && counts.get(&RunStatus::Running).copied().unwrap_or(0) == 0
        },
    )
    .await;
    let counts = app.store().run_counts().await.unwrap();
    let completed = counts.get(&RunStatus::Completed).copied().unwrap_or(0);
    // A 503 whose commit reached the database before the connection died is a run the
    // client was not told about; it still completes. Nothing else may be there.
    assert!(
        completed >= accepted as u64,
        "{counts:?} for {accepted} accepted"
    );
    assert_eq!(
        counts.values().sum::<u64>(),
        completed,
        "every run completed: {counts:?}"
    );
    let report = app.store().verify().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    Arc::into_inner(app).unwrap().stop().await;
}

/// A batch that meets an outage fails as a whole, from a single attempt: applying its
/// commands again one by one would wait out the same outage once per command.
async fn a_batch_meeting_an_outage_fails_at_once(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |config| {
            config.database.wait_timeout_ms = wait_timeout_ms(config);
        },
        Hooks::default(),
    )
    .await;
    let fx = app.circuit().await;
    let commands: Vec<Command> = (1..=5)
        .map(|shots| Command::Create(fx.new_run(shots, Some(true))))
        .collect();
    let outcomes = match Fault::new(&app.db.url).await {
        Fault::Terminate(_) => {
            // The disk is full: PostgreSQL refuses every new row (SQLSTATE 53100).
            for sql in [
                "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$",
                "CREATE TRIGGER disk_full BEFORE INSERT ON runs \
                 FOR EACH ROW EXECUTE FUNCTION disk_full()",
            ] {
                app.store().execute_raw(sql).await.unwrap();
            }
            app.store().apply(&commands).await
        }
        Fault::Lock(other) => {
            // Another process holds the write lock past the busy timeout.
            other.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
            let outcomes = app.store().apply(&commands).await;
            other.execute_unprepared("COMMIT").await.unwrap();
            outcomes
        }
    };
    let errors: Vec<&Arc<StoreError>> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Err(WriteError::Store(err)) => err,
            other => panic!("every command fails: {other:?}"),
        })
        .collect();
    assert_eq!(errors.len(), commands.len());
    assert!(errors[0].is_transient(), "{}", errors[0]);
    assert!(
        errors.iter().all(|err| Arc::ptr_eq(err, errors[0])),
        "one attempt, one error: {errors:?}"
    );
    let counts = app.store().run_counts().await.unwrap();
    assert_eq!(
        counts.values().sum::<u64>(),
        0,
        "nothing written: {counts:?}"
    );
    app.stop().await;
}

on_both_databases!(
    a_database_outage_is_503_then_the_service_recovers,
    a_batch_meeting_an_outage_fails_at_once,
);

/// One server-sent event: its type, id, retry and data lines.
#[derive(Debug, Default)]
struct SseEvent {
    event: String,
    id: Option<String>,
    retry: Option<String>,
    data: String,
}

/// Reads a whole event stream (at most `within`).
async fn read_stream(response: reqwest::Response, within: Duration) -> Vec<SseEvent> {
    let text = tokio::time::timeout(within, response.text())
        .await
        .expect("the stream ends")
        .expect("a body");
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty() && !block.starts_with(':'))
        .map(|block| {
            let mut event = SseEvent::default();
            for line in block.lines() {
                match line.split_once(':') {
                    Some(("event", v)) => event.event = v.trim().to_owned(),
                    Some(("id", v)) => event.id = Some(v.trim().to_owned()),
                    Some(("retry", v)) => event.retry = Some(v.trim().to_owned()),
                    Some(("data", v)) => event.data = v.to_owned(),
                    _ => {}
                }
            }
            event
        })
        .collect()
}

/// An app executing runs on a backend that takes `seconds`, with a public Bell circuit of
/// alice's; the app and alice's token.
async fn slow_runs(db: TestDb, dir: &std::path::Path, seconds: f64) -> (TestApp, String) {
    let slow = crate::helpers::sleepy_backend(dir, "slow", seconds);
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.database.wait_timeout_ms = wait_timeout_ms(config);
        config.backends.push(slow);
    };
    let app = TestApp::spawn_with(db, adjust, Hooks::default()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    (app, token)
}

/// Through a 3 s PostgreSQL outage (every connection killed, again and again) a client
/// watching a run still receives its ending: the stream retries its reads instead of closing.
/// Events carry ids (their status) and the first a `retry:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_outlives_a_database_outage() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = slow_runs(db, dir.path(), 1.0).await;
    let run = app
        .submit_run(&token, "alice/bell", ("command", "slow"), 10)
        .await;
    app.wait_status(run, RunStatus::Running).await;
    let stream = http()
        .get(app.url(&format!("/api/runs/{run}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let reading = tokio::spawn(read_stream(stream, Duration::from_secs(90)));
    let faults = Fault::new(&app.db.url)
        .await
        .inject(Duration::from_secs(3))
        .await;
    assert!(faults > 0);
    let events = reading.await.unwrap();
    let kinds: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.id.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [("status", Some("running")), ("status", Some("completed"))],
        "{events:?}"
    );
    assert_eq!(events[0].retry.as_deref(), Some("2000"));
    let last: serde_json::Value = serde_json::from_str(&events[1].data).unwrap();
    assert_eq!(last["status"], "completed");
    app.stop().await;
}

/// A client reconnecting with `Last-Event-ID` is not sent the status it has; a read that fails
/// for good (the table is gone) ends the stream with one `error` event, never silently.
async fn an_event_stream_resumes_and_ends_with_an_error_event(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = slow_runs(db, dir.path(), 1.0).await;
    let run = app
        .submit_run(&token, "alice/bell", ("command", "slow"), 10)
        .await;
    app.wait_status(run, RunStatus::Running).await;
    let resumed = http()
        .get(app.url(&format!("/api/runs/{run}/events")))
        .header("last-event-id", "running")
        .send()
        .await
        .unwrap();
    let events = read_stream(resumed, Duration::from_secs(30)).await;
    let ids: Vec<_> = events.iter().map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, [Some("completed")], "{events:?}");

    let run = app
        .submit_run(&token, "alice/bell", ("command", "slow"), 10)
        .await;
    app.wait_status(run, RunStatus::Running).await;
    let stream = http()
        .get(app.url(&format!("/api/runs/{run}/events")))
        .send()
        .await
        .unwrap();
    let reading = tokio::spawn(read_stream(stream, Duration::from_secs(30)));
    app.store()
        .execute_raw("ALTER TABLE runs RENAME TO runs_gone")
        .await
        .unwrap();
    let events = reading.await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["status", "error"], "{events:?}");
    let error: serde_json::Value = serde_json::from_str(&events[1].data).unwrap();
    assert_eq!(error["error"]["code"], "internal", "{error}");
    app.store()
        .execute_raw("ALTER TABLE runs_gone RENAME TO runs")
        .await
        .unwrap();
    app.stop().await;
}

on_both_databases!(an_event_stream_resumes_and_ends_with_an_error_event);

/// Reconnecting to a finished run's stream with `Last-Event-ID` at its terminal event is `204
/// No Content` (WHATWG: an `EventSource` then stops reconnecting); any other last event still
/// gets the ending.
async fn reconnecting_after_a_runs_last_event_is_204(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (app, token) = slow_runs(db, dir.path(), 0.1).await;
    let run = app
        .submit_run(&token, "alice/bell", ("command", "slow"), 10)
        .await;
    app.wait_status(run, RunStatus::Completed).await;
    let reconnect = async |last: &str| {
        http()
            .get(app.url(&format!("/api/runs/{run}/events")))
            .header("last-event-id", last)
            .send()
            .await
            .unwrap()
    };
    let done = reconnect("completed").await;
    assert_eq!(done.status(), 204);
    assert_eq!(done.text().await.unwrap(), "");
    let behind = reconnect("running").await;
    assert_eq!(behind.status(), 200);
    let events = read_stream(behind, Duration::from_secs(10)).await;
    let ids: Vec<_> = events.iter().map(|e| e.id.as_deref()).collect();
    assert_eq!(ids, [Some("completed")], "{events:?}");
    // The service goes on serving.
    assert_eq!(app.run_json(run).await["status"], "completed");
    app.stop().await;
}

on_both_databases!(reconnecting_after_a_runs_last_event_is_204);

/// A batch that PostgreSQL rolls back as a deadlock's victim is applied again, and its
/// commands take effect: here another transaction holds run B, the batch cancels A then B
/// (and waits for B), and the other transaction then asks for A — a cycle the database breaks
/// by rolling the batch back. (Two nodes' batches, a cancel batch and a completion batch
/// locking the same runs in different orders, met this in the three-node test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_rolled_back_by_a_deadlock_is_applied_again() {
    use qrun::store::{Canceller, Change};
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let app = TestApp::spawn(db).await;
    let fixture = app.circuit().await;
    let a = app.submit(&fixture, Some(false)).await.id;
    let b = app.submit(&fixture, Some(false)).await.id;
    let other = Database::connect(ConnectOptions::new(app.db.url.clone()))
        .await
        .unwrap();
    let other = sea_orm::TransactionTrait::begin(&other).await.unwrap();
    other
        .execute_unprepared(&format!("SELECT id FROM runs WHERE id = '{b}' FOR UPDATE"))
        .await
        .unwrap();
    let cancel = |run| Command::Transition {
        run_id: run,
        change: Change::Cancel {
            by: Canceller::Operator,
        },
    };
    let store = app.store().clone();
    let batch = tokio::spawn(async move { store.apply(&[cancel(a), cancel(b)]).await });
    let watcher = Database::connect(ConnectOptions::new(app.db.url.clone()))
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        "the batch waits for run B",
        || async {
            let waiting = watcher
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE \"runs\"%'",
                ))
                .await
                .unwrap()
                .unwrap();
            waiting.try_get::<i64>("", "n").unwrap() == 1
        },
    )
    .await;
    // The cycle: the batch holds A and waits for B; this asks for A. PostgreSQL rolls one
    // back after `deadlock_timeout` (1 s): the batch, which waited first.
    other
        .execute_unprepared(&format!("SELECT id FROM runs WHERE id = '{a}' FOR UPDATE"))
        .await
        .unwrap();
    other.commit().await.unwrap();
    let outcomes = batch.await.unwrap();
    for outcome in outcomes {
        let applied = outcome.expect("applied on its second attempt");
        assert_eq!(applied.run.status, RunStatus::Cancelled);
    }
    app.stop().await;
}
