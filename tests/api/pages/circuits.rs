//! Circuits and jobs from the browser, on both databases, as a browser posts its forms:
//! "My circuits" (search, pages, only one's own), the upload form (multipart, the API's
//! messages at the right field and a malformed source's line, the API's size limit), a new
//! version and a visibility change from the circuit page (403/404 as the API answers, and
//! `PUT /api/circuits/{owner}/{name}/visibility` itself), a job's runs together, and
//! cross-origin posts refused.

use qrun::config::Config;
use qrun::domain::RunStatus;
use serde_json::{Value, json};
use testkit::{BELL, SIMULATOR};
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, http};
use crate::on_both_databases;

/// A source whose third line calls a gate nobody defined.
const MALFORMED: &str = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1];\nnot_a_gate q[0];\n";

/// The API's answer (status, error message) to creating `name` from `source`.
async fn api_refusal(app: &TestApp, token: &str, name: &str, source: &str) -> (u16, String) {
    let body = testkit::circuit_body(name, "public", "openqasm2", source);
    let response = app.api().post_circuit(token, &body).await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}

async fn my_circuits_lists_searches_and_pages_ones_own(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    for i in 0..26 {
        app.create_circuit(&alice, &format!("c{i:02}"), "public")
            .await;
    }
    app.upload_as(
        &alice,
        "bell",
        "private",
        "OPENQASM 3.0;\nqubit q;\n",
        "openqasm3",
    )
    .await;
    let version =
        json!({"source": BELL, "manifest": {"framework": "qiskit", "format": "openqasm2"}});
    let added = http()
        .post(app.url("/api/circuits/alice/bell/versions"))
        .bearer_auth(&alice)
        .json(&version)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    app.create_circuit(&bob, "bobs-bell", "public").await;
    let browser = app.browser().signed_in(&alice).await;

    // Name order: `bell` first, with its latest version's manifest; 25 a page.
    let first = browser.get("/circuits").await;
    assert_eq!(first.status, 200, "{}", first.html);
    let rows = first.html.matches("<tr><td><a href=\"/alice/").count();
    assert_eq!(rows, 25, "{}", first.html);
    assert!(
        first.html.contains(
            r#"<td><a href="/alice/bell">bell</a></td><td class="mono">openqasm2</td><td>qiskit</td><td>private</td><td class="num">v2</td><td><time datetime=""#
        ),
        "{}",
        first.html
    );
    assert!(!first.html.contains("bobs-bell"));
    assert!(
        first
            .html
            .contains(r#"href="/circuits?after=c23" rel="next""#),
        "{}",
        first.html
    );
    let second = browser.get("/circuits?after=c23").await;
    assert_eq!(second.html.matches("<tr><td><a href=\"/alice/").count(), 2);
    assert!(second.html.contains(">c24<") && second.html.contains(">c25<"));
    assert!(
        !second.html.contains("rel=\"next\"")
            && second.html.contains(r#"href="/circuits">← First"#)
    );

    // Search by name, case as typed; `_` is a character, not a wildcard.
    let found = browser.get("/circuits?q=BEL").await;
    assert_eq!(found.html.matches("<tr><td><a href=\"/alice/").count(), 1);
    assert!(found.html.contains(r#"value="bel""#), "{}", found.html);
    let none = browser.get("/circuits?q=c_1").await;
    assert!(none.html.contains(r#"id="no-circuits""#), "{}", none.html);
    let bob_view = app.browser().signed_in(&bob).await.get("/circuits").await;
    assert_eq!(bob_view.html.matches("<tr><td><a href=\"/bob/").count(), 1);

    // Anonymous: the 401 page; malformed query values: 400 naming them.
    assert_eq!(app.page("/circuits", None, None).await.0, 401);
    let bad = browser.get("/circuits?after=Not%20a%20name").await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("`after` must be a circuit name"));
    // The header links to it, and to the upload form.
    assert!(
        first
            .html
            .contains(r#"<a href="/circuits">My circuits</a>"#)
    );
    assert!(first.html.contains(r#"href="/circuits/new""#));
    app.stop().await;
}

async fn uploading_from_the_page_creates_what_the_api_would(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |config: &mut Config| config.server.max_body_bytes = 16 * 1024,
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, alice) = app.user("alice").await;
    let browser = app.browser().signed_in(&alice).await;
    let form = browser.get("/circuits/new").await;
    assert_eq!(form.status, 200);
    for field in [
        r#"enctype="multipart/form-data""#,
        r#"name="name""#,
        r#"type="file" name="file""#,
        r#"<textarea name="source""#,
        r#"<option value="openqasm3">"#,
        r#"<option value="qiskit" selected>"#,
        r#"<option value="private" selected>"#,
    ] {
        assert!(form.html.contains(field), "{field}: {}", form.html);
    }
    assert_eq!(app.page("/circuits/new", None, None).await.0, 401);

    // A file: 303 to the circuit's page; the API serves what the file held.
    let made = browser
        .upload(
            "/circuits",
            &[
                ("name", "bell"),
                ("file", BELL),
                ("source", ""),
                ("format", "openqasm2"),
                ("framework", "qiskit"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(
        (made.status, made.location.as_deref()),
        (303, Some("/alice/bell")),
        "{}",
        made.html
    );
    let circuit = app.get_json("/api/circuits/alice/bell").await;
    assert_eq!(
        (
            &circuit["source"],
            &circuit["visibility"],
            &circuit["version"]
        ),
        (&json!(BELL), &json!("public"), &json!(1))
    );
    // Pasted, as a browser sends a text box (CRLF): stored with LF.
    let pasted = browser
        .upload(
            "/circuits",
            &[
                ("name", "pasted"),
                ("file", ""),
                ("source", &BELL.replace('\n', "\r\n")),
                ("format", "openqasm2"),
                ("framework", "qiskit"),
                ("visibility", "private"),
            ],
        )
        .await;
    assert_eq!(pasted.status, 303, "{}", pasted.html);
    let response = http()
        .get(app.url("/api/circuits/alice/pasted"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let circuit: Value = response.json().await.unwrap();
    assert_eq!(
        (&circuit["source"], &circuit["visibility"]),
        (&json!(BELL), &json!("private"))
    );

    // A malformed source: the API's status and message, its line linked and marked, and the
    // form as typed (the file's text now in the box).
    let (status, message) = api_refusal(&app, &alice, "broken", MALFORMED).await;
    let (line, rest) = message.split_once(':').unwrap();
    let (col, rest) = rest.split_once(": ").unwrap();
    assert_eq!(line, "4", "{message}");
    let refused = browser
        .upload(
            "/circuits",
            &[
                ("name", "broken"),
                ("file", MALFORMED),
                ("format", "openqasm2"),
                ("framework", "qiskit"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(refused.status, status);
    let html = &refused.html;
    let rest = rest
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    assert!(
        html.contains(&format!(
            r##"<p class="problem" id="source-error" role="alert"><a href="#L4">Line 4, column {col}</a>: {rest}</p>"##
        )),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="line bad" id="L4"><span class="ln">4</span><code>not_a_gate q[0];</code></div>"#),
        "{html}"
    );
    assert!(html.contains(r#"name="name" required maxlength="100" autocomplete="off" value="broken" aria-describedby="name-help""#), "{html}");
    assert!(html.contains("aria-describedby=\"source-error\" aria-invalid=\"true\">OPENQASM 2.0;\ninclude &quot;qelib1.inc&quot;;\nqreg q[1];\nnot_a_gate q[0];\n</textarea>"), "{html}");

    // Each refusal next to its field, with the API's message and status.
    let taken_message = api_refusal(&app, &alice, "bell", BELL).await;
    let bad_name = api_refusal(&app, &alice, "Bad Name", BELL).await;
    let upload = |name: &'static str, source: &'static str, format: &'static str| {
        let browser = &browser;
        async move {
            browser
                .upload(
                    "/circuits",
                    &[
                        ("name", name),
                        ("source", source),
                        ("format", format),
                        ("framework", "qiskit"),
                        ("visibility", "public"),
                    ],
                )
                .await
        }
    };
    let answer = upload("bell", BELL, "openqasm2").await;
    assert_eq!((answer.status, taken_message.0), (409, 409));
    assert!(
        answer.html.contains(&format!(
            r#"id="name-error" role="alert">{}</p>"#,
            taken_message.1
        )),
        "{}",
        answer.html
    );
    let answer = upload("Bad Name", BELL, "openqasm2").await;
    assert_eq!((answer.status, bad_name.0), (400, 400));
    assert!(
        answer.html.contains(r#"id="name-error""#) && answer.html.contains(&bad_name.1),
        "{}",
        answer.html
    );
    let answer = upload("fine", BELL, "qasm").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.html.contains(r#"id="manifest-error""#)
            && answer.html.contains("manifest.format must be one of"),
        "{}",
        answer.html
    );
    let answer = upload("fine", "  \r\n", "openqasm2").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .html
            .contains("choose a source file or paste the source"),
        "{}",
        answer.html
    );

    // Larger than the API takes: 413 with the API's message, nothing made.
    let big = format!("{BELL}{}", "// padding\n".repeat(2_000));
    let answer = browser
        .upload(
            "/circuits",
            &[
                ("name", "big"),
                ("file", &big),
                ("format", "openqasm2"),
                ("framework", "qiskit"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(answer.status, 413, "{}", answer.html);
    assert!(
        answer.html.contains("the request body exceeds 16384 bytes"),
        "{}",
        answer.html
    );
    // Not multipart: 415; another site's page: 403; no session: 401. Nothing made.
    let answer = browser
        .post("/circuits", &[("name", "form"), ("source", BELL)])
        .await;
    assert_eq!(answer.status, 415, "{}", answer.html);
    assert!(
        answer
            .html
            .contains("the form must be sent as multipart/form-data")
    );
    let fields = [
        ("name", "evil"),
        ("source", BELL),
        ("format", "openqasm2"),
        ("framework", "qiskit"),
        ("visibility", "public"),
    ];
    let answer = browser
        .upload_from("https://evil.example", "/circuits", &fields)
        .await;
    assert_eq!(answer.status, 403, "{}", answer.html);
    assert_eq!(app.browser().upload("/circuits", &fields).await.status, 401);
    // A stranger's body is not even read: 401 whatever its size.
    let stranger = app
        .browser()
        .upload("/circuits", &[("name", "big"), ("file", &big)])
        .await;
    assert_eq!(stranger.status, 401);
    for name in ["broken", "big", "form", "evil", "fine"] {
        let response = http()
            .get(app.url(&format!("/api/circuits/alice/{name}")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{name}");
    }
    app.stop().await;
}

async fn the_owner_adds_versions_and_changes_visibility_from_the_circuit_page(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    let run = app.submit_run(&alice, "alice/bell", SIMULATOR, 10).await;
    let owner = app.browser().signed_in(&alice).await;
    let other = app.browser().signed_in(&bob).await;

    let page = owner.get("/alice/bell").await;
    assert!(
        page.html.contains(r#"<section class="owner" id="owner">"#),
        "{}",
        page.html
    );
    assert!(page.html.contains(r#"action="/alice/bell/versions""#));
    assert!(
        page.html
            .contains(r#"<input type="hidden" name="visibility" value="private">"#)
    );
    assert!(
        !other
            .get("/alice/bell")
            .await
            .html
            .contains(r#"id="owner""#)
    );

    // A new version: 303 back to the page, which shows it as the latest.
    let ghz = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n";
    let version = [
        ("file", ghz),
        ("format", "openqasm2"),
        ("framework", "qiskit"),
    ];
    let added = owner.upload("/alice/bell/versions", &version).await;
    assert_eq!(
        (added.status, added.location.as_deref()),
        (303, Some("/alice/bell")),
        "{}",
        added.html
    );
    let circuit = app.get_json("/api/circuits/alice/bell").await;
    assert_eq!(
        (&circuit["version"], &circuit["source"]),
        (&json!(2), &json!(ghz))
    );
    // Malformed: the form again under the API's status, the message at its line.
    let (status, _) = api_refusal(&app, &alice, "x", MALFORMED).await;
    let refused = owner
        .upload(
            "/alice/bell/versions",
            &[
                ("source", MALFORMED),
                ("format", "openqasm2"),
                ("framework", "qiskit"),
            ],
        )
        .await;
    assert_eq!(refused.status, status);
    assert!(
        refused.html.contains(r##"<a href="#L4">Line 4, column"##),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("<h1>New version of alice/bell</h1>"),
        "{}",
        refused.html
    );
    // As the API answers: another's public circuit 403, nobody's 404, no session 401, and
    // another site's page 403; no version made.
    assert_eq!(
        other.upload("/alice/bell/versions", &version).await.status,
        403
    );
    assert_eq!(
        other
            .upload("/alice/nothing/versions", &version)
            .await
            .status,
        404
    );
    assert_eq!(
        app.browser()
            .upload("/alice/bell/versions", &version)
            .await
            .status,
        401
    );
    let cross = owner
        .upload_from("https://evil.example", "/alice/bell/versions", &version)
        .await;
    assert_eq!(cross.status, 403);
    assert_eq!(app.get_json("/api/circuits/alice/bell").await["version"], 2);

    // Visibility: private hides the circuit and its runs from everyone else at once.
    let bad = owner
        .post("/alice/bell/visibility", &[("visibility", "secret")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.html.contains("visibility must be public or private"));
    assert_eq!(
        other
            .post("/alice/bell/visibility", &[("visibility", "private")])
            .await
            .status,
        403
    );
    assert_eq!(
        owner
            .post_from(
                "https://evil.example",
                "/alice/bell/visibility",
                &[("visibility", "private")]
            )
            .await
            .status,
        403
    );
    assert_eq!(
        app.browser()
            .post("/alice/bell/visibility", &[("visibility", "private")])
            .await
            .status,
        401
    );
    let made_private = owner
        .post("/alice/bell/visibility", &[("visibility", "private")])
        .await;
    assert_eq!(
        (made_private.status, made_private.location.as_deref()),
        (303, Some("/alice/bell"))
    );
    let run_page = format!("/alice/bell/runs/{run}");
    for path in ["/alice/bell", run_page.as_str()] {
        assert_eq!(app.page(path, None, None).await.0, 404, "{path}");
        assert_eq!(other.get(path).await.status, 404, "{path}");
        assert_eq!(owner.get(path).await.status, 200, "{path}");
    }
    let run_json = http()
        .get(app.url(&format!("/api/runs/{run}")))
        .send()
        .await
        .unwrap();
    assert_eq!(run_json.status(), 404);
    let page = owner.get("/alice/bell").await;
    assert!(
        page.html.contains("It is <strong>private</strong>"),
        "{}",
        page.html
    );
    // Now another's private circuit: 404 to others, as the API answers.
    assert_eq!(
        other
            .post("/alice/bell/visibility", &[("visibility", "public")])
            .await
            .status,
        404
    );
    assert_eq!(
        other.upload("/alice/bell/versions", &version).await.status,
        404
    );
    assert_eq!(
        owner
            .post("/alice/bell/visibility", &[("visibility", "public")])
            .await
            .status,
        303
    );
    assert_eq!(app.page("/alice/bell", None, None).await.0, 200);
    app.stop().await;
}

async fn the_api_changes_visibility_for_the_owner_only(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    app.create_circuit(&alice, "secret", "private").await;
    let put = |path: &'static str, token: Option<&str>, body: Value| {
        let mut request = http().put(app.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let private = json!({"visibility": "private"});
    let (status, body) = put(
        "/api/circuits/alice/bell/visibility",
        Some(&alice),
        private.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["visibility"], &body["version"]),
        (&json!("private"), &json!(1))
    );
    assert!(body.get("source").is_none_or(Value::is_null), "{body}");
    let anonymous = http()
        .get(app.url("/api/circuits/alice/bell"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 404);
    for (path, token, body, status, code) in [
        (
            "/api/circuits/alice/bell/visibility",
            None,
            private.clone(),
            401,
            "unauthorized",
        ),
        (
            "/api/circuits/alice/bell/visibility",
            Some(bob.as_str()),
            private.clone(),
            404,
            "not_found",
        ),
        (
            "/api/circuits/alice/secret/visibility",
            Some(bob.as_str()),
            private.clone(),
            404,
            "not_found",
        ),
        (
            "/api/circuits/alice/nothing/visibility",
            Some(alice.as_str()),
            private.clone(),
            404,
            "not_found",
        ),
        (
            "/api/circuits/alice/bell/visibility",
            Some(alice.as_str()),
            json!({"visibility": "hidden"}),
            400,
            "invalid_body",
        ),
    ] {
        let (got, answer) = put(path, token, body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {token:?}: {answer}"
        );
    }
    let (status, _) = put(
        "/api/circuits/alice/bell/visibility",
        Some(&alice),
        json!({"visibility": "public"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = put("/api/circuits/alice/bell/visibility", Some(&bob), private).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    app.stop().await;
}

async fn a_jobs_runs_show_together_with_their_circuit_names(db: TestDb) {
    let app = TestApp::spawn_with(db, crate::helpers::executing, qrun::app::Hooks::default()).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    app.create_circuit(&alice, "bell", "public").await;
    let mut first = testkit::run_body("alice/bell", SIMULATOR, 100);
    first["name"] = json!("bell-<0>");
    let second = testkit::run_body("alice/bell", SIMULATOR, 50);
    let response = http()
        .post(app.url("/api/jobs"))
        .bearer_auth(&alice)
        .json(&json!({"runs": [first, second], "tags": ["exp-1", "night"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let runs: Vec<Uuid> = job["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    for run in &runs {
        app.wait_status(*run, RunStatus::Completed).await;
    }
    let alone = app.submit_run(&alice, "alice/bell", SIMULATOR, 10).await;
    let owner = app.browser().signed_in(&alice).await;

    let page = owner.get(&format!("/jobs/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let html = &page.html;
    for run in &runs {
        assert!(
            html.contains(&format!(r#"href="/alice/bell/runs/{run}""#)),
            "{html}"
        );
        assert!(
            html.contains(&format!(r#"class="badge s-completed" data-run="{run}""#)),
            "{html}"
        );
    }
    assert!(
        html.contains("<td>bell-&lt;0&gt;</td>"),
        "the circuit name, escaped: {html}"
    );
    assert!(
        html.contains(r#"<a href="/alice/bell?version=1">alice/bell</a> v1"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="tag">exp-1</span>"#)
            && html.contains(r#"<span class="tag">night</span>"#)
    );
    assert!(
        html.contains(r#"id="job-status">completed</span>"#),
        "{html}"
    );
    assert!(html.contains("2 (2 completed)"), "{html}");
    // The run page links to its job, to its submitter; a run on its own names none.
    let run_page = owner.get(&format!("/alice/bell/runs/{}", runs[0])).await;
    assert!(
        run_page.html.contains(&format!(r#"<a href="/jobs/{id}">"#)),
        "{}",
        run_page.html
    );
    assert!(
        !app.page(&format!("/alice/bell/runs/{}", runs[0]), None, None)
            .await
            .1
            .contains("/jobs/")
    );
    assert!(
        !owner
            .get(&format!("/alice/bell/runs/{alone}"))
            .await
            .html
            .contains(r#"id="job""#)
    );
    // The list, its tag filter; another's job and a malformed id are 404, no session 401.
    let list = owner.get("/jobs").await;
    assert!(
        list.html.contains(&format!(r#"href="/jobs/{id}""#)),
        "{}",
        list.html
    );
    assert!(
        owner
            .get("/jobs?tag=exp-1")
            .await
            .html
            .contains(&format!(r#"href="/jobs/{id}""#))
    );
    assert!(
        owner
            .get("/jobs?tag=other")
            .await
            .html
            .contains(r#"id="no-jobs""#)
    );
    assert_eq!(owner.get("/jobs?cursor=!!").await.status, 400);
    let bob = app.browser().signed_in(&bob).await;
    assert_eq!(bob.get(&format!("/jobs/{id}")).await.status, 404);
    assert!(!bob.get("/jobs").await.html.contains(&id));
    assert_eq!(owner.get("/jobs/not-a-uuid").await.status, 404);
    assert_eq!(
        owner.get(&format!("/jobs/{}", Uuid::now_v7())).await.status,
        404
    );
    assert_eq!(app.page(&format!("/jobs/{id}"), None, None).await.0, 401);
    assert_eq!(app.page("/jobs", None, None).await.0, 401);
    app.stop().await;
}

on_both_databases!(
    my_circuits_lists_searches_and_pages_ones_own,
    uploading_from_the_page_creates_what_the_api_would,
    the_owner_adds_versions_and_changes_visibility_from_the_circuit_page,
    the_api_changes_visibility_for_the_owner_only,
    a_jobs_runs_show_together_with_their_circuit_names,
    a_circuit_uploaded_in_a_browser_runs_and_a_malformed_one_shows_its_line,
);

async fn a_circuit_uploaded_in_a_browser_runs_and_a_malformed_one_shows_its_line(db: TestDb) {
    use super::browser::{Script, browser_available, screenshots};
    if !browser_available() {
        return;
    }
    let shots = screenshots(&db);
    let app = TestApp::spawn_with(db, crate::helpers::executing, qrun::app::Hooks::default()).await;
    let (alice, token) = app.user("alice").await;
    app.create_circuit(&token, "pair", "public").await;
    let runs: Vec<Value> = (0..2)
        .map(|i| {
            let mut run = testkit::run_body("alice/pair", SIMULATOR, 100);
            run["name"] = json!(format!("bell-{i}"));
            run
        })
        .collect();
    let response = http()
        .post(app.url("/api/jobs"))
        .bearer_auth(&token)
        .json(&json!({"runs": runs, "tags": ["browser"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let job: Value = response.json().await.unwrap();
    let job = job["id"].as_str().unwrap().to_owned();

    let pictures = [
        "upload.png",
        "circuit-owner.png",
        "upload-refused.png",
        "circuits.png",
        "job.png",
        "jobs.png",
        "circuits-390.png",
        "upload-390.png",
        "job-390.png",
        "jobs-390.png",
        "upload-refused-390.png",
    ];
    for picture in pictures.iter().chain(&["circuits-failure.png"]) {
        let _ = std::fs::remove_file(shots.join(picture));
    }
    let mut script = Script::start(
        "circuits.mjs",
        &[&app.url(""), &token, &job, shots.to_str().unwrap()],
    );
    let seen = async {
        script.expect("uploaded").await?;
        let run: Uuid = script.expect("completed ").await?.parse().ok()?;
        script.expect("owned").await?;
        let line = script.expect("refused ").await?;
        let rows = script.expect("job ").await?;
        script.expect("fits 390").await?;
        script.expect("done").await?;
        Some((run, line, rows))
    }
    .await;
    let Some((run, line, rows)) = seen else {
        panic!("the browser stopped early: {}", script.errors().await);
    };
    script.finish().await.expect("the browser script succeeds");
    assert_eq!((line.as_str(), rows.as_str()), ("4", "2"));
    for picture in pictures {
        assert!(
            std::fs::metadata(shots.join(picture)).is_ok_and(|m| m.len() > 0),
            "{picture}"
        );
    }
    // What the browser made is what the API serves: the file's source, and a completed run of
    // it by alice; nothing of the malformed upload.
    let circuit = app.get_json("/api/circuits/alice/bell").await;
    let second = BELL.replace("h q[0];", "x q[0];\nh q[0];");
    assert_eq!(
        (
            &circuit["version"],
            &circuit["source"],
            &circuit["visibility"]
        ),
        (&json!(2), &json!(second), &json!("public"))
    );
    let made = app.store().run(run).await.unwrap().unwrap();
    assert_eq!(
        made.spec.circuit_version, 1,
        "the run is of the uploaded file"
    );
    assert_eq!(
        (made.status, made.user_id),
        (RunStatus::Completed, alice.id)
    );
    let broken = http()
        .get(app.url("/api/circuits/alice/broken"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 404);
    eprintln!("screenshots in {}", shots.display());
    app.stop().await;
}
