//! The periodic actor: runs a piece of [`Work`] every `interval`, and at once on demand.
//!
//! The timer is ractor's `send_interval`, which ends with the actor (no handle to keep, no
//! `post_stop` to abort it). [`PeriodicMsg::RunNow`] runs the work outside the timer and
//! answers with its result: tests and [`super::ActorTree`] (a sweep on demand, the outbox
//! flush at shutdown) use it instead of waiting for a tick. A failed tick is logged and the
//! next one tries again; the actor itself never fails for it. Each service (the Watchdog, the
//! Dispatcher) supplies only its work.

use std::marker::PhantomData;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::store::StoreError;

/// What a periodic actor does on each tick.
pub trait Work: Send + Sync + 'static {
    /// What one run reports (e.g. how many runs a sweep recovered).
    type Output: Send + 'static;
    /// Names the work in the log line of a failed tick, e.g. "watchdog sweep".
    const NAME: &'static str;

    /// One run of the work.
    fn run_once(&mut self) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

pub enum PeriodicMsg<O> {
    /// The timer's message: run, log a failure.
    Tick,
    /// Run now and answer with the result.
    RunNow(RpcReplyPort<Result<O, StoreError>>),
}

/// The actor; its arguments are the interval and the work.
pub struct Periodic<W>(PhantomData<fn() -> W>);

impl<W> Default for Periodic<W> {
    fn default() -> Self {
        Periodic(PhantomData)
    }
}

impl<W: Work> Actor for Periodic<W> {
    type Msg = PeriodicMsg<W::Output>;
    type State = W;
    type Arguments = (Duration, W);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (interval, work): (Duration, W),
    ) -> Result<W, ActorProcessingErr> {
        myself.send_interval(interval, || PeriodicMsg::Tick);
        Ok(work)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        work: &mut W,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PeriodicMsg::Tick => {
                if let Err(err) = work.run_once().await {
                    tracing::warn!(error = %err, "{} failed; retrying next interval", W::NAME);
                }
            }
            PeriodicMsg::RunNow(reply) => {
                let _ = reply.send(work.run_once().await);
            }
        }
        Ok(())
    }
}
