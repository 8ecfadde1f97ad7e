//! Jobs (issue 30): a batch of runs submitted together, a record of its own — Qiskit's job
//! (`provider.job(id)`, `job.tags`, `job.usage()`), with a name per run (`circuit.name`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Run, RunSpec};

/// The most tags a job carries, and the longest tag in characters.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 255;
/// The largest `metadata` a job carries: bytes of its compact JSON encoding (64 KiB).
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// A job's `metadata`: a JSON object its submitter attached, kept as given and handed back
/// (the Qiskit client keeps a Sampler's PUB shapes there); empty when none.
pub type JobMetadata = serde_json::Map<String, serde_json::Value>;

/// What a job submission creates: whose it is, its `Idempotency-Key`, its tags and its runs
/// in submission order, each with its name.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub user_id: Uuid,
    pub idempotency_key: Option<String>,
    pub tags: Vec<String>,
    pub runs: Vec<(Option<String>, RunSpec)>,
    /// Checked by [`check_metadata`].
    pub metadata: JobMetadata,
    /// The submission's W3C trace context when traces are exported, set by the Recorder
    /// (docs/DESIGN.md §8): every run of the job carries it, as a run submitted alone does.
    pub traceparent: Option<String>,
}

/// A job as stored: its runs in submission order.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Sorted, each once.
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub metadata: JobMetadata,
    pub runs: Vec<JobRun>,
}

/// A job as a listing shows it: no runs, their number.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSummary {
    pub id: Uuid,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub runs: u64,
}

/// One run of a job and its name.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRun {
    pub name: Option<String>,
    pub run: Run,
}

impl Job {
    /// Whether `new` asks for what this job holds (an idempotent replay compares its runs'
    /// specifications and names, in order, and its metadata; tags change after creation, so
    /// they are not compared).
    pub fn is_replay_of(&self, new: &NewJob) -> bool {
        self.metadata == new.metadata
            && self.runs.len() == new.runs.len()
            && self
                .runs
                .iter()
                .zip(&new.runs)
                .all(|(have, (name, spec))| have.name == *name && have.run.spec == *spec)
    }
}

/// A job's `metadata` as given: at most [`MAX_METADATA_BYTES`] as compact JSON. `Err` says
/// how large it is.
pub fn check_metadata(metadata: JobMetadata) -> Result<JobMetadata, String> {
    let bytes = serde_json::to_vec(&metadata).map_or(usize::MAX, |encoded| encoded.len());
    if bytes > MAX_METADATA_BYTES {
        return Err(format!(
            "metadata is {bytes} bytes as compact JSON; a job's is at most {MAX_METADATA_BYTES}"
        ));
    }
    Ok(metadata)
}

/// A job's tags as given: each 1–[`MAX_TAG_CHARS`] characters without control characters, at
/// most [`MAX_TAGS`]; sorted, duplicates dropped. `Err` says what is wrong.
pub fn check_tags(tags: Vec<String>) -> Result<Vec<String>, String> {
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "a job has at most {MAX_TAGS} tags, not {}",
            tags.len()
        ));
    }
    for tag in &tags {
        let chars = tag.chars().count();
        if chars == 0 || chars > MAX_TAG_CHARS || tag.chars().any(char::is_control) {
            return Err(format!(
                "a tag is 1-{MAX_TAG_CHARS} characters without control characters; got {:?}",
                tag.chars().take(80).collect::<String>()
            ));
        }
    }
    let mut tags = tags;
    tags.sort_unstable();
    tags.dedup();
    Ok(tags)
}
