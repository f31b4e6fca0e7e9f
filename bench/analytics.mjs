#!/usr/bin/env node
// Analytics at size (issue 17): a database holding N verifications (default 1,000,000) spread over 30 days, 5 apps,
// 30 countries, four channels and their providers, with the rollups otpd keeps of them (written by the real
// Analytics recorder and store, hour by hour); then `otpd serve` on it, and the analytics routes timed over HTTP:
// each query RUNS times (after 5 warm-up runs), p50 and p95 in ms. On SQLite and on PostgreSQL
// (../shared/bench/services.sh, a throwaway cluster on 127.0.0.1:54329). Writes bench/results/analytics.json.
//
//   node bench/analytics.mjs [--verifications 1000000] [--runs 50] [--store sqlite|postgres|both]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createApp, opt, root, startOtpd, stop } from './lib.mjs';

const N = Number(opt('verifications', 1_000_000));
const RUNS = Number(opt('runs', 50));
const STORES = opt('store', 'both') === 'both' ? ['sqlite', 'postgres'] : [opt('store', 'both')];
const DAYS = 30;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const END = Date.UTC(2026, 10, 30); // the last day ends here; "now" for the server is later, the range is explicit
const START = END - DAYS * DAY;
const WORK = '/tmp/otpd-bench-analytics';
const dist = (p) => join(root, 'packages/server/dist', p);
const { SqliteStore } = await import(dist('store/sqlite/index.js'));
const { PgStore } = await import(dist('store/postgres/index.js'));
const { Analytics } = await import(dist('services/analytics.js'));
const { systemClock } = await import(dist('domain/clock.js'));

// A seeded generator (mulberry32): the same data on both stores.
let seed = 17;
const rand = () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (xs, ws) => { let r = rand() * ws.reduce((a, b) => a + b, 0); for (let i = 0; i < xs.length; i++) { r -= ws[i]; if (r <= 0) return xs[i]; } return xs.at(-1); };
const COUNTRIES = [['FR', '33', ['6', '7']], ['DE', '49', ['15', '16', '17']], ['GB', '44', ['7']], ['ES', '34', ['6', '7']], ['IT', '39', ['3']], ['NL', '31', ['6']],
  ['BE', '32', ['4']], ['PT', '351', ['9']], ['PL', '48', ['5', '6', '7', '8']], ['SE', '46', ['7']], ['US', '1', ['2', '3', '4', '5', '6', '7', '8', '9']], ['CA', '1', ['4', '5', '6']],
  ['BR', '55', ['1', '2', '3']], ['MX', '52', ['1', '5']], ['IN', '91', ['7', '8', '9']], ['ID', '62', ['8']], ['NG', '234', ['8', '7']], ['KE', '254', ['7']], ['ZA', '27', ['6', '7', '8']],
  ['EG', '20', ['1']], ['TR', '90', ['5']], ['SA', '966', ['5']], ['AE', '971', ['5']], ['PK', '92', ['3']], ['BD', '880', ['1']], ['PH', '63', ['9']], ['VN', '84', ['3', '9']],
  ['TH', '66', ['6', '8', '9']], ['JP', '81', ['7', '8', '9']], ['AU', '61', ['4']]];
const CW = COUNTRIES.map((_, i) => 1 / (i + 2)); // a long tail
const CHANNELS = [['sms', ['twilio', 'vonage', 'gateway'], [6, 3, 1]], ['whatsapp', ['whatsapp'], [1]], ['voice', ['twilio'], [1]], ['email', ['smtp'], [1]]];
const ttv = () => Math.min(1800, 4 + Math.round(-Math.log(1 - rand()) * 25));
const ttd = () => Math.min(600, 0.5 + -Math.log(1 - rand()) * 4);

/** One synthetic verification: its raw row and the facts otpd would have counted. */
function verification(i, apps) {
  const at = START + Math.floor((i / N) * DAYS * DAY) + Math.floor(rand() * 60_000);
  const appId = pick(apps, [50, 20, 15, 10, 5]);
  const [ch, providers, pw] = pick(CHANNELS, [80, 12, 3, 5]);
  const [iso, cc, starts] = ch === 'email' ? ['', '', []] : pick(COUNTRIES, CW);
  const to = ch === 'email' ? `user${i}@example.com` : `+${cc}${starts[Math.floor(rand() * starts.length)]}${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`;
  const provider = pick(providers, pw);
  const cost = ch === 'sms' ? 0.05 : ch === 'voice' ? 0.1 : ch === 'whatsapp' ? 0.02 : 0;
  const outcome = pick(['verified', 'expired', 'failed', 'canceled'], [72, 18, 4, 6]);
  const seconds = ttv();
  const subject = { appId, at, countryIso: iso, to, channel: ch };
  const facts = [{ kind: 'started', subject }];
  if (rand() < 0.1 || outcome === 'failed') facts.push({ kind: 'wrong', subject });
  facts.push(outcome === 'verified' ? { kind: 'verified', subject, seconds } : { kind: outcome, subject });
  const msg = { ...subject, provider };
  if (rand() < 0.97) {
    facts.push({ kind: 'sent', subject: msg, cost, fallback: false });
    const r = rand();
    if (ch !== 'email' && r < 0.85) facts.push({ kind: 'delivered', subject: msg, seconds: ttd() });
    else if (ch !== 'email' && r < 0.9) facts.push({ kind: 'undelivered', subject: msg });
  } else facts.push({ kind: 'msgFailed', subject: msg });
  if (ch === 'whatsapp' && rand() < 0.2) facts.push({ kind: 'sent', subject: { ...subject, channel: 'sms', provider: 'twilio' }, cost: 0.05, fallback: true });
  if (rand() < 0.02) facts.push({ kind: 'refused', subject: { ...subject, provider: '' }, cost });
  const row = {
    id: `ver_${String(i).padStart(26, '0')}`, app_id: appId, to_addr: to, country_iso: iso, channel: ch, locale: 'en', status: outcome, code_type: 'numeric', code_length: 6,
    attempts: 1, max_attempts: 3, sends: 1, max_sends: 5, resend_available_at: at + 60_000, expires_at: at + 300_000, created_at: at, updated_at: at + seconds * 1000,
    verified_at: outcome === 'verified' ? at + seconds * 1000 : null, parts: 1, cost, channels: JSON.stringify([ch]), step: 0, step_timeout: 30,
  };
  return { row, facts, at };
}
const COLS = ['id', 'app_id', 'to_addr', 'country_iso', 'channel', 'locale', 'status', 'code_type', 'code_length', 'attempts', 'max_attempts', 'sends', 'max_sends',
  'resend_available_at', 'expires_at', 'created_at', 'updated_at', 'verified_at', 'parts', 'cost', 'channels', 'step', 'step_timeout'];

/** Fills `store` with N verifications and their rollups (hour by hour, as the recorder flushes them). */
async function fill(store, rawInsert, apps) {
  seed = 17;
  const analytics = new Analytics(store, systemClock);
  const t0 = Date.now();
  let hour = START;
  let batch = [];
  for (let i = 0; i < N; i++) {
    const v = verification(i, apps);
    for (const f of v.facts) analytics.record(f);
    batch.push(v.row);
    if (batch.length === 5000) { await rawInsert(batch); batch = []; }
    if (v.at >= hour + HOUR) { await analytics.flush(); hour = v.at - (v.at % HOUR); }
  }
  if (batch.length) await rawInsert(batch);
  await analytics.flush();
  console.log(`  filled ${N} verifications and their rollups in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return +s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)].toFixed(1); };

async function timeQueries(port, adminToken, app) {
  const range = `from=${new Date(START).toISOString()}&to=${new Date(END).toISOString()}`;
  const queries = [
    ['30-day summary, all apps', `/admin/v1/analytics/summary?${range}`, adminToken],
    ['30-day summary, one app (/v1)', `/v1/analytics/summary?${range}`, app.apiKey],
    ['30-day summary, one country', `/admin/v1/analytics/summary?${range}&country=FR`, adminToken],
    ['30-day daily series', `/admin/v1/analytics/series?${range}&interval=day`, adminToken],
    ['30-day daily series by channel', `/admin/v1/analytics/series?${range}&interval=day&groupBy=channel`, adminToken],
    ['30-day daily series by country', `/admin/v1/analytics/series?${range}&interval=day&groupBy=country`, adminToken],
    ['7-day hourly series', `/admin/v1/analytics/series?from=${new Date(END - 7 * DAY).toISOString()}&to=${new Date(END).toISOString()}&interval=hour`, adminToken],
    ['30-day summary, one prefix (+336)', `/admin/v1/analytics/summary?${range}&prefix=336`, adminToken],
    // Not a target: every prefix row of the range is read (5 runs).
    ['30-day daily series by prefix (top 10)', `/admin/v1/analytics/series?${range}&groupBy=prefix`, adminToken, 5],
  ];
  const out = [];
  for (const [name, path, token, runs = RUNS] of queries) {
    const ms = [];
    let body;
    for (let i = 0; i < Math.min(5, runs) + runs; i++) {
      const t = performance.now();
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
      body = await r.json();
      if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(body)}`);
      if (i >= Math.min(5, runs)) ms.push(performance.now() - t);
    }
    const started = body.verifications?.started ?? body.series?.reduce((n, s) => n + s.points.reduce((m, p) => m + p.started, 0), 0);
    out.push({ query: name, p50ms: pct(ms, 0.5), p95ms: pct(ms, 0.95), started });
    console.log(`  ${name}: p50 ${pct(ms, 0.5)} ms, p95 ${pct(ms, 0.95)} ms (started ${started})`);
  }
  return out;
}

mkdirSync(WORK, { recursive: true });
const results = { verifications: N, days: DAYS, runs: RUNS, stores: {} };
const ADMIN = 'bench-admin-token-0123456789abcdef0123456789';
const TABLES = ['verifications', 'rollup_hours', 'rollup_days', 'rollup_prefix_days'];
let sqliteSizes;
for (const kind of STORES) {
  console.log(`${kind}:`);
  const dir = join(WORK, kind);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let url;
  let base;
  if (kind === 'sqlite') url = `sqlite:${join(dir, 'otpd.sqlite')}`;
  else {
    base = execFileSync('bash', [resolve(root, '../shared/bench/services.sh'), 'start'], { encoding: 'utf8' }).trim().split('\n').pop().replace(/\/postgres$/, '');
    const c = new pg.Client({ connectionString: `${base}/postgres` });
    await c.connect();
    await c.query('DROP DATABASE IF EXISTS otpd_bench_analytics WITH (FORCE)');
    await c.query('CREATE DATABASE otpd_bench_analytics');
    await c.end();
    url = `${base}/otpd_bench_analytics`;
  }
  const env = { ...process.env, OTPD_DATABASE_URL: url, OTPD_DATA_DIR: dir, OTPD_SECRET: 'bench-secret-0123456789abcdef0123456789', OTPD_ADMIN_TOKEN: ADMIN, OTPD_LOG_LEVEL: 'warn', OTPD_RETENTION_DAYS: '0' };
  const app = createApp(env, 'bench');
  const apps = [app.id, 'app_bench2', 'app_bench3', 'app_bench4', 'app_bench5'];
  if (kind === 'sqlite') {
    const store = new SqliteStore(join(dir, 'otpd.sqlite'));
    const ins = store.db.prepare(`INSERT INTO verifications (${COLS.join(', ')}, code_hash) VALUES (${COLS.map((c) => `@${c}`).join(', ')}, x'00')`);
    const many = store.db.transaction((rows) => { for (const r of rows) ins.run(r); });
    await fill(store, async (rows) => many(rows), apps);
    sqliteSizes = Object.fromEntries(TABLES.map((t) => [t, store.db.prepare(`SELECT count(*) AS n FROM ${t}`).get().n]));
    await store.close();
  } else {
    const store = new PgStore(url, { listen: false });
    await store.migrate();
    await fill(store, async (rows) => {
      await store.pool.query(`INSERT INTO verifications (${COLS.join(', ')}, code_hash) SELECT ${COLS.map((c) => (c === 'channels' ? 'channels' : c)).join(', ')}, '\\x00'::bytea
        FROM jsonb_populate_recordset(NULL::verifications, $1::jsonb)`, [JSON.stringify(rows.map((r) => ({ ...r, channels: JSON.parse(r.channels) })))]);
    }, apps);
    await store.pool.query('VACUUM ANALYZE');
    await store.pool.query('CHECKPOINT');
    await store.close();
  }
  const sizes = kind === 'sqlite' ? sqliteSizes
    : await (async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const n = {};
        for (const t of TABLES) n[t] = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        return n;
      } finally { await c.end(); }
    })();
  console.log(`  rows: ${JSON.stringify(sizes)}`);
  const server = await startOtpd(env, 4311);
  try {
    results.stores[kind] = { rows: sizes, queries: await timeQueries(4311, ADMIN, app) };
  } finally {
    await stop(server);
  }
  if (kind === 'postgres') {
    const c = new pg.Client({ connectionString: `${base}/postgres` });
    await c.connect();
    await c.query('DROP DATABASE IF EXISTS otpd_bench_analytics WITH (FORCE)');
    await c.end();
  }
}
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/analytics.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('wrote bench/results/analytics.json');
