#!/usr/bin/env bash
# Cost of one Bell run through runners/qiskit_runner.py, outside and inside bubblewrap,
# split into interpreter start, imports and the rest (loading + transpile + simulation).
# Needs hyperfine and bwrap (Debian's `hyperfine`, `bubblewrap`); hyperfine's shell start is
# measured and subtracted by hyperfine itself.
#   bash runners/tests/bench_bell.sh [RUNS]      (default 10 runs each, medians printed)
set -euo pipefail
RUNS=${1:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)           # runners/
PY=${QRUN_VENV_PYTHON:-/opt/qrun-venv/bin/python}
VENV=$(cd "$(dirname "$PY")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" - "$TMP/bell.json" <<'EOF'
import json, sys
source = """from qiskit import QuantumCircuit
circuit = QuantumCircuit(2, 2)
circuit.h(0)
circuit.cx(0, 1)
circuit.measure([0, 1], [0, 1])
"""
json.dump({"source": source, "format": "python", "shots": 1024, "seed": 7}, open(sys.argv[1], "w"))
EOF

BWRAP="bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr \
 --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin \
 --ro-bind $VENV $VENV --ro-bind $HERE /opt/qrun/runners --proc /proc --dev /dev --tmpfs /tmp \
 --clearenv --setenv PATH /usr/bin:/bin --setenv HOME /tmp --setenv LANG C.UTF-8 \
 --setenv OMP_NUM_THREADS 1 --chdir /tmp --"
ENV="env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 OMP_NUM_THREADS=1"
IMPORTS="import json, os, sys; from qiskit import QuantumCircuit, transpile; from qiskit_aer import AerSimulator"

hyperfine --style basic --warmup 2 --runs "$RUNS" \
  --export-json "$TMP/h.json" \
  -n "interpreter start" "$ENV $PY -c pass" \
  -n "interpreter + imports" "$ENV $PY -c '$IMPORTS'" \
  -n "Bell run, no sandbox" "$ENV $PY $HERE/qiskit_runner.py < $TMP/bell.json" \
  -n "bwrap, interpreter start" "$BWRAP $PY -c pass" \
  -n "Bell run, in bwrap" "$BWRAP $PY /opt/qrun/runners/qiskit_runner.py < $TMP/bell.json" \
  >&2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$PY" - "$TMP/h.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    # bwrap's pid namespace hides the runner's CPU time from hyperfine's rusage
    cpu = "n/a" if "bwrap" in r["command"] else f"{(r['user'] + r['system']) * 1000:.1f} ms"
    print(f"{r['command']:<28} median {r['median']*1000:7.1f} ms  (min {r['min']*1000:6.1f}, "
          f"max {r['max']*1000:6.1f})  cpu (user+sys, mean) {cpu}")
EOF

# The same two Bell runs alternated, so a change of load on the machine hits both alike.
echo "alternating, $RUNS pairs:"
"$PY" - "$TMP/bell.json" "$PY" "$HERE/qiskit_runner.py" "$RUNS" $BWRAP <<'EOF'
import statistics, subprocess, sys, time
job, py, runner, runs, bwrap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}
commands = {
    "Bell run, no sandbox": [py, runner],
    "Bell run, in bwrap": [*bwrap, py, "/opt/qrun/runners/qiskit_runner.py"],
}
times = {name: [] for name in commands}
for _ in range(runs):
    for name, cmd in commands.items():
        with open(job, "rb") as stdin:
            start = time.perf_counter()
            subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, env=env, check=True)
            times[name].append(time.perf_counter() - start)
for name, t in times.items():
    print(f"{name:<28} median {statistics.median(t)*1000:7.1f} ms  (min {min(t)*1000:6.1f}, max {max(t)*1000:6.1f})")
outside, inside = (statistics.median(t) for t in times.values())
print(f"sandbox adds {1000*(inside - outside):.1f} ms at the median")
EOF

# Where one run's time goes, measured inside fresh processes (medians of $RUNS).
echo "phases inside the runner process, $RUNS processes:"
for _ in $(seq "$RUNS"); do
  $ENV "$PY" -c '
import sys, time
t0 = time.perf_counter()
from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator
t1 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import json, qiskit_runner as r
source, fmt, shots, seed, params = r.read_job(open(sys.argv[2], "rb").read())
circuit = r.bind_parameters(r.load_python(source), params, fmt)
r.check_circuit(circuit, None)
t2 = time.perf_counter()
r.execute(circuit, shots, seed)
t3 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1} {t3 - t2}")
' "$HERE" "$TMP/bell.json"
done | "$PY" -c '
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin]
for i, name in enumerate(["imports (qiskit, qiskit_aer)", "load the module + checks", "transpile + simulate 1024 shots"]):
    print(f"{name:<34} median {statistics.median(r[i] for r in rows) * 1000:7.1f} ms")
'
