//! Jobs through the API (issue 30, docs/DESIGN.md §2, §6): runs submitted together as one
//! job, idempotent like a run; read back in order with names, status counts and usage;
//! partial results when a run fails; listed by tag; tags replaced; another's job 404; a bad
//! run refuses the whole job, naming its index, creating nothing; a job's `metadata` kept and
//! bounded; the cap on a job's runs as `GET /api/backends` reports it.

use serde_json::{Value, json};

use crate::helpers::{SIMULATOR, TestApp, TestDb, executing, run_body, sleepy_backend};
use crate::on_both_databases;

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut request = testkit::http()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `POST /api/jobs` of `body` as `token`'s user, with `key` as its `Idempotency-Key`.
async fn post_job(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    send(
        app,
        reqwest::Method::POST,
        "/api/jobs",
        token,
        Some(body),
        key,
    )
    .await
}

/// `GET /api/jobs/{id}` as the holder of `token`.
async fn get_job(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    send(
        app,
        reqwest::Method::GET,
        &format!("/api/jobs/{id}"),
        token,
        None,
        None,
    )
    .await
}

/// Asserts that posting `body`, another job than the one `key` created, is refused as a reuse
/// of the key (422 `idempotency_key_reused`).
async fn assert_key_reused(app: &TestApp, token: &str, body: &Value, key: &str) {
    let (status, error) = post_job(app, token, body, Some(key)).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{error}"
    );
}

fn named(circuit: &str, name: &str, shots: u64) -> Value {
    let mut run = run_body(circuit, SIMULATOR, shots);
    run["name"] = json!(name);
    run
}

async fn a_job_is_a_record_of_its_runs(db: TestDb) {
    // A command backend whose program outlives its 1 s time limit: its run fails (`timeout`)
    // at run time, after the job was accepted (what no backend can run is refused with the
    // whole job at submission, below).
    let dir = tempfile::tempdir().unwrap();
    let mut stuck = sleepy_backend(dir.path(), "stuck", 30.0);
    if let qrun::config::BackendConfig::Command {
        name, timeout_s, ..
    } = &mut stuck
    {
        (*name, *timeout_s) = ("stuck".into(), 1);
    }
    let adjust = |config: &mut qrun::config::Config| {
        executing(config);
        config.backends.push(stuck);
    };
    let app = TestApp::spawn_with(db, adjust, qrun::app::Hooks::default()).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    use reqwest::Method;

    let mut too_slow = run_body("alice/bell", ("command", "stuck"), 10);
    too_slow["name"] = json!("too slow");
    let body = json!({
        "runs": [named("alice/bell", "bell-a", 100), too_slow, named("alice/bell", "bell-b", 50)],
        "tags": ["sweep", "2026", "sweep"],
    });
    let (status, job) = post_job(&app, &alice, &body, Some("job-1")).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["tags"], json!(["2026", "sweep"]));
    let names: Vec<&Value> = job["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    assert_eq!(
        names,
        [&json!("bell-a"), &json!("too slow"), &json!("bell-b")]
    );
    assert_eq!(job["runs"][2]["run"]["shots"], 50);

    // A replay is the same job (200); the key for another job is 422.
    let (status, again) = post_job(&app, &alice, &body, Some("job-1")).await;
    assert_eq!((status, &again["id"]), (200, &job["id"]));
    let other = json!({"runs": [named("alice/bell", "bell-a", 101)]});
    assert_key_reused(&app, &alice, &other, "job-1").await;

    // Partial results: each run its own status; the job failed, the others' counts stand.
    for run in job["runs"].as_array().unwrap() {
        app.wait_terminal(run["run"]["id"].as_str().unwrap()).await;
    }
    let (status, done) = get_job(&app, &alice, &id).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "failed");
    assert_eq!(
        done["status_counts"],
        json!({"pending": 0, "running": 0, "completed": 2, "failed": 1, "cancelled": 0})
    );
    assert_eq!(done["runs"][0]["run"]["results"]["shots"], 100);
    assert_eq!(done["runs"][1]["run"]["error_class"], "timeout");
    assert_eq!(done["runs"][2]["run"]["results"]["shots"], 50);
    let usage = done["usage"]["seconds"].as_f64().unwrap();
    let taken: f64 = [0, 2]
        .iter()
        .map(|&i| {
            done["runs"][i]["run"]["results"]["time_taken"]
                .as_f64()
                .unwrap()
        })
        .sum();
    assert!(usage >= taken - 1e-9, "{usage} < {taken}");

    // Another user's job does not exist for them.
    let (status, _) = get_job(&app, &bob, &id).await;
    assert_eq!(status, 404);

    // Listing by tag; tags replaced.
    let second = json!({"runs": [named("alice/bell", "solo", 10)], "tags": ["other"]});
    let (status, solo) = post_job(&app, &alice, &second, None).await;
    assert_eq!(status, 201, "{solo}");
    let (_, page) = send(&app, Method::GET, "/api/jobs?tag=sweep", &alice, None, None).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(
        (&page["jobs"][0]["id"], &page["jobs"][0]["runs"]),
        (&job["id"], &json!(3))
    );
    let (_, page) = send(&app, Method::GET, "/api/jobs?limit=1", &alice, None, None).await;
    assert_eq!(page["jobs"][0]["id"], solo["id"], "newest first");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, next) = send(
        &app,
        Method::GET,
        &format!("/api/jobs?limit=1&cursor={cursor}"),
        &alice,
        None,
        None,
    )
    .await;
    assert_eq!(
        (&next["jobs"][0]["id"], &next["next_cursor"]),
        (&job["id"], &Value::Null)
    );
    let (_, none) = send(&app, Method::GET, "/api/jobs", &bob, None, None).await;
    assert_eq!(none["jobs"], json!([]));
    let tags = json!({"tags": ["kept"]});
    let (status, tagged) = send(
        &app,
        Method::PUT,
        &format!("/api/jobs/{id}/tags"),
        &alice,
        Some(&tags),
        None,
    )
    .await;
    assert_eq!((status, &tagged["tags"]), (200, &json!(["kept"])));
    let (_, page) = send(&app, Method::GET, "/api/jobs?tag=sweep", &alice, None, None).await;
    assert_eq!(page["jobs"], json!([]));
    let (status, _) = send(
        &app,
        Method::PUT,
        &format!("/api/jobs/{id}/tags"),
        &bob,
        Some(&tags),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, error) = send(
        &app,
        Method::PUT,
        &format!("/api/jobs/{id}/tags"),
        &alice,
        Some(&json!({"tags": [""]})),
        None,
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_job"))
    );

    // A bad run refuses the whole job, naming it; nothing is created.
    let (_, before) = send(&app, Method::GET, "/api/runs?limit=100", &alice, None, None).await;
    let bad = json!({"runs": [named("alice/bell", "ok", 10), named("alice/bell", "too many", 1_000_000)]});
    let (status, error) = post_job(&app, &alice, &bad, None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_shots"))
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("runs[1]: "),
        "{error}"
    );
    let (_, after) = send(&app, Method::GET, "/api/runs?limit=100", &alice, None, None).await;
    assert_eq!(
        before["runs"].as_array().unwrap().len(),
        after["runs"].as_array().unwrap().len()
    );
    let (status, error) = post_job(&app, &alice, &json!({"runs": []}), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_job"))
    );
    // `name` belongs to a job's runs.
    let (status, error) = send(
        &app,
        Method::POST,
        "/api/runs",
        &alice,
        Some(&named("alice/bell", "x", 10)),
        None,
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );
}

/// A job's `metadata` (a client's own JSON object) is kept as given, returned by the job's
/// reads, compared by a replay and bounded; the cap on a job's runs is what `GET
/// /api/backends` reports, and is enforced.
async fn a_job_keeps_its_metadata_within_bounds(db: TestDb) {
    use reqwest::Method;
    let app = TestApp::spawn_with(
        db,
        |config| config.executor.max_runs_per_job = 2,
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "private").await;
    let metadata = json!({
        "qrun_qiskit": {"primitive": "sampler", "pubs": [[[2, 3], 100, 0]], "layouts": [[["c", [0, 1]]]]},
        "note": "θ sweep",
    });
    let body = json!({"runs": [named("alice/bell", "a", 10)], "metadata": metadata});
    let (status, job) = post_job(&app, &alice, &body, Some("m-1")).await;
    assert_eq!((status, &job["metadata"]), (201, &metadata), "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let (status, read) = get_job(&app, &alice, &id).await;
    assert_eq!((status, &read["metadata"]), (200, &metadata), "{read}");
    let (status, replay) = post_job(&app, &alice, &body, Some("m-1")).await;
    assert_eq!((status, &replay["id"]), (200, &job["id"]));
    let other = json!({"runs": [named("alice/bell", "a", 10)], "metadata": {"note": "another"}});
    assert_key_reused(&app, &alice, &other, "m-1").await;

    // None given: `{}`. Not an object: a malformed body.
    let plain = json!({"runs": [named("alice/bell", "a", 10)]});
    let (status, job) = post_job(&app, &alice, &plain, None).await;
    assert_eq!((status, &job["metadata"]), (201, &json!({})), "{job}");
    let listed = json!({"runs": [named("alice/bell", "a", 10)], "metadata": [1, 2]});
    let (status, error) = post_job(&app, &alice, &listed, None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_body")),
        "{error}"
    );

    // 65536 bytes as compact JSON is the most: `{"x":"…"}` is 8 bytes around the string.
    let (_, before) = send(&app, Method::GET, "/api/jobs?limit=100", &alice, None, None).await;
    let sized = |bytes: usize| json!({"runs": [named("alice/bell", "a", 10)], "metadata": {"x": "y".repeat(bytes - 8)}});
    let (status, fits) = post_job(&app, &alice, &sized(65536), None).await;
    assert_eq!(status, 201, "{fits}");
    let (status, error) = post_job(&app, &alice, &sized(65537), None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_job")),
        "{error}"
    );
    assert_eq!(
        error["error"]["message"],
        "metadata is 65537 bytes as compact JSON; a job's is at most 65536"
    );
    let (_, after) = send(&app, Method::GET, "/api/jobs?limit=100", &alice, None, None).await;
    assert_eq!(
        after["jobs"].as_array().unwrap().len(),
        before["jobs"].as_array().unwrap().len() + 1
    );

    // The cap on a job's runs, as reported and as enforced.
    let (status, backends) = send(&app, Method::GET, "/api/backends", &alice, None, None).await;
    assert_eq!(
        (status, &backends["max_runs_per_job"]),
        (200, &json!(2)),
        "{backends}"
    );
    let three = json!({"runs": [named("alice/bell", "a", 10), named("alice/bell", "b", 10), named("alice/bell", "c", 10)]});
    let (status, error) = post_job(&app, &alice, &three, None).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_job")),
        "{error}"
    );
}

on_both_databases!(
    a_job_is_a_record_of_its_runs,
    a_job_keeps_its_metadata_within_bounds
);
