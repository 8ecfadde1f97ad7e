"""Jobs on the server: ``backend.run`` submits one job (``POST /api/jobs``) whose id is
``job.job_id()``; a fresh process finds it (``provider.job``), lists it by tag
(``provider.jobs``), retags it and reads its usage; a job handle pickles; the server's cap on
a job's runs is the backend's ``max_circuits``: Qiskit's ``BackendSamplerV2`` splits by it, and
this client refuses a larger job before sending anything. (A job whose runs partly failed:
``test_results.py``.)"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import JobStatus

from conftest import QrunServer, api_get, in_a_fresh_process
from qrun_qiskit import QrunError, QrunProvider, QrunValidationError, SamplerV2
from test_counts import bell, registers


def test_a_job_is_found_by_its_id_in_a_fresh_process(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    job = provider.get_backend("statevector").run(
        [bell(), registers()], shots=300, memory=True, job_tags=["notebook", "day-1"]
    )
    counts = job.result().get_counts()
    seen = in_a_fresh_process(
        qrun,
        f"""\
        import json
        from qrun_qiskit import QrunProvider
        provider = QrunProvider({qrun.url!r}, sys.stdin.read().strip())
        job = provider.job({job.job_id()!r})
        result = job.result()
        print(json.dumps({{
            "status": job.status().name, "counts": result.get_counts(),
            "names": [r.header["name"] for r in result.results], "tags": job.tags(),
            "memory": len(result.get_memory(1)),
        }}))
        """,
    )
    assert seen == {
        "status": "DONE",
        "counts": counts,
        "names": ["bell", "registers"],
        "tags": ["day-1", "notebook"],
        "memory": 300,
    }


def test_jobs_are_listed_by_tag_retagged_and_report_usage(provider: QrunProvider) -> None:
    backend = provider.get_backend("statevector")
    first = backend.run(bell(), shots=10, job_tags=["sweep-a", "mine"])
    second = backend.run(bell(), shots=10, job_tags=["sweep-a"])
    backend.run(bell(), shots=10, job_tags=["other"])
    assert [j.job_id() for j in provider.jobs(tags=["sweep-a"], limit=5)] == [
        second.job_id(),
        first.job_id(),
    ]
    assert [j.job_id() for j in provider.jobs(tags=["sweep-a", "mine"])] == [first.job_id()]
    assert [j.job_id() for j in provider.jobs(tags=["sweep-a"], limit=1)] == [second.job_id()]
    assert first.update_tags(["renamed"]) == ["renamed"]
    assert provider.jobs(tags=["sweep-a"]) and [
        j.job_id() for j in provider.jobs(tags=["sweep-a"])
    ] == [second.job_id()]
    first.result()
    assert first.usage() > 0


def test_a_job_handle_pickles(provider: QrunProvider) -> None:
    job = provider.get_backend("statevector").run(bell(), shots=20, seed_simulator=3)
    counts = job.result().get_counts()
    again = pickle.loads(pickle.dumps(job))
    assert again.job_id() == job.job_id()
    assert repr(again) == f"<QrunJob('{job.job_id()}', backend='simulator/statevector', runs=1)>"
    # Submitted by backend.run already, as Aer's jobs are: not a TypeError about arguments.
    with pytest.raises(QrunError, match=r"submitted by backend\.run"):
        again.submit()
    assert again.result().get_counts() == counts
    assert again.status() is JobStatus.DONE


def test_the_servers_cap_on_a_jobs_runs_is_max_circuits(fresh_qrun: QrunServer) -> None:
    fresh_qrun.start(env={"QRUN__EXECUTOR__MAX_RUNS_PER_JOB": "5"})
    backend = QrunProvider(fresh_qrun.url, fresh_qrun.token).get_backend("statevector")
    assert backend.max_circuits == 5
    with pytest.raises(QrunValidationError, match=r"7 circuits in one job; .* at most 5 per job"):
        backend.run([bell()] * 7, shots=10)
    theta = Parameter("θ")
    circuit = bell()
    circuit.rz(theta, 0)
    sweep = np.linspace(0, np.pi, 7).reshape(7, 1)
    with pytest.raises(QrunValidationError, match=r"7 parameter sets \(runs\) in one job"):
        SamplerV2(backend).run([(circuit, sweep)])
    assert api_get(fresh_qrun, "/api/jobs")["jobs"] == []  # nothing was sent
    # Qiskit's BackendSamplerV2 splits by max_circuits: two jobs of 5 and 2.
    result = BackendSamplerV2(backend=backend).run([(circuit, sweep)], shots=10).result()
    assert result[0].data.c.shape == (7,) and result[0].data.c.num_shots == 10
    assert sorted(j["runs"] for j in api_get(fresh_qrun, "/api/jobs")["jobs"]) == [2, 5]
