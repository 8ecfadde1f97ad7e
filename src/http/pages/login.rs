//! Browser sign-in: `POST /login` checks an API token and keeps it in the `qrun_token` cookie
//! (HttpOnly: no script reads it; SameSite=Strict: no other site's request carries it; Secure
//! unless the host is loopback; a session cookie). `POST /logout` drops it; `GET /login` is
//! the form. Both POSTs refuse a cross-origin `Origin`.

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
        .and(with_context(ctx))
        .then(login);
    let logout = warp::path!("logout")
        .and(warp::post())
        .and(same_origin())
        .map(|allowed: Result<(), ApiError>| match allowed {
            Ok(()) => redirect("/login", &[CLEAR_COOKIE.to_owned()]),
            Err(error) => error_page(&error),
        });
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
            p { "Paste your API token (from " code { "qrun user create" } ") to run circuits and see your private circuits' runs in this browser." }
            @if let Some(problem) = problem { p.note { (problem) } }
            form.login method="post" action="/login" {
                input type="hidden" name="next" value=(next);
                input type="password" name="token" autocomplete="off" placeholder="qrun_…" required;
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
    let user = match token {
        "" => None,
        token => match ctx.service.authenticate(token).await {
            Ok(user) => user,
            Err(err) => return error_page(&err.into()),
        },
    };
    match user {
        Some(_) => redirect(&next, &[session_cookie(token, &ctx)]),
        None => {
            let shell = visitor.shell(None);
            let form = login_form(&shell, None, &next, Some("That token is not valid."));
            respond(StatusCode::UNAUTHORIZED, form)
        }
    }
}

/// The cookie holding `token`; `Secure` unless the service listens on loopback only.
fn session_cookie(token: &str, ctx: &Context) -> String {
    let secure = if ctx.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}
