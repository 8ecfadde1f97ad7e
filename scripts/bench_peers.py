#!/usr/bin/env python3
"""Benchmark: qrun's engine against the fastest CPU simulators on PyPI (issue 29).

Prints one table per thread count (1 and 2 by default): for each circuit, the wall time of
qrun — the whole `run_qasm` process (or COMMAND: start-up, parse, simulate, sample, print)
and, from a second run with `--passes`, its parse + simulate + sample inside the process — and of
each peer (parse + simulate + sample of the same OpenQASM 2 text, timed inside a fresh
process with its thread count set), qrun's ratios to the best peer, the method qrun chose,
and for the state vector the passes per fused block (qrun's simulate time over the plan's
kernel count times one plain pass over the state). State-vector rows are timed twice: in double
precision (the default) and with `--precision single` (f32 amplitudes, as qsim keeps them), each
with its ratio to the best peer.

Peers: Qiskit Aer (`AerSimulator(method="automatic")`, which picks its stabilizer for
Clifford circuits), qsim (`qsimcirq`, fusion of up to 4 qubits, single precision; circuits
read with cirq's OpenQASM import) and PRISM-Q (`prism_q`, automatic dispatch). A peer that
cannot read the file is given the same circuit transpiled to `u`/`cx`/`h`/`p`/`cp`/`swap`
(marked `*`); one that cannot run it at all shows `—`.

Circuits, 1,000 shots: QFT-24 after an H on every qubit; Qiskit's `random_circuit(24, 20,
seed=24)`; `QuantumVolume(n, n, seed=7)` for n = 20, 22, 24, 26, transpiled to u/cx
(qrun's `run_qasm` is given `--max-qubits 26`, as a backend with `max_qubits = 26`); GHZ-24, GHZ-60, GHZ-1000;
a 500-qubit random Clifford circuit (`scripts/clifford_reference.py`'s generator, no
conditions).

Usage (from the repository root):

    scripts/bench_peers_setup.sh /tmp/qrun-peers-venv
    cargo build --release -p qrun-engine --examples
    /tmp/qrun-peers-venv/bin/python scripts/bench_peers.py [--threads 1 2] [--only qft-24]
    # through the service binary instead:
    ... scripts/bench_peers.py --command 'target/release/qrun exec {file} --shots 1000 --seed 1'
    # through the API (submission → completed), from the saved circuits:
    ... scripts/bench_peers.py --save /tmp/c --only ghz-1000 clifford-500
    cargo bench --bench e2e -- results --shots 1000 --runs 5 --file /tmp/c/ghz-1000.qasm \
        --file /tmp/c/clifford-500.qasm

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

SHOTS = 1000
DEFAULT_COMMAND = "target/release/examples/run_qasm {file} --shots 1000 --seed 1 --max-qubits 26"
# A second run for the in-process figures: `--passes` then also allocates a second state and
# times plain passes over it, which the process column must not count.
PROFILE_COMMAND = DEFAULT_COMMAND + " --passes"
PEERS = ["aer", "qsim", "prism"]
TIMEOUT = 120
HERE = os.path.dirname(os.path.abspath(__file__))


def circuits():
    """name -> OpenQASM 2 text."""
    from qiskit import QuantumCircuit, qasm2, transpile
    from qiskit.circuit.library import QFT, QuantumVolume
    from qiskit.circuit.random import random_circuit

    sys.path.insert(0, HERE)
    from clifford_reference import random_clifford

    def ghz(n):
        lines = ['OPENQASM 2.0;', 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];", "h q[0];"]
        lines += [f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)]
        return "\n".join(lines + ["measure q -> c;"]) + "\n"

    qft = QuantumCircuit(24, 24)
    qft.h(range(24))
    qft.compose(QFT(24), inplace=True)
    qft.measure(range(24), range(24))
    qft = transpile(qft, basis_gates=["h", "cp", "swap"], optimization_level=0)
    def quantum_volume(n):
        qv = QuantumVolume(n, n, seed=7)
        qv.measure_all()
        return qasm2.dumps(transpile(qv, basis_gates=["u", "cx"], optimization_level=1,
                                     seed_transpiler=7))
    clifford = random_clifford(500, 20, 0, 0, 0, 20, 500)
    return {
        "qft-24": qasm2.dumps(qft),
        "random-24x20": qasm2.dumps(random_circuit(24, 20, seed=24, measure=True)),
        "qv-20": quantum_volume(20),
        "qv-22": quantum_volume(22),
        "qv-24": quantum_volume(24),
        "qv-26": quantum_volume(26),
        "ghz-24": ghz(24),
        "ghz-60": ghz(60),
        "ghz-1000": ghz(1000),
        "clifford-500": 'OPENQASM 2.0;\ninclude "qelib1.inc";\n' + clifford,
    }


def basis(text):
    """The circuit transpiled to gates every peer reads."""
    from qiskit import qasm2, transpile

    circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    return qasm2.dumps(transpile(circuit, basis_gates=["u", "cx", "h", "p", "cp", "swap"],
                                 optimization_level=0))


# --- workers: one (peer, file, threads) per process -----------------------------------

def run_aer(text, threads):
    from qiskit import qasm2, transpile
    from qiskit_aer import AerSimulator

    started = time.perf_counter()
    simulator = AerSimulator(method="automatic", max_parallel_threads=threads)
    circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    if circuit.num_qubits <= 30:
        circuit = transpile(circuit, simulator)
    result = simulator.run(circuit, shots=SHOTS, seed_simulator=1).result()
    assert sum(result.get_counts().values()) == SHOTS
    return time.perf_counter() - started, result.results[0].metadata.get("method", "?")


def run_qsim(text, threads):
    import qsimcirq
    from cirq.contrib.qasm_import import circuit_from_qasm

    started = time.perf_counter()
    # cirq's reader has no `barrier`, which has no effect on the state.
    text = "\n".join(line for line in text.splitlines() if not line.startswith("barrier"))
    circuit = circuit_from_qasm(text)
    simulator = qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=threads, max_fused_gate_size=4))
    result = simulator.run(circuit, repetitions=SHOTS)
    assert len(result.records or result.measurements) > 0
    return time.perf_counter() - started, "statevector (f32)"


def run_prism(text, threads):
    import prism_q

    started = time.perf_counter()
    result = prism_q.simulate(prism_q.parse_qasm(text)).seed(1).shots(SHOTS)
    assert sum(result.counts().values()) == SHOTS
    return time.perf_counter() - started, str(result.metadata.backend)


def worker(peer, path, threads):
    with open(path) as f:
        text = f.read()
    seconds, method = {"aer": run_aer, "qsim": run_qsim, "prism": run_prism}[peer](text, threads)
    print(json.dumps({"seconds": seconds, "method": method}))


def thread_env(threads):
    n = str(threads)
    return dict(os.environ, RAYON_NUM_THREADS=n, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n)


def time_peer(peer, path, basis_path, threads):
    """(seconds, note) or (None, reason)."""
    for candidate, mark in ((path, ""), (basis_path, "*")):
        argv = [sys.executable, os.path.abspath(__file__), "--worker", peer, candidate, str(threads)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=thread_env(threads),
                                  timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return None, f"timeout {TIMEOUT}s"
        if done.returncode == 0:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
            return answer["seconds"], mark + answer["method"]
        reason = (done.stderr.strip().splitlines() or ["?"])[-1][:90]
    return None, reason


def time_qrun(command, path, threads, extra=""):
    """(process wall of `command`, in-process parse + simulate + sample or None, method,
    passes per kernel or None), the last two from a second run of PROFILE_COMMAND; `extra`
    arguments go to both; (None, None, reason, None) on failure."""
    command += extra
    def run(command):
        argv = [part.replace("{file}", path) for part in shlex.split(command)]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=thread_env(threads),
                              timeout=TIMEOUT, check=False)
        return time.perf_counter() - started, done

    wall, done = run(command)
    if done.returncode != 0:
        return None, None, done.stderr.strip()[:90], None
    outcome = json.loads(done.stdout)
    assert outcome["shots"] == SHOTS, outcome
    _, done = run(PROFILE_COMMAND + extra)
    inside, passes = None, None
    for line in done.stderr.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
            inside = report["prepare_seconds"] + report["simulate_seconds"]
            if report.get("kernels"):
                # simulate time in plain passes, per kernel of the plan
                passes = report["simulate_seconds"] / report["pass_seconds"] / report["kernels"]
    return wall, inside, outcome.get("method", "?"), passes


def command_takes_precision(command):
    """Whether `command` is `run_qasm`, which takes `--precision` (`qrun exec` does not)."""
    return "run_qasm" in command


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=3, metavar=("PEER", "FILE", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--command", default=DEFAULT_COMMAND, help="qrun command; {file} is the QASM file")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="*", help="circuit names (default: all)")
    parser.add_argument("--peers", nargs="*", default=PEERS, choices=PEERS)
    parser.add_argument("--save", metavar="DIR",
                        help="write the circuits to DIR/NAME.qasm (for `cargo bench --bench e2e -- "
                        "results --file …`) and exit")
    args = parser.parse_args()
    if args.worker:
        peer, path, threads = args.worker
        return worker(peer, path, int(threads))

    texts = circuits()
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for name, text in texts.items():
            if not args.only or name in args.only:
                with open(os.path.join(args.save, f"{name}.qasm"), "w") as f:
                    f.write(text)
        return None
    print(f"shots={SHOTS} command: {args.command}")
    print(f"rerun: {shlex.join([sys.executable] + sys.argv)}")
    with tempfile.TemporaryDirectory() as workdir:
        paths = {}
        for name, text in texts.items():
            if args.only and name not in args.only:
                continue
            paths[name] = (os.path.join(workdir, f"{name}.qasm"), os.path.join(workdir, f"{name}.basis.qasm"))
            with open(paths[name][0], "w") as f:
                f.write(text)
            with open(paths[name][1], "w") as f:
                f.write(basis(text) if int(text.split("qreg q[")[1].split("]")[0]) <= 30 else text)
        for threads in args.threads:
            print(f"\n### {threads} thread{'s' if threads > 1 else ''}\n")
            header = ["circuit", "qrun process (s)", "qrun parse+run (s)", "qrun method",
                      "passes / fused block"] + [f"{p} (s)" for p in args.peers] + \
                ["best peer", "qrun ÷ best (process)", "qrun ÷ best (parse+run)",
                 "qrun single process (s)", "qrun single parse+run (s)",
                 "single ÷ best (process)", "single ÷ best (parse+run)"]
            print("| " + " | ".join(header) + " |")
            print("|" + "---|" * len(header))
            for name, (path, basis_path) in paths.items():
                qrun, inside, method, passes = time_qrun(args.command, path, threads)
                cells, best = [], None
                for peer in args.peers:
                    seconds, note = time_peer(peer, path, basis_path, threads)
                    if seconds is None:
                        cells.append(f"— ({note})")
                        continue
                    cells.append(f"{seconds:.3f} ({note})")
                    if best is None or seconds < best[1]:
                        best = (peer, seconds)
                def ratio(seconds):
                    return f"{seconds / best[1]:.2f}" if seconds is not None and best else "—"

                single = ["", "", "", ""]
                if method == "statevector" and command_takes_precision(args.command):
                    wall, inside_single, _, _ = time_qrun(args.command, path, threads,
                                                          " --precision single")
                    single = [f"{wall:.3f}" if wall is not None else "—",
                              f"{inside_single:.3f}" if inside_single is not None else "",
                              ratio(wall), ratio(inside_single)]
                row = [name, f"{qrun:.3f}" if qrun is not None else f"— ({method})",
                       f"{inside:.3f}" if inside is not None else "",
                       method if qrun is not None else "", f"{passes:.2f}" if passes else "",
                       *cells, f"{best[0]}" if best else "—", ratio(qrun), ratio(inside),
                       *single]
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
