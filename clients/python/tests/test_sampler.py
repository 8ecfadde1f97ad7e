"""Per-shot memory (``memory=True``) and the Sampler primitive: ``qrun_qiskit.SamplerV2`` and
Qiskit's ``BackendSamplerV2`` over a parameter sweep, against Aer's ``SamplerV2`` — the same
BitArray shapes, registers and counts within shot noise."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2, PrimitiveResult
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from conftest import QrunServer, api_get
from qrun_qiskit import QrunProvider, SamplerV2
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
    with pytest.raises(Exception, match="unknown sampler option"):
        SamplerV2(provider.get_backend("statevector"), options={"shots": 3})
