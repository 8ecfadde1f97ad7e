"""What ``job.result()`` gives besides counts, as Aer gives it: ``date`` and ``time_taken``
(the result's and each experiment's) from the server's results; and a job whose runs partly
failed as Aer reports one — the others' counts, ``success=False`` for the failed, no exception
— unless ``partial=False`` asks for one."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.exceptions import QiskitError
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator

from conftest import QrunServer, api_get
from qrun_qiskit import QrunClient, QrunProvider, QrunRunError
from test_counts import bell, registers


def one_bit(name: str, register: str = "c") -> QuantumCircuit:
    """One qubit measured into a register named ``register`` (the test backends crash on a
    register named ``doomed``)."""
    circuit = QuantumCircuit(QuantumRegister(1, "q"), ClassicalRegister(1, register), name=name)
    circuit.x(0)
    circuit.measure(0, 0)
    return circuit


def test_results_carry_date_and_time_taken_as_aer_results_do(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    job = provider.get_backend("statevector").run([bell(), registers()], shots=200)
    result = job.result()
    runs = [api_get(qrun, f"/api/runs/{run_id}") for run_id in job.run_ids()]
    aer = AerSimulator().run([bell(), registers()], shots=200).result()
    # The same attributes, of the same types, as Aer's.
    assert isinstance(result.date, str) and isinstance(aer.date, str)
    assert isinstance(result.time_taken, float) and isinstance(aer.time_taken, float)
    for ours, theirs in zip(result.results, aer.results, strict=True):
        assert isinstance(ours.time_taken, float) and isinstance(theirs.time_taken, float)
    # Each experiment's time_taken is its run's; the result's is their sum, the job's usage.
    assert [e.time_taken for e in result.results] == [r["results"]["time_taken"] for r in runs]
    assert all(e.time_taken > 0 for e in result.results)
    assert result.time_taken == pytest.approx(sum(e.time_taken for e in result.results))
    assert result.time_taken == pytest.approx(job.usage())
    # The job ended when its last run did.
    assert [e.date for e in result.results] == [r["completed_at"] for r in runs]
    assert result.date == max((r["completed_at"] for r in runs), key=datetime.fromisoformat)
    assert [e.metadata["execution_time"] for e in result.results] == [
        r["results"]["execution_time"] for r in runs
    ]


def test_a_failed_run_leaves_the_others_counts_by_default_as_aer_does(
    provider: QrunProvider, caplog: pytest.LogCaptureFixture
) -> None:
    job = provider.get_backend("quick2").run(
        [one_bit("first"), one_bit("doomed", register="doomed"), one_bit("last")], shots=5
    )
    with caplog.at_level(logging.ERROR, logger="qrun_qiskit.job"):
        result = job.result(timeout=60)
        job.result()  # each failure is logged once
    assert (result.success, result.status) == (False, "PARTIAL COMPLETED")
    assert [e.success for e in result.results] == [True, False, True]
    assert result.get_counts(0) == result.get_counts("last") == {"0": 5}
    failed = result.results[1]
    assert failed.status.startswith(f"ERROR: run {job.run_ids()[1]} failed: backend_error at ")
    assert "refuses register doomed" in failed.status
    assert failed.time_taken >= 0
    # get_counts of the failed experiment (or of all) raises, quoting why, as with Aer.
    with pytest.raises(QiskitError, match="refuses register doomed"):
        result.get_counts(1)
    with pytest.raises(QiskitError):
        result.get_counts()
    assert [r.getMessage() for r in caplog.records] == [f"circuit 'doomed': {failed.status}"]
    assert job.status() is JobStatus.ERROR
    # partial=False raises the first failure instead.
    with pytest.raises(QrunRunError) as raised:
        job.result(partial=False)
    assert (raised.value.circuit_name, raised.value.error_class) == ("doomed", "backend_error")

    # Aer's result of a job whose second circuit fails (it needs 16 TiB of memory): the same
    # shape.
    huge = QuantumCircuit(40)
    huge.h(0)
    for qubit in range(39):
        huge.cx(qubit, qubit + 1)
    huge.t(range(40))
    huge.measure_all()
    aer = AerSimulator(method="statevector").run([one_bit("first"), huge], shots=5).result()
    assert (aer.success, aer.status) == (False, "PARTIAL COMPLETED")
    assert [e.success for e in aer.results] == [True, False]
    with pytest.raises(QiskitError):
        aer.get_counts(1)


def test_a_job_none_of_whose_runs_completed_is_an_error_result(provider: QrunProvider) -> None:
    job = provider.get_backend("crash").run([bell(), registers()], shots=5)
    result = job.result(timeout=60)
    assert (result.success, result.status) == (False, "ERROR")
    assert [e.success for e in result.results] == [False, False]
    assert "backend_error" in result.results[0].status
    with pytest.raises(QiskitError):
        result.get_counts(0)
    assert job.status() is JobStatus.ERROR


def test_a_finished_jobs_result_is_kept(
    provider: QrunProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    run_memory = QrunClient.run_memory

    def counted(self: QrunClient, run_id: str) -> list[str]:
        read.append(run_id)
        return run_memory(self, run_id)

    monkeypatch.setattr(QrunClient, "run_memory", counted)
    job = provider.get_backend("statevector").run(bell(), shots=50, memory=True)
    first = job.result()
    # As Aer's: the same result again, its memory not read from the server a second time.
    assert job.result() is first
    assert read == job.run_ids()
    assert len(first.get_memory()) == 50
