"""Counts from qrun, through the Qiskit backend, against Qiskit Aer's for the same circuits:
registers, bit order and spaces exactly; frequencies within a total variation distance."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter, ParameterVector
from qiskit.primitives import BackendEstimatorV2
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

from conftest import QrunServer, api_get
from qrun_qiskit import QrunProvider

#: Shots per statistical comparison.
SHOTS = 8000
#: The largest total variation distance (TVD) allowed between qrun's and Aer's frequencies.
#: Each empirical distribution over k outcomes is within t/2 of the true one in TVD except with
#: probability at most (2^k - 2)·exp(-N·t²/2) (the L1 deviation bound of Weissman et al., 2003,
#: with ||·||₁ = 2·TVD); by the triangle inequality the two are then within t of each other.
#: With N = 8000, t = 0.06 and k ≤ 4 outcomes that is ≤ 2 · 14 · e^-14.4 ≈ 1.6e-5 per
#: comparison: a real difference (a wrong bit order, a wrong gate) moves the TVD to ≥ 0.25.
TVD_TOLERANCE = 0.06


def tvd(p: dict[str, int], q: dict[str, int]) -> float:
    """The total variation distance between two count histograms, as frequencies."""
    n_p, n_q = sum(p.values()), sum(q.values())
    return 0.5 * sum(abs(p.get(k, 0) / n_p - q.get(k, 0) / n_q) for k in set(p) | set(q))


def aer_counts(circuit: QuantumCircuit, shots: int = SHOTS) -> dict[str, int]:
    """Aer's counts, seeded (Aer's own sampling is then fixed; qrun's is not)."""
    return AerSimulator().run(circuit, shots=shots, seed_simulator=11).result().get_counts()


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def registers() -> QuantumCircuit:
    """Two classical registers of different sizes, a superposition in each: four outcomes
    whose keys show the register order (last declared leftmost) and the space."""
    q = QuantumRegister(3, "q")
    a = ClassicalRegister(1, "a")
    b = ClassicalRegister(2, "b")
    circuit = QuantumCircuit(q, a, b, name="registers")
    circuit.h(0)
    circuit.h(1)
    circuit.cx(1, 2)
    circuit.x(2)
    circuit.measure(q[0], a[0])
    circuit.measure(q[1], b[0])
    circuit.measure(q[2], b[1])
    return circuit


def test_bell_counts_match_aer(provider: QrunProvider) -> None:
    backend = provider.get_backend("statevector")
    job = backend.run(bell(), shots=SHOTS)
    counts = job.result().get_counts()
    expected = aer_counts(bell())
    assert set(counts) == set(expected) == {"00", "11"}, counts
    assert sum(counts.values()) == SHOTS
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)
    assert job.status() is JobStatus.DONE


def test_multi_register_counts_match_aer_key_for_key(provider: QrunProvider) -> None:
    backend = provider.get_backend("simulator/statevector")
    result = backend.run(registers(), shots=SHOTS).result()
    counts = result.get_counts()
    expected = aer_counts(registers())
    assert set(counts) == set(expected) == {"10 0", "10 1", "01 0", "01 1"}, counts
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)
    # The raw data is Aer's too: hexadecimal memory values under the same header.
    aer_result = AerSimulator().run(registers(), shots=10, seed_simulator=1).result()
    assert set(result.data()["counts"]) <= {hex(v) for v in range(8)}
    for key in ("creg_sizes", "memory_slots", "name"):
        assert result.results[0].header[key] == aer_result.results[0].header[key], key


def test_a_deterministic_circuit_gives_aers_exact_counts(provider: QrunProvider) -> None:
    """Bit order within a register and across registers, with nothing left to chance."""
    q = QuantumRegister(4, "q")
    low = ClassicalRegister(3, "low")
    high = ClassicalRegister(1, "high")
    circuit = QuantumCircuit(q, low, high, name="pattern")
    circuit.x(0)
    circuit.x(3)
    circuit.measure(q[:3], low)
    circuit.measure(q[3], high[0])
    backend = provider.get_backend("statevector")
    counts = backend.run(circuit, shots=np.int64(50)).result().get_counts()  # NumPy's ints too
    assert counts == aer_counts(circuit, shots=50) == {"1 001": 50}


def test_a_batch_runs_one_run_per_circuit_in_order(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    ghz = QuantumCircuit(3, name="ghz")
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    ghz.measure_all()
    ones = QuantumCircuit(2, 2, name="ones")
    ones.x([0, 1])
    ones.measure([0, 1], [0, 1])
    circuits = [bell(), ghz, ones]
    job = provider.get_backend("statevector").run(circuits, shots=SHOTS)
    ids = job.run_ids()
    assert len(ids) == 3 and len(set(ids)) == 3
    on_server = api_get(qrun, f"/api/jobs/{job.job_id()}")["runs"]
    assert [(entry["name"], entry["run"]["id"]) for entry in on_server] == list(
        zip(["bell", "ghz", "ones"], ids, strict=True)
    )
    result = job.result()
    all_counts = result.get_counts()
    assert len(all_counts) == 3
    for circuit, counts in zip(circuits, all_counts, strict=True):
        expected = aer_counts(circuit)
        assert set(counts) == set(expected), (circuit.name, counts)
        assert tvd(counts, expected) < TVD_TOLERANCE, (circuit.name, counts, expected)
    assert result.get_counts("ones") == {"11": SHOTS}
    # Each run is on the server, with a page of its own.
    for run_id, url in zip(ids, job.run_urls(), strict=True):
        run = api_get(qrun, f"/api/runs/{run_id}")
        assert run["status"] == "completed" and run["shots"] == SHOTS
        assert url == f"{qrun.url}/{run['circuit']}/runs/{run_id}"
        assert url.startswith(f"{qrun.url}/alice/qiskit-")


def test_parameters_are_bound_by_the_run(provider: QrunProvider, qrun: QrunServer) -> None:
    theta = Parameter("theta")
    angles = ParameterVector("v", 2)
    circuit = QuantumCircuit(2, 2, name="rotations")
    circuit.ry(theta, 0)
    circuit.ry(angles[0] + angles[1], 1)
    circuit.measure([0, 1], [0, 1])
    backend = provider.get_backend("statevector")

    values = {"theta": math.pi, angles[0]: math.pi / 4, "v[1]": math.pi / 4}
    job = backend.run(circuit, shots=SHOTS, parameter_values=values)
    counts = job.result().get_counts()
    expected = aer_counts(circuit.assign_parameters({theta: math.pi, angles: [math.pi / 4] * 2}))
    assert set(counts) == set(expected) == {"01", "11"}, counts
    assert tvd(counts, expected) < TVD_TOLERANCE, (counts, expected)
    # The circuit went up with free inputs, and the run carries the values.
    run = api_get(qrun, f"/api/runs/{job.run_ids()[0]}")
    assert run["parameters"] == {"theta": math.pi, "_v_0_": math.pi / 4, "_v_1_": math.pi / 4}
    source = api_get(qrun, f"/api/circuits/{run['circuit']}")["source"]
    assert "input float[64] theta;" in source

    # One set of values per circuit: the same circuit, two runs, one upload.
    sweep = backend.run(
        [circuit, circuit],
        shots=100,
        parameter_values=[
            {"theta": 0.0, "v[0]": 0.0, "v[1]": 0.0},
            {"theta": math.pi, "v[0]": math.pi / 2, "v[1]": math.pi / 2},
        ],
    )
    assert sweep.result().get_counts() == [{"00": 100}, {"11": 100}]
    circuits = {run["circuit_id"] for run in sweep.runs()}
    assert circuits == {run["circuit_id"]}


def test_an_openqasm2_backend_gets_parameters_bound_into_the_source(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    theta = Parameter("theta")
    circuit = QuantumCircuit(1, 1, name="bound")
    circuit.rx(theta, 0)
    circuit.measure(0, 0)
    job = provider.get_backend("quick2").run(circuit, shots=7, parameter_values={"theta": 0.25})
    assert job.result().get_counts() == {"0": 7}  # the test backend answers "0" every shot
    run = job.runs()[0]
    assert run["parameters"] == {}
    source = api_get(qrun, f"/api/circuits/{run['circuit']}")
    assert source["manifest"]["format"] == "openqasm2"
    assert "rx(0.25) q[0];" in source["source"]


def test_an_identical_circuit_is_uploaded_once(provider: QrunProvider, qrun: QrunServer) -> None:

    backend = provider.get_backend("statevector")
    first = backend.run(bell(), shots=10)
    again = backend.run(bell(), shots=20)
    # A new session (it does not know alice's handle) finds the circuit the first one made.
    elsewhere = QrunProvider(qrun.url, qrun.token).get_backend("statevector").run(bell(), shots=30)
    runs = [first.runs()[0], again.runs()[0], elsewhere.runs()[0]]
    assert len({r["circuit_id"] for r in runs}) == 1, runs
    assert {r["circuit_version"] for r in runs} == {1}
    circuit = api_get(qrun, f"/api/circuits/{runs[0]['circuit']}")
    assert circuit["version"] == 1, circuit
    # A different circuit is a different content address.
    other = backend.run(registers(), shots=10).runs()[0]
    assert other["circuit_id"] != runs[0]["circuit_id"]
    for job in (first, again, elsewhere):
        assert sum(job.result().get_counts().values()) in (10, 20, 30)


class RecordingSession(requests.Session):
    """A session that keeps the method and path of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.sent.append((method, urlsplit(url).path))
        return super().request(method, url, *args, **kwargs)


def test_a_new_session_asks_the_server_whose_token_it_holds(qrun: QrunServer) -> None:
    """A provider that did not make a circuit and was not told its handle learns it with one
    ``GET /api/me`` (never by scanning runs, which failed past the newest 200), then finds the
    circuit an earlier session uploaded."""
    QrunProvider(qrun.url, qrun.token).get_backend("statevector").run(bell(), shots=5).result()
    session = RecordingSession()
    provider = QrunProvider(qrun.url, qrun.token, session=session)
    run = provider.get_backend("statevector").run(bell(), shots=5).runs()[0]
    assert run["circuit"].startswith("alice/"), run
    assert provider.owner() == "alice"
    assert session.sent.count(("GET", "/api/me")) == 1, session.sent
    assert ("GET", "/api/runs") not in session.sent, session.sent


def test_qiskits_backend_estimator_runs_on_qrun(provider: QrunProvider) -> None:
    """BackendEstimatorV2 adds the basis changes and measurements and reads counts."""
    state = QuantumCircuit(2)
    state.h(0)
    state.cx(0, 1)
    estimator = BackendEstimatorV2(backend=provider.get_backend("statevector"))
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    values = estimator.run([(state, observables)], precision=0.02).result()[0].data.evs
    # ZZ and XX of a Bell state are exactly 1 (every shot agrees); ZI is 0 within 5 standard
    # deviations of its 2500-shot estimate (0.1).
    assert list(values[:2]) == [1.0, 1.0]
    assert abs(values[2]) < 0.1, values


@pytest.mark.parametrize("consent", [False, True])
def test_runs_carry_the_providers_consent(qrun: QrunServer, consent: bool) -> None:

    provider = QrunProvider(qrun.url, qrun.token, analytics_consent=consent)
    job = provider.get_backend("statevector").run(bell(), shots=5)
    run = api_get(qrun, f"/api/runs/{job.run_ids()[0]}")
    assert run["analytics_consent"] is consent
