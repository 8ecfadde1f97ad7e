//! Analytics delivery against a real local HTTP server speaking PostHog's batch API.

use qrun::app::Hooks;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qrun::config::SinkKind;
use qrun::domain::RunStatus;
use qrun::store::Command;
use serde_json::{Value, json};
use uuid::Uuid;
use warp::{Filter, Reply};

use crate::helpers::{Fixture, TestApp, TestDb, not_delivering, wait_until};
use crate::on_both_databases;

/// How the fake server answers the n-th request (0-based) carrying `events`.
type Policy = dyn Fn(usize, &[Value]) -> (u16, Option<&'static str>) + Send + Sync;

/// A local stand-in for PostHog's `POST /batch/`.
struct FakePostHog {
    url: String,
    /// Every request body, in order, with the status it got.
    log: Arc<Mutex<Vec<(u16, Value)>>>,
}

impl FakePostHog {
    async fn start(policy: Arc<Policy>) -> FakePostHog {
        let log: Arc<Mutex<Vec<(u16, Value)>>> = Arc::default();
        let seen = log.clone();
        let route = warp::path!("batch")
            .and(warp::post())
            .and(warp::body::json())
            .map(move |body: Value| {
                let mut seen = seen.lock().unwrap();
                let events = body["batch"].as_array().cloned().unwrap_or_default();
                let (status, retry_after) = policy(seen.len(), &events);
                seen.push((status, body));
                let mut response = warp::reply::with_status(
                    "{}",
                    warp::http::StatusCode::from_u16(status).unwrap(),
                )
                .into_response();
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", seconds.parse().unwrap());
                }
                response
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(warp::serve(route).incoming(listener).run());
        FakePostHog { url, log }
    }

    /// The events of the batches answered 2xx.
    fn accepted(&self) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(status, _)| *status < 300)
            .flat_map(|(_, body)| body["batch"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

async fn app_with_sink(db: TestDb, sink: &FakePostHog, execute: bool) -> TestApp {
    app_with_sink_batching(db, sink, execute, 100).await
}

async fn app_with_sink_batching(
    db: TestDb,
    sink: &FakePostHog,
    execute: bool,
    batch_size: u64,
) -> TestApp {
    let adjust = |config: &mut qrun::config::Config| {
        config.analytics.batch_size = batch_size;
        config.executor.enabled = execute;
        config.executor.claim_interval_ms = 50;
        config.analytics.sink = SinkKind::Posthog;
        config.analytics.posthog_host = sink.url.clone();
        config.analytics.posthog_api_key = "phc_test".into();
        config.analytics.flush_interval_ms = 50;
        config.analytics.max_backoff_s = 1;
        config.analytics.request_timeout_s = 2;
    };
    TestApp::spawn_with(db, adjust, Hooks::default()).await
}

async fn wait_delivered(app: &TestApp) {
    wait_until(Duration::from_secs(30), "the outbox is drained", || async {
        app.store().outbox_depth().await.unwrap() == 0
    })
    .await;
}

async fn wait_all_completed(app: &TestApp, n: u64) {
    wait_until(Duration::from_secs(30), "runs completed", || async {
        app.store().run_counts().await.unwrap()[&RunStatus::Completed] == n
    })
    .await;
}

async fn consented_runs_deliver_exactly_their_events_and_others_none(db: TestDb) {
    let sink = FakePostHog::start(Arc::new(|_, _| (200, None))).await;
    let app = app_with_sink(db, &sink, true).await;
    let (user, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap();
    let granted: Value = app
        .submit_http(&token, cid, &[("X-Analytics-Consent", "granted")])
        .await
        .json()
        .await
        .unwrap();
    app.submit_http(&token, cid, &[("X-Analytics-Consent", "denied")])
        .await;
    app.submit_http(&token, cid, &[]).await;
    // A legacy row: consent NULL.
    let fixture = Fixture {
        user_id: user.id,
        token: token.clone(),
        circuit_id: cid.parse().unwrap(),
        version: 1,
    };
    app.apply(Command::Create(fixture.new_run(10, None)))
        .await
        .unwrap();
    wait_all_completed(&app, 4).await;
    wait_delivered(&app).await;

    let events = sink.accepted();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["run_requested", "run_started", "run_completed"],
        "only the consented run: {events:#?}"
    );
    let run_id = granted["id"].as_str().unwrap();
    let stored: BTreeSet<String> = app
        .store()
        .outbox_for_run(run_id.parse().unwrap())
        .await
        .unwrap()
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    for e in &events {
        assert_eq!(e["distinct_id"], user.id.to_string());
        let p = &e["properties"];
        assert_eq!(p["run_id"], run_id);
        assert_eq!(p["circuit_id"], cid);
        assert_eq!(
            (
                p["framework"].as_str(),
                p["backend_class"].as_str(),
                p["backend_name"].as_str()
            ),
            (Some("qiskit"), Some("simulator"), Some("statevector"))
        );
        assert_eq!(p["$process_person_profile"], false);
        assert!(
            stored.contains(e["uuid"].as_str().unwrap()),
            "the outbox's deterministic uuid"
        );
        assert!(e["timestamp"].as_str().is_some());
    }
    let completed = &events[2]["properties"];
    assert_eq!(completed["shots"], 100);
    assert_eq!(completed["unique_states"], 2);
    assert!(completed["execution_time"].as_f64().unwrap() >= 0.0);
    assert_eq!(sink.log.lock().unwrap()[0].1["api_key"], "phc_test");

    // Delivered events are pruned after the retention period; verify knows why they are gone.
    let pruned = app
        .store()
        .prune_outbox(chrono::TimeDelta::hours(-1))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert!(
        app.store()
            .outbox_for_run(run_id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(app.store().verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

async fn an_outage_delays_delivery_but_every_event_arrives_once(db: TestDb) {
    let sink = FakePostHog::start(Arc::new(|n, _| match n {
        0 => (503, Some("1")),
        1 | 2 => (503, None),
        _ => (200, None),
    }))
    .await;
    let app = app_with_sink(db, &sink, true).await;
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    for _ in 0..2 {
        app.submit_http(
            &token,
            circuit["id"].as_str().unwrap(),
            &[("X-Analytics-Consent", "granted")],
        )
        .await;
    }
    wait_all_completed(&app, 2).await;
    wait_delivered(&app).await;
    let uuids: Vec<String> = sink
        .accepted()
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = uuids.iter().collect();
    assert_eq!(
        (uuids.len(), unique.len()),
        (6, 6),
        "every event once: {uuids:?}"
    );
    assert!(sink.requests() >= 4, "the outage was retried");
    app.stop().await;
}

async fn a_refused_batch_is_parked_and_the_rest_flows(db: TestDb) {
    // The sink refuses any batch holding an event of a 7-shot run.
    let sink = FakePostHog::start(Arc::new(|_, events| {
        if events.iter().any(|e| e["properties"]["shots"] == 7) {
            (400, None)
        } else {
            (200, None)
        }
    }))
    .await;
    let app = app_with_sink(db, &sink, false).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let submit = |shots: u64| {
        let request = crate::helpers::http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .header("X-Analytics-Consent", "granted")
            .json(&json!({"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": shots}));
        async move {
            let run: Value = request.send().await.unwrap().json().await.unwrap();
            run["id"].as_str().unwrap().parse::<Uuid>().unwrap()
        }
    };
    let mut runs = Vec::new();
    for shots in [100, 100, 7, 100, 100] {
        runs.push(submit(shots).await);
    }
    wait_delivered(&app).await;
    let accepted: BTreeSet<String> = sink
        .accepted()
        .iter()
        .map(|e| e["properties"]["run_id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = runs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, r)| r.to_string())
        .collect();
    assert_eq!(accepted, expected);
    let parked = app.store().outbox_for_run(runs[2]).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(parked[0].parked_at.is_some() && parked[0].delivered_at.is_none());
    assert!(
        parked[0].last_error.as_deref().unwrap().contains("400"),
        "{parked:?}"
    );
    // New events keep flowing after the parked one.
    submit(100).await;
    wait_delivered(&app).await;
    assert_eq!(sink.accepted().len(), 5);
    app.stop().await;
}

async fn forget_erases_a_users_undelivered_events(db: TestDb) {
    // A sink nobody answers: events stay undelivered, even through the shutdown flush.
    let app = TestApp::spawn_with(
        db,
        |c| {
            c.analytics.sink = SinkKind::Posthog;
            c.analytics.posthog_host = "http://127.0.0.1:9".into();
            c.analytics.posthog_api_key = "phc_test".into();
            c.analytics.request_timeout_s = 1;
        },
        Hooks::default(),
    )
    .await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let circuit = app.create_circuit(&alice, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap();
    let mut alices = Vec::new();
    for _ in 0..2 {
        let run: Value = app
            .submit_http(&alice, cid, &[("X-Analytics-Consent", "granted")])
            .await
            .json()
            .await
            .unwrap();
        alices.push(run["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let bobs: Value = app
        .submit_http(&bob, cid, &[("X-Analytics-Consent", "granted")])
        .await
        .json()
        .await
        .unwrap();
    let db = app.into_db().await;
    let out = crate::cli::qrun(&db, &["analytics", "forget", "alice"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    let out = crate::cli::qrun(&db, &["analytics", "forget", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    let app = TestApp::spawn(db).await;
    for run in &alices {
        assert!(app.store().outbox_for_run(*run).await.unwrap().is_empty());
        assert_eq!(
            app.store()
                .run(*run)
                .await
                .unwrap()
                .unwrap()
                .spec
                .analytics_consent,
            Some(false),
            "capture stops"
        );
    }
    let bobs = bobs["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        app.store().outbox_for_run(bobs).await.unwrap().len(),
        1,
        "other users untouched"
    );
    assert!(app.store().verify().await.unwrap().violations.is_empty());
    app.stop().await;
}

/// One tick claims several batches at once and records their delivery together: each request
/// still holds at most `batch_size` events, and each event is delivered once.
async fn a_tick_sends_many_batches_of_at_most_batch_size(db: TestDb) {
    let sink = FakePostHog::start(Arc::new(|_, _| (200, None))).await;
    let app = app_with_sink_batching(db, &sink, false, 3).await;
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let cid = circuit["id"].as_str().unwrap();
    for _ in 0..20 {
        let response = app
            .submit_http(&token, cid, &[("X-Analytics-Consent", "granted")])
            .await;
        assert_eq!(response.status(), 201);
    }
    wait_delivered(&app).await;
    let events = sink.accepted();
    let ids: std::collections::BTreeSet<_> = events
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!((events.len(), ids.len()), (20, 20), "each event once");
    let sizes: Vec<usize> = sink
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body["batch"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(sizes.iter().all(|&n| (1..=3).contains(&n)), "{sizes:?}");
    app.stop().await;
}

/// A take of the outbox holds at most its limit, the oldest first (on a fresh database too).
/// On PostgreSQL another take skips the events of one not finished (another node's dispatcher
/// while they are sent); on SQLite (one node) a take only reads. A take finished with no
/// verdict leaves its events due; those recorded delivered are not taken again (see
/// `Store::take_outbox`).
async fn an_outbox_take_holds_at_most_its_limit_and_only_its_own(db: TestDb) {
    let postgres = db.url.starts_with("postgres");
    let app = TestApp::spawn_with(db, not_delivering, Hooks::default()).await;
    let fx = app.circuit().await;
    for _ in 0..12 {
        app.submit(&fx, Some(true)).await;
    }
    let store = app.store();
    let ids = |events: &[qrun::domain::OutboxEvent]| -> Vec<Uuid> {
        events.iter().map(|e| e.id).collect()
    };
    let first = store.take_outbox(5).await.unwrap();
    assert_eq!(first.events().len(), 5);
    let created: Vec<_> = first.events().iter().map(|e| e.created_at).collect();
    assert!(created.is_sorted(), "oldest first: {created:?}");
    let taken = ids(first.events());

    let second = store.take_outbox(100).await.unwrap();
    let overlap = ids(second.events())
        .iter()
        .filter(|id| taken.contains(id))
        .count();
    if postgres {
        assert_eq!(
            (second.events().len(), overlap),
            (7, 0),
            "skips the locked five"
        );
    } else {
        assert_eq!(
            (second.events().len(), overlap),
            (12, 5),
            "a read of all due"
        );
    }
    second.finish().await.unwrap();

    first.delivered(&taken).await.unwrap();
    first.finish().await.unwrap();
    let rest = store.take_outbox(100).await.unwrap();
    assert_eq!(rest.events().len(), 7);
    assert!(ids(rest.events()).iter().all(|id| !taken.contains(id)));
    rest.finish().await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 7);
    app.stop().await;
}

/// A verdict is stamped when it is recorded, not when the events were taken: on PostgreSQL
/// the take's transaction stays open while the sink answers, and a retry's due time (the
/// sink's Retry-After) counts from the answer. Each verdict counts the attempt.
async fn a_verdict_is_stamped_when_recorded_and_counts_the_attempt(db: TestDb) {
    let app = TestApp::spawn_with(db, not_delivering, Hooks::default()).await;
    let fx = app.circuit().await;
    let run = app.submit(&fx, Some(true)).await;
    let store = app.store();
    let taken_at = store.now().await.unwrap();
    let batch = store.take_outbox(10).await.unwrap();
    assert_eq!(batch.events().len(), 1);
    assert_eq!(batch.events()[0].attempts, 0);
    // The send.
    let send = Duration::from_millis(300);
    tokio::time::sleep(send).await;
    let ids: Vec<Uuid> = batch.events().iter().map(|e| e.id).collect();
    batch.delivered(&ids).await.unwrap();
    batch.finish().await.unwrap();
    let event = &store.outbox_for_run(run.id).await.unwrap()[0];
    let delivered_at = event.delivered_at.expect("delivered");
    assert!(
        delivered_at >= taken_at + chrono::TimeDelta::from_std(send).unwrap(),
        "taken at {taken_at}, delivered at {delivered_at}"
    );
    assert_eq!(event.attempts, 1);
    app.stop().await;
}

on_both_databases!(
    a_verdict_is_stamped_when_recorded_and_counts_the_attempt,
    an_outbox_take_holds_at_most_its_limit_and_only_its_own,
    a_tick_sends_many_batches_of_at_most_batch_size,
    consented_runs_deliver_exactly_their_events_and_others_none,
    an_outage_delays_delivery_but_every_event_arrives_once,
    a_refused_batch_is_parked_and_the_rest_flows,
    forget_erases_a_users_undelivered_events,
);
