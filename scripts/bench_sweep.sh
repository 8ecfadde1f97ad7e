#!/usr/bin/env bash
# Watchdog sweep and /api/health/runs cost with 1,000,000 runs (10,000 running) on PostgreSQL:
# prints the query plans (EXPLAIN ANALYZE) of the sweep's and the health report's queries and
# the latency of GET /api/health/runs. Not run in CI.
#
#   scripts/bench_sweep.sh [postgres://postgres@127.0.0.1:5432]   (needs psql, curl, a built qrun)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER="${1:-postgres://postgres@127.0.0.1:5432}"
DB=qrun_bench_sweep
QRUN=${QRUN:-target/release/qrun}
[ -x "$QRUN" ] || QRUN=target/debug/qrun
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -qc "CREATE DATABASE $DB"
URL="$SERVER/$DB"
QRUN__DATABASE__URL=$URL QRUN__LOGGING__LEVEL=warn "$QRUN" migrate
echo "filling 1,000,000 runs (990,000 completed, 10,000 running)…"
psql "$URL" -q <<'SQL'
INSERT INTO users (id, handle, created_at) VALUES ('00000000-0000-7000-8000-000000000001', 'bench', now());
INSERT INTO circuits (id, owner_id, name, visibility, created_at)
  VALUES ('00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'bell', 'public', now());
INSERT INTO circuit_versions (circuit_id, version, source, manifest, created_at)
  VALUES ('00000000-0000-7000-8000-000000000002', 1, 'OPENQASM 2.0;', '{"framework":"qiskit","format":"openqasm2"}', now());
INSERT INTO runs (id, user_id, circuit_id, circuit_version, status, backend_type, backend_name, framework, shots,
                  results, analytics_consent, created_at, started_at, completed_at, claimed_by, lease_expires_at)
SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000002', 1,
       CASE WHEN i <= 10000 THEN 'running' ELSE 'completed' END, 'simulator', 'statevector', 'qiskit', 100,
       CASE WHEN i <= 10000 THEN NULL ELSE '{"counts":{"00":50,"11":50},"shots":100,"execution_time":0.001,"unique_states":2}'::jsonb END,
       false,
       now() - (i || ' seconds')::interval - interval '1 second',
       now() - (i || ' seconds')::interval,
       CASE WHEN i <= 10000 THEN NULL ELSE now() - (i || ' seconds')::interval + interval '1 millisecond' END,
       'bench-node',
       CASE WHEN i <= 10000 THEN now() + interval '1 hour' ELSE NULL END
FROM generate_series(1, 1000000) AS i;
ANALYZE runs;
SQL
explain() { echo; echo "### $1"; psql "$URL" -Atc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $2"; }
explain "sweep: stranded runs (TTL 1 h: 6,400 of the 10,000 running are past it)" \
  "SELECT id FROM runs WHERE status = 'running' AND (started_at < now() - interval '1 hour' OR lease_expires_at < now()) LIMIT 1000"
explain "sweep, nothing stranded (TTL 4 h, leases valid): the whole running set is checked" \
  "SELECT id FROM runs WHERE status = 'running' AND (started_at < now() - interval '4 hours' OR lease_expires_at < now()) LIMIT 1000"
explain "health: pending count" "SELECT count(*) FROM runs WHERE status = 'pending'"
explain "health: running count" "SELECT count(*) FROM runs WHERE status = 'running'"
explain "health: oldest running" "SELECT started_at FROM runs WHERE status = 'running' ORDER BY started_at LIMIT 1"
explain "claim: oldest pending" "SELECT id FROM runs WHERE status = 'pending' AND created_at < now() ORDER BY created_at LIMIT 8 FOR UPDATE SKIP LOCKED"
echo
QRUN__DATABASE__URL=$URL QRUN__SERVER__BIND=127.0.0.1:18099 QRUN__EXECUTOR__ENABLED=false \
  QRUN__LOGGING__LEVEL=warn "$QRUN" serve &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf localhost:18099/healthz >/dev/null && break; sleep 0.1; done
echo "GET /api/health/runs: $(curl -s localhost:18099/api/health/runs)"
for _ in 1 2 3; do curl -s -o /dev/null localhost:18099/api/health/runs; done
echo "latency over 20 requests (s):"
for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{time_total}\n' localhost:18099/api/health/runs; done | sort -n | awk '{a[NR]=$1} END {printf "  min %s  median %s  max %s\n", a[1], a[int((NR+1)/2)], a[NR]}'
kill $PID; wait $PID 2>/dev/null || true
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
echo "rerun: scripts/bench_sweep.sh $SERVER"
