"""Qiskit's Sampler primitive (V2) on a qrun backend, as IBM's and Aer's samplers are used.

    sampler = SamplerV2(mode=provider.get_backend("statevector"))   # or SamplerV2(backend)
    sampler.options.default_shots = 1000
    job = sampler.run([(circuit, [[0.1], [0.2], [0.3]])])
    job.job_id()                           # the server's job: provider.job(id) tomorrow
    job.result()[0].data.meas.get_counts(2)     # the third parameter set's counts

One :meth:`SamplerV2.run` is one server job (``POST /api/jobs``): each PUB's circuit uploaded
once (its parameters left free in OpenQASM 3) and one run per set of parameter values, every
run keeping its shots' outcomes (``memory``). The job's ``metadata`` keeps what the result
needs that the runs do not say — the primitive, each PUB's shape and shots, its classical
registers' bits — so :meth:`QrunProvider.job` rebuilds the same
:class:`~qiskit.primitives.PrimitiveResult` in any process. Each classical register's outcomes
are a :class:`~qiskit.primitives.containers.BitArray` of shape ``pub.shape + (shots,)``,
exactly as Qiskit's ``StatevectorSampler``, ``BackendSamplerV2`` and Aer's ``SamplerV2`` shape
theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2, PrimitiveResult, SamplerPubResult
from qiskit.primitives.base.base_primitive_job import BasePrimitiveJob
from qiskit.primitives.containers import BitArray, DataBin, SamplerPubLike
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.providers import JobStatus
from qiskit.providers.jobstatus import JOB_FINAL_STATES

from .backend import DEFAULT_SHOTS, ParameterValues, QrunBackend, check_seed
from .exceptions import QrunError, QrunValidationError
from .job import QrunJob

#: The key of a job's ``metadata`` this package owns.
METADATA_KEY = "qrun_qiskit"
#: The version of what this package writes under :data:`METADATA_KEY`.
LAYOUT_VERSION = 1

#: One classical register as the result needs it: its name and, for each of its bits (least
#: significant first), that bit's place in a shot's value (the clbit's index).
Register = tuple[str, tuple[int, ...]]


@dataclass
class Options:
    """A :class:`SamplerV2`'s options, set at construction or later as attributes
    (``sampler.options.default_shots = 1000``, as on IBM's and Qiskit's samplers).

    Attributes:
        default_shots: Shots for a PUB that does not say (1024).
        seed_simulator: The first run's seed (0 to 2^63 - 1; ``None``: fresh seeds). The runs
            of all the PUBs of one :meth:`SamplerV2.run` are numbered in order (each PUB's
            parameter sets in its flattened order) and the k-th is seeded
            ``seed_simulator + 2113 * k``, as Aer seeds the experiments of a job
            (:func:`~qrun_qiskit.backend.spaced_seed`).
    """

    default_shots: int = DEFAULT_SHOTS
    seed_simulator: int | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _OPTION_NAMES:
            raise QrunValidationError(
                f"unknown sampler option {name}: SamplerV2 takes {' and '.join(_OPTION_NAMES)}"
            )
        super().__setattr__(name, value)


_OPTION_NAMES = tuple(f.name for f in fields(Options))


class SamplerV2(BaseSamplerV2):
    """Samples PUBs on a qrun backend.

    Constructed as Qiskit's samplers are: ``SamplerV2(backend)``, ``SamplerV2(mode=backend)``
    (IBM Runtime's form; a qrun backend is the only mode), ``options={"default_shots": 1000,
    "seed_simulator": 5}`` (a mapping or an :class:`Options`), and Aer's keywords
    ``default_shots=`` and ``seed=`` (the ``seed_simulator`` option; a keyword wins over
    ``options``).

    Raises:
        QrunValidationError: No qrun backend (or two different ones), an unknown option, or a
            seed that is not 0 to 2^63 - 1.
    """

    def __init__(
        self,
        backend: QrunBackend | None = None,
        *,
        mode: QrunBackend | None = None,
        options: Mapping[str, Any] | Options | None = None,
        default_shots: int | None = None,
        seed: int | None = None,
    ) -> None:
        chosen = backend if backend is not None else mode
        if not isinstance(chosen, QrunBackend) or (mode is not None and mode is not chosen):
            raise QrunValidationError(
                "SamplerV2 takes one qrun backend, as SamplerV2(backend) or SamplerV2(mode="
                f"backend), not backend={backend!r}, mode={mode!r} (IBM's Session and Batch "
                "are not qrun's)"
            )
        self._backend: QrunBackend = chosen
        given: dict[str, Any] = (
            dict(options.__dict__) if isinstance(options, Options) else dict(options or {})
        )
        self._options = Options()
        for name, value in given.items():
            setattr(self._options, name, value)
        if default_shots is not None:
            self._options.default_shots = default_shots
        if seed is not None:
            self._options.seed_simulator = seed
        check_seed(self._options.seed_simulator)

    @property
    def backend(self) -> QrunBackend:
        """The backend sampled on."""
        return self._backend

    @property
    def options(self) -> Options:
        """The options (settable attributes: ``default_shots``, ``seed_simulator``)."""
        return self._options

    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None
    ) -> SamplerJob:
        """Samples each PUB (a circuit, optionally with parameter values and shots) as one
        server job, submitted before this returns.

        Returns:
            The job: ``job_id()`` is the server's job id (:meth:`QrunProvider.job` finds it
            again), ``result()`` a :class:`PrimitiveResult` with one
            :class:`SamplerPubResult` per PUB, in order.

        Raises:
            QrunValidationError: More parameter sets in all than the server's cap on a job's
                runs (:attr:`QrunBackend.max_circuits`), shots or a seed out of range, a
                circuit the backend cannot take (as :meth:`QrunBackend.run`).
            QrunApiError: The server refused an upload or the job.
        """
        if shots is None:
            shots = self._options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        circuits: list[QuantumCircuit] = []
        values: list[ParameterValues] = []
        run_shots: list[int] = []
        for pub in coerced:
            pub_values = _parameter_sets(pub)
            circuits += [pub.circuit] * len(pub_values)
            values += pub_values
            run_shots += [pub.shots] * len(pub_values)
        self._backend.check_job_size(len(circuits), "parameter sets (runs)")
        metadata = {METADATA_KEY: _layout_metadata(coerced)}
        job = self._backend.submit(
            circuits,
            run_shots,
            values,
            seed=check_seed(self._options.seed_simulator),
            memory=True,
            metadata=metadata,
        )
        return SamplerJob(job, metadata[METADATA_KEY])


class SamplerJob(BasePrimitiveJob[PrimitiveResult[SamplerPubResult], JobStatus]):
    """A :meth:`SamplerV2.run` as the server's job: ``job_id()`` is its id, in any process
    (:meth:`QrunProvider.job` returns one of these for a sampler's job). Pickles with its
    provider's token, as :class:`QrunJob` does.

    Raises (at construction):
        QrunError: ``layout`` is not one this package wrote (another version's).
    """

    def __init__(self, job: QrunJob, layout: Mapping[str, Any]) -> None:
        super().__init__(job.job_id())
        #: The server's job: its runs, tags, usage and per-run results.
        self.qrun_job: QrunJob = job
        self._pubs = _read_layout(layout, len(job.run_ids()))
        self._result: PrimitiveResult[SamplerPubResult] | None = None

    def __repr__(self) -> str:
        return f"<SamplerJob('{self.job_id()}', pubs={len(self._pubs)})>"

    def backend(self) -> QrunBackend:
        """The backend sampled on."""
        backend: QrunBackend = self.qrun_job.backend()
        return backend

    def result(self, timeout: float | None = None) -> PrimitiveResult[SamplerPubResult]:
        """Waits until every run has ended and returns one :class:`SamplerPubResult` per PUB,
        each register a :class:`BitArray` shaped ``pub.shape + (shots,)``; the result's
        metadata ``{"version": 2, "job_id"}``. Kept once built.

        Raises:
            QrunRunError: A run failed or was cancelled (a sampler's result has no partial
                form).
            QrunTimeoutError: Some run had not ended within ``timeout`` seconds.
        """
        if self._result is None:
            experiments = self.qrun_job.result(timeout, partial=False).results
            memory = [list(experiment.data.memory) for experiment in experiments]
            results: list[SamplerPubResult] = []
            start = 0
            for pub in self._pubs:
                end = start + pub.runs
                results.append(pub.result(memory[start:end]))
                start = end
            self._result = PrimitiveResult(
                results, metadata={"version": 2, "job_id": self.job_id()}
            )
        return self._result

    def status(self) -> JobStatus:
        """The server's job status (:meth:`QrunJob.status`)."""
        return self.qrun_job.status()

    def done(self) -> bool:
        """Whether every run completed."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        """Whether some run has started and not every one has ended."""
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Whether the job ended cancelled."""
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Whether every run has ended."""
        return self.status() in JOB_FINAL_STATES

    def cancel(self) -> bool:
        """Cancels every run that has not ended (:meth:`QrunJob.cancel`)."""
        return self.qrun_job.cancel()

    def usage(self) -> float:
        """Execution seconds the job's runs used (:meth:`QrunJob.usage`)."""
        return self.qrun_job.usage()


def is_sampler_job(metadata: Mapping[str, Any]) -> bool:
    """Whether a server job's ``metadata`` says a :class:`SamplerV2` submitted it."""
    layout = metadata.get(METADATA_KEY)
    return isinstance(layout, Mapping) and layout.get("primitive") == "sampler"


@dataclass(frozen=True)
class _PubLayout:
    """What a PUB's result needs beyond its runs' memory: its shape, shots, and registers."""

    shape: tuple[int, ...]
    shots: int
    registers: tuple[Register, ...]

    @property
    def runs(self) -> int:
        """Its runs: one per parameter set (``prod(shape)``, 1 for a scalar PUB)."""
        return int(np.prod(self.shape, dtype=int))

    def result(self, memory: Sequence[Sequence[str]]) -> SamplerPubResult:
        """The PUB's runs' memory (each run's shots as hexadecimal values, in the PUB's
        flattened order) as one :class:`BitArray` per register, shaped
        ``shape + (shots,)``."""
        shots = [[_shot_value(value) for value in run] for run in memory]
        arrays: dict[str, BitArray] = {}
        for name, positions in self.registers:
            packed = [
                BitArray.from_samples(
                    [_register_value(value, positions) for value in run],
                    num_bits=len(positions),
                ).array
                for run in shots
            ]
            stacked = np.stack(packed).reshape(self.shape + packed[0].shape)
            arrays[name] = BitArray(stacked, len(positions))
        return SamplerPubResult(
            DataBin(**arrays, shape=self.shape), metadata={"shots": self.shots}
        )


def _parameter_sets(pub: SamplerPub) -> list[ParameterValues]:
    """A PUB's parameter sets in its flattened order, each by parameter (one empty set for a
    PUB without parameters)."""
    parameters = list(pub.circuit.parameters)
    if not parameters:
        return [{} for _ in range(max(pub.size, 1))]
    rows = pub.parameter_values.as_array(parameters).reshape(-1, len(parameters))
    return [{p: float(v) for p, v in zip(parameters, row, strict=True)} for row in rows]


def _registers(circuit: QuantumCircuit) -> list[list[Any]]:
    """Each classical register of ``circuit`` as ``[name, [clbit index, …]]``."""
    return [
        [register.name, [circuit.find_bit(bit).index for bit in register]]
        for register in circuit.cregs
    ]


def _layout_metadata(pubs: Sequence[SamplerPub]) -> dict[str, Any]:
    """What :class:`SamplerJob` needs of ``pubs``, compact (a job's metadata is at most
    64 KiB): ``{"primitive": "sampler", "version", "layouts": [registers, …], "pubs":
    [[shape, shots, layout index], …]}``, each distinct register layout once."""
    layouts: list[list[list[Any]]] = []
    entries = []
    for pub in pubs:
        registers = _registers(pub.circuit)
        if registers not in layouts:
            layouts.append(registers)
        entries.append([list(pub.shape), pub.shots, layouts.index(registers)])
    return {
        "primitive": "sampler",
        "version": LAYOUT_VERSION,
        "layouts": layouts,
        "pubs": entries,
    }


def _read_layout(layout: Mapping[str, Any], runs: int) -> list[_PubLayout]:
    """The PUBs :func:`_layout_metadata` wrote, checked against the job's ``runs``.

    Raises:
        QrunError: Another version's layout, or one that does not fit the job's runs.
    """
    if layout.get("version") != LAYOUT_VERSION:
        raise QrunError(
            f"the job's sampler layout is version {layout.get('version')!r}; this qrun-qiskit "
            f"reads version {LAYOUT_VERSION}"
        )
    layouts = layout["layouts"]
    pubs = [
        _PubLayout(
            tuple(int(n) for n in shape),
            int(shots),
            tuple((str(name), tuple(int(i) for i in bits)) for name, bits in layouts[index]),
        )
        for shape, shots, index in layout["pubs"]
    ]
    if sum(pub.runs for pub in pubs) != runs:
        raise QrunError(f"the job's sampler layout does not fit its {runs} runs")
    return pubs


def _shot_value(value: str) -> int:
    """A shot's memory as a number whose bit i is clbit i: Aer's hexadecimal memory value
    (``0x5``), or a key as Qiskit writes it (``"10 1"``, registers joined most significant
    first)."""
    return int(value, 16) if value.startswith("0x") else int(value.replace(" ", ""), 2)


def _register_value(shot: int, positions: Sequence[int]) -> int:
    """A register's value in a shot: its bit k is the shot's bit ``positions[k]``."""
    return sum(((shot >> position) & 1) << k for k, position in enumerate(positions))
