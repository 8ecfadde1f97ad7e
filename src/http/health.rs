//! `GET /api/health/runs` and its alias `/api/health/dagster/runs` (the seed's monitor path).

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ErrorBody, respond};
use super::extract::with_context;
use super::views::RunsHealthView;
use crate::http::Context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let path = warp::path!("api" / "health" / "runs")
        .or(warp::path!("api" / "health" / "dagster" / "runs"));
    path.unify()
        .and(crate::http::get_or_head())
        .and(with_context(ctx))
        .then(runs)
}

/// Runs past their expected window, pending depth, oldest ages. Public; no ids.
#[utoipa::path(
    get, path = "/api/health/runs", tag = "health", operation_id = "runs_health",
    responses((status = 200, body = RunsHealthView), (status = 503, body = ErrorBody))
)]
async fn runs(ctx: Arc<Context>) -> Response {
    respond(
        async {
            let report = ctx.service.runs_health().await?;
            Ok(warp::reply::json(&RunsHealthView::from(report)))
        }
        .await,
    )
}
