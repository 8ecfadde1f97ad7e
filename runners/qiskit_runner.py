#!/usr/bin/env python3
"""qrun's Qiskit framework runner: executes one circuit on Qiskit Aer.

qrun runs this file as a sandboxed ``command`` backend (docs/DESIGN.md §12, §13), e.g.
``/opt/qrun-venv/bin/python /usr/share/qrun/runners/qiskit_runner.py [--max-qubits N]``,
once per run. The runner does not sandbox anything itself: the sandbox around it does.

Protocol (the same for every framework runner; see ``runners/README.md``)
--------------------------------------------------------------------------
argv
    ``--max-qubits N`` (optional): circuits wider than N qubits are a user mistake.

stdin
    One JSON object::

        {"source": str, "format": "python" | "openqasm2" | "openqasm3" | "qpy",
         "shots": int >= 1, "seed": int | null, "parameters": {name: float},
         "memory": bool,
         "options": {"method": str, "precision": str, "noise_model": {...}}}

    ``parameters``, ``memory`` (false) and ``options`` may be absent, null or empty.
    ``options`` are Aer's run options: ``method`` (one of Aer's methods),
    ``precision`` (``"double"`` or ``"single"``) and ``noise_model``
    (``NoiseModel.to_dict(serializable=True)``'s output, read with
    ``NoiseModel.from_dict``); another name is exit 64, a value Aer refuses exit 65.
    Unknown keys are ignored.
    ``seed`` is a u64 (any integer in [-2**63, 2**64) is accepted; values of
    2**63 and above are passed to Aer as the same 64 bits).

stdout, exit 0 (success)
    ``{"counts": {"<key>": n, ...}}``: the keys exactly as Qiskit's
    ``Result.get_counts()`` writes them (each classical register's bits
    most-significant first, registers separated by one space, the
    last-declared register leftmost), the values summing to ``shots``. With
    ``"memory": true``, also ``"memory": [key, ...]``: every shot's key in shot
    order (Aer's ``get_memory()``), tallying to the counts.

stdout, exit 65 (a mistake in the user's circuit)
    ``{"error": {"line": N | null, "message": str}}``. ``line`` is a line of
    the user's source, never of this file: for a Python exception, the
    innermost traceback frame in the user's module; for a ``SyntaxError``,
    its line; for OpenQASM, the line the parser reports (if any). Exit 65 is
    used for: a syntax error, an exception raised by the module, no
    module-level ``circuit``, a ``circuit`` that is not a ``QuantumCircuit``,
    a circuit that measures nothing, more qubits than ``--max-qubits``, a
    missing or unknown parameter (or parameters for OpenQASM 2), OpenQASM
    that does not load, a circuit that Qiskit cannot transpile for Aer, an
    option value Aer refuses, and a circuit the chosen ``method`` cannot run.

anything else (exit 64 for a malformed job or argv, 70 for an internal or
    Aer failure, whatever Python or the kernel gives for a crash)
    A message on stderr; stdout is empty or not JSON.

Details
-------
* ``python``: the source is compiled with the file name ``<circuit>`` and
  executed as a real module named ``circuit_source`` (registered in
  ``sys.modules``, so dataclasses, pickling and ``typing`` work in it; its
  ``__name__`` is ``"circuit_source"``, so an ``if __name__ == "__main__":``
  block does NOT run, just as when the file is imported). Its source is put
  in ``linecache``, so the traceback printed on stderr shows the user's lines.
  It must leave a ``qiskit.QuantumCircuit`` in the module-level variable
  ``circuit``.
* ``openqasm2``: ``qiskit.qasm2.loads`` (qelib1.inc built in, no include
  path: the runner reads no files).
* ``openqasm3``: the openqasm3 reference parser and ``qiskit_qasm3_import``
  (what ``qiskit.qasm3.loads`` calls). ``input float[64] theta;`` becomes
  the parameter ``theta``. A scalar ``bit flag;`` becomes a one-bit register
  named ``flag`` in declaration order (docs/DESIGN.md §12): Qiskit's importer makes
  it a bit in no register, and ``get_counts()`` would then silently leave it
  out of every key.
* ``qpy``: the source is a QPY file (``qiskit.qpy.dump``) in standard base64
  (padded, no whitespace), read with ``qiskit.qpy.load``; it must hold exactly
  one ``QuantumCircuit``. Anything QPY carries reaches Aer as it is (``switch``,
  ``initialize``, ...). A source that does not decode or load is exit 65 with
  line null.
* Parameters: the circuit's free parameters (``circuit.parameters``, by
  ``Parameter.name``; a ``ParameterVector`` element is ``"theta[0]"``) are
  bound from ``parameters``; a missing or an unknown name is exit 65.
* A circuit without any ``measure`` has no counts (Aer records none, and
  ``get_counts()`` raises ``No counts for experiment``): exit 65 telling the
  user to measure (e.g. ``circuit.measure_all()``).
* Execution: ``AerSimulator(seed_simulator=seed)``, ``transpile(circuit,
  target=simulator.target)`` (what ``transpile(circuit, simulator)`` does, with
  the simulator's Target built once), ``simulator.run(..., shots=shots)``,
  ``get_counts()``. With
  ``OMP_NUM_THREADS`` set, Aer's ``max_parallel_threads`` is set to it.
* Preload: Qiskit, Aer and the OpenQASM importers are imported before the job is
  read, so a program started ahead of its run (qrun's ``backends[].warm``) waits on
  stdin with them loaded.
* Options: ``method`` is passed to ``AerSimulator(method=...)`` and ``precision`` to
  ``AerSimulator(precision=...)`` (``double``, Aer's default, or ``single``: float
  amplitudes, half the memory); ``noise_model`` is read with ``NoiseModel.from_dict``.
  A circuit the chosen method cannot run (a non-Clifford gate with ``stabilizer``) is
  exit 65. With ``memory``, the answer carries ``get_memory()``: every shot's key in shot
  order.
* Output hygiene: before any user code or library runs, file descriptor 1 is
  moved aside and fd 1 is pointed at stderr, so ``print()`` in the user's
  module, C extensions and child processes all write to stderr; only the
  protocol's JSON reaches the real stdout.
* The runner reads nothing but stdin, writes nothing but stdout and stderr,
  needs no network and no HOME; it imports no plotting library. (Qiskit's
  plugin lookup, stevedore, caches entry points in
  ``$HOME/.cache/python-entrypoints`` when HOME is writable: in the sandbox,
  the private /tmp.)
"""

import json
import os
import sys
from typing import NamedTuple

EXIT_OK = 0
EXIT_USAGE = 64  # malformed job or argv (the service's fault, not the user's)
EXIT_USER = 65  # a mistake in the user's circuit
EXIT_INTERNAL = 70  # anything else: Aer failed, a bug here

USER_FILENAME = "<circuit>"
USER_MODULE = "circuit_source"
FORMATS = ("python", "openqasm2", "openqasm3", "qpy")
MAX_MESSAGE = 4000


#: The run options this runner applies (the job's ``options``), as Aer names them.
OPTIONS = ("method", "noise_model", "precision")
#: Aer's values of ``precision``.
PRECISIONS = ("double", "single")


class Job(NamedTuple):
    """One job read from stdin."""

    source: str
    format: str
    shots: int
    seed: int | None
    parameters: dict
    memory: bool
    options: dict


class UserError(Exception):
    """A mistake in the user's circuit: exit 65 with ``{"error": ...}``."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.message = message
        self.line = line


class JobError(Exception):
    """The job on stdin or argv breaks the protocol: exit 64."""


# --------------------------------------------------------------------------- job


def parse_args(argv):
    max_qubits = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--max-qubits" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
        elif arg.startswith("--max-qubits="):
            value, i = arg.split("=", 1)[1], i + 1
        else:
            raise JobError(f"unknown argument {arg!r} (usage: qiskit_runner.py [--max-qubits N])")
        try:
            max_qubits = int(value)
        except ValueError:
            raise JobError(f"--max-qubits needs an integer, got {value!r}") from None
        if max_qubits < 1:
            raise JobError(f"--max-qubits must be at least 1, got {max_qubits}")
    return max_qubits


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def read_job(data):
    try:
        job = json.loads(data)
    except ValueError as exc:
        raise JobError(f"stdin is not JSON: {exc}") from None
    if not isinstance(job, dict):
        raise JobError("stdin must be one JSON object")
    source = job.get("source")
    if not isinstance(source, str):
        raise JobError('"source" must be a string')
    fmt = job.get("format")
    if fmt not in FORMATS:
        raise JobError(f'"format" must be one of {", ".join(FORMATS)}; got {fmt!r}')
    shots = job.get("shots")
    if not _is_int(shots) or shots < 1:
        raise JobError(f'"shots" must be an integer >= 1; got {shots!r}')
    seed = job.get("seed")
    if seed is not None:
        if not _is_int(seed) or not -(2**63) <= seed < 2**64:
            raise JobError(f'"seed" must be null or a 64-bit integer; got {seed!r}')
        if seed >= 2**63:  # Aer takes an int64 and uses its bits as a uint64
            seed -= 2**64
    parameters = job.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise JobError('"parameters" must be an object {name: number}')
    for name, value in parameters.items():
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise JobError(f'parameter {name!r} must be a number; got {value!r}')
        if value != value or value in (float("inf"), float("-inf")):
            raise JobError(f"parameter {name!r} must be finite; got {value!r}")
    memory = job.get("memory", False)
    if not isinstance(memory, bool):
        raise JobError(f'"memory" must be true or false; got {memory!r}')
    options = job.get("options") or {}
    if not isinstance(options, dict):
        raise JobError('"options" must be an object {name: value}')
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise JobError(
            f"unknown option(s) {', '.join(unknown)}; this runner applies {', '.join(OPTIONS)}"
        )
    return Job(source, fmt, shots, seed, parameters, memory, options)


# ------------------------------------------------------------------ user's Python


def _user_line(tb):
    """The line of the innermost traceback frame that runs the user's module."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == USER_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _exception_message(exc):
    """``Name: text`` (QiskitError's own str() is a quoted repr, so its .message is used)."""
    text = getattr(exc, "message", None)
    if not isinstance(text, str):
        text = str(exc)
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        text = "\n".join([text, *map(str, notes)])
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _error_from_exception(exc, prefix=""):
    """A UserError for an exception raised while user code ran (prints the traceback)."""
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if isinstance(exc, SyntaxError) and exc.filename == USER_FILENAME:
        return UserError(prefix + f"{type(exc).__name__}: {exc.msg}", exc.lineno)
    return UserError(prefix + _exception_message(exc), _user_line(exc.__traceback__))


def load_python(source):
    import linecache
    import types

    try:
        code = compile(source, USER_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError, TabError too
        line = exc.lineno if exc.filename == USER_FILENAME else None
        raise UserError(f"{type(exc).__name__}: {exc.msg}", line) from None
    except ValueError as exc:  # "source code string cannot contain null bytes"
        raise UserError(f"{type(exc).__name__}: {exc}") from None

    # Tracebacks on stderr show the user's lines.
    linecache.cache[USER_FILENAME] = (len(source), None, source.splitlines(True), USER_FILENAME)
    module = types.ModuleType(USER_MODULE)
    sys.modules[USER_MODULE] = module
    saved_argv = sys.argv
    sys.argv = [USER_FILENAME]
    try:
        exec(code, module.__dict__)
    except (MemoryError, KeyboardInterrupt):
        raise  # a resource cap or a signal, not a mistake in the source
    except BaseException as exc:  # noqa: BLE001 (SystemExit from the module is its mistake too)
        raise _error_from_exception(exc) from None
    finally:
        sys.argv = saved_argv

    from qiskit import QuantumCircuit

    if "circuit" not in module.__dict__:
        raise UserError(
            "the module defines no module-level `circuit`: assign the QuantumCircuit to run "
            "to a variable named `circuit`"
        )
    circuit = module.__dict__["circuit"]
    if not isinstance(circuit, QuantumCircuit):
        raise UserError(
            f"`circuit` is a {type(circuit).__module__}.{type(circuit).__qualname__}, "
            "not a qiskit QuantumCircuit"
        )
    return circuit


# ---------------------------------------------------------------------------- QPY


def load_qpy(source):
    """The one ``QuantumCircuit`` of a QPY file given as standard base64 (docs/DESIGN.md §12).
    A source that is not base64, a file ``qiskit.qpy.load`` refuses (not QPY, truncated, a
    QPY version newer than this Qiskit reads) or one that holds anything but exactly one
    circuit is the user's mistake, with no line (the source has one)."""
    import base64
    import binascii
    import io

    from qiskit import QuantumCircuit, qpy

    try:
        data = base64.b64decode(source, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: a non-ASCII character
        raise UserError(f"QPY: the source is not standard base64 ({exc})") from None
    try:
        programs = qpy.load(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (whatever the loader raises, the bytes caused it)
        raise UserError(f"QPY: the file does not load: {_exception_message(exc)}") from None
    if len(programs) != 1 or not isinstance(programs[0], QuantumCircuit):
        kinds = ", ".join(type(p).__name__ for p in programs) or "nothing"
        raise UserError(f"QPY: the file must hold one QuantumCircuit; it holds {kinds}")
    return programs[0]


# ----------------------------------------------------------------------- OpenQASM

_LOCATION_PREFIXES = (
    # qiskit.qasm2: "<input>:4,0: 'foo' is not defined in this scope"
    # qiskit_qasm3_import: "4,0: gate 'foo' is not defined."
    # openqasm3's parser: "L4:C0: ..."
    r"^(?:<input>:)?(\d+),(\d+):\s*",
    r"^L(\d+):C(\d+):\s*",
)


def _split_location(exc):
    import re

    message = getattr(exc, "message", None)  # QiskitError's str() is a quoted repr
    message = message if isinstance(message, str) else str(exc)

    for pattern in _LOCATION_PREFIXES:
        match = re.match(pattern, message)
        if match:
            return int(match.group(1)), message[match.end():]
    return None, message


def load_openqasm2(source):
    from qiskit import qasm2

    try:
        return qasm2.loads(source, include_path=())
    except Exception as exc:  # noqa: BLE001 (whatever the loader raises, the source caused it)
        line, text = _split_location(exc)
        raise UserError(f"OpenQASM 2: {text}", line) from None


def _antlr_error(exc):
    """Line and message of a bail-out parse error (openqasm3 raises it without either)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        token = getattr(exc, "offendingToken", None)
        if token is not None:
            text = token.text
            if token.type == -1:  # EOF
                return token.line, "syntax error: unexpected end of input"
            return token.line, f"syntax error at {text!r}"
        nxt = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = nxt or exc.__cause__ or exc.__context__
    return None, "syntax error"


def load_openqasm3(source):
    import openqasm3
    import qiskit_qasm3_import
    from openqasm3 import ast

    try:
        program = openqasm3.parse(source)
    except Exception as exc:  # noqa: BLE001
        line, text = _split_location(exc)
        if not text:
            line, text = _antlr_error(exc)
        raise UserError(f"OpenQASM 3: {text}", line) from None
    try:
        circuit = qiskit_qasm3_import.convert(program)
    except Exception as exc:  # noqa: BLE001
        line, text = _split_location(exc)
        if line is None:
            span = getattr(getattr(exc, "node", None), "span", None)
            line = getattr(span, "start_line", None)
        raise UserError(f"OpenQASM 3: {text or type(exc).__name__}", line) from None

    scalar_bits = [
        stmt.identifier.name
        for stmt in program.statements
        if isinstance(stmt, ast.ClassicalDeclaration)
        and isinstance(stmt.type, ast.BitType)
        and stmt.type.size is None
    ]
    return _register_loose_bits(circuit, scalar_bits)


def _register_loose_bits(circuit, names):
    """Put each register-less clbit in a one-bit register named as declared.

    Qiskit's importer turns ``bit flag;`` into a ``Clbit`` in no register, and
    ``get_counts()`` leaves such bits out of the keys whenever any register
    exists. Registers must be in clbit order for the keys to be right, so the
    circuit is rebuilt with the registers in declaration order.
    """
    from qiskit import QuantumCircuit
    from qiskit.circuit import ClassicalRegister

    loose = [bit for bit in circuit.clbits if not circuit.find_bit(bit).registers]
    if not loose:
        return circuit
    if len(loose) != len(names):
        print(
            f"qiskit_runner: {len(loose)} register-less bits but {len(names)} scalar bit "
            "declarations; leaving them as Qiskit made them",
            file=sys.stderr,
        )
        return circuit
    named = dict(zip(loose, names))
    registers, seen = [], set()
    for bit in circuit.clbits:
        if bit in named:
            registers.append(ClassicalRegister(name=named[bit], bits=[bit]))
            continue
        for register, _ in circuit.find_bit(bit).registers:
            if register not in seen:
                seen.add(register)
                registers.append(register)
    rebuilt = QuantumCircuit(
        list(circuit.qubits),
        *circuit.qregs,
        list(circuit.clbits),
        *registers,
        name=circuit.name,
        global_phase=circuit.global_phase,
        metadata=circuit.metadata,
    )
    rebuilt.compose(circuit, inplace=True)
    return rebuilt


# ------------------------------------------------------------------------- checks


def bind_parameters(circuit, parameters, fmt):
    if fmt == "openqasm2" and parameters:
        raise UserError(
            "OpenQASM 2 has no input parameters, but the run gives "
            + ", ".join(repr(name) for name in sorted(parameters))
        )
    free = {parameter.name: parameter for parameter in circuit.parameters}
    unknown = sorted(set(parameters) - set(free))
    missing = sorted(set(free) - set(parameters))
    problems = []
    if missing:
        problems.append("missing value for parameter " + ", ".join(repr(n) for n in missing))
    if unknown:
        known = ", ".join(repr(n) for n in sorted(free)) or "none"
        problems.append(
            "unknown parameter " + ", ".join(repr(n) for n in unknown)
            + f" (the circuit's parameters: {known})"
        )
    if problems:
        raise UserError("; ".join(problems))
    if not free:
        return circuit
    return circuit.assign_parameters(
        {free[name]: float(value) for name, value in parameters.items()}, inplace=False
    )


def _measures(circuit):
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "measure":
            return True
        if any(_measures(block) for block in getattr(operation, "blocks", ())):
            return True
    return False


def check_circuit(circuit, max_qubits):
    if max_qubits is not None and circuit.num_qubits > max_qubits:
        raise UserError(
            f"the circuit uses {circuit.num_qubits} qubits; this backend allows at most {max_qubits}"
        )
    if not _measures(circuit):
        raise UserError(
            "the circuit measures nothing, so it has no counts: measure into classical bits "
            "(e.g. circuit.measure_all())"
        )


# ---------------------------------------------------------------------- execution


def _threads_from_env():
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        threads = int(value)
    except ValueError:
        return None
    return threads if threads > 0 else None


def simulator_options(options):
    """Aer's options for the job's ``options``: ``method`` and ``precision`` as given (Aer's
    names), and ``noise_model`` (``NoiseModel.to_dict(serializable=True)``'s output) as a
    ``NoiseModel``. A value Aer refuses is the user's mistake (exit 65)."""
    result = {}
    if "method" in options:
        from qiskit_aer import AerSimulator

        method = options["method"]
        methods = AerSimulator().available_methods()
        if method not in methods:
            raise UserError(f"option method: {method!r} is not one of {', '.join(methods)}")
        result["method"] = method
    if "precision" in options:
        precision = options["precision"]
        if precision not in PRECISIONS:
            raise UserError(
                f"option precision: {precision!r} is not one of {', '.join(PRECISIONS)}"
            )
        result["precision"] = precision
    if "noise_model" in options:
        from qiskit_aer.noise import NoiseModel

        import warnings

        try:
            with warnings.catch_warnings():
                # Deprecated since qiskit-aer 0.15 with no replacement for a JSON noise model.
                warnings.simplefilter("ignore", DeprecationWarning)
                result["noise_model"] = NoiseModel.from_dict(options["noise_model"])
        except Exception as exc:  # noqa: BLE001 (whatever from_dict raises, the value caused it)
            raise UserError(f"option noise_model: {_exception_message(exc)}") from None
    return result


def execute(circuit, job):
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    shots, seed = job.shots, job.seed
    options = simulator_options(job.options)
    if seed is not None:
        options["seed_simulator"] = seed
    threads = _threads_from_env()
    if threads is not None:
        options["max_parallel_threads"] = threads
    simulator = AerSimulator(**options)
    try:
        # `transpile(circuit, simulator)` is the same compilation, but AerSimulator rebuilds
        # its Target on every `.target` access and the preset pass manager reads it ~150 times:
        # 130-200 ms for a Bell circuit against ~14 ms with the Target built once.
        compiled = transpile(circuit, target=simulator.target)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (e.g. an instruction without a definition)
        raise _error_from_exception(exc, "the circuit cannot be compiled for Aer: ") from None
    result = simulator.run(compiled, shots=shots, memory=job.memory).result()
    if not result.success:
        details = "; ".join(str(r.status) for r in result.results if not r.success)
        method = job.options.get("method")
        if method is not None and f'"{method}" method' in details:
            # e.g. a non-Clifford gate with method "stabilizer": the option the run chose.
            raise UserError(f"Aer cannot run this circuit with method {method!r}: {details}")
        raise RuntimeError(f"Aer failed: {result.status}: {details}")
    counts = result.get_counts(0)
    total = sum(counts.values())
    if total != shots:
        raise RuntimeError(f"Aer returned {total} counts for {shots} shots")
    answer = {"counts": {key: int(counts[key]) for key in sorted(counts)}}
    if job.memory:
        # Every shot's key in shot order, formatted as the counts' keys.
        answer["memory"] = list(result.get_memory(0))
    return answer


# --------------------------------------------------------------------------- main


def _protocol_stdout():
    """Move the real stdout aside and send fd 1 (print, C code, children) to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr: discard instead
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    return os.fdopen(saved, "w", encoding="utf-8")


def preload():
    """Imports what every job needs before the job is read: a program started ahead of its
    run (qrun's warm pool, ``backends[].warm``) then waits on stdin with Qiskit, Aer and the
    OpenQASM importers loaded, and its run pays only for its circuit. A cold run pays the same
    imports, only earlier. The OpenQASM 3 importer is optional here, as it is for python and
    openqasm2 jobs: without it only an openqasm3 job fails (when it loads the source)."""
    from qiskit import QuantumCircuit, qasm2, qpy, transpile  # noqa: F401
    from qiskit_aer import AerSimulator  # noqa: F401
    from qiskit_aer.noise import NoiseModel  # noqa: F401

    try:
        import openqasm3  # noqa: F401
        import qiskit_qasm3_import  # noqa: F401
    except ImportError:
        pass


def main(argv):
    out = _protocol_stdout()

    def reply(payload, code):
        sys.stdout.flush()
        out.write(json.dumps(payload) + "\n")
        out.flush()
        return code

    try:
        max_qubits = parse_args(argv)
        preload()
        job = read_job(sys.stdin.buffer.read())
        source = job.source
        if source.startswith("\ufeff"):  # a UTF-8 BOM: Python files may have one, compile() refuses it
            source = source[1:]
        if job.format == "python":
            circuit = load_python(source)
        elif job.format == "openqasm2":
            circuit = load_openqasm2(source)
        elif job.format == "qpy":
            circuit = load_qpy(source)
        else:
            circuit = load_openqasm3(source)
        circuit = bind_parameters(circuit, job.parameters, job.format)
        check_circuit(circuit, max_qubits)
        answer = execute(circuit, job)
    except UserError as exc:
        message = exc.message
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        return reply({"error": {"line": exc.line, "message": message}}, EXIT_USER)
    except JobError as exc:
        print(f"qiskit_runner: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL
    return reply(answer, EXIT_OK)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
