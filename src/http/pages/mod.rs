//! Server-rendered HTML pages: what a person looks at in a browser — the console.
//!
//! - [`dashboard`]: `GET /`, live counts and the last hour's endings as small SVG charts.
//! - [`runs`]: `GET /runs`, the signed-in user's runs: filters in the URL, cursor pages.
//! - [`admin`]: `GET /admin/runs`, every user's runs for an operator (filters, id-prefix
//!   search), and cancelling any of them with a reason; to anyone else, no such page.
//! - [`circuit`]: `GET /{owner}/{circuit}`, a circuit's source (a version picker), its recent
//!   runs and the run form.
//! - [`form`]: the run form, and `POST /{owner}/{circuit}/runs`, which submits it.
//! - [`run`]: `GET /{owner}/{circuit}/runs/{id}`, one run: badge, facts, histogram or error,
//!   timeline, live while non-terminal; "Cancel" (`POST …/runs/{id}/cancel`) and "Run again".
//! - [`circuits`]: `GET /circuits`, "My circuits": the signed-in user's circuits, searched by
//!   name, in pages.
//! - [`upload`]: `GET /circuits/new` and `POST /circuits` (multipart: the source as a file or
//!   pasted), a new circuit; the source form a new version shares.
//! - [`circuit_owner`]: the owner's section of a circuit page, `POST /{owner}/{circuit}/versions`
//!   and `POST /{owner}/{circuit}/visibility`.
//! - [`jobs`]: `GET /jobs`, the user's jobs, and `GET /jobs/{id}`, a job's runs together.
//! - [`consent`]: the consent banner's `POST /consent`, the `qrun_consent` and `qrun_session`
//!   cookies.
//! - [`tokens`]: `GET /tokens`, the signed-in user's API tokens, and
//!   `POST /tokens/{id}/revoke`, revoking one (as `GET /api/tokens`, `DELETE /api/tokens/{id}`).
//! - [`login`]: `GET /login`, `POST /login`, `POST /logout`: a browser session, its secret in
//!   the `qrun_token` cookie.
//! - [`downloads`]: `GET …/runs/{id}/counts.json|csv`, a completed run's counts as a file.
//! - [`missing`]: every unknown page a browser asks for: the 404 page, with navigation.
//! - [`layout`]: the shell, inline CSS and script, badges, times, HTML error and 404 pages.
//! - [`timeline`]: the run page's timeline, each audit row as a sentence.
//! - [`histogram`], [`charts`]: outcome counts and the dashboard's bars and per-minute
//!   columns, as inline SVG.
//!
//! **Templates: maud.** Markup is Rust (`html!`), checked by the compiler together with the
//! values it shows; every interpolation is HTML-escaped unless explicitly `PreEscaped` (used
//! only for the compiled-in stylesheet and script); page parts are plain functions, so pages
//! compose and unit-test like any code, with no template files to keep in step with structs.
//!
//! **Visibility is the API's.** Handlers read and write through `crate::service` exactly as
//! the JSON routes do; nothing here decides who sees what. The viewer is the bearer token of
//! the `Authorization` header or, for a browser, the session whose secret is in the
//! `qrun_token` cookie that `POST /login` sets.
//!
//! **Form posts** (run, cancel, an operator's cancel, upload, new version, visibility, token
//! revocation, consent, login, logout) refuse a cross-origin `Origin` (403),
//! and those that act for a user need the user's credentials: the session cookie, which is
//! `SameSite=Strict`, so no other site's page can send it.

mod admin;
mod charts;
mod circuit;
mod circuit_owner;
mod circuits;
mod consent;
mod dashboard;
mod downloads;
mod form;
mod histogram;
mod jobs;
mod layout;
mod login;
mod missing;
mod run;
mod runs;
mod timeline;
mod tokens;
mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use maud::Markup;
use uuid::Uuid;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ApiError, Kind};
use super::extract::parse_consent;
use crate::domain::{Caller, User};
use crate::http::Context;

/// The cookie that carries a browser's session secret (`POST /login`; never an API token).
pub const COOKIE: &str = "qrun_token";

/// The API's first path segment: never an owner, so `/api/...` always reaches the API.
pub const RESERVED_OWNER: &str = "api";

/// The pages, after every API route.
pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    dashboard::routes(ctx.clone())
        .or(runs::routes(ctx.clone()))
        .unify()
        .or(admin::routes(ctx.clone()))
        .unify()
        .or(run::routes(ctx.clone()))
        .unify()
        .or(circuits::routes(ctx.clone()))
        .unify()
        .or(upload::routes(ctx.clone()))
        .unify()
        .or(jobs::routes(ctx.clone()))
        .unify()
        .or(tokens::routes(ctx.clone()))
        .unify()
        .or(circuit_owner::routes(ctx.clone()))
        .unify()
        .or(circuit::routes(ctx.clone()))
        .unify()
        .or(form::routes(ctx.clone()))
        .unify()
        .or(consent::routes(ctx.clone()))
        .unify()
        .or(downloads::routes(ctx.clone()))
        .unify()
        .or(login::routes(ctx.clone()))
        .unify()
        .or(missing::routes(ctx))
        .unify()
}

/// An `{owner}` path segment; `api` is refused so that the API's own answer stands.
fn owner() -> impl Filter<Extract = (String,), Error = Rejection> + Copy {
    warp::path::param::<String>().and_then(|owner: String| async move {
        if owner == RESERVED_OWNER {
            Err(warp::reject::not_found())
        } else {
            Ok(owner)
        }
    })
}

/// What a request brings to a page: its credentials (an API token in the `Authorization`
/// header, else the session in the `qrun_token` cookie), the consent banner's choice, the browser session, and where it is.
pub struct Visitor {
    bearer: Option<String>,
    cookie: Option<String>,
    consent: Option<String>,
    session: Option<String>,
    here: String,
}

fn visitor() -> impl Filter<Extract = (Visitor,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::cookie::optional::<String>(COOKIE))
        .and(warp::cookie::optional::<String>(consent::CONSENT_COOKIE))
        .and(warp::cookie::optional::<String>(consent::SESSION_COOKIE))
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .map(
            |bearer, cookie, consent, session, path: warp::path::FullPath, query: String| {
                let here = if query.is_empty() {
                    path.as_str().to_owned()
                } else {
                    format!("{}?{query}", path.as_str())
                };
                Visitor {
                    bearer,
                    cookie,
                    consent,
                    session,
                    here,
                }
            },
        )
}

impl Visitor {
    /// The viewer: anonymous without credentials; a bad, revoked or expired one (or a disabled
    /// user's) is 401 (and the page clears the cookie), never a silent downgrade to anonymous.
    async fn viewer(&self, ctx: &Context) -> Result<Option<User>, ApiError> {
        super::extract::authenticate(ctx, self.bearer.as_deref(), self.cookie.as_deref()).await
    }

    /// The viewer and the credential they presented, who must be signed in (else 401, whose
    /// page links to the login form).
    async fn caller(&self, ctx: &Context) -> Result<Caller, ApiError> {
        super::extract::authenticate_caller(ctx, self.bearer.as_deref(), self.cookie.as_deref())
            .await?
            .ok_or_else(|| ApiError::unauthorized("log in to do this"))
    }

    /// The viewer, who must be signed in (else 401, whose page links to the login form).
    async fn user(&self, ctx: &Context) -> Result<User, ApiError> {
        Ok(self.caller(ctx).await?.user)
    }

    /// The consent banner's choice: `Some(true)` for `qrun_consent=granted`, `Some(false)`
    /// for `denied`, read exactly as the API reads `X-Analytics-Consent`; `None` before the
    /// visitor chose (or for a value that is neither), which records nothing.
    fn consent(&self) -> Option<bool> {
        self.consent
            .as_deref()
            .and_then(|value| parse_consent(Some(value)).ok())
    }

    /// Whether the visitor consented to analytics: only an explicit `granted` (default-deny).
    fn consented(&self) -> bool {
        self.consent() == Some(true)
    }

    /// The browser session's id (the `qrun_session` cookie), if it has one.
    fn session(&self) -> Option<Uuid> {
        self.session
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
    }

    /// The user posting a form: refused (403) when `allowed` ([`same_origin`]) refused it,
    /// else the signed-in user (401 otherwise).
    async fn poster(&self, ctx: &Context, allowed: Result<(), ApiError>) -> Result<User, ApiError> {
        allowed?;
        self.user(ctx).await
    }

    /// The header and banner of a page for `viewer`.
    fn shell<'a>(&'a self, viewer: Option<&'a User>) -> layout::Shell<'a> {
        layout::Shell {
            viewer,
            consent: self.consent(),
            here: &self.here,
        }
    }
}

/// A page, or its error as an HTML page with the API's status.
fn render(result: Result<Markup, ApiError>) -> Response {
    match result {
        Ok(markup) => layout::html(markup),
        Err(error) => layout::error_page(&error),
    }
}

/// A small urlencoded form body.
type Form = HashMap<String, String>;

/// Largest accepted form body.
const MAX_FORM: u64 = 8192;

/// A form body of at most [`MAX_FORM`] bytes; anything else (too large, not a form) reads as
/// an empty form, which each handler then finds lacking.
fn form() -> impl Filter<Extract = (Form,), Error = std::convert::Infallible> + Clone {
    warp::body::content_length_limit(MAX_FORM)
        .and(warp::body::form::<Form>())
        .or(warp::any().map(Form::new))
        .unify()
}

/// Refuses a request whose `Origin` names another site (cross-site request forgery); no
/// `Origin` (a non-browser client, which holds its own token anyway) is allowed.
fn same_origin() -> impl Filter<Extract = (Result<(), ApiError>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("origin")
        .and(warp::header::optional::<String>("host"))
        .map(|origin: Option<String>, host: Option<String>| {
            let Some(origin) = origin else { return Ok(()) };
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            if origin_host.is_some() && origin_host == host.as_deref() {
                Ok(())
            } else {
                Err(ApiError::new(
                    Kind::Forbidden,
                    "forbidden",
                    "cross-origin form posts are refused",
                ))
            }
        })
}

/// A form's `next`: a local path only (never another site); `fallback` otherwise.
fn local_path(form: &Form, fallback: &str) -> String {
    form.get("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .cloned()
        .unwrap_or_else(|| fallback.to_owned())
}

/// `path` with the query `pairs` that have a value, percent-encoded, in the order given.
fn href(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| Some(format!("{key}={}", runs::query_value((*value)?))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// A 303 to `to`, setting `cookies`.
fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(to) {
        headers.insert("location", location);
    }
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(cookie) {
            headers.append("set-cookie", cookie);
        }
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// A query string's pairs as warp hands them to a page (for the pages' filter tests).
#[cfg(test)]
fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        let next = |value: &str| {
            local_path(
                &Form::from([("next".to_owned(), value.to_owned())]),
                "/login",
            )
        };
        assert_eq!(next("/alice/bell/runs/x"), "/alice/bell/runs/x");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
        ] {
            assert_eq!(next(bad), "/login", "{bad}");
        }
        assert_eq!(local_path(&Form::new(), "/"), "/");
    }
}
