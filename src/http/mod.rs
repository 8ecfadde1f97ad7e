//! HTTP (warp): the only module that knows warp and the JSON shapes of the API.
//!
//! - [`ops`]: liveness, readiness and the Prometheus scrape.

mod ops;

use std::sync::Arc;

use warp::Filter;

use crate::app::AppState;

/// Every route of the service.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    ops::routes(state).recover(|_rejection: warp::Rejection| async move {
        Ok::<_, std::convert::Infallible>(warp::reply::with_status(
            warp::reply::json(
                &serde_json::json!({"error": {"code": "not_found", "message": "no such route"}}),
            ),
            warp::http::StatusCode::NOT_FOUND,
        ))
    })
}
