-- One qrun run lifecycle, as pgbench transactions: PostgreSQL's own limit for issue #7.
--
-- A run submitted with analytics consent and executed to completion writes three
-- transactions (src/store/lifecycle.rs, src/store/records.rs), mirrored here statement for
-- statement (same tables, same columns, same guards, JSON of the same shape and size):
--   1. submit:   INSERT runs (pending, ON CONFLICT (user_id, idempotency_key) DO NOTHING)
--                + INSERT audit_logs (run.requested) + INSERT analytics_outbox (run_requested)
--   2. start:    guarded UPDATE runs → running (started_at, claimed_by, lease_expires_at)
--                RETURNING the row + audit (run.started) + outbox (run_started)
--   3. complete: guarded UPDATE runs → completed (completed_at, results, lease cleared)
--                RETURNING the row + audit (run.completed) + outbox (run_completed)
-- One script execution = one lifecycle, so pgbench's tps is lifecycles/s.
--
-- Outbox ids are qrun's: uuid v5 of "{run_id}/{event}" in records.rs's namespace (hence the
-- uuid-ossp extension), so `qrun verify` accepts what this script writes.
--
-- Differences from qrun, all small: run and audit ids are time-ordered like qrun's UUIDv7
-- (a millisecond timestamp over gen_random_uuid()'s bits), not exactly v7; "now" is
-- statement_timestamp() rather than a bound parameter; the JSON is built by
-- jsonb_build_object instead of being sent as text; the submit INSERT returns the id and
-- timestamp (qrun's does not) because pgbench can only learn them that way. qrun's own start
-- edge is a batch claim (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)), and its
-- Recorder commits many lifecycle steps in one transaction (group commit); here each step
-- is its own transaction, one run at a time per client: the limit without batching.
--
-- Needs qrun's schema (`qrun migrate`), CREATE EXTENSION "uuid-ossp", and this seed
-- (scripts/bench_limits.sh creates all three):
--   users            11111111-1111-4111-8111-111111111111 'bench'
--   circuits         22222222-2222-4222-8222-222222222222 'bell', public, owned by 'bench'
--   circuit_versions (22222222-…, 1), manifest {"framework": "qiskit", "format": "openqasm2"}
--
--   pgbench -n -M prepared -c 32 -j 2 -T 30 -f scripts/pgbench_lifecycle.sql DBNAME
--
-- Run it with -M prepared (as sqlx prepares qrun's statements) or -M extended: variables must
-- be bound as parameters; -M simple would paste the uuids in unquoted.

\set counts00 random(35, 65)
\set execution_time random(50, 2000) / 1000000.0

-- 1. submit
BEGIN;
INSERT INTO runs (id, user_id, circuit_id, circuit_version, status, backend_type,
                  backend_name, framework, shots, results, error_class, error_message,
                  error_stage, analytics_consent, created_at, started_at, completed_at,
                  claimed_by, lease_expires_at, idempotency_key, outbox_pruned_at)
VALUES (encode(overlay(uuid_send(gen_random_uuid())
                       placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                       from 1 for 6), 'hex')::uuid,
        '11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', 1,
        'pending', 'simulator', 'statevector', 'qiskit', 100, NULL, NULL, NULL, NULL, true,
        statement_timestamp(), NULL, NULL, NULL, NULL, NULL, NULL)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id AS run_id, created_at AS now \gset
INSERT INTO audit_logs (id, actor_user_id, action, resource_type, resource_id, metadata, created_at)
VALUES (encode(overlay(uuid_send(gen_random_uuid())
                       placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                       from 1 for 6), 'hex')::uuid,
        '11111111-1111-4111-8111-111111111111', 'run.requested', 'run', CAST(:run_id AS uuid),
        jsonb_build_object('framework', 'qiskit', 'backend_type', 'simulator',
                           'backend_name', 'statevector', 'from', NULL, 'to', 'pending',
                           'shots', 100, 'circuit_version', 1, 'by', 'user'),
        CAST(:now AS timestamptz));
INSERT INTO analytics_outbox (id, run_id, event, distinct_id, properties, created_at, attempts,
                              next_attempt_at, delivered_at, last_error, parked_at)
VALUES (uuid_generate_v5('5d3c7f0e-9a41-4b8e-8f62-1c0d2e4a7b91', CAST(:run_id AS text) || '/run_requested'),
        CAST(:run_id AS uuid), 'run_requested',
        '11111111-1111-4111-8111-111111111111',
        jsonb_build_object('run_id', CAST(:run_id AS uuid),
                           'circuit_id', '22222222-2222-4222-8222-222222222222'::uuid,
                           'framework', 'qiskit', 'backend_class', 'simulator',
                           'backend_name', 'statevector', 'shots', 100),
        CAST(:now AS timestamptz), 0, CAST(:now AS timestamptz), NULL, NULL, NULL);
COMMIT;

-- 2. start (pending → running)
BEGIN;
UPDATE runs
   SET status = 'running', started_at = statement_timestamp(),
       claimed_by = 'bench-host-4242-5f0c9e2a',
       lease_expires_at = statement_timestamp() + interval '30 seconds'
 WHERE id = CAST(:run_id AS uuid) AND status IN ('pending')
   AND created_at < statement_timestamp()
   AND (started_at IS NULL OR started_at < statement_timestamp())
RETURNING id, user_id, circuit_id, circuit_version, status, backend_type, backend_name,
          framework, shots, results, error_class, error_message, error_stage,
          analytics_consent, created_at, started_at, completed_at, claimed_by,
          lease_expires_at, idempotency_key, outbox_pruned_at \gset started_
INSERT INTO audit_logs (id, actor_user_id, action, resource_type, resource_id, metadata, created_at)
VALUES (encode(overlay(uuid_send(gen_random_uuid())
                       placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                       from 1 for 6), 'hex')::uuid,
        '11111111-1111-4111-8111-111111111111', 'run.started', 'run', CAST(:run_id AS uuid),
        jsonb_build_object('framework', 'qiskit', 'backend_type', 'simulator',
                           'backend_name', 'statevector', 'from', 'pending', 'to', 'running',
                           'node', 'bench-host-4242-5f0c9e2a',
                           'lease_expires_at', CAST(:started_lease_expires_at AS timestamptz),
                           'by', 'executor'),
        CAST(:started_started_at AS timestamptz));
INSERT INTO analytics_outbox (id, run_id, event, distinct_id, properties, created_at, attempts,
                              next_attempt_at, delivered_at, last_error, parked_at)
VALUES (uuid_generate_v5('5d3c7f0e-9a41-4b8e-8f62-1c0d2e4a7b91', CAST(:run_id AS text) || '/run_started'),
        CAST(:run_id AS uuid), 'run_started',
        '11111111-1111-4111-8111-111111111111',
        jsonb_build_object('run_id', CAST(:run_id AS uuid),
                           'circuit_id', '22222222-2222-4222-8222-222222222222'::uuid,
                           'framework', 'qiskit', 'backend_class', 'simulator',
                           'backend_name', 'statevector', 'shots', 100),
        CAST(:started_started_at AS timestamptz), 0, CAST(:started_started_at AS timestamptz),
        NULL, NULL, NULL);
COMMIT;

-- 3. complete (running → completed), a Bell circuit's counts at 100 shots
BEGIN;
UPDATE runs
   SET status = 'completed',
       results = jsonb_build_object('counts', jsonb_build_object('00', CAST(:counts00 AS int),
                                                                 '11', 100 - CAST(:counts00 AS int)),
                                    'shots', 100,
                                    'execution_time', CAST(:execution_time AS float8),
                                    'unique_states', 2),
       completed_at = statement_timestamp(), lease_expires_at = NULL
 WHERE id = CAST(:run_id AS uuid) AND status IN ('running')
   AND created_at < statement_timestamp()
   AND (started_at IS NULL OR started_at < statement_timestamp())
RETURNING id, user_id, circuit_id, circuit_version, status, backend_type, backend_name,
          framework, shots, results, error_class, error_message, error_stage,
          analytics_consent, created_at, started_at, completed_at, claimed_by,
          lease_expires_at, idempotency_key, outbox_pruned_at \gset completed_
INSERT INTO audit_logs (id, actor_user_id, action, resource_type, resource_id, metadata, created_at)
VALUES (encode(overlay(uuid_send(gen_random_uuid())
                       placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                       from 1 for 6), 'hex')::uuid,
        '11111111-1111-4111-8111-111111111111', 'run.completed', 'run', CAST(:run_id AS uuid),
        jsonb_build_object('framework', 'qiskit', 'backend_type', 'simulator',
                           'backend_name', 'statevector', 'from', 'running', 'to', 'completed',
                           'shots', 100, 'execution_time', CAST(:execution_time AS float8),
                           'unique_states', 2, 'by', 'executor'),
        CAST(:completed_completed_at AS timestamptz));
INSERT INTO analytics_outbox (id, run_id, event, distinct_id, properties, created_at, attempts,
                              next_attempt_at, delivered_at, last_error, parked_at)
VALUES (uuid_generate_v5('5d3c7f0e-9a41-4b8e-8f62-1c0d2e4a7b91', CAST(:run_id AS text) || '/run_completed'),
        CAST(:run_id AS uuid), 'run_completed',
        '11111111-1111-4111-8111-111111111111',
        jsonb_build_object('run_id', CAST(:run_id AS uuid),
                           'circuit_id', '22222222-2222-4222-8222-222222222222'::uuid,
                           'framework', 'qiskit', 'backend_class', 'simulator',
                           'backend_name', 'statevector',
                           'execution_time', CAST(:execution_time AS float8),
                           'shots', 100, 'unique_states', 2),
        CAST(:completed_completed_at AS timestamptz), 0,
        CAST(:completed_completed_at AS timestamptz), NULL, NULL, NULL);
COMMIT;
