//! Credentials that can be taken back (issue 28), end to end on both databases: `GET /api/me`,
//! one's own tokens (`GET /api/tokens`, `DELETE /api/tokens/{id}`), the console's browser
//! sessions (made by signing in, revoked by logging out, expiring), the operator's `qrun user
//! token list | revoke` and `qrun user disable | enable`; a credential taken back is refused on
//! every route — the API, the pages, and event streams already open, which end with an `error`
//! event — within the documented bound (at once on the node that took it back, within
//! `auth.token_cache_ttl_s` elsewhere); every change leaves its audit row; `qrun verify` stays
//! clean and checks those rows.
//!
//! Tests wait on conditions (a stream's end, a status) and move an injected clock past the
//! cache's TTL or a session's lifetime; none sleeps.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use qrun::domain::ManualClock;
use qrun::store::users::hash_token;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::{assert_verified, qrun, stderr, stdout};
use crate::helpers::{TestApp, TestDb, clock_hooks, http};
use crate::on_both_databases;

/// `auth.token_cache_ttl_s` in these tests (the default).
const TTL_S: i64 = 10;

/// The longest an open stream may take to end once its credential is refused here: its
/// re-check interval (1 s), with room for a loaded machine. Without the node forgetting its
/// cached answer the stream would run for the cache's whole TTL (10 s), or for ever under a
/// clock that does not move.
const STREAM_ENDS_WITHIN: Duration = Duration::from_secs(5);

/// A `method` request of `path` with a bearer token: status and JSON body (`Null` if none).
async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let response = http()
        .request(method, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A GET of `path` with a bearer token ([`call`]).
pub(crate) async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    call(app, reqwest::Method::GET, path, token).await
}

/// A DELETE of `path` with a bearer token ([`call`]).
async fn delete(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    call(app, reqwest::Method::DELETE, path, token).await
}

/// Asserts a JSON error answer: `status` and `code`.
fn refused((status, body): (u16, Value), expected: u16, code: &str) {
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (expected, Some(code)),
        "{body}"
    );
}

/// The `metadata.by` and action of each audit row of a credential, oldest first.
pub(crate) async fn audit(app: &TestApp, kind: &str, id: Uuid) -> Vec<(String, Value)> {
    app.store()
        .audit_of(kind, id)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.action, entry.metadata))
        .collect()
}

/// A run's event stream, open.
struct EventStream {
    response: reqwest::Response,
    text: String,
}

impl EventStream {
    /// Opens `/api/runs/{run}/events` with a bearer token or the console's cookie, and reads
    /// its first event.
    async fn open(app: &TestApp, run: Uuid, bearer: Option<&str>, cookie: Option<&str>) -> Self {
        let mut request = http().get(app.url(&format!("/api/runs/{run}/events")));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(session) = cookie {
            request = request.header("cookie", format!("qrun_token={session}"));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut stream = EventStream {
            response,
            text: String::new(),
        };
        let first = stream.read_until("\n\n", STREAM_ENDS_WITHIN).await;
        assert!(first, "no first event: {}", stream.text);
        assert!(stream.text.contains("event:status"), "{}", stream.text);
        stream
    }

    /// Reads until the text holds `what` (true) or the stream ends (false), within `within`.
    async fn read_until(&mut self, what: &str, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            while !self.text.contains(what) {
                match self.response.chunk().await.expect("the stream") {
                    Some(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                    None => return false,
                }
            }
            true
        })
        .await
        .unwrap_or_else(|_| panic!("the stream is still open after {within:?}: {}", self.text))
    }

    /// Waits (at most `within`) for the stream to end; asserts it ended with an `error`
    /// event saying 401 `unauthorized` and no other event after the first.
    async fn ends_unauthorized(mut self, within: Duration) {
        let ended = !self.read_until("\u{0}never\u{0}", within).await;
        assert!(ended);
        let events: Vec<&str> = self
            .text
            .split("\n\n")
            .filter(|e| e.contains("event:"))
            .collect();
        let last = events.last().expect("events");
        assert!(last.contains("event:error"), "{}", self.text);
        let data = last
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .expect("error data");
        let body: Value = serde_json::from_str(data).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        assert_eq!(events.len(), 2, "one status, then the error: {}", self.text);
    }
}

/// `GET /api/me` and `GET /api/tokens` answer for the bearer token (never showing a secret);
/// `DELETE /api/tokens/{id}` revokes one's own token — the one presented included — and is
/// refused at once here; another's token is 404 as one that does not exist; each revocation
/// is one audit row.
async fn me_and_ones_own_tokens(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (alice, first) = app.user("alice").await;
    let (laptop, second) = app.store().create_token(alice.id, "laptop").await.unwrap();
    let (bob, bobs) = app.user("bob").await;

    let (status, me) = get(&app, "/api/me", &first).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], json!(alice.id));
    assert_eq!(me["handle"], "alice");
    assert_eq!(me["token"]["name"], "default");
    let first_id: Uuid = me["token"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        get(&app, "/api/me", &second).await.1["token"],
        json!({"id": laptop.id, "name": "laptop"})
    );
    assert_eq!(get(&app, "/api/me", &bobs).await.1["handle"], "bob");

    // Anonymous, forged, malformed: 401 with `WWW-Authenticate: Bearer`.
    let response = http().get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let forged = format!("{}{}", &first[..37], "0".repeat(64));
    refused(get(&app, "/api/me", &forged).await, 401, "unauthorized");
    refused(
        get(&app, "/api/tokens", "nonsense").await,
        401,
        "unauthorized",
    );
    // A browser session is no bearer token (and the cookie is read by pages only).
    let session = app.session(&first).await;
    refused(get(&app, "/api/me", &session).await, 401, "unauthorized");
    let response = http()
        .get(app.url("/api/me"))
        .header("cookie", format!("qrun_token={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let (status, listed) = get(&app, "/api/tokens", &first).await;
    assert_eq!(status, 200);
    let tokens = listed["tokens"].as_array().unwrap();
    let names: Vec<&str> = tokens.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["laptop", "default"], "newest first");
    assert_eq!(tokens[0]["current"], false);
    assert_eq!(tokens[1]["current"], true);
    assert_eq!(tokens[1]["id"], json!(first_id));
    assert!(tokens[1]["last_used_at"].is_string(), "{listed}");
    assert_eq!(tokens[0]["revoked_at"], Value::Null);
    let text = listed.to_string();
    for secret in [&first, &second, &hash_token(&first), &hash_token(&second)] {
        assert!(!text.contains(secret.as_str()), "a secret listed: {text}");
    }
    let (_, bobs_list) = get(&app, "/api/tokens", &bobs).await;
    assert_eq!(bobs_list["tokens"].as_array().unwrap().len(), 1);
    assert!(!bobs_list.to_string().contains(&laptop.id.to_string()));

    // Another's token, a token that does not exist, a malformed id: all the same 404.
    for path in [
        format!("/api/tokens/{}", laptop.id),
        format!("/api/tokens/{}", Uuid::now_v7()),
        "/api/tokens/not-an-id".to_owned(),
    ] {
        refused(delete(&app, &path, &bobs).await, 404, "not_found");
    }
    refused(
        delete(&app, &format!("/api/tokens/{}", laptop.id), "nonsense").await,
        401,
        "unauthorized",
    );
    assert_eq!(get(&app, "/api/me", &second).await.0, 200, "still live");

    // Alice revokes her laptop's token: refused from the very next request, on every API
    // route; her other token goes on.
    let (status, revoked) = delete(&app, &format!("/api/tokens/{}", laptop.id), &first).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["id"], json!(laptop.id));
    assert_eq!(revoked["current"], false);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    for path in ["/api/me", "/api/tokens", "/api/runs"] {
        refused(get(&app, path, &second).await, 401, "unauthorized");
    }
    assert_eq!(get(&app, "/api/me", &first).await.0, 200);
    // Again: nothing changes, the token as it is.
    let (status, again) = delete(&app, &format!("/api/tokens/{}", laptop.id), &first).await;
    assert_eq!(
        (status, &again["revoked_at"]),
        (200, &revoked["revoked_at"])
    );
    let rows = audit(&app, "token", laptop.id).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["token.created", "token.revoked"]);
    assert_eq!(rows[0].1, json!({"by": "operator", "name": "laptop"}));
    assert_eq!(rows[1].1, json!({"by": "user", "name": "laptop"}));
    let listed = get(&app, "/api/tokens", &first).await.1;
    assert!(listed["tokens"][0]["revoked_at"].is_string(), "{listed}");

    // The token presented may revoke itself: the answer is its last.
    let (status, itself) = delete(&app, &format!("/api/tokens/{first_id}"), &first).await;
    assert_eq!((status, &itself["current"]), (200, &json!(true)));
    refused(get(&app, "/api/me", &first).await, 401, "unauthorized");
    assert_eq!(get(&app, "/api/me", &bobs).await.0, 200, "bob is untouched");
    assert_eq!(bob.handle, "bob");
    let db = app.into_db().await;
    assert_verified(&db, 0);
}

/// A token revoked through the API is refused at once on this node everywhere it was in use:
/// the JSON API, the pages (by header), the browser sessions signed in with it (pages and
/// cookie streams), and event streams already open, which end with an `error` event within
/// their re-check interval. The clock does not move: the node forgot its cached answers.
async fn a_revoked_token_is_refused_at_once_on_every_route(db: TestDb) {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let (alice, keeper) = app.user("alice").await;
    let (doomed_row, doomed) = app.store().create_token(alice.id, "doomed").await.unwrap();
    app.create_circuit(&keeper, "bell", "public").await;
    let run = app
        .submit_run(&keeper, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let session = app.session(&doomed).await;
    let keeper_session = app.session(&keeper).await;
    let page = format!("/alice/bell/runs/{run}");
    // Everything works, and the answers are cached.
    assert_eq!(get(&app, "/api/runs", &doomed).await.0, 200);
    assert_eq!(app.page("/runs", Some(&doomed), None).await.0, 200);
    assert_eq!(app.page("/runs", None, Some(&session)).await.0, 200);
    let by_header = EventStream::open(&app, run, Some(&doomed), None).await;
    let by_cookie = EventStream::open(&app, run, None, Some(&session)).await;
    let unrelated = EventStream::open(&app, run, None, Some(&keeper_session)).await;

    let (status, _) = delete(&app, &format!("/api/tokens/{}", doomed_row.id), &keeper).await;
    assert_eq!(status, 200);
    let started = tokio::time::Instant::now();
    by_header.ends_unauthorized(STREAM_ENDS_WITHIN).await;
    by_cookie.ends_unauthorized(STREAM_ENDS_WITHIN).await;
    assert!(started.elapsed() < STREAM_ENDS_WITHIN);
    refused(get(&app, "/api/runs", &doomed).await, 401, "unauthorized");
    refused(
        get(&app, &format!("/api/runs/{run}"), &doomed).await,
        401,
        "unauthorized",
    );
    let (code, html) = app.page("/runs", Some(&doomed), None).await;
    assert_eq!(code, 401, "{html}");
    assert_eq!(app.page(&page, None, Some(&session)).await.0, 401);
    let answer = app
        .browser()
        .with_cookie("qrun_token", &session)
        .get(&page)
        .await;
    assert_eq!(answer.status, 401);
    // A form post with the dead session makes nothing.
    let posted = app
        .browser()
        .with_cookie("qrun_token", &session)
        .post(
            "/alice/bell/runs",
            &[("backend", "simulator/statevector"), ("shots", "1")],
        )
        .await;
    assert_eq!(posted.status, 401);

    // The other token, its session and its stream go on; the run ends and so does its stream.
    assert_eq!(app.page(&page, None, Some(&keeper_session)).await.0, 200);
    clock.advance(TimeDelta::milliseconds(1)); // a claim takes runs created before it
    app.start_run(run).await;
    let mut unrelated = unrelated;
    assert!(
        unrelated
            .read_until("\"status\":\"running\"", STREAM_ENDS_WITHIN)
            .await,
        "{}",
        unrelated.text
    );
    assert!(!unrelated.text.contains("event:error"));
    drop(unrelated); // a graceful shutdown lets open streams finish
    app.stop().await;
}

/// `qrun user disable`, beside the running service: the user's pending runs end cancelled by
/// an operator (a running one runs on), every credential of theirs — tokens, browser
/// sessions, a stream already open — is refused once the service's cached answers expire
/// (`auth.token_cache_ttl_s`: the command line is a process of its own), and `qrun user enable`
/// lets them in again; each change is one audit row; `qrun verify` stays clean.
async fn disabling_a_user_refuses_them_and_cancels_their_pending_runs(db: TestDb) {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let (alice, token) = app.user("alice").await;
    let (_, bobs) = app.user("bob").await;
    app.create_circuit(&token, "bell", "public").await;
    let bell = ("simulator", "statevector");
    let running = app.submit_run(&token, "alice/bell", bell, 10).await;
    clock.advance(TimeDelta::milliseconds(1));
    app.start_run(running).await;
    let mut pending = Vec::new();
    for _ in 0..3 {
        clock.advance(TimeDelta::milliseconds(1));
        pending.push(app.submit_run(&token, "alice/bell", bell, 10).await);
    }
    let bobs_run = app.submit_run(&bobs, "alice/bell", bell, 10).await;
    let session = app.session(&token).await;
    let stream = EventStream::open(&app, pending[0], None, Some(&session)).await;
    assert_eq!(get(&app, "/api/me", &token).await.0, 200);

    let out = qrun(&app.db, &["user", "disable", "alice"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out),
        "disabled user alice: cancelled 3 pending runs; their credentials are refused \
         everywhere within 10 s (auth.token_cache_ttl_s)\n"
    );
    for id in &pending {
        let run = app.run_json(id).await;
        assert_eq!(run["status"], "cancelled", "{run}");
        let last = app
            .store()
            .audit_timeline(*id)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.action, "run.cancelled");
        assert_eq!(last.metadata["by"], "operator");
        assert_eq!(last.metadata["from"], "pending");
    }
    assert_eq!(app.run_json(running).await["status"], "running");
    assert_eq!(app.run_json(bobs_run).await["status"], "pending");
    // The stream of a run that just ended says so, and ends.
    stream.ends_with_status("cancelled").await;

    // The service answers from its cache until the TTL passes (the documented bound), then
    // refuses her everywhere.
    assert_eq!(
        get(&app, "/api/me", &token).await.0,
        200,
        "cached: within the TTL"
    );
    let watch = EventStream::open(&app, running, Some(&token), None).await;
    clock.advance(TimeDelta::seconds(TTL_S + 1));
    watch.ends_unauthorized(STREAM_ENDS_WITHIN).await;
    for path in ["/api/me", "/api/tokens", "/api/runs"] {
        refused(get(&app, path, &token).await, 401, "unauthorized");
    }
    let response = http()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .json(&json!({"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(app.page("/runs", Some(&token), None).await.0, 401);
    assert_eq!(app.page("/runs", None, Some(&session)).await.0, 401);
    // Signing in is refused too.
    let login = app
        .browser()
        .post("/login", &[("token", token.as_str())])
        .await;
    assert_eq!(login.status, 401);
    assert_eq!(get(&app, "/api/me", &bobs).await.0, 200, "bob is untouched");

    // Again: already disabled; nothing pending to cancel. Then enabled: in again (once the
    // cached refusal expires), the session too.
    let out = qrun(&app.db, &["user", "disable", "alice"]);
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (
            Some(0),
            "user alice was already disabled: cancelled 0 pending runs\n".to_owned()
        )
    );
    let out = qrun(&app.db, &["user", "enable", "alice"]);
    assert_eq!(stdout(&out), "enabled user alice\n", "{out:?}");
    clock.advance(TimeDelta::seconds(TTL_S + 1));
    assert_eq!(get(&app, "/api/me", &token).await.0, 200);
    assert_eq!(app.page("/runs", None, Some(&session)).await.0, 200);
    let out = qrun(&app.db, &["user", "enable", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "qrun: user `alice` is not disabled; nothing changed\n"
    );
    let out = qrun(&app.db, &["user", "disable", "nobody"]);
    assert_eq!(
        (out.status.code(), stderr(&out)),
        (Some(2), "qrun: no user `nobody`\n".to_owned())
    );

    let rows = audit(&app, "user", alice.id).await;
    assert_eq!(
        rows,
        [
            ("user.disabled".to_owned(), json!({"by": "operator"})),
            ("user.enabled".to_owned(), json!({"by": "operator"})),
        ]
    );
    let report = app.store().verify().await.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    app.stop().await;
}

impl EventStream {
    /// Waits for a `status` event carrying `status`, then for the stream's end.
    async fn ends_with_status(mut self, status: &str) {
        let seen = self
            .read_until(&format!("\"status\":\"{status}\""), STREAM_ENDS_WITHIN)
            .await;
        assert!(seen, "{}", self.text);
        assert!(!self.read_until("\u{0}never\u{0}", STREAM_ENDS_WITHIN).await);
        assert!(!self.text.contains("event:error"), "{}", self.text);
    }
}

/// Signing in makes a session of its own (never the token in the cookie), audited; logging out
/// revokes it: the old cookie — a copy kept by anyone — no longer works, and a second logout
/// changes nothing.
async fn logging_out_revokes_the_session(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (alice, token) = app.user("alice").await;
    let browser = app.browser().signed_in(&token).await;
    let session = browser.cookie("qrun_token").unwrap();
    assert!(!session.contains(&token) && session.starts_with("qrun_s_"));
    assert_eq!(browser.get("/runs").await.status, 200);
    let copy = app.browser().with_cookie("qrun_token", &session);
    assert_eq!(copy.get("/runs").await.status, 200);

    let out = browser.post("/logout", &[]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert_eq!(browser.cookie("qrun_token"), None, "the cookie is dropped");
    let after = copy.get("/runs").await;
    assert_eq!(after.status, 401, "the old cookie no longer works");
    assert_eq!(copy.cookie("qrun_token"), None, "and is cleared");
    let copy = app.browser().with_cookie("qrun_token", &session);
    assert_eq!(copy.post("/logout", &[]).await.status, 303);
    // The token itself goes on.
    assert_eq!(get(&app, "/api/me", &token).await.0, 200);

    let id = Uuid::try_parse(&session["qrun_s_".len().."qrun_s_".len() + 32]).unwrap();
    let stored = app.store().session(id).await.unwrap().expect("the session");
    assert_eq!(stored.user_id, alice.id);
    assert!(stored.revoked_at.is_some());
    let rows = audit(&app, "session", id).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["session.created", "session.revoked"]);
    assert_eq!(rows[0].1["by"], "user");
    assert_eq!(rows[0].1["token_id"], json!(stored.token_id));
    assert_eq!(rows[1].1, json!({"by": "user"}));
    let text = format!("{rows:?}");
    assert!(!text.contains(&session[7..]) && !text.contains(&hash_token(&session)));
    let db = app.into_db().await;
    assert_verified(&db, 0);
}

/// A session lasts `auth.session_ttl_s` in the shared clock and not a moment longer, whatever
/// the cache holds: a page and an open stream are refused once it expires.
async fn a_session_expires_after_its_lifetime(db: TestDb) {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(
        db,
        |config| config.auth.session_ttl_s = 3600,
        clock_hooks(Arc::new(clock.clone())),
    )
    .await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let run = app
        .submit_run(&token, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    let session = app.session(&token).await;
    let stream = EventStream::open(&app, run, None, Some(&session)).await;
    clock.advance(TimeDelta::seconds(3599));
    // One second left, read afresh (the cache's answer was older than its TTL).
    assert_eq!(app.page("/runs", None, Some(&session)).await.0, 200);
    clock.advance(TimeDelta::seconds(2));
    // Within the cache's TTL of that answer, but past the session's end.
    assert_eq!(app.page("/runs", None, Some(&session)).await.0, 401);
    stream.ends_unauthorized(STREAM_ENDS_WITHIN).await;
    // The token goes on; signing in again makes a new session.
    assert_eq!(get(&app, "/api/me", &token).await.0, 200);
    let again = app.session(&token).await;
    assert_ne!(again, session);
    assert_eq!(app.page("/runs", None, Some(&again)).await.0, 200);
    app.stop().await;
}

/// The operator's token commands: `qrun user token [create] HANDLE [--name]` prints a new
/// token alone; `list` shows every token's id, name, times and revocation — never a token or
/// its hash; `revoke` revokes one (audited `"by": "operator"`), which the service refuses
/// once its cached answer expires; refusals are one line and their exit codes.
async fn the_operator_lists_and_revokes_tokens(db: TestDb) {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(db, |_| {}, clock_hooks(Arc::new(clock.clone()))).await;
    let (alice, first) = app.user("alice").await;
    let issue = |args: &[&str]| {
        let out = qrun(&app.db, args);
        assert!(out.status.success(), "{out:?}");
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "the token alone: {text}");
        text.trim().to_owned()
    };
    let laptop = issue(&["user", "token", "alice", "--name", "laptop"]);
    let ci = issue(&["user", "token", "create", "alice", "--name", "ci"]);
    let plain = issue(&["user", "token", "alice"]);
    for token in [&laptop, &ci, &plain] {
        assert!(token.starts_with("qrun_") && token.len() == 101, "{token}");
        assert_eq!(get(&app, "/api/me", token).await.0, 200);
    }
    assert_eq!(
        get(&app, "/api/me", &laptop).await.1["token"]["name"],
        "laptop"
    );

    let list = || {
        let out = qrun(&app.db, &["user", "token", "list", "alice"]);
        assert!(out.status.success(), "{out:?}");
        stdout(&out)
    };
    let text = list();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(header, ["ID", "NAME", "CREATED", "LAST USED", "REVOKED"]);
    let rows: Vec<Vec<String>> = lines
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.is_empty())
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        ["cli", "ci", "laptop", "default"],
        "newest first: {text}"
    );
    for row in &rows {
        assert_eq!(row.len(), 5, "{text}");
        assert!(row[2].ends_with(" UTC") && row[4] == "-", "{text}");
    }
    for secret in [&first, &laptop, &ci, &plain] {
        assert!(
            !text.contains(&secret[5..]),
            "a token printed again: {text}"
        );
        assert!(
            !text.contains(&hash_token(secret)),
            "a hash printed: {text}"
        );
    }

    // Revoke the laptop's: refused by the service once its cached answer expires.
    let laptop_id = rows[2][0].clone();
    let out = qrun(&app.db, &["user", "token", "revoke", &laptop_id]);
    assert_eq!(
        stdout(&out),
        format!(
            "revoked token {laptop_id} (laptop of alice); refused everywhere within 10 s \
             (auth.token_cache_ttl_s)\n"
        ),
        "{out:?}"
    );
    clock.advance(TimeDelta::seconds(TTL_S + 1));
    refused(get(&app, "/api/me", &laptop).await, 401, "unauthorized");
    assert_eq!(get(&app, "/api/me", &ci).await.0, 200);
    let text = list();
    let revoked = text.lines().find(|l| l.contains("laptop")).unwrap();
    assert!(
        revoked.trim_end().ends_with(" UTC") && !revoked.ends_with('-'),
        "{text}"
    );

    let id: Uuid = laptop_id.parse().unwrap();
    let rows = audit(&app, "token", id).await;
    assert_eq!(
        rows,
        [
            (
                "token.created".to_owned(),
                json!({"by": "operator", "name": "laptop"})
            ),
            (
                "token.revoked".to_owned(),
                json!({"by": "operator", "name": "laptop"})
            ),
        ]
    );

    // Refusals: one line each.
    let alice_id = alice.id.to_string();
    for (args, code, line) in [
        (
            vec!["user", "token", "revoke", laptop_id.as_str()],
            1,
            format!("qrun: token {laptop_id} is already revoked; nothing changed"),
        ),
        (
            vec!["user", "token", "revoke", alice_id.as_str()],
            1,
            format!("qrun: no token {}", alice.id),
        ),
        (
            vec!["user", "token", "revoke", "nope"],
            1,
            "qrun: `nope` is not a token id".to_owned(),
        ),
        (
            vec!["user", "token", "list", "nobody"],
            2,
            "qrun: no user `nobody`".to_owned(),
        ),
        (
            vec!["user", "token", "alice", "--name", ""],
            2,
            "qrun: a token name must be 1–64 characters without control characters".to_owned(),
        ),
    ] {
        let out = qrun(&app.db, &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        assert_eq!(
            (stdout(&out), stderr(&out)),
            (String::new(), format!("{line}\n"))
        );
    }
    let report = app.store().verify().await.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    app.stop().await;
}

/// `qrun verify` checks the credential changes' audit rows: each names an action of its
/// resource type and a token, session or user of its actor.
async fn verify_checks_the_credential_audit_rows(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (alice, token) = app.user("alice").await;
    let (spare, _) = app.store().create_token(alice.id, "spare").await.unwrap();
    app.session(&token).await;
    assert_eq!(
        app.store().set_disabled(alice.id, true).await.unwrap(),
        Some(true)
    );
    let report = app.store().verify().await.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());

    // A token row gone (its audit rows stay), and a user row's action replaced.
    app.store()
        .execute_raw("DELETE FROM api_tokens WHERE name = 'spare'")
        .await
        .unwrap();
    app.store()
        .execute_raw(
            "UPDATE audit_logs SET action = 'user.exploded' WHERE action = 'user.disabled'",
        )
        .await
        .unwrap();
    let mut violations = app.store().verify().await.unwrap().violations;
    violations.sort();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(
        violations.iter().any(|v| v.contains(&format!(
            "token.created names token {}, which does not exist or is not its actor's",
            spare.id
        ))),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.ends_with("`user.exploded` is not an action on a `user`")),
        "{violations:?}"
    );
    app.stop().await;
}

on_both_databases!(
    me_and_ones_own_tokens,
    a_revoked_token_is_refused_at_once_on_every_route,
    disabling_a_user_refuses_them_and_cancels_their_pending_runs,
    logging_out_revokes_the_session,
    a_session_expires_after_its_lifetime,
    the_operator_lists_and_revokes_tokens,
    verify_checks_the_credential_audit_rows,
);
