//! `GET /api/runs/{id}/events`: a run's status as server-sent events. The first event is the
//! current state; each change follows; the stream ends after the terminal event. Changes
//! committed on this node arrive at once (the Recorder's broadcast); a slow poll catches
//! changes committed by other nodes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::broadcast;
use uuid::Uuid;
use warp::reply::Response;
use warp::sse::Event;
use warp::{Filter, Rejection, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::extract::{reading_viewer, run_id, with_context};
use super::views::RunView;
use crate::domain::{RunStatus, User};
use crate::http::Context;
use crate::service::RunChange;
use crate::service::access::sees_submitter;

/// How often the stream re-reads the run, for changes made on other nodes.
const POLL: Duration = Duration::from_secs(1);

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "runs" / String / "events")
        .and(crate::http::get_or_head())
        .and(reading_viewer(ctx.clone()))
        .and(with_context(ctx))
        .then(events)
}

/// Live status of a run (text/event-stream). Each `status` event carries the run as JSON.
#[utoipa::path(
    get, path = "/api/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "`status` events, each a run; ends after the terminal one", content_type = "text/event-stream", body = RunView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn events(id: String, viewer: Option<User>, ctx: Arc<Context>) -> Response {
    let opened = async {
        let id = run_id(&id)?;
        // Subscribe before the first read, so no change can slip between them.
        let changes = ctx.service.changes();
        let (run, circuit) = ctx.service.run(viewer.as_ref(), id).await?;
        let show = sees_submitter(viewer.as_ref(), &run, &circuit);
        Ok::<_, ApiError>((id, changes, RunView::new(&run, &circuit, show), show))
    }
    .await;
    match opened {
        Ok((id, changes, first, show)) => {
            let stream = status_stream(ctx, viewer, id, changes, first, show);
            warp::sse::reply(warp::sse::keep_alive().stream(stream)).into_response()
        }
        Err(error) => respond::<Response>(Err(error)),
    }
}

/// Streams the run's status: a task watches the run and feeds a channel; the response reads
/// the channel. When the client goes away the channel closes and the task ends.
fn status_stream(
    ctx: Arc<Context>,
    viewer: Option<User>,
    id: Uuid,
    mut changes: broadcast::Receiver<RunChange>,
    first: RunView,
    show: bool,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + Sync + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(8);
    tokio::spawn(async move {
        let mut next = Some(first);
        while let Some(view) = next.take() {
            let terminal = view
                .status
                .parse::<RunStatus>()
                .is_ok_and(RunStatus::is_terminal);
            let last = view.status.clone();
            let event = Event::default()
                .event("status")
                .json_data(&view)
                .unwrap_or_else(|_| Event::default().event("status"));
            if tx.send(event).await.is_err() || terminal {
                return;
            }
            while next.is_none() {
                // A change of this run (or a lag), or the poll interval.
                let woke = tokio::time::timeout(POLL, async {
                    loop {
                        match changes.recv().await {
                            Ok(change) if change.run_id == id => return true,
                            Ok(_) => continue,
                            Err(broadcast::error::RecvError::Lagged(_)) => return true,
                            Err(broadcast::error::RecvError::Closed) => return false,
                        }
                    }
                })
                .await;
                if woke == Ok(false) || tx.is_closed() {
                    return;
                }
                let Ok((run, circuit)) = ctx.service.run(viewer.as_ref(), id).await else {
                    return;
                };
                if run.status.as_str() != last {
                    next = Some(RunView::new(&run, &circuit, show));
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    })
}
