"""The README's Qiskit Aer backend (``command/aer``: ``runners/qiskit_runner.py`` in the sandbox)
through the client: its Target compiles circuits for it, and what runs there matches Aer run
here."""

from __future__ import annotations

import warnings

import pytest
import requests
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm3, transpile
from qiskit.circuit import Clbit, Parameter
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

from conftest import QrunServer, api_get
from qrun_qiskit import QrunBackend, QrunJob, QrunProvider
from qrun_qiskit._export import export
from qrun_qiskit.exceptions import QrunRunError, QrunValidationError
from test_counts import SHOTS, TVD_TOLERANCE, aer_counts, bell, tvd


@pytest.fixture
def aer(provider: QrunProvider) -> QrunBackend:
    """The README's Aer backend."""
    return provider.get_backend("command/aer")


def rotations() -> QuantumCircuit:
    """Gates outside any small basis (``ry``, ``cu``, ``ccx``) and two registers' worth of
    unequal outcomes."""
    circuit = QuantumCircuit(3, 3, name="rotations")
    circuit.ry(0.9, 0)
    circuit.h(1)
    circuit.cu(0.4, 0.2, 0.1, 0.0, 1, 2)
    circuit.ccx(0, 1, 2)
    circuit.measure([0, 1, 2], [0, 1, 2])
    return circuit


def test_the_aer_backends_target_is_aers_gates_and_width(aer: QrunBackend) -> None:
    local = AerSimulator().target
    assert aer.target.num_qubits == 26
    missing = {"cx", "h", "rz", "sx", "x", "ccx", "cu", "delay", "mcx", "mcphase"} - set(
        aer.target.operation_names
    )
    assert not missing, missing
    # Nothing Aer itself would not run.
    assert set(aer.target.operation_names) <= set(local.operation_names) | {"barrier"}


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_a_circuit_transpiled_for_the_aer_backend_runs_there(aer: QrunBackend, level: int) -> None:
    circuit = rotations()
    isa = transpile(circuit, backend=aer, optimization_level=level, seed_transpiler=11)
    counts = aer.run(isa, shots=SHOTS, seed_simulator=5).result().get_counts()
    expected = aer_counts(circuit)
    assert sum(counts.values()) == SHOTS
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)


def test_a_circuit_laid_out_on_physical_qubits_runs_on_aer(
    aer: QrunBackend, qrun: QrunServer
) -> None:
    """An ``initial_layout`` puts the circuit on physical qubits (``$n`` in OpenQASM 3): the
    runner's Aer reads them and its counts are Aer's for the original circuit."""
    circuit = rotations()
    isa = transpile(
        circuit, backend=aer, initial_layout=[5, 2, 7], optimization_level=1, seed_transpiler=3
    )
    assert "$5" in qasm3.dumps(isa)
    job = aer.run(isa, shots=SHOTS, seed_simulator=5)
    counts = job.result().get_counts()
    run = api_get(qrun, f"/api/jobs/{job.job_id()}")["runs"][0]["run"]
    stored = api_get(qrun, f"/api/circuits/{run['circuit']}")
    assert stored["manifest"]["format"] == "openqasm3" and "$5" in stored["source"], stored
    expected = aer_counts(circuit)
    assert sum(counts.values()) == SHOTS
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)


def depolarizing_on_cx() -> NoiseModel:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.3, 2), ["cx"])
    return noise


def test_a_noise_model_reaches_aer_and_changes_the_counts(aer: QrunBackend) -> None:
    noise = depolarizing_on_cx()
    counts = (
        aer.run(bell(), shots=SHOTS, noise_model=noise, method="density_matrix")
        .result()
        .get_counts()
    )
    local = (
        AerSimulator(noise_model=noise, method="density_matrix")
        .run(bell(), shots=SHOTS, seed_simulator=11)
        .result()
        .get_counts()
    )
    noiseless = aer_counts(bell())
    assert tvd(counts, local) < TVD_TOLERANCE, (counts, local)
    # Depolarizing noise puts about 15% of the shots on 01 and 10, which a Bell pair never gives.
    assert tvd(counts, noiseless) > 0.1, (counts, noiseless)
    assert {"01", "10"} <= set(counts), counts


def test_aer_options_qrun_cannot_honour_are_refused_with_the_reason(
    aer: QrunBackend, provider: QrunProvider
) -> None:
    with pytest.raises(QrunValidationError, match="max_parallel_threads is Aer's.*OMP_NUM_THREADS"):
        aer.run(bell(), max_parallel_threads=4)
    with pytest.raises(QrunValidationError, match="blocking_enable is Aer's"):
        aer.run(bell(), blocking_enable=True)
    simulator = provider.get_backend("statevector")
    with pytest.raises(
        QrunValidationError,
        match="backend simulator/statevector does not take the run option noise_model "
        r"\(its options: method, precision\)",
    ):
        simulator.run(bell(), noise_model=depolarizing_on_cx())


def test_the_server_refuses_an_option_the_backend_does_not_list(
    qrun: QrunServer, provider: QrunProvider
) -> None:
    """Past the client: ``POST /api/runs`` with an option Aer's configuration does not list."""
    circuit_id, version = provider.upload(bell(), export(bell(), ["openqasm3"], {}, "aer"))
    response = requests.post(
        qrun.url + "/api/runs",
        headers={"Authorization": f"Bearer {qrun.token}"},
        json={
            "circuit_id": circuit_id,
            "version": version,
            "backend": {"type": "command", "name": "aer"},
            "shots": 10,
            "options": {"shots_per_thread": 3},
        },
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "invalid_options",
        "message": "backend `command/aer` does not take the option `shots_per_thread`; it "
        "takes: method, noise_model, precision",
    }


def test_the_method_option_runs_aer_with_that_method(aer: QrunBackend) -> None:
    # A stabilizer simulation refuses a non-Clifford gate: the method reached Aer.
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.t(0)
    circuit.h(0)
    circuit.measure(0, 0)
    job = aer.run(circuit, shots=10, method="stabilizer")
    with pytest.raises(QrunRunError, match="Aer cannot run this circuit with method 'stabilizer'"):
        job.result(partial=False)
    counts = aer.run(bell(), shots=100, method="matrix_product_state").result().get_counts()
    assert set(counts) <= {"00", "11"}, counts


def test_the_precision_option_is_sent_to_the_backends_that_take_it(
    aer: QrunBackend, provider: QrunProvider, qrun: QrunServer
) -> None:
    """``precision`` reaches the server as the run's ``options`` on the Aer backend and on the
    built-in simulator (both list it), given to ``run`` or by ``set_options``; unset, nothing
    is sent (the backend's own default, double)."""

    def sent(job: QrunJob) -> dict[str, object]:
        return api_get(qrun, f"/api/jobs/{job.job_id()}")["runs"][0]["run"]["options"]

    assert "precision" in aer.info.options
    job = aer.run(bell(), shots=100, seed_simulator=4, precision="single")
    counts = job.result().get_counts()
    assert sum(counts.values()) == 100 and set(counts) <= {"00", "11"}, counts
    assert sent(job) == {"precision": "single"}
    simulator = provider.get_backend("statevector")
    assert "precision" in simulator.info.options
    assert sent(simulator.run(bell(), shots=10)) == {}
    simulator.set_options(precision="single")
    assert simulator.options.precision == "single"
    job = simulator.run(bell(), shots=100, method="statevector")
    assert sent(job) == {"method": "statevector", "precision": "single"}
    assert set(job.result().get_counts()) <= {"00", "11"}
    assert sent(simulator.run(bell(), shots=10, precision="double")) == {"precision": "double"}


def test_a_precision_a_backend_cannot_take_is_refused(
    aer: QrunBackend, provider: QrunProvider, qrun: QrunServer
) -> None:
    before = [run["id"] for run in api_get(qrun, "/api/runs?limit=100")["runs"]]
    quick = provider.get_backend("command/quick2")
    with pytest.raises(
        QrunValidationError,
        match=r"backend command/quick2 does not take the run option precision \(its options: "
        r"none\)",
    ):
        quick.run(bell(), precision="single")
    with pytest.raises(QrunValidationError, match="precision must be a string, not 32"):
        aer.run(bell(), precision=32)
    after = [run["id"] for run in api_get(qrun, "/api/runs?limit=100")["runs"]]
    assert after == before, "something was submitted"
    # A string Aer has no precision for reaches the runner, which refuses it (exit 65).
    job = aer.run(bell(), shots=10, precision="half")
    with pytest.raises(QrunRunError, match="option precision: 'half' is not one of double, single"):
        job.result(partial=False)


def test_per_shot_memory_comes_back_from_aer(aer: QrunBackend, qrun: QrunServer) -> None:
    circuit = QuantumCircuit(3, 3, name="memory")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.x(2)
    circuit.measure([0, 1, 2], [0, 1, 2])
    job = aer.run(circuit, shots=50, memory=True, seed_simulator=9)
    result = job.result()
    memory = result.get_memory(0)
    assert len(memory) == 50
    assert set(memory) <= {"100", "111"}, memory
    counts = result.get_counts()
    assert {key: memory.count(key) for key in set(memory)} == counts
    # What the server stores is Aer's own memory for the seed: the same shots in the same order.
    run_id = job.job_id()
    served = api_get(qrun, f"/api/jobs/{run_id}")["runs"][0]["run"]["id"]
    page = api_get(qrun, f"/api/runs/{served}/memory")
    assert page["memory"] == memory
    local = (
        AerSimulator(seed_simulator=9)
        .run(transpile(circuit, AerSimulator()), shots=50, memory=True)
        .result()
        .get_memory(0)
    )
    assert memory == local


def test_control_flow_the_engine_refuses_runs_on_aer(aer: QrunBackend) -> None:
    """A ``while`` loop and a ``delay`` (exported as OpenQASM 3, which qrun's engine refuses and
    Aer's runner reads) run on the Aer backend with Aer's distribution."""
    circuit = QuantumCircuit(2, 2, name="repeat-until-one")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 0)):
        circuit.h(0)
        circuit.measure(0, 0)
    circuit.delay(100, 1, unit="ns")
    circuit.ry(1.1, 1)
    circuit.measure(1, 1)
    counts = aer.run(circuit, shots=SHOTS, seed_simulator=3).result().get_counts()
    simulator = AerSimulator()
    local = (
        simulator.run(transpile(circuit, simulator), shots=SHOTS, seed_simulator=11)
        .result()
        .get_counts()
    )
    assert set(counts) == {"01", "11"}, counts  # the loop ends with c[0] = 1
    assert tvd(counts, local) < TVD_TOLERANCE, (counts, local)


def switched() -> QuantumCircuit:
    """A ``switch`` on a measured register with a parameter in one case: Qiskit exports it to
    OpenQASM 3, but its OpenQASM 3 importer (the runner's) cannot read it back."""
    theta = Parameter("theta")
    coin, out = ClassicalRegister(1, "coin"), ClassicalRegister(2, "out")
    circuit = QuantumCircuit(QuantumRegister(3, "q"), coin, out, name="switched")
    circuit.h(0)
    circuit.measure(0, coin[0])
    with circuit.switch(coin) as case:
        with case(0):
            circuit.x(1)
        with case(case.DEFAULT):
            circuit.ry(theta, 2)
    circuit.measure([1, 2], out)
    return circuit


def initialized() -> QuantumCircuit:
    """``initialize``: no OpenQASM 3 export, and a gate with ``reset`` inside in OpenQASM 2."""
    circuit = QuantumCircuit(2, 2, name="initialized")
    circuit.initialize([0.6, 0, 0, 0.8], [0, 1])
    circuit.measure([0, 1], [0, 1])
    return circuit


def repeat_until_one() -> QuantumCircuit:
    """A ``while`` loop, which OpenQASM 3 carries to the runner."""
    circuit = QuantumCircuit(2, 2, name="repeat-until-one")
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 0)):
        circuit.h(0)
        circuit.measure(0, 0)
    circuit.ry(1.1, 1)
    circuit.measure(1, 1)
    return circuit


def overlapping() -> QuantumCircuit:
    """One clbit in two registers: OpenQASM gives a bit one register, QPY keeps both."""
    shared = [Clbit(), Clbit()]
    circuit = QuantumCircuit(QuantumRegister(2, "q"), name="overlapping")
    circuit.add_bits(shared)
    circuit.add_register(ClassicalRegister(name="all", bits=shared))
    circuit.add_register(ClassicalRegister(name="lo", bits=shared[:1]))
    circuit.h(0)
    circuit.x(1)
    circuit.measure([0, 1], shared)
    return circuit


@pytest.mark.parametrize(
    "make,values,fmt",
    [
        (switched, {"theta": 2.0}, "qpy"),
        (initialized, {}, "qpy"),
        (overlapping, {}, "qpy"),
        (repeat_until_one, {}, "openqasm3"),
    ],
)
def test_what_openqasm_cannot_carry_reaches_aer_as_qpy(
    aer: QrunBackend, qrun: QrunServer, make, values: dict[str, float], fmt: str
) -> None:
    """QPY only where OpenQASM cannot carry the circuit (else the readable OpenQASM 3), and
    the counts and per-shot memory are Aer's own for the same seed."""
    circuit = make()
    job = aer.run(circuit, shots=2000, seed_simulator=7, memory=True, parameter_values=values)
    with warnings.catch_warnings():
        # Aer's own keys come back as they are, without the warning for keys that do not
        # follow the registers (a bit in two registers).
        warnings.simplefilter("error")
        result = job.result()
    simulator = AerSimulator(seed_simulator=7)
    bound = circuit.assign_parameters(values) if values else circuit
    local = simulator.run(transpile(bound, simulator), shots=2000, memory=True).result()
    assert result.get_counts() == local.get_counts()
    assert result.get_memory(0) == local.get_memory(0)
    run = api_get(qrun, f"/api/jobs/{job.job_id()}")["runs"][0]["run"]
    stored = api_get(qrun, f"/api/circuits/{run['circuit']}")
    assert stored["manifest"]["format"] == fmt, stored["manifest"]

