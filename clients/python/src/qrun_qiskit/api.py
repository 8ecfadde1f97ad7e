"""Typed access to qrun's HTTP API (docs/DESIGN.md §11, §16): the only module that knows
URLs, headers and JSON shapes.

:class:`QrunClient` wraps an injected :class:`requests.Session`. Every request it makes may be
sent again safely — reads, circuit uploads (a repeated upload is a 409 ``name_taken``), job
submissions (each carries an ``Idempotency-Key``, so a replay returns the original job), tag
updates and cancellations (a second one is a 409 on a terminal run) — so it retries what is
worth retrying: a connection that failed or broke, and the statuses that say "later" (429, 502,
503, 504, honouring ``Retry-After``), for up to ``retry_for`` seconds. A request that was sent
and got no answer within ``timeout`` (a server that accepts connections but never answers) is
not retried: it fails at once, naming the URL, so it never waits longer than ``timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from . import _sse
from .exceptions import QrunApiError

#: Statuses that mean "not now": the request was not carried out and may be sent again.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: The longest pause between two attempts when the server does not say (``Retry-After``).
MAX_BACKOFF_S = 5.0
#: How long an event stream may stay silent before it is taken for dead. The server sends a
#: keep-alive comment every 15 s (warp's default), so three missed ones.
STREAM_READ_TIMEOUT_S = 45.0


@dataclass(frozen=True)
class BackendInfo:
    """One backend of ``GET /api/backends``.

    Attributes:
        kind: ``simulator`` or ``command``.
        name: The backend's name in the server's configuration, e.g. ``statevector``.
        formats: The circuit formats it executes (``openqasm2``, ``openqasm3``, ``python``).
        max_qubits: The widest circuit it runs; ``None`` when the server does not say.
        max_shots: Shots per run, at most.
        native_gates: The gates it executes natively, by Qiskit's standard names.
        options: The run options it takes, by Qiskit Aer's names (``method``,
            ``noise_model``, ``precision``).
        max_runs_per_job: The most runs (circuits, or a Sampler's parameter sets) one job
            holds on the server (``GET /api/backends``' ``max_runs_per_job``); ``None`` when
            the server does not say.
    """

    kind: str
    name: str
    formats: tuple[str, ...]
    max_qubits: int | None
    max_shots: int
    native_gates: tuple[str, ...]
    options: tuple[str, ...] = ()
    max_runs_per_job: int | None = None

    @property
    def full_name(self) -> str:
        """``type/name``, e.g. ``simulator/statevector``."""
        return f"{self.kind}/{self.name}"

    @classmethod
    def from_json(
        cls, body: Mapping[str, Any], max_runs_per_job: int | None = None
    ) -> BackendInfo:
        """Reads one element of ``GET /api/backends``'s ``backends`` array (the list's
        ``max_runs_per_job`` beside it)."""
        return cls(
            kind=str(body["type"]),
            name=str(body["name"]),
            formats=tuple(str(f) for f in body["formats"]),
            max_qubits=None if body.get("max_qubits") is None else int(body["max_qubits"]),
            max_shots=int(body["max_shots"]),
            native_gates=tuple(str(g) for g in body.get("native_gates", [])),
            options=tuple(str(o) for o in body.get("options", [])),
            max_runs_per_job=max_runs_per_job,
        )


@dataclass(frozen=True)
class RunRequest:
    """One run of ``POST /api/jobs``: a circuit version on a backend.

    Attributes:
        name: The run's name in the job (Qiskit's ``circuit.name``, 1–255 characters).
        circuit_id: The circuit's id.
        version: Its version.
        backend: Where it runs.
        shots: Shots, 1 to the backend's ``max_shots``.
        parameters: Values of the source's inputs, by name.
        seed: The sampling seed (0 to 2^63 - 1), or ``None`` for a fresh one.
        memory: Whether the run keeps each shot's outcome (:meth:`QrunClient.run_memory`).
        options: The backend's run options (``POST /api/runs``'s ``options``), JSON values.
    """

    name: str
    circuit_id: str
    version: int
    backend: BackendInfo
    shots: int
    parameters: Mapping[str, float]
    seed: int | None
    memory: bool
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The run as ``POST /api/jobs``'s ``runs[i]``."""
        body: dict[str, Any] = {
            "name": self.name,
            "circuit_id": self.circuit_id,
            "version": self.version,
            "backend": {"type": self.backend.kind, "name": self.backend.name},
            "shots": self.shots,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        if self.seed is not None:
            body["seed"] = self.seed
        if self.memory:
            body["memory"] = True
        if self.options:
            body["options"] = dict(self.options)
        return body


class QrunClient:
    """A qrun server, as one user (its API token) sees it.

    Args:
        url: The server's base URL, e.g. ``http://127.0.0.1:8080`` (a trailing ``/`` is
            ignored).
        token: An API token (``qrun user create HANDLE`` prints one).
        session: The HTTP session to use (a new :class:`requests.Session` when omitted): inject
            one to add proxies, certificates or adapters.
        analytics_consent: Whether the runs this client submits may be captured by the
            server's product analytics (``X-Analytics-Consent``); denied unless ``True``.
        timeout: Seconds to wait for each answer of an ordinary request once it is sent (and
            at most to connect): past it the request fails, naming the URL, without a retry
            (status 0).
        retry_for: Seconds a request is retried for (a connection that broke, 429/502/503/504)
            before its last failure is raised.
        connect_for: Until the server has answered this client once, seconds a request is
            retried while no connection to it can be made (a wrong URL, a server that is
            down): each attempt connects within it, and past it the request fails with a
            message naming the URL (status 0). Once it has answered, a refused connection (a
            restart) is retried for ``retry_for``.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        analytics_consent: bool = False,
        timeout: float = 30.0,
        retry_for: float = 120.0,
        connect_for: float = 10.0,
    ) -> None:
        self.url: str = url.rstrip("/")
        self._token = token
        self._session = session if session is not None else requests.Session()
        self.analytics_consent: bool = analytics_consent
        self.timeout: float = timeout
        self.retry_for: float = retry_for
        self.connect_for: float = connect_for
        #: Whether the server has answered this client at least once.
        self._reached = False

    def __repr__(self) -> str:
        return f"QrunClient({self.url!r})"  # never the token

    # -- the routes ------------------------------------------------------------------------

    def backends(self) -> list[BackendInfo]:
        """``GET /api/backends``: every backend the server's configuration declares, each with
        the server's cap on a job's runs."""
        body = self._json("GET", "/api/backends")
        cap = body.get("max_runs_per_job")
        cap = None if cap is None else int(cap)
        return [BackendInfo.from_json(b, cap) for b in body["backends"]]

    def create_circuit(
        self, name: str, source: str, fmt: str, visibility: str
    ) -> dict[str, Any] | None:
        """``POST /api/circuits`` with a Qiskit manifest.

        Returns:
            The new circuit (``{"id", "owner", "name", "version", …}``), or ``None`` when the
            user already has a circuit of that name (409 ``name_taken``).

        Raises:
            QrunApiError: Any other refusal, e.g. 400 ``invalid_source`` naming LINE:COL.
        """
        body = {
            "name": name,
            "visibility": visibility,
            "source": source,
            "manifest": {"framework": "qiskit", "format": fmt},
        }
        try:
            return self._json("POST", "/api/circuits", json=body, ok=(201,))
        except QrunApiError as error:
            if error.status == 409 and error.code == "name_taken":
                return None
            raise

    def add_version(self, owner: str, name: str, source: str, fmt: str) -> dict[str, Any]:
        """``POST /api/circuits/{owner}/{name}/versions``: the circuit at its new version."""
        body = {"source": source, "manifest": {"framework": "qiskit", "format": fmt}}
        return self._json(
            "POST", f"/api/circuits/{_seg(owner)}/{_seg(name)}/versions", json=body, ok=(201,)
        )

    def circuit(self, owner: str, name: str) -> dict[str, Any] | None:
        """``GET /api/circuits/{owner}/{name}``: the circuit at its latest version, with its
        source; ``None`` if there is none the user may see."""
        try:
            return self._json("GET", f"/api/circuits/{_seg(owner)}/{_seg(name)}")
        except QrunApiError as error:
            if error.status == 404:
                return None
            raise

    def me(self) -> dict[str, Any]:
        """``GET /api/me``: who the token belongs to (``{"id", "handle", "created_at",
        "token": {"id", "name"}}``)."""
        return self._json("GET", "/api/me")

    def submit_job(
        self,
        runs: list[RunRequest],
        tags: list[str],
        idempotency_key: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /api/jobs``: the new job (201) with its runs in order, or the original one when
        this key was used before for the same runs (200, a replay after a lost answer).
        ``metadata`` (a JSON object, at most 64 KiB as compact JSON) is kept with the job and
        returned by :meth:`job`.

        Raises:
            QrunApiError: The server refused the job (e.g. 400 ``invalid_parameters`` with
                ``runs[i]: `` before the message, 400 ``invalid_job``); no run was created.
        """
        body: dict[str, Any] = {"runs": [run.to_json() for run in runs], "tags": tags}
        if metadata:
            body["metadata"] = dict(metadata)
        headers = {
            "Idempotency-Key": idempotency_key,
            "X-Analytics-Consent": "granted" if self.analytics_consent else "denied",
        }
        return self._json("POST", "/api/jobs", json=body, headers=headers, ok=(200, 201))

    def job(self, job_id: str) -> dict[str, Any]:
        """``GET /api/jobs/{id}``: the job with its ``status``, ``status_counts``, ``usage``
        (``{"seconds"}``), ``tags``, ``metadata`` (``{}`` when none; absent from a server
        before it) and ``runs`` (each ``{"name", "run"}``, in order).

        Raises:
            QrunApiError: 404 when the user has no such job.
        """
        return self._json("GET", f"/api/jobs/{_seg(job_id)}")

    def jobs(self, tag: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        """``GET /api/jobs``: a page of the user's jobs, newest first
        (``{"jobs": [{"id", "tags", "created_at", "runs"}, …], "next_cursor"}``), only those
        tagged ``tag`` if given; ``limit`` 1–100."""
        params: dict[str, str] = {"limit": str(limit)}
        if tag is not None:
            params["tag"] = tag
        if cursor is not None:
            params["cursor"] = cursor
        return self._json("GET", "/api/jobs", params=params)

    def put_job_tags(self, job_id: str, tags: list[str]) -> dict[str, Any]:
        """``PUT /api/jobs/{id}/tags``: replaces the job's tags; the job."""
        return self._json("PUT", f"/api/jobs/{_seg(job_id)}/tags", json={"tags": tags})

    def run(self, run_id: str, *, retry_for: float | None = None) -> dict[str, Any]:
        """``GET /api/runs/{id}``: the run (docs/DESIGN.md §11's run JSON)."""
        return self._json("GET", f"/api/runs/{_seg(run_id)}", retry_for=retry_for)

    def run_memory(self, run_id: str) -> list[str]:
        """``GET /api/runs/{id}/memory``, every page: each shot's outcome in shot order, keyed
        as the run's counts (a completed run submitted with ``memory``)."""
        memory: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = self._json(
                "GET", f"/api/runs/{_seg(run_id)}/memory", params={"offset": str(offset)}
            )
            memory.extend(str(key) for key in page["memory"])
            offset = page["next_offset"]
        return memory

    def cancel_run(self, run_id: str) -> dict[str, Any] | None:
        """``POST /api/runs/{id}/cancel``: the cancelled run, or ``None`` when the run had
        already ended (409)."""
        try:
            return self._json("POST", f"/api/runs/{_seg(run_id)}/cancel")
        except QrunApiError as error:
            if error.status == 409:
                return None
            raise

    def run_events(
        self, run_id: str, last_event_id: str | None, read_timeout: float
    ) -> Iterator[_sse.SseEvent]:
        """``GET /api/runs/{id}/events``: the run's server-sent events as they arrive.

        Args:
            run_id: The run.
            last_event_id: The id of the last event received on an earlier connection (a
                status), sent as ``Last-Event-ID`` so the server does not send it again.
            read_timeout: Seconds the stream may stay silent before
                :class:`requests.exceptions.ReadTimeout` is raised.

        Raises:
            QrunApiError: The stream could not be opened (e.g. 404).
            requests.RequestException: The connection failed or broke; not retried here (the
                caller decides how to go on).
        """
        headers = {"Accept": "text/event-stream", **self._auth()}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        path = f"/api/runs/{_seg(run_id)}/events"
        response = self._session.get(
            self.url + path,
            headers=headers,
            stream=True,
            timeout=(self.timeout, read_timeout),
        )
        with response:
            if response.status_code != 200:
                raise _api_error(response, "GET", path)
            # chunk_size=None: each chunk as the server flushes it, not a fixed-size read that
            # would wait for more bytes than an event has.
            chunks = response.iter_content(chunk_size=None)
            yield from _sse.events(_sse.lines(chunks), last_event_id)

    # -- plumbing --------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        retry_for: float | None = None,
    ) -> dict[str, Any]:
        """Sends a request, retrying transient failures, and decodes the JSON answer (every
        answer of the API is an object).

        Raises:
            QrunApiError: A status outside ``ok`` (after retries for the transient ones), a
                connection that kept failing, or no answer within ``timeout`` of sending
                (status 0, naming the URL).
        """
        budget = self.retry_for if retry_for is None else retry_for
        started = time.monotonic()
        deadline = started + budget
        # Until the server has answered once, a failure to connect is retried for
        # `connect_for` only.
        unreached_deadline = started + min(self.connect_for, budget)
        backoff = 0.2
        while True:
            try:
                response = self._session.request(
                    method,
                    self.url + path,
                    json=json,
                    params=params,
                    headers={**self._auth(), **(headers or {})},
                    timeout=(min(self.connect_for, self.timeout), self.timeout),
                )
            except (requests.ReadTimeout, requests.ConnectionError) as error:
                if _unanswered(error):
                    # Sent, and no answer: a server that hangs would hang every retry too.
                    raise QrunApiError(
                        0,
                        None,
                        f"no answer from the qrun server at {self.url}{path} within "
                        f"{self.timeout:g} s (the client's timeout): {error}",
                        method,
                        path,
                    ) from error
                # Connecting failed (refused, unresolvable, timed out), or a connection broke.
                wait = backoff
                if not self._reached and time.monotonic() + wait > unreached_deadline:
                    raise QrunApiError(
                        0,
                        None,
                        f"cannot reach the qrun server at {self.url} (tried for "
                        f"{time.monotonic() - started:.1f} s): {error}",
                        method,
                        path,
                    ) from error
                if time.monotonic() + wait > deadline:
                    raise QrunApiError(0, None, f"no answer: {error}", method, path) from error
            except requests.RequestException as error:
                wait = backoff
                if time.monotonic() + wait > deadline:
                    raise QrunApiError(0, None, f"no answer: {error}", method, path) from error
            else:
                self._reached = True
                if response.status_code in ok:
                    body: dict[str, Any] = response.json()
                    return body
                if response.status_code not in RETRY_STATUSES:
                    raise _api_error(response, method, path)
                wait = _retry_after(response) or backoff
                if time.monotonic() + wait > deadline:
                    raise _api_error(response, method, path)
            time.sleep(wait)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def _unanswered(error: requests.RequestException) -> bool:
    """Whether ``error`` is a read timeout: the request went out and no answer came (requests
    raises :class:`requests.ReadTimeout` while waiting for the status line, a
    :class:`requests.ConnectionError` around urllib3's ``ReadTimeoutError`` in the body)."""
    if isinstance(error, requests.ReadTimeout):
        return True
    return any(
        isinstance(cause, urllib3.exceptions.ReadTimeoutError)
        for arg in error.args
        for cause in (arg, getattr(arg, "reason", None))
    )


def _seg(value: str) -> str:
    """A path segment, percent-encoded."""
    return quote(value, safe="")


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (qrun sends whole seconds), or ``None``."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _api_error(response: requests.Response, method: str, path: str) -> QrunApiError:
    """The error a refused request raises: the API's ``{"error": {"code", "message"}}`` when
    the body is one, else the start of the body."""
    code: str | None = None
    message = response.text[:500] or response.reason or "no body"
    try:
        error = response.json()["error"]
        code = str(error["code"])
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass
    return QrunApiError(response.status_code, code, message, method, path)
