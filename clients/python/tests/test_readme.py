"""The README's ten-line example, run as written against the suite's server."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from conftest import REPO, QrunServer

README = REPO / "clients" / "python" / "README.md"


def example() -> str:
    """The ``python`` block under "## Ten lines"."""
    section = README.read_text().split("## Ten lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "no python block under '## Ten lines'"
    return match.group(1)


def test_the_readme_example_is_ten_lines_and_prints_the_counts(qrun: QrunServer) -> None:
    code = example()
    assert len(code.splitlines()) == 10, code
    environment = {
        **os.environ,
        "QRUN_URL": qrun.url,
        "QRUN_TOKEN": qrun.token,
        "PYTHONPATH": os.pathsep.join([str(REPO / "clients" / "python" / "src"), *sys.path]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    counts_line, url_line = out.stdout.splitlines()
    counts = ast.literal_eval(counts_line)
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000, counts
    assert re.fullmatch(
        rf"{re.escape(qrun.url)}/alice/qiskit-[0-9a-f]{{32}}/runs/[0-9a-f-]{{36}}", url_line
    ), url_line
