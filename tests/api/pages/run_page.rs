//! The run page's additions and the pages' error and 404 pages, on the rendered output and on
//! both databases: the counts as JSON and CSV files equal to the API's counts with the API's
//! visibility; a failed run's `LINE:COL` linking to its line of the version that ran; the
//! timeline as sentences; "Go to line"; every unknown page a 404 page with the site's
//! navigation (the JSON `route_not_found` kept for API clients); the dashboard's per-minute
//! history, and its tiles' links to the runs they count (each viewer's list).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};

use qrun::domain::{ErrorClass, ErrorStage, Failure, ManualClock, RunResults};
use qrun::store::{Change, FailCause};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, clock_hooks, http, no_redirects};
use crate::on_both_databases;

/// What a browser sends in `Accept` for a page.
const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn results() -> RunResults {
    RunResults {
        counts: BTreeMap::from([("00".to_owned(), 51), ("11".to_owned(), 49)]),
        shots: 100,
        execution_time: 1.2,
        unique_states: 2,
        method: None,
        precision: None,
    }
}

fn complete() -> Change {
    Change::Complete {
        results: results(),
        memory: None,
    }
}

/// `GET path` as `token` (if any, as a bearer): status, headers, body.
async fn get(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = no_redirects().get(app.url(path)).header("accept", HTML);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn a_completed_runs_counts_download_as_json_and_csv_equal_to_the_apis(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "secret", "private").await;
    let public = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100)
        .await;
    let private = app
        .submit_run(&alice, "alice/secret", ("simulator", "statevector"), 100)
        .await;
    assert_eq!(app.claim("test-node", 2, 300).await.len(), 2);
    for id in [public, private] {
        app.transition(id, complete()).await.unwrap();
    }
    let pending = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100)
        .await;
    let api = app.run_json(public).await;

    // The run page links both files.
    let (_, html) = app
        .page(&format!("/alice/bell/runs/{public}"), None, None)
        .await;
    for file in ["counts.json", "counts.csv"] {
        assert!(
            html.contains(&format!(
                r#"href="/alice/bell/runs/{public}/{file}" download"#
            )),
            "{file}: {html}"
        );
    }

    let path = format!("/alice/bell/runs/{public}/counts.json");
    let (status, headers, body) = get(&app, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"run-{public}-counts.json\"").as_str()
    );
    assert_eq!(headers["cache-control"], "no-store");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["counts"], api["results"]["counts"]);
    assert_eq!(json["counts"], serde_json::json!({"00": 51, "11": 49}));
    assert_eq!(
        (
            &json["run_id"],
            &json["circuit"],
            &json["shots"],
            &json["circuit_version"]
        ),
        (
            &Value::from(public.to_string()),
            &Value::from("alice/bell"),
            &Value::from(100),
            &Value::from(1)
        )
    );

    let (status, headers, body) =
        get(&app, &format!("/alice/bell/runs/{public}/counts.csv"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"run-{public}-counts.csv\"").as_str()
    );
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("outcome,count"));
    let csv: BTreeMap<String, u64> = lines
        .map(|line| {
            let (key, n) = line.split_once(',').unwrap();
            (key.to_owned(), n.parse().unwrap())
        })
        .collect();
    let api_counts: BTreeMap<String, u64> =
        serde_json::from_value(api["results"]["counts"].clone()).unwrap();
    assert_eq!(csv, api_counts);

    // The API's visibility: a private run's counts are its owner's alone; under another
    // circuit's path or for a malformed id, 404; before completing, 409.
    let private_path = format!("/alice/secret/runs/{private}/counts.json");
    for (token, expected) in [
        (None, 404),
        (Some(bob.as_str()), 404),
        (Some(alice.as_str()), 200),
    ] {
        let (status, _, body) = get(&app, &private_path, token).await;
        assert_eq!(status, expected, "{token:?}: {body}");
    }
    for (path, expected) in [
        (format!("/alice/secret/runs/{public}/counts.csv"), 404),
        (format!("/bob/bell/runs/{public}/counts.json"), 404),
        ("/alice/bell/runs/not-a-run/counts.json".to_owned(), 404),
        (format!("/alice/bell/runs/{pending}/counts.csv"), 409),
    ] {
        let (status, headers, body) = get(&app, &path, Some(&alice)).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert!(
            body.contains(r#"<nav aria-label="Site">"#),
            "{path}: {body}"
        );
    }
    let (_, _, body) = get(
        &app,
        &format!("/alice/bell/runs/{pending}/counts.csv"),
        None,
    )
    .await;
    assert!(body.contains("the run is pending"), "{body}");
    app.stop().await;
}

async fn a_failed_runs_position_links_to_its_line_and_the_timeline_reads_as_sentences(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let submit = || app.submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100);
    let (failed, plain, done) = (submit().await, submit().await, submit().await);
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    let fail = |message: &str| Change::Fail {
        failure: Failure::new(ErrorClass::ValidationError, ErrorStage::Prepare, message),
        cause: FailCause::Executor,
    };
    app.transition(failed, fail("3:5: unknown gate foo"))
        .await
        .unwrap();
    app.transition(plain, fail("the device <b>is</b> down"))
        .await
        .unwrap();
    app.transition(done, complete()).await.unwrap();

    let (code, html) = app
        .page(&format!("/alice/bell/runs/{failed}"), None, None)
        .await;
    assert_eq!(code, 200);
    assert!(
        html.contains(
            r#"<a href="/alice/bell?version=1#L3" title="line 3 of version 1">3:5</a>: unknown gate foo"#
        ),
        "{html}"
    );
    // The timeline: sentences, the action kept in `data-action`, no `key=value`; the node
    // only to those who may see it (the anonymous visitor does not).
    for sentence in [
        r#"<li data-action="run.requested"><span class="what">Requested</span>"#,
        "100 shots on simulator/statevector, circuit version 1",
        r#"<span class="what">Claimed by a worker</span>"#,
        "in the queue",
        r#"<span class="what">Failed with validation_error while it was at the prepare stage</span>"#,
        "reported by its worker",
    ] {
        assert!(html.contains(sentence), "{sentence}: {html}");
    }
    assert!(
        !html.contains("by=") && !html.contains("test-node"),
        "{html}"
    );
    let (_, owner_view) = app
        .page(&format!("/alice/bell/runs/{failed}"), Some(&alice), None)
        .await;
    assert!(
        owner_view.contains("Claimed by a worker (test-node)"),
        "{owner_view}"
    );

    // A message without a position is plain (and escaped) text.
    let (_, html) = app
        .page(&format!("/alice/bell/runs/{plain}"), None, None)
        .await;
    assert!(
        html.contains("<pre class=\"error\">the device &lt;b&gt;is&lt;/b&gt; down</pre>"),
        "{html}"
    );
    let (_, html) = app
        .page(&format!("/alice/bell/runs/{done}"), None, None)
        .await;
    assert!(html.contains("Completed in 1.2 s"), "{html}");
    assert!(
        html.contains("2 distinct outcomes over 100 shots"),
        "{html}"
    );
    // Times: UTC in the text, machine-readable in `datetime` (the script localizes them).
    assert!(
        html.contains(r#"<time datetime=""#) && html.contains(" UTC</time>"),
        "{html}"
    );

    // "Go to line": a 303 to the line's anchor, at the version asked for.
    for (query, location) in [
        ("?line=3", "/alice/bell#L3"),
        ("?version=1&line=2", "/alice/bell?version=1#L2"),
    ] {
        let response = no_redirects()
            .get(app.url(&format!("/alice/bell{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{query}");
        assert_eq!(response.headers()["location"], location, "{query}");
    }
    let (code, html) = app.page("/alice/bell?line=zero", None, None).await;
    assert_eq!(code, 200, "a malformed line shows the page");
    assert!(
        html.contains(r#"<label for="jump-line">Go to line</label>"#),
        "{html}"
    );
    assert!(
        html.contains(r##"<a class="ln" href="#L1" tabindex="-1">1</a>"##),
        "{html}"
    );
    app.stop().await;
}

async fn unknown_pages_are_a_404_page_with_navigation(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    for path in ["/nope", "/a/b/c/d", "/alice", "/alice/bell/runs"] {
        let (status, headers, html) = get(&app, path, None).await;
        let expected = if path == "/alice/bell/runs" { 405 } else { 404 };
        assert_eq!(status, expected, "{path}: {html}");
        if expected == 405 {
            continue; // a page route's path keeps its 405 and `Allow`
        }
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        for part in [
            r##"<a class="skip" href="#page">Skip to content</a>"##,
            r#"<nav aria-label="Site">"#,
            "<h1>404 Not Found</h1>",
            r#"<a href="/">The dashboard</a>"#,
            "Log in</a>",
        ] {
            assert!(html.contains(part), "{path} lacks {part}: {html}");
        }
    }
    // Signed in, the 404 page knows who is there.
    let (status, _, html) = get(&app, "/nope", Some(&alice)).await;
    assert_eq!(status, 404);
    assert!(html.contains("Signed in as <strong>alice</strong>") && html.contains("Your runs"));

    // An API client (no `Accept: text/html`) keeps the JSON answer; `/api/` always does.
    for (path, accept) in [("/nope", None), ("/api/nope", Some(HTML))] {
        let mut request = http().get(app.url(path));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "route_not_found", "{path}");
    }
    // Error pages have the navigation too (a private or missing run).
    let (status, _, html) = get(&app, &format!("/alice/bell/runs/{}", Uuid::now_v7()), None).await;
    assert_eq!(status, 404);
    assert!(html.contains(r#"<nav aria-label="Site">"#) && html.contains("Skip to content"));
    app.stop().await;
}

/// The titles of a chart's marks that say `what` (`"…, completed: 2"`), summed.
fn charted(html: &str, chart: &str, what: &str) -> u64 {
    let start = html.find(&format!(r#"aria-label="{chart}"#)).expect(chart);
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    let marker = format!(", {what}: ");
    svg.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &svg[at + marker.len()..];
            rest[..rest.find('<').unwrap()].parse::<u64>().unwrap()
        })
        .sum()
}

async fn the_dashboard_charts_the_hour_per_minute(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let submit = || app.submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100);
    let (a, b, c) = (submit().await, submit().await, submit().await);
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    app.transition(a, complete()).await.unwrap();
    app.transition(b, complete()).await.unwrap();
    app.transition(
        c,
        Change::Fail {
            failure: Failure::new(ErrorClass::BackendError, ErrorStage::Execute, "down"),
            cause: FailCause::Executor,
        },
    )
    .await
    .unwrap();
    submit().await;
    submit().await;

    let (code, html) = app.page("/", None, None).await;
    assert_eq!(code, 200);
    let endings = "runs completed and failed per minute over the last hour";
    let depth = "runs pending, the most seen in each minute of the last hour";
    assert_eq!(charted(&html, endings, "completed"), 2, "{html}");
    assert_eq!(charted(&html, endings, "failed"), 1, "{html}");
    assert_eq!(charted(&html, depth, "pending"), 2, "{html}");
    // Sixty minutes: the minutes before the service sampled have no queue depth.
    let start = html.find(depth).unwrap();
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    assert_eq!(svg.matches("<title>").count(), 60, "{svg}");
    assert_eq!(svg.matches(": no sample</title>").count(), 59, "{svg}");
    app.stop().await;
}

async fn the_queue_depth_is_sampled_whether_or_not_a_dashboard_is_open(db: TestDb) {
    let minute = TimeDelta::minutes(1);
    // Ten seconds into a minute ten minutes ago: each step below stays in its minute.
    let first = Utc::now().duration_trunc(minute).unwrap() - minute * 10;
    let clock = ManualClock::new(first + TimeDelta::seconds(10));
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let submit = || app.submit_run(&alice, "alice/bell", ("simulator", "statevector"), 100);
    // Nobody opens the dashboard: the node samples on its own (its sampler's tick, run now).
    submit().await;
    submit().await;
    app.app.sample_history().await.unwrap();
    clock.advance(minute);
    submit().await;
    app.app.sample_history().await.unwrap();
    clock.advance(minute);
    // The first dashboard, two minutes later, finds both minutes filled in.
    let dashboard = app.app.service().dashboard().await.unwrap();
    let depth = |start| {
        dashboard
            .history
            .iter()
            .find(|m| m.start == start)
            .unwrap_or_else(|| panic!("no minute {start}"))
            .queue_depth
    };
    assert_eq!(depth(first - minute), None, "before the node sampled");
    assert_eq!(depth(first), Some(2));
    assert_eq!(depth(first + minute), Some(3));
    assert_eq!(
        depth(first + minute * 2),
        Some(3),
        "the dashboard's own sample"
    );
    app.stop().await;
}

/// The links of a dashboard's tiles, by tile (HTML entities undone).
fn tile_links(html: &str) -> BTreeMap<String, String> {
    html.split(r#"<a class="tile card"#)
        .skip(1)
        .map(|rest| {
            let href = &rest[rest.find(r#"href=""#).unwrap() + 6..];
            let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
            let key = &rest[rest.find(r#"id="count-"#).unwrap() + 10..];
            (key[..key.find('"').unwrap()].to_owned(), href)
        })
        .collect()
}

/// The runs a list page links to (`href="/alice/bell/runs/ID"`), each once, in its order.
fn linked_runs(html: &str) -> Vec<Uuid> {
    let mut runs: Vec<Uuid> = Vec::new();
    for rest in html.split(r#"href="/alice/bell/runs/"#).skip(1) {
        let id: Uuid = rest[..36].parse().unwrap();
        if !runs.contains(&id) {
            runs.push(id);
        }
    }
    runs
}

async fn the_dashboards_tiles_link_to_the_runs_they_count(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let (_, carol) = app.operator("carol").await;
    app.create_circuit(&alice, "bell", "public").await;
    let submit = |token| app.submit_run(token, "alice/bell", ("simulator", "statevector"), 100);
    // Bob's stranded run (its lease already expired), then Alice's healthy running one; a
    // completed run of each; Alice's pending one.
    let stranded = submit(&bob).await;
    assert_eq!(app.claim("test-node", 1, -60).await.len(), 1);
    let running = submit(&alice).await;
    assert_eq!(app.claim("test-node", 1, 300).await.len(), 1);
    let (mine, bobs) = (submit(&alice).await, submit(&bob).await);
    assert_eq!(app.claim("test-node", 2, 300).await.len(), 2);
    for id in [mine, bobs] {
        app.transition(
            id,
            Change::Complete {
                results: results(),
                memory: None,
            },
        )
        .await
        .unwrap();
    }
    let pending = submit(&alice).await;

    // Signed out: the counts, and no link (every list needs a sign-in).
    let (_, _, html) = get(&app, "/", None).await;
    assert!(tile_links(&html).is_empty(), "{html}");
    assert_eq!(
        html.matches(r#"<div class="tile card"#).count(),
        6,
        "{html}"
    );
    assert!(html.contains(r#"<div class="count" id="count-stranded">1</div>"#));

    // An ordinary user: their own runs of each kind; the last hour's by when they ended.
    let (_, _, html) = get(&app, "/", Some(&alice)).await;
    let links = tile_links(&html);
    assert_eq!(links["pending"], "/runs?status=pending");
    assert_eq!(links["running"], "/runs?status=running");
    assert!(!links.contains_key("stranded"), "{links:?}");
    for status in ["completed", "failed", "cancelled"] {
        let prefix = format!("/runs?status={status}&ended_since=");
        assert!(links[status].starts_with(&prefix), "{links:?}");
    }
    let follow = |path: String, token: String| {
        let app = &app;
        async move {
            let (status, _, html) = get(app, &path, Some(&token)).await;
            assert_eq!(status, 200, "{path}: {html}");
            linked_runs(&html)
        }
    };
    assert_eq!(
        follow(links["completed"].clone(), alice.clone()).await,
        [mine]
    );
    assert_eq!(
        follow(links["pending"].clone(), alice.clone()).await,
        [pending]
    );
    assert_eq!(
        follow(links["running"].clone(), alice.clone()).await,
        [running]
    );
    assert!(
        follow(links["failed"].clone(), alice.clone())
            .await
            .is_empty()
    );
    // `ended_since` keeps only what ended since then.
    let (_, _, later) = get(
        &app,
        "/runs?status=completed&ended_since=2999-01-01T00:00",
        Some(&alice),
    )
    .await;
    assert!(later.contains("No run matches these filters."), "{later}");

    // An operator: everyone's, on the operator's list; "stranded" shows exactly the stranded.
    let (_, _, html) = get(&app, "/", Some(&carol)).await;
    let links = tile_links(&html);
    assert_eq!(links["pending"], "/admin/runs?status=pending");
    assert_eq!(links["stranded"], "/admin/runs?stranded=true");
    assert!(
        links["completed"].starts_with("/admin/runs?status=completed&ended_since="),
        "{links:?}"
    );
    let mut both = follow(links["completed"].clone(), carol.clone()).await;
    both.sort();
    let mut expected = vec![mine, bobs];
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(
        follow(links["stranded"].clone(), carol.clone()).await,
        [stranded]
    );
    let mut live = follow(links["running"].clone(), carol.clone()).await;
    live.sort();
    let mut expected = vec![stranded, running];
    expected.sort();
    assert_eq!(live, expected);
    // The filter is the operator's only, and takes only `true`.
    let (status, _, _) = get(&app, "/admin/runs?stranded=yes", Some(&carol)).await;
    assert_eq!(status, 400);
    app.stop().await;
}

on_both_databases!(
    a_completed_runs_counts_download_as_json_and_csv_equal_to_the_apis,
    a_failed_runs_position_links_to_its_line_and_the_timeline_reads_as_sentences,
    unknown_pages_are_a_404_page_with_navigation,
    the_dashboard_charts_the_hour_per_minute,
    the_dashboards_tiles_link_to_the_runs_they_count,
    the_queue_depth_is_sampled_whether_or_not_a_dashboard_is_open,
);
