//! Bad input gets a precise error and loses nothing: every row asserts the exact status and
//! error code, and the service keeps serving afterwards.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{BELL, TestApp, TestDb, http};
use crate::on_both_databases;

enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
}

enum Auth {
    Valid,
    Anonymous,
    Header(&'static str),
}

struct Row {
    name: &'static str,
    method: Method,
    path: String,
    auth: Auth,
    headers: Vec<(&'static str, String)>,
    body: Body,
    status: u16,
    code: &'static str,
}

fn run_body(overrides: Value) -> Value {
    let mut body = json!({"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": 100});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

fn circuit_body(overrides: Value) -> Value {
    let mut body = json!({"name": "fresh", "visibility": "public", "source": BELL, "manifest": {"framework": "qiskit", "format": "openqasm2"}});
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn post(name: &'static str, path: &str, body: Body, status: u16, code: &'static str) -> Row {
    Row {
        name,
        method: Method::POST,
        path: path.into(),
        auth: Auth::Valid,
        headers: vec![],
        body,
        status,
        code,
    }
}

fn get(name: &'static str, path: &str, status: u16, code: &'static str) -> Row {
    Row {
        name,
        method: Method::GET,
        path: path.into(),
        auth: Auth::Valid,
        headers: vec![],
        body: Body::None,
        status,
        code,
    }
}

async fn bad_input_gets_the_exact_error_and_loses_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let ok: Value = http()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .json(&run_body(json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = ok["id"].as_str().unwrap().to_owned();
    let huge = "x".repeat(3 * 1024 * 1024);

    let rows = vec![
        post(
            "malformed JSON",
            "/api/runs",
            Body::Raw("application/json", "{\"shots\": ".into()),
            400,
            "invalid_json",
        ),
        post(
            "not JSON at all",
            "/api/runs",
            Body::Raw("application/json", "shots=5".into()),
            400,
            "invalid_json",
        ),
        post(
            "empty body",
            "/api/runs",
            Body::Raw("application/json", String::new()),
            400,
            "invalid_json",
        ),
        post(
            "shots as a string",
            "/api/runs",
            Body::Json(run_body(json!({"shots": "ten"}))),
            400,
            "invalid_body",
        ),
        post(
            "negative shots",
            "/api/runs",
            Body::Json(run_body(json!({"shots": -5}))),
            400,
            "invalid_body",
        ),
        post(
            "fractional shots",
            "/api/runs",
            Body::Json(run_body(json!({"shots": 1.5}))),
            400,
            "invalid_body",
        ),
        post(
            "zero shots",
            "/api/runs",
            Body::Json(run_body(json!({"shots": 0}))),
            400,
            "invalid_shots",
        ),
        post(
            "absurd shots",
            "/api/runs",
            Body::Json(run_body(json!({"shots": 1_000_000_000_000u64}))),
            400,
            "invalid_shots",
        ),
        post(
            "shots beyond u64",
            "/api/runs",
            Body::Raw(
                "application/json",
                run_body(json!({})).to_string().replace("100", "1e30"),
            ),
            400,
            "invalid_body",
        ),
        post(
            "missing shots",
            "/api/runs",
            Body::Json(run_body(json!({"shots": null}))),
            400,
            "invalid_body",
        ),
        post(
            "unknown backend",
            "/api/runs",
            Body::Json(run_body(
                json!({"backend": {"type": "simulator", "name": "nope"}}),
            )),
            400,
            "unknown_backend",
        ),
        post(
            "backend of the wrong shape",
            "/api/runs",
            Body::Json(run_body(json!({"backend": "statevector"}))),
            400,
            "invalid_body",
        ),
        post(
            "unknown circuit id",
            "/api/runs",
            Body::Json(run_body(
                json!({"circuit": null, "circuit_id": uuid::Uuid::now_v7()}),
            )),
            404,
            "not_found",
        ),
        post(
            "unknown circuit name",
            "/api/runs",
            Body::Json(run_body(json!({"circuit": "alice/nope"}))),
            404,
            "not_found",
        ),
        post(
            "malformed circuit id",
            "/api/runs",
            Body::Json(run_body(
                json!({"circuit": null, "circuit_id": "not-a-uuid"}),
            )),
            400,
            "invalid_body",
        ),
        post(
            "malformed circuit name",
            "/api/runs",
            Body::Json(run_body(json!({"circuit": "bell"}))),
            400,
            "invalid_circuit",
        ),
        post(
            "both circuit forms",
            "/api/runs",
            Body::Json(run_body(json!({"circuit_id": uuid::Uuid::now_v7()}))),
            400,
            "invalid_body",
        ),
        post(
            "neither circuit form",
            "/api/runs",
            Body::Json(run_body(json!({"circuit": null}))),
            400,
            "invalid_body",
        ),
        post(
            "a user_id in the body",
            "/api/runs",
            Body::Json(run_body(json!({"user_id": uuid::Uuid::now_v7()}))),
            400,
            "invalid_body",
        ),
        post(
            "an unknown field",
            "/api/runs",
            Body::Json(run_body(json!({"priority": "high"}))),
            400,
            "invalid_body",
        ),
        post(
            "version zero",
            "/api/runs",
            Body::Json(run_body(json!({"version": 0}))),
            400,
            "invalid_version",
        ),
        post(
            "unknown version",
            "/api/runs",
            Body::Json(run_body(json!({"version": 99}))),
            404,
            "not_found",
        ),
        post(
            "oversized body",
            "/api/runs",
            Body::Raw("application/json", huge.clone()),
            413,
            "payload_too_large",
        ),
        post(
            "not JSON media type",
            "/api/runs",
            Body::Raw("text/plain", run_body(json!({})).to_string()),
            415,
            "unsupported_media_type",
        ),
        post(
            "a media type that only begins like JSON",
            "/api/runs",
            Body::Raw("application/jsonx", run_body(json!({})).to_string()),
            415,
            "unsupported_media_type",
        ),
        post(
            "a +json media type",
            "/api/circuits",
            Body::Raw(
                "application/merge-patch+json",
                circuit_body(json!({})).to_string(),
            ),
            415,
            "unsupported_media_type",
        ),
        Row {
            auth: Auth::Anonymous,
            ..post(
                "no token",
                "/api/runs",
                Body::Json(run_body(json!({}))),
                401,
                "unauthorized",
            )
        },
        Row {
            auth: Auth::Header("Bearer qrun_0000"),
            ..post(
                "unknown token",
                "/api/runs",
                Body::Json(run_body(json!({}))),
                401,
                "unauthorized",
            )
        },
        Row {
            auth: Auth::Header("Basic YWxpY2U6eA=="),
            ..post(
                "basic auth",
                "/api/runs",
                Body::Json(run_body(json!({}))),
                401,
                "unauthorized",
            )
        },
        Row {
            auth: Auth::Header("Bearer "),
            ..post(
                "empty bearer",
                "/api/runs",
                Body::Json(run_body(json!({}))),
                401,
                "unauthorized",
            )
        },
        Row {
            headers: vec![("X-Analytics-Consent", "maybe".into())],
            ..post(
                "bad consent",
                "/api/runs",
                Body::Json(run_body(json!({}))),
                400,
                "invalid_consent",
            )
        },
        Row {
            headers: vec![("Idempotency-Key", "k".repeat(300))],
            ..post(
                "long idempotency key",
                "/api/runs",
                Body::Json(run_body(json!({}))),
                400,
                "invalid_idempotency_key",
            )
        },
        get("malformed run id", "/api/runs/not-a-uuid", 404, "not_found"),
        get(
            "unknown run id",
            &format!("/api/runs/{}", uuid::Uuid::now_v7()),
            404,
            "not_found",
        ),
        post(
            "cancel a malformed id",
            "/api/runs/12345/cancel",
            Body::None,
            404,
            "not_found",
        ),
        get(
            "audit of a malformed id",
            "/api/runs/zzz/audit",
            404,
            "not_found",
        ),
        get(
            "events of a malformed id",
            "/api/runs/zzz/events",
            404,
            "not_found",
        ),
        get(
            "bad status filter",
            "/api/runs?status=done",
            400,
            "invalid_query",
        ),
        get("zero limit", "/api/runs?limit=0", 400, "invalid_query"),
        get("huge limit", "/api/runs?limit=100000", 400, "invalid_query"),
        get(
            "garbage cursor",
            "/api/runs?cursor=%21%21",
            400,
            "invalid_cursor",
        ),
        get(
            "unknown query parameter",
            "/api/runs?sort=asc",
            400,
            "invalid_query",
        ),
        get("unknown route", "/api/nothing", 404, "route_not_found"),
        Row {
            method: Method::DELETE,
            ..get(
                "wrong method",
                &format!("/api/runs/{run_id}"),
                405,
                "method_not_allowed",
            )
        },
        post(
            "bad QASM",
            "/api/circuits",
            Body::Json(circuit_body(
                json!({"source": "OPENQASM 2.0;\nqreg q[2];\nh q[0]\ncx q[0],q[1];\n"}),
            )),
            400,
            "invalid_source",
        ),
        post(
            "unknown gate",
            "/api/circuits",
            Body::Json(circuit_body(
                json!({"source": "OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n"}),
            )),
            400,
            "invalid_source",
        ),
        post(
            "include from disk",
            "/api/circuits",
            Body::Json(circuit_body(
                json!({"source": "OPENQASM 2.0;\ninclude \"/etc/passwd\";\n"}),
            )),
            400,
            "invalid_source",
        ),
        post(
            "deeply nested JSON",
            "/api/runs",
            // Refused at the first token of the wrong shape: the depth is never explored.
            Body::Raw("application/json", "[".repeat(100_000)),
            400,
            "invalid_body",
        ),
        post(
            "deeply nested JSON inside a field",
            "/api/runs",
            Body::Raw(
                "application/json",
                format!("{{\"circuit\": {}", "{\"a\": ".repeat(100_000)),
            ),
            400,
            "invalid_body",
        ),
        post(
            "gate definitions that recurse",
            "/api/circuits",
            Body::Json(circuit_body(json!({
                "source": "OPENQASM 2.0;\nqreg q[1];\ngate a x { b x; }\ngate b x { a x; }\na q[0];\n"
            }))),
            400,
            "invalid_source",
        ),
        post(
            "bad circuit name",
            "/api/circuits",
            Body::Json(circuit_body(json!({"name": "Bad Name!"}))),
            400,
            "invalid_name",
        ),
        post(
            "bad visibility",
            "/api/circuits",
            Body::Json(circuit_body(json!({"visibility": "secret"}))),
            400,
            "invalid_body",
        ),
        post(
            "unsupported format",
            "/api/circuits",
            Body::Json(circuit_body(
                json!({"manifest": {"framework": "qiskit", "format": "openqasm4"}}),
            )),
            400,
            "invalid_manifest",
        ),
        post(
            "an OpenQASM 2 source declared as openqasm3",
            "/api/circuits",
            Body::Json(circuit_body(
                json!({"manifest": {"framework": "qiskit", "format": "openqasm3"}}),
            )),
            400,
            "invalid_source",
        ),
        post(
            "duplicate name",
            "/api/circuits",
            Body::Json(circuit_body(json!({"name": "bell"}))),
            409,
            "name_taken",
        ),
        post(
            "oversized circuit",
            "/api/circuits",
            Body::Json(circuit_body(json!({"source": huge}))),
            413,
            "payload_too_large",
        ),
    ];
    for row in rows {
        let mut request = http().request(row.method.clone(), app.url(&row.path));
        request = match row.auth {
            Auth::Valid => request.bearer_auth(&token),
            Auth::Anonymous => request,
            Auth::Header(h) => request.header("authorization", h),
        };
        for (name, value) in &row.headers {
            request = request.header(*name, value);
        }
        request = match row.body {
            Body::None => request,
            Body::Json(v) => request.json(&v),
            Body::Raw(ct, text) => request.header("content-type", ct).body(text),
        };
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (row.status, Some(row.code)),
            "{}: {body}",
            row.name
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            row.name
        );
    }
    // Source errors carry line:col.
    let response = http()
        .post(app.url("/api/circuits"))
        .bearer_auth(&token)
        .json(&circuit_body(
            json!({"source": "OPENQASM 2.0;\nqreg q[2];\nh q[0]\ncx q[0],q[1];\n"}),
        ))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("4:1:"),
        "{body}"
    );

    // Nothing was lost or added, and the service still serves.
    let counts = app.store().run_counts().await.unwrap();
    assert_eq!(counts.values().sum::<u64>(), 1, "{counts:?}");
    let (status, _) = (
        http()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        (),
    );
    assert_eq!(status, 200);
    let response = http()
        .get(app.url(&format!("/api/runs/{run_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

on_both_databases!(bad_input_gets_the_exact_error_and_loses_nothing);

/// U+0000 cannot be stored by PostgreSQL's text (SQLite would take it): every way it can come
/// in is a 400 naming the field, on both databases, and nothing is written.
async fn a_nul_character_is_refused_at_the_edge_naming_its_field(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let with_nul_comment = format!("{BELL}// a comment with \u{0000} in it\n");
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "/api/runs",
            "POST",
            run_body(json!({"circuit": "alice/bell\u{0000}"})),
            "circuit",
        ),
        (
            "/api/circuits",
            "POST",
            circuit_body(json!({"source": with_nul_comment})),
            "source",
        ),
        (
            "/api/circuits",
            "POST",
            circuit_body(json!({"name": "a\u{0000}b"})),
            "name",
        ),
        (
            "/api/circuits",
            "POST",
            circuit_body(
                json!({"manifest": {"framework": "qiskit\u{0000}", "format": "openqasm2"}}),
            ),
            "manifest.framework",
        ),
        (
            "/api/circuits/alice/bell/versions",
            "POST",
            json!({"source": with_nul_comment, "manifest": {"framework": "qiskit", "format": "openqasm2"}}),
            "source",
        ),
    ];
    for (path, _, body, field) in cases {
        let response = http()
            .post(app.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{path} {field}: {error}"
        );
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{path}: {message}");
    }
    let response = http()
        .get(app.url("/api/runs?circuit=alice/bell%00"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_query")),
        "{error}"
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`circuit`")
    );
    // Nothing was written: one circuit at one version, no run.
    let circuit: Value = http()
        .get(app.url("/api/circuits/alice/bell"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(circuit["version"], 1);
    assert_eq!(app.runs_created().await, 0);
    app.stop().await;
}

on_both_databases!(a_nul_character_is_refused_at_the_edge_naming_its_field);

/// Sends raw bytes; the status line of the answer.
async fn raw_status_line(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything we send.
    let _ = stream.write_all(request).await;
    let mut buf = vec![0u8; 256];
    let n = stream.read(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn oversized_headers_get_431_and_the_service_keeps_serving() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let addr = app.app.addr();
    let huge = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".as_slice(),
        &vec![b'a'; 1 << 20],
        b"\r\n\r\n",
    ]
    .concat();
    assert_eq!(
        raw_status_line(addr, &huge).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let many: Vec<u8> = (0..200)
        .flat_map(|i| format!("X-H{i}: v\r\n").into_bytes())
        .collect();
    let many = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n".as_slice(),
        &many,
        b"\r\n",
    ]
    .concat();
    assert_eq!(
        raw_status_line(addr, &many).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let fine = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_status_line(addr, fine).await, "HTTP/1.1 200 OK");
    app.stop().await;
}

/// `application/json` is a media type, parsed: any case, parameters after optional whitespace.
#[tokio::test]
async fn json_is_the_media_type_whatever_its_case_and_parameters() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    for (i, content_type) in [
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/json ;charset=utf-8",
    ]
    .into_iter()
    .enumerate()
    {
        let response = http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .header("idempotency-key", format!("media-{i}"))
            .body(run_body(json!({})).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{content_type}");
    }
    app.stop().await;
}

/// The whole answer to raw bytes sent on a connection of its own.
async fn raw_answer(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// RFC 9112 §3.2: an HTTP/1.1 request without `Host`, or any request with two, is 400
/// `invalid_host`; HTTP/1.0 may omit it; the service keeps serving.
#[tokio::test]
async fn a_request_without_one_host_is_400_invalid_host() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let addr = app.app.addr();
    for request in [
        "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
        "GET /api/backends HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let answer = raw_answer(addr, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1."), "{request:?}: {answer}");
        assert_eq!(&answer[9..12], "400", "{request:?}: {answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(body["error"]["code"], "invalid_host", "{request:?}");
    }
    for request in [
        "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET /healthz HTTP/1.0\r\n\r\n",
    ] {
        let answer = raw_answer(addr, request.as_bytes()).await;
        assert_eq!(&answer[9..12], "200", "{request:?}: {answer}");
    }
    app.stop().await;
}

/// RFC 3986 §2.3: a percent-encoded unreserved character names the same resource as the
/// character, on the API and the pages; other escapes stay data; the service keeps serving.
#[tokio::test]
async fn percent_encoded_unreserved_characters_name_the_same_resource() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let run: Value = http()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .json(&run_body(json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["id"].as_str().unwrap();
    let get = async |path: &str| {
        let response = http().get(app.url(path)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let plain = get(&format!("/api/runs/{id}")).await;
    assert_eq!(plain.0, 200);
    for path in [
        format!("/api/%72uns/{id}"),
        format!("/%61pi/runs/{id}"),
        format!(
            "/api/runs/{}%{:02x}",
            &id[..id.len() - 1],
            id.as_bytes()[id.len() - 1]
        ),
    ] {
        assert_eq!(get(&path).await, plain, "{path}");
    }
    let (status, page) = get("/alice/bell").await;
    assert_eq!(status, 200);
    assert_eq!(get("/alice/b%65ll").await, (200, page.clone()));
    assert_eq!(get("/%61lice/b%45ll").await.0, 404, "case is not folded");
    // A reserved character's escape is data, never a separator.
    let (status, body) = get("/api%2Fruns").await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"), "{body}");
    assert_eq!(get("/healthz").await.0, 200);
    app.stop().await;
}

/// A header value that is not visible ASCII is 400 `invalid_header` (warp also reports the
/// sibling routes' method mismatch; the header is what is wrong).
#[tokio::test]
async fn a_header_value_outside_ascii_is_invalid_header_not_405() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    for (method, path, header) in [
        ("POST", "/api/runs", b"Idempotency-Key: k\xe9y".as_slice()),
        (
            "POST",
            "/api/runs",
            b"X-Analytics-Consent: gr\xe9nted".as_slice(),
        ),
        ("GET", "/api/runs", b"Authorization: Bearer \xe9".as_slice()),
    ] {
        let mut stream = tokio::net::TcpStream::connect(app.app.addr())
            .await
            .unwrap();
        let auth = if header.starts_with(b"Authorization") {
            String::new()
        } else {
            format!("Authorization: Bearer {token}\r\n")
        };
        let request = [
            format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}")
                .as_bytes(),
            header,
            b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        ]
        .concat();
        stream.write_all(&request).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{method} {path}: {answer}"
        );
        assert!(
            answer.contains("invalid_header"),
            "{method} {path}: {answer}"
        );
    }
    app.stop().await;
}

/// A client that sends its body too slowly (slowloris) gets 408 once `server.body_timeout_s`
/// passes, and the service goes on serving.
#[tokio::test]
async fn a_body_sent_too_slowly_gets_408_and_the_service_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        |c| c.server.body_timeout_s = 1,
        qrun::app::Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    let mut stream = tokio::net::TcpStream::connect(app.app.addr())
        .await
        .unwrap();
    let head = format!(
        "POST /api/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"shots\": "
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // ... and nothing more: the answer must come without the rest of the body.
    let mut answer = vec![0u8; 1024];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let health = http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

/// A small source whose gate definitions nest into 10^9 operations: the upload's check stops
/// at the backends' gate limit (201, it is valid OpenQASM), and a run of it is refused at
/// submission with 400 `resource_limit` naming the limit (no run is created); the service is
/// unaffected.
#[tokio::test]
async fn a_circuit_that_expands_past_every_limit_is_refused_at_submission() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    let mut source = String::from("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1];\n");
    source.push_str("gate g0 a { h a; }\n");
    for level in 1..10 {
        let body = format!("g{} a; ", level - 1).repeat(10);
        source.push_str(&format!("gate g{level} a {{ {body}}}\n"));
    }
    source.push_str("g9 q[0];\n");
    let created = http()
        .post(app.url("/api/circuits"))
        .bearer_auth(&token)
        .json(&circuit_body(json!({"name": "huge", "source": source})))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let submitted = http()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .json(&run_body(json!({"circuit": "alice/huge"})))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 400);
    let body: Value = submitted.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resource_limit", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1000000"),
        "{body}"
    );
    assert_eq!(app.runs_created().await, 0);
    let health = http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

/// JSON Schema's `integer` (what `/openapi.json` documents for `shots` and `version`) is any
/// number whose value is whole: `100.0` and `1e2` are accepted like `100`; a fraction is not.
#[tokio::test]
async fn whole_numbers_written_as_floats_are_accepted() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let submit = |body: &'static str| {
        http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, shots) in [
        (
            r#"{"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": 100.0}"#,
            100,
        ),
        (
            r#"{"circuit": "alice/bell", "version": 1.0, "backend": {"type": "simulator", "name": "statevector"}, "shots": 1e2}"#,
            100,
        ),
        (
            r#"{"circuit": "alice/bell", "version": 1, "backend": {"type": "simulator", "name": "statevector"}, "shots": 2.5e1}"#,
            25,
        ),
    ] {
        let response = submit(body).await.unwrap();
        assert_eq!(response.status(), 201, "{body}");
        let run: Value = response.json().await.unwrap();
        assert_eq!(
            (run["shots"].as_u64(), run["circuit_version"].as_i64()),
            (Some(shots), Some(1)),
            "{body}"
        );
    }
    for body in [
        r#"{"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": 100.5}"#,
        r#"{"circuit": "alice/bell", "version": 1.5, "backend": {"type": "simulator", "name": "statevector"}, "shots": 100}"#,
        r#"{"circuit": "alice/bell", "version": 1e10, "backend": {"type": "simulator", "name": "statevector"}, "shots": 100}"#,
        r#"{"circuit": "alice/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": -1.0}"#,
    ] {
        let response = submit(body).await.unwrap();
        let status = response.status().as_u16();
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{body}: {error}"
        );
    }
    app.stop().await;
}

/// A 405 says which methods the route does accept (`Allow`, RFC 9110 §15.5.6).
#[tokio::test]
async fn a_wrong_method_is_405_with_the_allowed_methods() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    let run = "018f3c1e-7b2a-7cde-8f00-0123456789ab";
    for (method, path, allow) in [
        (Method::DELETE, "/api/runs".to_owned(), "GET, HEAD, POST"),
        (Method::PUT, format!("/api/runs/{run}"), "GET, HEAD"),
        (Method::GET, format!("/api/runs/{run}/cancel"), "POST"),
        (Method::PATCH, "/api/circuits".to_owned(), "POST"),
        (Method::POST, "/metrics".to_owned(), "GET, HEAD"),
        (Method::DELETE, "/login".to_owned(), "GET, HEAD, POST"),
    ] {
        let response = http()
            .request(method.clone(), app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            error["error"]["code"], "method_not_allowed",
            "{method} {path}"
        );
    }
    app.stop().await;
}

/// HEAD is answered as GET without a body on every GET route (RFC 9110 §9.3.2), and a path no
/// route has is a 404 whatever the method (a 405 always names `Allow`).
#[tokio::test]
async fn head_is_get_without_a_body_and_unknown_paths_are_404_for_every_method() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let run = app
        .submit_run(&token, "alice/bell", ("simulator", "statevector"), 10)
        .await;
    assert_eq!(circuit["name"], "bell");
    for path in [
        "/healthz".to_owned(),
        "/readyz".to_owned(),
        "/metrics".to_owned(),
        "/openapi.json".to_owned(),
        "/api/health/runs".to_owned(),
        format!("/api/runs/{run}"),
        format!("/api/runs/{run}/audit"),
        "/api/circuits/alice/bell".to_owned(),
        "/alice/bell".to_owned(),
        format!("/alice/bell/runs/{run}"),
        "/login".to_owned(),
    ] {
        let get = http().get(app.url(&path)).send().await.unwrap();
        let (get_status, get_type) = (get.status(), get.headers().get("content-type").cloned());
        let head = http().head(app.url(&path)).send().await.unwrap();
        assert_eq!(head.status(), get_status, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get_type.as_ref(),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
    ];
    for (method, path) in methods
        .iter()
        .flat_map(|m| ["/nope", "/api/nope", "/a/b/c/d"].map(|p| (m.clone(), p)))
    {
        let response = http()
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        assert!(response.headers().get("allow").is_none(), "{method} {path}");
        if method != Method::HEAD {
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["code"], "route_not_found", "{method} {path}");
        }
    }
    app.stop().await;
}

/// A connection that never finishes its request head is closed after
/// `server.header_read_timeout_s`; a flood of such sockets past `server.max_connections`
/// cannot keep `/healthz` and `/metrics` out (the oldest idle ones make room).
#[tokio::test]
async fn slow_request_heads_are_cut_off_and_a_flood_of_them_does_not_block_health() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let adjust = |c: &mut qrun::config::Config| {
        c.server.header_read_timeout_s = 1;
        c.server.max_connections = 20;
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), adjust, qrun::app::Hooks::default()).await;
    let addr = app.app.addr();
    let partial = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

    // One slow head: closed by the server (EOF, or a 408 then EOF) within a few seconds.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(partial).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "the slow connection is still open after 10 s"
    );

    // Sixty idle sockets, three times the cap: health and metrics still answer.
    let mut flood = Vec::new();
    for _ in 0..60 {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket.write_all(partial).await.unwrap();
        flood.push(socket);
    }
    for path in ["/healthz", "/metrics"] {
        let answer = tokio::time::timeout(Duration::from_secs(5), http().get(app.url(path)).send())
            .await
            .unwrap_or_else(|_| panic!("{path} did not answer during the flood"))
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
    drop(flood);
    app.stop().await;
}
