//! `GET /openapi.json`: the API's OpenAPI document, generated from the handlers' annotations
//! and the view types (utoipa), so it cannot drift from the code without a test noticing, and
//! completed at start-up with what only the running configuration knows: its backends (each
//! with its shot limit) and its frameworks. The document declares what the handlers enforce:
//! a request it admits is one the service accepts (or answers 404/409 for want of the thing
//! named), and one it does not admit is refused with a 4xx.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::Filter;

use super::{backends, circuits, error, events, health, jobs, ops, runs, tokens, views};
use crate::service::Rules;

#[derive(OpenApi)]
#[openapi(
    info(title = "qrun", description = "Run-lifecycle service for quantum-circuit execution"),
    paths(
        runs::submit, runs::list, runs::get, runs::cancel, runs::audit, runs::memory,
        events::events, jobs::submit, jobs::list, jobs::get, jobs::put_tags,
        circuits::create, circuits::add_version, circuits::set_visibility, circuits::get, tokens::me, tokens::list,
        tokens::revoke, backends::list,
        health::runs, ops::healthz, ops::readyz, ops::metrics, document,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, views::SubmitRun, views::BackendRef, views::RunView,
        views::ResultsView, views::RunPage, views::AuditTimeline, views::AuditEntryView,
        views::CreateCircuit, views::AddVersion, views::SetVisibility, views::CircuitView, views::ManifestView,
        views::VisibilityView, views::RunsHealthView, views::BackendView, views::MethodView, views::BackendList,
        views::MeView, views::CurrentTokenView, views::TokenView, views::TokenList,
        views::MemoryPageView, views::SubmitJob, views::JobTags, views::JobView,
        views::JobRunView, views::JobUsage, views::JobPage, views::JobSummaryView,
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

/// The document this deployment serves: the annotations' document, refined with what they
/// cannot say, and with `rules`' backends and frameworks.
pub fn build(rules: &Rules) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    refine(&mut doc);
    deployment(&mut doc, rules);
    doc
}

fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("the OpenAPI document has no {pointer}"))
}

/// What the annotations cannot say, said on the generated JSON: the JSON Schema keywords
/// utoipa does not model, and the rules that hold for every route (they live in `error.rs`
/// and `mod.rs`, not in any one handler).
fn refine(doc: &mut Value) {
    // A server-sent event stream: the schema describes each event (OpenAPI 3.1 has no
    // `itemSchema`): an `event: status` whose `data` is the run as JSON, or the `event: error`
    // that ends a stream which cannot go on (its credential revoked or expired, the database
    // gone too long), whose `data` is an error body.
    let event = |name: &str, schema: &str| {
        json!({
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"const": name},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": format!("#/components/schemas/{schema}")},
                },
            },
        })
    };
    at(
        doc,
        "/paths/~1api~1runs~1{id}~1events/get/responses/200/content/text~1event-stream",
    )["schema"] = json!({"oneOf": [event("status", "RunView"), event("error", "ErrorBody")]});

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

/// What this deployment's configuration decides, declared exactly:
/// - a submission's `backend` is one of the configured `(type, name)` pairs (any other is a
///   400 `unknown_backend`), and its `shots` at most that backend's `max_shots` (else a 400
///   `invalid_shots`): `SubmitRun` is one of (the circuit named by `circuit_id` or by
///   `circuit`) × (each backend with its own shot maximum), so "exactly one of `circuit_id` and
///   `circuit`" and the per-backend limit are one `oneOf`; `shots`' own maximum is the largest;
/// - an upload's `manifest.framework` is one of `executor.frameworks` (else a 400
///   `invalid_manifest`): `UploadManifest`, the request's manifest (a stored circuit's
///   `ManifestView` keeps the framework it was uploaded with, even one no longer configured).
fn deployment(doc: &mut Value, rules: &Rules) {
    let backends: Vec<Value> = rules
        .backends
        .iter()
        .map(|b| json!({"type": b.kind, "name": b.name}))
        .collect();
    let backend_ref = at(doc, "/components/schemas/BackendRef");
    if backends.is_empty() {
        // Nothing can be submitted to a deployment without backends.
        backend_ref["not"] = json!({});
    } else {
        backend_ref["enum"] = Value::Array(backends.clone());
        let kinds: BTreeSet<&str> = rules.backends.iter().map(|b| b.kind.as_str()).collect();
        let names: BTreeSet<&str> = rules.backends.iter().map(|b| b.name.as_str()).collect();
        backend_ref["properties"]["type"]["enum"] = json!(kinds);
        backend_ref["properties"]["name"]["enum"] = json!(names);
    }

    let submit = at(doc, "/components/schemas/SubmitRun");
    if let Some(max) = rules.backends.iter().map(|b| b.max_shots).max() {
        submit["properties"]["shots"]["maximum"] = json!(max);
    }
    let mut branches = Vec::new();
    for field in ["circuit_id", "circuit"] {
        for rules in &rules.backends {
            branches.push(json!({
                "title": format!("{field}, {}/{}", rules.kind, rules.name),
                "required": [field],
                "properties": {
                    field: {"type": "string"},
                    // Property by property: an object `const` is beyond some generators
                    // (schemathesis 4 cannot generate for it), and BackendRef requires both.
                    "backend": {"properties": {
                        "type": {"const": rules.kind},
                        "name": {"const": rules.name},
                    }},
                    "shots": {"maximum": rules.max_shots},
                },
            }));
        }
    }
    if branches.is_empty() {
        submit["not"] = json!({});
    } else {
        submit["oneOf"] = Value::Array(branches);
    }

    let mut manifest = at(doc, "/components/schemas/ManifestView").clone();
    manifest["description"] = json!(
        "The manifest of an upload: `framework` one of this deployment's `executor.frameworks`."
    );
    manifest["properties"]["framework"] = json!({
        "type": "string",
        "description": "The SDK the circuit was written for: one of this deployment's `executor.frameworks` (another is a 400 `invalid_manifest`).",
        "enum": rules.frameworks,
    });
    at(doc, "/components/schemas")["UploadManifest"] = manifest;
    for request in ["CreateCircuit", "AddVersion"] {
        at(
            doc,
            &format!("/components/schemas/{request}/properties/manifest"),
        )["$ref"] = json!("#/components/schemas/UploadManifest");
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
fn document(doc: Arc<Value>) -> warp::reply::Json {
    warp::reply::json(&*doc)
}

/// `GET /openapi.json`, the document built once, from `rules`.
pub fn routes(
    rules: &Rules,
) -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone + use<> {
    let doc = Arc::new(build(rules));
    warp::path!("openapi.json")
        .and(crate::http::get_or_head())
        .map(move || doc.clone())
        .map(document)
}
