//! `GET /`: the dashboard. Runs pending and running now, stranded runs, the pending queue's
//! oldest age; the last hour's endings by status, by framework and by error class, and minute
//! by minute (runs completed and failed, queue depth: `service::history`), as small SVG
//! charts. Each count's tile links to the runs list filtered by its status (`/runs?status=…`). Public counts, never an id (like `/api/health/runs`); the numbers come from the
//! service's shared snapshot (`Service::dashboard`), and the page refreshes them every few
//! seconds while open.

use std::sync::Arc;

use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::charts::{Bar, Column, Row, bars, columns};
use super::layout::{Live, Shell, page, seconds, time};
use super::{Visitor, render, visitor};
use crate::domain::RunStatus;
use crate::http::Context;
use crate::http::extract::with_context;
use crate::service::dashboard::{Dashboard, WINDOW};
use crate::service::history::Minute;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::end()
        .and(crate::http::get_or_head())
        .and(visitor())
        .and(with_context(ctx))
        .then(handle)
}

async fn handle(visitor: Visitor, ctx: Arc<Context>) -> Response {
    render(
        async {
            let viewer = visitor.viewer(&ctx).await?;
            let dashboard = ctx.service.dashboard().await?;
            Ok(dashboard_page(&visitor.shell(viewer.as_ref()), &dashboard))
        }
        .await,
    )
}

fn dashboard_page(shell: &Shell, d: &Dashboard) -> Markup {
    let health = &d.health;
    let finished = |status: RunStatus| d.finished.get(&status).copied().unwrap_or(0);
    let hour = format!("last {} min", WINDOW.num_minutes());
    let body = html! {
        h1 { "Dashboard" }
        p.note { "As of " (time(Some(health.checked_at))) "; the numbers follow while the page is open." }
        section.tiles {
            (tile("pending", RunStatus::Pending, health.pending, "now", None))
            (tile("running", RunStatus::Running, health.running, "now", None))
            (tile("stranded", RunStatus::Running, health.stranded,
                &format!("running over {}", window(health.window_s)),
                (health.stranded > 0).then_some("warn")))
            (tile("completed", RunStatus::Completed, finished(RunStatus::Completed), &hour, None))
            (tile("failed", RunStatus::Failed, finished(RunStatus::Failed), &hour, None))
            (tile("cancelled", RunStatus::Cancelled, finished(RunStatus::Cancelled), &hour, None))
        }
        p id="oldest-pending" {
            "Oldest pending run: "
            @match health.oldest_pending_age_s {
                Some(age) => { strong { (seconds(age)) } " in the queue." }
                None => { "none waiting." }
            }
        }
        section.card {
            h2 { "Queue by backend" }
            table {
                thead { tr { th { "backend" } th { "pending" } } }
                tbody {
                    @for (backend, n) in &d.queues {
                        tr { td.mono { (backend) } td id={ "queue-" (backend) } { (n) } }
                    }
                }
            }
        }
        div.charts {
            section.card {
                h2 { "Completed and failed per minute, " (hour) }
                (columns("runs completed and failed per minute over the last hour", &ending_columns(&d.history), &hour_ago(d), "now"))
                p.legend { span.key.ok {} "completed " span.key.bad {} "failed" }
            }
            section.card {
                h2 { "Queue depth, " (hour) }
                (columns("runs pending, the most seen in each minute of the last hour", &depth_columns(&d.history), &hour_ago(d), "now"))
                p.legend { "Runs pending, the most seen in each minute (grey: no sample)." }
            }
            section.card {
                h2 { "Endings by framework, " (hour) }
                @if d.by_framework.is_empty() {
                    p.note { "No run completed or failed in the " (hour) "." }
                } @else {
                    (bars("completed and failed runs by framework", &framework_rows(d)))
                    p.legend { span.key.ok {} "completed " span.key.bad {} "failed" }
                }
            }
            section.card {
                h2 { "Failures by error class, " (hour) }
                @if d.failures.iter().all(|(_, n)| *n == 0) {
                    p.note { "No run failed in the " (hour) "." }
                } @else {
                    (bars("failed runs by error class", &failure_rows(d)))
                }
            }
        }
        @if shell.viewer.is_some() {
            p { a href="/runs" { "Your runs →" } }
        }
    };
    page(shell, "Dashboard", &Live::refreshing(), body)
}

/// The stranded window in words: whole minutes when it is.
fn window(seconds_: u64) -> String {
    if seconds_.is_multiple_of(60) {
        format!("{} min", seconds_ / 60)
    } else {
        seconds(seconds_ as f64)
    }
}

/// One number, linking to the runs list filtered by `status`: `id="count-{key}"` holds it.
fn tile(key: &str, status: RunStatus, value: u64, detail: &str, class: Option<&str>) -> Markup {
    html! {
        a class={ "tile card " (class.unwrap_or("")) } href={ "/runs?status=" (status.as_str()) } {
            div.label { span class={ "dot s-" (key) } {} (key) }
            div.count id={ "count-" (key) } { (value) }
            div.note { (detail) }
        }
    }
}

/// The time the history starts, as the charts' left label.
fn hour_ago(d: &Dashboard) -> String {
    d.history
        .first()
        .map(|m| m.start.format("%H:%M UTC").to_string())
        .unwrap_or_default()
}

fn ending_columns(history: &[Minute]) -> Vec<Column> {
    history
        .iter()
        .map(|m| Column {
            label: m.start.format("%H:%M UTC").to_string(),
            parts: Some(vec![
                Bar {
                    value: m.completed,
                    class: "ok",
                    what: "completed",
                },
                Bar {
                    value: m.failed,
                    class: "bad",
                    what: "failed",
                },
            ]),
        })
        .collect()
}

fn depth_columns(history: &[Minute]) -> Vec<Column> {
    history
        .iter()
        .map(|m| Column {
            label: m.start.format("%H:%M UTC").to_string(),
            parts: m.queue_depth.map(|n| {
                vec![Bar {
                    value: n,
                    class: "depth",
                    what: "pending",
                }]
            }),
        })
        .collect()
}

fn framework_rows(d: &Dashboard) -> Vec<Row> {
    d.by_framework
        .iter()
        .map(|f| Row {
            label: f.framework.clone(),
            bars: vec![
                Bar {
                    value: f.completed,
                    class: "ok",
                    what: "completed",
                },
                Bar {
                    value: f.failed,
                    class: "bad",
                    what: "failed",
                },
            ],
        })
        .collect()
}

fn failure_rows(d: &Dashboard) -> Vec<Row> {
    d.failures
        .iter()
        .map(|(class, n)| Row {
            label: class.as_str().to_owned(),
            bars: vec![Bar {
                value: *n,
                class: "bad",
                what: "failed",
            }],
        })
        .collect()
}
