#!/usr/bin/env python3
"""Reference distributions from Qiskit Aer's `stabilizer` method for the engine's Clifford
tests (issue 29).

Random Clifford circuits of 50 to 1,000 qubits — layers of h, s, sdg, x, y, z, sx, sxdg and
cx, cy, cz, swap on random qubits, with mid-circuit measurements into one-bit registers,
resets, and gates conditioned on those registers — each ending with a measurement of a few
chosen qubits, plus deterministic circuits whose every shot is one key. Each runs on
`AerSimulator(method="stabilizer")`; the counts, the sources and the versions go to
engine/tests/data/clifford_reference.json. The Rust test `engine/tests/clifford_reference.rs`
runs the same sources on the engine (which picks its stabilizer method for them) and
compares by total variation distance, and deterministic circuits exactly; it needs neither
Python nor Qiskit.

Only a few qubits are measured at the end so that the distributions have few outcomes and
the comparison has power; the circuits are wide everywhere else.

Usage (from the repository root):

    python3 -m venv /tmp/qiskit-venv
    /tmp/qiskit-venv/bin/pip install qiskit qiskit-aer
    /tmp/qiskit-venv/bin/python scripts/clifford_reference.py
"""

import json
import pathlib
import random
import sys

import qiskit
import qiskit_aer
from qiskit import qasm2
from qiskit_aer import AerSimulator

SHOTS = 200_000
SEED = 20261206
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "engine/tests/data/clifford_reference.json"

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
ONE = ["h", "s", "sdg", "x", "y", "z", "sx", "sxdg"]
TWO = ["cx", "cy", "cz", "swap"]


def random_clifford(num_qubits, layers, mids, resets, conditions, measured, seed):
    """A random Clifford circuit: `layers` layers of one gate per qubit (a random
    one-qubit gate, or a two-qubit gate with a random partner), `mids` mid-circuit
    measurements into one-bit registers m0.., `resets` resets and `conditions` gates
    conditioned on those registers, spread over the layers; the last `measured` random
    qubits measured into `out`."""
    rng = random.Random(seed)
    lines = [f"qreg q[{num_qubits}];"]
    lines += [f"creg m{i}[1];" for i in range(mids)]
    lines.append(f"creg out[{measured}];")
    events = (
        [("mid", i) for i in range(mids)]
        + [("reset", None)] * resets
        + [("if", None)] * conditions
    )
    rng.shuffle(events)
    # Events go after random layers; conditions only after the first measurement.
    slots = sorted(rng.randrange(1, layers + 1) for _ in events)
    measured_so_far = []
    event_at = {}
    for slot, event in zip(slots, events):
        event_at.setdefault(slot, []).append(event)
    for layer in range(1, layers + 1):
        order = list(range(num_qubits))
        rng.shuffle(order)
        while order:
            a = order.pop()
            if order and rng.random() < 0.5:
                b = order.pop()
                lines.append(f"{rng.choice(TWO)} q[{a}], q[{b}];")
            else:
                lines.append(f"{rng.choice(ONE)} q[{a}];")
        for kind, index in event_at.get(layer, []):
            if kind == "mid":
                lines.append(f"measure q[{rng.randrange(num_qubits)}] -> m{index}[0];")
                measured_so_far.append(index)
            elif kind == "reset":
                lines.append(f"reset q[{rng.randrange(num_qubits)}];")
            elif measured_so_far:
                register = rng.choice(measured_so_far)
                gate = rng.choice(ONE)
                lines.append(f"if (m{register} == {rng.randrange(2)}) {gate} q[{rng.randrange(num_qubits)}];")
    for i, q in enumerate(rng.sample(range(num_qubits), measured)):
        lines.append(f"measure q[{q}] -> out[{i}];")
    return "\n".join(lines) + "\n"


def ghz_parity(num_qubits):
    """GHZ over every qubit, then undone, with X on some qubits, a mid-circuit measurement,
    a reset and a condition: deterministic, one key."""
    lines = [f"qreg q[{num_qubits}];", "creg flag[1];", "creg out[6];", "h q[0];"]
    lines += [f"cx q[{i - 1}], q[{i}];" for i in range(1, num_qubits)]
    lines += [f"cx q[{i - 1}], q[{i}];" for i in range(num_qubits - 1, 0, -1)]
    lines += ["h q[0];", f"x q[{num_qubits - 1}];", f"measure q[{num_qubits - 1}] -> flag[0];"]
    lines += [f"reset q[{num_qubits - 1}];", "if (flag == 1) x q[3];", "sx q[5];", "sx q[5];"]
    lines += [f"measure q[{q}] -> out[{i}];" for i, q in enumerate([0, 3, 5, 7, num_qubits // 2, num_qubits - 1])]
    return "\n".join(lines) + "\n"


def ghz_measured(num_qubits, measured):
    """GHZ over every qubit; `measured` spread qubits measured: all zeros or all ones."""
    lines = [f"qreg q[{num_qubits}];", f"creg c[{measured}];", "h q[0];"]
    lines += [f"cx q[{i - 1}], q[{i}];" for i in range(1, num_qubits)]
    step = num_qubits // measured
    lines += [f"measure q[{i * step}] -> c[{i}];" for i in range(measured)]
    return "\n".join(lines) + "\n"


CIRCUITS = {
    # name: (what it covers, source body)
    "random_50_mid_reset_if": ("50 qubits, 12 layers, 3 mid-circuit measurements, 3 resets, 3 conditions",
                               lambda: random_clifford(50, 12, 3, 3, 3, 6, 1)),
    "random_100_mid_reset_if": ("100 qubits, 10 layers, 4 measurements, 4 resets, 4 conditions",
                                lambda: random_clifford(100, 10, 4, 4, 4, 5, 2)),
    "random_200_no_feedback": ("200 qubits, 12 layers, 3 measurements, 5 resets, no condition (one pass)",
                               lambda: random_clifford(200, 12, 3, 5, 0, 6, 3)),
    "random_500_mid_reset_if": ("500 qubits, 8 layers, 3 measurements, 3 resets, 2 conditions",
                                lambda: random_clifford(500, 8, 3, 3, 2, 5, 4)),
    "random_1000_mid_reset_if": ("1,000 qubits, 5 layers, 2 measurements, 3 resets, 2 conditions",
                                 lambda: random_clifford(1000, 5, 2, 3, 2, 5, 5)),
    "ghz_1000_spread": ("GHZ over 1,000 qubits, 8 spread qubits measured", lambda: ghz_measured(1000, 8)),
    "deterministic_1000": ("GHZ over 1,000 qubits undone, a measurement, reset and condition: one key",
                           lambda: ghz_parity(1000)),
    "deterministic_50": ("the same over 50 qubits", lambda: ghz_parity(50)),
}


def main():
    simulator = AerSimulator(method="stabilizer")
    circuits = []
    for name, (covers, body) in CIRCUITS.items():
        source = HEADER + body()
        circuit = qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        result = simulator.run(circuit, shots=SHOTS, seed_simulator=SEED).result()
        counts = dict(sorted(result.get_counts().items()))
        circuits.append({"name": name, "covers": covers, "source": source, "counts": counts})
        print(f"{name}: {len(counts)} outcomes", file=sys.stderr)
    document = {
        "generator": "scripts/clifford_reference.py",
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "method": "AerSimulator(method='stabilizer'), counts from get_counts()",
        "shots": SHOTS,
        "seed_simulator": SEED,
        "circuits": circuits,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
