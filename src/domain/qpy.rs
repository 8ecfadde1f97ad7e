//! `qpy` sources: Qiskit's binary circuit format (`qiskit.qpy.dump`, what IBM Runtime sends),
//! stored as text so a circuit stays text in the database and the API.
//!
//! The source is the QPY file's bytes in standard base64 (RFC 4648 §4: `A–Z a–z 0–9 + /`,
//! `=` padding, no line breaks or other whitespace), e.g. Python's
//! `base64.b64encode(buffer.getvalue()).decode()`. qrun checks only the encoding and the
//! file's magic (`QISKIT`, the first six bytes of every QPY file: Qiskit's
//! `qiskit/qpy/formats.py`, `FILE_HEADER`); a command backend's runner loads the circuit
//! (docs/DESIGN.md §12).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The manifest format of a QPY source.
pub const FORMAT: &str = "qpy";

/// The first bytes of every QPY file.
const MAGIC: &[u8] = b"QISKIT";

/// The QPY bytes of a `qpy` source.
///
/// Errors: a message (for `invalid_source`) when the source is not standard padded base64,
/// or its bytes do not start with QPY's magic.
pub fn decode(source: &str) -> Result<Vec<u8>, String> {
    let bytes = STANDARD.decode(source).map_err(|e| {
        format!(
            "a qpy source is the QPY file's bytes in standard base64 (with padding, no \
             whitespace): {e}"
        )
    })?;
    if !bytes.starts_with(MAGIC) {
        return Err(
            "a qpy source must decode to a QPY file (written by qiskit.qpy.dump: its \
             bytes start with `QISKIT`)"
                .to_owned(),
        );
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_base64_of_a_qpy_file() {
        let source = STANDARD.encode(b"QISKIT\x0f\x02\x06\x00");
        assert_eq!(decode(&source).unwrap(), b"QISKIT\x0f\x02\x06\x00");
    }

    #[test]
    fn refuses_other_encodings_and_other_files() {
        let qpy = STANDARD.encode(b"QISKIT\x0f");
        for bad in [
            "not base64!",
            &format!("{qpy}\n"),
            qpy.trim_end_matches('='),
            "",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let other = decode(&STANDARD.encode(b"OPENQASM 3;")).unwrap_err();
        assert!(other.contains("QISKIT"), "{other}");
    }
}
