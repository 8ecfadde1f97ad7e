//! Every unknown page: a browser's `GET` (or `HEAD`) of a path no route has, outside `/api/`,
//! gets [`layout::not_found`] — 404 with the site's navigation — instead of a dead end. A
//! request that does not accept `text/html` (an API client, curl) keeps the JSON
//! `route_not_found`, and a path some route serves with other methods keeps its 405.

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{error_page, not_found};
use super::{Visitor, visitor};
use crate::http::Context;
use crate::http::extract::with_context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    crate::http::get_or_head()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept"))
        .and_then(
            |path: warp::path::FullPath, accept: Option<String>| async move {
                if is_unknown_page(path.as_str(), accept.as_deref()) {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            },
        )
        .untuple_one()
        .and(visitor())
        .and(with_context(ctx))
        .then(handle)
}

/// Whether `path` is a page no route has, asked for by a browser (`Accept` names
/// `text/html`): not under `/api`, matching no route template of either table.
fn is_unknown_page(path: &str, accept: Option<&str>) -> bool {
    let browser = accept.is_some_and(|a| a.contains("text/html"));
    let api = path == "/api" || path.starts_with("/api/");
    browser && !api && crate::http::route_template(path) == "unmatched"
}

async fn handle(visitor: Visitor, ctx: Arc<Context>) -> Response {
    match visitor.viewer(&ctx).await {
        Ok(viewer) => not_found(&visitor.shell(viewer.as_ref())),
        Err(error) => error_page(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_browsers_unknown_page_outside_the_api() {
        let html = Some("text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(is_unknown_page("/nope", html));
        assert!(is_unknown_page("/a/b/c/d", html));
        assert!(!is_unknown_page("/nope", None), "curl keeps the JSON 404");
        assert!(!is_unknown_page("/nope", Some("application/json")));
        assert!(!is_unknown_page("/api/nope", html));
        assert!(!is_unknown_page("/api", html));
        // A page route's path (its handler answers, or its 405 stands).
        assert!(!is_unknown_page("/runs", html));
        assert!(!is_unknown_page("/alice/bell/runs/x/cancel", html));
    }
}
