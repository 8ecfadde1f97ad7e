//! The operator's view (issue 32, docs/DESIGN.md §15): every user's runs, filtered and searched
//! by id prefix, and cancelling any of them with a reason. Only a user holding the operator
//! role ([`crate::domain::Role`]) may; to anyone else each of these is "not found", exactly as
//! a thing that does not exist, so nothing hints that they exist.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Service, ServiceError};
use crate::domain::{Circuit, ErrorClass, IdPrefix, Run, RunStatus, User, cancel_reason};
use crate::store::runs::RunFilter;
use crate::store::{Canceller, Change, Command};

/// Which runs an operator lists (`/admin/runs`), newest first; each `None` is "any".
#[derive(Clone, Debug, Default)]
pub struct OperatorQuery {
    pub status: Option<RunStatus>,
    /// `(type, name)`.
    pub backend: Option<(String, String)>,
    /// The submitter's handle.
    pub user: Option<String>,
    /// The node that claimed the run last.
    pub node: Option<String>,
    pub error_class: Option<ErrorClass>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created strictly before.
    pub until: Option<DateTime<Utc>>,
    /// Ended (`completed_at`) at or after.
    pub ended_since: Option<DateTime<Utc>>,
    /// Only the stranded runs, as the dashboard and `/api/health/runs` count them.
    pub stranded: bool,
    /// Ids starting so.
    pub id: Option<IdPrefix>,
    /// Keyset cursor: strictly older than this `(created_at, id)`.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// One row of the operator's list: the run, its circuit and its submitter.
#[derive(Clone, Debug)]
pub struct OperatorRow {
    pub run: Run,
    pub circuit: Circuit,
    pub submitter: User,
}

impl Service {
    /// A page of every user's runs matching `query`, newest first, and whether more follow;
    /// "not found" unless `operator` holds the operator role. An unknown `user` handle has no
    /// runs.
    pub async fn operator_runs(
        &self,
        operator: &User,
        query: OperatorQuery,
    ) -> Result<(Vec<OperatorRow>, bool), ServiceError> {
        require_operator(operator)?;
        let user_id = match &query.user {
            Some(handle) => match self.store.user_by_handle(handle).await? {
                Some(user) => Some(user.id),
                None => return Ok((Vec::new(), false)),
            },
            None => None,
        };
        let stranded = match query.stranded {
            true => {
                let now = self.store.now().await?;
                Some((self.stranded_horizon(now), now))
            }
            false => None,
        };
        let mut runs = self
            .store
            .list_runs(&RunFilter {
                user_id,
                status: query.status,
                backend: query.backend,
                node: query.node,
                error_class: query.error_class,
                created_since: query.since,
                created_until: query.until,
                ended_since: query.ended_since,
                stranded,
                ids: query.id.as_ref().map(IdPrefix::range),
                before: query.before,
                limit: query.limit + 1,
                ..RunFilter::default()
            })
            .await?;
        let more = runs.len() as u64 > query.limit;
        runs.truncate(query.limit as usize);
        let mut users: std::collections::HashMap<Uuid, User> = std::collections::HashMap::new();
        let mut rows = Vec::with_capacity(runs.len());
        for (run, circuit) in self.runs_with_circuits(runs).await? {
            let submitter = match users.get(&run.user_id) {
                Some(user) => user.clone(),
                None => {
                    let user = self.store.user(run.user_id).await?.ok_or_else(|| {
                        ServiceError::Internal(anyhow::anyhow!("run {} has no submitter", run.id))
                    })?;
                    users.insert(user.id, user.clone());
                    user
                }
            };
            rows.push(OperatorRow {
                run,
                circuit,
                submitter,
            });
        }
        Ok((rows, more))
    }

    /// Cancels any user's pending or running run as `operator`, for `reason` (trimmed, 1–500
    /// characters: [`cancel_reason`]; else 400 `invalid_reason`): the lifecycle's guarded
    /// cancel, as `qrun run cancel`'s, its audit row saying `"by": "operator"` with
    /// `cancelled_by` (the operator's id) and `reason`. "Not found" unless `operator` holds the
    /// operator role; 409 `run_terminal` for a run that already ended.
    #[tracing::instrument(name = "service.operator_cancel", skip_all, fields(run_id = %run_id))]
    pub async fn operator_cancel(
        &self,
        operator: &User,
        run_id: Uuid,
        reason: &str,
    ) -> Result<(Run, Circuit), ServiceError> {
        crate::telemetry::note_run(run_id);
        require_operator(operator)?;
        let reason = cancel_reason(reason).map_err(|err| ServiceError::Invalid {
            code: "invalid_reason",
            message: err.to_string(),
        })?;
        let (_, circuit) = self.run(Some(operator), run_id).await?;
        let applied = self
            .recorder
            .apply(Command::Transition {
                run_id,
                change: Change::Cancel {
                    by: Canceller::OperatorWithReason {
                        operator: Some(operator.id),
                        reason,
                    },
                },
            })
            .await?;
        Ok((applied.run, circuit))
    }
}

/// "Not found" (404) unless `user` holds the operator role.
fn require_operator(user: &User) -> Result<(), ServiceError> {
    if user.is_operator() {
        Ok(())
    } else {
        Err(ServiceError::NotFound("page"))
    }
}
