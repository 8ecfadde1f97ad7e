"""A Qiskit job as a qrun job (``POST /api/jobs``): one run per circuit, submitted together,
each followed on its event stream until it ends; found again by its id in any process.

qrun's run lifecycle maps onto Qiskit's :class:`~qiskit.providers.JobStatus` edge for edge::

    pending → QUEUED    running → RUNNING    completed → DONE
    failed  → ERROR     cancelled → CANCELLED

A job of several runs is as the server's job says: queued while every run is pending, running
while any has not ended (some may have), final only when every run is
(``wait_for_final_state`` and ``result`` wait for all of them).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result

from . import api
from ._export import QPY, Exported, invalid_source
from .exceptions import (
    QrunApiError,
    QrunError,
    QrunRunError,
    QrunTimeoutError,
    QrunValidationError,
)

if TYPE_CHECKING:
    from .backend import QrunBackend

_log = logging.getLogger(__name__)

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

    #: The circuit; ``None`` in a job retrieved from the server (:meth:`QrunProvider.job`).
    circuit: QuantumCircuit | None
    #: Its run's name in the job (``circuit.name``).
    name: str
    #: The run as last read (docs/DESIGN.md §11's run JSON); ``None`` until submitted.
    run: dict[str, Any] | None = None
    #: The format it was sent in (``qpy``: the runner keyed the counts with Aer's own
    #: ``get_counts``); ``None`` in a job retrieved from the server.
    format: str | None = None


class QrunJob(JobV1):
    """The runs of one :meth:`QrunBackend.run` call: one job on the server
    (``POST /api/jobs``), one run per circuit, each named by its ``circuit.name``.

    ``job_id()`` is the server's job id: :meth:`QrunProvider.job` finds the job again, in any
    process. :meth:`result` returns a :class:`qiskit.result.Result` whose counts are keyed
    exactly as Qiskit Aer keys them. A job handle pickles (with its provider's token).
    """

    _backend: QrunBackend

    def __init__(
        self,
        backend: QrunBackend,
        submissions: Sequence[_Submission],
        job_id: str = "",
        tags: Sequence[str] = (),
    ) -> None:
        """Not called directly: :meth:`QrunBackend.run` submits a job (:meth:`create`),
        :meth:`QrunProvider.job` retrieves one."""
        super().__init__(backend, job_id=job_id)
        self._submissions = list(submissions)
        self._tags = list(tags)
        #: The result, once every run has ended (it cannot change after).
        self._result: Result | None = None

    @classmethod
    def create(
        cls,
        backend: QrunBackend,
        circuits: Sequence[QuantumCircuit],
        exported: Sequence[Exported],
        seeds: Sequence[int | None],
        shots: Sequence[int],
        memory: bool,
        tags: Sequence[str],
        options: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> QrunJob:
        """Uploads each circuit (once: an identical circuit is re-used) and submits all the
        runs as one job (``POST /api/jobs``, with an ``Idempotency-Key``): the server creates
        every run or none.

        Args:
            backend: The backend the runs go to.
            circuits: The circuits, in order.
            exported: Each circuit as uploaded (same order).
            seeds: Each run's sampling seed, or ``None`` for a fresh one (same order).
            shots: Each run's shots (same order).
            memory: Whether each run keeps its shots' outcomes (``get_memory``).
            tags: The job's tags.
            options: The backend's run options, the same for every run (JSON values).
            metadata: A JSON object kept with the server's job (``GET /api/jobs/{id}``'s
                ``metadata``).

        Raises:
            QrunApiError: The server refused an upload or the job.
            QrunValidationError: The server found an exported source invalid (the message
                quotes the line).
        """
        provider = backend.provider
        requests_ = []
        for circuit, source, seed, run_shots in zip(circuits, exported, seeds, shots, strict=True):
            circuit_id, version = provider.upload(circuit, source)
            requests_.append(
                api.RunRequest(
                    name=circuit.name,
                    circuit_id=circuit_id,
                    version=version,
                    backend=backend.info,
                    shots=run_shots,
                    parameters=source.parameters,
                    seed=seed,
                    memory=memory,
                    options=dict(options or {}),
                )
            )
        try:
            body = provider.client.submit_job(
                requests_, list(tags), uuid.uuid4().hex, metadata
            )
        except QrunApiError as error:
            # A source the backend's engine cannot run (uploaded because a runner of another
            # backend reads it): refused here, `runs[i]: LINE:COL: …`, as an upload would be.
            found = re.match(r"runs\[(\d+)\]: (.*)", error.server_message, re.DOTALL)
            if error.status == 400 and error.code == "invalid_source" and found:
                index = int(found.group(1))
                raise QrunValidationError(
                    invalid_source(circuits[index], exported[index], found.group(2))
                ) from error
            raise
        submissions = [
            _Submission(circuit, entry["name"], entry["run"], sent.format)
            for circuit, entry, sent in zip(circuits, body["runs"], exported, strict=True)
        ]
        return cls(backend, submissions, str(body["id"]), body["tags"])

    @classmethod
    def from_server(cls, backend: QrunBackend, body: dict[str, Any]) -> QrunJob:
        """A job as ``GET /api/jobs/{id}`` answers it (its circuits are not known here: each
        experiment's header is read from its counts' keys)."""
        submissions = [
            _Submission(None, entry["name"] or "", entry["run"]) for entry in body["runs"]
        ]
        return cls(backend, submissions, str(body["id"]), body["tags"])

    def __repr__(self) -> str:
        return (
            f"<QrunJob('{self.job_id()}', backend='{self._backend.info.full_name}', "
            f"runs={len(self._submissions)})>"
        )

    def __getstate__(self) -> dict[str, Any]:
        # The result is read again where the job is unpickled (a pickle stays small).
        return {**self.__dict__, "_result": None}

    # -- JobV1 -------------------------------------------------------------------------------

    def submit(self) -> None:
        """A job is submitted by :meth:`QrunBackend.run` before it is returned, as Aer's is;
        submitting it again is refused (run the circuits again for another job).

        Raises:
            QrunError: Always.
        """
        raise QrunError(
            f"job {self.job_id()} was submitted by backend.run(); run the circuits again to "
            "submit another job"
        )

    def status(self) -> JobStatus:
        """The job's status on the server (``GET /api/jobs/{id}``'s ``status``, read again
        unless every run has ended): QUEUED while every run is pending, RUNNING while any has
        not ended, then DONE, ERROR (some run failed) or CANCELLED."""
        if any(s.run is None or s.run["status"] not in TERMINAL for s in self._submissions):
            return STATUS_MAP[self._refresh()["status"]]
        return _final_status([_run(s)["status"] for s in self._submissions])

    def cancel(self) -> bool:
        """Cancels every run that has not ended.

        Returns:
            Whether every run is now final (a run that ended on its own meanwhile counts).
        """
        client = self._backend.provider.client
        for submission in self._submissions:
            run = submission.run
            if run is None or run["status"] in TERMINAL:
                continue
            cancelled = client.cancel_run(run["id"])
            # 409: it ended meanwhile; read how.
            submission.run = cancelled if cancelled is not None else client.run(run["id"])
        return all(s.run is not None and s.run["status"] in TERMINAL for s in self._submissions)

    def result(self, timeout: float | None = None, partial: bool = True) -> Result:
        """Waits until every run has ended and returns their counts as a Qiskit result.

        Each run is followed on its event stream (``GET /api/runs/{id}/events``); when the
        stream fails (the server restarts, a proxy cuts it, an ``error`` event) the run is read
        (``GET /api/runs/{id}``) and the stream is opened again with ``Last-Event-ID``, for as
        long as ``timeout`` allows.

        A failed or cancelled run does not raise by default, as with Aer: its experiment has
        ``success=False`` and the run's error as its ``status`` (``get_counts(i)`` of it
        raises ``QiskitError`` quoting that status), the others' counts are there, the
        result's ``success`` is false and its ``status`` ``PARTIAL COMPLETED`` (``ERROR``
        when no run completed); each failed run is logged once (``qrun_qiskit.job``,
        at ``ERROR``, as Aer logs a failed experiment). Once every run has ended the result is
        kept: calling this again returns the same object without reading the server.

        Args:
            timeout: Seconds to wait at most; ``None`` waits as long as it takes.
            partial: ``False`` raises :class:`QrunRunError` for the first run (in circuit
                order) that failed or was cancelled instead.

        Returns:
            One experiment per circuit, in order; ``get_counts(i)`` is keyed as Qiskit Aer
            keys the same circuit's counts (registers, bit order, spaces). ``date`` is when
            the job ended (its last run's ``completed_at``, ISO 8601); each experiment's
            ``time_taken`` is its run's seconds from start to end on its executor
            (``results.time_taken``), the result's their sum (as :meth:`usage`).

        Raises:
            QrunRunError: ``partial`` is false and a run failed (its ``error_class``,
                ``error_stage``, ``error_message`` and page URL) or was cancelled.
            QrunTimeoutError: Some run had not ended within ``timeout``.
            QrunApiError: The server refused to show a run (e.g. 404).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for submission in self._submissions:
            self._wait(submission, deadline)
        unfinished = [s for s in self._submissions if _run(s)["status"] != "completed"]
        if unfinished and not partial:
            first = _run(unfinished[0])
            raise QrunRunError(
                run_id=first["id"],
                status=first["status"],
                error_class=first.get("error_class"),
                error_stage=first.get("error_stage"),
                error_message=first.get("error_message"),
                url=self._backend.provider.run_url(first),
                circuit_name=unfinished[0].name,
                others=len(unfinished) - 1,
            )
        if self._result is None:
            self._result = self._build_result(len(unfinished))
        return self._result

    def _build_result(self, unfinished: int) -> Result:
        """The result of the ended runs (``unfinished`` of them did not complete), each
        failure logged."""
        experiments = [self._experiment(s) for s in self._submissions]
        for experiment in experiments:
            if not experiment["success"]:
                _log.error("circuit '%s': %s", experiment["header"]["name"], experiment["status"])
        if not unfinished:
            status = "COMPLETED"
        elif unfinished < len(self._submissions):
            status = "PARTIAL COMPLETED"
        else:
            status = "ERROR"
        return Result.from_dict(
            {
                "backend_name": self._backend.name,
                "backend_version": self._backend.backend_version,
                "job_id": self.job_id(),
                "qobj_id": self.job_id(),
                "success": unfinished == 0,
                "status": status,
                "date": _ended_at([_run(s) for s in self._submissions]),
                "time_taken": sum(experiment["time_taken"] for experiment in experiments),
                "results": experiments,
            }
        )

    # -- qrun ---------------------------------------------------------------------------------

    def tags(self) -> list[str]:
        """The job's tags, as last read."""
        return list(self._tags)

    def update_tags(self, tags: Sequence[str]) -> list[str]:
        """Replaces the job's tags on the server (``PUT /api/jobs/{id}/tags``; at most 32,
        each 1–255 characters); the tags now (sorted, each once)."""
        body = self._backend.provider.client.put_job_tags(self.job_id(), list(tags))
        self._tags = list(body["tags"])
        return self.tags()

    def usage(self) -> float:
        """Execution seconds the job's runs used (the sum of each run's start to its end;
        ``GET /api/jobs/{id}``'s ``usage.seconds``)."""
        return float(self._refresh()["usage"]["seconds"])

    def run_ids(self) -> list[str]:
        """The ids of the job's runs, in circuit order."""
        return [_run(s)["id"] for s in self._submissions]

    def run_urls(self) -> list[str]:
        """Each run's page (``{url}/{owner}/{circuit}/runs/{id}``), in circuit order: its
        status, counts and audit timeline, to share (others see it only if the circuit is
        public: ``QrunProvider(..., visibility="public")``)."""
        provider = self._backend.provider
        return [provider.run_url(_run(s)) for s in self._submissions]

    def runs(self) -> list[dict[str, Any]]:
        """Each run as last read (docs/DESIGN.md §11's run JSON), in circuit order."""
        return [dict(_run(s)) for s in self._submissions]

    def circuits(self) -> list[QuantumCircuit]:
        """The job's circuits, in order (empty for a job retrieved from the server)."""
        return [s.circuit for s in self._submissions if s.circuit is not None]

    # -- internals ----------------------------------------------------------------------------

    def _refresh(self) -> dict[str, Any]:
        """Reads the job (``GET /api/jobs/{id}``) and keeps its runs and tags."""
        body = self._backend.provider.client.job(self.job_id())
        for submission, entry in zip(self._submissions, body["runs"], strict=True):
            submission.run = entry["run"]
        self._tags = list(body["tags"])
        return body

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
        """One ended run as an experiment of :meth:`Result.from_dict` (``success=False`` with
        the run's error as its ``status`` unless it completed)."""
        run = _run(submission)
        metadata = {
            "run_id": run["id"],
            "run_url": self._backend.provider.run_url(run),
            "circuit": run["circuit"],
            "circuit_version": run["circuit_version"],
            "parameters": run.get("parameters", {}),
            "seed": run.get("seed"),
        }
        results = run.get("results")
        if results is not None:
            # The backend's execution alone (time_taken adds preparing and storing).
            metadata["execution_time"] = results["execution_time"]
        if run["status"] != "completed" or results is None:
            reason = (
                f": {run.get('error_class')} at {run.get('error_stage')}: "
                f"{run.get('error_message')}"
                if run["status"] == "failed"
                else ""
            )
            return {
                "shots": run["shots"],
                "success": False,
                "status": f"ERROR: run {run['id']} {run['status']}{reason}",
                "data": {},
                "header": {"name": submission.name},
                "time_taken": _seconds(run.get("started_at"), run.get("completed_at")),
                "metadata": metadata,
            }
        counts, header, to_qiskit = _qiskit_counts(results["counts"], submission)
        data: dict[str, Any] = {"counts": counts}
        if run.get("memory"):
            client = self._backend.provider.client
            data["memory"] = [to_qiskit(key) for key in client.run_memory(run["id"])]
        return {
            "shots": results["shots"],
            "success": True,
            "status": "DONE",
            "data": data,
            "header": header,
            "time_taken": results["time_taken"],
            "date": results["date"],
            "metadata": metadata,
        }


def _run(submission: _Submission) -> dict[str, Any]:
    """The submission's run (every submission of a job handed out has one)."""
    assert submission.run is not None
    return submission.run


def _ended_at(runs: Sequence[dict[str, Any]]) -> str | None:
    """When the last of ``runs`` ended: the latest ``completed_at`` (as the server wrote it),
    or ``None`` if none has one."""
    ended = [run["completed_at"] for run in runs if run.get("completed_at")]
    return max(ended, key=datetime.fromisoformat, default=None)


def _seconds(start: str | None, end: str | None) -> float:
    """Seconds from ``start`` to ``end`` (ISO 8601), 0 if either is missing (a run cancelled
    before it started), as the server counts a run's ``time_taken``."""
    if not start or not end:
        return 0.0
    return max((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 0.0)


def _remaining(deadline: float | None, run_id: str) -> float:
    """Seconds left before ``deadline`` (a day when there is none), or the timeout error."""
    if deadline is None:
        return 86400.0
    left = deadline - time.monotonic()
    if left <= 0:
        raise QrunTimeoutError(f"run {run_id} had not ended when the timeout passed")
    return left


def _final_status(statuses: Sequence[str]) -> JobStatus:
    """The status of a job whose runs have all ended with ``statuses``, as the server decides
    it: ERROR if any failed, else CANCELLED if any was cancelled, else DONE."""
    for status in ("failed", "cancelled"):
        if status in statuses:
            return STATUS_MAP[status]
    return JobStatus.DONE


def _qiskit_counts(
    counts: dict[str, int], submission: _Submission
) -> tuple[dict[str, int], dict[str, Any], Callable[[str], str]]:
    """qrun's counts as Aer reports them: hexadecimal keys (the memory value), with a header
    saying the classical registers' names and sizes and the number of memory slots, from
    which :meth:`Result.get_counts` writes ``"b1b0 a0"`` exactly as for Aer; and the function
    that turns one of qrun's keys (a count's, or a shot's memory) into the key reported.

    qrun keys counts as Qiskit writes them (each register most significant bit first, one
    space between registers, the last-declared leftmost), so each key is checked against the
    circuit's registers; if the circuit's layout is one that shape cannot hold (bits in no
    register, or bits not in register order), the keys are passed through unchanged with a
    warning — without one when the circuit went as QPY, whose runner wrote Aer's own keys
    (a bit in two registers is one reason a circuit goes as QPY). A job retrieved from the server has no circuit: the registers' sizes are read
    from the keys, and named ``c0``, ``c1``, … (the names do not appear in the keys).
    """
    circuit = submission.circuit
    header: dict[str, Any] = {"name": submission.name}
    if circuit is None:
        first = next(iter(counts), "")
        sizes = [len(group) for group in reversed(first.split(" "))]
        header["creg_sizes"] = [[f"c{i}", size] for i, size in enumerate(sizes)]
        header["memory_slots"] = sum(sizes)
        return {_hex(key): n for key, n in counts.items()}, header, _hex
    header.update(
        {
            "n_qubits": circuit.num_qubits,
            "qreg_sizes": [[reg.name, reg.size] for reg in circuit.qregs],
            "metadata": dict(circuit.metadata or {}),
        }
    )
    sizes = [reg.size for reg in circuit.cregs]
    in_order = list(circuit.clbits) == [bit for reg in circuit.cregs for bit in reg]
    widths = list(reversed(sizes))
    shaped = in_order and all(
        [len(group) for group in key.split(" ")] == widths and set(key) <= {"0", "1", " "}
        for key in counts
    )
    if not shaped and submission.format == QPY:
        return dict(counts), header, str
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
