//! `GET /api/backends`: the backends runs can choose, with their formats, limits and native
//! gates, so a client builds its transpiler target from the server (docs/DESIGN.md §16). Public.

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::extract::with_context;
use super::views::{BackendList, BackendView};
use crate::http::Context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "backends")
        .and(crate::http::get_or_head())
        .and(with_context(ctx))
        .map(list)
}

/// The configured backends, in configuration order, and the most runs a job holds.
#[utoipa::path(
    get, path = "/api/backends", tag = "backends", operation_id = "list_backends",
    responses((status = 200, body = BackendList))
)]
fn list(ctx: Arc<Context>) -> Response {
    let rules = ctx.service.rules();
    let backends = rules.backends.iter().map(BackendView::from).collect();
    warp::reply::json(&BackendList {
        backends,
        max_runs_per_job: rules.max_runs_per_job,
    })
    .into_response()
}
