"""Seeds: ``seed_simulator`` makes a job reproducible, and a job's runs are seeded as Aer seeds
a job's experiments — ``seed + 2113 * k`` for the k-th (qiskit-aer 0.18,
``controller_execute.hpp``) — checked against the seeds Aer itself reports, for
``backend.run`` and for ``SamplerV2``'s PUBs."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer import AerSimulator

from conftest import QrunServer, api_get
from qrun_qiskit import QrunProvider, QrunValidationError, SamplerV2
from test_counts import bell, registers


def aer_seeds(circuits: list[QuantumCircuit], seed: int, **options: object) -> list[int]:
    """The seed Aer gives each experiment of one job seeded ``seed``."""
    result = AerSimulator().run(circuits, shots=10, seed_simulator=seed, **options).result()
    return [experiment.seed_simulator for experiment in result.results]


def test_a_seed_makes_runs_reproducible(provider: QrunProvider, qrun: QrunServer) -> None:
    backend = provider.get_backend("statevector")
    seeded = backend.run(bell(), shots=1000, seed_simulator=7).result().get_counts()
    again = backend.run(bell(), shots=1000, seed_simulator=np.uint32(7))
    assert again.result().get_counts() == seeded
    assert api_get(qrun, f"/api/runs/{again.run_ids()[0]}")["seed"] == 7
    # A batch of one circuit is several samples, and the batch is reproducible too.
    batch = backend.run([bell(), bell(), bell()], shots=1000, seed_simulator=7)
    counts = batch.result().get_counts()
    assert counts[0] == seeded
    assert counts[1] != counts[0] or counts[2] != counts[0], counts
    second_seed = batch.runs()[1]["seed"]
    assert (
        backend.run(bell(), shots=1000, seed_simulator=second_seed).result().get_counts()
        == (counts[1])
    )
    # Without a seed, each run samples afresh (three equal 1000-shot Bell counts: p < 1e-3).
    fresh = [backend.run(bell(), shots=1000).result().get_counts() for _ in range(3)]
    assert len({tuple(sorted(c.items())) for c in fresh}) > 1, fresh


def test_a_jobs_seeds_are_spaced_as_aer_spaces_them(provider: QrunProvider) -> None:
    backend = provider.get_backend("statevector")
    circuits = [bell(), registers(), bell(), registers(), bell()]
    seeds = {}
    for seed in (42, 43):
        job = backend.run(circuits, shots=10, seed_simulator=seed)
        seeds[seed] = [run["seed"] for run in job.runs()]
        assert seeds[seed] == aer_seeds(circuits, seed), seed
    assert seeds[42] == [42 + 2113 * k for k in range(len(circuits))]
    # Jobs seeded 42 and 43 share no seed (with seed + k, circuit k of one was circuit k - 1
    # of the other: the same samples twice).
    assert not set(seeds[42]) & set(seeds[43])
    # Past 2^63 - 1 (qrun's largest seed) the seeds wrap around; Aer's wrap at 2^64.
    top = 2**63 - 1
    job = backend.run([bell(), bell()], shots=10, seed_simulator=top)
    assert [run["seed"] for run in job.runs()] == [top, 2112]


def test_samplerv2_seeds_the_runs_of_its_pubs_as_aer_does(provider: QrunProvider) -> None:
    theta = Parameter("θ")
    rotated = QuantumCircuit(1, 1, name="rotated")
    rotated.ry(theta, 0)
    rotated.measure(0, 0)
    sweep = [[0.1], [0.2], [0.3]]
    sampler = SamplerV2(provider.get_backend("statevector"), options={"seed_simulator": 42})
    job = sampler.run([(rotated, sweep), (bell(),), (rotated, sweep[:2])], shots=10)
    seeds = [run["seed"] for run in provider.job(job.job_id()).qrun_job.runs()]
    # Aer's SamplerV2 runs PUBs of the same shots as one job, one experiment per parameter set.
    expected = aer_seeds(
        [rotated, bell(), rotated],
        42,
        parameter_binds=[{theta: [0.1, 0.2, 0.3]}, {}, {theta: [0.1, 0.2]}],
    )
    assert seeds == expected == [42 + 2113 * k for k in range(6)]


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "7"])
def test_samplerv2_refuses_a_seed_out_of_range(provider: QrunProvider, seed: object) -> None:
    with pytest.raises(QrunValidationError, match="seed_simulator must be"):
        SamplerV2(provider.get_backend("statevector"), options={"seed_simulator": seed})
