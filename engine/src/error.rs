//! Engine errors: what failed ([`FailureKind`]), in which stage ([`Stage`]) and, for
//! source errors, where ([`Position`]).
//!
//! The kinds map one to one onto the service's error classes (docs/DESIGN.md §3); `storage_error`
//! and `internal_error` belong to the service, not the engine.

use std::fmt;

/// What went wrong, in the terms of the service's error classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The source does not parse, names an unknown or opaque gate or an unsupported
    /// construct, a run parameter is missing, unknown or not a finite number, or shots are
    /// out of range.
    Validation,
    /// Too many qubits, gates, source bytes or memory for the backend's limits.
    ResourceLimit,
    /// Execution ran past the time limit.
    Timeout,
    /// The backend process failed: crash, non-zero exit, bad or oversized output.
    Backend,
    /// The caller cancelled the run.
    Cancelled,
}

impl FailureKind {
    /// The service's `error_class` for this kind (`None` for a cancellation, which is not a
    /// failure).
    pub fn error_class(self) -> Option<&'static str> {
        match self {
            Self::Validation => Some("validation_error"),
            Self::ResourceLimit => Some("resource_limit"),
            Self::Timeout => Some("timeout"),
            Self::Backend => Some("backend_error"),
            Self::Cancelled => None,
        }
    }
}

/// The lifecycle stage an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Parsing and validating the source and the request.
    Prepare,
    /// Running the circuit.
    Execute,
}

impl Stage {
    /// The service's `error_stage` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Execute => "execute",
        }
    }
}

/// A place in the program's source: 1-based line and column (columns count characters).
///
/// An [`EngineError::position`] is always in the program's source. A message that names a
/// place in an included file (`qelib1.inc`) writes it `FILE:LINE:COL`, as in
/// `qelib1.inc:32:6`; a bare `LINE:COL` in a message is in the program's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Where a name was declared, for the messages that point at an earlier declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    /// Built into the language: no place.
    Builtin,
    /// At this position of the program's source.
    Source(Position),
    /// In the included `file`, at `at` in that file when it has positions (`qelib1.inc` is
    /// parsed; `stdgates.inc` is a table), brought in by the `include` statement at
    /// `include` in the program's source.
    Included {
        file: &'static str,
        at: Option<Position>,
        include: Position,
    },
}

impl Declared {
    /// The place for a message, with the file named when it is not the program's source:
    /// `at 3:6`, `at qelib1.inc:32:6 (included at 2:1)`, `in stdgates.inc (included at
    /// 2:1)`; `None` for a built-in.
    pub(crate) fn place(self) -> Option<String> {
        Some(match self {
            Self::Builtin => return None,
            Self::Source(pos) => format!("at {pos}"),
            Self::Included {
                file,
                at: Some(at),
                include,
            } => format!("at {file}:{at} (included at {include})"),
            Self::Included {
                file,
                at: None,
                include,
            } => format!("in {file} (included at {include})"),
        })
    }
}

/// An engine failure. `Display` is the human sentence alone; a source error's place is in
/// [`EngineError::position`] (the CLI prints `FILE:LINE:COL: message`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    /// What went wrong.
    pub kind: FailureKind,
    /// The stage it went wrong in.
    pub stage: Stage,
    /// A human sentence saying what happened (and, for source errors, what was expected).
    pub message: String,
    /// Where in the source, for errors about the source.
    pub position: Option<Position>,
}

impl EngineError {
    /// A general error of `kind` in `stage`.
    pub fn new(kind: FailureKind, stage: Stage, message: impl Into<String>) -> Self {
        Self {
            kind,
            stage,
            message: message.into(),
            position: None,
        }
    }

    /// The run was cancelled (execute stage).
    pub(crate) fn cancelled() -> Self {
        Self::new(
            FailureKind::Cancelled,
            Stage::Execute,
            "the run was cancelled",
        )
    }

    /// A validation error about the source at `position`.
    pub(crate) fn at(position: Position, message: impl Into<String>) -> Self {
        Self {
            position: Some(position),
            ..Self::new(FailureKind::Validation, Stage::Prepare, message)
        }
    }

    /// A resource-limit error about the source at `position` (prepare stage).
    pub(crate) fn limit_at(position: Position, message: impl Into<String>) -> Self {
        Self {
            position: Some(position),
            ..Self::new(FailureKind::ResourceLimit, Stage::Prepare, message)
        }
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
