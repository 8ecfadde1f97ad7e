//! Active enums stored as short strings (the schema's CHECK constraints list the same values).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RunStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// `runs.error_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum ErrorClass {
    #[sea_orm(string_value = "validation_error")]
    ValidationError,
    #[sea_orm(string_value = "resource_limit")]
    ResourceLimit,
    #[sea_orm(string_value = "timeout")]
    Timeout,
    #[sea_orm(string_value = "backend_error")]
    BackendError,
    #[sea_orm(string_value = "storage_error")]
    StorageError,
    #[sea_orm(string_value = "internal_error")]
    InternalError,
}

/// `runs.error_stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ErrorStage {
    #[sea_orm(string_value = "prepare")]
    Prepare,
    #[sea_orm(string_value = "execute")]
    Execute,
    #[sea_orm(string_value = "store")]
    Store,
    #[sea_orm(string_value = "recovery")]
    Recovery,
}

/// `circuits.visibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Visibility {
    #[sea_orm(string_value = "public")]
    Public,
    #[sea_orm(string_value = "private")]
    Private,
}
