//! `GET /tokens`: the signed-in user's API tokens — what `GET /api/tokens` lists, through the
//! same service call (`Service::tokens`): name, id, created, last used, revoked, and which one
//! this browser signed in with — each live one with a "Revoke" button.
//! `POST /tokens/{id}/revoke` revokes it through `Service::revoke_own_token`, as `DELETE
//! /api/tokens/{id}` does (audited `"by": "user"`; the sessions signed in with it end too);
//! another user's token, or none, is the 404 page; a foreign `Origin` is 403. It answers 303 to
//! the list, or, when the token was the one this browser signed in with (its session ended with
//! it), to the login form with the cookie dropped.
//!
//! Issuing a token is not here: it is the operator's command line (docs/DESIGN.md §15 says
//! why), so no secret is ever shown on a page.

use std::sync::Arc;

use maud::{Markup, html};
use uuid::Uuid;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{CLEAR_COOKIE, Live, Shell, error_page, page, time};
use super::{Visitor, redirect, render, same_origin, visitor};
use crate::domain::ApiToken;
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{path_id, with_context};

/// Where the list lives.
const LIST: &str = "/tokens";

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("tokens")
        .and(crate::http::get_or_head())
        .and(visitor())
        .and(with_context(ctx.clone()))
        .then(list);
    let revoke = warp::path!("tokens" / String / "revoke")
        .and(warp::post())
        .and(same_origin())
        .and(visitor())
        .and(with_context(ctx))
        .then(revoke);
    list.or(revoke).unify()
}

async fn list(visitor: Visitor, ctx: Arc<Context>) -> Response {
    render(
        async {
            let caller = visitor.caller(&ctx).await?;
            let tokens = ctx.service.tokens(&caller.user).await?;
            let current = caller.credential.token_id();
            Ok(tokens_page(
                &visitor.shell(Some(&caller.user)),
                &tokens,
                current,
            ))
        }
        .await,
    )
}

async fn revoke(
    id: String,
    allowed: Result<(), ApiError>,
    visitor: Visitor,
    ctx: Arc<Context>,
) -> Response {
    let revoked = async {
        allowed?;
        let caller = visitor.caller(&ctx).await?;
        let id = path_id(&id, "token")?;
        let token = ctx.service.revoke_own_token(&caller.user, id).await?;
        Ok::<_, ApiError>(caller.credential.ends_with(token.id))
    }
    .await;
    match revoked {
        // This browser's session ended with its token: back to the login form.
        Ok(true) => redirect("/login", &[CLEAR_COOKIE.to_owned()]),
        Ok(false) => redirect(LIST, &[]),
        Err(error) => error_page(&error),
    }
}

fn tokens_page(shell: &Shell, tokens: &[ApiToken], current: Uuid) -> Markup {
    let body = html! {
        h1 { "API tokens" }
        p.note {
            "Your API tokens, newest first, as " code { "GET /api/tokens" } " lists them; never a "
            "token itself, which was shown once, when it was issued. Revoking one refuses it "
            "from then on, and ends the browser sessions signed in with it. New tokens are "
            "issued by an operator (" code { "qrun user token create HANDLE" } ")."
        }
        @if tokens.is_empty() {
            p.card id="no-tokens" { "You have no API tokens." }
        } @else {
            table.card.stack id="tokens" {
                thead { tr { th { "name" } th { "id" } th { "created" } th { "last used" } th { "revoked" } th { span.sr-only { "action" } } } }
                tbody {
                    @for token in tokens {
                        tr id={ "token-" (token.id) } {
                            td data-label="name" {
                                (token.name)
                                @if token.id == current { " " strong.current { "(this browser signed in with it)" } }
                            }
                            td.mono.id data-label="id" { (token.id) }
                            td data-label="created" { (time(Some(token.created_at))) }
                            td data-label="last used" { (time(token.last_used_at)) }
                            td data-label="revoked" { (time(token.revoked_at)) }
                            td { (revoke_form(token, token.id == current)) }
                        }
                    }
                }
            }
        }
    };
    page(shell, "API tokens", &Live::none(), body)
}

/// The "Revoke" button of a live token (a revoked one has none): a form post, named for its
/// token for a screen reader; the one this browser signed in with says it logs out too.
fn revoke_form(token: &ApiToken, current: bool) -> Markup {
    html! {
        @if token.revoked_at.is_none() {
            form.inline method="post" action={ (LIST) "/" (token.id) "/revoke" } {
                button.danger type="submit" {
                    "Revoke" span.sr-only { " the token " (token.name) " (" (token.id) ")" }
                    @if current { " and log out" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn token(name: &str, revoked: bool) -> ApiToken {
        ApiToken {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            name: name.to_owned(),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: revoked.then(Utc::now),
        }
    }

    #[test]
    fn a_live_token_has_its_revoke_button_a_revoked_one_none() {
        let live = token("laptop", false);
        let html = revoke_form(&live, false).into_string();
        assert!(html.contains(&format!(r#"action="/tokens/{}/revoke""#, live.id)));
        assert!(html.contains("the token laptop"), "{html}");
        assert!(!html.contains("log out"));
        assert!(
            revoke_form(&live, true)
                .into_string()
                .contains("and log out")
        );
        assert_eq!(revoke_form(&token("old", true), false).into_string(), "");
    }
}
