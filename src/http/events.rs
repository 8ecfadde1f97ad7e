//! `GET /api/runs/{id}/events`: a run's status as server-sent events. The first event is the
//! current state; each change follows; the stream ends after the terminal event. Changes
//! committed on this node arrive at once (the Recorder's broadcast); a slow poll catches
//! changes committed by other nodes.
//!
//! While the run is pending, a `queue` event (`{"queue_position", "estimated_start_at"}`)
//! follows each move of its place in the queue (read with each poll and change).
//!
//! Each `status` event's id is the status it carries, and the first asks clients to reconnect
//! after [`RECONNECT`] (`retry:`): a client that reconnects with `Last-Event-ID` naming the
//! current status is not sent it again — and if that status is terminal, the answer is `204
//! No Content`, which tells an `EventSource` to stop reconnecting (WHATWG HTML, "Server-sent
//! events": a 204 fails the connection for good).
//!
//! When the node starts shutting down (`Context::stopping`), every open stream sends a final
//! `shutdown` event (`retry:` [`RECONNECT`], data `{"retry_ms"}`) and ends, so no stream holds
//! the node up; the client reconnects, through the load balancer, to a node that serves. A read that fails because the database is unavailable
//! is retried with backoff for up to [`GIVE_UP_AFTER`] — the run's ending still arrives after
//! an outage — and past that, or on any other failure, the stream sends one `error` event
//! (`{"error": {"code", "message"}}`, as the API's error bodies) and ends.
//!
//! An open stream keeps checking the credential it was opened with (the bearer token or the
//! console's session cookie) whenever it wakes, at least every [`POLL`]: once the credential is
//! revoked or expired or its user disabled, the stream sends an `error` event (401
//! `unauthorized`) and ends — within [`POLL`] on the node that revoked it, and within
//! `auth.token_cache_ttl_s` plus [`POLL`] elsewhere (`service::auth`). A check the database
//! cannot answer for now leaves the stream open until the next.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;
use warp::reply::Response;
use warp::sse::Event;
use warp::{Filter, Rejection, Reply};

use super::error::{ApiError, ErrorBody, Kind, respond};
use super::extract::{Presented, reading_viewer, run_id, with_context};
use super::views::RunView;
use crate::domain::{Circuit, QueueStanding, Run, RunStatus, User};
use crate::http::Context;
use crate::service::access::sees_submitter;
use crate::service::{ServiceError, StatusChange};

/// How often the stream re-reads the run, for changes made on other nodes, and checks its
/// credential again.
const POLL: Duration = Duration::from_secs(1);
/// The reconnection delay the stream asks of clients (`retry:`).
pub const RECONNECT: Duration = Duration::from_secs(2);
/// How long a read failing with an unavailable database is retried before the stream ends
/// with an `error` event.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
/// The longest wait between two retries of a failing read.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "runs" / String / "events")
        .and(crate::http::get_or_head())
        .and(reading_viewer(ctx.clone()))
        .and(warp::header::optional::<String>("last-event-id"))
        .and(with_context(ctx))
        .then(events)
}

/// Live status of a run (text/event-stream). Each `status` event carries the run as JSON and
/// has the status as its id; an `error` event (an error body) ends a stream that cannot go on.
#[utoipa::path(
    get, path = "/api/runs/{id}/events", tag = "runs",
    params(
        ("id" = String, Path, format = Uuid, description = "Run id (a malformed one is a 404)"),
        // Any value a header can hold (visible ASCII, spaces and tabs; anything else is a 400).
        ("Last-Event-ID" = Option<String>, Header, pattern = "^[\\t -~]*$", description = "The id of the last event received (a status): it is not sent again"),
    ),
    responses(
        (status = 200, description = "`status` events, each a run; while it is pending, `queue` events (`{queue_position, estimated_start_at}`) as its place moves; ends after the terminal one, or with a `shutdown` event (`{retry_ms}`, and `retry:`) when the node stops", content_type = "text/event-stream", body = RunView),
        (status = 204, description = "`Last-Event-ID` is the run's terminal status: nothing more will come (an `EventSource` stops reconnecting)"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn events(
    id: String,
    viewer: Option<User>,
    presented: Presented,
    last_event_id: Option<String>,
    ctx: Arc<Context>,
) -> Response {
    let opened = async {
        let id = run_id(&id)?;
        // Subscribe before the first read, so no change can slip between them.
        let changes = ctx.service.changes();
        let (run, circuit) = ctx.service.run(viewer.as_ref(), id).await?;
        let standing = ctx.service.standing(&run).await?;
        let show = sees_submitter(viewer.as_ref(), &run, &circuit);
        let first = RunView::new(&run, &circuit, show, standing.as_ref());
        Ok::<_, ApiError>((id, changes, first, show))
    }
    .await;
    match opened {
        // The client has the run's last event: nothing will follow.
        Ok((_, _, first, _))
            if last_event_id.as_deref() == Some(first.status.as_str())
                && first
                    .status
                    .parse::<RunStatus>()
                    .is_ok_and(RunStatus::is_terminal) =>
        {
            warp::http::StatusCode::NO_CONTENT.into_response()
        }
        Ok((id, changes, first, show)) => {
            let watch = Watch {
                ctx,
                viewer,
                presented,
                id,
                show,
            };
            let stream = watch.stream(changes, first, last_event_id);
            warp::sse::reply(warp::sse::keep_alive().stream(stream)).into_response()
        }
        Err(error) => respond::<Response>(Err(error)),
    }
}

/// One client's watch of one run.
struct Watch {
    ctx: Arc<Context>,
    viewer: Option<User>,
    /// The credentials the stream was opened with, checked again while it is open.
    presented: Presented,
    id: Uuid,
    /// Whether the viewer may see the submitter.
    show: bool,
}

impl Watch {
    /// Streams the run's status: a task watches the run and feeds a channel; the response
    /// reads the channel. When the client goes away the channel closes and the task ends.
    fn stream(
        self,
        changes: broadcast::Receiver<StatusChange>,
        first: RunView,
        last_event_id: Option<String>,
    ) -> impl Stream<Item = Result<Event, Infallible>> + Send + Sync + 'static {
        let (tx, rx) = mpsc::channel::<Event>(8);
        tokio::spawn(self.run(tx, changes, first, last_event_id));
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (Ok(event), rx))
        })
    }

    async fn run(
        self,
        tx: mpsc::Sender<Event>,
        mut changes: broadcast::Receiver<StatusChange>,
        first: RunView,
        last_event_id: Option<String>,
    ) {
        let mut position = first.queue_position;
        let mut next = Some(first);
        let mut retry = Some(RECONNECT);
        let mut last = last_event_id;
        while let Some(view) = next.take() {
            let terminal = view
                .status
                .parse::<RunStatus>()
                .is_ok_and(RunStatus::is_terminal);
            if last.as_deref() != Some(view.status.as_str()) {
                let mut event = Event::default()
                    .id(view.status.clone())
                    .event("status")
                    .json_data(&view)
                    .unwrap_or_else(|_| Event::default().event("status"));
                if let Some(after) = retry.take() {
                    event = event.retry(after);
                }
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            if terminal {
                return;
            }
            last = Some(view.status);
            while next.is_none() {
                // A change of this run (or a lag), or the poll interval; or the node stopping.
                let changed = tokio::time::timeout(POLL, async {
                    loop {
                        match changes.recv().await {
                            Ok(change) if change.run_id == self.id => return true,
                            Ok(_) => continue,
                            Err(broadcast::error::RecvError::Lagged(_)) => return true,
                            Err(broadcast::error::RecvError::Closed) => return false,
                        }
                    }
                });
                let woke = tokio::select! {
                    woke = changed => woke,
                    () = self.ctx.stopping.cancelled() => {
                        let _ = tx.send(shutdown_event()).await;
                        return;
                    }
                };
                if woke == Ok(false) || tx.is_closed() {
                    return;
                }
                if let Err(error) = self.still_allowed().await {
                    let _ = tx.send(error_event(error)).await;
                    return;
                }
                let (run, circuit, standing) = match self.read().await {
                    Ok(read) => read,
                    Err(error) => {
                        let _ = tx.send(error_event(error)).await;
                        return;
                    }
                };
                if last.as_deref() != Some(run.status.as_str()) {
                    next = Some(RunView::new(&run, &circuit, self.show, standing.as_ref()));
                    position = standing.as_ref().map(|s| s.position);
                } else if let Some(standing) = standing
                    && position != Some(standing.position)
                {
                    // Still pending, and moved: where it stands now.
                    position = Some(standing.position);
                    let event = Event::default()
                        .event("queue")
                        .json_data(serde_json::json!({
                            "queue_position": standing.position,
                            "estimated_start_at": standing.estimated_start_at,
                        }))
                        .unwrap_or_else(|_| Event::default().event("queue"));
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Whether the credentials the stream was opened with still authenticate (through the
    /// cache, `service::auth`): a 401 once they are revoked or expired or their user
    /// disabled. A check that fails otherwise (the database unavailable) is no answer: the
    /// stream goes on and checks again at its next wake.
    async fn still_allowed(&self) -> Result<(), ApiError> {
        if !self.presented.is_some() {
            return Ok(());
        }
        match self.presented.viewer(&self.ctx).await {
            Err(error) if error.kind == Kind::Unauthorized => Err(error),
            Err(error) => {
                tracing::debug!(run_id = %self.id, code = error.code, "event stream credential check failed; checking again later");
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    /// The run, read again, and where it stands if it is pending: an unavailable database is
    /// retried with backoff for up to [`GIVE_UP_AFTER`]; any other failure, or one that lasts
    /// longer, is the answer.
    async fn read(&self) -> Result<(Run, Circuit, Option<QueueStanding>), ApiError> {
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(50);
        loop {
            let read = async {
                let (run, circuit) = self.ctx.service.run(self.viewer.as_ref(), self.id).await?;
                let standing = self.ctx.service.standing(&run).await?;
                Ok::<_, ServiceError>((run, circuit, standing))
            };
            match read.await {
                Ok(read) => return Ok(read),
                Err(ServiceError::Unavailable(reason)) if started.elapsed() < GIVE_UP_AFTER => {
                    tracing::debug!(run_id = %self.id, %reason, "event stream read failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// The `shutdown` event that ends every stream when the node stops: reconnect after
/// [`RECONNECT`] (`retry:`, and `retry_ms` for clients that read the data).
fn shutdown_event() -> Event {
    Event::default()
        .event("shutdown")
        .retry(RECONNECT)
        .json_data(serde_json::json!({"retry_ms": RECONNECT.as_millis() as u64}))
        .unwrap_or_else(|_| Event::default().event("shutdown").retry(RECONNECT))
}

/// The `error` event that ends a stream: the API's error body.
fn error_event(error: ApiError) -> Event {
    Event::default()
        .event("error")
        .json_data(error.body())
        .unwrap_or_else(|_| Event::default().event("error"))
}
