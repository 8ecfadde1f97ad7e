#!/usr/bin/env bash
# Bob's queue wait behind Alice's burst (issue 28), through a real `qrun serve` on embedded
# SQLite: 4 slots, a command backend whose runs take SLEEP seconds (unsandboxed), Alice submits
# BURST runs, then Bob one; prints how long Bob's run waited pending (`started_at -
# created_at`, from the API) beside the slot's run time. Not run in CI.
#
#   cargo build --release --bin qrun
#   scripts/bench_fair_wait.sh                 # BURST=150 SLEEP=0.5 (the issue's case)
#   BURST=1000 scripts/bench_fair_wait.sh      # and BIN=path for another build
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${BIN:-target/release/qrun}")"
BURST="${BURST:-150}"
SLEEP="${SLEEP:-0.5}"
WORK="$(mktemp -d)"
chmod 0755 "$WORK"
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

cat >"$WORK/slow.sh" <<SH
#!/bin/sh
cat >/dev/null
sleep $SLEEP
printf '{"counts": {"00": 10}}'
SH
chmod 0755 "$WORK/slow.sh"
cat >"$WORK/qrun.toml" <<TOML
[server]
bind = "127.0.0.1:0"
[database]
url = "sqlite://$WORK/qrun.db?mode=rwc"
[executor]
max_concurrent_runs = 4
max_active_runs_per_user = 100000
user_submissions_per_s = 100000
user_submission_burst = 100000
[[backends]]
type = "command"
name = "slow"
program = "$WORK/slow.sh"
timeout_s = 60
[backends.sandbox]
enabled = false
TOML
export QRUN_CONFIG="$WORK/qrun.toml" QRUN__LOGGING__LEVEL=warn,qrun=info
"$BIN" migrate >/dev/null
ALICE=$("$BIN" user create alice)
BOB=$("$BIN" user create bob)
"$BIN" serve >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  BASE=$(grep -o 'listening on http://[0-9.:]*' "$WORK/serve.log" | head -n1 | sed 's/listening on //') && [ -n "$BASE" ] && break
  sleep 0.1
done
BELL='OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
curl -sf -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
  -d "{\"name\": \"bell\", \"visibility\": \"public\", \"source\": \"$BELL\", \"manifest\": {\"framework\": \"qiskit\", \"format\": \"openqasm2\"}}" \
  "$BASE/api/circuits" >/dev/null
RUN='{"circuit": "alice/bell", "backend": {"type": "command", "name": "slow"}, "shots": 10}'
for _ in $(seq 1 "$BURST"); do
  curl -sf -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' -d "$RUN" "$BASE/api/runs" >/dev/null
done
BOBS=$(curl -sf -H "Authorization: Bearer $BOB" -H 'Content-Type: application/json' -d "$RUN" "$BASE/api/runs")
ID=$(echo "$BOBS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# A build before issue 28 (BIN=… for the "before") has no queue position: "n/a".
POSITION=$(curl -sf "$BASE/api/runs/$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("queue_position", "n/a"))')
while :; do
  RUN_NOW=$(curl -sf "$BASE/api/runs/$ID")
  STATUS=$(echo "$RUN_NOW" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$STATUS" != pending ] && break
  sleep 0.05
done
echo "$RUN_NOW" | python3 -c '
import json, sys
from datetime import datetime
run = json.load(sys.stdin)
created = datetime.fromisoformat(run["created_at"].replace("Z", "+00:00"))
started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
print(f"Bob behind Alice'"'"'s '"$BURST"' runs (4 slots, {'"$SLEEP"'} s runs): queue_position just after submission '"$POSITION"', waited {(started - created).total_seconds():.3f} s pending")
'
echo "rerun: BURST=$BURST SLEEP=$SLEEP scripts/bench_fair_wait.sh   ($(date -u +%FT%TZ), $(nproc) CPUs)"
