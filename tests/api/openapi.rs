//! `/openapi.json` documents exactly the routes the service serves (`qrun::http::ROUTES`,
//! which also names the metrics' route labels), and each of them is served.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{TestApp, TestDb, http};

#[tokio::test]
async fn the_document_lists_exactly_the_served_routes() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc: Value = http()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let doc: Value = http()
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
