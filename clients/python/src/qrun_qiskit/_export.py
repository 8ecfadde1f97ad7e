"""A Qiskit circuit as the source qrun stores: OpenQASM 3 (``qiskit.qasm3.dumps``) when the
backend accepts it, else OpenQASM 2 (``qiskit.qasm2.dumps``), with the names its free
parameters have in that source, and the content address it is uploaded under. OpenQASM stays
readable in the console; QPY (``qiskit.qpy.dump``, base64 text) is sent instead when the
backend accepts ``qpy`` and OpenQASM cannot carry the circuit to a runner: a ``switch``
(Qiskit's OpenQASM 3 importer cannot read it), an instruction that is neither a gate nor one
of OpenQASM's own (``initialize``: exported as a gate with ``reset`` inside, which loaders
refuse), a classical bit in two registers, or a circuit neither OpenQASM exporter takes.

OpenQASM 3 keeps parameters free: each becomes ``input float[64] NAME;`` and a run binds it
(``"parameters": {NAME: value}``). The exporter renames a parameter whose name is not an
OpenQASM identifier (``v[0]`` → ``_v_0_``), so the names are read back from the source: it
declares the circuit's parameters first, in ``circuit.parameters`` order (less ``for``-loop
variables, which the loop declares), then the circuit's input variables. OpenQASM 2 has no
inputs, so for it the values are bound into the circuit before export (each set of values is
then a circuit of its own).
"""

from __future__ import annotations

import base64
import hashlib
import io
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from qiskit import QuantumCircuit, qasm2, qasm3, qpy
from qiskit.circuit import ControlFlowOp, ForLoopOp, Gate, Parameter, SwitchCaseOp
from qiskit.circuit.classical import expr

from .exceptions import QrunValidationError

OPENQASM3 = "openqasm3"
OPENQASM2 = "openqasm2"
QPY = "qpy"
_FORMAT_TITLES = {OPENQASM3: "OpenQASM 3", OPENQASM2: "OpenQASM 2"}

#: Instructions that are not gates but that OpenQASM says as they are (``measure``,
#: ``reset``, ``barrier``, ``delay``, a classical assignment).
_OPENQASM_DIRECTIVES = frozenset({"measure", "reset", "barrier", "delay", "store"})

#: A top-level ``input TYPE NAME;`` line of ``qasm3.dumps``'s output.
_INPUT_LINE = re.compile(r"^input\s+.+?\s+([^\s;]+);$", re.MULTILINE)

#: A parameter value as a caller names it: by name, or by the circuit's object.
ParameterKey: TypeAlias = str | Parameter | expr.Var


@dataclass(frozen=True)
class Exported:
    """A circuit ready to upload.

    Attributes:
        format: ``openqasm3``, ``openqasm2`` or ``qpy`` (the manifest's format).
        source: The exported program (for ``qpy``: the QPY file in standard base64).
        parameters: The values the run binds, by their names in ``source`` (for ``qpy``
            the parameters' own names; empty for OpenQASM 2, whose values are bound into the
            source).
    """

    format: str
    source: str
    parameters: dict[str, float] = field(default_factory=dict)

    def content_name(self, visibility: str) -> str:
        """The circuit's name on the server: a hash of what makes it this circuit (format,
        visibility, source), so the same circuit maps to the same name and is uploaded once,
        and a public and a private copy are two circuits. 128 bits of SHA-256, hex: within the
        server's name rules (``^[a-z0-9][a-z0-9._-]*$``, at most 100 characters)."""
        digest = hashlib.sha256(f"{self.format}\n{visibility}\n{self.source}".encode()).hexdigest()
        return f"qiskit-{digest[:32]}"


def export(
    circuit: QuantumCircuit,
    formats: Iterable[str],
    values: Mapping[ParameterKey, float],
    backend_name: str,
) -> Exported:
    """Exports ``circuit`` in the first format of OpenQASM 3, OpenQASM 2 that ``formats``
    has and that can express it; as QPY instead when ``formats`` has ``qpy`` and OpenQASM
    cannot carry the circuit (:func:`_openqasm_cannot_carry`), or neither OpenQASM version
    can express it.

    Args:
        circuit: The circuit.
        formats: The formats the backend accepts.
        values: A value for each of the circuit's free parameters (and input variables), by
            name or by object; keys the circuit does not have are ignored here (the caller
            checks that every key is used by some circuit).
        backend_name: For messages.

    Raises:
        QrunValidationError: A parameter without a value; a classical bit in two registers
            (OpenQASM gives a bit one register: an exporter writes it to one of them only, and
            the counts would not be the circuit's); or no accepted format can express the
            circuit (the message names the instruction and each exporter's reason); or the
            backend accepts neither OpenQASM version nor QPY; or a circuit sent as QPY has
            input variables (a runner binds only parameters).
    """
    formats = list(formats)
    takes_qpy = QPY in formats
    if takes_qpy and _openqasm_cannot_carry(circuit):
        return _export_qpy(circuit, _resolve_values(circuit, values))
    _refuse_overlapping_registers(circuit)
    bound = _resolve_values(circuit, values)
    accepted = [f for f in (OPENQASM3, OPENQASM2) if f in formats]
    if not accepted and not takes_qpy:
        raise QrunValidationError(
            f"backend {backend_name} accepts neither OpenQASM 3, OpenQASM 2 nor QPY "
            f"(its formats: {', '.join(formats) or 'none'}): it cannot run Qiskit circuits"
        )
    reasons: list[str] = []
    for fmt in accepted:
        try:
            if fmt == OPENQASM3:
                return _export_qasm3(circuit, bound)
            return Exported(OPENQASM2, qasm2.dumps(_bind_for_qasm2(circuit, bound)))
        except (qasm3.QASM3ExporterError, qasm2.QASM2ExportError) as error:
            culprit = _failing_instruction(circuit, fmt)
            reasons.append(f"{_FORMAT_TITLES[fmt]}: {culprit}{error}")
    if takes_qpy:
        return _export_qpy(circuit, bound)
    raise QrunValidationError(
        f"circuit '{circuit.name}' cannot be expressed in a format backend {backend_name} "
        f"accepts — " + "; ".join(reasons)
    )


def _openqasm_cannot_carry(circuit: QuantumCircuit) -> bool:
    """Whether an OpenQASM export of ``circuit`` would not reach a runner as this circuit: a
    classical bit in two registers, or (at any depth) a ``switch`` or an instruction that is
    neither a gate, nor control flow, nor one of :data:`_OPENQASM_DIRECTIVES` (``initialize``,
    a custom non-unitary instruction: exported as a gate with ``reset`` or ``measure``
    inside, which OpenQASM's loaders refuse)."""
    if any(len(circuit.find_bit(bit).registers) > 1 for bit in circuit.clbits):
        return True
    return _has_non_openqasm_instruction(circuit)


def _has_non_openqasm_instruction(circuit: QuantumCircuit) -> bool:
    for instruction in circuit.data:
        operation = instruction.operation
        if isinstance(operation, SwitchCaseOp):
            return True
        if isinstance(operation, ControlFlowOp):
            if any(_has_non_openqasm_instruction(block) for block in operation.blocks):
                return True
        elif not isinstance(operation, Gate) and operation.name not in _OPENQASM_DIRECTIVES:
            return True
    return False


def _export_qpy(
    circuit: QuantumCircuit, values: Mapping[Parameter | expr.Var, float]
) -> Exported:
    """``circuit`` as one QPY file (``qiskit.qpy.dump``, this Qiskit's QPY version) in
    standard base64, its parameters left free and their values by ``Parameter.name`` (what
    the runner binds by)."""
    if any(not isinstance(item, Parameter) for item in values):
        raise QrunValidationError(
            f"circuit '{circuit.name}' is sent as QPY, whose runner binds parameters only: "
            "give its input variables values in the circuit"
        )
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    source = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Exported(QPY, source, {item.name: value for item, value in values.items()})


def _refuse_overlapping_registers(circuit: QuantumCircuit) -> None:
    """Refuses a classical bit that belongs to more than one register, naming it and them
    (Qiskit allows it; OpenQASM cannot say it, and guessing one register would change the
    counts' keys)."""
    for bit in circuit.clbits:
        registers = [register.name for register, _ in circuit.find_bit(bit).registers]
        if len(registers) > 1:
            index = circuit.find_bit(bit).index
            raise QrunValidationError(
                f"circuit '{circuit.name}': classical bit {index} is in two registers "
                f"({', '.join(registers)}); OpenQASM gives each bit one register, so its "
                "counts cannot be expressed: give every bit a single register"
            )


def _resolve_values(
    circuit: QuantumCircuit, values: Mapping[ParameterKey, float]
) -> dict[Parameter | expr.Var, float]:
    """The value of each free parameter and input variable of ``circuit`` (loop variables
    excepted), from ``values`` keyed by object or by name.

    Raises:
        QrunValidationError: Some have no value, or a value is not a real number.
    """
    by_name: dict[str, float] = {}
    by_object: dict[Parameter | expr.Var, float] = {}
    for key, value in values.items():
        number = _real(key, value)
        if isinstance(key, str):
            by_name[key] = number
        else:
            by_object[key] = number
    loop_variables = _loop_variables(circuit)
    wanted: list[Parameter | expr.Var] = [p for p in circuit.parameters if p not in loop_variables]
    wanted.extend(circuit.iter_input_vars())
    resolved: dict[Parameter | expr.Var, float] = {}
    missing: list[str] = []
    for item in wanted:
        if item in by_object:
            resolved[item] = by_object[item]
        elif item.name in by_name:
            resolved[item] = by_name[item.name]
        else:
            missing.append(item.name)
    if missing:
        raise QrunValidationError(
            f"circuit '{circuit.name}' has parameters without a value: {', '.join(missing)} "
            f"(give them in parameter_values)"
        )
    return resolved


def _real(key: ParameterKey, value: object) -> float:
    """``value`` as a float (any real number: ``int``, ``float``, NumPy's), or a
    :class:`QrunValidationError` naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        name = key if isinstance(key, str) else key.name
        raise QrunValidationError(f"parameter '{name}': {value!r} is not a real number")
    return float(value)


def _loop_variables(circuit: QuantumCircuit) -> set[Parameter]:
    """The parameters ``for`` loops of ``circuit`` (at any depth) bind: they are not inputs."""
    found: set[Parameter] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        if isinstance(operation, ForLoopOp) and operation.params[1] is not None:
            found.add(operation.params[1])
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                found |= _loop_variables(block)
    return found


def _export_qasm3(
    circuit: QuantumCircuit, values: Mapping[Parameter | expr.Var, float]
) -> Exported:
    """OpenQASM 3 with the parameters left free, and their values by their names in the
    source."""
    source = qasm3.dumps(circuit)
    declared = _INPUT_LINE.findall(source)
    order = list(values)  # parameters in circuit.parameters order, then input variables
    if len(declared) != len(order):
        raise qasm3.QASM3ExporterError(
            f"the program declares {len(declared)} inputs where the circuit has {len(order)} "
            "parameters and input variables"
        )
    return Exported(
        OPENQASM3,
        source,
        {name: values[item] for name, item in zip(declared, order, strict=True)},
    )


def _bind_for_qasm2(
    circuit: QuantumCircuit, values: Mapping[Parameter | expr.Var, float]
) -> QuantumCircuit:
    """``circuit`` with its parameters bound (OpenQASM 2 has no inputs)."""
    parameters = {p: v for p, v in values.items() if isinstance(p, Parameter)}
    if len(parameters) != len(values):
        raise qasm2.QASM2ExportError("OpenQASM 2 has no input variables")
    return circuit.assign_parameters(parameters) if parameters else circuit


def _failing_instruction(circuit: QuantumCircuit, fmt: str) -> str:
    """``instruction 'NAME' — `` for the first instruction that the exporter of ``fmt``
    cannot express on its own (each distinct one tried once in an otherwise empty copy of
    the circuit), or ``""`` when none does alone."""
    dumps = qasm3.dumps if fmt == OPENQASM3 else qasm2.dumps
    seen: set[str] = set()
    for instruction in circuit.data:
        name = instruction.operation.name
        if name in seen:
            continue
        seen.add(name)
        alone = circuit.copy_empty_like()
        alone.append(instruction)
        if fmt == OPENQASM2 and alone.parameters:
            alone = alone.assign_parameters({p: 0.0 for p in alone.parameters})
        try:
            dumps(alone)
        except (qasm3.QASM3ExporterError, qasm2.QASM2ExportError):
            return f"instruction '{name}' — "
        except Exception:
            continue
    return ""


def invalid_source(circuit: QuantumCircuit, exported: Exported, message: str) -> str:
    """The server's ``LINE:COL: message`` about an exported source, with that line quoted."""
    line_text = ""
    head = message.split(":", 2)
    if len(head) == 3 and head[0].isdigit():
        lines = exported.source.splitlines()
        number = int(head[0])
        if 1 <= number <= len(lines):
            line_text = f" (line {number}: `{lines[number - 1].strip()}`)"
    return (
        f"circuit '{circuit.name}', exported as {exported.format}, is not one qrun can run: "
        f"{message}{line_text}"
    )
