//! `GET /{owner}/{circuit}/runs/{id}`: one run, as the seed's run page describes it. The
//! badge and every fact are server-rendered (the page is complete without JavaScript); while
//! the run is not terminal the page names its SSE stream and the live script follows it.
//! Signed in, the page offers "Run again" (the run form's post, with this run's settings) and,
//! to the submitter while the run is live, "Cancel" (`POST …/runs/{id}/cancel`); to an
//! operator, another user's live run links to `/admin/runs/{id}/cancel`, and the timeline is
//! the full audit (nodes included: `sees_submitter`). With the
//! visitor's consent, a view records the seed's `run_viewed_shared_link` (see `consent`).
//! Times are UTC in `<time datetime>` (the page script shows them in the viewer's zone); the
//! timeline reads as sentences (`timeline`); a completed run links its counts as JSON and CSV
//! (`downloads`); a failed run's `LINE:COL` links to that line of the version that ran.

use std::sync::Arc;

use maud::{Markup, html};
use serde_json::Value;
use warp::http::{HeaderValue, Method};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::histogram::histogram;
use super::layout::{Live, Shell, duration, error_page, html, page, run_badge, seconds, time};
use super::timeline::timeline;
use super::{Visitor, consent, form, owner, redirect, same_origin, visitor};
use crate::domain::{Circuit, QueueStanding, Run, RunStatus, User};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{run_id, with_context};
use crate::http::views::AuditEntryView;
use crate::service::access::sees_submitter;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let show = crate::http::get_or_head()
        .and(warp::method())
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("runs"))
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(visitor())
        .and(with_context(ctx.clone()))
        .then(show);
    let cancel = warp::post()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("runs"))
        .and(warp::path::param::<String>())
        .and(warp::path("cancel"))
        .and(warp::path::end())
        .and(same_origin())
        .and(visitor())
        .and(with_context(ctx))
        .then(cancel);
    show.or(cancel).unify()
}

/// The page; with the visitor's consent, a GET also records the view (and starts the browser
/// session that deduplicates it, if there is none yet).
async fn show(
    method: Method,
    owner: String,
    name: String,
    id: String,
    visitor: Visitor,
    ctx: Arc<Context>,
) -> Response {
    let shown = async {
        let viewer = visitor.viewer(&ctx).await?;
        let (run, circuit, entries) = ctx.service.run_audit(viewer.as_ref(), run_id(&id)?).await?;
        // The run exists and may be seen, but only under its own circuit's path.
        if circuit.owner_handle != owner || circuit.name != name {
            return Err(ApiError::not_found("run"));
        }
        let submitter = ctx
            .service
            .submitter(viewer.as_ref(), &run, &circuit)
            .await?;
        let show = sees_submitter(viewer.as_ref(), &run, &circuit);
        let standing = ctx.service.standing(&run).await?;
        let job = ctx.service.job_of_run(viewer.as_ref(), &run).await?;
        let timeline: Vec<AuditEntryView> = entries
            .iter()
            .map(|entry| AuditEntryView::new(entry, show))
            .collect();
        let new_session = if method == Method::GET && visitor.consented() {
            record_view(&ctx, viewer.as_ref(), &run, &visitor).await
        } else {
            None
        };
        let markup = run_page(
            &visitor.shell(viewer.as_ref()),
            &run,
            &circuit,
            submitter.as_ref(),
            standing.as_ref(),
            &timeline,
            job,
        );
        Ok((markup, new_session))
    }
    .await;
    match shown {
        Ok((markup, new_session)) => {
            let mut response = html(markup);
            if let Some(cookie) = new_session.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert("set-cookie", cookie);
            }
            response
        }
        Err(error) => error_page(&error),
    }
}

/// Records a consenting visitor's view of `run` (failures are logged: analytics never stand
/// between a person and the page); the cookie of the browser session it started, if it had
/// none.
async fn record_view(
    ctx: &Context,
    viewer: Option<&User>,
    run: &Run,
    visitor: &Visitor,
) -> Option<String> {
    let (session, cookie) = match visitor.session() {
        Some(session) => (session, None),
        None => {
            let (session, cookie) = consent::new_session(ctx);
            (session, Some(cookie))
        }
    };
    if let Err(error) = ctx.service.record_run_view(viewer, run, session).await {
        tracing::warn!(run_id = %run.id, %error, "the run page's view was not recorded");
    }
    cookie
}

/// "Cancel" on the run page: the submitter's, while the run is not terminal; back to the run
/// page (303). The API's answers otherwise, as pages: 401 without a session, 404 for a run
/// the caller may not see or under another path, 403 for someone else's run, 409 when it
/// already ended.
async fn cancel(
    owner: String,
    name: String,
    id: String,
    allowed: Result<(), ApiError>,
    visitor: Visitor,
    ctx: Arc<Context>,
) -> Response {
    let cancelled = async {
        allowed?;
        let user = visitor.user(&ctx).await?;
        let id = run_id(&id)?;
        let (_, circuit) = ctx.service.run(Some(&user), id).await?;
        if circuit.owner_handle != owner || circuit.name != name {
            return Err(ApiError::not_found("run"));
        }
        ctx.service.cancel(&user, id).await?;
        Ok(format!("/{owner}/{name}/runs/{id}"))
    }
    .await;
    match cancelled {
        Ok(back) => redirect(&back, &[]),
        Err(error) => error_page(&error),
    }
}

/// The whole page.
fn run_page(
    shell: &Shell,
    run: &Run,
    circuit: &Circuit,
    submitter: Option<&User>,
    standing: Option<&QueueStanding>,
    timeline: &[AuditEntryView],
    job: Option<(uuid::Uuid, Option<String>)>,
) -> Markup {
    let circuit_path = format!("/{}/{}", circuit.owner_handle, circuit.name);
    let live = Live::runs([run]);
    let cancellable =
        !run.status.is_terminal() && shell.viewer.is_some_and(|v| v.id == run.user_id);
    // Another user's live run, for an operator: cancelling it asks for a reason.
    let operator_cancels =
        !run.status.is_terminal() && !cancellable && shell.viewer.is_some_and(User::is_operator);
    let body = html! {
        p.crumbs {
            (circuit.owner_handle) " / "
            a href=(circuit_path) { (circuit.name) } " / runs"
        }
        h1 { span.mono { "Run " (run.id) } (run_badge(run, Some("status"))) }
        @if let Some((job, name)) = job {
            p id="job" {
                @if let Some(name) = name { "Run " strong { (name) } " of " } @else { "One of the runs of " }
                a href={ "/jobs/" (job) } { "job " span.mono { (job) } } "."
            }
        }
        @if !run.status.is_terminal() {
            p.note { "This page follows the run live. "
                noscript { "Without JavaScript, reload it to see progress." } }
        }
        @if shell.viewer.is_some() {
            div.actions {
                @if cancellable {
                    form.inline method="post" action={ (circuit_path) "/runs/" (run.id) "/cancel" } {
                        button.danger type="submit" { "Cancel run" }
                    }
                }
                @if operator_cancels {
                    a href={ "/admin/runs/" (run.id) "/cancel" } { "Cancel as operator…" }
                }
                (form::run_again(circuit, run))
            }
        }
        (facts(run, submitter, standing))
        @match run.status {
            RunStatus::Completed => (results(run, &circuit_path)),
            RunStatus::Failed => (failure(run, &circuit_path)),
            RunStatus::Cancelled => (cancellation(run, submitter, timeline)),
            RunStatus::Pending | RunStatus::Running => {},
        }
        h2 { "Timeline" }
        (self::timeline(timeline))
    };
    page(
        shell,
        &format!("Run {} · {}/{}", run.id, circuit.owner_handle, circuit.name),
        &live,
        body,
    )
}

fn facts(run: &Run, submitter: Option<&User>, standing: Option<&QueueStanding>) -> Markup {
    html! {
        dl.facts.card {
            @if let Some(standing) = standing {
                dt { "queue position" }
                dd id="queue-position" {
                    (standing.position)
                    @if standing.position == 1 { " (next to start)" }
                    @if let Some(at) = standing.estimated_start_at {
                        " · estimated start " (time(Some(at)))
                    }
                }
            }
            dt { "framework" } dd { (run.spec.framework) }
            dt { "backend" } dd.mono { (run.spec.backend_type) "/" (run.spec.backend_name) }
            dt { "shots" } dd { (run.spec.shots) }
            dt { "circuit version" } dd { (run.spec.circuit_version) }
            @if !run.spec.parameters.is_empty() {
                dt { "parameters" }
                dd.mono {
                    @for (i, (name, value)) in run.spec.parameters.iter().enumerate() {
                        @if i > 0 { ", " }
                        (name) " = " (value)
                    }
                }
            }
            @if let Some(seed) = run.spec.seed {
                dt { "seed" } dd.mono { (seed) }
            }
            @if let Some(user) = submitter {
                dt { "submitted by" } dd { (user.handle) }
            }
            dt { "created" } dd { (time(Some(run.created_at))) }
            dt { "started" } dd { (time(run.started_at)) }
            dt { "finished" } dd { (time(run.completed_at)) }
            dt { "queue wait" } dd { (duration(Some(run.created_at), run.started_at)) }
            dt { "duration" } dd { (duration(run.started_at, run.completed_at)) }
        }
    }
}

fn results(run: &Run, circuit_path: &str) -> Markup {
    let Some(results) = &run.results else {
        return html! {};
    };
    let file = format!("{circuit_path}/runs/{}/counts", run.id);
    html! {
        h2 { "Results" }
        section.card id="results" {
            p {
                (results.unique_states) " distinct outcomes over " (results.shots) " shots, executed in "
                (seconds(results.execution_time)) "."
            }
            (histogram(&results.counts))
            p.downloads {
                "Download the counts: "
                a href={ (file) ".json" } download { "JSON" }
                a href={ (file) ".csv" } download { "CSV" }
            }
        }
    }
}

/// The error; a message that starts with a source position (`LINE:COL: …`, as the engine
/// reports it) links that position to its line of the circuit version that ran.
fn failure(run: &Run, circuit_path: &str) -> Markup {
    let message = run.error_message.as_deref().unwrap_or("");
    let position = source_position(message);
    html! {
        h2 { "Error" }
        section.card id="error" {
            dl.facts {
                dt { "class" } dd.mono { (run.error_class.map(|c| c.as_str()).unwrap_or("—")) }
                dt { "stage" } dd.mono { (run.error_stage.map(|s| s.as_str()).unwrap_or("—")) }
            }
            pre.error {
                @match position {
                    Some((line, at)) => {
                        a href={ (circuit_path) "?version=" (run.spec.circuit_version) "#L" (line) }
                            title={ "line " (line) " of version " (run.spec.circuit_version) } { (at) }
                        (message[at.len()..])
                    }
                    None => (message),
                }
            }
        }
    }
}

/// When, and by whom: an operator (the audit says so, with the reason one gave in the
/// console), or the submitter (only the submitter cancels through the API and the pages),
/// named only to a viewer allowed to see them.
fn cancellation(run: &Run, submitter: Option<&User>, timeline: &[AuditEntryView]) -> Markup {
    let by_operator = timeline.iter().find(|entry| {
        entry.action == "run.cancelled"
            && entry.metadata.get("by") == Some(&Value::from("operator"))
    });
    let reason = by_operator
        .and_then(|entry| entry.metadata.get("reason"))
        .and_then(Value::as_str);
    html! {
        h2 { "Cancelled" }
        p.card id="cancelled" {
            "Cancelled at " (time(run.completed_at))
            @if by_operator.is_some() {
                " by an operator"
            } @else if let Some(user) = submitter {
                " by " (user.handle)
            }
            "."
            @if let Some(reason) = reason {
                " Reason: " q id="cancel-reason" { (reason) }
            }
        }
    }
}

/// The `LINE:COL` a message starts with (`"13:1: unknown gate"`): the line and the position's
/// text; `None` for a message without one.
fn source_position(message: &str) -> Option<(u32, &str)> {
    let mut parts = message.splitn(3, ':');
    let (line, col) = (parts.next()?, parts.next()?);
    parts.next()?;
    let number: u32 = line.parse().ok().filter(|n| *n > 0)?;
    col.parse::<u32>().ok()?;
    Some((number, &message[..line.len() + 1 + col.len()]))
}

#[cfg(test)]
mod tests {
    use super::source_position;

    #[test]
    fn a_position_is_read_only_at_the_start() {
        assert_eq!(
            source_position("13:1: unknown gate foo"),
            Some((13, "13:1"))
        );
        assert_eq!(source_position("2:17: expected ';'"), Some((2, "2:17")));
        for none in [
            "the device is down",
            "0:1: x",
            "a:1: x",
            "13: x",
            "13:x: y",
            "",
        ] {
            assert_eq!(source_position(none), None, "{none}");
        }
    }
}
