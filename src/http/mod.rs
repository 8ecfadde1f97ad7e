//! HTTP (warp): the only module that knows warp and the JSON shapes of the API.
//!
//! - [`runs`], [`events`], [`circuits`], [`tokens`], [`health`], [`ops`], [`openapi`]: one
//!   module per group of routes; handlers parse, call `crate::service`, and shape the answer.
//! - [`extract`]: identity, bounded JSON bodies, headers and path ids.
//! - [`conform`]: what every request must be before routing (one `Host`) and the path it is
//!   routed by (unreserved characters percent-decoded); applied by [`serve`].
//! - [`views`]: the request and response bodies.
//! - [`error`]: every error status and body, decided in one place; the single `recover`.
//! - [`service`]: the whole filter; [`access`]: request ids, the access log, the request's
//!   span and metrics, around it where it is served ([`serve`]).
//! - [`pages`]: the HTML pages (the console: dashboard, runs, circuits, run pages, their
//!   forms, login), mounted after the API.
//!
//! `extract`, `runs` and `views` are public for their pure decoders, which the
//! `http_decode` fuzz target (`fuzz/`) drives directly.

pub mod access;
mod backends;
mod circuits;
pub mod conform;
pub mod error;
mod events;
pub mod extract;
mod health;
mod jobs;
pub mod openapi;
mod ops;
mod pages;
pub mod runs;
pub mod serve;
mod tokens;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::{HeaderValue, Method, StatusCode};
use warp::reply::Response;

use crate::config::ServerConfig;
use crate::service::Service;

/// What request handlers share: the rules, the metrics registry and the HTTP settings.
pub struct Context {
    pub service: Arc<Service>,
    /// `None` when `metrics.enabled = false` (`/metrics` is then 404).
    pub metrics: Option<PrometheusHandle>,
    /// `server.max_body_bytes`: larger bodies are 413.
    pub max_body_bytes: u64,
    /// `server.body_timeout_s`: a body not received within it is 408.
    pub body_timeout: Duration,
    /// Whether the session cookie is `Secure`: unless the service listens on loopback only.
    pub secure_cookies: bool,
    /// Fired when the node starts shutting down: `/readyz` answers 503 and event streams end
    /// with a `shutdown` event (docs/DESIGN.md §4).
    pub stopping: CancellationToken,
}

impl Context {
    pub fn new(
        service: Arc<Service>,
        metrics: Option<PrometheusHandle>,
        server: &ServerConfig,
        stopping: CancellationToken,
    ) -> Context {
        Context {
            service,
            metrics,
            max_body_bytes: server.max_body_bytes,
            body_timeout: Duration::from_secs(server.body_timeout_s),
            secure_cookies: !server.bind.ip().is_loopback(),
            stopping,
        }
    }
}

/// Every route the service serves, as (method, path template). Metrics label requests with
/// these templates (never raw paths); a test checks that `/openapi.json` lists exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/runs"),
    ("GET", "/api/runs"),
    ("GET", "/api/runs/{id}"),
    ("POST", "/api/runs/{id}/cancel"),
    ("GET", "/api/runs/{id}/audit"),
    ("GET", "/api/runs/{id}/events"),
    ("GET", "/api/runs/{id}/memory"),
    ("POST", "/api/jobs"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{id}"),
    ("PUT", "/api/jobs/{id}/tags"),
    ("GET", "/api/backends"),
    ("POST", "/api/circuits"),
    ("POST", "/api/circuits/{owner}/{name}/versions"),
    ("PUT", "/api/circuits/{owner}/{name}/visibility"),
    ("GET", "/api/circuits/{owner}/{name}"),
    ("GET", "/api/me"),
    ("GET", "/api/tokens"),
    ("DELETE", "/api/tokens/{id}"),
    ("GET", "/api/health/runs"),
    ("GET", "/api/health/dagster/runs"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The HTML pages (not API routes: not in `/openapi.json`), as (method, path template). They
/// match only where no API route does, and never under `/api/`.
pub const PAGE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/runs"),
    ("GET", "/circuits"),
    ("POST", "/circuits"),
    ("GET", "/circuits/new"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{id}"),
    ("GET", "/tokens"),
    ("POST", "/tokens/{id}/revoke"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/consent"),
    ("GET", "/admin/runs"),
    ("GET", "/admin/runs/{id}/cancel"),
    ("POST", "/admin/runs/{id}/cancel"),
    ("GET", "/{owner}/{circuit}"),
    ("POST", "/{owner}/{circuit}/runs"),
    ("POST", "/{owner}/{circuit}/versions"),
    ("POST", "/{owner}/{circuit}/visibility"),
    ("GET", "/{owner}/{circuit}/runs/{id}"),
    ("POST", "/{owner}/{circuit}/runs/{id}/cancel"),
    ("GET", "/{owner}/{circuit}/runs/{id}/counts.json"),
    ("GET", "/{owner}/{circuit}/runs/{id}/counts.csv"),
];

/// The method filter of every GET route: GET, and HEAD answered as GET without a body (RFC
/// 9110 §9.3.2; hyper sends the headers of the GET answer and no body).
pub fn get_or_head() -> impl Filter<Extract = (), Error = warp::Rejection> + Copy {
    warp::get().or(warp::head()).unify()
}

/// The template of [`ROUTES`] that `path` matches, else of [`PAGE_ROUTES`], or `unmatched`.
pub fn route_template(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let find = |routes: &'static [(&str, &'static str)]| {
        routes
            .iter()
            .map(|(_, template)| *template)
            .find(|template| {
                let parts: Vec<&str> = template.trim_end_matches('/').split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
            })
    };
    find(ROUTES)
        .or_else(|| {
            (segments.get(1) != Some(&pages::RESERVED_OWNER))
                .then(|| find(PAGE_ROUTES))
                .flatten()
        })
        .unwrap_or("unmatched")
}

/// The methods [`ROUTES`] and [`PAGE_ROUTES`] serve on a route template (HEAD wherever GET
/// is), sorted.
fn served_methods(template: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .chain(PAGE_ROUTES)
        .filter(|(_, t)| *t == template)
        .flat_map(|(method, _)| match *method {
            "GET" => &["GET", "HEAD"][..],
            _ => std::slice::from_ref(method),
        })
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The `Allow` header naming `methods` (none: no header).
fn allowed_methods(methods: &[&str]) -> Option<HeaderValue> {
    (!methods.is_empty()).then(|| HeaderValue::from_str(&methods.join(", ")).expect("ASCII"))
}

/// A 405 names the methods its route serves in `Allow`; on a path no route has, warp's 405
/// (some route refused the method before the path) is the 404 it is for every method — and so
/// it is when the route serves this very method but declined the request (the operator's
/// pages, to anyone but an operator: `pages::admin`).
fn method_not_allowed(route: &'static str, method: &Method, mut response: Response) -> Response {
    use warp::Reply;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let served = served_methods(route);
    match allowed_methods(&served) {
        Some(allow) if !served.contains(&method.as_str()) => {
            response
                .headers_mut()
                .insert(warp::http::header::ALLOW, allow);
            response
        }
        _ => error::ApiError::route_not_found().into_response(),
    }
}

/// The service: every route ([`serve::serve`] adds request ids, the access log and request
/// metrics).
pub fn service(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    with_allow(routes(ctx))
}

/// A worker-only node's filter (`server.enabled = false`): `/metrics`, `/healthz` and
/// `/readyz`; every other path is 404 `route_not_found`.
pub fn ops_service(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    with_allow(ops::routes(ctx).recover(error::recover).unify())
}

/// `routes` with `Allow` on a 405 ([`method_not_allowed`]); request ids, the access log and
/// the request metrics are [`access::Access`]'s, around the served filter.
fn with_allow<F>(
    routes: F,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone
where
    F: Filter<Extract = (Response,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
{
    warp::path::full().and(warp::method()).and(routes).map(
        |path: warp::path::FullPath, method: Method, response: Response| {
            method_not_allowed(route_template(path.as_str()), &method, response)
        },
    )
}

/// Every route of the service, with errors rendered.
pub fn routes(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    use warp::Reply;
    // Each group is boxed: without it the nested filter types grow past the trait solver's
    // recursion limit in release builds (and every group would recompile with the others).
    runs::routes(ctx.clone())
        .boxed()
        .or(events::routes(ctx.clone()).boxed())
        .unify()
        .or(jobs::routes(ctx.clone()).boxed())
        .unify()
        .or(circuits::routes(ctx.clone()).boxed())
        .unify()
        .or(tokens::routes(ctx.clone()).boxed())
        .unify()
        .or(backends::routes(ctx.clone()).boxed())
        .unify()
        .or(health::routes(ctx.clone()).boxed())
        .unify()
        .or(ops::routes(ctx.clone()).boxed())
        .unify()
        .or(openapi::routes(ctx.service.rules())
            .map(Reply::into_response)
            .boxed())
        .unify()
        .or(pages::routes(ctx).boxed())
        .unify()
        .recover(error::recover)
        .unify()
}
