//! What a request must be before it is routed, and the form it is routed in (docs/DESIGN.md
//! §6), applied to every request of every connection ([`Conform`], in [`super::serve`]):
//!
//! - **One `Host`** (RFC 9112 §3.2): an HTTP/1.1 request without a `Host` header, or any
//!   request with more than one, is `400 invalid_host` — answered here, before any route.
//!   HTTP/1.0 may omit it; HTTP/2 names its authority in `:authority` and may omit it too.
//! - **Percent-encoded unreserved characters name the same resource** as the characters
//!   themselves (RFC 3986 §2.3, §6.2.2.2): `%41`–`%5A`, `%61`–`%7A`, `%30`–`%39`, `%2D`, `%2E`,
//!   `%5F`, `%7E` in the path are decoded before routing, so `/api/%72uns/ID` is
//!   `/api/runs/ID`. Every other escape stays escaped (its hex digits uppercased, §6.2.2.1): a
//!   `%2F` is data in a segment, never a separator.

use std::convert::Infallible;

use futures_util::future::{Either, Ready, ready};
use warp::Reply;
use warp::http::uri::PathAndQuery;
use warp::http::{HeaderMap, Request, Uri, Version, header};
use warp::reply::Response;

use super::error::ApiError;

/// A connection's service with the checks and the normalisation of this module before `inner`.
#[derive(Clone)]
pub struct Conform<S> {
    pub inner: S,
}

impl<S, B> tower_service::Service<Request<B>> for Conform<S>
where
    S: tower_service::Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(error) = host_error(request.version(), request.headers()) {
            return Either::Left(ready(Ok(error.into_response())));
        }
        if let Some(uri) = normalized_uri(request.uri()) {
            *request.uri_mut() = uri;
        }
        Either::Right(self.inner.call(request))
    }
}

/// Why a request's `Host` headers do not conform (RFC 9112 §3.2), if they do not: none on an
/// HTTP/1.1 request, or more than one on any.
pub fn host_error(version: Version, headers: &HeaderMap) -> Option<ApiError> {
    let hosts = headers.get_all(header::HOST).iter().count();
    let message = match hosts {
        0 if version == Version::HTTP_11 => "an HTTP/1.1 request must have a Host header",
        0 | 1 => return None,
        _ => "a request must not have more than one Host header",
    };
    Some(ApiError::bad_request("invalid_host", message))
}

/// `uri` with its path normalised ([`normalize_path`]), or `None` when it is already.
fn normalized_uri(uri: &Uri) -> Option<Uri> {
    let path = normalize_path(uri.path())?;
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

/// `path` with every percent-encoded unreserved character decoded and every other escape's
/// hex digits uppercased (RFC 3986 §6.2.2.1–2), or `None` when that changes nothing.
pub fn normalize_path(path: &str) -> Option<String> {
    if !path.contains('%') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escape {
            Some(byte) if is_unreserved(byte) => {
                out.push(char::from(byte));
                i += 3;
            }
            Some(byte) => {
                out.push_str(&format!("%{byte:02X}"));
                i += 3;
            }
            None => {
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    (out != path).then_some(out)
}

/// RFC 3986 §2.3: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_escapes_are_decoded_and_others_kept_uppercased() {
        let cases = [
            ("/api/%72uns/1", Some("/api/runs/1")),
            ("/alice/b%65ll", Some("/alice/bell")),
            ("/alice/B%45LL%2d%2E%5f%7e%30", Some("/alice/BELL-._~0")),
            ("/a%2fb", Some("/a%2Fb")),
            ("/a%2Fb", None),
            ("/a%20b%25", None),
            ("/plain", None),
            // Not an escape: left as it is.
            ("/50%", None),
            ("/%zz/%4", None),
            // A decoded `%` does not start another escape.
            ("/%2541", None),
        ];
        for (path, want) in cases {
            assert_eq!(normalize_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn host_is_required_once_on_http_1_1_and_at_most_once_anywhere() {
        let mut one = HeaderMap::new();
        one.insert(header::HOST, "example.org".parse().unwrap());
        let mut two = one.clone();
        two.append(header::HOST, "example.net".parse().unwrap());
        let none = HeaderMap::new();
        assert!(host_error(Version::HTTP_11, &one).is_none());
        assert!(host_error(Version::HTTP_10, &none).is_none());
        assert!(host_error(Version::HTTP_2, &none).is_none());
        for (version, headers) in [
            (Version::HTTP_11, &none),
            (Version::HTTP_11, &two),
            (Version::HTTP_10, &two),
        ] {
            let error = host_error(version, headers).expect("refused");
            assert_eq!(error.code, "invalid_host", "{version:?}");
        }
    }
}
