//! `GET /circuits[?q=…&after=…]`: "My circuits" — the signed-in user's circuits in name order,
//! [`PAGE`] at a time, each with its latest version's format and framework, its visibility and
//! when that version was uploaded; `q` keeps those whose name contains it (a GET form: no
//! script needed), `after` is the page's place (the previous page's last name). Anonymous
//! visitors get the 401 page; a malformed `q` or `after` is a 400 page naming it.

use std::sync::Arc;

use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{Live, Shell, page, time};
use super::{href, render, visitor};
use crate::domain::CircuitSummary;
use crate::domain::circuit::validate_circuit_name;
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{check_query_value, with_context};

/// Circuits per page.
pub const PAGE: u64 = 25;

/// The longest search: a circuit name's length.
const MAX_SEARCH: usize = 100;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("circuits")
        .and(crate::http::get_or_head())
        .and(
            warp::query::<Vec<(String, String)>>()
                .or(warp::any().map(Vec::new))
                .unify(),
        )
        .and(visitor())
        .and(with_context(ctx))
        .then(
            |query: Vec<(String, String)>, visitor: super::Visitor, ctx: Arc<Context>| async move {
                render(
                    async {
                        let user = visitor.user(&ctx).await?;
                        let listing = Listing::parse(&query)?;
                        let (circuits, more) = ctx
                            .service
                            .circuits_of(
                                &user,
                                listing.search.as_deref(),
                                listing.after.as_deref(),
                                PAGE,
                            )
                            .await?;
                        let next = more
                            .then(|| circuits.last().map(|c| c.circuit.name.clone()))
                            .flatten();
                        Ok(circuits_page(
                            &visitor.shell(Some(&user)),
                            &listing,
                            &circuits,
                            next,
                        ))
                    }
                    .await,
                )
            },
        )
}

/// The page's query: a search and a place, each `None` by default (an empty value too).
#[derive(Debug, Default, PartialEq, Eq)]
struct Listing {
    search: Option<String>,
    after: Option<String>,
}

impl Listing {
    /// `q` (lower-cased: names are) and `after` (a circuit name); other keys are ignored.
    fn parse(query: &[(String, String)]) -> Result<Listing, ApiError> {
        let mut listing = Listing::default();
        for (key, value) in query {
            check_query_value(key, value)?;
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "q" if value.chars().count() > MAX_SEARCH => {
                    return Err(ApiError::bad_request(
                        "invalid_query",
                        format!("`q` is at most {MAX_SEARCH} characters"),
                    ));
                }
                "q" => listing.search = Some(value.to_lowercase()),
                "after" => {
                    validate_circuit_name(value).map_err(|_| {
                        ApiError::bad_request("invalid_query", "`after` must be a circuit name")
                    })?;
                    listing.after = Some(value.to_owned());
                }
                _ => {}
            }
        }
        Ok(listing)
    }

    /// This page's URL at `after`.
    fn href(&self, after: Option<&str>) -> String {
        href(
            "/circuits",
            &[("q", self.search.as_deref()), ("after", after)],
        )
    }
}

fn circuits_page(
    shell: &Shell,
    listing: &Listing,
    circuits: &[CircuitSummary],
    next: Option<String>,
) -> Markup {
    let body = html! {
        h1 { "My circuits" }
        div.actions { a href="/circuits/new" { "Upload a circuit" } }
        form.filters method="get" action="/circuits" role="search" {
            label {
                span { "Name contains" }
                input type="search" name="q" value=[listing.search.as_deref()] maxlength=(MAX_SEARCH);
            }
            button type="submit" { "Search" }
            @if listing.search.is_some() { a href="/circuits" { "Clear" } }
        }
        @if circuits.is_empty() {
            p.card id="no-circuits" {
                @if listing.search.is_some() { "No circuit of yours has a name containing “" (listing.search.as_deref().unwrap_or_default()) "”." }
                @else if listing.after.is_some() { "No more circuits." }
                @else { "You have no circuits yet. " a href="/circuits/new" { "Upload one" } "." }
            }
        } @else {
            div.scroll {
                table.card id="circuits" {
                    thead { tr { th { "name" } th { "format" } th { "framework" } th { "visibility" } th.num { "latest" } th { "updated" } } }
                    tbody {
                        @for summary in circuits {
                            @let circuit = &summary.circuit;
                            tr {
                                td { a href={ "/" (circuit.owner_handle) "/" (circuit.name) } { (circuit.name) } }
                                td.mono { (summary.manifest.format) }
                                td { (summary.manifest.framework) }
                                td { (circuit.visibility.as_str()) }
                                td.num { "v" (summary.latest_version) }
                                td { (time(Some(summary.updated_at))) }
                            }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if listing.after.is_some() { a href=(listing.href(None)) { "← First" } }
            @if let Some(after) = next { a href=(listing.href(Some(&after))) rel="next" { "More circuits →" } }
        }
    };
    page(shell, "My circuits", &Live::none(), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::pages::query;

    #[test]
    fn the_query_is_a_search_and_a_place() {
        let listing =
            Listing::parse(&query(&[("q", " Bell "), ("after", "ghz"), ("x", "y")])).unwrap();
        assert_eq!(listing.search.as_deref(), Some("bell"));
        assert_eq!(listing.href(Some("qft_8")), "/circuits?q=bell&after=qft_8");
        assert_eq!(
            Listing::parse(&query(&[("q", ""), ("after", " ")])).unwrap(),
            Listing::default()
        );
        assert_eq!(Listing::default().href(None), "/circuits");
        for (pairs, message) in [
            (
                &[("after", "Not a name")][..],
                "`after` must be a circuit name",
            ),
            (&[("q", &"a".repeat(101))], "`q` is at most 100 characters"),
        ] {
            assert_eq!(Listing::parse(&query(pairs)).unwrap_err().message, message);
        }
    }
}
