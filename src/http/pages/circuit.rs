//! `GET /{owner}/{circuit}`: a circuit's most recent runs, newest first, each linking to its
//! run page. A private circuit's index is 404 to everyone but its owner, like its runs.

use std::sync::Arc;

use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{badge, page, time};
use super::{Credentials, credentials, owner, render};
use crate::domain::{Circuit, Run};
use crate::http::Context;
use crate::http::extract::with_context;

/// Runs listed at most (one index range scan of `runs_circuit_created_idx`).
pub const RECENT: u64 = 50;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    crate::http::get_or_head()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(credentials())
        .and(with_context(ctx))
        .then(handle)
}

async fn handle(
    owner: String,
    name: String,
    credentials: Credentials,
    ctx: Arc<Context>,
) -> Response {
    render(
        async {
            let viewer = credentials.viewer(&ctx).await?;
            let (circuit, runs) = ctx
                .service
                .recent_runs_of_circuit(viewer.as_ref(), &owner, &name, RECENT)
                .await?;
            Ok(index(&circuit, &runs))
        }
        .await,
    )
}

fn index(circuit: &Circuit, runs: &[Run]) -> Markup {
    let path = format!("/{}/{}", circuit.owner_handle, circuit.name);
    let body = html! {
        p.crumbs { (circuit.owner_handle) " / " (circuit.name) " · " (circuit.visibility.as_str()) }
        h1 { (circuit.owner_handle) "/" (circuit.name) }
        h2 { "Recent runs" }
        @if runs.is_empty() {
            p.card { "No runs yet." }
        } @else {
            table.card {
                thead { tr { th { "run" } th { "status" } th { "backend" } th.num { "shots" } th { "created" } } }
                tbody {
                    @for run in runs {
                        tr {
                            td.mono { a href={ (path) "/runs/" (run.id) } { (run.id) } }
                            td { (badge(run.status, None)) }
                            td.mono { (run.backend_type) "/" (run.backend_name) }
                            td.num { (run.shots) }
                            td { (time(Some(run.created_at))) }
                        }
                    }
                }
            }
            @if runs.len() as u64 == RECENT {
                p.note { "The " (RECENT) " most recent runs." }
            }
        }
    };
    page(
        &format!("{}/{}", circuit.owner_handle, circuit.name),
        None,
        body,
    )
}
