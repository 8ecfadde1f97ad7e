//! Wake-ups from other nodes (PostgreSQL `LISTEN`, [`crate::store::notify`]) into the
//! Executor's mailbox: a submission anywhere claims at once, a cancellation anywhere stops
//! the run here at once, and after a lost connection the executor re-reads (claims, renews
//! its leases: a renewal a run fails was cancelled or recovered meanwhile).

use ractor::ActorRef;
use tokio::task::JoinHandle;

use super::executor::ExecutorMsg;
use crate::metrics;
use crate::store::Store;
use crate::store::notify::Wakeup;

/// Forwards wake-ups to `executor` until it stops; `None` on SQLite (one node: submissions
/// and cancellations reach the executor through the Recorder's broadcast).
pub fn forward(store: &Store, executor: ActorRef<ExecutorMsg>) -> Option<JoinHandle<()>> {
    let mut listener = store.listener()?;
    Some(tokio::spawn(async move {
        let mut resumed_before = false;
        loop {
            let messages = match listener.next().await {
                Wakeup::Pending => vec![ExecutorMsg::Submitted],
                Wakeup::Cancelled(runs) => vec![ExecutorMsg::Cancelled(runs)],
                Wakeup::Resumed => {
                    if resumed_before {
                        metrics::listener_reconnect();
                    }
                    resumed_before = true;
                    vec![ExecutorMsg::Claim, ExecutorMsg::RenewLeases]
                }
            };
            for message in messages {
                if executor.send_message(message).is_err() {
                    return;
                }
            }
        }
    }))
}
