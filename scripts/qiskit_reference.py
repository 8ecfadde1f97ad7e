#!/usr/bin/env python3
"""Reference distributions from Qiskit Aer for the engine's distribution tests.

Runs every circuit of the suite below on Qiskit Aer (statevector method) with a large
number of shots and writes the counts, the QASM sources and the versions used to
engine/tests/data/qiskit_reference.json. The Rust test `engine/tests/qiskit_reference.rs`
runs the same sources on the engine and compares by total variation distance; it needs
neither Python nor Qiskit.

Counts come from Aer's `get_counts()`, so the reference also pins Qiskit's key format
(register order and bit order) independently of the engine. Sources are read with
`qasm2.LEGACY_CUSTOM_INSTRUCTIONS`, Qiskit's reading of the extended qelib1.inc (crx, cp,
rxx, c4x, ...) that the engine serves.

Usage (from the repository root):

    python3 -m venv /tmp/qiskit-venv
    /tmp/qiskit-venv/bin/pip install qiskit qiskit-aer
    /tmp/qiskit-venv/bin/python scripts/qiskit_reference.py
"""

import json
import pathlib
import sys

import qiskit
import qiskit_aer
from qiskit import qasm2, transpile
from qiskit_aer import AerSimulator

SHOTS = 1_000_000
SEED = 20261128
OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "engine/tests/data/qiskit_reference.json"

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'

# name -> (what it covers, QASM body after the header)
CIRCUITS = {
    "uneven_bell_two_registers": (
        "two one-bit registers, the last declared leftmost",
        """qreg q[2];
creg a[1];
creg b[1];
ry(1.0) q[0];
cx q[0], q[1];
x q[1];
measure q[0] -> a[0];
measure q[1] -> b[0];
""",
    ),
    "ghz_partial_measurement": (
        "GHZ-5 with three qubits measured into a wider register (unmeasured bit reads 0)",
        """qreg q[5];
creg c[4];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
ry(0.3) q[4];
measure q[0] -> c[0];
measure q[2] -> c[1];
measure q[4] -> c[2];
""",
    ),
    "register_broadcasting": (
        "gates, measure and reset broadcast over registers",
        """qreg a[3];
qreg b[3];
creg ca[3];
creg cb[3];
h a;
ry(0.4) b;
cx a, b;
cx a[0], b;
rz(0.3) b;
h b;
measure a -> ca;
measure b -> cb;
""",
    ),
    "nested_parameterised_gates": (
        "user gates with parameters calling earlier user gates, barrier in a body",
        """gate rot(theta, phi) q { u3(theta, phi, -phi) q; }
gate pair(t) a, b { rot(t, t / 2) a; cx a, b; rot(-t / 3, pi / 5) b; }
gate triple(x) a, b, c { pair(x) a, b; pair(2 * x) b, c; barrier a, b, c; }
qreg q[3];
creg c[3];
triple(0.9) q[0], q[1], q[2];
triple(-0.4) q[2], q[0], q[1];
measure q -> c;
""",
    ),
    "expressions": (
        "pi, + - * / ^, unary minus, sin cos tan exp ln sqrt, 1.0e-7 / .5 / 2e6 literals",
        """qreg q[3];
creg c[3];
u3(-2^-1 + sqrt(2) / 2 + 1, ln(exp(0.3)) * 1.0e-7 * 2e6, cos(pi / 3)^2) q[0];
rx(tan(pi / 8) - -0.25) q[1];
ry(.5 * (1 + 2) / 3^2 * 4) q[2];
cu1(pi / 7) q[0], q[1];
crx(sin(0.5) * 2) q[1], q[2];
h q[1];
measure q -> c;
""",
    ),
    "mid_circuit_measure_and_reset": (
        "measure, reset and reuse of measured qubits",
        """qreg q[2];
creg m[2];
creg f[2];
h q[0];
ry(1.2) q[1];
measure q -> m;
reset q[0];
h q[0];
cx q[1], q[0];
ry(0.5) q[1];
measure q -> f;
""",
    ),
    "teleportation": (
        "if (creg == n) on one-bit registers",
        """qreg q[3];
creg m0[1];
creg m1[1];
creg out[1];
ry(1.1) q[0];
h q[1];
cx q[1], q[2];
cx q[0], q[1];
h q[0];
measure q[0] -> m0[0];
measure q[1] -> m1[0];
if (m1 == 1) x q[2];
if (m0 == 1) z q[2];
measure q[2] -> out[0];
""",
    ),
    "conditions_on_register_values": (
        "if on a 2-bit register value, conditional measurement",
        """qreg q[3];
creg c[2];
creg d[2];
h q[0];
ry(1.3) q[1];
measure q[0] -> c[0];
measure q[1] -> c[1];
if (c == 2) x q[2];
if (c == 3) ry(0.8) q[2];
measure q[2] -> d[0];
if (d == 1) measure q[1] -> d[1];
""",
    ),
    "multi_qubit_gates": (
        "ccx, cswap, rccx, c3x, c3sqrtx, rc3x, c4x",
        """qreg q[5];
creg c[5];
h q[0];
h q[1];
ry(0.6) q[2];
ccx q[0], q[1], q[3];
cswap q[2], q[0], q[4];
rccx q[4], q[1], q[2];
h q[3];
c3x q[0], q[1], q[3], q[4];
c3sqrtx q[1], q[2], q[3], q[0];
rc3x q[0], q[2], q[4], q[1];
c4x q[0], q[1], q[2], q[3], q[4];
measure q -> c;
""",
    ),
    "qft_4": (
        "4-qubit QFT of a prepared superposition",
        """qreg q[4];
creg c[4];
x q[0];
ry(0.8) q[2];
h q[3];
t q[3];
h q[3];
cu1(pi / 2) q[2], q[3];
cu1(pi / 4) q[1], q[3];
cu1(pi / 8) q[0], q[3];
h q[2];
cu1(pi / 2) q[1], q[2];
cu1(pi / 4) q[0], q[2];
h q[1];
cu1(pi / 2) q[0], q[1];
h q[0];
swap q[0], q[3];
swap q[1], q[2];
measure q -> c;
""",
    ),
    "two_qubit_rotations": (
        "rxx, rzz, cu, cu3, cry, crz, cy, ch, csx, cp, sx, sxdg, u2, u, p",
        """qreg q[3];
creg c[3];
h q[0];
sx q[1];
u2(0.3, -0.7) q[2];
rxx(0.9) q[0], q[1];
rzz(1.7) q[1], q[2];
cu(0.5, 0.2, -0.4, 0.9) q[0], q[2];
cu3(1.1, 0.3, 0.2) q[2], q[1];
cry(0.7) q[1], q[0];
crz(1.4) q[0], q[1];
h q[1];
cy q[2], q[0];
ch q[0], q[2];
csx q[1], q[2];
cp(0.6) q[2], q[0];
sxdg q[0];
u(0.4, 0.5, 0.6) q[1];
p(0.3) q[2];
h q;
measure q -> c;
""",
    ),
    "repeated_measurement": (
        "a bit measured twice keeps the last value; one qubit into two bits",
        """qreg q[2];
creg c[3];
ry(0.9) q[0];
measure q[0] -> c[0];
x q[0];
measure q[0] -> c[0];
ry(2.1) q[1];
measure q[1] -> c[1];
measure q[1] -> c[2];
""",
    ),
    "random_8_qubits": (
        "a fixed pseudo-random circuit on 8 qubits, 5 measured into two registers",
        None,  # generated below
    ),
    "wide_16_qubits": (
        "16 qubits (fused, multi-threaded kernels), 5 measured",
        """qreg q[16];
creg lo[2];
creg hi[3];
ry(0.3) q;
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
cx q[4], q[5];
cx q[5], q[6];
cx q[6], q[7];
cx q[7], q[8];
cx q[8], q[9];
cx q[9], q[10];
cx q[10], q[11];
cx q[11], q[12];
cx q[12], q[13];
cx q[13], q[14];
cx q[14], q[15];
rx(0.7) q;
rzz(0.4) q[0], q[15];
h q[15];
measure q[0] -> lo[0];
measure q[5] -> lo[1];
measure q[9] -> hi[0];
measure q[14] -> hi[1];
measure q[15] -> hi[2];
""",
    ),
}


def random_8_qubits():
    """A deterministic pseudo-random circuit (linear congruential choices, no RNG state)."""
    one = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx"]
    rot = ["rx", "ry", "rz", "p"]
    two = ["cx", "cz", "cy", "swap", "ch"]
    state = 12345
    lines = ["qreg q[8];", "creg a[3];", "creg b[2];"]

    def next_int(n):
        nonlocal state
        state = (state * 1103515245 + 12345) % (1 << 31)
        return state % n

    for _ in range(60):
        kind = next_int(3)
        if kind == 0:
            lines.append(f"{one[next_int(len(one))]} q[{next_int(8)}];")
        elif kind == 1:
            angle = (next_int(2000) - 1000) / 300
            lines.append(f"{rot[next_int(len(rot))]}({angle}) q[{next_int(8)}];")
        else:
            a = next_int(8)
            b = (a + 1 + next_int(7)) % 8
            lines.append(f"{two[next_int(len(two))]} q[{a}], q[{b}];")
    lines += [
        "measure q[1] -> a[0];",
        "measure q[3] -> a[1];",
        "measure q[4] -> a[2];",
        "measure q[6] -> b[0];",
        "measure q[7] -> b[1];",
    ]
    return "\n".join(lines) + "\n"


def main():
    simulator = AerSimulator(method="statevector")
    circuits = []
    for name, (covers, body) in CIRCUITS.items():
        if body is None:
            body = random_8_qubits()
        source = HEADER + body
        # Qiskit's built-in qelib1.inc is the paper's original; the legacy custom
        # instructions add the later gates of the extended file the engine serves.
        circuit = qasm2.loads(source, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        result = simulator.run(
            transpile(circuit, simulator), shots=SHOTS, seed_simulator=SEED
        ).result()
        counts = dict(sorted(result.get_counts().items()))
        circuits.append({"name": name, "covers": covers, "source": source, "counts": counts})
        print(f"{name}: {len(counts)} outcomes", file=sys.stderr)
    document = {
        "generator": "scripts/qiskit_reference.py",
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "method": "AerSimulator(method='statevector'), counts from get_counts()",
        "shots": SHOTS,
        "seed_simulator": SEED,
        "circuits": circuits,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
