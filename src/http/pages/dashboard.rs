//! `GET /`: the dashboard. Runs pending and running now, stranded runs, the pending queue's
//! oldest age; the last hour's endings by status, by framework and by error class, and minute
//! by minute (runs completed and failed, queue depth: `service::history`), as small SVG
//! charts. Public counts, never an id (like `/api/health/runs`); the numbers come from the
//! service's shared snapshot (`Service::dashboard`), and the page refreshes them every few
//! seconds while open.
//!
//! Each count's tile links to the runs it counts ([`tile_link`]): for an operator, every user's
//! on `/admin/runs` — by status, the last hour's endings by `ended_since` (the snapshot's hour),
//! the stranded ones by `stranded=true`; for another signed-in user, their own share on `/runs`
//! (status and `ended_since`; no list of theirs shows "stranded", so that tile has no link);
//! signed out, no links (each list needs a sign-in).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::charts::{Bar, Column, Row, bars, columns};
use super::layout::{Live, Shell, page, seconds, time};
use super::runs::show_time;
use super::{Visitor, href, render, visitor};
use crate::domain::{RunStatus, User};
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
    let hour = last_hour();
    let window_start = health.checked_at - WINDOW;
    let body = html! {
        h1 { "Dashboard" }
        p.note {
            "As of " (time(Some(health.checked_at))) "; the numbers follow while the page is open. "
            @match shell.viewer {
                Some(user) if user.is_operator() => { "Each count links to the runs it counts." }
                Some(_) => { "The counts are everyone's; each links to your own runs of its kind." }
                None => {}
            }
        }
        section.tiles {
            @for count in Count::ALL {
                (tile(count, d, tile_link(shell.viewer, count, window_start).as_deref()))
            }
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

/// The span of the last hour's counts, in words.
fn last_hour() -> String {
    format!("last {} min", WINDOW.num_minutes())
}

/// The stranded window in words: whole minutes when it is.
fn window(seconds_: u64) -> String {
    if seconds_.is_multiple_of(60) {
        format!("{} min", seconds_ / 60)
    } else {
        seconds(seconds_ as f64)
    }
}

/// What a tile counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Count {
    /// Runs pending now.
    Pending,
    /// Runs running now.
    Running,
    /// Running runs past the stranded window or their lease.
    Stranded,
    /// Runs that ended in this status within the last hour.
    Ended(RunStatus),
}

impl Count {
    /// The tiles, in order.
    const ALL: [Count; 6] = [
        Count::Pending,
        Count::Running,
        Count::Stranded,
        Count::Ended(RunStatus::Completed),
        Count::Ended(RunStatus::Failed),
        Count::Ended(RunStatus::Cancelled),
    ];

    fn key(self) -> &'static str {
        match self {
            Count::Pending => "pending",
            Count::Running => "running",
            Count::Stranded => "stranded",
            Count::Ended(status) => status.as_str(),
        }
    }

    /// Its number in `d`, and over what span.
    fn figure(self, d: &Dashboard) -> (u64, String) {
        let health = &d.health;
        match self {
            Count::Pending => (health.pending, "now".to_owned()),
            Count::Running => (health.running, "now".to_owned()),
            Count::Stranded => (
                health.stranded,
                format!("running over {}", window(health.window_s)),
            ),
            Count::Ended(status) => (d.finished.get(&status).copied().unwrap_or(0), last_hour()),
        }
    }
}

/// Where the tile of `count` leads `viewer` (see the module's documentation); `since` is where
/// the snapshot's last hour starts.
fn tile_link(viewer: Option<&User>, count: Count, since: DateTime<Utc>) -> Option<String> {
    let operator = viewer?.is_operator();
    let list = if operator { "/admin/runs" } else { "/runs" };
    let since = show_time(since);
    let filters = match count {
        Count::Pending | Count::Running => vec![("status", Some(count.key()))],
        Count::Ended(status) => vec![
            ("status", Some(status.as_str())),
            ("ended_since", Some(since.as_str())),
        ],
        Count::Stranded if operator => vec![("stranded", Some("true"))],
        Count::Stranded => return None,
    };
    Some(href(list, &filters))
}

/// One number of `d` (`id="count-{key}"` holds it), a link to what it counts when it has one.
fn tile(count: Count, d: &Dashboard, link: Option<&str>) -> Markup {
    let (value, span) = count.figure(d);
    let warn = count == Count::Stranded && value > 0;
    let class = if warn { "tile card warn" } else { "tile card" };
    let inside = html! {
        div.label { span class={ "dot s-" (count.key()) } {} (count.key()) }
        div.count id={ "count-" (count.key()) } { (value) }
        div.note { (span) }
    };
    html! {
        @match link {
            Some(link) => a class=(class) href=(link) { (inside) },
            None => div class=(class) { (inside) },
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
