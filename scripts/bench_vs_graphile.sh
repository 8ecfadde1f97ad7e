#!/usr/bin/env bash
# qrun end to end on PostgreSQL against graphile-worker's processing rate, measured in one go
# on the same server (issue 17), and the ratio:
#
#   scripts/bench_vs_graphile.sh                 # target/release/qrun
#   QRUN_BIN=/path/to/qrun scripts/bench_vs_graphile.sh
#
# 1. `cargo bench --bench e2e -- throughput --db postgres --runs $RUNS --concurrency
#    $E2E_CONCURRENCY --bin $QRUN_BIN`: one `qrun serve`, 32 clients, Bell × 100 shots with
#    consent (every audit and outbox row), from the first submission to the last completion.
# 2. `cargo bench --bench nodes -- throughput --backlog --runs $DRAIN_RUNS --concurrency
#    $DRAIN_CONCURRENCY`: the same runs submitted first through an API-only node, then one
#    worker started and timed draining them — the shape of graphile-worker's figure (jobs
#    enqueued, then processed).
# 3. `ONLY=graphile scripts/bench_limits.sh`: graphile-worker 0.18 processing no-op jobs with
#    its defaults.
# 4. Both ratios; and, when the server has pg_stat_statements loaded (shared_preload_libraries),
#    the statements of the end-to-end run by total time, with calls per run.
#
# Knobs: QRUN_BIN, RUNS (10000), E2E_CONCURRENCY (32, the e2e bench's default), DRAIN_RUNS
# (20000), DRAIN_CONCURRENCY (512), GRAPHILE_JOBS (20000), PG_ADMIN_URL
# (postgres://postgres@127.0.0.1:5432/postgres). Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

QRUN_BIN=${QRUN_BIN:-target/release/qrun}
RUNS=${RUNS:-10000}
E2E_CONCURRENCY=${E2E_CONCURRENCY:-32}
DRAIN_RUNS=${DRAIN_RUNS:-20000}
DRAIN_CONCURRENCY=${DRAIN_CONCURRENCY:-512}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export GRAPHILE_JOBS=${GRAPHILE_JOBS:-20000} PG_ADMIN_URL

stats=$(psql "$PG_ADMIN_URL" -qAt -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'" 2>/dev/null || echo 0)
if [[ $stats == 1 ]]; then
  psql "$PG_ADMIN_URL" -qAt -c "SELECT pg_stat_statements_reset()" >/dev/null
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== qrun end to end ($QRUN_BIN, $RUNS runs)"
cargo bench --bench e2e -- throughput --db postgres --runs "$RUNS" --concurrency "$E2E_CONCURRENCY" \
  --bin "$QRUN_BIN" 2>&1 | tee "$out/qrun.txt"
qrun_rate=$(sed -nE 's/.* ([0-9.]+) runs\/s end to end.*/\1/p' "$out/qrun.txt" | tail -n1)

if [[ $stats == 1 ]]; then
  echo "== qrun's statements (pg_stat_statements; calls per run = calls / $RUNS)"
  psql "$PG_ADMIN_URL" -qA -F ' | ' -c "
    SELECT round(total_exec_time::numeric, 0) AS total_ms,
           round(calls::numeric / $RUNS, 2) AS calls_per_run,
           round(rows::numeric / greatest(calls, 1), 1) AS rows_per_call,
           left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
    FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid
    -- the bench's database, dropped by now (statistics were reset just before it)
    WHERE d.oid IS NULL OR d.datname LIKE 'qrun_bench%'
    ORDER BY total_exec_time DESC LIMIT 15"
fi

echo "== qrun draining a backlog ($DRAIN_RUNS runs, max_concurrent_runs = $DRAIN_CONCURRENCY)"
cargo bench --bench nodes -- throughput --workers 1 --backlog --runs "$DRAIN_RUNS" \
  --concurrency "$DRAIN_CONCURRENCY" --bin "$QRUN_BIN" 2>&1 | tee "$out/drain.txt"
drain_rate=$(sed -nE 's/.* ([0-9.]+) runs\/s draining the backlog.*/\1/p' "$out/drain.txt" | tail -n1)

echo "== graphile-worker"
ONLY=graphile scripts/bench_limits.sh 2>&1 | tee "$out/graphile.txt"
gw_rate=$(sed -nE 's/.*process them, concurrency [0-9]+ \| ([0-9.]+) jobs\/s.*/\1/p' "$out/graphile.txt" | tail -n1)

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "graphile-worker: $gw_rate jobs/s ($(date -u +%FT%TZ), $(nproc) cores)"
echo "qrun end to end (max_concurrent_runs = $E2E_CONCURRENCY): $qrun_rate runs/s; ratio $(ratio "$qrun_rate" "$gw_rate")x"
echo "qrun draining a backlog (max_concurrent_runs = $DRAIN_CONCURRENCY): $drain_rate runs/s; ratio $(ratio "$drain_rate" "$gw_rate")x"
