"""The package's exceptions: one base class, :class:`QrunError`, and one subclass per kind of
failure a caller may want to tell apart.

Every class is a :class:`qiskit.exceptions.QiskitError`, so code written for any Qiskit
backend that catches ``QiskitError`` keeps working; the subclasses that have a Qiskit
counterpart (a backend that does not exist, a job that did not finish in time) are also
instances of it.
"""

from __future__ import annotations

from qiskit.exceptions import QiskitError
from qiskit.providers.exceptions import JobTimeoutError, QiskitBackendNotFoundError


class QrunError(QiskitError):
    """Base class of every error this package raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: The human-readable message (also ``str(error)``).
        self.message: str = message

    def __str__(self) -> str:
        return self.message


class QrunApiError(QrunError):
    """The server refused a request or answered it unexpectedly.

    Attributes:
        status: The HTTP status code (0 when no answer arrived at all).
        code: The API's error code (``{"error": {"code", "message"}}``), e.g. ``invalid_shots``;
            ``None`` when the body was not an API error body.
        method: The request's method, e.g. ``POST``.
        path: The request's path, e.g. ``/api/runs``.
    """

    def __init__(self, status: int, code: str | None, message: str, method: str, path: str) -> None:
        where = f"{method} {path}"
        what = f"{status} {code}" if code else str(status)
        super().__init__(f"{where}: {what}: {message}")
        self.status: int = status
        self.code: str | None = code
        self.method: str = method
        self.path: str = path
        #: The server's own message, without the request and status around it.
        self.server_message: str = message


class QrunValidationError(QrunError, ValueError):
    """A run request that this client refuses before sending anything: shots or qubits past
    the backend's limits, a circuit with no measurement, a circuit that no format the backend
    accepts can express (the message names the instruction), parameter values that do not
    match the circuit's parameters, or an option the server cannot honour (``memory``).
    """


class QrunBackendNotFoundError(QrunError, QiskitBackendNotFoundError):
    """No backend of the server has the requested name; the message lists the ones it has.

    Attributes:
        available: The names the server offers (``type/name`` and plain names).
    """

    def __init__(self, message: str, available: list[str]) -> None:
        super().__init__(message)
        self.available: list[str] = available


class QrunTimeoutError(QrunError, JobTimeoutError):
    """A job did not reach a final state within the time given to ``result(timeout=…)``."""


class QrunRunError(QrunError):
    """A run of the job did not complete: it failed on the server, or it was cancelled.

    Attributes:
        run_id: The run's id.
        status: ``failed`` or ``cancelled``.
        error_class: One of qrun's six error classes (``validation_error``,
            ``resource_limit``, ``timeout``, ``backend_error``, ``storage_error``,
            ``internal_error``) for a failed run; ``None`` for a cancelled one.
        error_stage: ``prepare``, ``execute``, ``store`` or ``recovery`` for a failed run;
            ``None`` for a cancelled one.
        error_message: The server's sentence about the failure; ``None`` for a cancelled run.
        url: The run's page, to share or to read its audit timeline.
        circuit_name: The Qiskit circuit's name.
    """

    def __init__(
        self,
        *,
        run_id: str,
        status: str,
        error_class: str | None,
        error_stage: str | None,
        error_message: str | None,
        url: str,
        circuit_name: str,
        others: int = 0,
    ) -> None:
        if status == "failed":
            head = (
                f"run {run_id} of circuit '{circuit_name}' failed: {error_class} "
                f"at {error_stage}: {error_message}"
            )
        else:
            head = f"run {run_id} of circuit '{circuit_name}' was {status}"
        tail = f" ({others} more run(s) of the job did not complete either)" if others else ""
        super().__init__(f"{head}{tail} — {url}")
        self.run_id: str = run_id
        self.status: str = status
        self.error_class: str | None = error_class
        self.error_stage: str | None = error_stage
        self.error_message: str | None = error_message
        self.url: str = url
        self.circuit_name: str = circuit_name
