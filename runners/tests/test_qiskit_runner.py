"""Tests of runners/qiskit_runner.py, run as qrun runs it: a subprocess, JSON on stdin.

Run with the venv's interpreter (it has qiskit, qiskit-aer, qiskit-qasm3-import, pytest):

    /opt/qrun-venv/bin/python -m pytest runners/tests -q

QRUN_VENV_PYTHON overrides the interpreter that runs the runner (default: this one).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RUNNERS = Path(__file__).resolve().parent.parent
RUNNER = RUNNERS / "qiskit_runner.py"
PYTHON = os.environ.get("QRUN_VENV_PYTHON", sys.executable)
SANDBOX_RUNNERS = "/opt/qrun/runners"  # bwrap cannot make a mount point inside the read-only /usr


def run(source, fmt="python", shots=1000, seed=7, parameters=None, args=(), job=None, cmd=None):
    if job is None:
        job = {"source": textwrap.dedent(source), "format": fmt, "shots": shots, "seed": seed}
        if parameters is not None:
            job["parameters"] = parameters
    stdin = job if isinstance(job, (bytes, str)) else json.dumps(job)
    proc = subprocess.run(
        cmd or [PYTHON, str(RUNNER), *args],
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        timeout=300,
    )
    out = proc.stdout.decode()
    try:
        payload = json.loads(out) if out.strip() else None
    except ValueError:
        payload = None
    return proc.returncode, payload, out, proc.stderr.decode()


def ok(*a, **kw):
    code, payload, out, err = run(*a, **kw)
    assert code == 0, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert out.count("\n") == 1, f"stdout must be exactly one JSON line: {out!r}"
    return payload["counts"]


def user_error(*a, **kw):
    code, payload, out, err = run(*a, **kw)
    assert code == 65, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert set(payload) == {"error"} and set(payload["error"]) == {"line", "message"}, out
    return payload["error"]


BELL = """\
from qiskit import QuantumCircuit

circuit = QuantumCircuit(2, 2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure([0, 1], [0, 1])
"""


# ------------------------------------------------------------------------ success


def test_python_bell_counts_and_seed():
    counts = ok(BELL, shots=1000, seed=11)
    assert set(counts) <= {"00", "11"} and len(counts) == 2
    assert sum(counts.values()) == 1000
    assert 400 < counts["00"] < 600
    assert ok(BELL, shots=1000, seed=11) == counts, "same seed, same counts"
    others = [ok(BELL, shots=1000, seed=s) for s in (12, 13)]
    assert any(o != counts for o in others), "other seeds give other samples"


def test_unseeded_run_and_u64_seed():
    assert sum(ok(BELL, shots=100, seed=None).values()) == 100
    big = 2**64 - 1  # a u64 seed above i64::MAX: the same 64 bits as -1 for Aer
    assert ok(BELL, shots=200, seed=big) == ok(BELL, shots=200, seed=-1)


def test_ghz_20_qubits():
    counts = ok(
        """\
        from qiskit import QuantumCircuit

        n = 20
        circuit = QuantumCircuit(n)
        circuit.h(0)
        for i in range(n - 1):
            circuit.cx(i, i + 1)
        circuit.measure_all()
        """,
        shots=2000,
        seed=3,
    )
    assert set(counts) == {"0" * 20, "1" * 20}
    assert sum(counts.values()) == 2000


MULTI_REGISTER = """\
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

q = QuantumRegister(6, "q")
a = ClassicalRegister(2, "a")
b = ClassicalRegister(1, "b")
c = ClassicalRegister(3, "c")
circuit = QuantumCircuit(q, a, b, c)
circuit.x(q[0])      # a[0] = 1
circuit.x(q[2])      # b[0] = 1
circuit.x(q[5])      # c[2] = 1
circuit.h(q[3])      # c[0] random
circuit.measure(q[0:2], a)
circuit.measure(q[2], b)
circuit.measure(q[3:6], c)
"""


def test_multi_register_keys_match_aer():
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    counts = ok(MULTI_REGISTER, shots=500, seed=5)
    assert set(counts) == {"100 1 01", "101 1 01"}, "last register leftmost, MSB first"
    namespace = {}
    exec(MULTI_REGISTER, namespace)
    simulator = AerSimulator(seed_simulator=5)
    direct = simulator.run(transpile(namespace["circuit"], simulator), shots=500).result()
    assert counts == direct.get_counts()


def test_openqasm2():
    counts = ok(
        """\
        OPENQASM 2.0;
        include "qelib1.inc";
        qreg q[3];
        creg lo[2];
        creg hi[1];
        h q[0];
        cx q[0], q[1];
        x q[2];
        measure q[0] -> lo[0];
        measure q[1] -> lo[1];
        measure q[2] -> hi[0];
        """,
        fmt="openqasm2",
        shots=300,
    )
    assert set(counts) == {"1 00", "1 11"} and sum(counts.values()) == 300


def test_openqasm3():
    counts = ok(
        """\
        OPENQASM 3.0;
        include "stdgates.inc";
        qubit[2] q;
        bit[2] c;
        h q[0];
        cx q[0], q[1];
        c = measure q;
        """,
        fmt="openqasm3",
        shots=300,
    )
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 300


def test_openqasm3_scalar_bit_is_a_register_in_declaration_order():
    # Qiskit's importer leaves `bit flag;` in no register, and get_counts() would print
    # "10" (flag dropped); docs/DESIGN.md §12 makes it a one-bit register.
    counts = ok(
        """\
        OPENQASM 3.0;
        include "stdgates.inc";
        qubit[3] q;
        bit flag;
        bit[2] c;
        bit last;
        x q[0];
        x q[2];
        flag = measure q[0];
        c[0] = measure q[1];
        c[1] = measure q[2];
        last = measure q[1];
        if (flag) x q[1];
        """,
        fmt="openqasm3",
        shots=50,
    )
    assert counts == {"0 10 1": 50}


PARAM_PY = """\
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

theta = Parameter("theta")
phi = Parameter("phi")
circuit = QuantumCircuit(2, 2)
circuit.rx(theta, 0)
circuit.ry(phi, 1)
circuit.measure([0, 1], [0, 1])
"""

PARAM_QASM3 = """\
OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input float[64] phi;
qubit[2] q;
bit[2] c;
rx(theta) q[0];
ry(phi) q[1];
c = measure q;
"""


@pytest.mark.parametrize("source,fmt", [(PARAM_PY, "python"), (PARAM_QASM3, "openqasm3")])
def test_parameters_are_bound_by_name(source, fmt):
    assert ok(source, fmt=fmt, shots=100, parameters={"theta": math.pi, "phi": 0.0}) == {"01": 100}
    assert ok(source, fmt=fmt, shots=100, parameters={"theta": 0, "phi": math.pi}) == {"10": 100}
    mixed = ok(source, fmt=fmt, shots=1000, parameters={"theta": math.pi / 2, "phi": math.pi})
    assert set(mixed) == {"10", "11"}


def test_print_and_fd1_writes_in_user_code_go_to_stderr():
    code, payload, out, err = run(
        textwrap.dedent(
            """\
        import os, subprocess, sys
        print("hello from the user's module")
        sys.stdout.write("{not json\\n")
        os.write(1, b"raw fd 1\\n")
        subprocess.run(["echo", "from a child"])
        """
        )
        + BELL
    )
    assert code == 0, err
    assert set(payload) == {"counts"} and sum(payload["counts"].values()) == 1000
    for text in ("hello from the user's module", "{not json", "raw fd 1", "from a child"):
        assert text in err and text not in out


@pytest.mark.parametrize(
    "source,fmt",
    [
        (BELL, "python"),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nmeasure q -> c;\n', "openqasm2"),
        ("OPENQASM 3.0;\nqubit[1] q;\nbit[1] c;\nc = measure q;\n", "openqasm3"),
    ],
)
def test_byte_order_mark_and_crlf(source, fmt):
    counts = ok("\ufeff" + source.replace("\n", "\r\n"), fmt=fmt, shots=10)
    assert sum(counts.values()) == 10
    error = user_error("\ufeffx = 1\r\n\r\nraise KeyError('k')\r\n")
    assert error["line"] == 3


def test_main_guard_does_not_run():
    counts = ok(BELL + 'if __name__ == "__main__":\n    raise SystemExit("ran")\n', shots=10)
    assert sum(counts.values()) == 10


# --------------------------------------------------------------- user mistakes: 65


def test_syntax_error_names_its_line():
    error = user_error("from qiskit import QuantumCircuit\n\ncircuit = QuantumCircuit(2\nx = 1\n")
    assert error["line"] in (3, 4)
    assert error["message"].startswith("SyntaxError")
    error = user_error("x = 1\nif x:\nprint(x)\n")
    assert error["line"] == 3 and error["message"].startswith("IndentationError")


def test_raise_on_line_5_names_line_5():
    error = user_error(
        """\
        from qiskit import QuantumCircuit

        circuit = QuantumCircuit(1, 1)
        circuit.h(0)
        raise ValueError("bad angle 42")
        """
    )
    assert error == {"line": 5, "message": "ValueError: bad angle 42"}


def test_exception_inside_qiskit_names_the_users_calling_line():
    error = user_error(
        """\
        from qiskit import QuantumCircuit

        def build():
            c = QuantumCircuit(2, 2)
            c.cx(0, 7)
            return c

        circuit = build()
        """
    )
    assert error["line"] == 5, error
    assert "CircuitError" in error["message"]


def test_no_circuit():
    error = user_error("from qiskit import QuantumCircuit\nqc = QuantumCircuit(1)\n")
    assert error["line"] is None and "no module-level `circuit`" in error["message"]


def test_circuit_is_not_a_quantum_circuit():
    error = user_error("circuit = 3\n")
    assert error["line"] is None and "builtins.int" in error["message"]
    assert "not a qiskit QuantumCircuit" in error["message"]


def test_sys_exit_in_module():
    error = user_error("import sys\nsys.exit(3)\n")
    assert error == {"line": 2, "message": "SystemExit: 3"}


def test_too_many_qubits():
    error = user_error(BELL, args=["--max-qubits", "1"])
    assert error == {"line": None, "message": "the circuit uses 2 qubits; this backend allows at most 1"}
    assert ok(BELL, args=["--max-qubits=2"], shots=10)


def test_no_measurement():
    error = user_error("from qiskit import QuantumCircuit\ncircuit = QuantumCircuit(2, 2)\ncircuit.h(0)\n")
    assert error["line"] is None and "measures nothing" in error["message"]


@pytest.mark.parametrize("source,fmt", [(PARAM_PY, "python"), (PARAM_QASM3, "openqasm3")])
def test_missing_parameter(source, fmt):
    error = user_error(source, fmt=fmt, parameters={"theta": 1.0})
    assert error == {"line": None, "message": "missing value for parameter 'phi'"}
    error = user_error(source, fmt=fmt)  # parameters absent
    assert "'phi', 'theta'" in error["message"]


@pytest.mark.parametrize("source,fmt", [(PARAM_PY, "python"), (PARAM_QASM3, "openqasm3")])
def test_unknown_parameter(source, fmt):
    error = user_error(source, fmt=fmt, parameters={"theta": 1.0, "phi": 2.0, "gamma": 3.0})
    assert error["line"] is None
    assert error["message"].startswith("unknown parameter 'gamma'")
    error = user_error(BELL, parameters={"theta": 1.0})
    assert "unknown parameter 'theta'" in error["message"]


def test_parameters_for_openqasm2():
    error = user_error(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nmeasure q -> c;\n',
        fmt="openqasm2",
        parameters={"theta": 1.0},
    )
    assert "OpenQASM 2 has no input parameters" in error["message"]


def test_bad_openqasm2():
    error = user_error(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfoo q[0];\n', fmt="openqasm2"
    )
    assert error == {"line": 4, "message": "OpenQASM 2: 'foo' is not defined in this scope"}
    error = user_error("OPENQASM 2.0;\nqreg q[2]\ncreg c[2];\n", fmt="openqasm2")
    assert error["line"] == 3 and "needed ';'" in error["message"]


def test_bad_openqasm3():
    error = user_error("OPENQASM 3.0;\nqubit[2] q\nbit c;\n", fmt="openqasm3")
    assert error == {"line": 3, "message": "OpenQASM 3: syntax error at 'bit'"}
    error = user_error(
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\n\nfoo q[0];\n', fmt="openqasm3"
    )
    assert error == {"line": 5, "message": "OpenQASM 3: gate 'foo' is not defined."}
    error = user_error("OPENQASM 3.0;\nqubit[2] q;\nh q[0];\nbit c = measure q[0]", fmt="openqasm3")
    assert error["line"] is not None


# ---------------------------------------------------------------------------- QPY


def qpy_source(*programs):
    """``programs`` as a ``qpy`` job's source: one QPY file, standard base64."""
    import base64
    import io

    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(list(programs), buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def switch_and_initialize():
    """What OpenQASM cannot carry to Aer: a ``switch`` (Qiskit's OpenQASM 3 importer cannot
    read it) and ``initialize`` (a gate with ``reset`` inside once exported), a parameter,
    two registers."""
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    q, a, b = QuantumRegister(3, "q"), ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    circuit = QuantumCircuit(q, a, b)
    circuit.initialize([0.6, 0.8], 0)
    circuit.measure(0, a[0])
    with circuit.switch(a) as case:
        with case(0):
            circuit.x(1)
        with case(case.DEFAULT):
            circuit.ry(theta, 2)
    circuit.measure([1, 2], [b[0], b[1]])
    return circuit


def test_qpy_runs_what_openqasm_cannot_carry_as_aer_runs_it():
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    circuit = switch_and_initialize()
    source = qpy_source(circuit)
    job = {"source": source, "format": "qpy", "shots": 2000, "seed": 5}
    job["parameters"] = {"theta": math.pi}
    code, payload, out, err = run(None, job={**job, "memory": True})
    assert code == 0, err
    counts = payload["counts"]
    simulator = AerSimulator(seed_simulator=5)
    bound = circuit.assign_parameters({"theta": math.pi})
    local = simulator.run(transpile(bound, simulator), shots=2000, memory=True).result()
    assert counts == local.get_counts(), "the same seed gives Aer's own counts"
    assert payload["memory"] == local.get_memory()
    # |0.6|^2 = 36% of the shots measure a = 0 and flip q[1]; the rest rotate q[2] by pi.
    assert set(counts) == {"01 0", "10 1"}, counts
    assert 600 < counts["01 0"] < 840, counts
    error = user_error(None, job={**job, "parameters": {}})
    assert error == {"line": None, "message": "missing value for parameter 'theta'"}


@pytest.mark.parametrize(
    "source,message",
    [
        ("not base64!", "QPY: the source is not standard base64"),
        ("UUlTS0lU\n", "QPY: the source is not standard base64"),  # whitespace is refused
        ("T1BFTlFBU00gMy4wOw==", "QPY: the file does not load: "),  # b"OPENQASM 3.0;"
        (qpy_source(switch_and_initialize())[:200], "QPY: the file does not load: "),  # truncated
    ],
)
def test_a_qpy_source_that_does_not_load_is_the_users_mistake(source, message):
    error = user_error(source, fmt="qpy")
    assert error["line"] is None and error["message"].startswith(message), error


def test_a_qpy_file_of_two_circuits_is_refused():
    from qiskit import QuantumCircuit

    one = QuantumCircuit(1, 1)
    one.measure(0, 0)
    error = user_error(qpy_source(one, one), fmt="qpy")
    assert error == {
        "line": None,
        "message": "QPY: the file must hold one QuantumCircuit; "
        "it holds QuantumCircuit, QuantumCircuit",
    }


# ------------------------------------------------------ protocol violations: not 65


@pytest.mark.parametrize(
    "job",
    [
        b"not json",
        json.dumps({"format": "python", "shots": 1, "seed": None}),
        json.dumps({"source": "", "format": "cirq", "shots": 1, "seed": None}),
        json.dumps({"source": "", "format": "python", "shots": 0, "seed": None}),
        json.dumps({"source": "", "format": "python", "shots": 1, "seed": 2**64}),
        json.dumps({"source": "", "format": "python", "shots": 1, "parameters": {"t": "x"}}),
        json.dumps({"source": "", "format": "python", "shots": 1, "memory": "yes"}),
        json.dumps({"source": "", "format": "python", "shots": 1, "options": ["method"]}),
        json.dumps({"source": "", "format": "python", "shots": 1, "options": {"device": "GPU"}}),
    ],
)
def test_malformed_job_is_not_a_user_error(job):
    code, payload, out, err = run(None, job=job)
    assert code == 64 and out == "" and "qiskit_runner:" in err


def test_memory_is_every_shot_in_order_keyed_as_the_counts():
    source = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[1];\ncreg d[1];\nh q[0];\nx q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> d[0];\n"
    job = {"source": source, "format": "openqasm2", "shots": 40, "seed": 3, "memory": True}
    code, payload, out, err = run(None, job=job)
    assert code == 0, err
    memory, counts = payload["memory"], payload["counts"]
    assert len(memory) == 40 and set(memory) <= {"1 0", "1 1"}, memory
    assert {key: memory.count(key) for key in set(memory)} == counts
    code, again, _, err = run(None, job=job)
    assert again["memory"] == memory, "same seed, same shot order"
    code, without, _, _ = run(None, job={**job, "memory": False})
    assert "memory" not in without


def test_options_method_and_noise_model():
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.5, 2), ["cx"])
    options = {"method": "density_matrix", "noise_model": noise.to_dict(serializable=True)}
    noisy = ok(None, job={"source": BELL, "format": "python", "shots": 2000, "seed": 5, "options": options})
    assert noisy.get("01", 0) + noisy.get("10", 0) > 200, noisy  # about 25% with p = 0.5
    clean = ok(BELL, shots=2000, seed=5)
    assert set(clean) == {"00", "11"}
    error = user_error(None, job={"source": BELL, "format": "python", "shots": 1, "options": {"method": "quantum"}})
    assert error["message"].startswith("option method: 'quantum' is not one of automatic, ")
    error = user_error(None, job={"source": BELL, "format": "python", "shots": 1, "options": {"noise_model": {"errors": 3}}})
    assert error["message"].startswith("option noise_model: ")
    t_gate = "from qiskit import QuantumCircuit\ncircuit = QuantumCircuit(1, 1)\ncircuit.h(0)\ncircuit.t(0)\ncircuit.h(0)\ncircuit.measure(0, 0)\n"
    error = user_error(None, job={"source": t_gate, "format": "python", "shots": 1, "options": {"method": "stabilizer"}})
    assert error["message"].startswith("Aer cannot run this circuit with method 'stabilizer'")


#: The runner as qrun runs it, its AerSimulator saying on stderr the precision of each run.
RECORDING_PRECISION = f"""\
import runpy, sys
import qiskit_aer

class Recording(qiskit_aer.AerSimulator):
    def run(self, *args, **kwargs):
        print(f"aer precision={{self.options.precision}}", file=sys.stderr)
        return super().run(*args, **kwargs)

qiskit_aer.AerSimulator = Recording
sys.argv = [{str(RUNNER)!r}]
runpy.run_path({str(RUNNER)!r}, run_name="__main__")
"""


@pytest.mark.parametrize(
    "options,expected",
    [({"precision": "single"}, "single"), ({"precision": "double"}, "double"), ({}, "double")],
)
def test_option_precision_reaches_aer(options, expected):
    job = {"source": BELL, "format": "python", "shots": 500, "seed": 3, "options": options}
    code, payload, out, err = run(None, job=job, cmd=[PYTHON, "-c", RECORDING_PRECISION])
    assert code == 0, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert f"aer precision={expected}\n" in err, err
    assert set(payload["counts"]) == {"00", "11"} and sum(payload["counts"].values()) == 500


def test_option_precision_refuses_what_aer_does_not_have():
    for value in ("half", "Single", 32, None):
        job = {"source": BELL, "format": "python", "shots": 1, "options": {"precision": value}}
        error = user_error(None, job=job)
        assert error == {
            "line": None,
            "message": f"option precision: {value!r} is not one of double, single",
        }


def test_bad_argv_is_not_a_user_error():
    code, _, out, err = run(BELL, args=["--max-qubits", "many"])
    assert code == 64 and out == "" and "--max-qubits" in err


# -------------------------------------------------------------------- the sandbox

SANDBOX_PROBE = """\
import os, socket
problems = []
if os.environ.get("HOME") != "/tmp":
    problems.append("HOME is %r" % os.environ.get("HOME"))
for path in ("/usr/qrun-probe", "/opt/qrun-venv/qrun-probe", "RUNNERS/qrun-probe"):
    try:
        open(path, "w").close()
        problems.append("wrote " + path)
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1).close()
    problems.append("reached 127.0.0.1:22")
except OSError:
    pass
if problems:
    raise RuntimeError("; ".join(problems))
open("/tmp/scratch", "w").write("the private /tmp is writable")
""".replace("RUNNERS", SANDBOX_RUNNERS)


def bwrap_command(venv):
    return [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin",
        "--ro-bind", venv, venv,
        "--ro-bind", str(RUNNERS), SANDBOX_RUNNERS,
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8", "--setenv", "OMP_NUM_THREADS", "1",
        "--chdir", "/tmp",
        "--", PYTHON, f"{SANDBOX_RUNNERS}/qiskit_runner.py",
    ]


def test_runs_inside_bubblewrap():
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    venv = os.path.realpath(sys.prefix if PYTHON == sys.executable else Path(PYTHON).parent.parent)
    if not os.path.realpath(PYTHON).startswith(("/usr/", venv)):
        pytest.skip(f"{PYTHON} is outside /usr and the venv, so not visible in the sandbox")
    cmd = bwrap_command(venv)
    counts = ok(SANDBOX_PROBE + BELL, shots=1000, seed=11, cmd=cmd)
    assert counts == ok(BELL, shots=1000, seed=11), "same counts inside and outside"
    counts = ok(PARAM_QASM3, fmt="openqasm3", cmd=cmd, parameters={"theta": math.pi, "phi": 0})
    assert counts == {"01": 1000}
    error = user_error("x = 1\n\nraise KeyError('k')\n", cmd=cmd)
    assert error == {"line": 3, "message": "KeyError: 'k'"}
