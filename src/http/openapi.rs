//! `GET /openapi.json`: the API's OpenAPI document, generated from the handlers' annotations
//! and the view types (utoipa), so it cannot drift from the code without a test noticing.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use warp::Filter;

use super::{circuits, error, events, health, ops, runs, views};

#[derive(OpenApi)]
#[openapi(
    info(title = "qrun", description = "Run-lifecycle service for quantum-circuit execution"),
    paths(
        runs::submit, runs::list, runs::get, runs::cancel, runs::audit, events::events,
        circuits::create, circuits::add_version, circuits::get,
        health::runs, ops::healthz, ops::readyz, ops::metrics, document,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, views::SubmitRun, views::BackendRef, views::RunView,
        views::ResultsView, views::RunPage, views::AuditTimeline, views::AuditEntryView,
        views::CreateCircuit, views::AddVersion, views::CircuitView, views::ManifestView,
        views::VisibilityView, views::RunsHealthView,
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

/// The seed's monitor path serves the same report as `/api/health/runs`.
struct Aliases;

impl Modify for Aliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(item) = openapi.paths.paths.get("/api/health/runs").cloned() {
            openapi
                .paths
                .paths
                .insert("/api/health/dagster/runs".into(), item);
        }
    }
}

/// The document as served (built once).
pub fn document_json() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises")
    })
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
fn document() -> warp::reply::Json {
    warp::reply::json(document_json())
}

pub fn routes() -> impl Filter<Extract = (warp::reply::Json,), Error = warp::Rejection> + Clone {
    warp::path!("openapi.json").and(warp::get()).map(document)
}
