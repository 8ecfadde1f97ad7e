#!/usr/bin/env bash
# Property-based API testing: schemathesis against the served `/openapi.json`, as an
# authenticated user, with every check on. Not run in CI (it needs PyPI and takes minutes).
#
#   scripts/schemathesis.sh                              # target/release/qrun
#   QRUN_BIN=target-x/release/qrun scripts/schemathesis.sh
#
# What it does: a venv with a pinned schemathesis (reused across runs); `qrun serve` on a
# fresh SQLite file in a temp dir at a free port (bind 127.0.0.1:0, the address read from the
# "listening on" log line), executor on so runs really execute, with a second backend besides
# the simulator: `command/slow`, a sandboxed program that takes 2 s per run and allows fewer
# shots (so runs live long enough to be cancelled, and the document's per-backend shot limit
# is exercised); a user from `qrun user create` on the same database; a public Bell-state
# circuit `schemathesis/bell` and two runs of it created through the API (so run submission
# has something valid to hit); then `schemathesis run` with every check, a fixed seed and a
# fixed number of examples per operation, all phases (examples, coverage, fuzzing, stateful,
# the last from the document's links and those schemathesis infers), continuing past
# failures, and a hook that supplies the data JSON Schema cannot describe (see below). It
# stops the server, prints schemathesis' summary, a per-check tally and how many requests
# carried a NUL character (U+0000: schemathesis generates it in strings unless
# `generation.allow-x00 = false`; every string a request declares excludes it, so those are
# negative cases, each of which must be refused), and exits non-zero on any failure, on any
# warning, or if no request carried a NUL.
#
# Knobs (environment): QRUN_BIN, SCHEMATHESIS_EXAMPLES (per operation, default 100),
# SCHEMATHESIS_SEED (default 9), SCHEMATHESIS_VENV, SCHEMATHESIS_WORKERS (default 1: the
# machine is small and a fixed order keeps a seeded run reproducible), SCHEMATHESIS_ARGS
# (extra arguments, e.g. "--include-path-regex ^/api/runs"), KEEP=1 (keep the temp dir: the
# server log and the reports).
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-100}
SEED=${SCHEMATHESIS_SEED:-9}
WORKERS=${SCHEMATHESIS_WORKERS:-1}
VENV=${SCHEMATHESIS_VENV:-${TMPDIR:-/tmp}/qrun-schemathesis-venv}

cd "$(dirname "$0")/.."
QRUN_BIN=${QRUN_BIN:-target/release/qrun}
case $QRUN_BIN in /*) ;; *) QRUN_BIN=$PWD/$QRUN_BIN ;; esac
if [[ ! -x $QRUN_BIN ]]; then
    echo "no qrun binary at $QRUN_BIN: cargo build --release --bin qrun (or set QRUN_BIN)" >&2
    exit 2
fi

# --- schemathesis, pinned, in its own venv ---------------------------------------------------
if [[ ! -x $VENV/bin/schemathesis ]] ||
    [[ $("$VENV/bin/schemathesis" --version 2>/dev/null) != *" $SCHEMATHESIS_VERSION" ]]; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/schemathesis" --version

# --- a fresh service -------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qrun-schemathesis.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $WORK (server.log, report/)"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# The simulator (the default backend) and a slow, sandboxed command backend: a run on it
# takes 2 s, so the stateful phase's cancels (linked from each created run) find it alive.
cat >"$WORK/qrun.toml" <<'TOML'
[[backends]]
type = "command"
name = "slow"
program = "/usr/bin/python3"
args = ["-c", "import json, sys, time; job = json.load(sys.stdin); time.sleep(2); print(json.dumps({'counts': {'0': job['shots']}}))"]
formats = ["openqasm2", "openqasm3"]
timeout_s = 60
max_shots = 1000
TOML
export QRUN_CONFIG=$WORK/qrun.toml
export QRUN__DATABASE__URL="sqlite://$WORK/qrun.db?mode=rwc"
export QRUN__SERVER__BIND=127.0.0.1:0
export QRUN__EXECUTOR__ENABLED=true
export QRUN__ANALYTICS__SINK=none
export QRUN__METRICS__ENABLED=true
export QRUN__LOGGING__FORMAT=json
export QRUN__LOGGING__LEVEL=info

"$QRUN_BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 300); do
    ADDR=$(grep -oE 'listening on http://[0-9.]+:[0-9]+' "$WORK/server.log" | head -n1 | sed 's|.*http://||' || true)
    [[ -n $ADDR ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "qrun serve exited early:" >&2
        cat "$WORK/server.log" >&2
        exit 2
    fi
    sleep 0.1
done
if [[ -z $ADDR ]]; then
    echo "qrun serve did not log 'listening on' within 30 s" >&2
    cat "$WORK/server.log" >&2
    exit 2
fi
BASE=http://$ADDR
echo "== qrun serve (pid $SERVER_PID) on $BASE, database $WORK/qrun.db"

TOKEN=$("$QRUN_BIN" user create schemathesis)

# Test data that JSON Schema cannot describe, supplied by a hook to the schema-valid
# ("positive") cases of every phase; negative cases keep their schema-violating values:
# - an OpenQASM program of the manifest's version for every uploaded OpenQASM `source` (the
#   grammar is checked on upload; a `python` source is stored as it is, so it keeps its own);
# - the circuit created below for every submission (random names and ids are only 404s), and
#   no parameters (it is an OpenQASM 2 circuit: it has none; which parameters a circuit takes
#   is in its source);
# - a cursor the API issued for every `cursor` (it is opaque);
# - an Idempotency-Key of its own for each distinct submission (reusing one for another
#   submission is a 422 by design: the key names one submission).
# The backends, their shot limits and the frameworks are in the document itself (it is built
# from the running configuration).
cat >"$WORK/hooks.py" <<'PY'
import hashlib
import json
import os

import schemathesis

SOURCES = {
    "openqasm2": [
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n',
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n',
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nx q[0];\nmeasure q[0] -> c[0];\n',
    ],
    "openqasm3": [
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n',
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit q;\nbit c;\nry(theta) q;\nc = measure q;\n',
    ],
}
CIRCUIT = os.environ["QRUN_ST_CIRCUIT"]
CIRCUIT_ID = os.environ["QRUN_ST_CIRCUIT_ID"]
CURSOR = os.environ["QRUN_ST_CURSOR"]


def positive(case):
    return case.meta is None or case.meta.generation.mode.is_positive


@schemathesis.hook("map_case").apply_to(method="POST", path="/api/runs")
def submission(context, case):
    body = case.body
    if not positive(case) or not isinstance(body, dict):
        return case
    if isinstance(body.get("parameters"), dict):
        body["parameters"] = {}
    if isinstance(body.get("circuit"), str):
        body["circuit"] = CIRCUIT
    if isinstance(body.get("circuit_id"), str):
        body["circuit_id"] = CIRCUIT_ID
    headers = case.headers or {}
    key = next((name for name in headers if name.lower() == "idempotency-key"), None)
    if key is not None:
        consent = {n.lower(): v for n, v in headers.items()}.get("x-analytics-consent", "")
        submission = json.dumps([body, str(consent).strip().lower()], sort_keys=True)
        headers[key] = hashlib.sha256(submission.encode()).hexdigest()
    return case


@schemathesis.hook("map_case").apply_to(method="POST", path_regex="^/api/circuits")
def upload(context, case):
    body = case.body
    if positive(case) and isinstance(body, dict) and isinstance(body.get("source"), str):
        sources = SOURCES.get((body.get("manifest") or {}).get("format"))
        if sources:
            body["source"] = sources[len(body["source"]) % len(sources)]
    return case


@schemathesis.hook("map_case").apply_to(method="GET", path="/api/runs")
def page(context, case):
    if positive(case) and case.query and "cursor" in case.query:
        case.query["cursor"] = CURSOR
    return case
PY

api() { # METHOD PATH [BODY]: prints the answer's body; fails unless it is a 2xx
    local out status
    out=$(mktemp "$WORK/response.XXXXXX")
    status=$(curl -sS -o "$out" -w '%{http_code}' -X "$1" "$BASE$2" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"})
    if [[ $status != 2?? ]]; then
        echo "$1 $2 answered $status: $(cat "$out")" >&2
        return 1
    fi
    cat "$out"
}
field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# A public Bell-state circuit, so that run submission has something valid to hit.
BELL='OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
circuit=$(api POST /api/circuits "{\"name\": \"bell\", \"visibility\": \"public\", \"source\": \"$BELL\",
    \"manifest\": {\"framework\": \"qiskit\", \"format\": \"openqasm2\"}}")
echo "== created circuit schemathesis/bell: $circuit"
export QRUN_ST_CIRCUIT=schemathesis/bell
QRUN_ST_CIRCUIT_ID=$(field id <<<"$circuit")
export QRUN_ST_CIRCUIT_ID
# Two runs of it: run reads have real runs to find, and the list a real cursor to page with.
for _ in 1 2; do
    api POST /api/runs '{"circuit": "schemathesis/bell", "backend": {"type": "simulator", "name": "statevector"}, "shots": 100}' >/dev/null
done
QRUN_ST_CURSOR=$(api GET '/api/runs?limit=1' | field next_cursor)
export QRUN_ST_CURSOR
echo "== submitted 2 runs; a page cursor: $QRUN_ST_CURSOR"

# Every warning fails the run (missing test data, schema-valid data mostly refused, ...).
cat >"$WORK/schemathesis.toml" <<TOML
hooks = "$WORK/hooks.py"

[warnings]
fail-on = true

[cache]
enabled = false
TOML

# --- schemathesis ----------------------------------------------------------------------------
cmd=("$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json"
    --header "Authorization: Bearer $TOKEN"
    --checks all
    --phases examples,coverage,fuzzing,stateful
    --max-examples "$EXAMPLES"
    --seed "$SEED"
    --workers "$WORKERS"
    --generation-database none
    --continue-on-failure
    --request-timeout 30
    --no-color
    --report junit,ndjson --report-dir "$WORK/report")
# shellcheck disable=SC2206 # deliberately word-split
cmd+=(${SCHEMATHESIS_ARGS:-})
echo "== ${cmd[*]/$TOKEN/TOKEN}"
set +e
(cd "$WORK" && "${cmd[@]}") 2>&1 | tee "$WORK/schemathesis.log"
rc=${PIPESTATUS[0]}
set -e

# --- summary ---------------------------------------------------------------------------------
echo
echo "== per check (from the NDJSON report)"
set +e
python3 - "$WORK"/report/ndjson-*.ndjson <<'PY'
import collections, json, sys


def nul_in(value):
    """Whether a request's part holds a NUL: in a string, or a key, anywhere inside."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(nul_in(k) or nul_in(v) for k, v in value.items())
    if isinstance(value, list):
        return any(nul_in(v) for v in value)
    return False


operations, cases, server_errors = set(), 0, 0
failures = collections.defaultdict(collections.Counter)
# Requests that carried U+0000, by the part that did and the answer's status.
nuls = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    finished = json.loads(line).get("ScenarioFinished")
    if not finished:
        continue
    recorder = finished["recorder"]
    for case_id, checks in recorder.get("checks", {}).items():
        case = recorder["cases"][case_id]["value"]
        label = f"{case['method']} {case['path']}"
        operations.add(label)
        cases += 1
        response = (recorder.get("interactions", {}).get(case_id) or {}).get("response") or {}
        status = response.get("status_code")
        server_errors += status is not None and status >= 500
        for check in checks:
            if check["status"] == "failure":
                failures[check["name"]][f"{label} -> {status}"] += 1
        for part in ("body", "query", "path_parameters", "headers"):
            if nul_in(case.get(part)):
                mode = ((case.get("meta") or {}).get("generation") or {}).get("mode")
                nuls[f"{part}, {mode}"][status] += 1
print(f"{len(operations)} method/path pairs, {cases} test cases, {server_errors} answers 5xx")
for name, where in sorted(failures.items()):
    print(f"  {name}: {sum(where.values())} cases, {len(where)} method/path/status")
    for key, count in sorted(where.items())[:20]:
        print(f"    {key} x{count}")
if not failures:
    print("  no check failed")
print(f"requests carrying U+0000: {sum(sum(c.values()) for c in nuls.values())}")
for where, statuses in sorted(nuls.items()):
    print(f"  in {where}: " + ", ".join(f"{n} answered {s}" for s, n in sorted(statuses.items(), key=str)))
# The run must include them (issue 20, item 9): schemathesis' strings do unless allow-x00 is off.
sys.exit(0 if nuls else 1)
PY
[[ $? == 0 ]] || { echo "no request carried U+0000" >&2; rc=1; }
set -e
# hyper logs a "server connection error" for a request it refuses to parse (schemathesis sends
# a control byte in a header): an HTTP 400 from hyper, not an error of the service.
echo "== server log: errors and warnings"
grep -E '"level":"(ERROR|WARN)"' "$WORK/server.log" | head -n 20 || echo "(none)"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "qrun serve died during the run" >&2
    rc=1
fi
echo
echo "== schemathesis $SCHEMATHESIS_VERSION, seed $SEED, $EXAMPLES examples per operation: exit $rc"
exit "$rc"
