//! The History Sampler: every `service::history::SAMPLE_EVERY` it feeds this node's dashboard history
//! (`service::history`) — the queue depth now, and the endings of each minute not yet counted
//! — so the last hour's charts are filled whether or not anyone has a dashboard open (a
//! dashboard's snapshots feed it too). Times are the database's (the clock of `completed_at`).

use super::periodic::Work;
use crate::service::history::SharedHistory;
use crate::store::{Store, StoreError};

/// The HistorySampler's work (run by a [`super::periodic::Periodic`] actor).
pub struct HistorySampler {
    pub store: Store,
    /// The history the node's service reads.
    pub history: SharedHistory,
}

impl Work for HistorySampler {
    type Output = ();
    const NAME: &'static str = "dashboard history sample";

    async fn run_once(&mut self) -> Result<(), StoreError> {
        let now = self.store.now().await?;
        let pending = self.store.count_pending().await?;
        self.history.sample(&self.store, pending, now).await?;
        Ok(())
    }
}
