//! `/api/me` and `/api/tokens…` (docs/DESIGN.md §6): who the bearer token belongs to, the
//! caller's own API tokens (never a secret: only their hashes are stored), and revoking one of
//! them. Issuing tokens is the operator's (`qrun user create`, `qrun user token create`;
//! docs/DESIGN.md §15 says why). The console's `/tokens` page lists and revokes through the
//! same service calls (`pages::tokens`).

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ApiError, ErrorBody, respond};
use super::extract::{caller, path_id, with_context};
use super::views::{MeView, TokenList, TokenView};
use crate::domain::Caller;
use crate::http::Context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let me = warp::path!("api" / "me")
        .and(crate::http::get_or_head())
        .and(caller(ctx.clone()))
        .map(me);
    let list = warp::path!("api" / "tokens")
        .and(crate::http::get_or_head())
        .and(caller(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(list);
    let revoke = warp::path!("api" / "tokens" / String)
        .and(warp::delete())
        .and(caller(ctx.clone()))
        .and(with_context(ctx))
        .then(revoke);
    me.or(list).unify().or(revoke).unify()
}

/// The token `caller` presented (the JSON API is bearer-only, so it is the bearer token).
fn current(caller: &Caller) -> Option<uuid::Uuid> {
    Some(caller.credential.token_id())
}

/// Who the bearer token belongs to: the user's id and handle, and the token's id and name.
#[utoipa::path(
    get, path = "/api/me", tag = "users", operation_id = "get_me",
    responses(
        (status = 200, body = MeView), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
fn me(caller: Caller) -> Response {
    respond(
        MeView::new(&caller)
            .map(|me| warp::reply::json(&me))
            .ok_or_else(|| ApiError::unauthorized("this route needs a bearer token")),
    )
}

/// The caller's API tokens, revoked ones included, newest first; never a secret.
#[utoipa::path(
    get, path = "/api/tokens", tag = "users", operation_id = "list_tokens",
    responses(
        (status = 200, body = TokenList), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(caller: Caller, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let tokens = ctx.service.tokens(&caller.user).await?;
            let current = current(&caller);
            Ok(warp::reply::json(&TokenList {
                tokens: tokens.iter().map(|t| TokenView::new(t, current)).collect(),
            }))
        }
        .await,
    )
}

/// Revoke one of the caller's own tokens (the one this request presents included): it is
/// refused from then on — by this node at once, by others within `auth.token_cache_ttl_s` —
/// and so are the browser sessions signed in with it. Revoking a revoked token changes
/// nothing and answers it as it is; another user's token is a 404, as one that does not exist.
#[utoipa::path(
    delete, path = "/api/tokens/{id}", tag = "users", operation_id = "revoke_token",
    params(("id" = String, Path, format = Uuid, description = "Token id (a malformed one is a 404)")),
    responses(
        (status = 200, description = "The token, revoked", body = TokenView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such token of the caller's", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn revoke(id: String, caller: Caller, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let id = path_id(&id, "token")?;
            let token = ctx.service.revoke_own_token(&caller.user, id).await?;
            Ok(warp::reply::json(&TokenView::new(&token, current(&caller))))
        }
        .await,
    )
}
