//! Operational routes: `GET /healthz` (the process answers), `GET /readyz` (the database
//! answers, the actor tree is up and the node is not shutting down) and `GET /metrics` (Prometheus text format).

use crate::http::error::Kind;
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::error::{ApiError, ErrorBody};
use super::extract::with_context;
use crate::http::Context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let healthz = warp::path!("healthz")
        .and(crate::http::get_or_head())
        .map(healthz);
    let readyz = warp::path!("readyz")
        .and(crate::http::get_or_head())
        .and(with_context(ctx.clone()))
        .then(readyz);
    let metrics = warp::path!("metrics")
        .and(crate::http::get_or_head())
        .and(with_context(ctx))
        .map(metrics);
    healthz.or(readyz).unify().or(metrics).unify()
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub database: bool,
    pub actors: bool,
    /// The node is shutting down (docs/DESIGN.md §4): not ready, whatever else holds.
    pub stopping: bool,
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "ops",
    responses((
        status = 200, description = "Alive: `{\"status\": \"ok\"}`",
        body = inline(std::collections::BTreeMap<String, String>),
        example = json!({"status": "ok"}),
    ))
)]
fn healthz() -> Response {
    warp::reply::json(&serde_json::json!({"status": "ok"})).into_response()
}

/// Readiness: the database answers, the actor tree runs and the node is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(ctx: Arc<Context>) -> Response {
    let ready = ctx.service.readiness().await;
    let stopping = ctx.stopping.is_cancelled();
    let readiness = Readiness {
        database: ready.database,
        actors: ready.actors,
        stopping,
    };
    let status = if ready.ready() && !stopping {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    warp::reply::with_status(warp::reply::json(&readiness), status).into_response()
}

/// Prometheus metrics, text exposition format.
#[utoipa::path(
    get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 404, description = "Metrics are disabled (`metrics.enabled = false`)", body = ErrorBody),
    )
)]
fn metrics(ctx: Arc<Context>) -> Response {
    match &ctx.metrics {
        Some(handle) => {
            crate::metrics::database_pool(ctx.service.store().pool_stats());
            warp::reply::with_header(
                crate::metrics::render(handle),
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .into_response()
        }
        None => {
            ApiError::new(Kind::NotFound, "route_not_found", "metrics are disabled").into_response()
        }
    }
}
