// graphile-worker no-op job throughput on this machine's PostgreSQL: issue #7's reference
// figure for qrun's end-to-end lifecycle rate.
//
//   npm ci --prefix scripts/graphile
//   scripts/graphile/node_modules/.bin/node scripts/graphile/bench.mjs [--jobs 20000]
//       [--concurrency 10] [--batch 1000] [--admin-url postgres://postgres@127.0.0.1:5432/postgres]
//       [--db NAME] [--keep]
//
// graphile-worker 0.18 declares Node >= 22.18, so package.json also pins the `node` package
// (Node 22 from the npm registry, in node_modules/.bin/node); the system's Node 20 runs it too.
//
// What it does:
// 1. creates a fresh database (dropped at the end unless --keep); graphile-worker installs
//    its own schema (`workerUtils.migrate()`);
// 2. enqueues N no-op jobs with `addJobs` (the bulk `graphile_worker.add_jobs`, in batches of
//    --batch specs per call, one call at a time): timed on its own;
// 3. starts a worker (`run()`, everything at its defaults but the concurrency) with one task,
//    `noop`, and times from the moment `run()` resolves until the N-th `job:success`; then
//    checks the queue is empty and stops the worker.
//
// Defaults to be aware of: graphile-worker's own default concurrency (`concurrentJobs`) is 1,
// with a pool of 10 (`maxPoolSize`); issue #7's reference figure (~1,300 jobs/s) was taken at
// concurrency 10, hence --concurrency 10 here. Its default logger prints one INFO line per
// completed job to stdout; that is part of its defaults and is kept (set NO_LOG_SUCCESS=1,
// graphile-worker's own switch, to drop those lines).
//
// The last stdout line is machine-readable:
//   RESULT graphile version=0.18.0 jobs=N enqueue_s=… enqueue_jobs_per_s=… process_s=… process_jobs_per_s=…

import { readFileSync } from "node:fs";
import pg from "pg";
import { makeWorkerUtils, run } from "graphile-worker";

// The package's "exports" hide its package.json; read the installed copy directly.
const VERSION = JSON.parse(
  readFileSync(new URL("./node_modules/graphile-worker/package.json", import.meta.url), "utf8"),
).version;

function parseArgs(argv) {
  const opts = {
    jobs: 20000,
    concurrency: 10,
    batch: 1000,
    adminUrl: process.env.ADMIN_URL || "postgres://postgres@127.0.0.1:5432/postgres",
    db: `qrun_bench_graphile_${process.pid}`,
    keep: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--jobs": opts.jobs = Number.parseInt(next(), 10); break;
      case "--concurrency": opts.concurrency = Number.parseInt(next(), 10); break;
      case "--batch": opts.batch = Number.parseInt(next(), 10); break;
      case "--admin-url": opts.adminUrl = next(); break;
      case "--db": opts.db = next(); break;
      case "--keep": opts.keep = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!(opts.jobs > 0 && opts.concurrency > 0 && opts.batch > 0)) {
    throw new Error("--jobs, --concurrency and --batch must be positive integers");
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(opts.db)) throw new Error(`bad database name ${opts.db}`);
  return opts;
}

function dbUrl(adminUrl, db) {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin(adminUrl, sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Jobs in the queue (graphile-worker deletes a job once it succeeds). */
async function count(connectionString) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query("select count(*)::int as n from graphile_worker.jobs");
    return rows[0].n;
  } finally {
    await client.end();
  }
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

async function main() {
  const opts = parseArgs(process.argv);
  const connectionString = dbUrl(opts.adminUrl, opts.db);
  await admin(opts.adminUrl, `DROP DATABASE IF EXISTS ${opts.db}`);
  await admin(opts.adminUrl, `CREATE DATABASE ${opts.db}`);
  let runner;
  let pgPool;
  try {
    const utils = await makeWorkerUtils({ connectionString });
    let enqueueS;
    try {
      await utils.migrate();
      const t0 = process.hrtime.bigint();
      for (let done = 0; done < opts.jobs; done += opts.batch) {
        const n = Math.min(opts.batch, opts.jobs - done);
        const specs = Array.from({ length: n }, () => ({ identifier: "noop", payload: {} }));
        await utils.addJobs(specs);
      }
      enqueueS = seconds(t0);
      const queued = await count(connectionString);
      if (queued !== opts.jobs) throw new Error(`enqueued ${queued} jobs, expected ${opts.jobs}`);
    } finally {
      await utils.release();
    }

    let succeeded = 0;
    let failed = 0;
    let resolveDone;
    const done = new Promise((resolve) => { resolveDone = resolve; });
    // The worker's pool is ours (graphile-worker's default size, 10), with an error handler and
    // ended before the drop: graphile-worker's own pool outlived runner.stop(), and the drop's
    // termination of its idle connections was an unhandled 'error' event that failed the run.
    pgPool = new pg.Pool({ connectionString, max: 10 });
    pgPool.on("error", () => {}); // an idle client's end at the drop below
    runner = await run({
      pgPool,
      concurrency: opts.concurrency,
      noHandleSignals: true,
      taskList: { noop: async () => {} },
    });
    const t1 = process.hrtime.bigint();
    runner.events.on("job:success", () => {
      succeeded += 1;
      if (succeeded === opts.jobs) resolveDone();
    });
    runner.events.on("job:error", () => { failed += 1; });
    await done;
    const processS = seconds(t1);
    await runner.stop();
    runner = undefined;
    const left = await count(connectionString);
    if (failed > 0 || left !== 0) {
      throw new Error(`${failed} job errors, ${left} jobs left in the queue`);
    }

    const enqueueRate = opts.jobs / enqueueS;
    const processRate = opts.jobs / processS;
    console.log(
      `graphile-worker ${VERSION}: enqueue ${opts.jobs} no-op jobs (addJobs, ${opts.batch} per call): ` +
        `${enqueueS.toFixed(2)} s = ${enqueueRate.toFixed(0)} jobs/s`,
    );
    console.log(
      `graphile-worker ${VERSION}: process ${opts.jobs} no-op jobs (concurrency ${opts.concurrency}, ` +
        `other options default): ${processS.toFixed(2)} s = ${processRate.toFixed(0)} jobs/s`,
    );
    console.log(
      `rerun: scripts/graphile/node_modules/.bin/node scripts/graphile/bench.mjs --jobs ${opts.jobs} --concurrency ${opts.concurrency} --batch ${opts.batch}`,
    );
    console.log(
      `RESULT graphile version=${VERSION} jobs=${opts.jobs} enqueue_s=${enqueueS.toFixed(3)} ` +
        `enqueue_jobs_per_s=${enqueueRate.toFixed(0)} process_s=${processS.toFixed(3)} ` +
        `process_jobs_per_s=${processRate.toFixed(0)}`,
    );
  } finally {
    if (runner) await runner.stop().catch(() => {});
    if (pgPool) await pgPool.end().catch(() => {});
    if (!opts.keep) {
      await admin(opts.adminUrl, `DROP DATABASE IF EXISTS ${opts.db} WITH (FORCE)`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
