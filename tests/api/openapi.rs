//! `/openapi.json` documents exactly the routes the service serves (`qrun::http::ROUTES`,
//! which also names the metrics' route labels), and each of them is served; and the
//! constraints it declares are the ones the handlers enforce.

use std::collections::BTreeSet;

use qrun::app::Hooks;
use qrun::config::BackendConfig;
use qrun::domain::RunStatus;
use serde_json::{Value, json};

use crate::helpers::{BELL, TestApp, TestDb, http};

#[tokio::test]
async fn the_document_lists_exactly_the_served_routes() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = qrun::http::ROUTES
        .iter()
        .map(|(m, p)| (m.to_lowercase(), p.to_string()))
        .collect();
    assert_eq!(documented, served);
    // Operation ids are unique (OpenAPI requires it; generated clients and link resolution
    // rely on it).
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "{ids:?}"
    );

    // And each is really served: no `route_not_found` for any of them.
    for (method, path) in &served {
        let concrete = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{owner}", "nobody")
            .replace("{name}", "nothing");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = http()
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["code"], "route_not_found",
            "{method} {concrete}: {status}"
        );
        assert_ne!(status, 405, "{method} {concrete}");
    }
    app.stop().await;
}

/// A created run links to every operation on it, by the new run's id (so a client or a
/// stateful test generator can follow it).
#[tokio::test]
async fn a_created_run_links_to_its_operations() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document(&app).await;
    let links = &doc["paths"]["/api/runs"]["post"]["responses"]["201"]["links"];
    let mut targets = Vec::new();
    for (name, link) in links.as_object().expect("links") {
        assert_eq!(link["parameters"]["id"], "$response.body#/id", "{name}");
        let id = link["operationId"].as_str().unwrap();
        let found = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find_map(|(path, item)| {
                item.as_object()?
                    .iter()
                    .find(|(_, op)| op["operationId"] == id)
                    .map(|(method, _)| format!("{} {path}", method.to_uppercase()))
            });
        targets.push(found.unwrap_or_else(|| panic!("{name} links to no operation {id}")));
    }
    targets.sort();
    assert_eq!(
        targets,
        [
            "GET /api/runs/{id}",
            "GET /api/runs/{id}/audit",
            "GET /api/runs/{id}/events",
            "POST /api/runs/{id}/cancel",
        ]
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The constraints the document declares are the ones the handlers enforce: each test reads a
// limit from the served document, then shows the server accepting a request at it and refusing
// one past it with the exact status and code.

/// The served document.
async fn document(app: &TestApp) -> Value {
    http()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A `#/components/schemas/NAME` schema of `doc`.
fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    schema
}

/// A request; its status and error code (`None` for a success).
async fn answer(request: reqwest::RequestBuilder) -> (u16, Option<String>) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().map(ToOwned::to_owned),
    )
}

/// An expected `answer`.
fn owned((status, code): (u16, Option<&str>)) -> (u16, Option<String>) {
    (status, code.map(ToOwned::to_owned))
}

/// The parameter `name` of the operation `method` `path`.
fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

fn submission(circuit: &str, backend: &Value, shots: u64) -> Value {
    json!({"circuit": circuit, "backend": backend, "shots": shots})
}

/// The circuit a submission's `circuit_id` names is the document's `Circuit`, what
/// `POST /api/circuits` answers: clients, and schemathesis' link inference, connect the two by
/// that name (as `CircuitView`, schemathesis' stateful phase never submitted a run, so never
/// followed a run's links).
#[tokio::test]
async fn a_created_circuit_is_the_circuit_a_submission_names() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document(&app).await;
    for (path, method, status) in [
        ("/api/circuits", "post", "201"),
        ("/api/circuits/{owner}/{name}/versions", "post", "201"),
        ("/api/circuits/{owner}/{name}", "get", "200"),
    ] {
        assert_eq!(
            doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/Circuit",
            "{method} {path}"
        );
    }
    assert!(component(&doc, "Circuit")["properties"]["id"].is_object());
    app.stop().await;
}

/// `/api/me` and `/api/tokens…` answer exactly the shapes the document declares (every
/// property, no other), and each status they answer is one the document lists.
#[tokio::test]
async fn the_credential_routes_answer_as_documented() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document(&app).await;
    let (alice, token) = app.user("alice").await;
    let (_, bobs) = app.user("bob").await;
    let (spare, _) = app.store().create_token(alice.id, "spare").await.unwrap();
    let keys = |value: &Value| -> BTreeSet<String> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect()
    };
    let properties = |name: &str| keys(&component(&doc, name)["properties"]);
    let send = |method: reqwest::Method, path: &str, bearer: Option<&str>| {
        let mut request = http().request(method, app.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let mut answered = Vec::new();
    for (method, template, path, bearer, status) in [
        (
            "get",
            "/api/me",
            "/api/me".to_owned(),
            Some(token.as_str()),
            200,
        ),
        ("get", "/api/me", "/api/me".to_owned(), None, 401),
        (
            "get",
            "/api/tokens",
            "/api/tokens".to_owned(),
            Some(token.as_str()),
            200,
        ),
        ("get", "/api/tokens", "/api/tokens".to_owned(), None, 401),
        (
            "delete",
            "/api/tokens/{id}",
            format!("/api/tokens/{}", spare.id),
            Some(bobs.as_str()),
            404,
        ),
        (
            "delete",
            "/api/tokens/{id}",
            format!("/api/tokens/{}", spare.id),
            Some(token.as_str()),
            200,
        ),
        (
            "delete",
            "/api/tokens/{id}",
            format!("/api/tokens/{}", spare.id),
            None,
            401,
        ),
    ] {
        let response = send(method.to_uppercase().parse().unwrap(), &path, bearer)
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let documented = &doc["paths"][template][method]["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {template} does not document {status}"
        );
        answered.push((template, status, response.json::<Value>().await.unwrap()));
    }
    for (template, status, body) in answered {
        let schema = match (template, status) {
            (_, 401 | 404) => {
                assert_eq!(keys(&body), properties("ErrorBody"));
                continue;
            }
            ("/api/me", _) => {
                assert_eq!(keys(&body["token"]), properties("CurrentTokenView"));
                "MeView"
            }
            ("/api/tokens", _) => {
                let tokens = body["tokens"].as_array().unwrap();
                assert_eq!(tokens.len(), 2);
                for token in tokens {
                    assert_eq!(keys(token), properties("Token"));
                }
                "TokenList"
            }
            _ => "Token",
        };
        assert_eq!(keys(&body), properties(schema), "{template}: {body}");
    }
    app.stop().await;
}

/// A deployment with a second, smaller simulator: the document carries each backend's own shot
/// limit (it is built from the running configuration), and exactly those limits are enforced.
#[tokio::test]
async fn each_backends_shot_limit_in_the_document_is_the_one_enforced() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        |config| {
            config.backends.push(BackendConfig::Simulator {
                name: "small".into(),
                formats: vec!["openqasm2".into()],
                max_qubits: 4,
                max_stabilizer_qubits: 0,
                method: Default::default(),
                max_shots: 7,
                max_gates: 1000,
                max_source_bytes: 10_000,
                timeout_s: 10,
            })
        },
        Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let doc = document(&app).await;
    let submit = component(&doc, "SubmitRun");
    let backend_ref = component(&doc, "BackendRef");
    let backends: Value = http()
        .get(app.url("/api/backends"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let backends = backends["backends"].as_array().unwrap();
    let limits: Vec<(String, u64)> = backends
        .iter()
        .map(|b| {
            (
                format!(
                    "{}/{}",
                    b["type"].as_str().unwrap(),
                    b["name"].as_str().unwrap()
                ),
                b["max_shots"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        limits,
        [
            ("simulator/statevector".to_owned(), 100_000),
            ("simulator/small".to_owned(), 7)
        ]
    );
    let branches = submit["oneOf"].as_array().expect("SubmitRun's oneOf");
    assert_eq!(branches.len(), 2 * backends.len(), "{branches:#?}");
    for backend in backends {
        let pair = json!({"type": backend["type"], "name": backend["name"]});
        let max = backend["max_shots"].as_u64().unwrap();
        assert!(
            backend_ref["enum"].as_array().unwrap().contains(&pair),
            "{pair} in BackendRef's enum"
        );
        // One branch per way of naming the circuit, each with this backend's maximum.
        let mine: Vec<&Value> = branches
            .iter()
            .filter(|b| {
                let named = &b["properties"]["backend"]["properties"];
                named["type"]["const"] == pair["type"] && named["name"]["const"] == pair["name"]
            })
            .collect();
        assert_eq!(mine.len(), 2, "{pair}");
        for branch in mine {
            assert_eq!(branch["properties"]["shots"]["maximum"], max, "{pair}");
        }
        for (shots, expected) in [
            (1, (201, None)),
            (max, (201, None)),
            (max + 1, (400, Some("invalid_shots"))),
            (0, (400, Some("invalid_shots"))),
        ] {
            let request = http()
                .post(app.url("/api/runs"))
                .bearer_auth(&token)
                .json(&submission("alice/bell", &pair, shots));
            assert_eq!(
                answer(request).await,
                owned(expected),
                "{pair} with {shots} shots"
            );
        }
    }
    assert_eq!(submit["properties"]["shots"]["minimum"], 1);
    assert_eq!(
        submit["properties"]["shots"]["maximum"], 100_000,
        "the largest"
    );
    assert_eq!(
        backend_ref["properties"]["name"]["enum"],
        json!(["small", "statevector"])
    );
    // A backend the deployment does not have is in no enum and is refused.
    let other = json!({"type": "command", "name": "statevector"});
    assert!(!backend_ref["enum"].as_array().unwrap().contains(&other));
    let request = http()
        .post(app.url("/api/runs"))
        .bearer_auth(&token)
        .json(&submission("alice/bell", &other, 1));
    assert_eq!(
        answer(request).await,
        (400, Some("unknown_backend".to_owned()))
    );
    app.stop().await;
}

/// `SubmitRun` is valid with exactly one of `circuit_id` and `circuit`: each branch of its
/// `oneOf` requires one of them, and both or neither is refused.
#[tokio::test]
async fn a_submission_names_its_circuit_exactly_once() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    let circuit = app.create_circuit(&token, "bell", "public").await;
    let doc = document(&app).await;
    let required: BTreeSet<String> = component(&doc, "SubmitRun")["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|branch| branch["required"].to_string())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([r#"["circuit"]"#.to_owned(), r#"["circuit_id"]"#.to_owned()])
    );
    let backend = json!({"type": "simulator", "name": "statevector"});
    let id = circuit["id"].clone();
    for (body, expected) in [
        (json!({"circuit": "alice/bell"}), (201, None)),
        (json!({"circuit_id": id}), (201, None)),
        (json!({"circuit_id": id, "circuit": null}), (201, None)),
        (
            json!({"circuit_id": id, "circuit": "alice/bell"}),
            (400, Some("invalid_body")),
        ),
        (json!({}), (400, Some("invalid_body"))),
        (
            json!({"circuit_id": null, "circuit": null}),
            (400, Some("invalid_body")),
        ),
    ] {
        let mut body = body;
        body["backend"] = backend.clone();
        body["shots"] = json!(10);
        let request = http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .json(&body);
        assert_eq!(answer(request).await, owned(expected), "{body}");
    }
    app.stop().await;
}

/// Lengths and ranges: a circuit name, an Idempotency-Key, a page size, a version and a seed at
/// the document's limit are accepted, and one past it is refused.
#[tokio::test]
async fn lengths_and_ranges_in_the_document_are_the_enforced_ones() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.user("alice").await;
    app.create_circuit(&token, "bell", "public").await;
    let doc = document(&app).await;
    let post = |path: &str, body: Value| http().post(app.url(path)).bearer_auth(&token).json(&body);
    let backend = json!({"type": "simulator", "name": "statevector"});

    // The circuit name.
    let name = &component(&doc, "CreateCircuit")["properties"]["name"];
    let longest = name["maxLength"].as_u64().unwrap() as usize;
    assert_eq!((name["minLength"].as_u64(), longest), (Some(1), 100));
    for (name, expected) in [
        ("a".repeat(longest), (201, None)),
        ("b".repeat(longest + 1), (400, Some("invalid_name"))),
        (String::new(), (400, Some("invalid_name"))),
    ] {
        let body = json!({"name": name, "visibility": "public", "source": BELL,
            "manifest": {"framework": "qiskit", "format": "openqasm2"}});
        assert_eq!(
            answer(post("/api/circuits", body)).await,
            owned(expected),
            "a name of {} characters",
            name.len()
        );
    }

    // The Idempotency-Key.
    let key = parameter(&doc, "/api/runs", "post", "Idempotency-Key");
    let longest = key["schema"]["maxLength"].as_u64().unwrap() as usize;
    assert_eq!(
        (key["schema"]["minLength"].as_u64(), longest),
        (Some(1), 255)
    );
    for (key, expected) in [
        ("k".repeat(longest), (201, None)),
        (
            "l".repeat(longest + 1),
            (400, Some("invalid_idempotency_key")),
        ),
    ] {
        let request = post("/api/runs", submission("alice/bell", &backend, 1))
            .header("Idempotency-Key", key.as_str());
        assert_eq!(
            answer(request).await,
            owned(expected),
            "a key of {} characters",
            key.len()
        );
    }

    // The page size.
    let limit = parameter(&doc, "/api/runs", "get", "limit");
    let (least, most) = (
        limit["schema"]["minimum"].as_u64().unwrap(),
        limit["schema"]["maximum"].as_u64().unwrap(),
    );
    assert_eq!((least, most), (1, 100));
    for (limit, expected) in [
        (least, (200, None)),
        (most, (200, None)),
        (most + 1, (400, Some("invalid_query"))),
        (least - 1, (400, Some("invalid_query"))),
    ] {
        let request = http()
            .get(app.url(&format!("/api/runs?limit={limit}")))
            .bearer_auth(&token);
        assert_eq!(answer(request).await, owned(expected), "limit={limit}");
    }

    // The version (a well-formed one the circuit does not have is a 404) and the seed.
    let submit = &component(&doc, "SubmitRun")["properties"];
    let version = &submit["version"];
    let (least, most) = (
        version["minimum"].as_i64().unwrap(),
        version["maximum"].as_i64().unwrap(),
    );
    assert_eq!((least, most), (1, i64::from(i32::MAX)));
    let seed = &submit["seed"];
    let (least_seed, most_seed) = (
        seed["minimum"].as_i64().unwrap(),
        seed["maximum"].as_u64().unwrap(),
    );
    assert_eq!((least_seed, most_seed), (0, i64::MAX as u64));
    for (field, value, expected) in [
        ("version", json!(least), (201, None)),
        ("version", json!(most), (404, Some("not_found"))),
        ("version", json!(most + 1), (400, Some("invalid_body"))),
        ("version", json!(least - 1), (400, Some("invalid_version"))),
        ("seed", json!(least_seed), (201, None)),
        ("seed", json!(most_seed), (201, None)),
        ("seed", json!(most_seed + 1), (400, Some("invalid_body"))),
        ("seed", json!(least_seed - 1), (400, Some("invalid_seed"))),
    ] {
        let mut body = submission("alice/bell", &backend, 1);
        body[field] = value.clone();
        assert_eq!(
            answer(post("/api/runs", body)).await,
            owned(expected),
            "{field} {value}"
        );
    }
    app.stop().await;
}

/// Enumerations: the upload's frameworks are this deployment's `executor.frameworks`, its
/// formats the ones qrun executes; statuses and the consent header as the handlers read them.
#[tokio::test]
async fn enumerations_in_the_document_are_the_accepted_values() {
    let app = TestApp::spawn_with(
        TestDb::sqlite(),
        |config| config.executor.frameworks = vec!["qiskit".into(), "homegrown".into()],
        Hooks::default(),
    )
    .await;
    let (_, token) = app.user("alice").await;
    let doc = document(&app).await;
    let manifest = component(&doc, "UploadManifest");
    for request in ["CreateCircuit", "AddVersion"] {
        assert_eq!(
            component(&doc, request)["properties"]["manifest"]["$ref"],
            "#/components/schemas/UploadManifest",
            "{request}"
        );
    }
    assert_eq!(
        manifest["properties"]["framework"]["enum"],
        json!(["qiskit", "homegrown"])
    );
    assert_eq!(
        manifest["properties"]["format"]["enum"],
        json!(["openqasm2", "openqasm3", "python", "qpy"])
    );
    let upload = |name: &str, framework: &str, format: &str| {
        http()
            .post(app.url("/api/circuits"))
            .bearer_auth(&token)
            .json(
                &json!({"name": name, "visibility": "public", "source": BELL,
                "manifest": {"framework": framework, "format": format}}),
            )
    };
    assert_eq!(
        answer(upload("a", "homegrown", "openqasm2")).await,
        (201, None)
    );
    assert_eq!(answer(upload("c", "qiskit", "python")).await, (201, None));
    for (framework, format) in [("cirq", "openqasm2"), ("qiskit", "openqasm4")] {
        assert_eq!(
            answer(upload("d", framework, format)).await,
            (400, Some("invalid_manifest".to_owned())),
            "{framework} {format}"
        );
    }

    // Statuses: the list's filter and a run's status.
    let statuses: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    let filter = parameter(&doc, "/api/runs", "get", "status");
    assert_eq!(filter["schema"]["enum"], json!(statuses));
    assert_eq!(
        component(&doc, "RunView")["properties"]["status"]["enum"],
        json!(statuses)
    );
    for status in statuses.iter().copied().chain(["Pending", "done"]) {
        let request = http()
            .get(app.url(&format!("/api/runs?status={status}")))
            .bearer_auth(&token);
        let expected = if statuses.contains(&status) {
            (200, None)
        } else {
            (400, Some("invalid_query".to_owned()))
        };
        assert_eq!(answer(request).await, expected, "{status}");
    }

    // The consent header is case-insensitive: a pattern, not an enum that `Granted` is
    // outside of.
    let consent = parameter(&doc, "/api/runs", "post", "X-Analytics-Consent");
    assert!(consent["schema"].get("enum").is_none(), "{consent}");
    assert!(!admits_nul(consent["schema"]["pattern"].as_str().unwrap()));
    let backend = json!({"type": "simulator", "name": "statevector"});
    for (value, expected) in [
        ("GRANTED", (201, None)),
        ("Denied", (201, None)),
        ("yes", (400, Some("invalid_consent".to_owned()))),
    ] {
        let request = http()
            .post(app.url("/api/runs"))
            .bearer_auth(&token)
            .header("X-Analytics-Consent", value)
            .json(&submission("alice/a", &backend, 1));
        assert_eq!(answer(request).await, expected, "{value}");
    }
    app.stop().await;
}

/// Whether a JSON Schema `pattern` (unanchored, ECMA 262) can match a string holding U+0000,
/// for the patterns this document uses: anchored sequences of literals, character classes,
/// groups and quantifiers. Conservative: anything it does not understand admits NUL.
fn admits_nul(pattern: &str) -> bool {
    let nul = ["\\u0000", "\\x00", "\\0"];
    let Some(body) = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$')) else {
        return true; // unanchored: any string around a match
    };
    let mut chars = body.chars().peekable();
    let mut depth = 0;
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                let mut class = String::new();
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == ']' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                    class.push(c);
                }
                let names_nul = nul.iter().any(|n| class.contains(n));
                let wide = ["\\S", "\\D", "\\W"].iter().any(|n| class.contains(n));
                let admits = match class.strip_prefix('^') {
                    Some(_) => !names_nul,
                    None => names_nul || wide,
                };
                if admits {
                    return true;
                }
            }
            '\\' => match chars.next() {
                Some('S' | 'D' | 'W' | 'u' | 'x' | '0') | None => return true,
                Some(_) => {}
            },
            '.' => return true,
            '(' => depth += 1,
            ')' => depth -= 1,
            // `^a|b$` is `^a` or `b$`: unanchored.
            '|' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

#[test]
fn the_nul_check_of_a_pattern() {
    for admits in [
        "",
        "abc",
        "^[^/]+/[^/]+$",
        "^.*$",
        "^[^\\s]+$",
        "^a|b$",
        "^[\\u0000-z]+$",
        "^\\S+$",
        "^[^/\\u0000]+",
    ] {
        assert!(admits_nul(admits), "{admits}");
    }
    for refuses in [
        "^[^\\u0000]*$",
        "^[^/\\u0000]+/[^/\\u0000]+$",
        "^[!-~]+$",
        "^[a-z0-9][a-z0-9._-]*$",
        "^[A-Za-z0-9_-]+$",
        "^(?:[Gg]ranted|[Dd]enied)$",
    ] {
        assert!(!admits_nul(refuses), "{refuses}");
    }
}

/// The strings a request schema admits that may hold U+0000, by where they are. A string is
/// safe with an `enum` or `const`, as a `uuid`, or with a pattern that excludes NUL.
fn strings_admitting_nul(doc: &Value, schema: &Value, at: &str, found: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let target = doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{at}: no {reference}"));
        return strings_admitting_nul(doc, target, at, found);
    }
    let string = schema["type"] == "string"
        || schema["type"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("string")));
    let safe = schema.get("enum").is_some()
        || schema.get("const").is_some()
        || schema["format"] == "uuid"
        || schema["pattern"].as_str().is_some_and(|p| !admits_nul(p));
    if string && !safe {
        found.push(at.to_owned());
    }
    let declared = schema["properties"].as_object();
    for (name, property) in declared.into_iter().flatten() {
        strings_admitting_nul(doc, property, &format!("{at}.{name}"), found);
    }
    if schema["additionalProperties"].is_object() {
        let values = &schema["additionalProperties"];
        strings_admitting_nul(doc, values, &format!("{at}.*"), found);
    }
    if schema["propertyNames"].is_object() {
        let names = &schema["propertyNames"];
        strings_admitting_nul(doc, names, &format!("{at} (a key)"), found);
    }
    if schema["items"].is_object() {
        strings_admitting_nul(doc, &schema["items"], &format!("{at}[]"), found);
    }
    // A combinator's branch narrows the properties declared beside it (all of which are
    // checked above); anything else in it is checked as its own.
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for (i, branch) in schema[combinator]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut branch = branch.clone();
            if let (Some(own), Some(declared)) = (branch["properties"].as_object_mut(), declared) {
                own.retain(|name, _| !declared.contains_key(name));
            }
            strings_admitting_nul(doc, &branch, &format!("{at}.{combinator}[{i}]"), found);
        }
    }
}

/// Every string of a request body, and every query and header value, refuses U+0000 in the
/// document as the server does (`400` naming the field), so schemathesis' strings holding it
/// are negative cases, never positive ones.
#[tokio::test]
async fn no_request_string_admits_a_nul_character() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = document(&app).await;
    let mut found = Vec::new();
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            if let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema")
            {
                bodies += 1;
                strings_admitting_nul(&doc, schema, &format!("{at} body"), &mut found);
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                // A path segment holding NUL names nothing: a 404, like any unknown name.
                if parameter["in"] == "path" {
                    continue;
                }
                let name = format!("{at} {} {}", parameter["in"], parameter["name"]);
                strings_admitting_nul(&doc, &parameter["schema"], &name, &mut found);
            }
        }
    }
    assert_eq!(bodies, 6, "the request bodies");
    assert!(found.is_empty(), "strings that admit U+0000: {found:#?}");
    app.stop().await;
}
