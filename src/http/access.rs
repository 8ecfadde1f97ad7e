//! Request ids, the access log and the request's span, around the whole service.
//!
//! Every request gets an id — the client's own `X-Request-Id` if it is 1–128 visible ASCII
//! characters, else a new UUIDv7 — which the response carries back in `X-Request-Id`. The
//! request runs inside an `http.request` span (`request_id`, `method`, `route` — the template,
//! never the raw path —, and once known `user_id`, `run_id`, `status`), so every line logged
//! while it is served names it, and with `[otel]` the span is the root of the request's trace.
//! When the answer is ready one access line is logged, `request` at `info` (`warn` for a 5xx)
//! with `ms` and `trace_id`, and the request is counted in the HTTP metrics.
//!
//! This is a tower layer rather than a warp filter so that the span covers the routes' own
//! futures and the id it logs is the one the response carries.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;
use tracing::field::Empty;
use warp::http::{HeaderMap, HeaderValue, Request, Response};

use crate::telemetry;

/// The header carrying a request's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The request's id: the client's `X-Request-Id` when it is 1–128 visible ASCII characters,
/// else a new UUIDv7.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// A service with request ids, the request span, the access log and request metrics.
#[derive(Clone)]
pub struct Access<S> {
    inner: S,
}

impl<S> Access<S> {
    pub fn new(inner: S) -> Access<S> {
        Access { inner }
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for Access<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let id = request_id(request.headers());
        let method = request.method().clone();
        let route = super::route_template(request.uri().path());
        let span = tracing::info_span!(
            "http.request",
            request_id = %id,
            %method,
            route = %route,
            user_id = Empty,
            run_id = Empty,
            status = Empty,
        );
        let answer = span.in_scope(|| self.inner.call(request));
        let answered = telemetry::in_request(span.clone(), answer);
        Box::pin(
            async move {
                let mut response = answered.await?;
                let status = response.status();
                let elapsed = started.elapsed();
                crate::metrics::http_request(route, method.as_str(), status.as_u16(), elapsed);
                let span = tracing::Span::current();
                span.record("status", status.as_u16());
                let ms = elapsed.as_secs_f64() * 1e3;
                let trace_id = telemetry::trace_id(&span);
                let trace_id = trace_id.as_deref().map(tracing::field::display);
                if status.is_server_error() {
                    tracing::warn!(ms, trace_id, "request");
                } else {
                    tracing::info!(ms, trace_id, "request");
                }
                if let Ok(value) = HeaderValue::from_str(&id) {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}
