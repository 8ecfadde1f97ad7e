//! A job's runs together (issue 30): `GET /jobs/{id}` — its tags, status, usage and each run
//! in submission order with its name (Qiskit's `circuit.name`), its circuit, a live badge and
//! links — through `Service::job` as `GET /api/jobs/{id}`: a job is its user's alone, so
//! another's (or a malformed id) is 404. `GET /jobs[?tag=…&cursor=…]` lists the signed-in
//! user's jobs, newest first, [`PAGE`] at a time, as `GET /api/jobs` does.

use std::sync::Arc;

use maud::{Markup, html};
use uuid::Uuid;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{Live, Shell, duration, page, run_badge, seconds, time};
use super::{Visitor, href, render, visitor};
use crate::domain::{Circuit, Job, JobSummary};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{check_query_value, path_id, with_context};
use crate::http::runs::{decode_cursor, encode_cursor};
use crate::http::views::JobView;

/// Jobs per page.
pub const PAGE: u64 = 25;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("jobs")
        .and(crate::http::get_or_head())
        .and(
            warp::query::<Vec<(String, String)>>()
                .or(warp::any().map(Vec::new))
                .unify(),
        )
        .and(visitor())
        .and(with_context(ctx.clone()))
        .then(list);
    let show = warp::path!("jobs" / String)
        .and(crate::http::get_or_head())
        .and(visitor())
        .and(with_context(ctx))
        .then(show);
    list.or(show).unify()
}

async fn show(id: String, visitor: Visitor, ctx: Arc<Context>) -> Response {
    render(
        async {
            let user = visitor.user(&ctx).await?;
            let job = ctx.service.job(&user, path_id(&id, "job")?).await?;
            Ok(job_page(
                &visitor.shell(Some(&user)),
                &job.job,
                &job.circuits,
            ))
        }
        .await,
    )
}

/// A job's id shortened for a title or a table: its first 8 and last 4 hex digits.
fn short(id: Uuid) -> String {
    let id = id.simple().to_string();
    format!("{}…{}", &id[..8], &id[id.len() - 4..])
}

fn job_page(shell: &Shell, job: &Job, circuits: &[Circuit]) -> Markup {
    let view = JobView::new(job, circuits);
    let body = html! {
        p.crumbs { a href="/jobs" { "My jobs" } }
        h1 {
            "Job " span.mono { (short(job.id)) }
            span class={ "badge s-" (view.status) } id="job-status" { (view.status) }
        }
        dl.facts.card {
            dt { "id" } dd.mono { (job.id) }
            dt { "tags" } dd {
                @if job.tags.is_empty() { "none" }
                @for tag in &job.tags { span.tag { (tag) } " " }
            }
            dt { "submitted" } dd { (time(Some(job.created_at))) }
            dt { "runs" } dd {
                (job.runs.len()) " ("
                @for (i, (status, n)) in view.status_counts.iter().filter(|(_, n)| **n > 0).enumerate() {
                    @if i > 0 { ", " }
                    (n) " " (status)
                }
                ")"
            }
            dt { "usage" } dd { (seconds(view.usage.seconds)) " of execution" }
        }
        h2 { "Runs" }
        div.scroll {
            table.card id="job-runs" {
                thead { tr { th.num { "#" } th { "name" } th { "circuit" } th { "run" } th { "status" } th { "backend" } th.num { "shots" } th { "duration" } } }
                tbody {
                    @for (i, (member, circuit)) in job.runs.iter().zip(circuits).enumerate() {
                        @let path = format!("/{}/{}", circuit.owner_handle, circuit.name);
                        @let run = &member.run;
                        tr {
                            td.num { (i) }
                            td { @match &member.name { Some(name) => { (name) }, None => { span.note { "—" } } } }
                            td { a href={ (path) "?version=" (run.spec.circuit_version) } { (circuit.owner_handle) "/" (circuit.name) } " v" (run.spec.circuit_version) }
                            td.mono { a href={ (path) "/runs/" (run.id) } { (short(run.id)) } }
                            td { (run_badge(run, None)) }
                            td.mono { (run.spec.backend_type) "/" (run.spec.backend_name) }
                            td.num { (run.spec.shots) }
                            td { (duration(run.started_at, run.completed_at)) }
                        }
                    }
                }
            }
        }
    };
    page(
        shell,
        &format!("Job {}", short(job.id)),
        &Live::runs(job.runs.iter().map(|member| &member.run)),
        body,
    )
}

/// The list's query: a tag and a cursor, each `None` by default (an empty value too).
#[derive(Debug, Default, PartialEq, Eq)]
struct Listing {
    tag: Option<String>,
    cursor: Option<String>,
}

impl Listing {
    /// `tag` and `cursor` (one this page made, else 400); other keys are ignored.
    fn parse(query: &[(String, String)]) -> Result<Listing, ApiError> {
        let mut listing = Listing::default();
        for (key, value) in query {
            check_query_value(key, value)?;
            if value.trim().is_empty() {
                continue;
            }
            match key.as_str() {
                "tag" => listing.tag = Some(value.clone()),
                "cursor" => {
                    decode_cursor(value).ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_query",
                            "`cursor` must be a cursor this page made",
                        )
                    })?;
                    listing.cursor = Some(value.clone());
                }
                _ => {}
            }
        }
        Ok(listing)
    }

    /// This page's URL at `cursor`.
    fn href(&self, cursor: Option<&str>) -> String {
        href("/jobs", &[("tag", self.tag.as_deref()), ("cursor", cursor)])
    }
}

async fn list(query: Vec<(String, String)>, visitor: Visitor, ctx: Arc<Context>) -> Response {
    render(
        async {
            let user = visitor.user(&ctx).await?;
            let listing = Listing::parse(&query)?;
            let before = listing.cursor.as_deref().and_then(decode_cursor);
            let (jobs, more) = ctx
                .service
                .jobs(&user, listing.tag.as_deref(), before, PAGE)
                .await?;
            let next = more
                .then(|| jobs.last().map(|j| encode_cursor(j.created_at, j.id)))
                .flatten();
            Ok(jobs_page(
                &visitor.shell(Some(&user)),
                &listing,
                &jobs,
                next,
            ))
        }
        .await,
    )
}

fn jobs_page(
    shell: &Shell,
    listing: &Listing,
    jobs: &[JobSummary],
    next: Option<String>,
) -> Markup {
    let body = html! {
        h1 { "My jobs" }
        form.filters method="get" action="/jobs" role="search" {
            label {
                span { "Tag" }
                input type="text" name="tag" value=[listing.tag.as_deref()];
            }
            button type="submit" { "Filter" }
            @if listing.tag.is_some() { a href="/jobs" { "Clear" } }
        }
        @if jobs.is_empty() {
            p.card id="no-jobs" {
                @if listing.tag.is_some() { "No job has this tag." }
                @else { "No jobs yet: a job is a batch of runs submitted together (" code { "POST /api/jobs" } ", or Qiskit's " code { "backend.run([…])" } ")." }
            }
        } @else {
            div.scroll {
                table.card id="jobs" {
                    thead { tr { th { "job" } th { "tags" } th.num { "runs" } th { "submitted" } } }
                    tbody {
                        @for job in jobs {
                            tr {
                                td.mono { a href={ "/jobs/" (job.id) } { (short(job.id)) } }
                                td { @for tag in &job.tags { span.tag { (tag) } " " } }
                                td.num { (job.runs) }
                                td { (time(Some(job.created_at))) }
                            }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if listing.cursor.is_some() { a href=(listing.href(None)) { "← Newest" } }
            @if let Some(cursor) = next { a href=(listing.href(Some(&cursor))) rel="next" { "Older jobs →" } }
        }
    };
    page(shell, "My jobs", &Live::none(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_keeps_its_tag_across_pages() {
        let cursor = encode_cursor(chrono::Utc::now(), Uuid::now_v7());
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let listing = Listing::parse(&query(&[("tag", "exp 1"), ("cursor", &cursor)])).unwrap();
        assert_eq!(listing.href(None), "/jobs?tag=exp%201");
        assert_eq!(
            listing.href(Some(&cursor)),
            format!("/jobs?tag=exp%201&cursor={cursor}")
        );
        assert_eq!(
            Listing::parse(&query(&[("cursor", "!!")]))
                .unwrap_err()
                .message,
            "`cursor` must be a cursor this page made"
        );
    }
}
