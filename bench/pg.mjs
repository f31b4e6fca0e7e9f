#!/usr/bin/env node
// otpd on PostgreSQL: the flow with its per-step latencies, an empty database against one holding 1,000,000
// verifications (A/B/A/B), and ../shared/bench/compare.mjs side by side with the limit server and the
// better-auth peer on the same PostgreSQL. Writes bench/results/postgres.json (bench/run.mjs turns it into
// docs/benchmarks.md). Uses ../shared/bench/services.sh (a throwaway cluster on 127.0.0.1:54329).
//
//   node bench/pg.mjs [--rounds 3] [--duration 10] [--warmup 2] [--concurrency 32] [--rows 1000000] [--no-compare]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { BIN, createApp, flag, flowRound, opt, root, startOtpd, stop, summarizeFlow } from './lib.mjs';

const ROUNDS = Number(opt('rounds', 3));
const DURATION = Number(opt('duration', 10));
const WARMUP = Number(opt('warmup', 2));
const CONC = Number(opt('concurrency', 32));
const ROWS = Number(opt('rows', 1_000_000));
const COMPARE = !flag('no-compare');
const SHARED = resolve(root, '../shared/bench');
const WORK = '/tmp/otpd-bench-pg-run';

const base = execFileSync('bash', [join(SHARED, 'services.sh'), 'start'], { encoding: 'utf8' }).trim().split('\n').pop().replace(/\/postgres$/, '');
console.log(`postgres at ${base}`);

async function admin(sql) {
  const c = new pg.Client({ connectionString: `${base}/postgres` });
  await c.connect();
  try { return await c.query(sql); } finally { await c.end(); }
}

async function freshDb(name) {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Retention off: the filled rows must stay for the whole run.
  const env = { ...process.env, OTPD_DATABASE_URL: `${base}/${name}`, OTPD_DATA_DIR: dir, OTPD_SECRET: 'bench-secret-0123456789abcdef0123456789', OTPD_LOG_LEVEL: 'info', OTPD_RETENTION_DAYS: '0' };
  const app = createApp(env, 'bench');
  return { env, key: app.apiKey, url: `${base}/${name}`, appId: app.id };
}

/** N verifications of the app, each with its message, provider attempt and phone (UK numbers: never the bench's). */
async function fill(db, n) {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const t0 = Date.now();
  try {
    const now = Date.now();
    await c.query(`INSERT INTO verifications (id, app_id, to_addr, country_iso, channel, locale, status, code_type, code_length, code_hash, code_sealed,
        attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at, verified_at, parts, cost, channels)
      SELECT 'ver_00' || lpad(i::text, 24, '0'), $1, '+4470' || lpad(i::text, 8, '0'), 'GB', 'sms', 'en',
        CASE WHEN i % 10 < 7 THEN 'verified' WHEN i % 10 < 9 THEN 'expired' ELSE 'failed' END, 'numeric', 6, sha256(i::text::bytea), NULL,
        1, 5, 1, 5, $2::bigint - i, $2::bigint - i + 600000, $2::bigint - i * 1000, $2::bigint - i * 1000, CASE WHEN i % 10 < 7 THEN $2::bigint - i * 1000 END, 1, 0, '["sms"]'
      FROM generate_series(1, $3) AS i`, [db.appId, now, n]);
    await c.query(`INSERT INTO outbox (id, app_id, verification_id, channel, to_addr, locale, body, status, attempts, available_at, created_at, sent_at,
        provider, parts, cost, route, provider_message_id)
      SELECT 'msg_00' || lpad(i::text, 24, '0'), $1, 'ver_00' || lpad(i::text, 24, '0'), 'sms', '+4470' || lpad(i::text, 8, '0'), 'en',
        'Your code is {{pin}}', 'delivered', 1, $2::bigint - i * 1000, $2::bigint - i * 1000, $2::bigint - i * 1000, 'console', 1, 0, '["console"]', 'p' || i
      FROM generate_series(1, $3) AS i`, [db.appId, now, n]);
    await c.query(`INSERT INTO message_attempts (id, message_id, app_id, provider, outcome, started_at, finished_at, provider_message_id)
      SELECT 'att_00' || lpad(i::text, 24, '0'), 'msg_00' || lpad(i::text, 24, '0'), $1, 'console', 'accepted', $2::bigint - i * 1000, $2::bigint - i * 1000, 'p' || i
      FROM generate_series(1, $3) AS i`, [db.appId, now, n]);
    await c.query(`INSERT INTO phone_states (app_id, to_addr, sends, failures, window_started_at, last_send_at)
      SELECT $1, '+4470' || lpad(i::text, 8, '0'), 0, 0, $2::bigint - i * 1000, $2::bigint - i * 1000 FROM generate_series(1, $3) AS i`, [db.appId, now, n]);
    await c.query('VACUUM ANALYZE');
    // Write the fill out now: otherwise its 1.4 GB of dirty pages and WAL are flushed by checkpoints during the
    // first measured rounds, of both databases (seen: empty-database rounds at ~60 % of the later ones).
    await c.query('CHECKPOINT');
    const size = (await c.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS s')).rows[0].s;
    console.log(`filled ${n} verifications (+ messages, attempts, phones) in ${((Date.now() - t0) / 1000).toFixed(0)} s; database ${size}`);
    return size;
  } finally {
    await c.end();
  }
}

mkdirSync(WORK, { recursive: true });
console.log('building…');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });

// ---- 1. flow on an empty database and on one holding ROWS verifications, alternating
const empty = await freshDb('otpd_bench_empty');
const full = await freshDb('otpd_bench_full');
const fullSize = await fill(full, ROWS);
const a = await startOtpd(empty.env, 4201);
const b = await startOtpd(full.env, 4202);
const flowEmpty = [];
const flowFull = [];
try {
  for (let r = 1; r <= ROUNDS; r++) {
    for (const [name, port, key, into] of [['empty', 4201, empty.key, flowEmpty], [`${ROWS} rows`, 4202, full.key, flowFull]]) {
      const res = flowRound(port, key, { concurrency: CONC, duration: DURATION, warmup: WARMUP });
      into.push(res);
      console.log(`flow round ${r} ${name}: ${res.pairsPerSec} pairs/s, check p50 ${res.check.p50ms} ms p99 ${res.check.p99ms} ms, failures ${res.failures}`);
    }
  }
} finally {
  await stop(a);
  await stop(b);
}

// ---- 2. side by side with the shared limit-pg and peer-pg
let cmp = null;
if (COMPARE) {
  if (!existsSync(join(SHARED, 'node_modules'))) execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: SHARED, stdio: 'inherit' });
  const db = await freshDb('otpd_bench_cmp');
  const envPrefix = ['OTPD_DATABASE_URL', 'OTPD_DATA_DIR', 'OTPD_SECRET', 'OTPD_LOG_LEVEL', 'OTPD_RETENTION_DAYS'].map((k) => `${k}=${db.env[k]}`).join(' ');
  const outFile = join(WORK, 'compare.json');
  rmSync(outFile, { force: true });
  try {
    execFileSync(process.execPath, [join(SHARED, 'compare.mjs'), '--targets', 'limit-pg,peer-pg', '--rounds', String(ROUNDS), '--duration', String(DURATION),
      '--warmup', String(WARMUP), '--concurrency', String(CONC), '--out', outFile, '--pg-url', `${base}/postgres`,
      '--otpd-cmd', `${envPrefix} exec node ${BIN} serve --port 4200`, '--otpd-base', 'http://127.0.0.1:4200', '--otpd-key', db.key], { cwd: root, stdio: 'inherit' });
  } catch {
    console.log('compare reported failures; see its output above');
  }
  if (existsSync(outFile)) cmp = JSON.parse(readFileSync(outFile, 'utf8'));
}

const result = {
  at: new Date().toISOString(), node: process.version, rounds: ROUNDS, duration: DURATION, warmup: WARMUP, concurrency: CONC, rows: ROWS, fullSize,
  flowEmpty, flowFull, empty: summarizeFlow(flowEmpty), full: summarizeFlow(flowFull), compare: cmp,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/postgres.json'), JSON.stringify(result, null, 2));
console.log(`empty ${result.empty.pairsPerSec} pairs/s, ${ROWS} rows ${result.full.pairsPerSec} pairs/s (x${(result.full.pairsPerSec / result.empty.pairsPerSec).toFixed(2)}); check p99 ${result.empty.check.p99ms} ms`);
