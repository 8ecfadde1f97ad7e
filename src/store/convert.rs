//! Entity rows ⇄ domain types, every one of them: the entity crate has its own active enums
//! (storage vocabulary) and integer widths; the domain's are plain Rust. Rows are taken apart
//! field by field (no `..`), so a column added to a table, or a field added to a domain type,
//! is a compile error here until it is carried across.

use entity::enums as db;
use entity::{
    analytics_outbox, api_tokens, audit_logs, circuit_versions, circuits, run_memory, runs,
    sessions, users,
};
use sea_orm::ActiveValue::Set;
use uuid::Uuid;

use super::StoreError;
use crate::domain::{
    ApiToken, AuditEntry, Circuit, CircuitVersion, ErrorClass, ErrorStage, Manifest, Memory,
    OutboxEvent, Parameters, Run, RunOptions, RunResults, RunSpec, RunStatus, Session, User,
    Visibility,
};

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

pub(super) fn stage_to_db(stage: ErrorStage) -> db::ErrorStage {
    match stage {
        ErrorStage::Prepare => db::ErrorStage::Prepare,
        ErrorStage::Execute => db::ErrorStage::Execute,
        ErrorStage::Store => db::ErrorStage::Store,
        ErrorStage::Recovery => db::ErrorStage::Recovery,
    }
}

pub(super) fn stage_from_db(stage: db::ErrorStage) -> ErrorStage {
    match stage {
        db::ErrorStage::Prepare => ErrorStage::Prepare,
        db::ErrorStage::Execute => ErrorStage::Execute,
        db::ErrorStage::Store => ErrorStage::Store,
        db::ErrorStage::Recovery => ErrorStage::Recovery,
    }
}

pub(super) fn visibility_to_db(visibility: Visibility) -> db::Visibility {
    match visibility {
        Visibility::Public => db::Visibility::Public,
        Visibility::Private => db::Visibility::Private,
    }
}

pub(super) fn visibility_from_db(visibility: db::Visibility) -> Visibility {
    match visibility {
        db::Visibility::Public => Visibility::Public,
        db::Visibility::Private => Visibility::Private,
    }
}

/// A run row as the domain's [`Run`]; a row the schema's CHECKs should have refused (a
/// negative count, malformed JSON) is [`StoreError::Corrupt`].
pub(super) fn run_from_db(row: runs::Model) -> Result<Run, StoreError> {
    let runs::Model {
        id,
        user_id,
        circuit_id,
        circuit_version,
        status,
        backend_type,
        backend_name,
        framework,
        shots,
        results,
        error_class,
        error_message,
        error_stage,
        analytics_consent,
        created_at,
        started_at,
        completed_at,
        claimed_by,
        lease_expires_at,
        idempotency_key,
        outbox_pruned_at: _,
        parameters,
        seed,
        memory,
        options,
    } = row;
    let corrupt = |what: String| StoreError::Corrupt(format!("run {id}: {what}"));
    let results = results
        .map(serde_json::from_value::<RunResults>)
        .transpose()
        .map_err(|e| corrupt(format!("results: {e}")))?;
    let parameters = parameters
        .map(serde_json::from_value::<Parameters>)
        .transpose()
        .map_err(|e| corrupt(format!("parameters: {e}")))?
        .unwrap_or_default();
    let options = options
        .map(serde_json::from_value::<RunOptions>)
        .transpose()
        .map_err(|e| corrupt(format!("options: {e}")))?
        .unwrap_or_default();
    Ok(Run {
        id,
        user_id,
        idempotency_key,
        spec: RunSpec {
            circuit_id,
            circuit_version,
            backend_type,
            backend_name,
            framework,
            shots: u64::try_from(shots).map_err(|_| corrupt(format!("shots {shots}")))?,
            analytics_consent,
            parameters,
            seed: seed
                .map(u64::try_from)
                .transpose()
                .map_err(|_| corrupt("a negative seed".into()))?,
            memory,
            options,
        },
        status: status_from_db(status),
        results,
        error_class: error_class.map(class_from_db),
        error_message,
        error_stage: error_stage.map(stage_from_db),
        created_at,
        started_at,
        completed_at,
        claimed_by,
        lease_expires_at,
    })
}

/// The row that inserts a new run: `run` is what [`Run::pending`] made of `new`. Only a
/// pending run is ever inserted; its later columns are written by the guarded transitions.
pub(super) fn new_run_to_db(run: &Run) -> Result<runs::ActiveModel, StoreError> {
    let Run {
        id,
        user_id,
        idempotency_key,
        spec,
        status,
        results: _,
        error_class: _,
        error_message: _,
        error_stage: _,
        created_at,
        started_at: _,
        completed_at: _,
        claimed_by: _,
        lease_expires_at: _,
    } = run;
    let RunSpec {
        circuit_id,
        circuit_version,
        backend_type,
        backend_name,
        framework,
        shots,
        analytics_consent,
        parameters,
        seed,
        memory,
        options,
    } = spec;
    let out_of_range = |what: String| StoreError::Corrupt(format!("{what} out of range"));
    Ok(runs::ActiveModel {
        id: Set(*id),
        user_id: Set(*user_id),
        circuit_id: Set(*circuit_id),
        circuit_version: Set(*circuit_version),
        status: Set(status_to_db(*status)),
        backend_type: Set(backend_type.clone()),
        backend_name: Set(backend_name.clone()),
        framework: Set(framework.clone()),
        shots: Set(i64::try_from(*shots).map_err(|_| out_of_range(format!("shots {shots}")))?),
        results: Set(None),
        error_class: Set(None),
        error_message: Set(None),
        error_stage: Set(None),
        analytics_consent: Set(*analytics_consent),
        created_at: Set(*created_at),
        started_at: Set(None),
        completed_at: Set(None),
        claimed_by: Set(None),
        lease_expires_at: Set(None),
        idempotency_key: Set(idempotency_key.clone()),
        outbox_pruned_at: Set(None),
        parameters: Set((!parameters.is_empty())
            .then(|| serde_json::to_value(parameters))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("parameters: {e}")))?),
        seed: Set(seed
            .map(i64::try_from)
            .transpose()
            .map_err(|_| out_of_range(format!("seed {seed:?}")))?),
        memory: Set(*memory),
        options: Set((!options.is_empty())
            .then(|| serde_json::to_value(options))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("options: {e}")))?),
    })
}

/// The `run_memory` row of run `run_id`'s `memory`.
pub(super) fn memory_to_db(
    run_id: Uuid,
    memory: &Memory,
) -> Result<run_memory::ActiveModel, StoreError> {
    let out_of_range = |what: &str| StoreError::Corrupt(format!("memory {what} out of range"));
    Ok(run_memory::ActiveModel {
        run_id: Set(run_id),
        key_width: Set(i32::try_from(memory.key_width()).map_err(|_| out_of_range("key width"))?),
        shots: Set(i64::try_from(memory.shots()).map_err(|_| out_of_range("shots"))?),
        memory: Set(memory.as_concatenated().to_owned()),
    })
}

pub(super) fn user_from_db(row: users::Model) -> User {
    let users::Model {
        id,
        handle,
        created_at,
        disabled_at,
        operator_since,
    } = row;
    User {
        id,
        handle,
        created_at,
        disabled_at,
        operator_since,
    }
}

/// The row that inserts a new user.
pub(super) fn new_user_to_db(user: &User) -> users::ActiveModel {
    let User {
        id,
        handle,
        created_at,
        disabled_at,
        operator_since,
    } = user;
    users::ActiveModel {
        id: Set(*id),
        handle: Set(handle.clone()),
        created_at: Set(*created_at),
        disabled_at: Set(*disabled_at),
        operator_since: Set(*operator_since),
    }
}

pub(super) fn token_from_db(row: api_tokens::Model) -> ApiToken {
    let api_tokens::Model {
        id,
        user_id,
        token_hash: _,
        name,
        created_at,
        last_used_at,
        revoked_at,
    } = row;
    ApiToken {
        id,
        user_id,
        name,
        created_at,
        last_used_at,
        revoked_at,
    }
}

/// The row that inserts a new token: `token` as created, and the hash of its secret.
pub(super) fn new_token_to_db(token: &ApiToken, token_hash: String) -> api_tokens::ActiveModel {
    let ApiToken {
        id,
        user_id,
        name,
        created_at,
        last_used_at,
        revoked_at,
    } = token;
    api_tokens::ActiveModel {
        id: Set(*id),
        user_id: Set(*user_id),
        token_hash: Set(token_hash),
        name: Set(name.clone()),
        created_at: Set(*created_at),
        last_used_at: Set(*last_used_at),
        revoked_at: Set(*revoked_at),
    }
}

/// The row that inserts a new session: `session` as created, and the hash of its secret.
pub(super) fn new_session_to_db(session: &Session, secret_hash: String) -> sessions::ActiveModel {
    let Session {
        id,
        user_id,
        token_id,
        created_at,
        expires_at,
        revoked_at,
    } = session;
    sessions::ActiveModel {
        id: Set(*id),
        user_id: Set(*user_id),
        token_id: Set(*token_id),
        secret_hash: Set(secret_hash),
        created_at: Set(*created_at),
        expires_at: Set(*expires_at),
        revoked_at: Set(*revoked_at),
    }
}

pub(super) fn session_from_db(row: sessions::Model) -> Session {
    let sessions::Model {
        id,
        user_id,
        token_id,
        secret_hash: _,
        created_at,
        expires_at,
        revoked_at,
    } = row;
    Session {
        id,
        user_id,
        token_id,
        created_at,
        expires_at,
        revoked_at,
    }
}

pub(super) fn circuit_from_db(row: circuits::Model, owner_handle: String) -> Circuit {
    let circuits::Model {
        id,
        owner_id,
        name,
        visibility,
        created_at,
    } = row;
    Circuit {
        id,
        owner_id,
        owner_handle,
        name,
        visibility: visibility_from_db(visibility),
        created_at,
    }
}

/// A version row; a manifest without its `framework` or `format` is [`StoreError::Corrupt`].
pub(super) fn version_from_db(row: circuit_versions::Model) -> Result<CircuitVersion, StoreError> {
    let circuit_versions::Model {
        circuit_id,
        version,
        source,
        manifest,
        created_at,
    } = row;
    let manifest = manifest_from_db(circuit_id, version, &manifest)?;
    Ok(CircuitVersion {
        circuit_id,
        version,
        source,
        manifest,
        created_at,
    })
}

/// A version's `manifest` column (`{"framework", "format"}`) as the domain's [`Manifest`].
pub(super) fn manifest_from_db(
    circuit_id: Uuid,
    version: i32,
    manifest: &serde_json::Value,
) -> Result<Manifest, StoreError> {
    let field = |name: &str| {
        manifest
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "circuit {circuit_id} v{version}: manifest lacks `{name}`"
                ))
            })
    };
    Ok(Manifest {
        framework: field("framework")?,
        format: field("format")?,
    })
}

pub(super) fn audit_from_db(row: audit_logs::Model) -> AuditEntry {
    let audit_logs::Model {
        id,
        actor_user_id,
        action,
        resource_type,
        resource_id,
        metadata,
        created_at,
    } = row;
    AuditEntry {
        id,
        actor_user_id,
        action,
        resource_type,
        resource_id,
        metadata,
        created_at,
    }
}

pub(super) fn outbox_from_db(row: analytics_outbox::Model) -> OutboxEvent {
    let analytics_outbox::Model {
        id,
        run_id,
        event,
        distinct_id,
        properties,
        created_at,
        attempts,
        next_attempt_at: _,
        delivered_at,
        last_error,
        parked_at,
    } = row;
    OutboxEvent {
        id,
        run_id,
        event,
        distinct_id,
        properties,
        created_at,
        attempts,
        delivered_at,
        parked_at,
        last_error,
    }
}
