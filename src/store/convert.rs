//! Entity rows ⇄ domain types. The entity crate has its own active enums (storage
//! vocabulary); the domain's are plain Rust. These conversions are the only bridge.

use entity::enums as db;

use super::StoreError;
use crate::domain::{ErrorClass, Parameters, Run, RunResults, RunStatus, Stage};

pub(super) fn status_to_db(status: RunStatus) -> db::RunStatus {
    match status {
        RunStatus::Pending => db::RunStatus::Pending,
        RunStatus::Running => db::RunStatus::Running,
        RunStatus::Completed => db::RunStatus::Completed,
        RunStatus::Failed => db::RunStatus::Failed,
        RunStatus::Cancelled => db::RunStatus::Cancelled,
    }
}

pub(super) fn status_from_db(status: db::RunStatus) -> RunStatus {
    match status {
        db::RunStatus::Pending => RunStatus::Pending,
        db::RunStatus::Running => RunStatus::Running,
        db::RunStatus::Completed => RunStatus::Completed,
        db::RunStatus::Failed => RunStatus::Failed,
        db::RunStatus::Cancelled => RunStatus::Cancelled,
    }
}

pub(super) fn class_to_db(class: ErrorClass) -> db::ErrorClass {
    match class {
        ErrorClass::ValidationError => db::ErrorClass::ValidationError,
        ErrorClass::ResourceLimit => db::ErrorClass::ResourceLimit,
        ErrorClass::Timeout => db::ErrorClass::Timeout,
        ErrorClass::BackendError => db::ErrorClass::BackendError,
        ErrorClass::StorageError => db::ErrorClass::StorageError,
        ErrorClass::InternalError => db::ErrorClass::InternalError,
    }
}

pub(super) fn class_from_db(class: db::ErrorClass) -> ErrorClass {
    match class {
        db::ErrorClass::ValidationError => ErrorClass::ValidationError,
        db::ErrorClass::ResourceLimit => ErrorClass::ResourceLimit,
        db::ErrorClass::Timeout => ErrorClass::Timeout,
        db::ErrorClass::BackendError => ErrorClass::BackendError,
        db::ErrorClass::StorageError => ErrorClass::StorageError,
        db::ErrorClass::InternalError => ErrorClass::InternalError,
    }
}

pub(super) fn stage_to_db(stage: Stage) -> db::Stage {
    match stage {
        Stage::Prepare => db::Stage::Prepare,
        Stage::Execute => db::Stage::Execute,
        Stage::Store => db::Stage::Store,
        Stage::Recovery => db::Stage::Recovery,
    }
}

fn stage_from_db(stage: db::Stage) -> Stage {
    match stage {
        db::Stage::Prepare => Stage::Prepare,
        db::Stage::Execute => Stage::Execute,
        db::Stage::Store => Stage::Store,
        db::Stage::Recovery => Stage::Recovery,
    }
}

pub(super) fn run_from_db(row: entity::runs::Model) -> Result<Run, StoreError> {
    let results = row
        .results
        .map(serde_json::from_value::<RunResults>)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("run {}: results: {e}", row.id)))?;
    let shots = u64::try_from(row.shots)
        .map_err(|_| StoreError::Corrupt(format!("run {}: shots {}", row.id, row.shots)))?;
    let parameters = row
        .parameters
        .map(serde_json::from_value::<Parameters>)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("run {}: parameters: {e}", row.id)))?
        .unwrap_or_default();
    Ok(Run {
        id: row.id,
        user_id: row.user_id,
        circuit_id: row.circuit_id,
        circuit_version: row.circuit_version,
        status: status_from_db(row.status),
        backend_type: row.backend_type,
        backend_name: row.backend_name,
        framework: row.framework,
        shots,
        results,
        error_class: row.error_class.map(class_from_db),
        error_message: row.error_message,
        error_stage: row.error_stage.map(stage_from_db),
        analytics_consent: row.analytics_consent,
        created_at: row.created_at,
        started_at: row.started_at,
        completed_at: row.completed_at,
        claimed_by: row.claimed_by,
        lease_expires_at: row.lease_expires_at,
        idempotency_key: row.idempotency_key,
        parameters,
        seed: row
            .seed
            .map(u64::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt(format!("run {}: a negative seed", row.id)))?,
    })
}
