#!/usr/bin/env bash
# The databases' own limits for qrun's run lifecycle (issue 7), and the graphile-worker
# reference, in one command:
#
#   scripts/bench_limits.sh
#
# 1. PostgreSQL: pgbench runs scripts/pgbench_lifecycle.sql (one script = one lifecycle =
#    three transactions) at 32 clients for 30 s on a fresh database migrated by
#    `qrun migrate` and seeded with one user, one public Bell circuit and its version;
#    pgbench's tps is lifecycles/s.
# 2. SQLite: `cargo bench --bench sqlite_limit` (the same lifecycle at qrun's durability
#    settings: one loop, then 32 concurrent tasks).
# 3. graphile-worker 0.18 (scripts/graphile): N no-op jobs enqueued with addJobs, then
#    processed by one worker at concurrency 10, on a fresh database.
# Every database is created fresh and dropped afterwards. Raw outputs go to
# target/bench_limits/<UTC time>/; a summary table is printed at the end.
#
# Knobs (environment): PG_ADMIN_URL (a user allowed to create databases; default
# postgres://postgres@127.0.0.1:5432/postgres), PGBENCH_SECS (30), PGBENCH_CLIENTS (32),
# PGBENCH_THREADS (2), PGBENCH_MODE (prepared, as sqlx prepares qrun's statements; or extended),
# SQLITE_SECS (10), SQLITE_TASKS (32), GRAPHILE_JOBS (20000), GRAPHILE_CONCURRENCY (10),
# QRUN_BIN (target/release/qrun; built with `cargo build --release` when missing),
# SQLITE_BIN (a built sqlite_limit executable: skips its build), CARGO_JOBS (cargo's -j for
# the builds; default cargo's), ONLY (pgbench, sqlite or graphile:
# run just that one).
#
# Needs: pgbench and psql (PostgreSQL 13+ client: gen_random_uuid is core since 13), cargo,
# npm (scripts/graphile brings its own Node 22, which graphile-worker 0.18 requires).

set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PGBENCH_SECS=${PGBENCH_SECS:-30}
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-32}
PGBENCH_THREADS=${PGBENCH_THREADS:-2}
PGBENCH_MODE=${PGBENCH_MODE:-prepared}
SQLITE_SECS=${SQLITE_SECS:-10}
SQLITE_TASKS=${SQLITE_TASKS:-32}
GRAPHILE_JOBS=${GRAPHILE_JOBS:-20000}
GRAPHILE_CONCURRENCY=${GRAPHILE_CONCURRENCY:-10}
QRUN_BIN=${QRUN_BIN:-target/release/qrun}
ONLY=${ONLY:-}
cargo_jobs=()
if [[ -n ${CARGO_JOBS:-} ]]; then cargo_jobs=(-j "$CARGO_JOBS"); fi

want() { [[ -z $ONLY || $ONLY == "$1" ]]; }

out=target/bench_limits/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
pg_db=qrun_limit_pgbench_$$
gw_db=qrun_limit_graphile_$$
db_url() { printf '%s/%s' "${PG_ADMIN_URL%/*}" "$1"; }

cleanup() {
  for db in "$pg_db" "$gw_db"; do
    psql "$PG_ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

note() { printf '== %s\n' "$*" >&2; }

# --- build everything first, so no build overlaps a measurement --------------------------
if want pgbench; then
  command -v pgbench >/dev/null || { echo "pgbench not found (Debian: postgresql-client)" >&2; exit 1; }
  if [[ ! -x $QRUN_BIN ]]; then
    note "building $QRUN_BIN"
    cargo build --release --bin qrun "${cargo_jobs[@]}"
  fi
fi
sqlite_bin=${SQLITE_BIN:-}
if want sqlite && [[ -z $sqlite_bin ]]; then
  note "building the sqlite_limit bench"
  cargo bench --bench sqlite_limit --no-run "${cargo_jobs[@]}" 2>"$out/sqlite_build.log" \
    || { cat "$out/sqlite_build.log" >&2; exit 1; }
  # Run the executable just built: `cargo bench` again would rebuild first should a source
  # have changed meanwhile, in the middle of the measurements.
  sqlite_bin=$(sed -nE 's/^ *Executable benches\/sqlite_limit\.rs \((.*)\)$/\1/p' "$out/sqlite_build.log")
  [[ -x $sqlite_bin ]] || { cat "$out/sqlite_build.log" >&2; echo "no sqlite_limit executable" >&2; exit 1; }
fi
if want graphile; then
  if [[ ! -x scripts/graphile/node_modules/.bin/node ]] \
    || [[ scripts/graphile/package-lock.json -nt scripts/graphile/node_modules/.package-lock.json ]]; then
    note "npm ci in scripts/graphile"
    npm ci --prefix scripts/graphile --no-audit --no-fund >"$out/npm_ci.log" 2>&1 \
      || { cat "$out/npm_ci.log" >&2; exit 1; }
  fi
fi

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(uptime)
{
  echo "started: $started"
  echo "uptime before: $load_before"
  echo "nproc: $(nproc)"
  psql "$PG_ADMIN_URL" -qAt -c "SELECT version()"
  psql "$PG_ADMIN_URL" -qAt -c "SELECT name || '=' || setting FROM pg_settings WHERE name IN
    ('fsync','synchronous_commit','wal_sync_method','shared_buffers','commit_delay','max_connections')"
} >"$out/machine.txt"

# Samples the load average every 5 s while the benchmarks run.
( while sleep 5; do printf '%s %s\n' "$(date -u +%H:%M:%S)" "$(cut -d' ' -f1-3 /proc/loadavg)"; done ) \
  >"$out/load.txt" 2>/dev/null &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true; cleanup' EXIT

# --- 1. PostgreSQL: pgbench ------------------------------------------------------------------
pg_tps=- pg_lat=- pg_done=- pg_failed=- pg_runs=-
if want pgbench; then
  note "pgbench: fresh database $pg_db, qrun migrate, seed"
  psql "$PG_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
  QRUN__DATABASE__URL=$(db_url "$pg_db") "$QRUN_BIN" migrate >"$out/migrate.log" 2>&1 \
    || { cat "$out/migrate.log" >&2; exit 1; }
  psql "$(db_url "$pg_db")" -qAt -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
INSERT INTO users (id, handle, created_at)
VALUES ('11111111-1111-4111-8111-111111111111', 'bench', now());
INSERT INTO circuits (id, owner_id, name, visibility, created_at)
VALUES ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111', 'bell',
        'public', now());
INSERT INTO circuit_versions (circuit_id, version, source, manifest, created_at)
VALUES ('22222222-2222-4222-8222-222222222222', 1,
        E'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n',
        '{"framework": "qiskit", "format": "openqasm2"}', now());
CHECKPOINT;
SQL
  pgbench_cmd=(pgbench -n -M "$PGBENCH_MODE" -c "$PGBENCH_CLIENTS" -j "$PGBENCH_THREADS"
    -T "$PGBENCH_SECS" -f scripts/pgbench_lifecycle.sql "$(db_url "$pg_db")")
  note "${pgbench_cmd[*]}"
  "${pgbench_cmd[@]}" >"$out/pgbench.txt" 2>&1 || { cat "$out/pgbench.txt" >&2; exit 1; }
  grep -E '^(transaction type|scaling|query mode|number of|latency|initial|tps)' "$out/pgbench.txt" >&2
  pg_tps=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$out/pgbench.txt")
  pg_lat=$(sed -nE 's/^latency average = ([0-9.]+) ms.*/\1/p' "$out/pgbench.txt")
  pg_done=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out/pgbench.txt")
  pg_failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$out/pgbench.txt")
  pg_runs=$(psql "$(db_url "$pg_db")" -qAt -c "SELECT string_agg(status || '=' || n, ' ') FROM
    (SELECT status, count(*) n FROM runs GROUP BY status ORDER BY status) s")
  echo "runs by status: $pg_runs; audit rows $(psql "$(db_url "$pg_db")" -qAt -c 'SELECT count(*) FROM audit_logs'), outbox rows $(psql "$(db_url "$pg_db")" -qAt -c 'SELECT count(*) FROM analytics_outbox')" \
    | tee -a "$out/pgbench.txt" >&2
  psql "$PG_ADMIN_URL" -qAt -c "DROP DATABASE $pg_db WITH (FORCE)" >/dev/null
fi

# --- 2. SQLite: the sqlite_limit bench ---------------------------------------------------
sq_single=- sq_single_ms=- sq_conc=- sq_conc_ms=- sq_errors=-
if want sqlite; then
  # = cargo bench --bench sqlite_limit -- --secs "$SQLITE_SECS" --tasks "$SQLITE_TASKS"
  sqlite_cmd=("$sqlite_bin" --secs "$SQLITE_SECS" --tasks "$SQLITE_TASKS")
  note "${sqlite_cmd[*]}"
  "${sqlite_cmd[@]}" >"$out/sqlite.txt" 2>"$out/sqlite_stderr.txt" \
    || { cat "$out/sqlite.txt" "$out/sqlite_stderr.txt" >&2; exit 1; }
  grep -v '^RESULT' "$out/sqlite.txt" >&2
  result=$(grep '^RESULT sqlite' "$out/sqlite.txt")
  field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$result"; }
  sq_single=$(field single_lifecycles_per_s)
  sq_single_ms=$(field single_avg_ms)
  sq_conc=$(field concurrent_lifecycles_per_s)
  sq_conc_ms=$(field concurrent_avg_ms)
  sq_errors=$(field concurrent_errors)
fi

# --- 3. graphile-worker --------------------------------------------------------------------
gw_enq=- gw_proc=- gw_version=-
if want graphile; then
  graphile_cmd=(scripts/graphile/node_modules/.bin/node scripts/graphile/bench.mjs
    --jobs "$GRAPHILE_JOBS" --concurrency "$GRAPHILE_CONCURRENCY" --admin-url "$PG_ADMIN_URL" --db "$gw_db")
  note "${graphile_cmd[*]}  (worker log: $out/graphile.txt)"
  "${graphile_cmd[@]}" >"$out/graphile.txt" 2>&1 || { tail -20 "$out/graphile.txt" >&2; exit 1; }
  grep -E '^graphile-worker' "$out/graphile.txt" >&2
  result=$(grep '^RESULT graphile' "$out/graphile.txt")
  field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$result"; }
  gw_enq=$(field enqueue_jobs_per_s)
  gw_proc=$(field process_jobs_per_s)
  gw_version=$(field version)
fi

kill "$sampler" 2>/dev/null || true
load_after=$(uptime)
echo "uptime after: $load_after" >>"$out/machine.txt"

summary() {
  echo "qrun lifecycle limits, $started, $(nproc) cores"
  echo "load before: ${load_before##*load average: }; after: ${load_after##*load average: }; samples in $out/load.txt"
  echo
  echo "| what | figure | command |"
  echo "|---|---|---|"
  echo "| PostgreSQL $(psql "$PG_ADMIN_URL" -qAt -c 'SHOW server_version' | cut -d' ' -f1), pgbench ${PGBENCH_CLIENTS} clients, ${PGBENCH_SECS} s | ${pg_tps} lifecycles/s (latency avg ${pg_lat} ms per lifecycle; ${pg_done} done, ${pg_failed} failed; runs ${pg_runs}) | \`pgbench -n -M ${PGBENCH_MODE} -c ${PGBENCH_CLIENTS} -j ${PGBENCH_THREADS} -T ${PGBENCH_SECS} -f scripts/pgbench_lifecycle.sql DB\` |"
  echo "| SQLite, single loop (the limit), ${SQLITE_SECS} s | ${sq_single} lifecycles/s (avg ${sq_single_ms} ms per lifecycle) | \`cargo bench --bench sqlite_limit -- --secs ${SQLITE_SECS} --tasks ${SQLITE_TASKS}\` |"
  echo "| SQLite, ${SQLITE_TASKS} tasks over a pool of ${SQLITE_TASKS}, ${SQLITE_SECS} s | ${sq_conc} lifecycles/s (avg ${sq_conc_ms} ms per lifecycle, ${sq_errors} errors) | (same) |"
  echo "| graphile-worker ${gw_version}: enqueue ${GRAPHILE_JOBS} no-op jobs (addJobs) | ${gw_enq} jobs/s | \`scripts/graphile/node_modules/.bin/node scripts/graphile/bench.mjs --jobs ${GRAPHILE_JOBS} --concurrency ${GRAPHILE_CONCURRENCY}\` |"
  echo "| graphile-worker ${gw_version}: process them, concurrency ${GRAPHILE_CONCURRENCY} | ${gw_proc} jobs/s | (same) |"
}
summary | tee "$out/summary.md"
