//! Operational routes: `GET /healthz` (the process answers), `GET /readyz` (the database
//! answers and the actor tree is up) and `GET /metrics` (Prometheus text format).

use std::sync::Arc;

use warp::Filter;
use warp::http::StatusCode;

use crate::app::AppState;

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "ok"})));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state.clone())
        .then(|state: Arc<AppState>| async move {
            let database = state.store.ping().await.is_ok();
            let actors = state.actors_alive();
            let status = if database && actors {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            warp::reply::with_status(
                warp::reply::json(&serde_json::json!({"database": database, "actors": actors})),
                status,
            )
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state)
        .and_then(|state: Arc<AppState>| async move {
            match &state.metrics {
                Some(handle) => Ok(warp::reply::with_header(
                    handle.render(),
                    "content-type",
                    "text/plain; version=0.0.4; charset=utf-8",
                )),
                None => Err(warp::reject::not_found()),
            }
        });
    healthz.or(readyz).or(metrics)
}
