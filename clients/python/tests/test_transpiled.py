"""Transpiled (ISA) circuits: what ``transpile(qc, backend)`` and Qiskit's preset pass managers
give — physical qubits (``$n`` in OpenQASM 3), a layout, ancillas — run on qrun with their
counts equal to Aer's for the original circuit (the clbits carry the answer, whatever qubits
the layout chose)."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, qasm3, transpile
from qiskit.transpiler import generate_preset_pass_manager

from qrun_qiskit import QrunProvider
from test_counts import SHOTS, TVD_TOLERANCE, aer_counts, tvd


def ghz_with_registers() -> QuantumCircuit:
    """Three qubits, a rotation that transpiles into the target's basis, and two of the three
    measured: a distribution with four outcomes of unequal weight."""
    circuit = QuantumCircuit(3, 2, name="isa")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(0.9, 2)
    circuit.cx(1, 2)
    circuit.measure([0, 2], [0, 1])
    return circuit


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_transpiled_circuits_run_with_physical_qubits_at_every_level(
    provider: QrunProvider, level: int
) -> None:
    backend = provider.get_backend("statevector")
    circuit = ghz_with_registers()
    isa = transpile(
        circuit, backend, optimization_level=level, initial_layout=[5, 2, 7], seed_transpiler=3
    )
    assert "$5" in qasm3.dumps(isa)  # the layout is in the source, not relabelled away
    counts = backend.run(isa, shots=SHOTS).result().get_counts()
    expected = aer_counts(circuit)
    assert set(counts) <= {"00", "01", "10", "11"}, counts
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)


def test_a_preset_pass_manager_for_the_backend_runs(provider: QrunProvider) -> None:
    backend = provider.get_backend("statevector")
    circuit = ghz_with_registers()
    manager = generate_preset_pass_manager(
        2, backend, initial_layout=[6, 0, 3], seed_transpiler=5
    )
    isa = manager.run(circuit)
    assert isa.layout is not None and "$6" in qasm3.dumps(isa)
    counts = backend.run(isa, shots=SHOTS).result().get_counts()
    expected = aer_counts(circuit)
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)
