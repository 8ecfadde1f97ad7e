"""Qiskit's Sampler primitive (V2) on a qrun backend.

    sampler = SamplerV2(provider.get_backend("statevector"))
    result = sampler.run([(circuit, [[0.1], [0.2], [0.3]])], shots=1000).result()
    result[0].data.meas.get_counts(2)     # the third parameter set's counts

Each PUB is one circuit uploaded once (its parameters left free in OpenQASM 3) and one run per
set of parameter values, every run keeping its shots' outcomes (``memory``); each classical
register's outcomes become a :class:`~qiskit.primitives.containers.BitArray` of shape
``pub.shape + (shots,)``, exactly as Qiskit's ``StatevectorSampler`` and
``BackendSamplerV2`` shape theirs. (``BackendSamplerV2(backend=qrun_backend)`` works too, but
binds every parameter set into a circuit of its own.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from qiskit.primitives import BaseSamplerV2, PrimitiveJob, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin, SamplerPubLike
from qiskit.primitives.containers.sampler_pub import SamplerPub

from .backend import DEFAULT_SHOTS, QrunBackend, check_seed, spaced_seed
from .exceptions import QrunValidationError
from .job import QrunJob

#: The options :class:`SamplerV2` takes, with their defaults.
DEFAULT_OPTIONS: dict[str, Any] = {"default_shots": DEFAULT_SHOTS, "seed_simulator": None}


class SamplerV2(BaseSamplerV2):
    """Samples PUBs on a qrun backend.

    Args:
        backend: The backend to sample on.
        options: ``default_shots`` (shots for a PUB that does not say; 1024) and
            ``seed_simulator`` (the first run's seed; ``None``: fresh seeds). The runs of all
            the PUBs of one :meth:`run` are numbered in order (each PUB's parameter sets in
            its flattened order) and the k-th is seeded ``seed_simulator + 2113 * k``, as
            Aer's ``SamplerV2`` seeds the experiments of PUBs with the same shots
            (:func:`~qrun_qiskit.backend.spaced_seed`).

    Raises:
        QrunValidationError: An unknown option, or a seed that is not 0 to 2^63 - 1.
    """

    def __init__(self, backend: QrunBackend, *, options: Mapping[str, Any] | None = None) -> None:
        unknown = set(options or {}) - set(DEFAULT_OPTIONS)
        if unknown:
            raise QrunValidationError(
                f"unknown sampler option(s) {', '.join(sorted(unknown))}: SamplerV2 takes "
                f"{' and '.join(DEFAULT_OPTIONS)}"
            )
        self._backend = backend
        self.options: dict[str, Any] = {**DEFAULT_OPTIONS, **(options or {})}
        check_seed(self.options["seed_simulator"])

    @property
    def backend(self) -> QrunBackend:
        """The backend sampled on."""
        return self._backend

    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None
    ) -> PrimitiveJob[PrimitiveResult[SamplerPubResult]]:
        """Samples each PUB (a circuit, optionally with parameter values and shots).

        Returns:
            A job whose result has one :class:`SamplerPubResult` per PUB, in order; its
            metadata's ``job_ids`` are the server's jobs (one per PUB).
        """
        if shots is None:
            shots = self.options["default_shots"]
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        job: PrimitiveJob[PrimitiveResult[SamplerPubResult]] = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[SamplerPub]) -> PrimitiveResult[SamplerPubResult]:
        seed = check_seed(self.options["seed_simulator"])
        submitted = []
        runs_before = 0
        for pub in pubs:
            first_seed = None if seed is None else spaced_seed(seed, runs_before)
            pub_and_job = self._submit(pub, first_seed)
            submitted.append(pub_and_job)
            runs_before += len(pub_and_job[1].run_ids())
        results = [
            _pub_result(
                pub, [experiment.data.memory for experiment in job.result(partial=False).results]
            )
            for pub, job in submitted
        ]
        return PrimitiveResult(
            results, metadata={"version": 2, "job_ids": [job.job_id() for _, job in submitted]}
        )

    def _submit(self, pub: SamplerPub, seed: int | None) -> tuple[SamplerPub, QrunJob]:
        """One PUB as one job: the circuit once, one run per set of parameter values, the
        first seeded ``seed`` (``None``: fresh seeds)."""
        parameters = list(pub.circuit.parameters)
        rows = pub.parameter_values.as_array(parameters).reshape((*pub.shape, len(parameters)))
        flat = rows.reshape(-1, len(parameters)) if parameters else np.zeros((max(pub.size, 1), 0))
        values = [{p: float(v) for p, v in zip(parameters, row, strict=True)} for row in flat]
        job = self._backend.run(
            [pub.circuit] * len(values),
            shots=pub.shots,
            parameter_values=values,
            memory=True,
            seed_simulator=seed,
        )
        return pub, job


def _pub_result(pub: SamplerPub, memory: list[list[str]]) -> SamplerPubResult:
    """The runs' memory (one list of hexadecimal shot values per parameter set, in the PUB's
    flattened order) as one :class:`BitArray` per classical register, shaped
    ``pub.shape + (shots,)``."""
    circuit = pub.circuit
    arrays: dict[str, BitArray] = {}
    for register in circuit.cregs:
        indices = [circuit.find_bit(bit).index for bit in register]
        packed = [
            BitArray.from_samples(
                [_register_value(int(shot, 16), indices) for shot in shots_memory],
                num_bits=register.size,
            ).array
            for shots_memory in memory
        ]
        stacked = np.stack(packed).reshape(pub.shape + packed[0].shape)
        arrays[register.name] = BitArray(stacked, register.size)
    return SamplerPubResult(
        DataBin(**arrays, shape=pub.shape),
        metadata={"shots": pub.shots, "circuit_metadata": circuit.metadata},
    )


def _register_value(shot: int, indices: list[int]) -> int:
    """A register's value in a shot: its bit k is the clbit ``indices[k]`` of the shot."""
    return sum(((shot >> index) & 1) << k for k, index in enumerate(indices))
