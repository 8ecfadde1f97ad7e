"""qrun as a Qiskit backend.

    from qiskit import QuantumCircuit
    from qrun_qiskit import QrunProvider

    backend = QrunProvider("http://127.0.0.1:8080", token).get_backend("statevector")
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    job = backend.run(circuit, shots=1000)
    print(job.result().get_counts())   # {'00': 507, '11': 493}

Layout: :mod:`.provider` (the server and its backends), :mod:`.backend` (a ``BackendV2``:
target, validation, ``run``), :mod:`.job` (a ``JobV1``: statuses, waiting, the ``Result``),
:mod:`.api` (the HTTP API, the only module that knows URLs and JSON shapes),
:mod:`.sampler` (Qiskit's ``SamplerV2`` primitive and its job), :mod:`.exceptions`.
"""

from .api import BackendInfo, QrunClient
from .backend import QrunBackend, QrunGateWarning
from .exceptions import (
    QrunApiError,
    QrunBackendNotFoundError,
    QrunError,
    QrunRunError,
    QrunTimeoutError,
    QrunValidationError,
)
from .job import QrunJob
from .provider import QrunProvider
from .sampler import SamplerJob, SamplerV2

#: This package's version (``pyproject.toml`` reads it from here).
__version__ = "0.3.0"

__all__ = [
    "BackendInfo",
    "QrunApiError",
    "QrunBackend",
    "QrunBackendNotFoundError",
    "QrunClient",
    "QrunError",
    "QrunGateWarning",
    "QrunJob",
    "QrunProvider",
    "QrunRunError",
    "QrunTimeoutError",
    "QrunValidationError",
    "SamplerJob",
    "SamplerV2",
    "__version__",
]
