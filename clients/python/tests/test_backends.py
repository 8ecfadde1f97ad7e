"""The provider, the backends' targets, and everything ``run()`` refuses before it sends
anything."""

from __future__ import annotations

import re

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ClassicalRegister, Clbit, Parameter, QuantumRegister
from qiskit.circuit.classical import expr
from qiskit.circuit.library import CXGate, HGate
from qiskit.providers.exceptions import QiskitBackendNotFoundError

from conftest import QrunServer, api_get
from qrun_qiskit import (
    QrunBackend,
    QrunBackendNotFoundError,
    QrunGateWarning,
    QrunProvider,
    QrunValidationError,
)


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def test_backends_are_what_the_server_lists(provider: QrunProvider, qrun: QrunServer) -> None:

    listed = api_get(qrun, "/api/backends")["backends"]
    with pytest.warns(QrunGateWarning):
        backends = provider.backends()
    assert [b.name for b in backends] == [b["name"] for b in listed]
    assert {b.info.full_name for b in backends} == {
        "simulator/statevector",
        "command/slow",
        "command/quick2",
        "command/crash",
        "command/aer",
    }
    with pytest.warns(QrunGateWarning):
        assert [b.name for b in provider.backends(name="command/slow")] == ["slow"]


def test_a_backend_is_found_by_name_or_type_and_name(provider: QrunProvider) -> None:
    assert provider.get_backend("statevector").info.full_name == "simulator/statevector"
    assert provider.get_backend("simulator/statevector").name == "statevector"


def test_an_unknown_backend_is_an_error_listing_the_available_ones(provider: QrunProvider) -> None:

    with pytest.raises(QrunBackendNotFoundError) as raised:
        provider.get_backend("qasm_simulator")
    assert isinstance(raised.value, QiskitBackendNotFoundError)
    message = str(raised.value)
    assert "no backend 'qasm_simulator'" in message
    for name in ("simulator/statevector", "command/slow", "command/quick2", "command/crash"):
        assert name in message and name in raised.value.available


def test_the_target_is_built_from_the_servers_report(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    listed = {b["name"]: b for b in api_get(qrun, "/api/backends")["backends"]}
    simulator = provider.get_backend("statevector")
    report = listed["statevector"]
    assert simulator.num_qubits == report["max_qubits"] == simulator.target.num_qubits
    names = set(simulator.target.operation_names)
    # Qiskit calls qrun's `mcp` `mcphase`.
    assert {"mcphase" if g == "mcp" else g for g in report["native_gates"]} <= names
    assert {"measure", "reset", "barrier"} <= names
    assert isinstance(simulator.target.operation_from_name("h"), HGate)
    assert isinstance(simulator.target.operation_from_name("cx"), CXGate)
    # The server's cap on a job's runs (executor.max_runs_per_job, 1000 by default).
    assert simulator.max_circuits == api_get(qrun, "/api/backends")["max_runs_per_job"] == 1000
    assert simulator.options.shots == 1024
    assert simulator.options.seed_simulator is None
    assert simulator.options.parameter_values is None
    # A circuit transpiled for it uses only what it executes natively.
    circuit = QuantumCircuit(3, 3)
    circuit.ccx(0, 1, 2)
    circuit.swap(0, 2)
    circuit.measure(range(3), range(3))
    compiled = transpile(circuit, simulator, seed_transpiler=1)
    assert set(compiled.count_ops()) <= names


def test_a_gate_qiskit_does_not_know_is_left_out_with_a_warning(slow: QrunBackend) -> None:
    assert set(slow.target.operation_names) == {"x", "h", "cx", "measure", "reset", "barrier"}
    assert slow.num_qubits == 4


def test_run_refuses_before_sending_anything(provider: QrunProvider, qrun: QrunServer) -> None:

    backend = provider.get_backend("statevector")
    limit = backend.info.max_qubits
    max_shots = backend.info.max_shots
    theta = Parameter("theta")
    free = QuantumCircuit(1, 1, name="free")
    free.rx(theta, 0)
    free.measure(0, 0)
    nothing_measured = QuantumCircuit(2, name="quiet")
    nothing_measured.h(0)
    wide = QuantumCircuit(limit + 1, 1, name="wide")
    wide.measure(0, 0)
    # initialize: not in OpenQASM 3 (a non-unitary subroutine); a while loop: not in OpenQASM 2.
    neither = QuantumCircuit(2, 2, name="neither")
    neither.initialize([0, 1, 0, 0], [0, 1])
    neither.measure([0, 1], [0, 1])
    with neither.while_loop((neither.clbits[0], 1)):
        neither.x(0)
        neither.measure(0, 0)
    # One clbit in two registers (Qiskit allows it; OpenQASM does not): refused, never guessed.
    shared = [Clbit(), Clbit()]
    overlapping = QuantumCircuit(QuantumRegister(2, "q"), name="overlapping")
    overlapping.add_bits(shared)
    overlapping.add_register(ClassicalRegister(name="all", bits=shared))
    overlapping.add_register(ClassicalRegister(name="lo", bits=shared[:1]))
    overlapping.x([0, 1])
    overlapping.measure([0, 1], shared)
    cases = [
        (
            "overlapping registers",
            dict(run_input=overlapping),
            "classical bit 0 is in two registers (all, lo)",
        ),
        ("negative seed", dict(run_input=bell(), seed_simulator=-1), "from 0 to 2^63 - 1"),
        ("huge seed", dict(run_input=bell(), seed_simulator=2**63), "from 0 to 2^63 - 1"),
        ("fractional seed", dict(run_input=bell(), seed_simulator=1.5), "whole number"),
        ("no shots", dict(run_input=bell(), shots=0), f"between 1 and {max_shots}"),
        ("too many", dict(run_input=bell(), shots=max_shots + 1), f"between 1 and {max_shots}"),
        ("fraction", dict(run_input=bell(), shots=2.5), "whole number"),
        ("unknown option", dict(run_input=bell(), memroy=True), "unknown run option(s) memroy"),
        ("memory not bool", dict(run_input=bell(), memory="yes"), "memory must be True or"),
        ("tags not a list", dict(run_input=bell(), job_tags="a"), "job_tags must be a list"),
        ("precision not a str", dict(run_input=bell(), precision=32), "precision must be a str"),
        ("too wide", dict(run_input=wide), f"has {limit + 1} qubits; backend "),
        ("no measurement", dict(run_input=nothing_measured), "'quiet' has no measurements"),
        ("missing value", dict(run_input=free), "parameters without a value: theta"),
        ("unknown name", dict(run_input=free, parameter_values={"phi": 1.0}), "phi"),
        ("not a number", dict(run_input=free, parameter_values={"theta": "x"}), "not a real"),
        (
            "wrong length",
            dict(run_input=[free, free], parameter_values=[{"theta": 1.0}]),
            "a list of 2 mappings",
        ),
        ("not a circuit", dict(run_input=["OPENQASM 2.0;"]), "QuantumCircuit"),
        ("neither format", dict(run_input=neither), "OpenQASM 3: instruction 'initialize'"),
        ("neither format", dict(run_input=neither), "OpenQASM 2: instruction 'while_loop'"),
    ]
    before = [run["id"] for run in api_get(qrun, "/api/runs?limit=100")["runs"]]
    for label, arguments, message in cases:
        with pytest.raises(QrunValidationError) as raised:
            backend.run(**arguments)
        assert message in str(raised.value), (label, str(raised.value))
    after = [run["id"] for run in api_get(qrun, "/api/runs?limit=100")["runs"]]
    assert after == before, "something was submitted"


def test_a_circuit_no_accepted_format_can_express_names_the_instruction(
    provider: QrunProvider,
) -> None:

    circuit = QuantumCircuit(1, 1, name="stores")
    circuit.add_var("flag", expr.lift(True))
    circuit.measure(0, 0)
    with pytest.raises(QrunValidationError) as raised:
        provider.get_backend("quick2").run(circuit)  # OpenQASM 2 only
    assert "instruction 'store'" in str(raised.value)
    assert "OpenQASM 2" in str(raised.value)


def test_a_source_the_server_refuses_is_an_error_quoting_the_line(provider: QrunProvider) -> None:

    waits = QuantumCircuit(1, 1, name="waits")
    waits.delay(100, 0)  # exported as `delay[100dt] q[0];`, which qrun does not execute
    waits.measure(0, 0)
    # OpenQASM 3 cannot express initialize; the OpenQASM 2 export puts `reset` in a gate body.
    prepared = QuantumCircuit(2, 2, name="prepared")
    prepared.initialize([0, 1, 0, 0], [0, 1])
    prepared.measure([0, 1], [0, 1])
    backend = provider.get_backend("statevector")
    for circuit, fmt, fragment in (
        (waits, "openqasm3", "delay"),
        (prepared, "openqasm2", "`gate initialize("),
    ):
        with pytest.raises(QrunValidationError) as raised:
            backend.run(circuit)
        message = str(raised.value)
        assert f"'{circuit.name}', exported as {fmt}, is not one qrun can run" in message
        assert re.search(r": \d+:\d+: ", message), message  # the server's LINE:COL
        assert fragment in message, message
