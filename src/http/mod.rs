//! HTTP (warp): the only module that knows warp and the JSON shapes of the API.
//!
//! - [`runs`], [`events`], [`circuits`], [`health`], [`ops`], [`openapi`]: one module per
//!   group of routes; handlers parse, call `crate::service`, and shape the answer.
//! - [`extract`]: identity, bounded JSON bodies, headers and path ids.
//! - [`views`]: the request and response bodies.
//! - [`error`]: every error status and body, decided in one place; the single `recover`.

mod circuits;
pub mod error;
mod events;
mod extract;
mod health;
pub mod openapi;
mod ops;
mod runs;
mod views;

use std::sync::Arc;

use warp::Filter;
use warp::reply::Response;

use crate::app::AppState;

/// Every route of the service, with errors rendered.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    use warp::Reply;
    runs::routes(state.clone())
        .or(events::routes(state.clone()))
        .unify()
        .or(circuits::routes(state.clone()))
        .unify()
        .or(health::routes(state.clone()))
        .unify()
        .or(ops::routes(state))
        .unify()
        .or(openapi::routes().map(Reply::into_response))
        .unify()
        .recover(error::recover)
        .unify()
}
