//! The six error classes of docs/DESIGN.md §3 and the stages a run can fail in.

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
pub enum ErrorStage {
    Prepare,
    Execute,
    Store,
    /// The watchdog's sweep of stranded runs.
    Recovery,
}

impl ErrorStage {
    pub const ALL: [ErrorStage; 4] = [
        ErrorStage::Prepare,
        ErrorStage::Execute,
        ErrorStage::Store,
        ErrorStage::Recovery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorStage::Prepare => "prepare",
            ErrorStage::Execute => "execute",
            ErrorStage::Store => "store",
            ErrorStage::Recovery => "recovery",
        }
    }
}

impl fmt::Display for ErrorStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most bytes of a failure's message that are kept (the cut falls on a UTF-8 char
/// boundary at or before it; a note saying the original length follows).
///
/// A message can carry text a user's program controls: a command backend's exit-65 error may
/// be anything up to its `max_output_bytes` (16 MiB by default). The message is stored on the
/// run row (`runs.error_message`), served by the API and shown by the console and `qrun run
/// show`; 4 KiB holds any real error with its context (the Qiskit runner itself cuts its
/// messages at 4000 characters), so past it the rest is dropped rather than stored.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A failure as recorded on a failed run: class, stage, a human sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    pub stage: ErrorStage,
    /// Private so that every message passes [`Failure::new`]'s bound.
    message: String,
}

impl Failure {
    /// A failure saying `message`, cut to [`MAX_MESSAGE_BYTES`] if longer, followed then by
    /// ` … [truncated: N bytes in all]` (N the original length in bytes).
    pub fn new(class: ErrorClass, stage: ErrorStage, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_MESSAGE_BYTES {
            let all = message.len();
            message.truncate(message.floor_char_boundary(MAX_MESSAGE_BYTES));
            message.push_str(&format!(" … [truncated: {all} bytes in all]"));
        }
        Failure {
            class,
            stage,
            message,
        }
    }

    /// A sentence for the user (`runs.error_message`), at most [`MAX_MESSAGE_BYTES`] bytes
    /// plus the truncation note.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        Failure::new(ErrorClass::BackendError, ErrorStage::Execute, text)
            .message()
            .to_owned()
    }

    #[test]
    fn a_message_within_the_bound_is_kept_as_it_is() {
        for text in ["", "line 3: boom", &"x".repeat(MAX_MESSAGE_BYTES)] {
            assert_eq!(message(text), text);
        }
    }

    #[test]
    fn a_longer_message_is_cut_and_says_its_length() {
        let text = "y".repeat(16 << 20);
        let kept = message(&text);
        assert_eq!(
            kept,
            format!(
                "{} … [truncated: 16777216 bytes in all]",
                "y".repeat(MAX_MESSAGE_BYTES)
            )
        );
        assert_eq!(
            message(&"z".repeat(MAX_MESSAGE_BYTES + 1)),
            format!(
                "{} … [truncated: 4097 bytes in all]",
                "z".repeat(MAX_MESSAGE_BYTES)
            )
        );
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        // 'é' is 2 bytes and '€' 3: after one (or two) ASCII bytes, the bound falls inside one.
        for (prefix, ch) in [("a", 'é'), ("a", '€'), ("ab", '€'), ("", '😀')] {
            let text = format!("{prefix}{}", ch.to_string().repeat(MAX_MESSAGE_BYTES));
            let kept = message(&text);
            let (body, note) = kept.split_once(" … ").unwrap();
            assert!(body.len() <= MAX_MESSAGE_BYTES, "{prefix:?} {ch:?}");
            assert!(
                body.len() > MAX_MESSAGE_BYTES - ch.len_utf8(),
                "{prefix:?} {ch:?}"
            );
            assert!(body.strip_prefix(prefix).unwrap().chars().all(|c| c == ch));
            assert_eq!(note, format!("[truncated: {} bytes in all]", text.len()));
        }
    }
}
