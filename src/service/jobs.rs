//! Jobs (issue 30, docs/DESIGN.md §6): a batch of runs submitted together, checked run by run
//! with the calls `POST /api/runs` uses, admitted as one submission, and created — the job
//! and every run, or nothing — in one transaction through the Recorder.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::limits::Counted;
use super::runs::{Submission, idempotency_key_reused};
use super::{Service, ServiceError};
use crate::domain::job::{JobMetadata, check_metadata, check_tags};
use crate::domain::{Circuit, Job, JobSummary, NewJob, Run, User};

/// A job submission: its runs in order, each with its name, its tags and its metadata.
pub struct JobSubmission {
    pub runs: Vec<(Option<String>, Submission)>,
    pub tags: Vec<String>,
    pub metadata: JobMetadata,
    pub idempotency_key: Option<String>,
}

/// A job with each run's circuit (for its view), and whether it is new.
pub struct JobWithCircuits {
    pub job: Job,
    pub circuits: Vec<Circuit>,
    pub created: bool,
}

impl Service {
    /// Creates a job and its pending runs (or returns the one an earlier request with the
    /// same idempotency key created). Each run is checked as `POST /api/runs` checks one (its
    /// error names its index); the job is admitted as one submission. Errors as a run's, and
    /// 400 `invalid_job` for no runs, more than `executor.max_runs_per_job`, bad tags, or
    /// metadata over [`crate::domain::job::MAX_METADATA_BYTES`].
    #[tracing::instrument(name = "service.submit_job", skip_all)]
    pub async fn submit_job(
        &self,
        user: &User,
        submission: JobSubmission,
    ) -> Result<JobWithCircuits, ServiceError> {
        let invalid = |message: String| ServiceError::invalid("invalid_job", message);
        let max = self.rules.max_runs_per_job;
        if submission.runs.is_empty() || submission.runs.len() as u64 > max {
            return Err(invalid(format!(
                "a job holds 1 to {max} runs, not {}",
                submission.runs.len()
            )));
        }
        let tags = check_tags(submission.tags).map_err(invalid)?;
        let metadata = check_metadata(submission.metadata).map_err(invalid)?;
        let mut runs = Vec::with_capacity(submission.runs.len());
        let mut circuits = Vec::with_capacity(submission.runs.len());
        for (i, (name, run)) in submission.runs.into_iter().enumerate() {
            let (new, circuit) = self
                .check_submission(user, run)
                .await
                .map_err(|e| at_index(i, e))?;
            runs.push((name, new.spec));
            circuits.push(circuit);
        }
        self.admit(user).await?;
        let new = NewJob {
            user_id: user.id,
            idempotency_key: submission.idempotency_key,
            tags,
            metadata,
            runs,
            traceparent: None,
        };
        let applied = self.recorder.create_job(new.clone()).await?;
        if !applied.created {
            if !applied.job.is_replay_of(&new) {
                return Err(idempotency_key_reused());
            }
            return self.with_circuits(applied.job, false).await;
        }
        for _ in &applied.runs {
            self.counts.admitted(Counted::Pending);
            self.counts.admitted(Counted::ActiveOf(user.id));
        }
        Ok(JobWithCircuits {
            job: applied.job,
            circuits,
            created: true,
        })
    }

    /// One of `user`'s jobs with its runs (another's, or none: 404).
    pub async fn job(&self, user: &User, id: Uuid) -> Result<JobWithCircuits, ServiceError> {
        let job = self
            .store
            .job(id)
            .await?
            .filter(|job| job.user_id == user.id)
            .ok_or(ServiceError::NotFound("job"))?;
        self.with_circuits(job, false).await
    }

    /// The job `run` was submitted in and the run's name there (Qiskit's `circuit.name`), to
    /// its submitter (a job is its user's alone); `None` to anyone else, or for a run
    /// submitted on its own.
    pub async fn job_of_run(
        &self,
        viewer: Option<&User>,
        run: &Run,
    ) -> Result<Option<(Uuid, Option<String>)>, ServiceError> {
        if viewer.is_none_or(|viewer| viewer.id != run.user_id) {
            return Ok(None);
        }
        Ok(self.store.job_of_run(run.id).await?)
    }

    /// `user`'s jobs, newest first, tagged `tag` if given, before the cursor `before`; up to
    /// `limit`, and whether there are more.
    pub async fn jobs(
        &self,
        user: &User,
        tag: Option<&str>,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> Result<(Vec<JobSummary>, bool), ServiceError> {
        let mut page = self.store.jobs_of(user.id, tag, before, limit + 1).await?;
        let more = page.len() as u64 > limit;
        page.truncate(limit as usize);
        Ok((page, more))
    }

    /// Replaces the tags of one of `user`'s jobs (400 `invalid_job` for bad tags).
    pub async fn set_job_tags(
        &self,
        user: &User,
        id: Uuid,
        tags: Vec<String>,
    ) -> Result<JobWithCircuits, ServiceError> {
        let tags = check_tags(tags).map_err(|m| ServiceError::invalid("invalid_job", m))?;
        let mut job = self.job(user, id).await?;
        self.store.set_job_tags(id, &tags).await?;
        job.job.tags = tags;
        Ok(job)
    }

    async fn with_circuits(
        &self,
        job: Job,
        created: bool,
    ) -> Result<JobWithCircuits, ServiceError> {
        let mut circuits = Vec::with_capacity(job.runs.len());
        for member in &job.runs {
            let circuit = self
                .store
                .circuit(member.run.spec.circuit_id)
                .await?
                .ok_or_else(|| {
                    ServiceError::Internal(anyhow::anyhow!("a job's circuit is gone"))
                })?;
            circuits.push(circuit);
        }
        Ok(JobWithCircuits {
            job,
            circuits,
            created,
        })
    }
}

/// A run's refusal in a job, naming the run's index (`runs[3]: …`).
fn at_index(index: usize, error: ServiceError) -> ServiceError {
    match error {
        ServiceError::Invalid { code, message } => ServiceError::Invalid {
            code,
            message: format!("runs[{index}]: {message}"),
        },
        other => other,
    }
}
