//! Runs: submit, read, list, cancel, audit timeline, a page view.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::access::can_see;
use super::limits::Counted;
use super::{Service, ServiceError};
use crate::actors::recorder::RecorderError;
use crate::domain::{AuditEntry, Circuit, CircuitVersion, NewRun, Run, RunStatus, User};
use crate::store::runs::RunFilter;
use crate::store::{Canceller, Change, Command};

/// Which circuit a submission names.
#[derive(Clone, Debug)]
pub enum CircuitRef {
    Id(Uuid),
    /// `owner/name`
    Name {
        owner: String,
        name: String,
    },
}

/// A validated submission.
#[derive(Clone, Debug)]
pub struct Submission {
    pub circuit: CircuitRef,
    pub version: Option<i32>,
    pub backend_type: String,
    pub backend_name: String,
    pub shots: u64,
    /// Values of the `input`s the version declares (see [`Service::declared_inputs`]).
    pub parameters: BTreeMap<String, f64>,
    pub consent: bool,
    pub idempotency_key: Option<String>,
}

/// One `input` a circuit version declares, which a run of it binds to a number (DESIGN §12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredInput {
    pub name: String,
    /// As declared, e.g. `float[64]` or `angle`.
    pub ty: String,
}

/// The run a submission produced, and whether it is new (false: an idempotent replay).
pub struct Submitted {
    pub run: Run,
    pub circuit: Circuit,
    pub created: bool,
}

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What to list of the caller's own runs.
pub struct ListQuery {
    pub status: Option<RunStatus>,
    pub circuit: Option<CircuitRef>,
    /// `(type, name)`.
    pub backend: Option<(String, String)>,
    pub before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    pub limit: u64,
}

impl Service {
    /// Resolves a circuit reference as `viewer` may see it.
    pub async fn resolve_circuit(
        &self,
        viewer: Option<&User>,
        reference: &CircuitRef,
    ) -> Result<Circuit, ServiceError> {
        let circuit = match reference {
            CircuitRef::Id(id) => self.store.circuit(*id).await?,
            CircuitRef::Name { owner, name } => self.store.circuit_by_name(owner, name).await?,
        };
        circuit
            .filter(|c| can_see(viewer, c))
            .ok_or(ServiceError::NotFound("circuit"))
    }

    /// Creates a pending run (or returns the one an earlier request with the same idempotency
    /// key created).
    pub async fn submit(
        &self,
        user: &User,
        submission: Submission,
    ) -> Result<Submitted, ServiceError> {
        let backend = self
            .rules
            .backend(&submission.backend_type, &submission.backend_name)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "unknown_backend",
                    format!(
                        "no backend `{}/{}`; available: {}",
                        submission.backend_type,
                        submission.backend_name,
                        self.rules
                            .backends
                            .iter()
                            .map(|b| format!("{}/{}", b.kind, b.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let limit = backend.max_shots;
        if submission.shots == 0 || submission.shots > limit {
            return Err(ServiceError::invalid(
                "invalid_shots",
                format!("shots must be between 1 and {limit} on this backend"),
            ));
        }
        let circuit = self
            .resolve_circuit(Some(user), &submission.circuit)
            .await?;
        let version = self
            .store
            .circuit_version(circuit.id, submission.version)
            .await?
            .ok_or(ServiceError::NotFound("circuit version"))?;
        check_parameters(&self.declared_inputs(&version), &submission.parameters)?;
        let format = &version.manifest.format;
        if !backend.formats.contains(format) {
            return Err(ServiceError::invalid(
                "unsupported_format",
                format!(
                    "backend `{}/{}` does not execute {format} circuits; it accepts {}",
                    backend.kind,
                    backend.name,
                    backend.formats.join(", ")
                ),
            ));
        }
        self.admit(user).await?;
        let new = NewRun {
            user_id: user.id,
            circuit_id: circuit.id,
            circuit_version: version.version,
            backend_type: submission.backend_type,
            backend_name: submission.backend_name,
            framework: version.manifest.framework,
            shots: submission.shots,
            analytics_consent: Some(submission.consent),
            idempotency_key: submission.idempotency_key,
        };
        let applied = self
            .recorder
            .apply(Command::Create(new.clone()))
            .await
            .map_err(|e| match e {
                RecorderError::Rejected(r) => {
                    ServiceError::Internal(anyhow::anyhow!("creation rejected: {r}"))
                }
                other => other.into(),
            })?;
        let run = applied.run;
        if applied.created {
            self.counts.admitted(Counted::Pending);
            self.counts.admitted(Counted::ActiveOf(user.id));
        } else {
            let same = run.circuit_id == new.circuit_id
                && run.circuit_version == new.circuit_version
                && run.backend_type == new.backend_type
                && run.backend_name == new.backend_name
                && run.shots == new.shots
                && run.analytics_consent == new.analytics_consent;
            if !same {
                return Err(ServiceError::Unprocessable {
                    code: "idempotency_key_reused",
                    message: "this Idempotency-Key was already used for a different submission"
                        .into(),
                });
            }
        }
        Ok(Submitted {
            run,
            circuit,
            created: applied.created,
        })
    }

    /// Bounds the work at the edge: a user submitting too fast or with too much in flight is 429,
    /// a full queue is 503, all with Retry-After. (The counts are checked before the insert, so
    /// concurrent submissions may pass a cap by a few; it bounds the queue, it is not a quota
    /// ledger.)
    async fn admit(&self, user: &User) -> Result<(), ServiceError> {
        let rules = &self.rules;
        if let Err(wait) = self.submissions.check(user.id) {
            return Err(ServiceError::TooMany {
                code: "rate_limited",
                message: format!(
                    "you are submitting faster than {} runs per second; slow down",
                    rules.user_submissions_per_s
                ),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        if !self.below(Counted::Pending, rules.max_pending_runs).await? {
            return Err(ServiceError::Overloaded {
                message: "too many runs are waiting; try again shortly".into(),
                retry_after: 5,
            });
        }
        if !self
            .below(Counted::ActiveOf(user.id), rules.max_active_runs_per_user)
            .await?
        {
            return Err(ServiceError::TooMany {
                code: "too_many_runs",
                message: format!(
                    "you have {} runs pending or running, the most allowed; wait for some to finish",
                    rules.max_active_runs_per_user
                ),
                retry_after: 5,
            });
        }
        Ok(())
    }

    /// Whether a count is below its cap: the cached count if it says so, else a fresh one.
    async fn below(&self, counted: Counted, cap: u64) -> Result<bool, ServiceError> {
        if self.counts.below(counted, cap) {
            return Ok(true);
        }
        let at = std::time::Instant::now();
        let value = match counted {
            Counted::Pending => self.store.count_pending().await?,
            Counted::ActiveOf(user) => self.store.count_active(user).await?,
        };
        self.counts.read(counted, value, at);
        Ok(value < cap)
    }

    /// A run and its circuit, if `viewer` may see them.
    pub async fn run(
        &self,
        viewer: Option<&User>,
        run_id: Uuid,
    ) -> Result<(Run, Circuit), ServiceError> {
        let run = self
            .store
            .run(run_id)
            .await?
            .ok_or(ServiceError::NotFound("run"))?;
        let circuit = self
            .store
            .circuit(run.circuit_id)
            .await?
            .filter(|c| can_see(viewer, c))
            .ok_or(ServiceError::NotFound("run"))?;
        Ok((run, circuit))
    }

    /// A run's audit timeline, if `viewer` may see the run.
    pub async fn run_audit(
        &self,
        viewer: Option<&User>,
        run_id: Uuid,
    ) -> Result<(Run, Circuit, Vec<AuditEntry>), ServiceError> {
        let (run, circuit) = self.run(viewer, run_id).await?;
        let entries = self.store.audit_timeline(run.id).await?;
        Ok((run, circuit, entries))
    }

    /// Cancels a pending or running run; only its submitter may.
    pub async fn cancel(&self, user: &User, run_id: Uuid) -> Result<(Run, Circuit), ServiceError> {
        let (run, circuit) = self.run(Some(user), run_id).await?;
        if run.user_id != user.id {
            return Err(ServiceError::Forbidden(
                "only the run's submitter may cancel it".into(),
            ));
        }
        let applied = self
            .recorder
            .apply(Command::Transition {
                run_id,
                change: Change::Cancel {
                    by: Canceller::User(user.id),
                },
            })
            .await?;
        Ok((applied.run, circuit))
    }

    /// A page of the caller's runs (each with its circuit), newest first, and whether more follow.
    pub async fn list_runs(
        &self,
        user: &User,
        query: ListQuery,
    ) -> Result<(Vec<(Run, Circuit)>, bool), ServiceError> {
        let circuit_id = match &query.circuit {
            Some(reference) => match self.resolve_circuit(Some(user), reference).await {
                Ok(c) => Some(c.id),
                // An unknown circuit simply has none of the caller's runs.
                Err(ServiceError::NotFound(_)) => return Ok((Vec::new(), false)),
                Err(e) => return Err(e),
            },
            None => None,
        };
        let mut runs = self
            .store
            .list_runs(&RunFilter {
                user_id: Some(user.id),
                status: query.status,
                circuit_id,
                backend: query.backend,
                before: query.before,
                limit: query.limit + 1,
            })
            .await?;
        let more = runs.len() as u64 > query.limit;
        runs.truncate(query.limit as usize);
        let mut circuits: std::collections::HashMap<Uuid, Circuit> =
            std::collections::HashMap::new();
        let mut page = Vec::with_capacity(runs.len());
        for run in runs {
            let circuit = match circuits.get(&run.circuit_id) {
                Some(c) => c.clone(),
                None => {
                    let c = self.store.circuit(run.circuit_id).await?.ok_or_else(|| {
                        ServiceError::Internal(anyhow::anyhow!("run {} has no circuit", run.id))
                    })?;
                    circuits.insert(c.id, c.clone());
                    c
                }
            };
            page.push((run, circuit));
        }
        Ok((page, more))
    }

    /// A circuit named `owner/name` and its newest `limit` runs (newest first), if `viewer` may
    /// see the circuit: a private circuit is "not found" to everyone but its owner.
    pub async fn recent_runs_of_circuit(
        &self,
        viewer: Option<&User>,
        owner: &str,
        name: &str,
        limit: u64,
    ) -> Result<(Circuit, Vec<Run>), ServiceError> {
        let reference = CircuitRef::Name {
            owner: owner.to_owned(),
            name: name.to_owned(),
        };
        let circuit = self.resolve_circuit(viewer, &reference).await?;
        let runs = self.store.recent_runs_of_circuit(circuit.id, limit).await?;
        Ok((circuit, runs))
    }

    // ---- OpenQASM 3 `input` parameters: coordinated with the OpenQASM 3 work (DESIGN §12).
    // The console's run form shows one field per declared input and submissions are checked
    // against them here. The formats uploaded today declare none; OpenQASM 3 adds its
    // declarations (`qrun_engine::inputs`) to `declared_inputs`, and the run's storage of
    // the values it binds.

    /// The `input` parameters `version` declares, in declaration order. None for the formats
    /// uploaded today (`circuits::UPLOAD_FORMATS`): an OpenQASM 2 source has no inputs, and a
    /// Python source is never parsed by the service.
    pub fn declared_inputs(&self, _version: &CircuitVersion) -> Vec<DeclaredInput> {
        Vec::new()
    }

    /// Records that a consenting browser `session` viewed `run`'s page (the seed's
    /// `run_viewed_shared_link`, through the analytics outbox), once per run per session.
    /// Only for a visitor who consented: the caller (the run page) checks the consent cookie.
    /// Whether this view was the session's first of the run.
    pub async fn record_run_view(
        &self,
        viewer: Option<&User>,
        run: &Run,
        session: Uuid,
    ) -> Result<bool, ServiceError> {
        Ok(self
            .store
            .record_run_view(run, session, viewer.map(|v| v.id))
            .await?)
    }

    /// Who submitted `run`, only for a viewer allowed to know (the submitter and the circuit's
    /// owner); `None` for everyone else.
    pub async fn submitter(
        &self,
        viewer: Option<&User>,
        run: &Run,
        circuit: &Circuit,
    ) -> Result<Option<User>, ServiceError> {
        if !super::access::sees_submitter(viewer, run, circuit) {
            return Ok(None);
        }
        Ok(self.store.user(run.user_id).await?)
    }
}

/// Every declared input bound, and nothing else: a 400 `invalid_parameters` naming the first
/// missing or unknown one.
fn check_parameters(
    declared: &[DeclaredInput],
    given: &BTreeMap<String, f64>,
) -> Result<(), ServiceError> {
    if let Some(unknown) = given
        .keys()
        .find(|k| !declared.iter().any(|d| &d.name == *k))
    {
        let declares = if declared.is_empty() {
            "it declares no inputs".to_owned()
        } else {
            let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            format!("it declares {}", names.join(", "))
        };
        return Err(ServiceError::invalid(
            "invalid_parameters",
            format!("the circuit has no input `{unknown}`: {declares}"),
        ));
    }
    if let Some(missing) = declared.iter().find(|d| !given.contains_key(&d.name)) {
        return Err(ServiceError::invalid(
            "invalid_parameters",
            format!("input `{}` ({}) needs a value", missing.name, missing.ty),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_bind_every_declared_input_and_nothing_else() {
        let theta = DeclaredInput {
            name: "theta".into(),
            ty: "float[64]".into(),
        };
        let given = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let message = |declared: &[DeclaredInput], pairs: &[(&str, f64)]| match check_parameters(
            declared,
            &given(pairs),
        ) {
            Err(ServiceError::Invalid { code, message }) => {
                assert_eq!(code, "invalid_parameters");
                message
            }
            other => panic!("{other:?}"),
        };
        assert!(check_parameters(&[], &given(&[])).is_ok());
        assert!(check_parameters(std::slice::from_ref(&theta), &given(&[("theta", 0.5)])).is_ok());
        assert_eq!(
            message(&[], &[("theta", 0.5)]),
            "the circuit has no input `theta`: it declares no inputs"
        );
        assert_eq!(
            message(std::slice::from_ref(&theta), &[("phi", 1.0)]),
            "the circuit has no input `phi`: it declares theta"
        );
        assert_eq!(
            message(std::slice::from_ref(&theta), &[]),
            "input `theta` (float[64]) needs a value"
        );
    }
}
