//! The six error classes of DESIGN §3 and the stages a run can fail in.

use std::fmt;

/// Why a run failed. Exactly the six classes of the seed's taxonomy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The source does not parse, an unknown gate, an unsupported format, shots out of range.
    ValidationError,
    /// Too many qubits / gates / bytes / memory for the backend's limits.
    ResourceLimit,
    /// Execution passed the run's time limit.
    Timeout,
    /// The backend or its sandbox process failed.
    BackendError,
    /// Results could not be written.
    StorageError,
    /// An actor crashed, or the watchdog recovered a stranded run.
    InternalError,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::ValidationError,
        ErrorClass::ResourceLimit,
        ErrorClass::Timeout,
        ErrorClass::BackendError,
        ErrorClass::StorageError,
        ErrorClass::InternalError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::ValidationError => "validation_error",
            ErrorClass::ResourceLimit => "resource_limit",
            ErrorClass::Timeout => "timeout",
            ErrorClass::BackendError => "backend_error",
            ErrorClass::StorageError => "storage_error",
            ErrorClass::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a run's work something failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    Prepare,
    Execute,
    Store,
    /// The watchdog's sweep of stranded runs.
    Recovery,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Prepare,
        Stage::Execute,
        Stage::Store,
        Stage::Recovery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prepare => "prepare",
            Stage::Execute => "execute",
            Stage::Store => "store",
            Stage::Recovery => "recovery",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure as recorded on a failed run: class, stage, a human sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    pub stage: Stage,
    /// A sentence for the user (`runs.error_message`).
    pub message: String,
}

impl Failure {
    pub fn new(class: ErrorClass, stage: Stage, message: impl Into<String>) -> Self {
        Failure {
            class,
            stage,
            message: message.into(),
        }
    }
}
