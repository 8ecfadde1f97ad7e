#!/usr/bin/env bash
# The claim at a deep queue, on PostgreSQL (issue 28): the fair-share claim against the
# oldest-first (FIFO) claim it replaced, side by side in one run on one database.
#
#   cargo build --release --bin qrun
#   scripts/bench_claim.sh                       # 1,000 users × 1,000 pending runs
#   USERS=1 PER_USER=1000000 scripts/bench_claim.sh   # one user's 1,000,000
#   (and LIMIT, CLIENTS, DURATION in seconds, BIN)
#
# A fresh database `qrun_bench_claim` (beside QRUN_BENCH_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test) migrated by `qrun`, then USERS users with PER_USER
# pending runs each (created interleaved, so every user's queue spans the whole time range),
# their queues counted, ANALYZEd. Each claim statement then runs in pgbench (CLIENTS clients,
# DURATION seconds, prepared) inside a transaction that is rolled back, so the queue stays as
# deep for every claim; each takes LIMIT runs. The fair-share transaction is the claim and the
# move of its users' counts (src/store/queues.rs renders both; the text below is the
# PostgreSQL rendering without weights, the default, with the parameters written in); the FIFO one is the claim of commit
# bd3e134. Prints each one's latency p50 / p90 / p99 / max and transactions per second from
# pgbench's per-transaction log, and the ratios. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

URL="${QRUN_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
USERS="${USERS:-1000}"
PER_USER="${PER_USER:-1000}"
LIMIT="${LIMIT:-8}"
CLIENTS="${CLIENTS:-2}"
SECONDS_EACH="${DURATION:-20}"
BIN="${BIN:-target/release/qrun}"
DB=qrun_bench_claim
DB_URL="${URL%/*}/$DB"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

psql -q "$URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
QRUN__DATABASE__URL="$DB_URL" QRUN__LOGGING__LEVEL=warn "$BIN" migrate >/dev/null
QRUN__DATABASE__URL="$DB_URL" QRUN__LOGGING__LEVEL=warn "$BIN" user create bench >/dev/null

echo "filling: $USERS users × $PER_USER pending runs"
psql -q "$DB_URL" <<SQL
INSERT INTO users (id, handle, created_at)
  SELECT gen_random_uuid(), 'user' || u, now() FROM generate_series(1, $USERS) u;
INSERT INTO circuits (id, owner_id, name, visibility, created_at)
  SELECT gen_random_uuid(), id, 'bell', 'public', now() FROM users WHERE handle LIKE 'user%';
INSERT INTO circuit_versions (circuit_id, version, source, manifest, created_at)
  SELECT id, 1, 'OPENQASM 2.0;', '{"framework": "qiskit", "format": "openqasm2"}', now()
  FROM circuits;
INSERT INTO runs (id, user_id, circuit_id, circuit_version, status, backend_type, backend_name,
                  framework, shots, analytics_consent, created_at)
  SELECT gen_random_uuid(), c.owner_id, c.id, 1, 'pending', 'simulator', 'statevector',
         'qiskit', 100, false,
         now() - interval '1 day' + (k * $USERS + c.n) * interval '1 microsecond'
  FROM (SELECT id, owner_id, row_number() OVER (ORDER BY id) AS n FROM circuits) c,
       generate_series(1, $PER_USER) k;
INSERT INTO user_queues (user_id, pending, running)
  SELECT user_id, count(*), 0 FROM runs GROUP BY user_id;
ANALYZE;
SQL

cat >"$WORK/fifo.sql" <<SQL
BEGIN;
WITH oldest AS MATERIALIZED (
  SELECT id FROM runs WHERE status = 'pending' AND created_at < now()
  ORDER BY created_at LIMIT $LIMIT FOR UPDATE SKIP LOCKED)
UPDATE runs SET status = 'running', started_at = now(), claimed_by = 'bench',
       lease_expires_at = now() + interval '30 seconds'
WHERE id = ANY(ARRAY(SELECT id FROM oldest)) AND status = 'pending' RETURNING *;
ROLLBACK;
SQL

cat >"$WORK/fair.sql" <<SQL
BEGIN;
WITH queues AS MATERIALIZED (
  SELECT q.user_id, q.running, q.last_claimed_at, 1.0 AS weight FROM user_queues q
  WHERE q.pending > 0 AND q.running < 9223372036854775807
  ORDER BY q.running, q.last_claimed_at NULLS FIRST, q.user_id
  LIMIT $LIMIT FOR UPDATE OF q SKIP LOCKED),
heads AS MATERIALIZED (
  SELECT r.id, q.user_id, q.running, q.weight, q.last_claimed_at,
         ROW_NUMBER() OVER (PARTITION BY q.user_id ORDER BY r.created_at, r.id) AS place
  FROM queues q CROSS JOIN LATERAL (SELECT id, created_at FROM runs
    WHERE user_id = q.user_id AND status = 'pending' AND created_at < now()
    ORDER BY created_at LIMIT $LIMIT FOR UPDATE SKIP LOCKED) r),
chosen AS MATERIALIZED (
  SELECT id FROM heads WHERE running + place <= 9223372036854775807
  ORDER BY (running + place - 1) / weight, last_claimed_at NULLS FIRST, user_id, place
  LIMIT $LIMIT)
UPDATE runs SET status = 'running', started_at = now(), claimed_by = 'bench',
       lease_expires_at = now() + interval '30 seconds'
WHERE status = 'pending' AND created_at < now() AND id = ANY(ARRAY(SELECT id FROM chosen))
RETURNING *;
INSERT INTO user_queues (user_id, pending, running, last_claimed_at)
  SELECT user_id, -count(*), count(*), now() FROM runs
  WHERE status = 'running' AND claimed_by = 'bench' GROUP BY user_id ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET pending = user_queues.pending + excluded.pending,
  running = user_queues.running + excluded.running,
  last_claimed_at = COALESCE(excluded.last_claimed_at, user_queues.last_claimed_at);
ROLLBACK;
SQL

# p50 / p90 / p99 / max in ms and tps from pgbench's log (column 3: latency in µs).
run() {
  local name=$1
  (cd "$WORK" && pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_EACH" \
    -l --log-prefix="$name" -f "$name.sql" "$DB_URL" >"$name.out" 2>&1)
  cat "$WORK/$name".[0-9]* | awk '{print $3}' | sort -n | awk -v name="$name" -v secs="$SECONDS_EACH" '
    { v[NR] = $1 }
    END {
      printf "%-5s %8.0f tps  p50 %6.2f  p90 %6.2f  p99 %6.2f  max %7.2f ms\n", name, NR / secs,
        v[int(NR * 0.50)] / 1000, v[int(NR * 0.90)] / 1000, v[int(NR * 0.99)] / 1000, v[NR] / 1000
    }' | tee -a "$WORK/summary"
}

echo "claims of $LIMIT runs, $CLIENTS clients, ${SECONDS_EACH} s each, $(date -u +%FT%TZ), $(nproc) CPUs"
run fifo
run fair
awk '{ p99[$1] = $9; tps[$1] = $2 } END {
  printf "fair ÷ fifo: p99 %.2f×, throughput %.2f×\n", p99["fair"] / p99["fifo"], tps["fair"] / tps["fifo"] }' \
  "$WORK/summary"
echo "rerun: USERS=$USERS PER_USER=$PER_USER LIMIT=$LIMIT CLIENTS=$CLIENTS DURATION=$SECONDS_EACH scripts/bench_claim.sh"
[ -n "${KEEP:-}" ] || psql -q "$URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
