"""The README's examples, run as written against the suite's server: the ten lines, and the
sweep of today whose job a fresh process retrieves by its id."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from conftest import REPO, QrunServer

README = REPO / "clients" / "python" / "README.md"


def examples(heading: str) -> list[str]:
    """The ``python`` blocks of the section ``heading``."""
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    assert blocks, f"no python block under '## {heading}'"
    return blocks


def run(code: str, qrun: QrunServer, *args: str) -> str:
    """Runs ``code`` in a fresh interpreter as alice (``QRUN_URL``, ``QRUN_TOKEN``), with this
    checkout's ``qrun_qiskit``; what it printed."""
    environment = {
        **os.environ,
        "QRUN_URL": qrun.url,
        "QRUN_TOKEN": qrun.token,
        "PYTHONPATH": os.pathsep.join([str(REPO / "clients" / "python" / "src"), *sys.path]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_readme_example_is_ten_lines_and_prints_the_counts(qrun: QrunServer) -> None:
    [code] = examples("Ten lines")
    assert len(code.splitlines()) == 10, code
    counts_line, url_line = run(code, qrun).splitlines()
    counts = ast.literal_eval(counts_line)
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000, counts
    assert re.fullmatch(
        rf"{re.escape(qrun.url)}/alice/qiskit-[0-9a-f]{{32}}/runs/[0-9a-f-]{{36}}", url_line
    ), url_line


def test_the_readme_sweep_is_retrieved_by_its_job_id_in_a_fresh_process(qrun: QrunServer) -> None:
    today, tomorrow = examples("A sweep today, the job tomorrow")
    counts_line, job_id = run(today, qrun).splitlines()
    assert ast.literal_eval(counts_line) == {"11": 1000}
    status, shape, counts = run(tomorrow, qrun, job_id).split(" ", 2)
    assert (status, shape) == ("DONE", "(5,)")
    assert ast.literal_eval(counts) == {"11": 1000}
