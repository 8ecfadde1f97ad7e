//! Filters that pull what handlers need out of a request, refusing bad input with the exact
//! error: the caller's identity, a size- and time-bounded JSON body, the consent and
//! idempotency headers, ids in paths.

use crate::http::error::Kind;
use std::sync::Arc;

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use uuid::Uuid;
use warp::{Filter, Rejection};

use super::error::{ApiError, reject};
use crate::domain::{Caller, CredentialKind, User};
use crate::http::Context;
use crate::service::runs::MAX_IDEMPOTENCY_KEY;

pub fn with_context(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Arc<Context>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || ctx.clone())
}

/// Who a request's credentials name: the `Authorization: Bearer` header (an API token), else
/// (where the route allows it) the browser's `qrun_token` cookie (a session from `POST
/// /login`). No credentials means anonymous; a malformed header, or a bad, revoked or expired
/// credential or a disabled user's, is 401, never a silent downgrade to anonymous.
pub async fn authenticate_caller(
    ctx: &Context,
    bearer: Option<&str>,
    cookie: Option<&str>,
) -> Result<Option<Caller>, ApiError> {
    let (kind, text, refusal) = match (bearer, cookie) {
        (Some(header), _) => (
            CredentialKind::Token,
            bearer_token(header)?,
            "the token is invalid or revoked, or its user is disabled",
        ),
        (None, Some(cookie)) => (
            CredentialKind::Session,
            cookie,
            "the session is invalid, expired or revoked, or its user is disabled: log in again",
        ),
        (None, None) => return Ok(None),
    };
    match ctx.service.authenticate(kind, text).await {
        Ok(Some(caller)) => Ok(Some(caller)),
        Ok(None) => Err(ApiError::unauthorized(refusal)),
        Err(err) => Err(err.into()),
    }
}

/// The user [`authenticate_caller`] finds.
pub async fn authenticate(
    ctx: &Context,
    bearer: Option<&str>,
    cookie: Option<&str>,
) -> Result<Option<User>, ApiError> {
    Ok(authenticate_caller(ctx, bearer, cookie)
        .await?
        .map(|caller| caller.user))
}

/// The token of an `Authorization: Bearer TOKEN` header (`bearer` also accepted; surrounding
/// blanks trimmed); anything else is 401.
pub fn bearer_token(header: &str) -> Result<&str, ApiError> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`"))
}

/// The caller and their token, if the request carries a valid bearer token (the JSON API is
/// bearer-only).
pub fn viewing_caller(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Option<Caller>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(with_context(ctx))
        .and_then(|header: Option<String>, ctx: Arc<Context>| async move {
            authenticate_caller(&ctx, header.as_deref(), None)
                .await
                .map_err(reject)
        })
}

/// The caller, if the request carries a valid bearer token.
pub fn viewer(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Option<User>,), Error = Rejection> + Clone {
    viewing_caller(ctx).map(|caller: Option<Caller>| caller.map(|caller| caller.user))
}

/// What a read-only route a browser page uses (the run's live events) was given: the bearer
/// header or the page's `qrun_token` cookie (HttpOnly, SameSite=Strict; reads only). Checked
/// when the request arrives, and again by a stream while it stays open.
#[derive(Clone, Debug, Default)]
pub struct Presented {
    pub bearer: Option<String>,
    pub cookie: Option<String>,
}

impl Presented {
    /// The user these credentials name now ([`authenticate`]).
    pub async fn viewer(&self, ctx: &Context) -> Result<Option<User>, ApiError> {
        authenticate(ctx, self.bearer.as_deref(), self.cookie.as_deref()).await
    }

    /// Whether anything was presented (anonymous requests have nothing to re-check).
    pub fn is_some(&self) -> bool {
        self.bearer.is_some() || self.cookie.is_some()
    }
}

/// The caller of a read-only route a browser page uses, and what they presented.
pub fn reading_viewer(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Option<User>, Presented), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::cookie::optional::<String>(super::pages::COOKIE))
        .and(with_context(ctx))
        .and_then(
            |bearer: Option<String>, cookie: Option<String>, ctx: Arc<Context>| async move {
                let presented = Presented { bearer, cookie };
                match presented.viewer(&ctx).await {
                    Ok(viewer) => Ok((viewer, presented)),
                    Err(error) => Err(reject(error)),
                }
            },
        )
        .untuple_one()
}

/// The caller, who must be authenticated (by a bearer token).
pub fn caller(ctx: Arc<Context>) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    viewing_caller(ctx).and_then(|caller: Option<Caller>| async move {
        caller.ok_or_else(|| reject(ApiError::unauthorized("this route needs a bearer token")))
    })
}

/// The caller's user, who must be authenticated (by a bearer token).
pub fn user(ctx: Arc<Context>) -> impl Filter<Extract = (User,), Error = Rejection> + Clone {
    caller(ctx).map(|caller: Caller| caller.user)
}

/// A JSON body of type `T`: at most `server.max_body_bytes`, received within
/// `server.body_timeout_s`, syntactically valid (else `invalid_json`) and of the right shape
/// (else `invalid_body`, naming the field).
pub fn json_body<T: DeserializeOwned + Send>(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and(with_context(ctx))
        .and_then(
            |content_type: Option<String>,
             length: Option<u64>,
             body,
             ctx: Arc<Context>| async move {
                if let Some(ct) = content_type
                    && !is_json(&ct)
                {
                    return Err(reject(ApiError::new(
                        Kind::UnsupportedMediaType,
                        "unsupported_media_type",
                        "the body must be application/json",
                    )));
                }
                let bytes = read_body(&ctx, length, body).await.map_err(reject)?;
                parse_json(&bytes).map_err(reject)
            },
        )
}

/// A request body of `length` bytes (its `Content-Length`, if it has one): at most
/// `server.max_body_bytes` (else 413 `payload_too_large`), received within
/// `server.body_timeout_s` (else 408 `request_timeout`).
pub async fn read_body(
    ctx: &Context,
    length: Option<u64>,
    body: impl Stream<Item = Result<impl Buf, warp::Error>>,
) -> Result<Vec<u8>, ApiError> {
    let limit = ctx.max_body_bytes;
    if length.is_some_and(|n| n > limit.saturating_mul(DRAIN_FACTOR)) {
        // Far too large to be worth reading: answer now and drop the connection.
        return Err(too_large(limit));
    }
    match tokio::time::timeout(ctx.body_timeout, collect(body, limit)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::new(
            Kind::RequestTimeout,
            "request_timeout",
            "the request body did not arrive in time",
        )),
    }
}

/// Whether a `Content-Type` names JSON: the media type `application/json` — `type "/"
/// subtype`, case-insensitive, then any parameters, each after optional whitespace and a `;`
/// (RFC 9110 §8.3.1, §5.6.6) — whatever its parameters say (RFC 8259 defines none; a `charset`
/// changes nothing). Not `application/jsonx`, and not a `+json` type (RFC 6839): such a type
/// has semantics of its own (`application/merge-patch+json`), which the API does not take.
/// (The `mime` crate refuses the whitespace RFC 9110 allows before a `;`.)
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence
        .trim_matches([' ', '\t'])
        .eq_ignore_ascii_case("application/json")
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        Kind::PayloadTooLarge,
        "payload_too_large",
        format!("the request body exceeds {limit} bytes"),
    )
}

/// An oversized body is still read (and discarded) up to this many times the limit before the
/// 413 goes out, so that a client still sending sees the answer instead of a broken pipe
/// (nginx's "lingering close"); beyond it the connection is simply dropped.
const DRAIN_FACTOR: u64 = 4;

async fn collect(
    body: impl Stream<Item = Result<impl Buf, warp::Error>>,
    limit: u64,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk
            .map_err(|e| ApiError::bad_request("invalid_body", format!("reading the body: {e}")))?;
        if bytes.len() as u64 + chunk.remaining() as u64 > limit {
            let mut seen = bytes.len() as u64 + chunk.remaining() as u64;
            drop(bytes);
            while seen <= limit.saturating_mul(DRAIN_FACTOR) {
                match body.next().await {
                    Some(Ok(chunk)) => seen += chunk.remaining() as u64,
                    _ => break,
                }
            }
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            bytes.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(bytes)
}

/// Parses a JSON body; syntax errors and shape errors get different codes. A string holding
/// U+0000 (which PostgreSQL's text cannot store, and SQLite would keep on one database but not
/// the other) is refused as `invalid_body` naming its field, the same on both databases.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let classify = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Data => ApiError::bad_request("invalid_body", e.to_string()),
        _ => ApiError::bad_request("invalid_json", format!("malformed JSON: {e}")),
    };
    // JSON writes U+0000 only as the escape `\u0000`: look closer only when it is there.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(classify)?;
        if let Some(field) = nul_field(&value, String::new()) {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("`{field}` contains a NUL character (U+0000), which cannot be stored"),
            ));
        }
    }
    serde_json::from_slice(bytes).map_err(classify)
}

/// The path (`manifest.framework`, `items[2]`) of the first string in `value` that holds
/// U+0000, keys included.
fn nul_field(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
            "(body)".into()
        } else {
            path
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_field(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(path)
            } else {
                nul_field(item, path)
            }
        }),
        _ => None,
    }
}

/// Refuses a query parameter value holding U+0000 (decoded from `%00`), naming it.
pub fn check_query_value(key: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') || key.contains('\0') {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "`{}` contains a NUL character (U+0000)",
                key.replace('\0', "\\0")
            ),
        ));
    }
    Ok(())
}

/// `X-Analytics-Consent: granted|denied` (case-insensitive); absent means denied.
pub fn consent() -> impl Filter<Extract = (bool,), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-analytics-consent").and_then(
        |value: Option<String>| async move { parse_consent(value.as_deref()).map_err(reject) },
    )
}

/// The value of `X-Analytics-Consent` (see [`consent`]).
pub fn parse_consent(value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
        None | Some("denied") => Ok(false),
        Some("granted") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            "invalid_consent",
            "X-Analytics-Consent must be `granted` or `denied`",
        )),
    }
}

/// `Idempotency-Key`: 1–255 visible ASCII characters.
pub fn idempotency_key() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("idempotency-key").and_then(
        |value: Option<String>| async move { parse_idempotency_key(value).map_err(reject) },
    )
}

/// The value of `Idempotency-Key` (see [`idempotency_key`]).
pub fn parse_idempotency_key(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(key)
            if !key.is_empty()
                && key.len() <= MAX_IDEMPOTENCY_KEY
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key))
        }
        Some(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1–{MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )),
    }
}

/// A run id from a path: a malformed one is simply a run that does not exist (404).
pub fn run_id(raw: &str) -> Result<Uuid, ApiError> {
    path_id(raw, "run")
}

/// The id of a `what` from a path: a malformed one is simply one that does not exist (404).
pub fn path_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    //! The header decoders, and inputs from fuzzing (`fuzz/fuzz_targets/http_decode.rs`).

    use super::*;
    use warp::http::StatusCode;

    #[test]
    fn json_media_types() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/json ; q=1",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in [
            "application/jsonx",
            "application/json-patch",
            "application/merge-patch+json",
            "text/json",
            "application/x-www-form-urlencoded",
            "application/json garbage",
            "",
            "json",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_token("bearer \t abc  ").unwrap(), "abc");
        assert_eq!(bearer_token("Bearer a b").unwrap(), "a b");
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer \t ",
            "BEARER abc",
            "Bearerabc",
            " Bearer abc",
            "Basic dXNlcjpwYXNz",
            "Bearer\u{0}abc",
        ] {
            let err = bearer_token(bad).unwrap_err();
            assert_eq!(
                (err.status(), err.code),
                (StatusCode::UNAUTHORIZED, "unauthorized"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn consent_is_granted_or_denied_and_absent_means_denied() {
        assert!(!parse_consent(None).unwrap());
        assert!(!parse_consent(Some("denied")).unwrap());
        assert!(parse_consent(Some(" GRANTED ")).unwrap());
        assert!(parse_consent(Some("Granted")).unwrap());
        for bad in [
            "",
            "yes",
            "granted;",
            "grant\u{0130}d",
            "granted\u{0}",
            "ǵranted",
        ] {
            let err = parse_consent(Some(bad)).unwrap_err();
            assert_eq!(
                (err.status(), err.code),
                (StatusCode::BAD_REQUEST, "invalid_consent"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn idempotency_keys_are_1_to_255_visible_ascii_characters() {
        assert_eq!(parse_idempotency_key(None).unwrap(), None);
        for good in ["demo-1", "!", &"~".repeat(MAX_IDEMPOTENCY_KEY)] {
            assert_eq!(
                parse_idempotency_key(Some(good.to_owned()))
                    .unwrap()
                    .as_deref(),
                Some(good)
            );
        }
        for bad in [
            "",
            "with space",
            "tab\t",
            "é",
            "\u{0}",
            &"k".repeat(MAX_IDEMPOTENCY_KEY + 1),
            // 255 bytes but not 255 ASCII characters.
            &"é".repeat(127),
        ] {
            let err = parse_idempotency_key(Some(bad.to_owned())).unwrap_err();
            assert_eq!(
                (err.status(), err.code),
                (StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hostile_json_is_refused_as_malformed_not_a_crash() {
        let deep = "[".repeat(100_000);
        let cases: [&[u8]; 7] = [
            b"",
            b"\xff\xfe",
            b"{\"a\": 1} trailing",
            deep.as_bytes(),
            b"\"\\ud800\"",
            b"1e400",
            b"{\"a\":",
        ];
        for bytes in cases {
            let err = parse_json::<serde_json::Value>(bytes).unwrap_err();
            assert_eq!(
                (err.status(), err.code),
                (StatusCode::BAD_REQUEST, "invalid_json"),
                "{}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(20)]),
                err.message
            );
        }
        let err = parse_json::<u8>(b"300").unwrap_err();
        assert_eq!(err.code, "invalid_body", "{}", err.message);
    }
}
