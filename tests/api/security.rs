//! Issue #9 (security), end to end on the real application:
//!
//! - the authorization matrix over *every* served route (`qrun::http::ROUTES` and
//!   `PAGE_ROUTES`: a route added without a row here fails the test) × callers (anonymous, a
//!   bad token, the owner, another user; by bearer header and by page cookie) × a public and
//!   a private circuit and a run on each (plus a run someone else submitted on the public
//!   one);
//! - a private circuit's id and name and its runs' ids never reach the public endpoints nor
//!   any error answered to someone else, and a private thing answers exactly like a thing
//!   that does not exist;
//! - `qrun serve` at trace level never logs a token or a browser session's secret (nor its
//!   hash) nor a consent value.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qrun::domain::{ErrorClass, ErrorStage, Failure, RunResults};
use qrun::store::users::hash_token;
use qrun::store::{Canceller, Change, FailCause};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{BELL, TestApp, TestDb, multipart, wait_until};
use crate::on_both_databases;
use crate::serve::Served;
use testkit::LineSink;

/// A token that looks real (prefix, 32 hex digits of row id, 64 of secret) but is nobody's.
fn forged_token() -> String {
    format!(
        "qrun_{}{}",
        Uuid::now_v7().simple(),
        hex::encode(Uuid::new_v4().as_bytes()).repeat(2)
    )
}

/// A client that does not follow redirects (so `POST /login` answers 303 itself).
fn client() -> reqwest::Client {
    let _ = crate::helpers::http(); // installs the TLS provider reqwest needs
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

/// One answer: status, content type, `WWW-Authenticate`, and the body (for an event stream,
/// up to the end of its first event).
struct Answer {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The `data` of the first server-sent event.
    fn first_event(&self) -> Value {
        let data = self
            .text
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap_or_else(|| panic!("no event data: {}", self.text));
        serde_json::from_str(data).expect("JSON event data")
    }
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Form(String),
    /// Content type and content.
    Raw((String, String)),
}

async fn send(
    client: &reqwest::Client,
    method: Method,
    url: String,
    bearer: Option<&str>,
    cookie: Option<&str>,
    body: Body,
) -> Answer {
    let mut request = client.request(method, url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(token) = cookie {
        request = request.header("cookie", format!("qrun_token={token}"));
    }
    request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Form(form) => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
        Body::Raw((content_type, content)) => {
            request.header("content-type", content_type).body(content)
        }
    };
    let mut response = request.send().await.expect("an answer");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let www_authenticate = header("www-authenticate");
    let status = response.status().as_u16();
    let text = if content_type.starts_with("text/event-stream") {
        // A live run's stream stays open: its first event is enough.
        let mut text = String::new();
        tokio::time::timeout(Duration::from_secs(20), async {
            while !text.contains("\n\n") {
                match response.chunk().await.expect("the stream") {
                    Some(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
                    None => break,
                }
            }
        })
        .await
        .expect("a first event");
        text
    } else {
        response.text().await.expect("a body")
    };
    Answer {
        status,
        content_type,
        www_authenticate,
        text,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    BadToken,
    Owner,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Bearer,
    Cookie,
}

/// Whether a route reads the browser's `qrun_token` cookie, a session's secret (the pages,
/// the live events a page follows, and `POST /logout`, which revokes it). `POST /login` takes
/// an API token from its form, which this test fills with the caller's token whichever way the
/// caller otherwise presents their credentials.
fn reads_cookie(method: &str, template: &str) -> bool {
    match (method, template) {
        ("GET", "/login")
        | ("POST", "/login")
        | ("POST", "/logout")
        | ("GET", "/")
        | ("GET", "/runs")
        | ("GET", "/admin/runs")
        | ("GET", "/admin/runs/{id}/cancel")
        | ("POST", "/admin/runs/{id}/cancel")
        | ("GET", "/{owner}/{circuit}")
        | ("POST", "/{owner}/{circuit}/runs")
        | ("GET", "/{owner}/{circuit}/runs/{id}")
        | ("POST", "/{owner}/{circuit}/runs/{id}/cancel")
        | ("GET", "/{owner}/{circuit}/runs/{id}/counts.json")
        | ("GET", "/{owner}/{circuit}/runs/{id}/counts.csv")
        | ("GET", "/circuits")
        | ("POST", "/circuits")
        | ("GET", "/circuits/new")
        | ("POST", "/{owner}/{circuit}/versions")
        | ("POST", "/{owner}/{circuit}/visibility")
        | ("GET", "/jobs")
        | ("GET", "/jobs/{id}")
        | ("GET", "/tokens")
        | ("POST", "/tokens/{id}/revoke")
        | ("GET", "/api/runs/{id}/events") => true,
        ("POST", "/api/runs")
        | ("GET", "/api/runs")
        | ("GET", "/api/runs/{id}")
        | ("POST", "/api/runs/{id}/cancel")
        | ("GET", "/api/runs/{id}/audit")
        | ("GET", "/api/runs/{id}/memory")
        | ("POST", "/api/jobs")
        | ("GET", "/api/jobs")
        | ("GET", "/api/jobs/{id}")
        | ("PUT", "/api/jobs/{id}/tags")
        | ("POST", "/api/circuits")
        | ("POST", "/api/circuits/{owner}/{name}/versions")
        | ("PUT", "/api/circuits/{owner}/{name}/visibility")
        | ("GET", "/api/circuits/{owner}/{name}")
        | ("GET", "/api/health/runs")
        | ("GET", "/api/health/dagster/runs")
        | ("GET", "/healthz")
        | ("GET", "/readyz")
        | ("GET", "/metrics")
        | ("GET", "/openapi.json")
        | ("GET", "/api/backends")
        | ("GET", "/api/me")
        | ("GET", "/api/tokens")
        | ("DELETE", "/api/tokens/{id}")
        | ("POST", "/consent") => false,
        other => panic!("{other:?} has no row in the security matrix: add one to reads_cookie"),
    }
}

/// A caller of the matrix: who they are, how they present their credentials, what they
/// present (a bearer token, or the cookie's session secret), the API token the login form is
/// filled with, and a label.
type Caller<'a> = (Who, Via, Option<&'a str>, Option<&'a str>, &'a str);

/// A circuit and a run on it, as the matrix targets them.
struct Target {
    label: &'static str,
    public: bool,
    name: String,
    circuit_id: String,
    run_id: String,
    /// Whether the circuit's owner submitted the run (else a third user did).
    owner_submitted: bool,
    submitter_token: String,
    submitter_id: Uuid,
}

/// The status `who` (as the route sees them: a cookie a route ignores is anonymous) gets.
fn expected(method: &str, template: &str, who: Who, target: &Target) -> u16 {
    let visible = |who| target.public || who == Who::Owner;
    let read = match who {
        Who::BadToken => 401,
        who if visible(who) => 200,
        _ => 404,
    };
    let write = |ok: u16, other: u16| match who {
        Who::Anonymous | Who::BadToken => 401,
        Who::Owner => ok,
        Who::Other => other,
    };
    match (method, template) {
        ("POST", "/api/runs") => write(201, if target.public { 201 } else { 404 }),
        ("GET", "/api/runs") => write(200, 200),
        ("GET", "/api/runs/{id}") | ("GET", "/api/runs/{id}/audit") => read,
        ("GET", "/api/runs/{id}/events") => read,
        // The matrix's runs asked for no memory: 404 to whoever may see them, as to others.
        ("GET", "/api/runs/{id}/memory") => match who {
            Who::BadToken => 401,
            _ => 404,
        },
        ("POST", "/api/jobs") => write(201, if target.public { 201 } else { 404 }),
        ("GET", "/api/jobs") => write(200, 200),
        // One's own jobs only; the matrix's `{id}` is a run's, no job of anyone's.
        ("GET", "/api/jobs/{id}") | ("PUT", "/api/jobs/{id}/tags") => write(404, 404),
        // Only the submitter cancels: the circuit's owner is refused another's run.
        ("POST", "/api/runs/{id}/cancel") => write(
            if target.owner_submitted { 200 } else { 403 },
            if target.public { 403 } else { 404 },
        ),
        ("POST", "/api/circuits") => write(201, 201),
        ("POST", "/api/circuits/{owner}/{name}/versions") => {
            write(201, if target.public { 403 } else { 404 })
        }
        // The matrix sets the visibility a circuit has: nothing changes for the routes after.
        ("PUT", "/api/circuits/{owner}/{name}/visibility") => {
            write(200, if target.public { 403 } else { 404 })
        }
        ("GET", "/api/circuits/{owner}/{name}") => read,
        // One's own identity and tokens; the matrix's `{id}` is a run's, no token of anyone's.
        ("GET", "/api/me") | ("GET", "/api/tokens") => write(200, 200),
        ("DELETE", "/api/tokens/{id}") => write(404, 404),
        // Public endpoints authenticate nobody: any Authorization is ignored.
        ("GET", "/api/health/runs")
        | ("GET", "/api/health/dagster/runs")
        | ("GET", "/healthz")
        | ("GET", "/readyz")
        | ("GET", "/metrics")
        | ("GET", "/openapi.json")
        | ("GET", "/api/backends") => 200,
        ("GET", "/login") => match who {
            Who::BadToken => 401,
            _ => 200,
        },
        ("POST", "/login") => match who {
            Who::Anonymous | Who::BadToken => 401,
            Who::Owner | Who::Other => 303,
        },
        ("POST", "/logout") | ("POST", "/consent") => 303,
        ("GET", "/{owner}/{circuit}") | ("GET", "/{owner}/{circuit}/runs/{id}") => read,
        // The matrix's runs have not completed: no counts yet, to whoever may see them.
        ("GET", "/{owner}/{circuit}/runs/{id}/counts.json")
        | ("GET", "/{owner}/{circuit}/runs/{id}/counts.csv") => match read {
            200 => 409,
            other => other,
        },
        // The console: public counts; one's own runs; the run form and Cancel as the API's
        // submission and cancel (a page's answer is a redirect where the API's is the run).
        ("GET", "/") => match who {
            Who::BadToken => 401,
            _ => 200,
        },
        ("GET", "/runs") => write(200, 200),
        // The operator's pages: nobody here holds the role, so each caller gets the answer of
        // a path with no page — `/admin/runs` is a circuit path (of the reserved handle
        // `admin`), the others no page's (`tests/api/pages/admin.rs` has the operators).
        ("GET", "/admin/runs") => match who {
            Who::BadToken => 401,
            _ => 404,
        },
        ("GET", "/admin/runs/{id}/cancel") | ("POST", "/admin/runs/{id}/cancel") => 404,
        ("POST", "/{owner}/{circuit}/runs") => write(303, if target.public { 303 } else { 404 }),
        ("POST", "/{owner}/{circuit}/runs/{id}/cancel") => write(
            if target.owner_submitted { 303 } else { 403 },
            if target.public { 403 } else { 404 },
        ),
        // Circuits from the browser, as the API's create, versions and visibility; one's own
        // circuits and jobs (the matrix's `{id}` is a run's, no job of anyone's).
        ("GET", "/circuits") | ("GET", "/circuits/new") | ("GET", "/jobs") => write(200, 200),
        ("GET", "/jobs/{id}") => write(404, 404),
        // One's own tokens, as `/api/tokens`; the matrix's `{id}` is a run's, no token.
        ("GET", "/tokens") => write(200, 200),
        ("POST", "/tokens/{id}/revoke") => write(404, 404),
        ("POST", "/circuits") => write(303, 303),
        ("POST", "/{owner}/{circuit}/versions") | ("POST", "/{owner}/{circuit}/visibility") => {
            write(303, if target.public { 403 } else { 404 })
        }
        other => panic!("{other:?} has no row in the security matrix: add one to expected"),
    }
}

async fn every_route_answers_every_caller_as_the_matrix_says(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let client = client();
    let (alice, owner) = app.user("alice").await;
    let (bob, other) = app.user("bob").await;
    let (carol, third) = app.user("carol").await;
    let bad = forged_token();
    // Alice's forged twin: her token's row id with another secret.
    let twin = format!("{}{}", &owner[..37], "0".repeat(64));
    assert_ne!(twin, owner);
    // Browser sessions (`POST /login`): the cookie holds one of these, never an API token.
    let owner_session = app.session(&owner).await;
    let other_session = app.session(&other).await;
    let forged_session = bad.replacen("qrun_", "qrun_s_", 1);
    // Alice's session's row id with another secret.
    let session_twin = format!("{}{}", &owner_session[..39], "0".repeat(64));
    assert_ne!(session_twin, owner_session);

    let secret = format!("hush-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let public = app.create_circuit(&owner, "bell", "public").await;
    let private = app.create_circuit(&owner, &secret, "private").await;
    let run_of = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 201);
        let run: Value = response.json().await.unwrap();
        run["id"].as_str().unwrap().to_owned()
    };
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let consent = [("X-Analytics-Consent", "granted")];
    let targets = [
        Target {
            label: "public circuit, the owner's run",
            public: true,
            name: "bell".into(),
            circuit_id: id(&public),
            run_id: run_of(app.submit_http(&owner, &id(&public), &consent).await).await,
            owner_submitted: true,
            submitter_token: owner.clone(),
            submitter_id: alice.id,
        },
        Target {
            label: "private circuit, the owner's run",
            public: false,
            name: secret.clone(),
            circuit_id: id(&private),
            run_id: run_of(app.submit_http(&owner, &id(&private), &consent).await).await,
            owner_submitted: true,
            submitter_token: owner.clone(),
            submitter_id: alice.id,
        },
        Target {
            label: "public circuit, carol's run",
            public: true,
            name: "bell".into(),
            circuit_id: id(&public),
            run_id: run_of(app.submit_http(&third, &id(&public), &consent).await).await,
            owner_submitted: false,
            submitter_token: third.clone(),
            submitter_id: carol.id,
        },
    ];
    // Everything of the private circuit that only Alice may learn.
    let mut private_ids: BTreeSet<String> =
        BTreeSet::from([targets[1].circuit_id.clone(), targets[1].run_id.clone()]);

    let callers: Vec<Caller> = vec![
        (Who::Anonymous, Via::Bearer, None, None, "anonymous"),
        (
            Who::BadToken,
            Via::Bearer,
            Some(bad.as_str()),
            Some(bad.as_str()),
            "a forged bearer token",
        ),
        (
            Who::BadToken,
            Via::Bearer,
            Some(twin.as_str()),
            Some(twin.as_str()),
            "alice's row id, wrong secret",
        ),
        (
            Who::BadToken,
            Via::Bearer,
            Some(owner_session.as_str()),
            Some(owner_session.as_str()),
            "alice's session as a bearer token",
        ),
        (
            Who::Owner,
            Via::Bearer,
            Some(owner.as_str()),
            Some(owner.as_str()),
            "the owner (bearer)",
        ),
        (
            Who::Other,
            Via::Bearer,
            Some(other.as_str()),
            Some(other.as_str()),
            "another user (bearer)",
        ),
        (
            Who::BadToken,
            Via::Cookie,
            Some(forged_session.as_str()),
            Some(bad.as_str()),
            "a forged cookie",
        ),
        (
            Who::BadToken,
            Via::Cookie,
            Some(session_twin.as_str()),
            Some(twin.as_str()),
            "alice's session's row id, wrong secret",
        ),
        (
            Who::BadToken,
            Via::Cookie,
            Some(owner.as_str()),
            Some(bad.as_str()),
            "alice's API token as the cookie",
        ),
        (
            Who::Owner,
            Via::Cookie,
            Some(owner_session.as_str()),
            Some(owner.as_str()),
            "the owner (cookie)",
        ),
        (
            Who::Other,
            Via::Cookie,
            Some(other_session.as_str()),
            Some(other.as_str()),
            "another user (cookie)",
        ),
    ];
    let routes: Vec<(&str, &str)> = qrun::http::ROUTES
        .iter()
        .chain(qrun::http::PAGE_ROUTES)
        .copied()
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    let mut made = 0;
    for &(method, template) in &routes {
        for target in &targets {
            for &(who, via, presented, form_token, caller) in &callers {
                let case = format!("{method} {template}: {}, {caller}", target.label);
                // What the route sees: a cookie it does not read is no credential at all.
                let seen = if via == Via::Cookie && !reads_cookie(method, template) {
                    Who::Anonymous
                } else {
                    who
                };
                let status = expected(method, template, seen, target);
                // The operator's cancel page answers everyone here as a path no route has:
                // whatever an unknown path gets (the API's `route_not_found`).
                let no_page = template == "/admin/runs/{id}/cancel";
                // Cancelling needs a live run: a fresh one by the target's submitter each time
                // (not for the operator's cancel, which nobody here may use).
                let run_id = if template.ends_with("/runs/{id}/cancel") && !no_page {
                    let fresh = run_of(
                        app.submit_http(&target.submitter_token, &target.circuit_id, &[])
                            .await,
                    )
                    .await;
                    if !target.public {
                        private_ids.insert(fresh.clone());
                    }
                    fresh
                } else {
                    target.run_id.clone()
                };
                let mut path = template
                    .replace("{id}", &run_id)
                    .replace("{owner}", "alice")
                    .replace("{name}", &target.name)
                    .replace("{circuit}", &target.name);
                made += 1;
                let visibility = if target.public { "public" } else { "private" };
                let body = match (method, template) {
                    ("POST", "/api/runs") => Body::Json(json!({
                        "circuit": format!("alice/{}", target.name),
                        "backend": {"type": "simulator", "name": "statevector"},
                        "shots": 10,
                    })),
                    ("POST", "/api/jobs") => Body::Json(json!({"runs": [{
                        "circuit": format!("alice/{}", target.name),
                        "backend": {"type": "simulator", "name": "statevector"},
                        "shots": 10,
                    }]})),
                    ("PUT", "/api/jobs/{id}/tags") => Body::Json(json!({"tags": ["t"]})),
                    ("POST", "/api/circuits") => Body::Json(json!({
                        "name": format!("made-{made}"),
                        "visibility": if target.public { "public" } else { "private" },
                        "source": BELL,
                        "manifest": {"framework": "qiskit", "format": "openqasm2"},
                    })),
                    ("POST", "/api/circuits/{owner}/{name}/versions") => Body::Json(json!({
                        "source": BELL,
                        "manifest": {"framework": "qiskit", "format": "openqasm2"},
                    })),
                    // `next` is not about the target: the form echoes it back (the caller's own input).
                    ("POST", "/login") => {
                        Body::Form(format!("token={}&next=%2Flogin", form_token.unwrap_or("")))
                    }
                    ("POST", "/{owner}/{circuit}/runs") => {
                        Body::Form("backend=simulator%2Fstatevector&shots=10".into())
                    }
                    ("POST", "/consent") => Body::Form("choice=granted&next=%2F".into()),
                    ("PUT", "/api/circuits/{owner}/{name}/visibility") => {
                        Body::Json(json!({"visibility": visibility}))
                    }
                    ("POST", "/{owner}/{circuit}/visibility") => {
                        Body::Form(format!("visibility={visibility}"))
                    }
                    ("POST", "/circuits") => Body::Raw(multipart(&[
                        ("name", &format!("page-made-{made}")),
                        ("visibility", visibility),
                        ("file", BELL),
                        ("format", "openqasm2"),
                        ("framework", "qiskit"),
                    ])),
                    ("POST", "/{owner}/{circuit}/versions") => Body::Raw(multipart(&[
                        ("source", BELL),
                        ("format", "openqasm2"),
                        ("framework", "qiskit"),
                    ])),
                    _ => Body::None,
                };
                if template == "/api/runs" && method == "GET" {
                    path.push_str(&format!("?circuit=alice/{}&limit=100", target.name));
                }
                // Logging out revokes the session: a fresh one each time, so the matrix's own
                // stay live for the routes after.
                let fresh;
                let presented = match (template, via, who) {
                    ("/logout", Via::Cookie, Who::Owner | Who::Other) => {
                        fresh = app.session(form_token.unwrap()).await;
                        Some(fresh.as_str())
                    }
                    _ => presented,
                };
                let (bearer, cookie) = match via {
                    Via::Bearer => (presented, None),
                    Via::Cookie => (None, presented),
                };
                let answer = send(
                    &client,
                    method.parse().unwrap(),
                    app.url(&path),
                    bearer,
                    cookie,
                    body,
                )
                .await;
                assert_eq!(answer.status, status, "{case}: {}", answer.text);

                let api = qrun::http::ROUTES.contains(&(method, template));
                if api && answer.status >= 400 {
                    let code = match answer.status {
                        401 => "unauthorized",
                        403 => "forbidden",
                        _ => "not_found",
                    };
                    assert_eq!(answer.json()["error"]["code"], code, "{case}");
                }
                if answer.status == 401 {
                    if api {
                        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{case}");
                    } else {
                        assert!(answer.content_type.starts_with("text/html"), "{case}");
                    }
                }
                if !api && !no_page && answer.status >= 400 {
                    assert!(answer.content_type.starts_with("text/html"), "{case}");
                }

                // Who may see the submitter: the submitter and the circuit's owner.
                let sees = seen == Who::Owner;
                let me = match seen {
                    Who::Owner => Some(alice.id),
                    Who::Other => Some(bob.id),
                    _ => None,
                };
                // Nobody but Alice learns anything of her private circuit, nor her id; nobody
                // but Alice (and Carol, who is not a caller here) learns Carol's.
                if seen != Who::Owner {
                    for hidden in private_ids.iter().chain([&secret, &alice.id.to_string()]) {
                        assert!(
                            !answer.text.contains(hidden.as_str()),
                            "{case}: {hidden} in {}",
                            answer.text
                        );
                    }
                    for hidden in [carol.id.to_string(), "carol".to_owned()] {
                        assert!(
                            !answer.text.contains(&hidden),
                            "{case}: {hidden} in {}",
                            answer.text
                        );
                    }
                }
                if answer.status != 200 {
                    continue;
                }
                let submitter = if sees {
                    json!(target.submitter_id)
                } else {
                    Value::Null
                };
                match (method, template) {
                    ("GET", "/api/runs/{id}") => {
                        let run = answer.json();
                        assert_eq!(run["id"], json!(run_id), "{case}");
                        assert_eq!(run["user_id"], submitter, "{case}");
                        assert_eq!(
                            run["analytics_consent"],
                            if sees { json!(true) } else { Value::Null },
                            "{case}"
                        );
                    }
                    ("GET", "/api/runs/{id}/audit") => {
                        let audit = answer.json();
                        for entry in audit["entries"].as_array().unwrap() {
                            assert_eq!(entry["actor_user_id"], submitter, "{case}");
                        }
                    }
                    ("GET", "/api/runs/{id}/events") => {
                        let run = answer.first_event();
                        assert_eq!(run["user_id"], submitter, "{case}");
                        assert_eq!(run["analytics_consent"].is_null(), !sees, "{case}");
                    }
                    ("GET", "/api/runs") => {
                        // One's own runs only, whatever the circuit filter names.
                        for run in answer.json()["runs"].as_array().unwrap() {
                            assert_eq!(run["user_id"], json!(me.unwrap()), "{case}");
                        }
                    }
                    ("GET", "/{owner}/{circuit}/runs/{id}") => {
                        assert_eq!(answer.text.contains("submitted by"), sees, "{case}");
                        if sees && !target.owner_submitted {
                            assert!(answer.text.contains("<dd>carol</dd>"), "{case}");
                        }
                    }
                    ("GET", "/{owner}/{circuit}") => {
                        assert!(answer.text.contains(&target.run_id), "{case}");
                        // The run form for whoever is signed in, and only them.
                        assert_eq!(
                            answer.text.contains("id=\"run-form\""),
                            me.is_some(),
                            "{case}"
                        );
                    }
                    // One's own runs only: nobody else's run appears.
                    ("GET", "/runs") if me != Some(target.submitter_id) => {
                        assert!(!answer.text.contains(&target.run_id), "{case}");
                    }
                    _ => {}
                }
            }
        }
    }
    app.stop().await;
}

/// Alice's private circuit with a run in every status, and the strings that identify them.
async fn private_runs_in_every_status(
    app: &TestApp,
    (owner_id, owner): (Uuid, &str),
    name: &str,
) -> (String, Vec<String>) {
    let circuit = app.create_circuit(owner, name, "private").await;
    let cid = circuit["id"].as_str().unwrap().to_owned();
    let submit = || async {
        let response = app
            .submit_http(owner, &cid, &[("X-Analytics-Consent", "granted")])
            .await;
        assert_eq!(response.status(), 201);
        let run: Value = response.json().await.unwrap();
        run["id"].as_str().unwrap().parse::<Uuid>().unwrap()
    };
    // runs[1..4] are claimed (the only way a run starts) before runs[0] and runs[4] exist.
    let mut runs = vec![submit().await, submit().await, submit().await];
    assert_eq!(app.claim("test-node", 3, 300).await.len(), 3);
    runs.insert(0, submit().await);
    runs.push(submit().await);
    let results = RunResults {
        counts: [("00".to_owned(), 6), ("11".to_owned(), 4)].into(),
        shots: 10,
        execution_time: 0.001,
        unique_states: 2,
        method: None,
        precision: None,
    };
    app.transition(
        runs[2],
        Change::Complete {
            results,
            memory: None,
        },
    )
    .await
    .unwrap();
    let failure = Failure::new(ErrorClass::BackendError, ErrorStage::Execute, "boom");
    app.transition(
        runs[3],
        Change::Fail {
            failure,
            cause: FailCause::Executor,
        },
    )
    .await
    .unwrap();
    app.transition(
        runs[4],
        Change::Cancel {
            by: Canceller::User(owner_id),
        },
    )
    .await
    .unwrap();
    (cid, runs.iter().map(Uuid::to_string).collect())
}

async fn private_ids_and_names_never_leak(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let client = client();
    let (alice, owner) = app.user("alice").await;
    let (_, other) = app.user("bob").await;
    let bad = forged_token();
    let name = format!("hush-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let (cid, runs) = private_runs_in_every_status(&app, (alice.id, &owner), &name).await;
    let public = app.create_circuit(&owner, "bell", "public").await;
    app.submit_http(&owner, public["id"].as_str().unwrap(), &[])
        .await;
    let mut secrets: Vec<String> = vec![cid.clone(), name.clone(), alice.id.to_string()];
    secrets.extend(runs.iter().cloned());
    let leaks = |text: &str| -> Vec<String> {
        secrets
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .cloned()
            .collect()
    };

    // Public endpoints, to anyone (the owner included): counts and labels, never ids.
    for path in [
        "/metrics",
        "/api/health/runs",
        "/api/health/dagster/runs",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        for (caller, token) in [
            ("anonymous", None),
            ("a forged token", Some(bad.as_str())),
            ("bob", Some(other.as_str())),
            ("alice", Some(owner.as_str())),
        ] {
            let answer = send(&client, Method::GET, app.url(path), token, None, Body::None).await;
            assert_eq!(answer.status, 200, "{path}, {caller}: {}", answer.text);
            assert_eq!(
                leaks(&answer.text),
                Vec::<String>::new(),
                "{path}, {caller}: {}",
                answer.text
            );
        }
    }
    // They do report on the private runs (so the check above means something).
    let health = send(
        &client,
        Method::GET,
        app.url("/api/health/runs"),
        None,
        None,
        Body::None,
    )
    .await
    .json();
    assert!(
        health["pending"].as_u64().unwrap() >= 1 && health["running"].as_u64().unwrap() >= 1,
        "{health}"
    );
    let metrics = send(
        &client,
        Method::GET,
        app.url("/metrics"),
        None,
        None,
        Body::None,
    )
    .await
    .text;
    assert!(metrics.contains("qrun_runs_requested_total"), "{metrics}");

    // Every request about the private circuit, by everyone but Alice: no error names it, and
    // each answers exactly as the same request about a circuit or run that does not exist.
    let ghost_run = Uuid::now_v7().to_string();
    let ghost_cid = Uuid::now_v7().to_string();
    let ghost_name = format!("hush-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let backend = json!({"type": "simulator", "name": "statevector"});
    let requests = |cid: &str, name: &str, run: &str| -> Vec<(Method, String, Body)> {
        let version =
            json!({"source": BELL, "manifest": {"framework": "qiskit", "format": "openqasm2"}});
        vec![
            (Method::GET, format!("/api/runs/{run}"), Body::None),
            (Method::GET, format!("/api/runs/{run}/audit"), Body::None),
            (Method::GET, format!("/api/runs/{run}/events"), Body::None),
            (Method::POST, format!("/api/runs/{run}/cancel"), Body::None),
            (
                Method::GET,
                format!("/api/circuits/alice/{name}"),
                Body::None,
            ),
            (
                Method::POST,
                format!("/api/circuits/alice/{name}/versions"),
                Body::Json(version),
            ),
            (
                Method::POST,
                "/api/runs".into(),
                Body::Json(
                    json!({"circuit": format!("alice/{name}"), "backend": backend, "shots": 10}),
                ),
            ),
            (
                Method::POST,
                "/api/runs".into(),
                Body::Json(json!({"circuit_id": cid, "backend": backend, "shots": 10})),
            ),
            (
                Method::POST,
                "/api/runs".into(),
                Body::Json(
                    json!({"circuit_id": cid, "version": 7, "backend": backend, "shots": 10}),
                ),
            ),
            (
                Method::POST,
                "/api/runs".into(),
                Body::Json(json!({"circuit_id": cid, "backend": backend, "shots": 0})),
            ),
            (
                Method::POST,
                "/api/runs".into(),
                Body::Json(
                    json!({"circuit": format!("alice/{name}"), "backend": {"type": "simulator", "name": "nope"}, "shots": 10}),
                ),
            ),
            (
                Method::GET,
                format!("/api/runs?circuit=alice/{name}"),
                Body::None,
            ),
            (
                Method::GET,
                format!("/api/runs?circuit_id={cid}"),
                Body::None,
            ),
            (Method::GET, format!("/alice/{name}"), Body::None),
            (Method::GET, format!("/alice/{name}/runs/{run}"), Body::None),
            (Method::GET, format!("/alice/bell/runs/{run}"), Body::None),
            (Method::GET, format!("/bob/{name}/runs/{run}"), Body::None),
        ]
    };
    let callers = [
        ("anonymous", None),
        ("a forged token", Some(bad.as_str())),
        ("bob", Some(other.as_str())),
    ];
    for run in [&runs[0], &runs[2]] {
        let real = requests(&cid, &name, run);
        let ghost = requests(&ghost_cid, &ghost_name, &ghost_run);
        for ((method, path, body), (_, ghost_path, ghost_body)) in real.into_iter().zip(ghost) {
            for (caller, token) in callers {
                let case = format!("{method} {path}, {caller}");
                let answer = send(
                    &client,
                    method.clone(),
                    app.url(&path),
                    token,
                    None,
                    body.clone(),
                )
                .await;
                assert_eq!(
                    leaks(&answer.text),
                    Vec::<String>::new(),
                    "{case}: {}",
                    answer.text
                );
                assert!(
                    answer.status >= 400 || path.starts_with("/api/runs?"),
                    "{case}: {} {}",
                    answer.status,
                    answer.text
                );
                let twin = send(
                    &client,
                    method.clone(),
                    app.url(&ghost_path),
                    token,
                    None,
                    ghost_body.clone(),
                )
                .await;
                let twin_text = twin
                    .text
                    .replace(&ghost_run, run)
                    .replace(&ghost_cid, &cid)
                    .replace(&ghost_name, &name);
                assert_eq!(
                    (answer.status, &answer.text),
                    (twin.status, &twin_text),
                    "{case}: private and absent differ"
                );
            }
        }
    }
    app.stop().await;
}

/// A `qrun serve` child at trace level in JSON, and every line it logs.
fn serve_logged(dir: &std::path::Path, db: &TestDb) -> (Served, Arc<Mutex<Vec<String>>>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qrun"));
    command
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("QRUN__DATABASE__URL", &db.url)
        .env("QRUN__SERVER__BIND", "127.0.0.1:0")
        .env("QRUN__LOGGING__LEVEL", "trace")
        .env("QRUN__LOGGING__FORMAT", "json")
        .env("QRUN__EXECUTOR__CLAIM_INTERVAL_MS", "50")
        .env("QRUN__ANALYTICS__FLUSH_INTERVAL_MS", "50");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    let sink: LineSink = Box::new(move |line| kept.lock().unwrap().push(line.to_owned()));
    let served = Served::start(command, Some(sink)).unwrap_or_else(|e| panic!("qrun serve: {e}"));
    (served, lines)
}

async fn tokens_and_consent_are_never_logged(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    assert!(crate::cli::qrun(&db, &["migrate"]).status.success());
    let created = |handle: &str| {
        let out = crate::cli::qrun(&db, &["user", "create", handle]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let alice = created("alice");
    let bob = created("bob");
    let forged = forged_token();
    let twin = format!("{}{}", &alice[..37], "f".repeat(64));
    let (mut served, lines) = serve_logged(dir.path(), &db);
    let base = served.base.clone();
    let client = &client();
    let url = |path: &str| format!("{base}{path}");
    let get = async |path: &str, bearer: Option<&str>, cookie: Option<&str>| {
        send(client, Method::GET, url(path), bearer, cookie, Body::None).await
    };
    let get = &get;

    let circuit = send(
        client,
        Method::POST,
        url("/api/circuits"),
        Some(&alice),
        None,
        Body::Json(json!({
            "name": "bell", "visibility": "private", "source": BELL,
            "manifest": {"framework": "qiskit", "format": "openqasm2"},
        })),
    )
    .await;
    assert_eq!(circuit.status, 201, "{}", circuit.text);
    let mut runs = Vec::new();
    for (i, consent) in ["granted", "denied", "GRANTED", "Denied"]
        .into_iter()
        .enumerate()
    {
        let response = client
            .post(url("/api/runs"))
            .bearer_auth(&alice)
            .header("X-Analytics-Consent", consent)
            .header("Idempotency-Key", format!("key-{i}"))
            .json(&json!({"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": 100}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let run: Value = response.json().await.unwrap();
        assert_eq!(
            run["analytics_consent"],
            consent.eq_ignore_ascii_case("granted")
        );
        runs.push(run["id"].as_str().unwrap().to_owned());
    }
    let alice_ref = alice.as_str();
    for run in &runs {
        wait_until(
            Duration::from_secs(60),
            "the run completes",
            || async move {
                get(&format!("/api/runs/{run}"), Some(alice_ref), None)
                    .await
                    .json()["status"]
                    == "completed"
            },
        )
        .await;
    }
    let alice_id = get(&format!("/api/runs/{}", runs[0]), Some(&alice), None)
        .await
        .json()["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bad credentials of every kind, and a good one everywhere it is accepted.
    let forged_session = forged.replacen("qrun_", "qrun_s_", 1);
    for (token, session) in [(&forged, &forged_session), (&twin, &alice)] {
        assert_eq!(get("/api/runs", Some(token), None).await.status, 401);
        assert_eq!(get("/alice/bell", None, Some(session)).await.status, 401);
        let login = send(
            client,
            Method::POST,
            url("/login"),
            None,
            None,
            Body::Form(format!("token={token}")),
        )
        .await;
        assert_eq!(login.status, 401);
    }
    assert_eq!(
        get(&format!("/api/runs/{}", runs[0]), Some(&bob), None)
            .await
            .status,
        404
    );
    let login = send(
        client,
        Method::POST,
        url("/login"),
        None,
        None,
        Body::Form(format!("token={alice}&next=%2Falice%2Fbell")),
    )
    .await;
    assert_eq!(login.status, 303);
    // The session's secret, from the cookie `POST /login` set.
    let session = client
        .post(url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={alice}"))
        .send()
        .await
        .unwrap()
        .headers()["set-cookie"]
        .to_str()
        .unwrap()
        .strip_prefix("qrun_token=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    for path in [
        "/alice/bell".to_owned(),
        format!("/alice/bell/runs/{}", runs[0]),
        format!("/api/runs/{}/events", runs[0]),
    ] {
        assert_eq!(get(&path, None, Some(&session)).await.status, 200, "{path}");
    }
    // Logging out revokes it (a 303 like any other).
    let logout = send(
        client,
        Method::POST,
        url("/logout"),
        None,
        Some(&session),
        Body::None,
    )
    .await;
    assert_eq!(logout.status, 303);
    assert_eq!(get("/alice/bell", None, Some(&session)).await.status, 401);
    assert_eq!(get("/api/runs", Some(&alice), None).await.status, 200);
    assert_eq!(
        get(&format!("/api/runs/{}/audit", runs[0]), Some(&alice), None)
            .await
            .status,
        200
    );

    // Stop it, and read everything it said.
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = served.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let lines = lines.lock().unwrap().clone();

    // The log is the trace-level one (so its silence means something): access lines of the
    // refused and accepted requests, and the runs' execution.
    let all = lines.join("\n");
    for (what, needle) in [
        ("a 401 access line", "\"status\":401"),
        ("a 303 access line", "\"status\":303"),
        ("a run's work", "run finished"),
        ("trace lines", "\"level\":\"TRACE\""),
    ] {
        assert!(all.contains(needle), "no {what} in the log:\n{all}");
    }
    for line in &lines {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
    }
    // No token or session, secret half, or stored hash, of a good or a bad one.
    let mut secrets = Vec::new();
    for token in [&alice, &bob, &forged, &twin, &session, &forged_session] {
        secrets.push(token.clone());
        secrets.push(token[token.len() - 64..].to_owned());
        secrets.push(hash_token(token));
    }
    for line in &lines {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a token (or its hash) is logged: {line}"
            );
        }
        // Consent: no value ever. The only mentions are warp's traces of the header's *name*
        // and of its path matching trying the console's `/consent` route on a segment.
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.contains("granted") && !lower.contains("denied"),
            "a consent value is logged: {line}"
        );
        if lower.contains("consent") {
            let parsed: Value = serde_json::from_str::<Value>(line).unwrap();
            let message = parsed["fields"]["message"].as_str().unwrap_or("");
            let path_match =
                parsed["target"] == "warp::filters::path" && message.starts_with("\"consent\"?: ");
            assert!(
                message == "optional(\"x-analytics-consent\")" || path_match,
                "consent is logged: {line}"
            );
        }
    }
    // Who made a request is its span's opaque `user_id` (issue 31: the access line names the
    // user, so an operator finds a user's requests) and nothing else: no user id in any other
    // field; a handle only where warp's trace of its path matching echoes the request's path
    // segments (access lines hold route templates).
    for line in &lines {
        let mut parsed: Value = serde_json::from_str(line).unwrap();
        if let Some(span) = parsed["span"].as_object_mut() {
            span.remove("user_id");
        }
        for span in parsed["spans"].as_array_mut().into_iter().flatten() {
            if let Some(span) = span.as_object_mut() {
                span.remove("user_id");
            }
        }
        assert!(
            !parsed.to_string().contains(&alice_id),
            "a user id is logged outside the request's user_id: {line}"
        );
        let target = parsed["target"].clone();
        if target != "warp::filters::path" {
            for handle in ["alice", "bob"] {
                assert!(!line.contains(handle), "a user is named in the log: {line}");
            }
        }
    }
}

on_both_databases!(
    every_route_answers_every_caller_as_the_matrix_says,
    private_ids_and_names_never_leak,
    tokens_and_consent_are_never_logged,
);
