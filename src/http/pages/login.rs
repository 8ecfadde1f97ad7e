//! Browser sign-in: `POST /login` checks an API token and keeps it in the `qrun_token` cookie
//! (HttpOnly: no script reads it; SameSite=Strict: no other site's request carries it; Secure
//! unless the host is loopback; a session cookie). `POST /logout` drops it; `GET /login` is
//! the form. The cookie only authenticates page reads: the JSON API stays bearer-only, so a
//! cookie can never be ridden to change anything. Both POSTs refuse a cross-origin `Origin`.

use crate::http::error::Kind;
use std::collections::HashMap;
use std::sync::Arc;

use maud::{Markup, html};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{CLEAR_COOKIE, error_page, html, page};
use super::{COOKIE, Credentials, credentials, render};
use crate::domain::User;
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::with_context;

/// Largest accepted login form body.
const MAX_FORM: u64 = 4096;

type Form = HashMap<String, String>;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let form_page = warp::path!("login")
        .and(crate::http::get_or_head())
        .and(params())
        .and(credentials())
        .and(with_context(ctx.clone()))
        .then(form_page);
    let login = warp::path!("login")
        .and(warp::post())
        .and(same_origin())
        .and(form())
        .and(with_context(ctx))
        .then(login);
    let logout = warp::path!("logout")
        .and(warp::post())
        .and(same_origin())
        .map(|allowed: Result<(), ApiError>| match allowed {
            Ok(()) => redirect("/login", CLEAR_COOKIE.to_owned()),
            Err(error) => error_page(&error),
        });
    form_page.or(login).unify().or(logout).unify()
}

/// Query parameters; a malformed query is simply none.
fn params() -> impl Filter<Extract = (Form,), Error = std::convert::Infallible> + Clone {
    warp::query::<Form>().or(warp::any().map(Form::new)).unify()
}

/// A small urlencoded body; anything else (too large, not a form) reads as an empty form.
fn form() -> impl Filter<Extract = (Form,), Error = std::convert::Infallible> + Clone {
    warp::body::content_length_limit(MAX_FORM)
        .and(warp::body::form::<Form>())
        .or(warp::any().map(Form::new))
        .unify()
}

/// Refuses a request whose `Origin` names another site (login CSRF); no `Origin` (a non-browser
/// client) is allowed.
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

/// Where to go after logging in: a local path only (never another site).
fn next_path(form: &Form) -> String {
    form.get("next")
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .cloned()
        .unwrap_or_else(|| "/login".to_owned())
}

async fn form_page(params: Form, credentials: Credentials, ctx: Arc<Context>) -> Response {
    render(
        async {
            let viewer = credentials.viewer(&ctx).await?;
            Ok(login_form(viewer.as_ref(), &next_path(&params), None))
        }
        .await,
    )
}

fn login_form(viewer: Option<&User>, next: &str, problem: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Log in" }
        @if let Some(user) = viewer {
            p { "You are logged in as " strong { (user.handle) } "." }
            form method="post" action="/logout" { button type="submit" { "Log out" } }
        } @else {
            p { "Paste your API token (from " code { "qrun user create" } ") to see your private circuits' runs in this browser." }
            @if let Some(problem) = problem { p.note { (problem) } }
            form.login method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                input type="password" name="token" autocomplete="off" placeholder="qrun_…" required;
                button type="submit" { "Log in" }
            }
        }
    };
    page("Log in", None, body)
}

async fn login(allowed: Result<(), ApiError>, form: Form, ctx: Arc<Context>) -> Response {
    if let Err(error) = allowed {
        return error_page(&error);
    }
    let next = next_path(&form);
    let token = form.get("token").map(|t| t.trim()).unwrap_or("");
    let user = match token {
        "" => None,
        token => match ctx.service.authenticate(token).await {
            Ok(user) => user,
            Err(err) => return error_page(&err.into()),
        },
    };
    match user {
        Some(_) => redirect(&next, session_cookie(token, &ctx)),
        None => {
            let mut response = html(login_form(None, &next, Some("That token is not valid.")));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    }
}

/// The cookie holding `token`; `Secure` unless the service listens on loopback only.
fn session_cookie(token: &str, ctx: &Context) -> String {
    let secure = if ctx.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

fn redirect(to: &str, cookie: String) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(to) {
        headers.insert("location", location);
    }
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert("set-cookie", cookie);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        let next = |value: &str| next_path(&Form::from([("next".to_owned(), value.to_owned())]));
        assert_eq!(next("/alice/bell/runs/x"), "/alice/bell/runs/x");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
        ] {
            assert_eq!(next(bad), "/login", "{bad}");
        }
        assert_eq!(next_path(&Form::new()), "/login");
    }
}
