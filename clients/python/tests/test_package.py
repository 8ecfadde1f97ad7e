"""The package as published: ``python -m build`` makes a wheel and an sdist of this tree
without writing into it; each installs into a fresh venv and imports at the version
``pyproject.toml`` gives it; ``pip install clients/python`` writes nothing into the tree
either. (Offline: the build backend, ``flit_core``, and ``build`` are pinned in
``requirements-test.txt``; the fresh venvs see this interpreter's packages, after their own, for
Qiskit and requests.)"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from conftest import REPO
from qrun_qiskit import __version__

PACKAGE = REPO / "clients" / "python"


def tree_state() -> str:
    """Every file git would report under ``clients/python``, ignored ones included (``build/``,
    ``*.egg-info``)."""
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all", str(PACKAGE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def fresh_venv(path: Path) -> Path:
    """A new venv at ``path`` that sees this interpreter's packages after its own; its
    python."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip_install(python: Path, what: Path) -> None:
    """Installs ``what`` (a wheel, an sdist or a source directory) into ``python``'s venv, with
    nothing downloaded."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            # Into this venv even when the outer one (seen through outer.pth) has the same
            # version installed, as scripts/test installs it there.
            "--ignore-installed",
            "--no-build-isolation",
            str(what),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def imported(python: Path) -> tuple[str, str, str]:
    """Where ``python`` imports ``qrun_qiskit`` from, its ``__version__``, and the version of
    the ``qrun-qiskit`` distribution it sees."""
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata, qrun_qiskit; "
            "print(qrun_qiskit.__file__); print(qrun_qiskit.__version__); "
            "print(importlib.metadata.version('qrun-qiskit'))",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
    )
    assert out.returncode == 0, out.stderr
    where, module_version, dist_version = out.stdout.split()
    return where, module_version, dist_version


def test_the_package_builds_and_installs_without_writing_into_the_tree(tmp_path: Path) -> None:
    before = tree_state()
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    artefacts = sorted(p.name for p in (tmp_path / "dist").iterdir())
    assert artefacts == [
        f"qrun_qiskit-{__version__}-py3-none-any.whl",
        f"qrun_qiskit-{__version__}.tar.gz",
    ]
    for name in (*artefacts, "source-directory"):
        what = tmp_path / "dist" / name if name != "source-directory" else PACKAGE
        target = tmp_path / f"venv-{name}"
        python = fresh_venv(target)
        pip_install(python, what)
        where, module_version, dist_version = imported(python)
        assert where.startswith(str(target)), (name, where)
        assert module_version == dist_version == __version__, name
    assert tree_state() == before, "building or installing wrote into clients/python"
