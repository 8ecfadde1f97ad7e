"""A live qrun for the tests: the real ``qrun`` binary serving a SQLite database in a temporary
directory, with the built-in simulator, three command backends that make the slow and the
failing cases easy to produce, and the README's Qiskit Aer backend (``command/aer``).

The binary is ``$QRUN_BIN`` (``cargo test`` sets it), else ``target/debug/qrun`` of this
repository. The tests import ``qrun_qiskit`` from this checkout's ``src``, whatever is
installed in the interpreter, so they always test the code beside them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    import requests
except ImportError:  # the runners' venv without the client's requirements
    raise SystemExit(
        "the client's tests need its requirements: "
        "pip install -r clients/python/requirements-test.txt"
    ) from None

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "clients" / "python" / "src"))

# From this checkout's src (above), whatever the interpreter has installed.
from qrun_qiskit import QrunBackend, QrunGateWarning, QrunProvider  # noqa: E402

#: The line ``qrun serve`` logs once it accepts connections (docs/DESIGN.md §11).
LISTENING = re.compile(r"listening on http://(\S+)")
#: How long a server may take to start.
START_TIMEOUT_S = 60.0

#: A command backend (docs/DESIGN.md §5): the job as JSON on stdin; sleeps ``$1`` seconds, then
#: answers every shot with outcome ``0`` — unless the source names a register ``doomed``: then
#: it crashes (a ``backend_error`` at ``execute``), so one job can have runs that fail and runs
#: that complete.
SLEEPER = """\
#!/bin/sh
# Test backend: reads the job, sleeps $1 seconds, answers {"counts": {"0": SHOTS}}; crashes on
# a circuit with a register named doomed.
job=$(cat)
case "$job" in *doomed*) echo "the test backend refuses register doomed" >&2; exit 3 ;; esac
shots=$(printf '%s' "$job" | sed -n 's/.*"shots": *\\([0-9][0-9]*\\).*/\\1/p')
sleep "$1"
printf '{"counts": {"0": %s}}\\n' "$shots"
"""

#: A command backend that always crashes (a ``backend_error`` at ``execute``).
CRASHER = """\
#!/bin/sh
# Test backend: reads the job and crashes.
cat >/dev/null
echo "the test backend crashed on purpose" >&2
exit 3
"""


def qrun_bin() -> Path:
    """The ``qrun`` binary under test."""
    path = Path(os.environ.get("QRUN_BIN", REPO / "target" / "debug" / "qrun"))
    if not path.is_file():
        pytest.fail(
            f"no qrun binary at {path}: build it (cargo build --bin qrun) or set QRUN_BIN",
            pytest=False,
        )
    return path


def free_port() -> int:
    """A TCP port nothing listens on now (for a server that must come back on the same one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class QrunServer:
    """One ``qrun serve`` on a database of its own.

    Attributes:
        workdir: Its working directory (``qrun.db`` is there).
        config: Its configuration file.
        scripts: Its backends' programs (a directory anyone may enter).
        url: Its base URL once started.
        token: alice's API token.
    """

    workdir: Path
    config: Path
    scripts: Path
    url: str = ""
    token: str = ""
    _process: subprocess.Popen[str] | None = None
    _drain: threading.Thread | None = None
    _log: list[str] = field(default_factory=list)

    def start(self, port: int = 0, env: dict[str, str] | None = None) -> None:
        """Starts ``qrun serve`` on ``port`` (0: any free one) and waits for its
        ``listening on`` line."""
        environment = {
            **os.environ,
            "QRUN__SERVER__BIND": f"127.0.0.1:{port}",
            "QRUN__LOGGING__LEVEL": "warn,qrun=info",
            **(env or {}),
        }
        process = subprocess.Popen(
            [str(qrun_bin()), "serve", "--config", str(self.config)],
            cwd=self.workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._process = process
        found = threading.Event()

        def drain() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self._log.append(line)
                match = LISTENING.search(line)
                if match and not found.is_set():
                    self.url = f"http://{match.group(1)}"
                    found.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not found.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("qrun serve did not start:\n" + "".join(self._log[-40:]))

    def kill(self) -> None:
        """Kills the server at once (SIGKILL: no graceful shutdown)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        """Waits for the stopped process and closes its log pipe."""
        if self._process is None:
            return
        self._process.wait(timeout=30)
        if self._drain is not None:
            self._drain.join(timeout=10)
        if self._process.stderr is not None:
            self._process.stderr.close()

    def stop(self) -> None:
        """Stops the server gracefully (SIGTERM), killing it if it lingers."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self._process.send_signal(signal.SIGKILL)
        self._reap()

    def create_user(self, handle: str) -> str:
        """``qrun migrate`` (only it changes the schema), then ``qrun user create HANDLE``: the
        new user's token."""

        def qrun(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(qrun_bin()), *args, "--config", str(self.config)],
                cwd=self.workdir,
                env={**os.environ, "QRUN__LOGGING__LEVEL": "warn"},
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )

        qrun("migrate")
        return qrun("user", "create", handle).stdout.strip()

    def log(self) -> str:
        """What the server logged so far."""
        return "".join(self._log)


def readme_aer_backend(runners: Path) -> str:
    """The README's configuration of the Aer backend ("Running framework code safely"), with
    this interpreter's venv for ``/opt/qrun-venv`` and ``runners`` (holding a copy of
    ``runners/qiskit_runner.py``) for ``/opt/qrun/runners``: the tests run what the README
    tells an operator to write."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
    block = next(b for b in blocks if 'name = "aer"' in b and "native_gates" in b)
    return block.replace("/opt/qrun-venv", sys.prefix).replace("/opt/qrun/runners", str(runners))


def make_server(workdir: Path) -> QrunServer:
    """A configured (not started) server in ``workdir``, with alice's token."""
    # Where the backends' programs run as: a root server runs them as `nobody`, who cannot
    # enter pytest's private temporary directories.
    scripts = Path(tempfile.mkdtemp(prefix="qrun-backends-"))
    scripts.chmod(0o755)
    for name, body in (("sleeper.sh", SLEEPER), ("crasher.sh", CRASHER)):
        script = scripts / name
        script.write_text(body)
        script.chmod(0o755)
    runner = scripts / "qiskit_runner.py"
    shutil.copy(REPO / "runners" / "qiskit_runner.py", runner)
    runner.chmod(0o644)
    config = workdir / "qrun.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [executor]
            claim_interval_ms = 50

            # (Declared slowest last: the server starts a new command backend from the keys
            # of the first one declared before it, so the others must not follow `slow`.)

            # Answers at once; accepts OpenQASM 2 only.
            [[backends]]
            type = "command"
            name = "quick2"
            program = "{scripts / "sleeper.sh"}"
            args = ["0"]
            formats = ["openqasm2"]
            timeout_s = 60
            [backends.sandbox]
            read_only_paths = ["{scripts}"]

            [[backends]]
            type = "command"
            name = "crash"
            program = "{scripts / "crasher.sh"}"
            formats = ["openqasm2", "openqasm3"]
            timeout_s = 60
            [backends.sandbox]
            read_only_paths = ["{scripts}"]

            # Sleeps 300 s per run: cancelled long before it answers.
            [[backends]]
            type = "command"
            name = "slow"
            program = "{scripts / "sleeper.sh"}"
            args = ["300"]
            formats = ["openqasm2", "openqasm3"]
            timeout_s = 600
            max_shots = 1000
            max_qubits = 4
            native_gates = ["x", "h", "cx", "qrun_magic"]
            [backends.sandbox]
            read_only_paths = ["{scripts}"]

            """
        )
        + readme_aer_backend(scripts)
    )
    server = QrunServer(workdir=workdir, config=config, scripts=scripts)
    server.token = server.create_user("alice")
    return server


@pytest.fixture(scope="session")
def qrun(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QrunServer]:
    """The suite's server (port 0), shared by the tests that do not restart it."""
    if shutil.which("bwrap") is None:
        pytest.fail("the command backends need bubblewrap (Debian's bwrap)", pytest=False)
    server = make_server(tmp_path_factory.mktemp("qrun"))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.scripts)


@pytest.fixture
def fresh_qrun(tmp_path: Path) -> Iterator[QrunServer]:
    """A server of the test's own, not started (the test starts and restarts it)."""
    server = make_server(tmp_path)
    yield server
    server.kill()
    shutil.rmtree(server.scripts)


@pytest.fixture
def provider(qrun: QrunServer) -> QrunProvider:
    """A provider for alice on the suite's server."""
    return QrunProvider(qrun.url, qrun.token)


@pytest.fixture
def slow(provider: QrunProvider) -> QrunBackend:
    """The `slow` command backend (its unknown native gate's warning expected)."""
    with pytest.warns(QrunGateWarning, match="qrun_magic"):
        return provider.get_backend("command/slow")


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Waits until ``condition()`` is true, or fails the test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def api_get(server: QrunServer, path: str) -> Any:
    """A JSON GET as alice, straight through HTTP (what the server holds, not what the client
    says)."""
    response = requests.get(
        server.url + path, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def in_a_fresh_process(server: QrunServer, body: str) -> Any:
    """Runs ``body`` (Python source, dedented) in a new interpreter — this checkout's client and
    these tests importable, alice's token on its stdin — and returns the JSON of the last line
    it prints: what a notebook opened tomorrow sees, with nothing of this process's state."""
    paths = [str(REPO / "clients" / "python" / "src"), str(REPO / "clients" / "python" / "tests")]
    script = f"import sys\nsys.path[:0] = {paths!r}\n" + textwrap.dedent(body)
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=server.token,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])
