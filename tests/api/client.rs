//! The Qiskit client (`clients/python`, docs/DESIGN.md §16) against the real `qrun` binary: its
//! pytest suite starts `qrun serve` itself (SQLite in a temporary directory, port 0) and compares
//! counts with Qiskit Aer's. It needs the Qiskit venv, found as the other Qiskit tests find it
//! ([`crate::qiskit::python`]: loudly skipped without `QRUN_TEST_PYTHON`, except under `CI`),
//! with the client's own requirements (`clients/python/requirements-test.txt`).

use crate::qiskit::{pytest, python};

#[test]
fn the_qiskit_client_passes_its_tests_against_a_live_server() {
    let Some(python) = python() else { return };
    pytest(
        &python,
        "clients/python/tests",
        &[("QRUN_BIN", env!("CARGO_BIN_EXE_qrun"))],
    );
}
