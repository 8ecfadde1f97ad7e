"""Per-shot memory (``memory=True``) and the Sampler primitive: ``qrun_qiskit.SamplerV2`` and
Qiskit's ``BackendSamplerV2`` over a parameter sweep, against Aer's ``SamplerV2`` — the same
BitArray shapes, registers and counts within shot noise; a sampler's run is one server job,
retrieved by its id in a fresh process as the same ``PrimitiveResult``; the constructor forms
of IBM's and Aer's samplers."""

from __future__ import annotations

import pickle
from collections import Counter
from typing import Any

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2, PrimitiveResult
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from conftest import QrunServer, api_get, in_a_fresh_process
from qrun_qiskit import QrunProvider, QrunValidationError, SamplerJob, SamplerV2
from test_counts import TVD_TOLERANCE, registers, tvd

SHOTS = 4000


def test_memory_gives_each_shot_as_aer_writes_it(provider: QrunProvider) -> None:
    backend = provider.get_backend("statevector")
    result = backend.run(registers(), shots=500, memory=True, seed_simulator=7).result()
    memory = result.get_memory()
    aer_memory = (
        AerSimulator().run(registers(), shots=500, memory=True, seed_simulator=7)
        .result()
        .get_memory()
    )
    assert len(memory) == 500
    assert {len(shot) for shot in memory} == {len(aer_memory[0])} == {4}  # "b1b0 a0"
    assert set(memory) == set(aer_memory)  # four outcomes, each over 500 shots
    assert Counter(memory) == result.get_counts()


def sweep() -> tuple[QuantumCircuit, np.ndarray]:
    """A parameterised circuit over two registers, with a 2 × 3 array of parameter sets
    (each in ``circuit.parameters`` order: phi, θ)."""
    theta, phi = Parameter("θ"), Parameter("phi")
    q = QuantumRegister(3, "q")
    low, high = ClassicalRegister(2, "low"), ClassicalRegister(1, "high")
    circuit = QuantumCircuit(q, low, high, name="sweep")
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.rx(phi, 2)
    circuit.measure([0, 1], low)
    circuit.measure(2, high)
    values = np.array(
        [[[0.3, 2.0], [1.2, 0.5], [2.8, 1.5]], [[0.0, 3.1], [1.57, 1.57], [3.14, 0.0]]]
    )
    return circuit, values


def assert_like_aer(
    result: PrimitiveResult, circuit: QuantumCircuit, values: np.ndarray
) -> None:
    expected = AerSamplerV2(seed=3).run([(circuit, values)], shots=SHOTS).result()[0].data
    data = result[0].data
    assert sorted(data.keys()) == sorted(expected.keys()) == ["high", "low"]
    for name in ("low", "high"):
        ours, theirs = data[name], expected[name]
        assert ours.shape == theirs.shape == (2, 3)
        assert ours.num_shots == theirs.num_shots == SHOTS
        assert ours.num_bits == theirs.num_bits
        assert ours.array.shape == theirs.array.shape
        for index in np.ndindex(ours.shape):
            got, want = ours.get_counts(index), theirs.get_counts(index)
            assert tvd(got, want) < TVD_TOLERANCE, (name, index, got, want)


def test_qrun_samplerv2_runs_a_sweep_as_one_upload(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    circuit, values = sweep()
    sampler = SamplerV2(provider.get_backend("statevector"), options={"seed_simulator": 5})
    result = sampler.run([(circuit, values)], shots=SHOTS).result()
    assert_like_aer(result, circuit, values)
    runs = api_get(qrun, "/api/runs?limit=6")["runs"]  # this test's, the newest
    assert len({run["circuit_id"] for run in runs}) == 1
    # circuit.parameters order: phi, θ
    assert sorted(run["parameters"]["phi"] for run in runs) == sorted(values[..., 0].ravel())


def test_qiskits_backend_sampler_runs_on_qrun(provider: QrunProvider) -> None:
    circuit, values = sweep()
    sampler = BackendSamplerV2(backend=provider.get_backend("statevector"))
    result = sampler.run([(circuit, values)], shots=SHOTS).result()
    assert_like_aer(result, circuit, values)


def test_samplerv2_refuses_unknown_options(provider: QrunProvider) -> None:
    backend = provider.get_backend("statevector")
    with pytest.raises(QrunValidationError, match="unknown sampler option shots"):
        SamplerV2(backend, options={"shots": 3})
    with pytest.raises(QrunValidationError, match="unknown sampler option shots"):
        SamplerV2(backend).options.shots = 3
    with pytest.raises(QrunValidationError, match="one qrun backend"):
        SamplerV2()
    with pytest.raises(QrunValidationError, match="seed_simulator must be from 0"):
        SamplerV2(backend, seed=-1)


def bell_pair() -> QuantumCircuit:
    circuit = QuantumCircuit(2, name="pair")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def described(result: Any) -> list[dict[str, Any]]:
    """A PrimitiveResult as plain data: per PUB, its shape, shots and, per register, the
    BitArray's shape, shots, bits and packed bytes."""
    return [
        {
            "shape": list(pub.data.shape),
            "shots": pub.metadata["shots"],
            "registers": {
                name: [list(bits.shape), bits.num_shots, bits.num_bits, bits.array.tolist()]
                for name, bits in pub.data.items()
            },
        }
        for pub in result
    ]


def test_a_sampler_run_is_one_server_job_retrieved_by_its_id_in_a_fresh_process(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    circuit, values = sweep()
    sampler = SamplerV2(mode=provider.get_backend("statevector"), seed=11)
    sampler.options.default_shots = 300
    job = sampler.run([(circuit, values), (bell_pair(), None, 50)])
    assert isinstance(job, SamplerJob)
    server = api_get(qrun, f"/api/jobs/{job.job_id()}")  # the job's id is the server's
    assert [entry["run"]["shots"] for entry in server["runs"]] == [300] * 6 + [50]
    assert server["metadata"]["qrun_qiskit"]["primitive"] == "sampler"
    result = job.result()
    assert isinstance(result, PrimitiveResult) and result.metadata["job_id"] == job.job_id()
    assert result[0].data.low.shape == (2, 3) and result[1].data.meas.shape == ()
    again = in_a_fresh_process(
        qrun,
        f"""\
        import json
        from qiskit.primitives import PrimitiveResult, SamplerPubResult
        from qrun_qiskit import QrunProvider
        from test_sampler import described
        job = QrunProvider({qrun.url!r}, sys.stdin.read().strip()).job({job.job_id()!r})
        result = job.result()
        assert isinstance(result, PrimitiveResult), type(result)
        assert all(isinstance(pub, SamplerPubResult) for pub in result)
        print(json.dumps({{"id": job.job_id(), "status": job.status().name,
                          "pubs": described(result)}}))
        """,
    )
    assert again == {"id": job.job_id(), "status": "DONE", "pubs": described(result)}
    assert described(pickle.loads(pickle.dumps(job)).result()) == described(result)
    # And its counts are the sampled ones: θ = 0 in the second row's last set.
    assert result[0].data.low.get_counts((1, 2)) == {"00": 300}


def test_the_sampler_takes_ibm_and_aer_constructor_forms(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    backend = provider.get_backend("statevector")
    pub = (bell_pair(),)
    # Aer's keywords: default_shots and seed (seed_simulator), spaced per run as Aer does.
    aer_like = SamplerV2(backend, default_shots=40, seed=5)
    assert (aer_like.options.default_shots, aer_like.options.seed_simulator) == (40, 5)
    job = aer_like.run([pub, pub])
    runs = [entry["run"] for entry in api_get(qrun, f"/api/jobs/{job.job_id()}")["runs"]]
    assert [(run["shots"], run["seed"]) for run in runs] == [(40, 5), (40, 5 + 2113)]
    # IBM's: mode=backend, options as a mapping, then set as attributes.
    ibm_like = SamplerV2(mode=backend, options={"default_shots": 30})
    ibm_like.options.default_shots = 20
    ibm_like.options.seed_simulator = 9
    result = ibm_like.run([pub]).result()
    assert result[0].data.meas.num_shots == 20
    # The form this package had: the backend and an options mapping.
    assert SamplerV2(backend, options={"default_shots": 8}).run([pub]).result()[
        0
    ].data.meas.num_shots == 8
    assert job.result()[1].data.meas.num_shots == 40
