//! The operator's pages (issue 32, docs/DESIGN.md §15), for a user holding the operator role
//! (`qrun user grant HANDLE operator`):
//!
//! - `GET /admin/runs`: every user's runs, newest first, [`PAGE`] at a time (cursor pages).
//!   The filters live in the URL as on `/runs`: `status`, `backend` (`type/name`), `user` (a
//!   handle), `node` (the node that claimed the run), `error_class`, `since` and `until` (UTC,
//!   `YYYY-MM-DDTHH:MM[:SS]` as a `datetime-local` input sends it, or RFC 3339; created at or
//!   after `since`, before `until`), `ended_since` (ended at or after), `stranded=true` (only
//!   the stranded runs the dashboard counts: running past `watchdog.running_ttl_s`'s window or
//!   past their lease), `q` (a run id or its first hex digits) and `cursor`; a
//!   default or unknown key is dropped by a 303 to the canonical URL, a malformed value is a
//!   400 page naming it. A whole id in `q` goes straight to the run's page (303).
//! - `GET /admin/runs/{id}/cancel`: the run and a form asking for the reason;
//!   `POST /admin/runs/{id}/cancel` (`reason`) cancels it through
//!   [`crate::service::Service::operator_cancel`] — audited `"by": "operator"` with the
//!   operator's id and the reason — and returns to the run's page (303). A foreign `Origin` is
//!   403; a missing or overlong reason shows the form again (400 `invalid_reason`); a run that
//!   already ended is the 409 page.
//!
//! To anyone else (anonymous, an ordinary user, a bad credential) these routes do not exist:
//! the request goes on to the routes after them, so the answer is exactly the one the same path
//! gets with no operator pages at all (`/admin/…` is a circuit path of the reserved handle
//! `admin`, so a 404 page).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{Live, Shell, error_page, html, page, respond, run_badge, time};
use super::runs::{
    backend_filter, backend_select, bad_filter, cursor_filter, ended_since_input, error_class,
    flag_filter, href, is_canonical, parse_backend, read_filters, show_time, status_filter,
    time_filter,
};
use super::{Form, Visitor, form, redirect, same_origin, visitor};
use crate::domain::{ErrorClass, IdPrefix, RunStatus, User};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{run_id, with_context};
use crate::http::runs::{decode_cursor, encode_cursor};
use crate::service::ServiceError;
use crate::service::operator::{OperatorQuery, OperatorRow};
use crate::service::rules::BackendRules;

/// Runs per page.
pub const PAGE: u64 = 50;

/// Where the list lives.
const LIST: &str = "/admin/runs";

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("admin" / "runs")
        .and(only(&[Method::GET, Method::HEAD]))
        .and(
            warp::query::<Vec<(String, String)>>()
                .or(warp::any().map(Vec::new))
                .unify(),
        )
        .and(operator(ctx.clone()))
        .then(list);
    let ask = warp::path!("admin" / "runs" / String / "cancel")
        .and(only(&[Method::GET, Method::HEAD]))
        .and(operator(ctx.clone()))
        .then(ask);
    let cancel = warp::path!("admin" / "runs" / String / "cancel")
        .and(only(&[Method::POST]))
        .and(operator(ctx))
        .and(same_origin())
        .and(form())
        .then(cancel);
    list.or(ask).unify().or(cancel).unify()
}

/// Requests of one of `methods`; any other is not found here (never a 405, which would say
/// that the path exists).
fn only(methods: &'static [Method]) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and_then(move |method: Method| async move {
            if methods.contains(&method) {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
}

/// The visitor, when they are a signed-in operator; otherwise the route does not exist (a
/// not-found rejection, so the routes after this one answer as if it were not there).
fn operator(
    ctx: Arc<Context>,
) -> impl Filter<Extract = (Visitor, User, Arc<Context>), Error = Rejection> + Clone {
    visitor()
        .and(with_context(ctx))
        .and_then(|visitor: Visitor, ctx: Arc<Context>| async move {
            match visitor.viewer(&ctx).await {
                Ok(Some(user)) if user.is_operator() => Ok((visitor, user, ctx)),
                _ => Err(warp::reject::not_found()),
            }
        })
        .untuple_one()
}

/// The list's filters: each `None` is its default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Filters {
    status: Option<RunStatus>,
    /// `type/name`
    backend: Option<String>,
    user: Option<String>,
    node: Option<String>,
    error_class: Option<ErrorClass>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Ended at or after (the dashboard's last-hour tiles link with it).
    ended_since: Option<DateTime<Utc>>,
    /// Only stranded runs (the dashboard's "stranded" tile).
    stranded: bool,
    /// A run id or its first hex digits, as typed.
    q: Option<IdPrefix>,
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
                "backend" => filters.backend = Some(backend_filter(key, value)?),
                "user" => filters.user = Some(value.to_owned()),
                "node" => filters.node = Some(value.to_owned()),
                "error_class" => {
                    filters.error_class = Some(
                        ErrorClass::ALL
                            .into_iter()
                            .find(|c| c.as_str() == value)
                            .ok_or_else(|| bad_filter(key, "an error class, e.g. `timeout`"))?,
                    )
                }
                "since" => filters.since = Some(time_filter(key, value)?),
                "until" => filters.until = Some(time_filter(key, value)?),
                "ended_since" => filters.ended_since = Some(time_filter(key, value)?),
                "stranded" => filters.stranded = flag_filter(key, value)?,
                "q" => {
                    let prefix =
                        IdPrefix::parse(value).map_err(|e| bad_filter(key, &e.to_string()))?;
                    filters.q = Some(prefix);
                }
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
            ("backend", self.backend.clone()),
            ("user", self.user.clone()),
            ("node", self.node.clone()),
            (
                "error_class",
                self.error_class.map(|c| c.as_str().to_owned()),
            ),
            ("since", self.since.map(show_time)),
            ("until", self.until.map(show_time)),
            ("ended_since", self.ended_since.map(show_time)),
            ("stranded", self.stranded.then(|| "true".to_owned())),
            ("q", self.q.as_ref().map(|q| q.as_str().to_owned())),
            ("cursor", self.cursor.clone()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect()
    }

    fn href(&self) -> String {
        href(LIST, &self.pairs())
    }

    /// These filters at another page.
    fn at(&self, cursor: Option<String>) -> Filters {
        Filters {
            cursor,
            ..self.clone()
        }
    }

    fn is_filtered(&self) -> bool {
        self.at(None) != Filters::default()
    }

    fn query(&self) -> OperatorQuery {
        OperatorQuery {
            status: self.status,
            backend: self.backend.as_deref().and_then(parse_backend),
            user: self.user.clone(),
            node: self.node.clone(),
            error_class: self.error_class,
            since: self.since,
            until: self.until,
            ended_since: self.ended_since,
            stranded: self.stranded,
            id: self.q.clone(),
            before: self.cursor.as_deref().and_then(decode_cursor),
            limit: PAGE,
        }
    }
}

/// What a list request comes to: the page, or a redirect.
enum Listed {
    Page(Markup),
    Redirect(String),
}

async fn list(
    query: Vec<(String, String)>,
    visitor: Visitor,
    operator: User,
    ctx: Arc<Context>,
) -> Response {
    let listed = async {
        let filters = Filters::parse(&query)?;
        // A whole id goes straight to the run.
        if let Some(id) = filters.q.as_ref().and_then(IdPrefix::exact) {
            match ctx.service.run(Some(&operator), id).await {
                Ok((run, circuit)) => {
                    return Ok(Listed::Redirect(format!(
                        "/{}/{}/runs/{}",
                        circuit.owner_handle, circuit.name, run.id
                    )));
                }
                Err(ServiceError::NotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        if !is_canonical(&query, &filters.pairs()) {
            return Ok(Listed::Redirect(filters.href()));
        }
        let (rows, more) = ctx
            .service
            .operator_runs(&operator, filters.query())
            .await?;
        let next = more
            .then(|| {
                rows.last()
                    .map(|row| encode_cursor(row.run.created_at, row.run.id))
            })
            .flatten();
        let shell = visitor.shell(Some(&operator));
        Ok(Listed::Page(list_page(
            &shell,
            &filters,
            &rows,
            next,
            &ctx.service.rules().backends,
        )))
    }
    .await;
    match listed {
        Ok(Listed::Page(markup)) => html(markup),
        Ok(Listed::Redirect(to)) => redirect(&to, &[]),
        Err::<_, ApiError>(error) => error_page(&error),
    }
}

fn list_page(
    shell: &Shell,
    filters: &Filters,
    rows: &[OperatorRow],
    next: Option<String>,
    backends: &[BackendRules],
) -> Markup {
    let body = html! {
        h1 { "All runs" }
        (filter_form(filters, backends))
        @if rows.is_empty() {
            p.card id="no-runs" {
                @if filters.is_filtered() { "No run matches." } @else { "There are no runs yet." }
            }
        } @else {
            table.card.stack id="runs" {
                thead { tr {
                    th { "run" } th { "user" } th { "circuit" } th { "status" } th { "error class" }
                    th { "backend" } th { "node" } th { "created" } th { span.sr-only { "actions" } }
                } }
                tbody {
                    @for row in rows {
                        @let run = &row.run;
                        @let path = format!("/{}/{}", row.circuit.owner_handle, row.circuit.name);
                        tr {
                            td.mono.id data-label="run" { a href={ (path) "/runs/" (run.id) } { (run.id) } }
                            td data-label="user" { (row.submitter.handle) }
                            td data-label="circuit" { (row.circuit.owner_handle) "/" (row.circuit.name) }
                            td data-label="status" { (run_badge(run, None)) }
                            td.mono data-label="error class" { (error_class(run)) }
                            td.mono data-label="backend" { (run.spec.backend_type) "/" (run.spec.backend_name) }
                            td.mono.id data-label="node" { (run.claimed_by.as_deref().unwrap_or("—")) }
                            td data-label="created" { (time(Some(run.created_at))) }
                            td {
                                @if !run.status.is_terminal() {
                                    a href={ (LIST) "/" (run.id) "/cancel" } { "Cancel…" span.sr-only { " run " (run.id) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        nav.pages {
            @if filters.cursor.is_some() { a href=(filters.at(None).href()) { "← Newest" } }
            @if let Some(cursor) = next { a href=(filters.at(Some(cursor)).href()) rel="next" { "Older runs →" } }
        }
    };
    page(
        shell,
        "All runs",
        &Live::runs(rows.iter().map(|row| &row.run)),
        body,
    )
}

/// The filter form: a GET of this page (its empty fields are defaults, which the redirect to
/// the canonical URL drops).
fn filter_form(filters: &Filters, backends: &[BackendRules]) -> Markup {
    html! {
        form.filters method="get" action=(LIST) role="search" {
            label {
                span { "Run id or prefix" }
                input.mono type="search" name="q" placeholder="01a2…" value=[filters.q.as_ref().map(IdPrefix::as_str)];
            }
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
                span { "Error class" }
                select name="error_class" {
                    option value="" { "any" }
                    @for class in ErrorClass::ALL {
                        option value=(class.as_str()) selected[filters.error_class == Some(class)] { (class.as_str()) }
                    }
                }
            }
            (backend_select(filters.backend.as_ref(), backends))
            label {
                span { "User" }
                input type="text" name="user" placeholder="handle" value=[filters.user.as_deref()];
            }
            label {
                span { "Node" }
                input type="text" name="node" value=[filters.node.as_deref()];
            }
            label {
                span { "Created from (UTC)" }
                input type="datetime-local" name="since" step="1" value=[filters.since.map(show_time)];
            }
            label {
                span { "Created before (UTC)" }
                input type="datetime-local" name="until" step="1" value=[filters.until.map(show_time)];
            }
            (ended_since_input(filters.ended_since))
            label.check {
                input type="checkbox" name="stranded" value="true" checked[filters.stranded];
                span { "Stranded only" }
            }
            button type="submit" { "Search" }
            @if filters.is_filtered() { a href=(LIST) { "Clear" } }
        }
    }
}

/// `GET /admin/runs/{id}/cancel`: the run, and the form asking why.
async fn ask(id: String, visitor: Visitor, operator: User, ctx: Arc<Context>) -> Response {
    let shown = async {
        let (run, circuit) = ctx.service.run(Some(&operator), run_id(&id)?).await?;
        let submitter = ctx
            .service
            .submitter(Some(&operator), &run, &circuit)
            .await?;
        Ok::<_, ApiError>(cancel_page(
            &visitor.shell(Some(&operator)),
            &run,
            &circuit,
            submitter.as_ref(),
            None,
        ))
    }
    .await;
    match shown {
        Ok(markup) => html(markup),
        Err(error) => error_page(&error),
    }
}

/// `POST /admin/runs/{id}/cancel`: cancels, then back to the run's page.
async fn cancel(
    id: String,
    visitor: Visitor,
    operator: User,
    ctx: Arc<Context>,
    allowed: Result<(), ApiError>,
    form: Form,
) -> Response {
    let reason = form.get("reason").map(String::as_str).unwrap_or("");
    let cancelled = async {
        allowed?;
        let id = run_id(&id)?;
        match ctx.service.operator_cancel(&operator, id, reason).await {
            Ok((run, circuit)) => Ok(Ok(format!(
                "/{}/{}/runs/{}",
                circuit.owner_handle, circuit.name, run.id
            ))),
            Err(ServiceError::Invalid { code, message }) => {
                let (run, circuit) = ctx.service.run(Some(&operator), id).await?;
                let submitter = ctx
                    .service
                    .submitter(Some(&operator), &run, &circuit)
                    .await?;
                let problem = ApiError::bad_request(code, message);
                Ok(Err(cancel_page(
                    &visitor.shell(Some(&operator)),
                    &run,
                    &circuit,
                    submitter.as_ref(),
                    Some((&problem.message, reason)),
                )))
            }
            Err(err) => Err(ApiError::from(err)),
        }
    }
    .await;
    match cancelled {
        Ok(Ok(back)) => redirect(&back, &[]),
        Ok(Err(markup)) => respond(StatusCode::BAD_REQUEST, markup),
        Err(error) => error_page(&error),
    }
}

/// The cancel form for `run`; `problem` is a refused attempt's message and its reason.
fn cancel_page(
    shell: &Shell,
    run: &crate::domain::Run,
    circuit: &crate::domain::Circuit,
    submitter: Option<&User>,
    problem: Option<(&str, &str)>,
) -> Markup {
    let run_path = format!("/{}/{}/runs/{}", circuit.owner_handle, circuit.name, run.id);
    let body = html! {
        p.crumbs { a href=(LIST) { "All runs" } " / cancel" }
        h1 { "Cancel a run" }
        dl.facts.card {
            dt { "run" } dd.mono.id { a href=(run_path) { (run.id) } }
            dt { "status" } dd { (run_badge(run, None)) }
            dt { "circuit" } dd { (circuit.owner_handle) "/" (circuit.name) }
            @if let Some(user) = submitter { dt { "submitted by" } dd { (user.handle) } }
            dt { "created" } dd { (time(Some(run.created_at))) }
        }
        @if run.status.is_terminal() {
            p.card { "This run has already ended; there is nothing to cancel." }
        } @else {
            form.run.cancel method="post" action={ (LIST) "/" (run.id) "/cancel" } {
                @if let Some((message, _)) = problem {
                    p.problem id="problem" role="alert" { (message) }
                }
                label for="reason" { "Reason (the audit keeps it; the run's page shows it)" }
                textarea id="reason" name="reason" rows="3" maxlength="500" required
                    aria-describedby=[problem.map(|_| "problem")] {
                    (problem.map(|(_, reason)| reason).unwrap_or(""))
                }
                button.danger type="submit" { "Cancel run" }
            }
        }
    };
    page(
        shell,
        &format!("Cancel run {}", run.id),
        &Live::none(),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::pages::query;

    #[test]
    fn filters_read_the_url_and_links_keep_only_what_filters() {
        let filters = Filters::parse(&query(&[
            ("status", "failed"),
            ("error_class", "timeout"),
            ("user", "bob"),
            ("node", "n-1"),
            ("since", "2026-12-06T10:00"),
            ("until", "2026-12-06T11:00:30Z"),
            ("ended_since", "2026-12-06T10:30"),
            ("stranded", "true"),
            ("q", "01A2-25"),
            ("sort", "asc"),
        ]))
        .unwrap();
        assert_eq!(filters.error_class, Some(ErrorClass::Timeout));
        assert_eq!(
            filters.href(),
            "/admin/runs?status=failed&user=bob&node=n-1&error_class=timeout\
             &since=2026-12-06T10%3A00&until=2026-12-06T11%3A00%3A30\
             &ended_since=2026-12-06T10%3A30&stranded=true&q=01a225"
        );
        assert!(filters.is_filtered());
        assert!(!Filters::default().is_filtered());
        for (pairs, key) in [
            (&[("status", "Failed")][..], "status"),
            (&[("error_class", "oops")], "error_class"),
            (&[("since", "yesterday")], "since"),
            (&[("until", "2026-13-01T00:00")], "until"),
            (&[("ended_since", "an hour ago")], "ended_since"),
            (&[("stranded", "yes")], "stranded"),
            (&[("q", "01g")], "q"),
            (&[("backend", "statevector")], "backend"),
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
}
