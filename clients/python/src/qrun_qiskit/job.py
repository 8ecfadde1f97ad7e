"""A Qiskit job over qrun runs: one run per circuit, submitted together, each followed on its
event stream until it ends.

qrun's run lifecycle maps onto Qiskit's :class:`~qiskit.providers.JobStatus` edge for edge::

    pending → QUEUED    running → RUNNING    completed → DONE
    failed  → ERROR     cancelled → CANCELLED

A job of several runs is as far along as its least advanced run, so it is final only when
every run is (``wait_for_final_state`` and ``result`` wait for all of them).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result

from . import api
from ._export import Exported
from .exceptions import QrunApiError, QrunError, QrunRunError, QrunTimeoutError

if TYPE_CHECKING:
    from .backend import QrunBackend

#: qrun's run statuses, as Qiskit's job statuses.
STATUS_MAP: dict[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "completed": JobStatus.DONE,
    "failed": JobStatus.ERROR,
    "cancelled": JobStatus.CANCELLED,
}
#: The statuses a run never leaves.
TERMINAL = frozenset({"completed", "failed", "cancelled"})
#: How long the polling fallback keeps retrying one read before the stream is tried again.
_POLL_RETRY_S = 5.0
#: The reconnection delay when the stream has not said one (``retry:``).
_DEFAULT_RECONNECT_S = 2.0


@dataclass
class _Submission:
    """One circuit of the job: what was exported, and the run it became."""

    circuit: QuantumCircuit
    exported: Exported
    #: The run's sampling seed; ``None`` for a fresh one.
    seed: int | None
    #: Sent with the submission (and with any retry of it), so a replay is not a second run.
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: The run as last read (docs/DESIGN.md §11's run JSON); ``None`` until submitted.
    run: dict[str, Any] | None = None


class QrunJob(JobV1):
    """The runs of one :meth:`QrunBackend.run` call.

    ``job_id()`` is the run ids joined by commas (the id itself for one circuit); each run has
    a page on the server, :meth:`run_urls`. :meth:`result` returns a
    :class:`qiskit.result.Result` whose counts are keyed exactly as Qiskit Aer keys them.
    """

    _backend: QrunBackend

    def __init__(
        self,
        backend: QrunBackend,
        circuits: Sequence[QuantumCircuit],
        exported: Sequence[Exported],
        seeds: Sequence[int | None],
        shots: int,
        memory: bool = False,
    ) -> None:
        """Not called directly: :meth:`QrunBackend.run` builds and submits the job.

        Args:
            backend: The backend the runs go to.
            circuits: The circuits, in order.
            exported: Each circuit as uploaded (same order).
            seeds: Each run's sampling seed, or ``None`` for a fresh one (same order).
            shots: Shots per run.
            memory: Whether each run keeps its shots' outcomes (``get_memory``).
        """
        super().__init__(backend, job_id="")
        self._submissions = [
            _Submission(circuit, source, seed)
            for circuit, source, seed in zip(circuits, exported, seeds, strict=True)
        ]
        self._shots = shots
        self._memory = memory
        self._lock = threading.Lock()

    # -- JobV1 -------------------------------------------------------------------------------

    def job_id(self) -> str:
        """The run ids, comma-joined in circuit order (one id for a single circuit)."""
        return ",".join(self.run_ids())

    def submit(self) -> None:
        """Uploads each circuit (once: an identical circuit is re-used) and submits one run per
        circuit. :meth:`QrunBackend.run` calls it; a job is submitted once.

        If a submission is refused, the runs already submitted are cancelled (the job is never
        handed out, so nothing else could) and the refusal is raised.

        Raises:
            QrunError: The job was already submitted.
            QrunApiError: The server refused an upload or a submission.
            QrunValidationError: The server found the exported source invalid (the message
                quotes the line).
        """
        with self._lock:
            if any(s.run is not None for s in self._submissions):
                raise QrunError(f"job {self.job_id()} was already submitted")
            provider = self._backend.provider
            client = provider.client
            try:
                for submission in self._submissions:
                    circuit_id, version = provider.upload(submission.circuit, submission.exported)
                    submission.run = client.submit_run(
                        circuit_id=circuit_id,
                        version=version,
                        backend=self._backend.info,
                        shots=self._shots,
                        parameters=submission.exported.parameters,
                        seed=submission.seed,
                        memory=self._memory,
                        idempotency_key=submission.idempotency_key,
                    )
            except QrunError as error:
                undone = self._cancel_submitted()
                if undone:
                    error.message += f" (the job's runs already submitted were cancelled: {undone})"
                raise

    def status(self) -> JobStatus:
        """The least advanced status of the job's runs (one read of each run not yet
        final)."""
        client = self._backend.provider.client
        for submission in self._submitted():
            if submission.run is not None and submission.run["status"] not in TERMINAL:
                submission.run = client.run(submission.run["id"])
        return _aggregate([s.run["status"] for s in self._submitted() if s.run is not None])

    def cancel(self) -> bool:
        """Cancels every run that has not ended.

        Returns:
            Whether every run is now final (a run that ended on its own meanwhile counts).
        """
        client = self._backend.provider.client
        for submission in self._submitted():
            run = submission.run
            if run is None or run["status"] in TERMINAL:
                continue
            cancelled = client.cancel_run(run["id"])
            # 409: it ended meanwhile; read how.
            submission.run = cancelled if cancelled is not None else client.run(run["id"])
        return all(s.run is not None and s.run["status"] in TERMINAL for s in self._submissions)

    def result(self, timeout: float | None = None) -> Result:
        """Waits until every run has ended and returns their counts as a Qiskit result.

        Each run is followed on its event stream (``GET /api/runs/{id}/events``); when the
        stream fails (the server restarts, a proxy cuts it, an ``error`` event) the run is read
        (``GET /api/runs/{id}``) and the stream is opened again with ``Last-Event-ID``, for as
        long as ``timeout`` allows.

        Args:
            timeout: Seconds to wait at most; ``None`` waits as long as it takes.

        Returns:
            One experiment per circuit, in order; ``get_counts(i)`` is keyed as Qiskit Aer
            keys the same circuit's counts (registers, bit order, spaces).

        Raises:
            QrunRunError: A run failed (its ``error_class``, ``error_stage``,
                ``error_message`` and page URL) or was cancelled; the first in circuit order.
            QrunTimeoutError: Some run had not ended within ``timeout``.
            QrunApiError: The server refused to show a run (e.g. 404).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for submission in self._submitted():
            self._wait(submission, deadline)
        unfinished = [
            s for s in self._submissions if s.run is not None and s.run["status"] != "completed"
        ]
        if unfinished:
            first = unfinished[0]
            assert first.run is not None
            raise QrunRunError(
                run_id=first.run["id"],
                status=first.run["status"],
                error_class=first.run.get("error_class"),
                error_stage=first.run.get("error_stage"),
                error_message=first.run.get("error_message"),
                url=self._backend.provider.run_url(first.run),
                circuit_name=first.circuit.name,
                others=len(unfinished) - 1,
            )
        return Result.from_dict(
            {
                "backend_name": self._backend.name,
                "backend_version": self._backend.backend_version,
                "job_id": self.job_id(),
                "qobj_id": self.job_id(),
                "success": True,
                "status": "COMPLETED",
                "results": [self._experiment(s) for s in self._submissions],
            }
        )

    # -- qrun ---------------------------------------------------------------------------------

    def run_ids(self) -> list[str]:
        """The ids of the job's runs, in circuit order."""
        return [s.run["id"] for s in self._submissions if s.run is not None]

    def run_urls(self) -> list[str]:
        """Each run's page (``{url}/{owner}/{circuit}/runs/{id}``), in circuit order: its
        status, counts and audit timeline, to share (others see it only if the circuit is
        public: ``QrunProvider(..., visibility="public")``)."""
        provider = self._backend.provider
        return [provider.run_url(s.run) for s in self._submissions if s.run is not None]

    def runs(self) -> list[dict[str, Any]]:
        """Each run as last read (docs/DESIGN.md §11's run JSON), in circuit order."""
        return [dict(s.run) for s in self._submissions if s.run is not None]

    def circuits(self) -> list[QuantumCircuit]:
        """The job's circuits, in order."""
        return [s.circuit for s in self._submissions]

    # -- internals ----------------------------------------------------------------------------

    def _submitted(self) -> list[_Submission]:
        if any(s.run is None for s in self._submissions):
            raise QrunError("the job was not submitted")
        return self._submissions

    def _cancel_submitted(self) -> str:
        """Cancels the runs submitted so far (best effort); their ids and outcome."""
        client = self._backend.provider.client
        notes = []
        for submission in self._submissions:
            if submission.run is None:
                continue
            run_id = submission.run["id"]
            try:
                client.cancel_run(run_id)
                notes.append(run_id)
            except QrunError as error:
                notes.append(f"{run_id} (not cancelled: {error})")
        return ", ".join(notes)

    def _wait(self, submission: _Submission, deadline: float | None) -> None:
        """Follows one run until it ends (``submission.run`` then holds the final run)."""
        client = self._backend.provider.client
        assert submission.run is not None
        run_id = submission.run["id"]
        last_event_id: str | None = None
        reconnect_s = _DEFAULT_RECONNECT_S
        while submission.run["status"] not in TERMINAL:
            remaining = _remaining(deadline, run_id)
            try:
                read_timeout = min(api.STREAM_READ_TIMEOUT_S, remaining)
                for event in client.run_events(run_id, last_event_id, read_timeout):
                    if event.retry_ms is not None:
                        reconnect_s = event.retry_ms / 1000
                    if event.event == "status":
                        submission.run = json.loads(event.data)
                        last_event_id = event.id
                        if submission.run["status"] in TERMINAL:
                            return
                    elif event.event == "error":
                        break  # the stream cannot go on: read the run, then try again
            except requests.RequestException:
                pass  # the connection failed or broke: read the run, then try again
            except QrunApiError as error:
                if error.status in (401, 403, 404):
                    raise
            # The fallback: one read of the run, retried briefly if the server is away.
            remaining = _remaining(deadline, run_id)
            try:
                submission.run = client.run(run_id, retry_for=min(_POLL_RETRY_S, remaining))
                last_event_id = submission.run["status"]
            except QrunApiError as error:
                if error.status in (401, 403, 404):
                    raise
            if submission.run["status"] not in TERMINAL:
                time.sleep(min(reconnect_s, _remaining(deadline, run_id)))

    def _experiment(self, submission: _Submission) -> dict[str, Any]:
        """One completed run as an experiment of :meth:`Result.from_dict`."""
        run = submission.run
        assert run is not None and run["results"] is not None
        circuit = submission.circuit
        results = run["results"]
        counts, header, to_qiskit = _qiskit_counts(results["counts"], circuit)
        data: dict[str, Any] = {"counts": counts}
        if self._memory:
            client = self._backend.provider.client
            data["memory"] = [to_qiskit(key) for key in client.run_memory(run["id"])]
        return {
            "shots": results["shots"],
            "success": True,
            "status": "DONE",
            "data": data,
            "header": header,
            "time_taken": results["execution_time"],
            "metadata": {
                "run_id": run["id"],
                "run_url": self._backend.provider.run_url(run),
                "circuit": run["circuit"],
                "circuit_version": run["circuit_version"],
                "parameters": run.get("parameters", {}),
                "seed": run.get("seed"),
                "format": submission.exported.format,
            },
        }


def _remaining(deadline: float | None, run_id: str) -> float:
    """Seconds left before ``deadline`` (a day when there is none), or the timeout error."""
    if deadline is None:
        return 86400.0
    left = deadline - time.monotonic()
    if left <= 0:
        raise QrunTimeoutError(f"run {run_id} had not ended when the timeout passed")
    return left


def _aggregate(statuses: Sequence[str]) -> JobStatus:
    """The least advanced of runs' statuses: queued while any run is pending, running while any
    runs; once all have ended, ERROR if any failed, else CANCELLED if any was cancelled, else
    DONE."""
    for status in ("pending", "running", "failed", "cancelled"):
        if status in statuses:
            return STATUS_MAP[status]
    return JobStatus.DONE


def _qiskit_counts(
    counts: dict[str, int], circuit: QuantumCircuit
) -> tuple[dict[str, int], dict[str, Any], Callable[[str], str]]:
    """qrun's counts as Aer reports them: hexadecimal keys (the memory value), with a header
    saying the classical registers' names and sizes and the number of memory slots, from
    which :meth:`Result.get_counts` writes ``"b1b0 a0"`` exactly as for Aer; and the function
    that turns one of qrun's keys (a count's, or a shot's memory) into the key reported.

    qrun keys counts as Qiskit writes them (each register most significant bit first, one
    space between registers, the last-declared leftmost), so each key is checked against the
    circuit's registers; if the circuit's layout is one that shape cannot hold (bits in no
    register, or bits not in register order), the keys are passed through unchanged with a
    warning.
    """
    header: dict[str, Any] = {
        "name": circuit.name,
        "n_qubits": circuit.num_qubits,
        "qreg_sizes": [[reg.name, reg.size] for reg in circuit.qregs],
        "metadata": dict(circuit.metadata or {}),
    }
    sizes = [reg.size for reg in circuit.cregs]
    in_order = list(circuit.clbits) == [bit for reg in circuit.cregs for bit in reg]
    widths = list(reversed(sizes))
    shaped = in_order and all(
        [len(group) for group in key.split(" ")] == widths and set(key) <= {"0", "1", " "}
        for key in counts
    )
    if not shaped:
        warnings.warn(
            f"circuit '{circuit.name}': counts keys {sorted(counts)[:3]} do not follow its "
            "classical registers; they are passed through as the server wrote them",
            stacklevel=3,
        )
        return dict(counts), header, str
    header["creg_sizes"] = [[reg.name, reg.size] for reg in circuit.cregs]
    header["memory_slots"] = circuit.num_clbits
    return {_hex(key): n for key, n in counts.items()}, header, _hex


def _hex(key: str) -> str:
    """A key written as Qiskit writes it (``"b1b0 a0"``) as Aer's memory value (``"0x5"``)."""
    return hex(int(key.replace(" ", ""), 2))
