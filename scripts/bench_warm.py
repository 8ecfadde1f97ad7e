#!/usr/bin/env python3
"""What the warm pool (``backends[].warm``, docs/DESIGN.md §13) costs and saves: N Bell runs on
the README's Aer backend cold (warm = 0) and warm (warm = 2), one after another, each waited
for before the next, through a real ``qrun serve`` (SQLite, port 0, sandboxed runner).

Prints, per backend, each run's latency (submission → completed, as the client sees it) and
its ``results.execution_time`` (the runner's process, from the job handed over to its answer),
then median and mean. Usage (the Qiskit venv's interpreter, which has ``requests``):

    /opt/qrun-venv/bin/python scripts/bench_warm.py --qrun target/debug/qrun --runs 20 [--gap 1]

Figures in BENCHMARKS.md ("Warm Aer runners").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
BELL = (
    "from qiskit import QuantumCircuit\n\ncircuit = QuantumCircuit(2, 2)\ncircuit.h(0)\n"
    "circuit.cx(0, 1)\ncircuit.measure([0, 1], [0, 1])\n"
)


def readme_aer(runners: Path, name: str, warm: int) -> str:
    """The README's Aer backend, named ``name``, with ``warm`` programs kept started."""
    readme = (REPO / "README.md").read_text()
    block = next(
        b for b in re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
        if 'name = "aer"' in b and "native_gates" in b
    )
    block = block.replace("/opt/qrun-venv", sys.prefix).replace("/opt/qrun/runners", str(runners))
    return block.replace('name = "aer"', f'name = "{name}"\nwarm = {warm}', 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qrun", default=str(REPO / "target" / "debug" / "qrun"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--gap", type=float, default=0.0,
        help="seconds between one run's end and the next submission (a replacement's imports "
        "then need not share the CPU with the next run)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="qrun-bench-warm-"))
    runners = Path(tempfile.mkdtemp(prefix="qrun-bench-runners-"))
    runners.chmod(0o755)
    shutil.copy(REPO / "runners" / "qiskit_runner.py", runners / "qiskit_runner.py")
    (runners / "qiskit_runner.py").chmod(0o644)
    config = work / "qrun.toml"
    config.write_text(
        textwrap.dedent(
            """\
            [server]
            bind = "127.0.0.1:0"
            [executor]
            claim_interval_ms = 20
            [logging]
            level = "warn,qrun::app=info"

            """
        )
        + readme_aer(runners, "aer-cold", 0)
        + "\n"
        + readme_aer(runners, "aer-warm", 2)
    )
    env = {**os.environ, "QRUN_CONFIG": str(config)}
    run = lambda *a: subprocess.run(  # noqa: E731
        [args.qrun, *a], cwd=work, env=env, capture_output=True, text=True, check=True
    )
    run("migrate")
    token = run("user", "create", "bench").stdout.strip()
    server = subprocess.Popen(
        [args.qrun, "serve"], cwd=work, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        base = None
        for line in server.stderr:
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                base = match.group(1)
                break
        assert base, "qrun serve did not start"
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        circuit = {
            "name": "bell", "visibility": "private", "source": BELL,
            "manifest": {"framework": "qiskit", "format": "python"},
        }
        http.post(f"{base}/api/circuits", json=circuit, timeout=30).raise_for_status()
        time.sleep(5)  # the warm programs finish importing before the first measured run
        print(
            f"{args.runs} Bell runs (1024 shots) each, sequential, {args.gap} s apart; "
            f"qrun {args.qrun}"
        )
        for backend in ("aer-cold", "aer-warm"):
            latencies, executions = [], []
            for _ in range(args.runs + 1):  # the first is a warm-up, not counted
                time.sleep(args.gap)
                started = time.monotonic()
                body = {"circuit": "bench/bell", "shots": 1024,
                        "backend": {"type": "command", "name": backend}}
                answer = http.post(f"{base}/api/runs", json=body, timeout=30)
                answer.raise_for_status()
                run_id = answer.json()["id"]
                while True:
                    view = http.get(f"{base}/api/runs/{run_id}", timeout=30).json()
                    if view["status"] not in ("pending", "running"):
                        break
                    time.sleep(0.005)
                assert view["status"] == "completed", view
                latencies.append(time.monotonic() - started)
                executions.append(view["results"]["execution_time"])
            latencies, executions = latencies[1:], executions[1:]
            print(
                f"{backend}: latency median {statistics.median(latencies) * 1000:.0f} ms, "
                f"mean {statistics.mean(latencies) * 1000:.0f} ms; execution median "
                f"{statistics.median(executions) * 1000:.0f} ms"
            )
            print("  per run (ms):", " ".join(f"{x * 1000:.0f}" for x in latencies))
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(runners, ignore_errors=True)


if __name__ == "__main__":
    main()
