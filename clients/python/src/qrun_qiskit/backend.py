"""A qrun backend as a Qiskit :class:`~qiskit.providers.BackendV2`: its
:class:`~qiskit.transpiler.Target` is built from what ``GET /api/backends`` reports, and
:meth:`QrunBackend.run` checks everything it can before it sends anything.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.circuit import Barrier, ControlFlowOp, Measure, Parameter, Reset
from qiskit.circuit.classical import expr
from qiskit.circuit.library import MCPhaseGate, MCXGate, get_standard_gate_name_mapping
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from ._export import Exported, ParameterKey, export
from .api import BackendInfo
from .exceptions import QrunValidationError
from .job import QrunJob

if TYPE_CHECKING:
    from .provider import QrunProvider

#: ``run()``'s options, with their defaults.
DEFAULT_SHOTS = 1024
#: Seeds are 0 to 2^63 - 1 (``POST /api/runs``'s ``seed``).
MAX_SEED = 2**63
#: How far apart Aer puts the seeds of a job's experiments: the k-th circuit (or parameter
#: set) of a job run with ``seed_simulator=S`` is seeded ``S + 2113 * k`` (qiskit-aer 0.18,
#: ``src/controllers/controller_execute.hpp``: ``seed_shift += 2113`` per experiment).
SEED_STRIDE = 2113

#: Native gates of any width the server may list, by its name: Qiskit's class and the name
#: Qiskit's circuits give it (qrun says ``mcp`` for what Qiskit calls ``mcphase``).
VARIADIC_GATES: dict[str, tuple[type, str]] = {
    "mcx": (MCXGate, "mcx"),
    "mcp": (MCPhaseGate, "mcphase"),
    "mcphase": (MCPhaseGate, "mcphase"),
}

#: One set of parameter values: by parameter (or input variable) name or object.
ParameterValues = Mapping[ParameterKey, float]

#: The run options the server passes to its backend (``GET /api/backends``' ``options``): sent
#: only when the backend lists them, by Qiskit Aer's names.
SERVER_OPTIONS = ("method", "noise_model", "precision")

#: Aer run options that have no meaning through qrun, with the reason.
UNHONOURED_AER_OPTIONS = {
    "max_parallel_threads": "the server sets a backend's threads (OMP_NUM_THREADS in its sandbox)",
    "max_parallel_experiments": "each circuit is a run of its own, scheduled by the server",
    "max_parallel_shots": "the server sets a backend's threads (OMP_NUM_THREADS in its sandbox)",
    "max_memory_mb": "the server's sandbox caps each run's memory (sandbox.memory_mb)",
    "blocking_enable": "the server's sandbox caps each run's memory (sandbox.memory_mb)",
    "blocking_qubits": "the server's sandbox caps each run's memory (sandbox.memory_mb)",
    "device": "the server's backend runs on what it was configured with",
    "executor": "runs execute on the server, not in this process",
    "max_job_size": "each circuit is a run of its own, scheduled by the server",
    "seed_simulator_per_circuit": "seeds are spaced per circuit by seed_simulator",
}


class QrunGateWarning(UserWarning):
    """A gate the server lists as native that Qiskit has no standard gate for: it is left out
    of the backend's target."""


def build_target(info: BackendInfo) -> Target:
    """The transpiler target of a server backend.

    ``num_qubits`` is the backend's ``max_qubits`` (``None`` when the server does not say);
    each native gate is Qiskit's standard gate of that name, on every qubit (a simulator has no
    coupling map), or for the multi-controlled ``mcx`` and ``mcp`` Qiskit's gate of any width;
    ``measure``, ``reset`` and ``barrier`` are always there. A name Qiskit does not know is
    skipped with a :class:`QrunGateWarning`.
    """
    target = Target(
        description=f"qrun {info.full_name}",
        num_qubits=info.max_qubits,
    )
    standard = get_standard_gate_name_mapping()
    for name in info.native_gates:
        if name in ("measure", "reset", "barrier"):
            continue  # added below, whatever the server says
        if name in VARIADIC_GATES:
            gate_class, qiskit_name = VARIADIC_GATES[name]
            if qiskit_name not in target:
                target.add_instruction(gate_class, name=qiskit_name)
            continue
        gate = standard.get(name)
        if gate is None:
            warnings.warn(
                f"backend {info.full_name} lists native gate '{name}', which is not a Qiskit "
                "standard gate: it is left out of the target",
                QrunGateWarning,
                stacklevel=3,
            )
            continue
        target.add_instruction(gate, name=name)
    target.add_instruction(Measure())
    target.add_instruction(Reset())
    target.add_instruction(Barrier, name="barrier")
    return target


class QrunBackend(BackendV2):
    """One backend of a qrun server (``simulator/statevector``, a command backend, …).

    Obtain it from :meth:`QrunProvider.get_backend`. Its name is the server's backend name
    (``statevector``); :attr:`info` has everything the server reported.
    """

    def __init__(self, provider: QrunProvider, info: BackendInfo) -> None:
        super().__init__(
            provider=provider,
            name=info.name,
            description=(
                f"qrun {info.kind} backend '{info.name}' at {provider.client.url} "
                f"(formats: {', '.join(info.formats)})"
            ),
        )
        self._provider: QrunProvider = provider
        #: What ``GET /api/backends`` says of this backend.
        self.info: BackendInfo = info
        self._target = build_target(info)
        self.options.set_validator("shots", (1, info.max_shots))

    def __repr__(self) -> str:
        return f"<QrunBackend('{self.info.full_name}') at {self._provider.client.url}>"

    @property
    def provider(self) -> QrunProvider:
        """The provider this backend came from (its HTTP client and circuit cache)."""
        return self._provider

    @property
    def target(self) -> Target:
        """The transpiler target: the backend's width and native gates."""
        return self._target

    @property
    def max_circuits(self) -> int | None:
        """The most circuits one :meth:`run` takes: the server's cap on a job's runs
        (``GET /api/backends``' ``max_runs_per_job``, ``executor.max_runs_per_job``: 1000 by
        default), so Qiskit's ``BackendSamplerV2`` and ``BackendEstimatorV2`` split a larger
        batch over several jobs. ``None`` when the server does not say."""
        return self.info.max_runs_per_job

    @classmethod
    def _default_options(cls) -> Options:
        """``shots`` 1024; ``seed_simulator`` None (a fresh seed per run);
        ``parameter_values`` None; ``memory`` False; ``job_tags`` none; ``method``,
        ``noise_model`` and ``precision`` None (the backend's own)."""
        return Options(
            shots=DEFAULT_SHOTS,
            seed_simulator=None,
            parameter_values=None,
            memory=False,
            job_tags=None,
            method=None,
            noise_model=None,
            precision=None,
        )

    def run(
        self,
        run_input: QuantumCircuit | Sequence[QuantumCircuit],
        **options: Any,
    ) -> QrunJob:
        """Runs circuits on this backend: one qrun job, one run per circuit named by its
        ``circuit.name``.

        Everything is checked before anything is sent; then each circuit is uploaded once
        (content-addressed: the same circuit again re-uses its circuit and version), as
        OpenQASM 3 when the backend accepts it, else OpenQASM 2, and the job is submitted
        (``POST /api/jobs``, with an ``Idempotency-Key``): all its runs, or none.

        Args:
            run_input: A circuit or a list of circuits.
            **options: ``shots`` (int, 1 to the backend's ``max_shots``; default 1024);
                ``parameter_values``: the values of the circuits' free parameters, as a mapping
                of parameter name (or :class:`~qiskit.circuit.Parameter`) to a real number
                applied to every circuit, or a list of such mappings, one per circuit;
                ``seed_simulator``: the sampling seed (0 to 2^63 - 1), sent as the run's
                ``seed``: the same seed, circuit, parameters and shots give the same counts.
                The i-th circuit's run gets ``seed + 2113 * i`` (modulo 2^63), as Aer seeds a
                job's experiments (:data:`SEED_STRIDE`), so identical circuits in one job are
                independent samples, jobs seeded 42 and 43 share no seed, and the whole job is
                reproducible. ``None`` (the default): a fresh seed per run.
                ``memory``: also keep each shot's outcome, as Aer's ``memory=True``
                (``result.get_memory(i)``); shots × classical bits is bounded by the server
                (400 ``memory_too_large``). ``job_tags``: tags of the server's job, to find it
                by (:meth:`QrunProvider.jobs`).
                ``method`` (a string, Aer's names: ``statevector``, ``stabilizer``,
                ``automatic``; on Aer also ``density_matrix``, …), ``precision`` (a string,
                Aer's names: ``double``, the default, or ``single``) and ``noise_model`` (a
                ``qiskit_aer.noise.NoiseModel``, sent as ``to_dict(serializable=True)``):
                passed to the backend when it lists them in ``info.options`` (the built-in
                simulator takes ``method`` and ``precision``; the README's Aer backend all
                three). Aer options that mean nothing here (``max_parallel_threads``,
                ``blocking_enable``, …) are refused with the reason.

        Returns:
            The submitted job.

        Raises:
            QrunValidationError: An unknown option, or one the backend does not take; more
                circuits than :attr:`max_circuits`; a seed or shots out of range; a circuit
                wider than the backend's ``max_qubits`` or without a measurement; a circuit no
                format of the backend can express (naming the instruction); parameter values
                missing, unused, or not numbers.
            QrunApiError: The server refused an upload or the job (no run was created).
        """
        defaults = dict(self.options.items())
        self._refuse_options(options, defaults)
        merged = {**defaults, **options}
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        if not circuits or not all(isinstance(c, QuantumCircuit) for c in circuits):
            raise QrunValidationError("run() takes a QuantumCircuit or a non-empty list of them")
        shots = self.check_shots(merged["shots"])
        values = _values_per_circuit(merged["parameter_values"], circuits)
        memory = merged["memory"]
        if not isinstance(memory, bool):
            raise QrunValidationError(f"memory must be True or False, not {memory!r}")
        tags = merged["job_tags"] or []
        if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
            raise QrunValidationError(f"job_tags must be a list of strings, not {tags!r}")
        return self.submit(
            circuits,
            [shots] * len(circuits),
            values,
            seed=merged["seed_simulator"],
            memory=memory,
            tags=tags,
            options=self._server_options(merged),
        )

    def submit(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: Sequence[int],
        values: Sequence[ParameterValues],
        *,
        seed: object,
        memory: bool,
        tags: Sequence[str] = (),
        options: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> QrunJob:
        """One server job of ``circuits`` (the step :meth:`run` and
        :class:`~qrun_qiskit.SamplerV2` share): each circuit checked and exported with its
        ``values``, then uploaded and submitted (:meth:`QrunJob.create`).

        Args:
            circuits: The circuits, one run each, at most :attr:`max_circuits`.
            shots: Each run's shots (checked by :meth:`check_shots`).
            values: Each run's parameter values.
            seed: The first run's seed; the i-th gets ``seed + 2113 * i``
                (:func:`spaced_seed`); ``None``: fresh seeds.
            memory: Whether each run keeps its shots' outcomes.
            tags: The job's tags.
            options: The backend's run options (already checked), for every run.
            metadata: A JSON object kept with the server's job (at most 64 KiB as compact
                JSON).

        Raises:
            QrunValidationError: As :meth:`run`.
            QrunApiError: The server refused an upload or the job.
        """
        self.check_job_size(len(circuits), "circuits")
        seeds = _seeds(seed, len(circuits))
        exported: list[Exported] = []
        for circuit, circuit_values in zip(circuits, values, strict=True):
            self._check_circuit(circuit)
            exported.append(export(circuit, self.info.formats, circuit_values, self.info.full_name))
        return QrunJob.create(
            self,
            circuits,
            exported,
            seeds,
            [self.check_shots(n) for n in shots],
            memory,
            tags,
            options,
            metadata,
        )

    def check_job_size(self, runs: int, what: str) -> None:
        """Refuses a job of more ``runs`` than the server's cap (:attr:`max_circuits`), as
        IBM's service refuses a job past its limits, before anything is sent; ``what`` names
        them in the message (``circuits``, ``parameter sets``).

        Raises:
            QrunValidationError: Naming the cap and how to split the work.
        """
        cap = self.max_circuits
        if cap is not None and runs > cap:
            raise QrunValidationError(
                f"{runs} {what} in one job; backend {self.info.full_name}'s server runs at most "
                f"{cap} per job (executor.max_runs_per_job): split them over several run() "
                "calls, or use Qiskit's BackendSamplerV2, which splits by backend.max_circuits"
            )

    def _refuse_options(self, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        """Refuses options this backend cannot honour: an Aer option with no meaning here
        (with its reason), a server option the backend does not list, any other name."""
        for name in sorted(options):
            if name in UNHONOURED_AER_OPTIONS:
                raise QrunValidationError(
                    f"run option {name} is Aer's, and qrun cannot honour it: "
                    f"{UNHONOURED_AER_OPTIONS[name]}"
                )
            if name in SERVER_OPTIONS and name not in self.info.options:
                takes = ", ".join(self.info.options) or "none"
                raise QrunValidationError(
                    f"backend {self.info.full_name} does not take the run option {name} "
                    f"(its options: {takes})"
                )
        unknown = set(options) - set(defaults)
        if unknown:
            raise QrunValidationError(
                f"unknown run option(s) {', '.join(sorted(unknown))}: this backend takes "
                "shots, seed_simulator, parameter_values, memory, job_tags"
                + "".join(f", {name}" for name in self.info.options if name in SERVER_OPTIONS)
            )

    def _server_options(self, merged: Mapping[str, Any]) -> dict[str, Any]:
        """The ``options`` of each run: ``method``, ``precision`` and ``noise_model`` when
        given (a ``NoiseModel`` as ``to_dict(serializable=True)``, a dict as it is)."""
        sent: dict[str, Any] = {}
        for name in ("method", "precision"):
            value = merged[name]
            if value is not None:
                if not isinstance(value, str):
                    raise QrunValidationError(f"{name} must be a string, not {value!r}")
                sent[name] = value
        noise_model = merged["noise_model"]
        if noise_model is not None:
            if isinstance(noise_model, Mapping):
                sent["noise_model"] = dict(noise_model)
            elif hasattr(noise_model, "to_dict"):
                sent["noise_model"] = noise_model.to_dict(serializable=True)
            else:
                raise QrunValidationError(
                    f"noise_model must be a qiskit_aer.noise.NoiseModel, not {noise_model!r}"
                )
        return sent

    def check_shots(self, shots: object) -> int:
        """``shots`` as a whole number from 1 to the backend's ``max_shots``.

        Raises:
            QrunValidationError: Anything else.
        """
        if isinstance(shots, bool) or not isinstance(shots, numbers.Integral):
            raise QrunValidationError(f"shots must be a whole number, not {shots!r}")
        shots = int(shots)
        if not 1 <= shots <= self.info.max_shots:
            raise QrunValidationError(
                f"shots must be between 1 and {self.info.max_shots} on backend "
                f"{self.info.full_name}, not {shots}"
            )
        return shots

    def _check_circuit(self, circuit: QuantumCircuit) -> None:
        limit = self.info.max_qubits
        if limit is not None and circuit.num_qubits > limit:
            raise QrunValidationError(
                f"circuit '{circuit.name}' has {circuit.num_qubits} qubits; backend "
                f"{self.info.full_name} runs at most {limit}"
            )
        if not _measures(circuit):
            raise QrunValidationError(
                f"circuit '{circuit.name}' has no measurements: it would have no counts "
                "(add measure() or measure_all())"
            )


def check_seed(seed: object) -> int | None:
    """``seed_simulator`` as a seed (``None`` stays ``None``: fresh seeds).

    Raises:
        QrunValidationError: ``seed`` is not a whole number from 0 to 2^63 - 1.
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise QrunValidationError(f"seed_simulator must be a whole number, not {seed!r}")
    if not 0 <= int(seed) < MAX_SEED:
        raise QrunValidationError(f"seed_simulator must be from 0 to 2^63 - 1, not {seed}")
    return int(seed)


def spaced_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th experiment of a job seeded ``seed``, as Aer spaces them:
    ``seed + 2113 * index`` (:data:`SEED_STRIDE`), modulo 2^63 (qrun's seeds are below 2^63;
    Aer's wrap at 2^64 instead, which only a seed within ``2113 * index`` of 2^63 meets)."""
    return (seed + SEED_STRIDE * index) % MAX_SEED


def _seeds(seed: object, count: int) -> list[int | None]:
    """Each run's seed: :func:`spaced_seed` of ``seed`` for the i-th circuit, or ``None`` for
    all.

    Raises:
        QrunValidationError: ``seed`` is not a whole number from 0 to 2^63 - 1.
    """
    first = check_seed(seed)
    if first is None:
        return [None] * count
    return [spaced_seed(first, i) for i in range(count)]


def _measures(circuit: QuantumCircuit) -> bool:
    """Whether ``circuit`` measures anything, inside control flow too."""
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "measure":
            return True
        if isinstance(operation, ControlFlowOp) and any(_measures(b) for b in operation.blocks):
            return True
    return False


def _values_per_circuit(
    parameter_values: ParameterValues | Sequence[ParameterValues] | None,
    circuits: Sequence[QuantumCircuit],
) -> list[ParameterValues]:
    """One mapping of values per circuit: ``None`` is none for each, a mapping is shared, a
    list has one per circuit. A name or parameter that no circuit has is an error (a typo would
    otherwise go unnoticed).

    Raises:
        QrunValidationError: A list of the wrong length, or a key no circuit uses.
    """
    if parameter_values is None:
        return [{} for _ in circuits]
    if isinstance(parameter_values, Mapping):
        per_circuit: list[ParameterValues] = [parameter_values] * len(circuits)
    else:
        per_circuit = list(parameter_values)
        if len(per_circuit) != len(circuits) or not all(
            isinstance(v, Mapping) for v in per_circuit
        ):
            raise QrunValidationError(
                f"parameter_values must be a mapping, or a list of {len(circuits)} mappings "
                "(one per circuit)"
            )
    unused: list[str] = []
    for index, values in enumerate(per_circuit):
        pool = circuits if isinstance(parameter_values, Mapping) else [circuits[index]]
        for key in values:
            if not any(_has(circuit, key) for circuit in pool):
                name = key if isinstance(key, str) else key.name
                if name not in unused:
                    unused.append(name)
    if unused:
        raise QrunValidationError(
            f"parameter_values names parameters the circuit(s) do not have: {', '.join(unused)}"
        )
    return per_circuit


def _has(circuit: QuantumCircuit, key: ParameterKey) -> bool:
    """Whether ``key`` (a name or object) is a free parameter or input variable of
    ``circuit``."""
    if isinstance(key, Parameter | expr.Var):
        return key in set(circuit.parameters) or key in set(circuit.iter_input_vars())
    return any(p.name == key for p in circuit.parameters) or any(
        v.name == key for v in circuit.iter_input_vars()
    )
