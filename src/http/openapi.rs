//! `GET /openapi.json`: the API's OpenAPI document, generated from the handlers' annotations
//! and the view types (utoipa), so it cannot drift from the code without a test noticing.

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::Filter;

use super::{backends, circuits, error, events, health, ops, runs, views};

#[derive(OpenApi)]
#[openapi(
    info(title = "qrun", description = "Run-lifecycle service for quantum-circuit execution"),
    paths(
        runs::submit, runs::list, runs::get, runs::cancel, runs::audit, events::events,
        circuits::create, circuits::add_version, circuits::get, backends::list,
        health::runs, ops::healthz, ops::readyz, ops::metrics, document,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, views::SubmitRun, views::BackendRef, views::RunView,
        views::ResultsView, views::RunPage, views::AuditTimeline, views::AuditEntryView,
        views::CreateCircuit, views::AddVersion, views::CircuitView, views::ManifestView,
        views::VisibilityView, views::RunsHealthView, views::BackendView, views::BackendList,
    )),
    modifiers(&Security, &Aliases),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The seed's monitor path serves the same report as `/api/health/runs` (under an operation
/// id of its own: they are unique in a document).
struct Aliases;

impl Modify for Aliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(mut item) = openapi.paths.paths.get("/api/health/runs").cloned() {
            if let Some(get) = item.get.as_mut() {
                get.operation_id = Some("runs_health_dagster".into());
            }
            openapi
                .paths
                .paths
                .insert("/api/health/dagster/runs".into(), item);
        }
    }
}

/// The document as served (built once).
pub fn document_json() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        refine(&mut doc);
        doc
    })
}

fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("the OpenAPI document has no {pointer}"))
}

/// What the annotations cannot say, said on the generated JSON: the JSON Schema keywords
/// utoipa does not model, and the rules that hold for every route (they live in `error.rs`
/// and `mod.rs`, not in any one handler).
fn refine(doc: &mut Value) {
    // A submission names its circuit by exactly one of `circuit_id` and `circuit` (the other
    // absent or null); neither or both is a 400.
    at(doc, "/components/schemas/SubmitRun")["oneOf"] = json!([
        {"required": ["circuit_id"], "properties": {"circuit_id": {"type": "string"}}},
        {"required": ["circuit"], "properties": {"circuit": {"type": "string"}}},
    ]);
    // A server-sent event stream: the schema describes each event (OpenAPI 3.1 has no
    // `itemSchema`), an `event: status` whose `data` is the run as JSON.
    at(
        doc,
        "/paths/~1api~1runs~1{id}~1events/get/responses/200/content/text~1event-stream",
    )["schema"] = json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": "status"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/RunView"},
            },
        },
    });

    // From a created run to what can be done with it (OpenAPI links: a client, or a
    // stateful test generator, follows the new run's id).
    let mut links = serde_json::Map::new();
    for (name, path, method) in [
        ("GetRun", "/api/runs/{id}", "get"),
        ("CancelRun", "/api/runs/{id}/cancel", "post"),
        ("RunAudit", "/api/runs/{id}/audit", "get"),
        ("RunEvents", "/api/runs/{id}/events", "get"),
    ] {
        let pointer = format!("/paths/{}/{method}/operationId", path.replace('/', "~1"));
        let operation = at(doc, &pointer).clone();
        links.insert(
            name.into(),
            json!({"operationId": operation, "parameters": {"id": "$response.body#/id"}}),
        );
    }
    for status in ["200", "201"] {
        at(doc, &format!("/paths/~1api~1runs/post/responses/{status}"))["links"] =
            Value::Object(links.clone());
    }

    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            // An optional parameter is absent, never null (a header or query value cannot be).
            if let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            {
                for parameter in parameters {
                    if let Some(Value::Array(types)) = parameter.pointer_mut("/schema/type") {
                        types.retain(|t| t != "null");
                        if types.len() == 1 {
                            let only = types.remove(0);
                            parameter["schema"]["type"] = only;
                        }
                    }
                }
            }
            let has_security = operation.get("security").is_some();
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            // A route that reads a token refuses an `Authorization` that is not visible ASCII.
            if has_security && !responses.contains_key("400") {
                responses.insert(
                    "400".into(),
                    json!({
                        "description": "A malformed request header (`invalid_header`)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                    }),
                );
            }
            // Every API route reads the database (at least to check a token): it may be
            // unavailable.
            if path.starts_with("/api/") && !responses.contains_key("503") {
                responses.insert(
                    "503".into(),
                    json!({
                        "description": "The database is unavailable",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                    }),
                );
            }
            for (status, response) in responses.iter_mut() {
                let error_body = response.pointer("/content/application~1json/schema/$ref")
                    == Some(&json!("#/components/schemas/ErrorBody"));
                let headers = response
                    .as_object_mut()
                    .expect("a response is an object")
                    .entry("headers")
                    .or_insert_with(|| json!({}));
                headers["X-Request-Id"] = json!({
                    "description": "The request's id: the client's own `X-Request-Id` if it is 1–128 visible ASCII characters, else a new one; also in the access log",
                    "required": true,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                });
                if status == "401" {
                    headers["WWW-Authenticate"] = json!({
                        "required": true,
                        "schema": {"type": "string", "const": "Bearer"},
                    });
                }
                if error_body && (status == "429" || status == "503") {
                    headers["Retry-After"] = json!({
                        "description": "Seconds to wait before trying again",
                        "required": true,
                        "schema": {"type": "integer", "minimum": 1},
                    });
                }
            }
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
fn document() -> warp::reply::Json {
    warp::reply::json(document_json())
}

pub fn routes() -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    warp::path!("openapi.json")
        .and(crate::http::get_or_head())
        .map(document)
}
