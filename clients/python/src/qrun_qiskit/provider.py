"""The entry point: a qrun server and a user's token, and the backends it offers.

    provider = QrunProvider("http://127.0.0.1:8080", token)
    backend = provider.get_backend("statevector")   # or "simulator/statevector"

The provider also keeps the circuits it has uploaded (by content address), so a circuit run
again, on any of its backends, is neither uploaded nor versioned again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Literal

import requests
from qiskit import QuantumCircuit

from ._export import Exported, invalid_source
from .api import QrunClient
from .backend import QrunBackend
from .exceptions import QrunApiError, QrunBackendNotFoundError, QrunError, QrunValidationError
from .job import QrunJob
from .sampler import METADATA_KEY, SamplerJob, is_sampler_job

#: The most jobs ``GET /api/jobs`` answers per page.
MAX_PAGE = 100

class QrunProvider:
    """A qrun server, as the holder of ``token`` uses it from Qiskit.

    Args:
        url: The server's base URL, e.g. ``http://127.0.0.1:8080``.
        token: An API token (``qrun user create HANDLE`` prints one).
        analytics_consent: Whether the runs may be captured by the server's product analytics
            (sent as ``X-Analytics-Consent``); denied unless ``True``.
        visibility: ``private`` (the default: only you see the circuits and their runs) or
            ``public`` (anyone with a run's URL sees it) for the circuits this provider
            uploads.
        owner: Your handle on the server. Optional: the provider asks the server
            (``GET /api/me``) the first time it needs it (see :meth:`upload`).
        session: The :class:`requests.Session` to send requests with (a new one by default).
        timeout: Seconds to connect and to wait for each answer.
        retry_for: Seconds a request failing transiently (no connection, 429, 502–504) is
            retried.
        connect_for: Until the server has answered once, seconds a request is retried while
            no connection can be made (a wrong URL fails within it, naming the URL).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        analytics_consent: bool = False,
        visibility: Literal["private", "public"] = "private",
        owner: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retry_for: float = 120.0,
        connect_for: float = 10.0,
    ) -> None:
        if visibility not in ("private", "public"):
            raise QrunValidationError(f"visibility must be private or public, not {visibility!r}")
        #: The HTTP API client every backend and job of this provider uses.
        self.client: QrunClient = QrunClient(
            url,
            token,
            session=session,
            analytics_consent=analytics_consent,
            timeout=timeout,
            retry_for=retry_for,
            connect_for=connect_for,
        )
        self.visibility: str = visibility
        self._owner = owner
        #: Content address → (circuit id, version), for circuits known to be on the server.
        self._uploaded: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"QrunProvider({self.client.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        """A provider pickles with its token (a pickled job is a credential: keep it as one)."""
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.client.url

    def backends(self, name: str | None = None) -> list[QrunBackend]:
        """The server's backends (``GET /api/backends``, read on each call), optionally only
        those matching ``name`` (``statevector`` or ``simulator/statevector``)."""
        found = [QrunBackend(self, info) for info in self.client.backends()]
        if name is None:
            return found
        return [b for b in found if name in (b.info.name, b.info.full_name)]

    def get_backend(self, name: str) -> QrunBackend:
        """The backend called ``name``: its name in the server's configuration
        (``statevector``), or ``type/name`` (``simulator/statevector``).

        Raises:
            QrunBackendNotFoundError: No backend has that name (the message lists those the
                server has), or two backends of different types share a plain name.
        """
        infos = self.client.backends()
        available = [info.full_name for info in infos]
        matches = [info for info in infos if name in (info.name, info.full_name)]
        if len(matches) == 1:
            return QrunBackend(self, matches[0])
        if not matches:
            message = (
                f"no backend '{name}' on {self.url}; available: {', '.join(available) or 'none'}"
            )
        else:
            message = (
                f"'{name}' names {len(matches)} backends on {self.url}; use one of "
                f"{', '.join(m.full_name for m in matches)}"
            )
        raise QrunBackendNotFoundError(message, available)

    def job(self, job_id: str) -> QrunJob | SamplerJob:
        """The job ``job_id`` (``job.job_id()``), submitted from any process
        (``GET /api/jobs/{id}``): its status, tags, usage and results. A
        :class:`~qrun_qiskit.SamplerV2`'s job is a :class:`~qrun_qiskit.sampler.SamplerJob`,
        whose ``result()`` is the :class:`~qiskit.primitives.PrimitiveResult` the sampler
        gave (as IBM's ``service.job(id)`` returns a primitive's); any other a
        :class:`QrunJob`, whose ``result()`` is a :class:`~qiskit.result.Result`.

        Raises:
            QrunApiError: 404 when you have no such job.
            QrunError: A sampler's job written by a qrun-qiskit this one cannot read.
        """
        body = self.client.job(job_id)
        first = body["runs"][0]["run"]
        backend = self.get_backend(f"{first['backend_type']}/{first['backend_name']}")
        job = QrunJob.from_server(backend, body)
        metadata = body.get("metadata") or {}
        if is_sampler_job(metadata):
            return SamplerJob(job, metadata[METADATA_KEY])
        return job

    def jobs(self, tags: Sequence[str] = (), limit: int = 10) -> list[QrunJob | SamplerJob]:
        """Your newest jobs, newest first, at most ``limit``; with ``tags``, only those that
        have every one of them (``GET /api/jobs?tag=`` for the first, then each job read).

        Raises:
            QrunValidationError: ``limit`` is not at least 1.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise QrunValidationError(f"limit must be a whole number from 1, not {limit!r}")
        wanted = set(tags)
        found: list[QrunJob | SamplerJob] = []
        cursor: str | None = None
        while len(found) < limit:
            page = self.client.jobs(next(iter(tags), None), min(limit, MAX_PAGE), cursor)
            for summary in page["jobs"]:
                if wanted <= set(summary["tags"]) and len(found) < limit:
                    found.append(self.job(str(summary["id"])))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return found

    def run_url(self, run: dict[str, Any]) -> str:
        """A run's page: ``{url}/{owner}/{circuit}/runs/{id}``."""
        return f"{self.url}/{run['circuit']}/runs/{run['id']}"

    def upload(self, circuit: QuantumCircuit, exported: Exported) -> tuple[str, int]:
        """Makes sure the exported circuit is on the server, uploading it only if it is not.

        The circuit's name is its content address (:meth:`Exported.content_name`), so an upload
        that the server refuses with 409 ``name_taken`` means this very source is there
        already: it is looked up (``GET /api/circuits/{owner}/{name}``) and its version re-used.
        That needs the user's handle: the ``owner`` given to the provider, or the owner of any
        circuit this provider created; failing both, the server's answer to ``GET /api/me``.

        Returns:
            The circuit's id and the version whose source is ``exported.source``.

        Raises:
            QrunValidationError: The server found the source invalid (400 ``invalid_source``;
                the message quotes the line).
            QrunError: The circuit exists but could not be found.
            QrunApiError: Any other refusal.
        """
        name = exported.content_name(self.visibility)
        with self._lock:
            known = self._uploaded.get(name)
        if known is not None:
            return known
        try:
            created = self.client.create_circuit(
                name, exported.source, exported.format, self.visibility
            )
        except QrunApiError as error:
            if error.status == 400 and error.code == "invalid_source":
                raise QrunValidationError(
                    invalid_source(circuit, exported, error.server_message)
                ) from error
            raise
        if created is not None:
            found = (str(created["id"]), int(created["version"]))
            with self._lock:
                self._owner = self._owner or str(created["owner"])
        else:
            found = self._existing(name, exported)
        with self._lock:
            self._uploaded[name] = found
        return found

    def owner(self) -> str:
        """Your handle on the server: the ``owner`` given to the provider, else learnt from an
        upload, else asked of the server once (``GET /api/me``)."""
        with self._lock:
            known = self._owner
        if known is not None:
            return known
        handle = str(self.client.me()["handle"])
        with self._lock:
            self._owner = self._owner or handle
            return self._owner

    def _existing(self, name: str, exported: Exported) -> tuple[str, int]:
        """The circuit ``name`` the user already has (see :meth:`upload`)."""
        owner = self.owner()
        circuit = self.client.circuit(owner, name)
        if circuit is None:
            raise QrunError(
                f"the server refused a circuit named {name} as taken, but {owner} has none "
                "of that name"
            )
        if (
            circuit.get("source") == exported.source
            and circuit["manifest"]["format"] == exported.format
        ):
            return str(circuit["id"]), int(circuit["version"])
        # Someone added other versions to it: add this source back as the latest.
        added = self.client.add_version(owner, name, exported.source, exported.format)
        return str(added["id"]), int(added["version"])
