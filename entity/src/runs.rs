//! `runs`: the run row of the seed page plus the executor's bookkeeping.

use sea_orm::entity::prelude::*;

use crate::enums::{ErrorClass, ErrorStage, RunStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub circuit_id: Uuid,
    pub circuit_version: i32,
    pub status: RunStatus,
    pub backend_type: String,
    pub backend_name: String,
    pub framework: String,
    pub shots: i64,
    pub results: Option<Json>,
    pub error_class: Option<ErrorClass>,
    pub error_message: Option<String>,
    pub error_stage: Option<ErrorStage>,
    pub analytics_consent: Option<bool>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub idempotency_key: Option<String>,
    /// Set when the run's delivered analytics rows were pruned (so `qrun verify` knows why
    /// a consented run has none).
    pub outbox_pruned_at: Option<DateTimeUtc>,
    /// `{"name": value}` bound to the circuit's inputs; `NULL` when none.
    pub parameters: Option<Json>,
    /// The sampling seed, 0..=2^63-1; `NULL` for a fresh one.
    pub seed: Option<i64>,
    /// Whether the run records every shot's outcome (`run_memory`).
    pub memory: bool,
    /// `{"name": value}`: the backend's run options the submission gave (`method`,
    /// `noise_model`, …); `NULL` when none.
    pub options: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
