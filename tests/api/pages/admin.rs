//! The operator's pages on the rendered output, on both databases: `/admin/runs` lists every
//! user's runs (private circuits' too) with filters in the URL, id-prefix search and cursor
//! pages; an operator cancels another user's run with a reason (audited, Origin checked); to
//! anyone else the pages are the 404 of a page that does not exist.

use qrun::domain::{ErrorClass, ErrorStage, Failure, IdPrefix, RunStatus};
use qrun::store::runs::{RunFilter, list_runs_query};
use qrun::store::{Change, FailCause};
use serde_json::json;
use uuid::Uuid;

use crate::cli::assert_verified;
use crate::helpers::{TestApp, TestDb};
use crate::on_both_databases;

/// The run ids a list page links to, in order.
fn listed(html: &str) -> Vec<Uuid> {
    html.split(r#"<td class="mono id" data-label="run"><a href=""#)
        .skip(1)
        .map(|rest| {
            let href = &rest[..rest.find('"').unwrap()];
            href.rsplit('/').next().unwrap().parse().unwrap()
        })
        .collect()
}

async fn an_operator_lists_every_users_runs_with_filters_and_finds_one_by_id_prefix(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&bob, "secret", "private").await;
    let (_, carol) = app.operator("carol").await;
    let submit = |token: &str, circuit: &str| {
        let (token, circuit) = (token.to_owned(), circuit.to_owned());
        let app = &app;
        async move {
            app.submit_run(&token, &circuit, ("simulator", "statevector"), 10)
                .await
        }
    };
    let a_failed = submit(&alice, "alice/bell").await;
    let b_running = submit(&bob, "bob/secret").await;
    assert_eq!(app.claim("node-a", 2, 300).await.len(), 2);
    app.transition(
        a_failed,
        Change::Fail {
            failure: Failure::new(ErrorClass::Timeout, ErrorStage::Execute, "too slow"),
            cause: FailCause::Executor,
        },
    )
    .await
    .unwrap();
    let a_pending = submit(&alice, "alice/bell").await;
    let b_pending = submit(&bob, "bob/secret").await;
    let browser = app.browser().signed_in(&carol).await;

    let page = browser.get("/admin/runs").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(
        listed(&page.html),
        [b_pending, a_pending, b_running, a_failed],
        "every user's runs, newest first, each with its whole id"
    );
    assert!(page.html.contains(r#"<a href="/admin/runs">All runs</a>"#));
    for (query, expected) in [
        ("user=bob", vec![b_pending, b_running]),
        ("status=pending", vec![b_pending, a_pending]),
        ("error_class=timeout", vec![a_failed]),
        ("node=node-a", vec![b_running, a_failed]),
        ("node=node-b", vec![]),
        (
            "backend=simulator/statevector&user=alice",
            vec![a_pending, a_failed],
        ),
        ("backend=simulator/stabilizer", vec![]),
        ("user=nobody", vec![]),
        (
            "since=2000-01-01T00:00",
            vec![b_pending, a_pending, b_running, a_failed],
        ),
        ("until=2000-01-01T00:00", vec![]),
        ("since=2999-01-01T00:00", vec![]),
    ] {
        let page = browser.get(&format!("/admin/runs?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.html);
        assert_eq!(listed(&page.html), expected, "{query}");
    }
    let failed = browser.get("/admin/runs?error_class=timeout").await;
    assert!(
        failed
            .html
            .contains(r#"data-label="error class">timeout</td>"#)
    );
    assert!(failed.html.contains(r#"data-label="node">node-a</td>"#));

    // Search by id prefix: every listed id starts so, the one searched for among them. With
    // all but the last digit, exactly that run; dashes and upper case are the same search.
    let digits = a_pending.simple().to_string();
    for n in [1, 8, 13, 31] {
        let page = browser
            .get(&format!("/admin/runs?q={}", &digits[..n]))
            .await;
        assert_eq!(page.status, 200, "{}", page.html);
        let found = listed(&page.html);
        assert!(found.contains(&a_pending), "prefix of {n}: {found:?}");
        assert!(
            found
                .iter()
                .all(|id| id.simple().to_string().starts_with(&digits[..n])),
            "prefix of {n}: {found:?}"
        );
        if n == 31 {
            assert_eq!(found, [a_pending]);
        }
    }
    let dashed = a_pending.to_string().to_uppercase();
    let page = browser
        .get(&format!("/admin/runs?q={}", &dashed[..13]))
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/admin/runs?q={}", &digits[..12]).as_str())
    );
    // A whole id goes straight to its run's page, a private circuit's too, where the
    // operator reads the full audit (the node included).
    let page = browser.get(&format!("/admin/runs?q={a_pending}")).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some(format!("/alice/bell/runs/{a_pending}").as_str()))
    );
    let page = browser.get(&format!("/admin/runs?q={b_running}")).await;
    let run_page = format!("/bob/secret/runs/{b_running}");
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some(run_page.as_str()))
    );
    let page = browser.get(&run_page).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("node-a"),
        "the full audit: {}",
        page.html
    );
    assert!(page.html.contains("Cancel as operator…"));
    // Bob's own circuit stays private to the operator; alice sees no node on her page.
    assert_eq!(browser.get("/bob/secret").await.status, 404);
    // A whole id of no run is a search that finds nothing.
    let unknown = Uuid::now_v7();
    let page = browser.get(&format!("/admin/runs?q={unknown}")).await;
    let canonical = format!("/admin/runs?q={}", unknown.simple());
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some(canonical.as_str()))
    );
    let page = browser.get(&canonical).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("No run matches."), "{}", page.html);

    // The URL is canonical: defaults and unknown keys leave it; bad values are named.
    let page = browser
        .get("/admin/runs?status=&user=bob&sort=asc&since=2026-12-06T10:00:00")
        .await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/admin/runs?user=bob&since=2026-12-06T10%3A00"))
    );
    for (query, key) in [
        ("q=xyz", "q"),
        ("error_class=oops", "error_class"),
        ("since=yesterday", "since"),
    ] {
        let page = browser.get(&format!("/admin/runs?{query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(
            page.html.contains(&format!("`{key}` must be")),
            "{query}: {}",
            page.html
        );
    }
    app.stop().await;
}

async fn the_operators_list_pages_with_a_cursor(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fixture = app.circuit().await;
    let ids = app.burst(&fixture, 53).await;
    let (_, carol) = app.operator("carol").await;
    let browser = app.browser().signed_in(&carol).await;
    let first = browser.get("/admin/runs").await;
    let mut seen = listed(&first.html);
    assert_eq!(seen.len(), 50);
    let next = first
        .html
        .split(r#"<a href=""#)
        .find(|rest| rest.contains(r#"rel="next""#))
        .and_then(|rest| rest.split('"').next())
        .expect("an older page")
        .replace("&amp;", "&");
    let second = browser.get(&next).await;
    assert_eq!(second.status, 200, "{}", second.html);
    seen.extend(listed(&second.html));
    assert!(!second.html.contains(r#"rel="next""#));
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "every run once, newest first");
    app.stop().await;
}

async fn to_anyone_but_an_operator_the_admin_pages_are_the_404_of_a_page_that_does_not_exist(
    db: TestDb,
) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let run = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let anonymous = app.browser();
    let ordinary = app.browser().signed_in(&alice).await;
    for browser in [&anonymous, &ordinary] {
        for (path, unknown) in [
            ("/admin/runs".to_owned(), "/nobody/nothing".to_owned()),
            (
                "/admin/runs?status=failed&q=01".to_owned(),
                "/nobody/nothing?status=failed&q=01".to_owned(),
            ),
            (
                format!("/admin/runs/{run}/cancel"),
                format!("/nobody/nothing/{run}/cancel"),
            ),
        ] {
            let (page, other) = (browser.get(&path).await, browser.get(&unknown).await);
            assert_eq!(page.status, 404, "{path}: {}", page.html);
            assert_eq!(
                (page.status, &page.html),
                (other.status, &other.html),
                "{path} answers as {unknown} does"
            );
        }
        let post = browser
            .post(&format!("/admin/runs/{run}/cancel"), &[("reason", "x")])
            .await;
        let other = browser
            .post(&format!("/nobody/nothing/{run}/cancel"), &[("reason", "x")])
            .await;
        assert_eq!(post.status, 404);
        assert_eq!((post.status, post.html), (other.status, other.html));
    }
    let (_, html) = app.page("/runs", Some(&alice), None).await;
    assert!(!html.contains("/admin/runs"), "no link to it either");
    assert_eq!(
        app.store().run(run).await.unwrap().unwrap().status,
        RunStatus::Pending
    );
    app.stop().await;
}

async fn an_operator_cancels_another_users_run_with_a_reason_audited_from_this_site_only(
    db: TestDb,
) {
    let app = TestApp::spawn(db).await;
    let (alice_user, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let run = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let (carol_user, carol) = app.operator("carol").await;
    let browser = app.browser().signed_in(&carol).await;
    let cancel = format!("/admin/runs/{run}/cancel");

    let list = browser.get("/admin/runs").await;
    assert!(
        list.html.contains(&format!(r#"href="{cancel}""#)),
        "{}",
        list.html
    );
    let form = browser.get(&cancel).await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert!(form.html.contains(r#"<label for="reason">"#));
    assert!(form.html.contains("alice"));

    let foreign = browser
        .post_from("http://evil.example", &cancel, &[("reason", "x")])
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.html);
    let empty = browser.post(&cancel, &[("reason", "  ")]).await;
    assert_eq!(empty.status, 400);
    assert!(
        empty.html.contains("a reason is required"),
        "{}",
        empty.html
    );
    let long = "r".repeat(501);
    let overlong = browser.post(&cancel, &[("reason", &long)]).await;
    assert_eq!(overlong.status, 400);
    assert_eq!(
        app.store().run(run).await.unwrap().unwrap().status,
        RunStatus::Pending,
        "nothing refused changed the run"
    );

    let done = browser
        .post(
            &cancel,
            &[("reason", " runaway: 10^6 shots\r\non the shared queue ")],
        )
        .await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some(format!("/alice/bell/runs/{run}").as_str())),
        "{}",
        done.html
    );
    let cancelled = app.store().run(run).await.unwrap().unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let audit = app.store().audit_timeline(run).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(last.action, "run.cancelled");
    assert_eq!(
        last.actor_user_id, alice_user.id,
        "the run's owner, as always"
    );
    assert_eq!(last.metadata["by"], "operator");
    assert_eq!(last.metadata["cancelled_by"], json!(carol_user.id));
    assert_eq!(
        last.metadata["reason"],
        "runaway: 10^6 shots\non the shared queue"
    );

    // The submitter reads who and why on the run's page; a second try finds it ended.
    let (_, html) = app
        .page(&format!("/alice/bell/runs/{run}"), Some(&alice), None)
        .await;
    assert!(html.contains("by an operator"), "{html}");
    assert!(html.contains("runaway: 10^6 shots"), "{html}");
    let again = browser.post(&cancel, &[("reason", "again")]).await;
    assert_eq!(again.status, 409, "{}", again.html);
    // The API's cancel stays the submitter's: an operator cancels from the console, with a
    // reason.
    let response = app.api().post_cancel(&carol, run).await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let db = app.into_db().await;
    assert_verified(&db, 1);
}

/// How the database plans `filter`'s list query, one line per plan row. On PostgreSQL with
/// sequential scans off (a test's tiny table would rather be scanned whole): whether an index
/// *can* serve the query is the question.
async fn plan(db: &TestDb, filter: &RunFilter) -> String {
    use sea_orm::{ConnectionTrait, QueryTrait, Statement, TransactionTrait};
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let backend = conn.get_database_backend();
    let query = list_runs_query(filter).build(backend);
    let txn = conn.begin().await.unwrap();
    let (explain, column) = match backend {
        sea_orm::DbBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            ("EXPLAIN", "QUERY PLAN")
        }
        _ => ("EXPLAIN QUERY PLAN", "detail"),
    };
    let statement = Statement::from_sql_and_values(
        backend,
        format!("{explain} {}", query.sql),
        query.values.unwrap_or(sea_orm::Values(Vec::new())),
    );
    let rows = txn.query_all_raw(statement).await.unwrap();
    let lines: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", column).unwrap())
        .collect();
    txn.rollback().await.unwrap();
    lines.join("\n")
}

async fn the_operators_list_and_its_id_search_are_served_by_indexes(db: TestDb) {
    let app = TestApp::spawn(db).await; // migrated
    let db = app.into_db().await;
    let page = RunFilter {
        limit: 51,
        ..RunFilter::default()
    };
    let every = plan(&db, &page).await;
    assert!(every.contains("runs_created_idx"), "{every}");
    let prefix = IdPrefix::parse("01a2").unwrap();
    let by_prefix = RunFilter {
        ids: Some(prefix.range()),
        ..page.clone()
    };
    let searched = plan(&db, &by_prefix).await;
    let primary_key = if db.url.starts_with("postgres") {
        "Index Cond: ((id >= "
    } else {
        "USING INDEX sqlite_autoindex_runs_1 (id>? AND id<?)"
    };
    assert!(searched.contains(primary_key), "{searched}");
}

on_both_databases!(
    the_operators_list_and_its_id_search_are_served_by_indexes,
    an_operator_lists_every_users_runs_with_filters_and_finds_one_by_id_prefix,
    the_operators_list_pages_with_a_cursor,
    to_anyone_but_an_operator_the_admin_pages_are_the_404_of_a_page_that_does_not_exist,
    an_operator_cancels_another_users_run_with_a_reason_audited_from_this_site_only,
    in_a_browser_an_operator_finds_a_run_by_id_prefix_and_cancels_it,
);

async fn in_a_browser_an_operator_finds_a_run_by_id_prefix_and_cancels_it(db: TestDb) {
    use super::browser::{Script, browser_available, screenshots};
    if !browser_available() {
        return;
    }
    let shots = screenshots(&db);
    // The node does not execute: the run stays pending until the operator cancels it.
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    app.create_circuit(&alice, "bell", "public").await;
    let run = app
        .submit_run(&alice, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    for _ in 0..3 {
        app.submit_run(&alice, "alice/bell", ("simulator", "statevector"), 10)
            .await;
    }
    let (carol_user, carol) = app.operator("carol").await;
    let pictures = [
        "admin-runs.png",
        "admin-cancel.png",
        "admin-cancel-390.png",
        "admin-cancelled.png",
        "admin-runs-390.png",
    ];
    for picture in pictures {
        let _ = std::fs::remove_file(shots.join(picture));
    }
    let id = run.to_string();
    let mut script = Script::start(
        "admin.mjs",
        &[&app.url(""), &carol, &alice, &id, shots.to_str().unwrap()],
    );
    for step in ["hidden", "found", "cancelled", "narrow", "done"] {
        if script.expect(step).await.is_none() {
            panic!(
                "the browser stopped before `{step}`: {}",
                script.errors().await
            );
        }
    }
    script.finish().await.expect("the browser script succeeds");
    for picture in pictures {
        assert!(
            std::fs::metadata(shots.join(picture)).is_ok_and(|m| m.len() > 0),
            "{picture}"
        );
    }
    let audit = app.store().audit_timeline(run).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            &last.metadata["by"],
            &last.metadata["cancelled_by"]
        ),
        ("run.cancelled", &json!("operator"), &json!(carol_user.id))
    );
    assert_eq!(last.metadata["reason"], "runaway job on the shared queue");
    eprintln!("screenshots in {}", shots.display());
    app.stop().await;
}
