#!/usr/bin/env bash
# Creates the venv scripts/bench_peers.py runs the peer simulators in, from PyPI wheels
# (issue 29): Qiskit with Aer, qsimcirq with cirq-core and ply (cirq's OpenQASM import), and
# PRISM-Q's Python bindings. Usage: scripts/bench_peers_setup.sh [VENV] (default
# /tmp/qrun-peers-venv); then VENV/bin/python scripts/bench_peers.py.
set -euo pipefail
venv="${1:-/tmp/qrun-peers-venv}"
python="${PYTHON:-/usr/bin/python3}"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet \
    "qiskit==2.6.2" "qiskit-aer==0.18.2" \
    "qsimcirq==0.22.1" "cirq-core" "ply" \
    "prism-q==0.35.0"
"$venv/bin/pip" list 2>/dev/null | grep -i -E '^(qiskit|qiskit-aer|qsimcirq|cirq-core|prism-q) '
echo "venv ready: $venv"
