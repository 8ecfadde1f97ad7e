"""The job's lifecycle against a live server: cancel, failures, and a server restarted while
the job is waited on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.providers.exceptions import JobTimeoutError

from conftest import QrunServer, api_get, free_port, wait_for
from qrun_qiskit import (
    QrunApiError,
    QrunBackend,
    QrunClient,
    QrunGateWarning,
    QrunProvider,
    QrunRunError,
    QrunTimeoutError,
)
from qrun_qiskit._sse import SseEvent


def one_qubit(name: str) -> QuantumCircuit:
    circuit = QuantumCircuit(1, 1, name=name)
    circuit.x(0)
    circuit.measure(0, 0)
    return circuit


def test_cancelling_a_long_run_makes_the_job_cancelled(slow: QrunBackend, qrun: QrunServer) -> None:

    job = slow.run(one_qubit("long"), shots=10)
    assert job.status() in (JobStatus.QUEUED, JobStatus.RUNNING)
    wait_for(lambda: job.status() is JobStatus.RUNNING, what="the run to start")
    started = time.monotonic()
    assert job.cancel() is True
    assert job.status() is JobStatus.CANCELLED
    with pytest.raises(QrunRunError) as raised:
        job.result(timeout=30, partial=False)
    assert time.monotonic() - started < 30  # not the 300 s the backend sleeps
    error = raised.value
    assert error.status == "cancelled" and error.error_class is None
    assert error.run_id == job.run_ids()[0]
    assert api_get(qrun, f"/api/runs/{job.run_ids()[0]}")["status"] == "cancelled"
    # By default, as Aer: a result that says so instead of an exception.
    result = job.result(timeout=30)
    assert (result.success, result.status) == (False, "ERROR")
    assert result.results[0].status == f"ERROR: run {job.run_ids()[0]} cancelled"
    assert job.cancel() is True  # nothing left to cancel: still final


def test_a_job_with_one_run_running_and_one_waiting_is_running(fresh_qrun: QrunServer) -> None:
    # One run at a time for alice: the second waits while the first runs (300 s).
    fresh_qrun.start(env={"QRUN__SCHEDULING__MAX_RUNNING_PER_USER": "1"})
    provider = QrunProvider(fresh_qrun.url, fresh_qrun.token)
    with pytest.warns(QrunGateWarning, match="qrun_magic"):
        slow = provider.get_backend("command/slow")
    job = slow.run([one_qubit("first"), one_qubit("second")], shots=10)
    try:
        wait_for(
            lambda: any(
                api_get(fresh_qrun, f"/api/runs/{run_id}")["status"] == "running"
                for run_id in job.run_ids()
            ),
            what="a run to start",
        )
        statuses = sorted(api_get(fresh_qrun, f"/api/runs/{i}")["status"] for i in job.run_ids())
        assert statuses == ["pending", "running"]
        # As the server's job says: running while any run has not ended (not queued because
        # one still waits).
        assert api_get(fresh_qrun, f"/api/jobs/{job.job_id()}")["status"] == "running"
        assert job.status() is JobStatus.RUNNING
    finally:
        assert job.cancel() is True
    assert job.status() is JobStatus.CANCELLED


def test_waiting_past_the_timeout_raises_and_the_job_goes_on(slow: QrunBackend) -> None:

    job = slow.run(one_qubit("patient"), shots=10)
    try:
        started = time.monotonic()
        with pytest.raises(QrunTimeoutError) as raised:
            job.result(timeout=1.5)
        assert isinstance(raised.value, JobTimeoutError)
        assert 1.4 < time.monotonic() - started < 10
        assert job.status() in (JobStatus.QUEUED, JobStatus.RUNNING)
    finally:
        job.cancel()


def test_a_run_that_fails_on_the_server_raises_with_its_error_class(
    provider: QrunProvider, qrun: QrunServer
) -> None:

    # The backend program crashes: backend_error at execute, with its stderr.
    job = provider.get_backend("crash").run(one_qubit("crashing"), shots=10)
    with pytest.raises(QrunRunError) as raised:
        job.result(timeout=60, partial=False)
    error = raised.value
    assert (error.status, error.error_class, error.error_stage) == (
        "failed",
        "backend_error",
        "execute",
    )
    assert "crashed on purpose" in (error.error_message or "")
    assert error.url == f"{qrun.url}/{job.runs()[0]['circuit']}/runs/{job.run_ids()[0]}"
    assert job.status() is JobStatus.ERROR

    # Wider than the state vector runs and not Clifford, so no method of the simulator runs
    # it: the server refuses it at submission (400 resource_limit, naming the gate's line and
    # the state vector's limit), and the job is never made.
    listed = {b["name"]: b for b in api_get(qrun, "/api/backends")["backends"]}
    methods = {m["name"]: m["max_qubits"] for m in listed["statevector"]["methods"]}
    width = methods["statevector"] + 1
    wide = QuantumCircuit(width, 1, name="wide")
    wide.h(range(width))
    wide.t(0)
    wide.measure(0, 0)
    with pytest.raises(QrunApiError) as refused:
        provider.get_backend("statevector").run(wide, shots=10)
    assert (refused.value.status, refused.value.code) == (400, "resource_limit")
    assert "'t' is not a Clifford gate" in refused.value.message
    assert f"up to {methods['statevector']} qubits" in refused.value.message


def test_the_first_failure_of_a_batch_is_raised_and_counted_without_partial(
    provider: QrunProvider,
) -> None:

    backend = provider.get_backend("crash")
    job = backend.run([one_qubit("a"), one_qubit("b")], shots=5)
    with pytest.raises(QrunRunError) as raised:
        job.result(timeout=60, partial=False)
    assert raised.value.circuit_name == "a"
    assert "1 more run(s)" in str(raised.value)


def test_a_server_restarted_mid_job_still_resolves_the_job(
    fresh_qrun: QrunServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs wait on a node that does not execute; it is killed while the job is waited on
    and comes back (same database, same port) still not executing: the waiter's stream broke,
    its reads fail until the server answers, then it reconnects with ``Last-Event-ID``. Killed
    again, the node comes back executing, and the waiter gets the counts."""

    opened: list[str | None] = []
    open_events = QrunClient.run_events

    def recording(
        self: QrunClient, run_id: str, last_event_id: str | None, read_timeout: float
    ) -> Iterator[SseEvent]:
        opened.append(last_event_id)
        return open_events(self, run_id, last_event_id, read_timeout)

    monkeypatch.setattr(QrunClient, "run_events", recording)
    port = free_port()
    api_only = {"QRUN__EXECUTOR__ENABLED": "false"}
    fresh_qrun.start(port, env=api_only)
    provider = QrunProvider(fresh_qrun.url, fresh_qrun.token)
    circuits = [one_qubit("first"), one_qubit("second")]
    job = provider.get_backend("statevector").run(circuits, shots=25)
    assert job.status() is JobStatus.QUEUED

    outcome: dict[str, object] = {}

    def wait() -> None:
        try:
            outcome["counts"] = job.result(timeout=120).get_counts()
        except Exception as error:  # reported by the assertion below
            outcome["error"] = error

    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_for(lambda: opened == [None], what="the waiter to open the first run's stream")
    fresh_qrun.kill()
    time.sleep(1.5)  # no server: the waiter's reads fail and are retried
    assert waiter.is_alive()
    fresh_qrun.start(port, env=api_only)
    wait_for(lambda: "pending" in opened, what="the waiter to reconnect with Last-Event-ID")
    assert waiter.is_alive() and job.status() is JobStatus.QUEUED
    fresh_qrun.kill()
    fresh_qrun.start(port)  # executing this time
    waiter.join(timeout=120)
    assert not waiter.is_alive(), "the job did not resolve"
    assert outcome.get("counts") == [{"1": 25}, {"1": 25}], outcome
    assert job.status() is JobStatus.DONE


def test_a_url_nothing_answers_fails_within_connect_for() -> None:
    # Nothing listens on the port: the provider gives up after its 2 s, naming the URL, where
    # it used to retry for two minutes.
    url = f"http://127.0.0.1:{free_port()}"
    provider = QrunProvider(url, "qrun_nobody", connect_for=2.0)
    started = time.monotonic()
    with pytest.raises(QrunApiError) as refused:
        provider.backends()
    waited = time.monotonic() - started
    assert refused.value.status == 0
    assert f"cannot reach the qrun server at {url}" in refused.value.message
    assert 1.0 < waited < 6.0, waited  # retried for its 2 s, not two minutes


def test_a_server_that_never_answers_fails_within_the_timeout() -> None:
    # The port accepts connections (the kernel's backlog) and nothing ever answers: the request
    # is sent, and fails once `timeout` passes, naming the URL, where it used to be retried
    # for `retry_for` (two minutes).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        provider = QrunProvider(url, "qrun_nobody", timeout=1.5)
        started = time.monotonic()
        with pytest.raises(QrunApiError) as hung:
            provider.backends()
        waited = time.monotonic() - started
    assert hung.value.status == 0
    assert f"no answer from the qrun server at {url}/api/backends within 1.5 s" in str(hung.value)
    assert 1.0 < waited < 4.0, waited
