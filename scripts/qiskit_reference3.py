#!/usr/bin/env python3
"""Reference distributions from Qiskit Aer for the engine's OpenQASM 3 front end.

Writes engine/tests/data/qiskit_reference3.json: for every program below, the OpenQASM 3
source the engine runs, its `input` parameters, and Qiskit Aer's counts for it, with the
versions used. The Rust test `engine/tests/qiskit_reference3.rs` runs the same sources on
the engine and compares by total variation distance; it needs neither Python nor Qiskit.

Two kinds of programs:

* Dumped: circuits built with Qiskit (its circuit library, `random_circuit` with
  measurements and conditionals, registers of several widths, `if_test`/`else`,
  `for_loop`), written with `qiskit.qasm3.dumps`. Aer runs the circuit object itself, so
  the reference is Qiskit's meaning of the text the engine reads.
* Transpiled: circuits transpiled for a 20-qubit device on a line (`GenericBackendV2`,
  basis cx/id/rz/sx/x) at optimization levels 0-3 with an `initial_layout`, as
  `transpile(qc, backend)` makes them, so `qasm3.dumps` writes physical qubits (`$n`) and
  routing adds swaps. Aer runs the transpiled circuit object.
* Hand-written: one program per construct of docs/DESIGN.md §12. Aer runs what
  `qiskit.qasm3.loads` (qiskit-qasm3-import) reads from the same text. Where that importer
  cannot read a construct, the entry carries an `aer_source`: an equivalent program it
  can read, written next to the original below, and the JSON keeps it so a reader can
  check the equivalence. The cases (qiskit-qasm3-import 0.6.0): `const` declarations
  ("node of type ConstantDeclaration is not supported"); scalar `bit lo;` (read as loose
  bits, whose count keys are not a register's, docs/DESIGN.md §12); conditions with `!=`, `<`,
  `!`, `&&` ("only '==' is supported in register comparisons"); a loop variable used
  as a qubit index ("index must be int, slice or list"); and a gate with several
  parameters, which the importer binds in the alphabetical order of their names rather
  than in declaration order (a silent error: `gate rot(theta, phi)` called as
  `rot(0.9, 0.45)` gets theta = 0.45).

Counts are Aer's `get_counts()`, so the reference also pins the key format (each register
most-significant bit first, registers separated by a space, the last declared leftmost).

Usage (from the repository root, in a venv with qiskit, qiskit-aer and
qiskit-qasm3-import; /opt/qrun-venv has them):

    /opt/qrun-venv/bin/python scripts/qiskit_reference3.py
"""

import importlib.metadata
import json
import math
import pathlib
import sys

import qiskit
import qiskit_aer
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm3, transpile
from qiskit.circuit.library import QFTGate, XGate, HGate, RYGate
from qiskit.circuit.random import random_circuit
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import CouplingMap
from qiskit_aer import AerSimulator

SHOTS = 200_000
SEED = 20261201
OUTPUT = (
    pathlib.Path(__file__).resolve().parent.parent / "engine/tests/data/qiskit_reference3.json"
)

STD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


# --- dumped from Qiskit circuits -----------------------------------------------------------


def ghz(n):
    qc = QuantumCircuit(QuantumRegister(n, "q"), ClassicalRegister(n, "c"))
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure(range(n), range(n))
    return qc


def qft_of_state():
    qc = QuantumCircuit(QuantumRegister(4, "q"), ClassicalRegister(4, "c"))
    qc.x(0)
    qc.ry(0.8, 2)
    qc.h(3)
    qc.append(QFTGate(4), range(4))
    qc.measure(range(4), range(4))
    return qc


def several_widths():
    q = QuantumRegister(5, "q")
    a, b, c = ClassicalRegister(1, "a"), ClassicalRegister(3, "b"), ClassicalRegister(2, "c")
    qc = QuantumCircuit(q, a, b, c)
    qc.h(0)
    qc.ry(0.7, 1)
    qc.cx(0, 2)
    qc.ry(1.9, 3)
    qc.cx(3, 4)
    qc.measure(0, a[0])
    qc.measure([1, 2, 3], b)
    qc.measure([4, 0], c)
    return qc


def control_flow():
    q = QuantumRegister(3, "q")
    m = ClassicalRegister(2, "m")
    out = ClassicalRegister(3, "out")
    qc = QuantumCircuit(q, m, out)
    qc.h(0)
    qc.ry(1.1, 1)
    qc.measure([0, 1], m)
    with qc.if_test((m, 2)) as else_:
        qc.x(2)
    with else_:
        qc.ry(0.6, 2)
    with qc.if_test((m[0], False)):
        qc.h(1)
    with qc.for_loop(range(0, 3)) as i:
        qc.rx(0.4 * i, 0)
    with qc.for_loop([1, 3]):
        qc.rz(0.3, 2)
        qc.h(2)
    qc.measure(q, out)
    return qc


def wide_register():
    """A 70-bit register compared with a value beyond 64 bits, and a narrow one."""
    q = QuantumRegister(3, "q")
    wide = ClassicalRegister(70, "wide")
    flag = ClassicalRegister(1, "flag")
    qc = QuantumCircuit(q, wide, flag)
    qc.x(0)
    qc.h(1)
    qc.measure(0, wide[0])
    qc.measure(1, wide[65])
    with qc.if_test((wide, 2**65 + 1)) as else_:
        qc.x(2)
    with else_:
        qc.ry(0.5, 2)
    qc.measure(2, flag[0])
    return qc


def controlled_library_gates():
    qc = QuantumCircuit(QuantumRegister(4, "q"), ClassicalRegister(4, "c"))
    qc.h([0, 1])
    qc.ry(0.9, 2)
    qc.append(HGate().control(2, ctrl_state=1), [0, 1, 3])
    qc.append(XGate().control(3, ctrl_state=5), [0, 1, 2, 3])
    qc.append(RYGate(0.7).control(1), [3, 2])
    qc.sxdg(1)
    qc.rxx(0.4, 0, 3)
    qc.measure(range(4), range(4))
    return qc


DUMPED = {
    "qiskit_ghz_6": ("qasm3.dumps of a GHZ-6 circuit", ghz(6)),
    "qiskit_qft_4": ("QFTGate(4) on a prepared state: a gate definition", qft_of_state()),
    "qiskit_random_5x6_conditional": (
        "random_circuit(5, 6, max_operands=3, measure=True, conditional=True, seed=7)",
        random_circuit(5, 6, max_operands=3, measure=True, conditional=True, seed=7),
    ),
    "qiskit_random_4x8_conditional": (
        "random_circuit(4, 8, max_operands=2, measure=True, conditional=True, seed=11)",
        random_circuit(4, 8, max_operands=2, measure=True, conditional=True, seed=11),
    ),
    "qiskit_random_6x5": (
        "random_circuit(6, 5, max_operands=3, measure=True, seed=3): custom gate definitions",
        random_circuit(6, 5, max_operands=3, measure=True, seed=3),
    ),
    "qiskit_registers_of_several_widths": (
        "registers of widths 1, 3 and 2, the last declared leftmost",
        several_widths(),
    ),
    "qiskit_control_flow": (
        "if_test/else on a register and on a bit (written '!m[0]'), for_loop over a range "
        "with its variable in an angle and over a set",
        control_flow(),
    ),
    "qiskit_wide_register_condition": (
        "if/else on a 70-bit register against 2^65 + 1",
        wide_register(),
    ),
    "qiskit_controlled_library_gates": (
        "controlled gates with control states (definitions with x conjugation), sxdg, rxx",
        controlled_library_gates(),
    ),
}


# --- transpiled for a device: physical qubits ------------------------------------------------

DEVICE = GenericBackendV2(
    num_qubits=20, coupling_map=CouplingMap.from_line(20), control_flow=True, seed=SEED
)


def crossed_bell_pairs():
    """Two entangled pairs measured into two registers, the clbits out of qubit order."""
    q = QuantumRegister(4, "q")
    lo, hi = ClassicalRegister(2, "lo"), ClassicalRegister(3, "hi")
    qc = QuantumCircuit(q, lo, hi)
    qc.h(0)
    qc.cx(0, 3)
    qc.ry(1.2, 1)
    qc.cx(1, 2)
    qc.measure([3, 0], lo)
    qc.measure([1, 2, 0], hi)
    return qc


def feed_forward():
    """A mid-circuit measurement and an if_test on it, transpiled with the layout."""
    q = QuantumRegister(3, "q")
    m, out = ClassicalRegister(1, "m"), ClassicalRegister(3, "out")
    qc = QuantumCircuit(q, m, out)
    qc.h(0)
    qc.measure(0, m[0])
    with qc.if_test((m[0], True)):
        qc.x(2)
    qc.ry(0.8, 1)
    qc.cx(1, 2)
    qc.measure(q, out)
    return qc


def transpiled(circuit, level, layout):
    return transpile(
        circuit,
        DEVICE,
        optimization_level=level,
        initial_layout=layout,
        seed_transpiler=SEED,
    )


TRANSPILED = {
    f"transpiled_{name}_level_{level}": (
        f"transpile({name}, a 20-qubit line device, optimization_level={level}, "
        f"initial_layout={layout}): physical qubits, routed",
        transpiled(circuit, level, layout),
    )
    for name, circuit, layout in [
        ("crossed_bell_pairs", crossed_bell_pairs(), [17, 4, 9, 12]),
        (
            "random_4x6",
            random_circuit(4, 6, max_operands=2, measure=True, seed=5),
            [12, 0, 19, 7],
        ),
    ]
    for level in range(4)
} | {
    "transpiled_feed_forward_level_2": (
        "transpile(feed_forward, a 20-qubit line device, optimization_level=2, "
        "initial_layout=[3, 15, 8]): physical qubits in an if block",
        transpiled(feed_forward(), 2, [3, 15, 8]),
    ),
}


# --- hand-written, one per construct ---------------------------------------------------------

# name -> (what it covers, source, parameters, equivalent source for Aer or None)
HANDWRITTEN = {
    "declarations_qubit_bit_qreg_creg": (
        "qubit[n]/bit[n], qreg/creg, a scalar qubit; measure q -> c and c = measure q",
        STD
        + """qubit[2] q;
qreg r[1];
qubit w;
bit[2] c;
creg d[2];
h q[0];
cx q[0], q[1];
ry(0.6) r[0];
x w;
c = measure q;
measure r[0] -> d[0];
measure w -> d[1];
""",
        {},
        None,
    ),
    "scalar_bits_are_one_bit_registers": (
        "bit lo; bit hi; keys as two one-bit registers named lo and hi, hi leftmost",
        STD
        + """qubit[2] q;
bit lo;
bit hi;
ry(1.0) q[0];
cx q[0], q[1];
x q[1];
lo = measure q[0];
hi = measure q[1];
""",
        {},
        STD
        + """qubit[2] q;
bit[1] lo;
bit[1] hi;
ry(1.0) q[0];
cx q[0], q[1];
x q[1];
lo[0] = measure q[0];
hi[0] = measure q[1];
""",
    ),
    "measure_reset_barrier_U": (
        "indexed measure, reset of a measured qubit, barrier, the built-in U",
        STD
        + """qubit[2] q;
bit[2] m;
bit[2] f;
U(1.2, 0.3, -0.4) q[0];
h q[1];
m[0] = measure q[0];
m[1] = measure q[1];
reset q[0];
barrier q;
U(0.5, 0, 0) q[0];
cx q[1], q[0];
barrier;
f = measure q;
""",
        {},
        None,
    ),
    "gate_definitions_with_parameters": (
        "user gates with parameters calling earlier user gates",
        STD
        + """gate rot(theta, phi) a { U(theta, phi, -phi) a; }
gate pair(t) a, b { rot(t, t / 2) a; cx a, b; rot(-t / 3, pi / 5) b; }
gate triple(w) a, b, c { pair(w) a, b; pair(2 * w) b, c; }
qubit[3] q;
bit[3] c;
triple(0.9) q[0], q[1], q[2];
triple(-0.4) q[2], q[0], q[1];
c = measure q;
""",
        {},
        # The importer binds a gate's parameters in the alphabetical order of their names,
        # not in declaration order (rot(theta, phi) would get theta = phi's value): the
        # same program with names in alphabetical order.
        STD
        + """gate rot(a_theta, b_phi) a { U(a_theta, b_phi, -b_phi) a; }
gate pair(t) a, b { rot(t, t / 2) a; cx a, b; rot(-t / 3, pi / 5) b; }
gate triple(w) a, b, c { pair(w) a, b; pair(2 * w) b, c; }
qubit[3] q;
bit[3] c;
triple(0.9) q[0], q[1], q[2];
triple(-0.4) q[2], q[0], q[1];
c = measure q;
""",
    ),
    "modifiers_ctrl_inv": (
        "ctrl @, ctrl(2) @, inv @ on standard and user gates",
        STD
        + """gate rot(theta) a { ry(theta) a; rz(theta / 2) a; }
qubit[3] q;
bit[3] c;
h q[0];
h q[1];
ctrl @ rot(1.1) q[0], q[2];
ctrl(2) @ ry(0.8) q[0], q[1], q[2];
inv @ rot(0.7) q[1];
ctrl @ inv @ rx(0.9) q[2], q[0];
c = measure q;
""",
        {},
        None,
    ),
    "modifiers_negctrl_pow": (
        "negctrl @, pow(k) @ with k = 2, 3 and -1, on a user gate and on a controlled one",
        STD
        + """gate rot(theta) a { ry(theta) a; rz(theta / 2) a; }
qubit[3] q;
bit[3] c;
h q[0];
ry(0.4) q[1];
negctrl @ ry(1.3) q[0], q[2];
pow(2) @ rot(0.35) q[1];
pow(3) @ ctrl @ rx(0.3) q[0], q[1];
pow(-1) @ ry(0.5) q[2];
negctrl(2) @ x q[0], q[1], q[2];
c = measure q;
""",
        {},
        None,
    ),
    "controlled_gphase": (
        "gphase: harmless alone, a phase gate under ctrl @ (also inside a controlled gate; dropping either phase changes the counts)",
        STD
        + """gate phased a { gphase(pi / 2); x a; }
qubit[2] q;
bit[2] c;
gphase(0.3);
h q[0];
h q[1];
ctrl @ gphase(pi / 4) q[0];
ctrl @ phased q[1], q[0];
h q[0];
h q[1];
c = measure q;
""",
        {},
        None,
    ),
    "const_and_expressions": (
        "const declarations, pi, arithmetic, **, sin/cos/sqrt/exp/log, int division",
        STD
        + """const int n = 3;
const float half = pi / 2;
const float a = sin(half / 3) ** 2 + cos(0.3) * sqrt(2.0);
const angle b = exp(log(1.5)) - 7 / 2;
qubit[n] q;
bit[n] c;
ry(a) q[0];
rx(b) q[1];
u3(half / n, -a, 2 * b) q[2];
cx q[0], q[2];
c = measure q;
""",
        {},
        STD
        + """qubit[3] q;
bit[3] c;
ry(%r) q[0];
rx(%r) q[1];
u3(%r, %r, %r) q[2];
cx q[0], q[2];
c = measure q;
"""
        % (
            math.sin(math.pi / 6) ** 2 + math.cos(0.3) * math.sqrt(2.0),
            (math.exp(math.log(1.5)) - 3) % (2 * math.pi),
            math.pi / 6,
            -(math.sin(math.pi / 6) ** 2 + math.cos(0.3) * math.sqrt(2.0)),
            2 * ((math.exp(math.log(1.5)) - 3) % (2 * math.pi)),
        ),
    ),
    "input_parameters": (
        "input float[64] and input angle[32] bound by the run",
        STD
        + """input float[64] theta;
input angle[32] phi;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
crx(phi) q[0], q[1];
rz(theta * 2) q[1];
h q[1];
c = measure q;
""",
        {"theta": 0.9, "phi": 2.1},
        None,
    ),
    "if_else_on_bits_and_registers": (
        "if/else on a register value, on a bit, with != and <, !, && and a nested if",
        STD
        + """qubit[3] q;
bit[2] m;
bit[3] out;
h q[0];
ry(1.2) q[1];
m = measure q[0:1];
if (m == 2) { x q[2]; } else { ry(0.4) q[2]; }
if (m[0]) { z q[1]; }
if (m != 3) { h q[1]; }
if (m < 2 && !m[0]) { ry(0.9) q[0]; } else { if (m[1]) { x q[0]; } }
out = measure q;
""",
        {},
        STD
        + """qubit[3] q;
bit[2] m;
bit[3] out;
h q[0];
ry(1.2) q[1];
m[0] = measure q[0];
m[1] = measure q[1];
if (m == 2) { x q[2]; } else { ry(0.4) q[2]; }
if (m[0] == true) { z q[1]; }
if (m == 0) { h q[1]; }
if (m == 1) { h q[1]; }
if (m == 2) { h q[1]; }
if (m == 0) { ry(0.9) q[0]; }
if (m == 2) { x q[0]; }
if (m == 3) { x q[0]; }
out = measure q;
""",
    ),
    "for_loops_over_ranges_and_sets": (
        "for over [a:b], [a:step:b] and {set}, the variable in angles and indices",
        STD
        + """qubit[4] q;
bit[4] c;
for int i in [0:3] { ry(0.2 * (i + 1)) q[i]; }
for int i in [0:2:2] { cx q[i], q[i + 1]; }
for int k in {3, 1} { rz(0.5) q[k]; h q[k]; }
c = measure q;
""",
        {},
        STD
        + """qubit[4] q;
bit[4] c;
ry(0.2) q[0];
ry(0.4) q[1];
ry(0.6000000000000001) q[2];
ry(0.8) q[3];
cx q[0], q[1];
cx q[2], q[3];
rz(0.5) q[3];
h q[3];
rz(0.5) q[1];
h q[1];
c = measure q;
""",
    ),
}


def counts_of(circuit, simulator):
    result = simulator.run(
        transpile(circuit, simulator), shots=SHOTS, seed_simulator=SEED
    ).result()
    return dict(sorted(result.get_counts().items()))


def main():
    simulator = AerSimulator(method="statevector")
    circuits = []
    for name, (covers, circuit) in (DUMPED | TRANSPILED).items():
        source = qasm3.dumps(circuit)
        counts = counts_of(circuit, simulator)
        circuits.append(
            {"name": name, "covers": covers, "source": source, "parameters": {}, "counts": counts}
        )
        print(f"{name}: {len(counts)} outcomes", file=sys.stderr)
    for name, (covers, source, parameters, aer_source) in HANDWRITTEN.items():
        circuit = qasm3.loads(aer_source or source)
        if parameters:
            by_name = {p.name: p for p in circuit.parameters}
            circuit = circuit.assign_parameters({by_name[k]: v for k, v in parameters.items()})
        counts = counts_of(circuit, simulator)
        entry = {
            "name": name,
            "covers": covers,
            "source": source,
            "parameters": parameters,
            "counts": counts,
        }
        if aer_source:
            entry["aer_source"] = aer_source
        circuits.append(entry)
        print(f"{name}: {len(counts)} outcomes", file=sys.stderr)
    document = {
        "generator": "scripts/qiskit_reference3.py",
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "qiskit_qasm3_import": importlib.metadata.version("qiskit-qasm3-import"),
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
