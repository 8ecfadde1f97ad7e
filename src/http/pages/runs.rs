//! `GET /runs`: the signed-in user's runs, newest first, [`PAGE`] at a time (cursor pages,
//! like `GET /api/runs`), with live badges. The filters live in the URL, as in Oban Web's
//! jobs page: only the whitelisted keys `status`, `circuit` (`owner/name`), `backend`
//! (`type/name`), `ended_since` (ended at or after a UTC time, as the dashboard's last-hour
//! tiles link) and `cursor` are read; a default (an empty value) or any other key is
//! dropped by a 303 to the canonical URL, and every link the page makes leaves defaults out.
//! A malformed value is a 400 page naming it. Anonymous visitors get the 401 page (with the
//! way to log in). Each row shows the whole run id (run ids made together share their first
//! digits; the cell wraps on a narrow screen) and a failed run's error class.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{Live, Shell, duration, error_page, html, page, run_badge, time};
use super::{Visitor, redirect, visitor};
use crate::domain::{Circuit, Run, RunStatus};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{check_query_value, with_context};
use crate::http::runs::{decode_cursor, encode_cursor, parse_circuit_ref};
use crate::service::rules::BackendRules;
use crate::service::runs::ListQuery;

/// Runs per page.
pub const PAGE: u64 = 25;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("runs")
        .and(crate::http::get_or_head())
        .and(
            warp::query::<Vec<(String, String)>>()
                .or(warp::any().map(Vec::new))
                .unify(),
        )
        .and(visitor())
        .and(with_context(ctx))
        .then(handle)
}

/// The page's filters: each `None` is its default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Filters {
    status: Option<RunStatus>,
    /// `owner/name`
    circuit: Option<String>,
    /// `type/name`
    backend: Option<String>,
    /// Ended at or after (the dashboard's last-hour tiles link with it).
    ended_since: Option<DateTime<Utc>>,
    cursor: Option<String>,
}

impl Filters {
    /// The whitelisted keys of a query; an empty value is the default. A malformed value is a
    /// 400 naming its key.
    fn parse(query: &[(String, String)]) -> Result<Filters, ApiError> {
        let mut filters = Filters::default();
        read_filters(query, |key, value| {
            match key {
                "status" => filters.status = Some(status_filter(key, value)?),
                "circuit" => {
                    parse_circuit_ref(value).map_err(|_| bad_filter(key, "`owner/name`"))?;
                    filters.circuit = Some(value.to_owned());
                }
                "backend" => filters.backend = Some(backend_filter(key, value)?),
                "ended_since" => filters.ended_since = Some(time_filter(key, value)?),
                "cursor" => filters.cursor = Some(cursor_filter(key, value)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(filters)
    }

    /// The non-default filters as query pairs, in a fixed order.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("status", self.status.map(|s| s.as_str().to_owned())),
            ("circuit", self.circuit.clone()),
            ("backend", self.backend.clone()),
            ("ended_since", self.ended_since.map(show_time)),
            ("cursor", self.cursor.clone()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect()
    }

    /// The page's URL with these filters, defaults left out.
    fn href(&self) -> String {
        href("/runs", &self.pairs())
    }

    /// These filters at another page.
    fn at(&self, cursor: Option<String>) -> Filters {
        Filters {
            cursor,
            ..self.clone()
        }
    }

    fn is_filtered(&self) -> bool {
        self.status.is_some()
            || self.circuit.is_some()
            || self.backend.is_some()
            || self.ended_since.is_some()
    }

    fn list_query(&self) -> Result<ListQuery, ApiError> {
        Ok(ListQuery {
            status: self.status,
            circuit: self.circuit.as_deref().map(parse_circuit_ref).transpose()?,
            backend: self.backend.as_deref().and_then(parse_backend),
            ended_since: self.ended_since,
            before: self.cursor.as_deref().and_then(decode_cursor),
            limit: PAGE,
        })
    }
}

/// A backend filter, `type/name`: `(type, name)`, or `None` for anything else.
pub(super) fn parse_backend(value: &str) -> Option<(String, String)> {
    value
        .split_once('/')
        .filter(|(t, n)| !t.is_empty() && !n.is_empty() && !n.contains('/'))
        .map(|(t, n)| (t.to_owned(), n.to_owned()))
}

/// Hands each `(key, value)` of a filter page's query whose value is not the default (empty)
/// to `read`, trimmed; a NUL anywhere is a 400.
pub(super) fn read_filters(
    query: &[(String, String)],
    mut read: impl FnMut(&str, &str) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    for (key, value) in query {
        check_query_value(key, value)?;
        let value = value.trim();
        if !value.is_empty() {
            read(key, value)?;
        }
    }
    Ok(())
}

/// The 400 for a malformed filter: `` `key` must be what ``.
pub(super) fn bad_filter(key: &str, what: &str) -> ApiError {
    ApiError::bad_request("invalid_query", format!("`{key}` must be {what}"))
}

/// A `status` filter's value.
pub(super) fn status_filter(key: &str, value: &str) -> Result<RunStatus, ApiError> {
    value
        .parse()
        .map_err(|_| bad_filter(key, "a run status, e.g. `failed`"))
}

/// A `backend` filter's value, `type/name` ([`parse_backend`]).
pub(super) fn backend_filter(key: &str, value: &str) -> Result<String, ApiError> {
    parse_backend(value)
        .map(|_| value.to_owned())
        .ok_or_else(|| bad_filter(key, "`type/name`, e.g. `simulator/statevector`"))
}

/// A `cursor` filter's value: one a list page made.
pub(super) fn cursor_filter(key: &str, value: &str) -> Result<String, ApiError> {
    decode_cursor(value)
        .map(|_| value.to_owned())
        .ok_or_else(|| bad_filter(key, "a cursor this page made"))
}

/// A UTC time as a `datetime-local` input sends it (`YYYY-MM-DDTHH:MM`, or with `:SS`), or
/// RFC 3339; whole seconds (a fraction is dropped).
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|at| at.and_utc())
        })?;
    at.with_nanosecond(0)
}

/// A time as the filter form's `datetime-local` input shows it (and the URL keeps it).
pub(super) fn show_time(at: DateTime<Utc>) -> String {
    if at.second() == 0 {
        at.format("%Y-%m-%dT%H:%M").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// A time filter's value ([`parse_time`]).
pub(super) fn time_filter(key: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_time(value)
        .ok_or_else(|| bad_filter(key, "a UTC time, `YYYY-MM-DDTHH:MM[:SS]` or RFC 3339"))
}

/// A checkbox filter's value: `true` (a checkbox sends its value only when checked).
pub(super) fn flag_filter(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        _ => Err(bad_filter(key, "`true` (or absent)")),
    }
}

/// The labelled "ended since" field of a filter form (a `datetime-local`, in UTC).
pub(super) fn ended_since_input(value: Option<DateTime<Utc>>) -> Markup {
    html! {
        label {
            span { "Ended from (UTC)" }
            input type="datetime-local" name="ended_since" step="1" value=[value.map(show_time)];
        }
    }
}

/// `path` with the query `pairs` (none: just the path).
pub(super) fn href(path: &str, pairs: &[(&'static str, String)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", query_value(value)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Whether `query` is exactly the canonical `pairs` (in any order): no default, no unknown key.
pub(super) fn is_canonical(query: &[(String, String)], pairs: &[(&'static str, String)]) -> bool {
    let mut asked = query.to_vec();
    asked.sort();
    let mut wanted: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    wanted.sort();
    asked == wanted
}

/// A query value, percent-encoded as a form would (`/` kept: it is legal in a query).
pub(super) fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn handle(query: Vec<(String, String)>, visitor: Visitor, ctx: Arc<Context>) -> Response {
    let listed = async {
        let user = visitor.user(&ctx).await?;
        let filters = Filters::parse(&query)?;
        // Defaults and unknown keys leave the URL: the canonical one has only what filters.
        if !is_canonical(&query, &filters.pairs()) {
            return Ok(Err(filters.href()));
        }
        let (page, more) = ctx.service.list_runs(&user, filters.list_query()?).await?;
        let next = more
            .then(|| page.last().map(|(r, _)| encode_cursor(r.created_at, r.id)))
            .flatten();
        let shell = visitor.shell(Some(&user));
        Ok(Ok(runs_page(
            &shell,
            &filters,
            &page,
            next,
            &ctx.service.rules().backends,
        )))
    }
    .await;
    match listed {
        Ok(Ok(markup)) => html(markup),
        Ok(Err(canonical)) => redirect(&canonical, &[]),
        Err(error) => error_page(&error),
    }
}

fn runs_page(
    shell: &Shell,
    filters: &Filters,
    page_runs: &[(Run, Circuit)],
    next: Option<String>,
    backends: &[BackendRules],
) -> Markup {
    let body = html! {
        h1 { "My runs" }
        (filter_form(filters, backends))
        @if page_runs.is_empty() {
            p.card id="no-runs" {
                @if filters.is_filtered() { "No run matches these filters." } @else { "You have no runs yet." }
            }
        } @else {
            div.scroll role="region" tabindex="0" aria-label="Runs (scrolls sideways)" {
                table.card id="runs" {
                    thead { tr { th { "run" } th { "circuit" } th { "status" } th { "error class" } th { "backend" } th.num { "shots" } th { "created" } th { "duration" } } }
                    tbody {
                        @for (run, circuit) in page_runs {
                            @let path = format!("/{}/{}", circuit.owner_handle, circuit.name);
                            tr {
                                td.mono.id { a href={ (path) "/runs/" (run.id) } { (run.id) } }
                                td { a href=(path) { (circuit.owner_handle) "/" (circuit.name) } }
                                td { (run_badge(run, None)) }
                                td.mono { (error_class(run)) }
                                td.mono { (run.spec.backend_type) "/" (run.spec.backend_name) }
                                td.num { (run.spec.shots) }
                                td { (time(Some(run.created_at))) }
                                td { (duration(run.started_at, run.completed_at)) }
                            }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages of runs" {
            @if filters.cursor.is_some() { a href=(filters.at(None).href()) { "← Newest" } }
            @if let Some(cursor) = next { a href=(filters.at(Some(cursor)).href()) rel="next" { "Older runs →" } }
        }
    };
    page(
        shell,
        "My runs",
        &Live::runs(page_runs.iter().map(|(run, _)| run)),
        body,
    )
}

/// The filter form: a GET of this page (its empty fields are defaults, which the redirect to
/// the canonical URL drops).
fn filter_form(filters: &Filters, backends: &[BackendRules]) -> Markup {
    html! {
        form.filters method="get" action="/runs" {
            label {
                span { "Status" }
                select name="status" {
                    option value="" { "any" }
                    @for status in RunStatus::ALL {
                        option value=(status.as_str()) selected[filters.status == Some(status)] { (status.as_str()) }
                    }
                }
            }
            label {
                span { "Circuit" }
                input type="text" name="circuit" placeholder="owner/name" value=[filters.circuit.as_deref()];
            }
            (backend_select(filters.backend.as_ref(), backends))
            (ended_since_input(filters.ended_since))
            button type="submit" { "Filter" }
            @if filters.is_filtered() { a href="/runs" { "Clear" } }
        }
    }
}

/// The labelled `backend` select of a filter form: "any", each configured backend, and
/// `selected` when it is none of them.
pub(super) fn backend_select(selected: Option<&String>, backends: &[BackendRules]) -> Markup {
    let configured: Vec<String> = backends
        .iter()
        .map(|b| format!("{}/{}", b.kind, b.name))
        .collect();
    html! {
        label {
            span { "Backend" }
            select name="backend" {
                option value="" { "any" }
                @for backend in &configured {
                    option value=(backend) selected[selected == Some(backend)] { (backend) }
                }
                @if let Some(other) = selected.filter(|b| !configured.contains(b)) {
                    option value=(other) selected { (other) }
                }
            }
        }
    }
}

/// A run's error class for a table ("—" unless it failed).
pub(super) fn error_class(run: &Run) -> &'static str {
    run.error_class.map(|c| c.as_str()).unwrap_or("—")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::pages::query;

    #[test]
    fn filters_keep_whitelisted_keys_and_links_leave_defaults_out() {
        let cursor = encode_cursor(chrono::Utc::now(), uuid::Uuid::now_v7());
        let filters = Filters::parse(&query(&[
            ("status", "failed"),
            ("circuit", "alice/bell"),
            ("backend", "command/my aer"),
            ("cursor", &cursor),
            ("sort", "asc"),
        ]))
        .unwrap();
        assert_eq!(filters.status, Some(RunStatus::Failed));
        assert_eq!(
            filters.href(),
            format!(
                "/runs?status=failed&circuit=alice/bell&backend=command/my%20aer&cursor={cursor}"
            )
        );
        assert_eq!(
            filters.at(None).href(),
            "/runs?status=failed&circuit=alice/bell&backend=command/my%20aer"
        );
        let defaults =
            Filters::parse(&query(&[("status", ""), ("circuit", " "), ("backend", "")])).unwrap();
        assert_eq!(defaults, Filters::default());
        assert_eq!(defaults.href(), "/runs");
        for (pairs, key) in [
            (&[("status", "Failed")][..], "status"),
            (&[("circuit", "bell")], "circuit"),
            (&[("backend", "statevector")], "backend"),
            (&[("backend", "a/b/c")], "backend"),
            (&[("cursor", "!!")], "cursor"),
        ] {
            let err = Filters::parse(&query(pairs)).unwrap_err();
            assert!(
                err.message.starts_with(&format!("`{key}` must be")),
                "{pairs:?}: {}",
                err.message
            );
        }
    }

    #[test]
    fn times_read_as_utc_to_the_second() {
        let at = parse_time("2026-12-06T10:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-06T10:00:00+00:00");
        assert_eq!(
            parse_time("2026-12-06T12:00:05.75+02:00").unwrap(),
            parse_time("2026-12-06T10:00:05").unwrap()
        );
        assert_eq!(show_time(at), "2026-12-06T10:00");
        assert_eq!(
            show_time(parse_time("2026-12-06T10:00:05").unwrap()),
            "2026-12-06T10:00:05"
        );
    }
}
