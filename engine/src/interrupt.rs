//! Cooperative interruption: cancellation and the time limit, polled by every loop that can
//! run long (between operations and inside each kernel, per chunk of amplitudes).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, FailureKind, Result, Stage};

/// What a long loop polls to know it must stop.
pub(crate) struct Interrupt<'a> {
    cancel: Option<&'a CancellationToken>,
    deadline: Option<Instant>,
    time_limit: Duration,
}

impl<'a> Interrupt<'a> {
    /// Stops on `cancel` or once `time_limit` has passed since `started`.
    pub(crate) fn new(
        cancel: &'a CancellationToken,
        started: Instant,
        time_limit: Duration,
    ) -> Self {
        Self {
            cancel: Some(cancel),
            deadline: started.checked_add(time_limit),
            time_limit,
        }
    }

    /// Never stops (for internal computations on tiny vectors).
    pub(crate) fn never() -> Self {
        Self {
            cancel: None,
            deadline: None,
            time_limit: Duration::MAX,
        }
    }

    /// `Err` once the run is cancelled or out of time.
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancel.is_some_and(CancellationToken::is_cancelled) {
            return Err(EngineError::cancelled());
        }
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Err(EngineError::new(
                FailureKind::Timeout,
                Stage::Execute,
                format!(
                    "simulation exceeded the time limit of {} s",
                    self.time_limit.as_secs_f64()
                ),
            ));
        }
        Ok(())
    }
}
