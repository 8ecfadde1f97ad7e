//! `GET /api/health/runs` and its alias `/api/health/dagster/runs` (the seed's monitor path).

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ErrorBody, respond};
use super::extract::with_state;
use super::views::RunsHealthView;
use crate::app::AppState;
use crate::service::health;

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let path = warp::path!("api" / "health" / "runs")
        .or(warp::path!("api" / "health" / "dagster" / "runs"));
    path.unify()
        .and(warp::get())
        .and(with_state(state))
        .then(runs)
}

/// Runs past their expected window, pending depth, oldest ages. Public; no ids.
#[utoipa::path(
    get, path = "/api/health/runs", tag = "health", operation_id = "runs_health",
    responses((status = 200, body = RunsHealthView), (status = 503, body = ErrorBody))
)]
async fn runs(state: Arc<AppState>) -> Response {
    respond(
        async {
            let report = health::runs(&state).await?;
            Ok(warp::reply::json(&RunsHealthView::from(report)))
        }
        .await,
    )
}
