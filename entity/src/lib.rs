//! sea-orm entities for qrun's tables (docs/DESIGN.md §2).
//!
//! These types are the storage layer's vocabulary only: the domain (`qrun::domain`) has its own
//! plain-Rust statuses and error classes, and `qrun::store` converts between the two. Nothing
//! outside `qrun::store` uses this crate.

pub mod analytics_outbox;
pub mod api_tokens;
pub mod audit_logs;
pub mod circuit_versions;
pub mod circuits;
pub mod enums;
pub mod job_runs;
pub mod job_tags;
pub mod jobs;
pub mod run_memory;
pub mod runs;
pub mod sessions;
pub mod user_queues;
pub mod users;
