//! Browser sign-in: `POST /login` checks an API token and makes a browser session of its own
//! (`service::credentials`: stored hashed, expiring after `auth.session_ttl_s`, revocable),
//! whose secret — never the API token — goes in the `qrun_token` cookie (HttpOnly: no script
//! reads it; SameSite=Strict: no other site's request carries it; Secure unless the host is
//! loopback; a session cookie). `POST /logout` revokes the session and drops the cookie;
//! `GET /login` is the form. Both POSTs refuse a cross-origin `Origin`.

use std::sync::Arc;

use maud::{Markup, html};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{CLEAR_COOKIE, Live, Shell, error_page, page, respond};
use super::{COOKIE, Form, Visitor, form, local_path, redirect, render, same_origin, visitor};
use crate::domain::User;
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::with_context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let form_page = warp::path!("login")
        .and(crate::http::get_or_head())
        .and(params())
        .and(visitor())
        .and(with_context(ctx.clone()))
        .then(form_page);
    let login = warp::path!("login")
        .and(warp::post())
        .and(same_origin())
        .and(form())
        .and(visitor())
        .and(with_context(ctx.clone()))
        .then(login);
    let logout = warp::path!("logout")
        .and(warp::post())
        .and(same_origin())
        .and(warp::cookie::optional::<String>(COOKIE))
        .and(with_context(ctx))
        .then(logout);
    form_page.or(login).unify().or(logout).unify()
}

/// Query parameters; a malformed query is simply none.
fn params() -> impl Filter<Extract = (Form,), Error = std::convert::Infallible> + Clone {
    warp::query::<Form>().or(warp::any().map(Form::new)).unify()
}

async fn form_page(params: Form, visitor: Visitor, ctx: Arc<Context>) -> Response {
    render(
        async {
            let viewer = visitor.viewer(&ctx).await?;
            let shell = visitor.shell(viewer.as_ref());
            Ok(login_form(
                &shell,
                viewer.as_ref(),
                &local_path(&params, "/login"),
                None,
            ))
        }
        .await,
    )
}

fn login_form(shell: &Shell, viewer: Option<&User>, next: &str, problem: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Log in" }
        @if let Some(user) = viewer {
            p { "You are logged in as " strong { (user.handle) } "." }
            form method="post" action="/logout" { button type="submit" { "Log out" } }
        } @else {
            p { "Paste your API token (from " code { "qrun user create" } ") to run circuits and see your private circuits' runs in this browser. Signing in gives this browser a session of its own (the token is not kept); " em { "Log out" } " ends it." }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            form.login method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                label {
                    "API token"
                    input type="password" name="token" autocomplete="off" placeholder="qrun_…" required;
                }
                button type="submit" { "Log in" }
            }
        }
    };
    page(shell, "Log in", &Live::none(), body)
}

async fn login(
    allowed: Result<(), ApiError>,
    form: Form,
    visitor: Visitor,
    ctx: Arc<Context>,
) -> Response {
    if let Err(error) = allowed {
        return error_page(&error);
    }
    let next = local_path(&form, "/login");
    let token = form.get("token").map(|t| t.trim()).unwrap_or("");
    let signed_in = match token {
        "" => None,
        token => match ctx.service.sign_in(token).await {
            Ok(signed_in) => signed_in,
            Err(err) => return error_page(&err.into()),
        },
    };
    match signed_in {
        Some((_, secret)) => redirect(&next, &[session_cookie(&secret, &ctx)]),
        None => {
            let shell = visitor.shell(None);
            let form = login_form(&shell, None, &next, Some("That token is not valid."));
            respond(StatusCode::UNAUTHORIZED, form)
        }
    }
}

/// Logs out: revokes the session the cookie holds (its audit row says `"by": "user"`; this
/// node refuses it from the next request on) and drops the cookie. A cookie that names no live
/// session is simply dropped; a database that cannot revoke now is an error page (the session
/// would otherwise live on while the browser believed it ended).
async fn logout(
    allowed: Result<(), ApiError>,
    cookie: Option<String>,
    ctx: Arc<Context>,
) -> Response {
    if let Err(error) = allowed {
        return error_page(&error);
    }
    if let Some(secret) = cookie
        && let Err(err) = ctx.service.sign_out(&secret).await
    {
        return error_page(&err.into());
    }
    redirect("/login", &[CLEAR_COOKIE.to_owned()])
}

/// The cookie holding a session's `secret`; `Secure` unless the service listens on loopback
/// only.
fn session_cookie(secret: &str, ctx: &Context) -> String {
    let secure = if ctx.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict{secure}")
}
