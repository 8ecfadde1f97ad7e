//! Server-rendered HTML pages: what a person looks at in a browser.
//!
//! - [`run`]: `GET /{owner}/{circuit}/runs/{id}`, one run: badge, facts, histogram or error,
//!   timeline, live while non-terminal.
//! - [`circuit`]: `GET /{owner}/{circuit}`, a circuit's recent runs.
//! - [`login`]: `GET /login`, `POST /login`, `POST /logout`: the `qrun_token` cookie.
//! - [`layout`]: the shell, inline CSS and script, badges, times, HTML error pages.
//! - [`histogram`]: outcome counts as inline SVG.
//!
//! **Templates: maud.** Markup is Rust (`html!`), checked by the compiler together with the
//! values it shows; every interpolation is HTML-escaped unless explicitly `PreEscaped` (used
//! only for the compiled-in stylesheet and script); page parts are plain functions, so pages
//! compose and unit-test like any code, with no template files to keep in step with structs.
//!
//! **Visibility is the API's.** Handlers read through `crate::service` (`runs::get`,
//! `runs::audit`, `access::sees_submitter`) exactly as the JSON routes do; nothing here
//! decides who sees what. The viewer is the bearer token of the `Authorization` header or,
//! for a browser, of the `qrun_token` cookie that `POST /login` sets.

mod circuit;
mod histogram;
mod layout;
mod login;
mod run;

use std::sync::Arc;

use maud::Markup;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::domain::User;
use crate::http::Context;

/// The cookie that carries a browser's API token.
pub const COOKIE: &str = "qrun_token";

/// The API's first path segment: never an owner, so `/api/...` always reaches the API.
pub const RESERVED_OWNER: &str = "api";

/// The pages, after every API route.
pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    run::routes(ctx.clone())
        .or(circuit::routes(ctx.clone()))
        .unify()
        .or(login::routes(ctx))
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

/// The token a request presents: the `Authorization` header, else the cookie.
pub struct Credentials {
    bearer: Option<String>,
    cookie: Option<String>,
}

fn credentials() -> impl Filter<Extract = (Credentials,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::cookie::optional::<String>(COOKIE))
        .map(|bearer, cookie| Credentials { bearer, cookie })
}

impl Credentials {
    /// The viewer: anonymous without a token; a bad or revoked token is 401 (and the page
    /// clears the cookie), never a silent downgrade to anonymous.
    async fn viewer(&self, ctx: &Context) -> Result<Option<User>, ApiError> {
        super::extract::authenticate(ctx, self.bearer.as_deref(), self.cookie.as_deref()).await
    }
}

/// A page, or its error as an HTML page with the API's status.
fn render(result: Result<Markup, ApiError>) -> Response {
    match result {
        Ok(markup) => layout::html(markup),
        Err(error) => layout::error_page(&error),
    }
}
