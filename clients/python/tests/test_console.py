"""The console shows a Qiskit job's runs together, each under its ``circuit.name`` (issue 30):
``backend.run`` of named circuits makes one job, and its page (``/jobs/{id}``, as alice sees it
with her token) lists every run by that name, escaped, with its live badge."""

from __future__ import annotations

import html

import requests
from conftest import QrunServer, api_get
from qrun_qiskit import QrunProvider
from test_counts import bell, registers


def test_a_jobs_page_names_each_run_by_its_circuit_name(
    provider: QrunProvider, qrun: QrunServer
) -> None:
    odd = bell()
    odd.name = "bell <β> & co"
    job = provider.get_backend("statevector").run([odd, registers()], shots=100)
    job.result()
    page = requests.get(
        f"{qrun.url}/jobs/{job.job_id()}",
        headers={"Authorization": f"Bearer {qrun.token}"},
        timeout=30,
    )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    for name in [odd.name, "registers"]:
        assert f"<td>{html.escape(name)}</td>" in page.text, page.text
    runs = api_get(qrun, f"/api/jobs/{job.job_id()}")["runs"]
    assert [entry["name"] for entry in runs] == [odd.name, "registers"]
    for entry in runs:
        assert f'data-run="{entry["run"]["id"]}">completed</span>' in page.text, page.text
