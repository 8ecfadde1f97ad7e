#!/usr/bin/env python3
"""Benchmark: qrun's engine against Qiskit Aer on the same circuits, at the same thread count.

Circuits: GHZ on 20/22/24 qubits and pseudo-random depth-20 circuits on 20/22/24 qubits
(Qiskit's `random_circuit(n, 20, max_operands=2, measure=True, seed=n)`, exported with
`qasm2.dumps`, so gates outside qelib1.inc arrive as inline definitions), 1000 shots each.
Every circuit is written to a QASM file; qrun runs it through COMMAND (a process per run,
so its time includes start-up and parsing), Aer runs the same text loaded with
`qasm2.loads` (Aer's time is `run().result()` alone: loading and transpiling excluded).

With `--openqasm 3` every circuit is exported again with `qasm3.dumps` (the OpenQASM 3 that
Qiskit writes) and qrun runs that file; Aer runs the same circuit.

Usage (from the repository root, in a venv with qiskit and qiskit-aer):

    cargo build --release
    RAYON_NUM_THREADS=2 python scripts/bench_engine.py --threads 2
    RAYON_NUM_THREADS=1 python scripts/bench_engine.py --threads 1
    RAYON_NUM_THREADS=2 python scripts/bench_engine.py --threads 2 --openqasm 3
    # the engine alone, before `qrun exec` exists:
    python scripts/bench_engine.py --threads 2 \\
        --command 'target/release/examples/run_qasm {file} --shots 1000 --seed 1'

Not run in CI.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

from qiskit import qasm2, qasm3, transpile
from qiskit.circuit.random import random_circuit
from qiskit_aer import AerSimulator

SHOTS = 1000
DEFAULT_COMMAND = "target/release/qrun exec {file} --shots 1000 --seed 1"


def ghz(n):
    lines = ['OPENQASM 2.0;', 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];", "h q[0];"]
    lines += [f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)]
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


def random_depth_20(n):
    return qasm2.dumps(random_circuit(n, 20, max_operands=2, measure=True, seed=n))


CIRCUITS = [
    ("ghz-20", lambda: ghz(20)),
    ("ghz-22", lambda: ghz(22)),
    ("ghz-24", lambda: ghz(24)),
    ("random-20x20", lambda: random_depth_20(20)),
    ("random-22x20", lambda: random_depth_20(22)),
    ("random-24x20", lambda: random_depth_20(24)),
]


def time_qrun(command, path, threads):
    argv = [part.replace("{file}", path) for part in shlex.split(command)]
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    outcome = json.loads(done.stdout)
    assert outcome["shots"] == SHOTS, outcome
    return wall, outcome["execution_time"]


def time_aer(source, threads):
    simulator = AerSimulator(method="statevector", max_parallel_threads=threads)
    circuit = transpile(
        qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS), simulator
    )
    started = time.perf_counter()
    result = simulator.run(circuit, shots=SHOTS, seed_simulator=1).result()
    wall = time.perf_counter() - started
    assert sum(result.get_counts().values()) == SHOTS
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--command", default=DEFAULT_COMMAND,
                        help="qrun command; {file} is replaced by the QASM file")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both (RAYON_NUM_THREADS / max_parallel_threads)")
    parser.add_argument("--only", nargs="*", help="circuit names to run (default: all)")
    parser.add_argument("--openqasm", choices=["2", "3"], default="2",
                        help="the version of the files qrun runs (default 2)")
    args = parser.parse_args()

    print(f"threads={args.threads} shots={SHOTS} command: {args.command}")
    print(f"rerun: RAYON_NUM_THREADS={args.threads} python {shlex.join(sys.argv)}")
    print(f"| circuit | qrun wall (s) | qrun execution_time (s) | Aer (s) | qrun / Aer |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for name, make in CIRCUITS:
            if args.only and name not in args.only:
                continue
            source = make()
            path = os.path.join(workdir, f"{name}.qasm")
            text = source
            if args.openqasm == "3":
                text = qasm3.dumps(qasm2.loads(
                    source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS))
            with open(path, "w") as f:
                f.write(text)
            qrun_wall, qrun_exec = time_qrun(args.command, path, args.threads)
            aer = time_aer(source, args.threads)
            print(f"| {name} | {qrun_wall:.2f} | {qrun_exec:.2f} | {aer:.2f} | {qrun_wall / aer:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
