//! `GET /{owner}/{circuit}/runs/{id}`: one run, as the seed's run page describes it. The
//! badge and every fact are server-rendered (the page is complete without JavaScript); while
//! the run is not terminal the page names its SSE stream and the live script follows it.

use std::sync::Arc;

use maud::{Markup, html};
use serde_json::Value;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::histogram::histogram;
use super::layout::{badge, duration, page, seconds, time};
use super::{Credentials, credentials, owner, render};
use crate::domain::{Circuit, Run, RunStatus, User};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::{run_id, with_context};
use crate::http::views::AuditEntryView;
use crate::service::access::sees_submitter;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    crate::http::get_or_head()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("runs"))
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(credentials())
        .and(with_context(ctx))
        .then(handle)
}

async fn handle(
    owner: String,
    name: String,
    id: String,
    credentials: Credentials,
    ctx: Arc<Context>,
) -> Response {
    render(
        async {
            let viewer = credentials.viewer(&ctx).await?;
            let (run, circuit, entries) =
                ctx.service.run_audit(viewer.as_ref(), run_id(&id)?).await?;
            // The run exists and may be seen, but only under its own circuit's path.
            if circuit.owner_handle != owner || circuit.name != name {
                return Err(ApiError::not_found("run"));
            }
            let submitter = ctx
                .service
                .submitter(viewer.as_ref(), &run, &circuit)
                .await?;
            let show = sees_submitter(viewer.as_ref(), &run, &circuit);
            let timeline: Vec<AuditEntryView> = entries
                .iter()
                .map(|entry| AuditEntryView::new(entry, show))
                .collect();
            Ok(run_page(&run, &circuit, submitter.as_ref(), &timeline))
        }
        .await,
    )
}

/// The whole page.
fn run_page(
    run: &Run,
    circuit: &Circuit,
    submitter: Option<&User>,
    timeline: &[AuditEntryView],
) -> Markup {
    let circuit_path = format!("/{}/{}", circuit.owner_handle, circuit.name);
    let events = (!run.status.is_terminal()).then(|| format!("/api/runs/{}/events", run.id));
    let body = html! {
        p.crumbs {
            (circuit.owner_handle) " / "
            a href=(circuit_path) { (circuit.name) } " / runs"
        }
        h1 { span.mono { "Run " (run.id) } (badge(run.status, Some("status"))) }
        @if events.is_some() {
            p.note { "This page follows the run live. "
                noscript { "Without JavaScript, reload it to see progress." } }
        }
        (facts(run, submitter))
        @match run.status {
            RunStatus::Completed => (results(run)),
            RunStatus::Failed => (failure(run)),
            RunStatus::Cancelled => (cancellation(run, submitter)),
            RunStatus::Pending | RunStatus::Running => {},
        }
        h2 { "Timeline" }
        (timeline_list(timeline))
    };
    page(
        &format!("Run {} · {}/{}", run.id, circuit.owner_handle, circuit.name),
        events.as_deref(),
        body,
    )
}

fn facts(run: &Run, submitter: Option<&User>) -> Markup {
    html! {
        dl.facts.card {
            dt { "framework" } dd { (run.framework) }
            dt { "backend" } dd.mono { (run.backend_type) "/" (run.backend_name) }
            dt { "shots" } dd { (run.shots) }
            dt { "circuit version" } dd { (run.circuit_version) }
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

fn results(run: &Run) -> Markup {
    let Some(results) = &run.results else {
        return html! {};
    };
    html! {
        h2 { "Results" }
        section.card id="results" {
            p {
                (results.unique_states) " distinct outcomes over " (results.shots) " shots, executed in "
                (seconds(results.execution_time)) "."
            }
            (histogram(&results.counts))
        }
    }
}

fn failure(run: &Run) -> Markup {
    html! {
        h2 { "Error" }
        section.card id="error" {
            dl.facts {
                dt { "class" } dd.mono { (run.error_class.map(|c| c.as_str()).unwrap_or("—")) }
                dt { "stage" } dd.mono { (run.error_stage.map(|s| s.as_str()).unwrap_or("—")) }
            }
            pre.error { (run.error_message.as_deref().unwrap_or("")) }
        }
    }
}

/// When; and who only to a viewer allowed to see the submitter (only the submitter may
/// cancel a run, so the canceller is the submitter).
fn cancellation(run: &Run, submitter: Option<&User>) -> Markup {
    html! {
        h2 { "Cancelled" }
        p.card id="cancelled" {
            "Cancelled at " (time(run.completed_at))
            @if let Some(user) = submitter { " by " (user.handle) }
            "."
        }
    }
}

fn timeline_list(entries: &[AuditEntryView]) -> Markup {
    html! {
        ol.timeline.card {
            @for entry in entries {
                li {
                    strong.mono { (entry.action) } " · " (time(Some(entry.created_at)))
                    div.meta {
                        @if let Value::Object(metadata) = &entry.metadata {
                            @for (key, value) in metadata {
                                span { (key) "=" span.mono { (plain(value)) } } " "
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A metadata value as text: strings without their JSON quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}
