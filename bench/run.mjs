#!/usr/bin/env node
// Benchmarks otpd on its embedded store and writes docs/benchmarks.md.
//
//   npm run bench                # = node bench/run.mjs
//   node bench/run.mjs [--rounds 3] [--duration 10] [--warmup 2] [--concurrency 32] [--no-compare]
//
// 1. flow: bench/flow.mjs drives the 3-request flow of ../shared/bench (start, read the code from /dev/messages,
//    check) against a fresh otpd (SQLite, development mode) and reports pairs/s and per-step p50/p99, so the check
//    p99 can be read on its own.
// 2. side by side: ../shared/bench/compare.mjs runs otpd and the shared "limit" SQLite server A/B/A/B and reports
//    the ratio (installs ../shared/bench's dependencies with npm ci if they are missing).
// 3. start -> provider latency (bench/latency.mjs).
// 4. PostgreSQL (bench/pg.mjs, skipped with --no-pg): the flow on an empty database and on one holding 1M
//    verifications, and compare.mjs with limit-pg and peer-pg. `--only-pg` reruns just that part and rewrites the
//    document with the SQLite figures of the previous run (bench/results/latest.json).
// Every figure is the median over rounds. Results are also kept as JSON in bench/results/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BIN, createApp, flag, flowRound, median, opt, root, startOtpd, stop, summarizeFlow } from './lib.mjs';

const ROUNDS = Number(opt('rounds', 3));
const DURATION = Number(opt('duration', 10));
const WARMUP = Number(opt('warmup', 2));
const CONC = Number(opt('concurrency', 32));
const COMPARE = !flag('no-compare');
const PG = !flag('no-pg');
const DOC_ONLY = flag('doc-only'); // rewrite docs/benchmarks.md from bench/results/*.json, measuring nothing
const ONLY_PG = flag('only-pg') || DOC_ONLY;
const PORT = 4200;
const SHARED = resolve(root, '../shared/bench');
const WORK = '/tmp/otpd-bench-run';

console.log('building…');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });

function freshApp() {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const env = { ...process.env, OTPD_DATABASE_URL: `sqlite:${WORK}/otpd.sqlite`, OTPD_DATA_DIR: WORK, OTPD_SECRET: 'bench-secret-0123456789abcdef0123456789', OTPD_LOG_LEVEL: 'info' };
  return { env, key: createApp(env, 'bench').apiKey };
}

const previous = ONLY_PG ? JSON.parse(readFileSync(join(root, 'bench/results/latest.json'), 'utf8')) : null;

// ---- 1. flow
const flow = previous?.flow ?? [];
if (!ONLY_PG) {
  const { env, key } = freshApp();
  const child = await startOtpd(env, PORT);
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      const res = flowRound(PORT, key, { concurrency: CONC, duration: DURATION, warmup: WARMUP });
      flow.push(res);
      console.log(`flow round ${r}: ${res.pairsPerSec} pairs/s, check p50 ${res.check.p50ms} ms p99 ${res.check.p99ms} ms, failures ${res.failures}`);
    }
  } finally {
    await stop(child);
  }
}
const flowSummary = summarizeFlow(flow);

// ---- 2. side by side with the shared limit server
let cmp = previous?.compare ?? null;
const compareCmd = `node ../shared/bench/compare.mjs --targets limit-sqlite --rounds ${ROUNDS} --duration ${DURATION} --warmup ${WARMUP} --concurrency ${CONC} --otpd-cmd "…otpd serve --port ${PORT}" --otpd-base http://127.0.0.1:${PORT} --otpd-key KEY`;
if (!ONLY_PG && COMPARE && existsSync(join(SHARED, 'compare.mjs'))) {
  if (!existsSync(join(SHARED, 'node_modules'))) {
    console.log('installing ../shared/bench dependencies (npm ci)…');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: SHARED, stdio: 'inherit' });
  }
  const { env, key } = freshApp();
  const envPrefix = ['OTPD_DATABASE_URL', 'OTPD_DATA_DIR', 'OTPD_SECRET', 'OTPD_LOG_LEVEL'].map((k) => `${k}=${env[k]}`).join(' ');
  const outFile = join(WORK, 'compare.json');
  const args = [join(SHARED, 'compare.mjs'), '--targets', 'limit-sqlite', '--rounds', String(ROUNDS), '--duration', String(DURATION),
    '--warmup', String(WARMUP), '--concurrency', String(CONC), '--out', outFile,
    '--otpd-cmd', `${envPrefix} exec node ${BIN} serve --port ${PORT}`, '--otpd-base', `http://127.0.0.1:${PORT}`, '--otpd-key', key];
  try {
    execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  } catch {
    console.log('compare reported failures; see its output above');
  }
  if (existsSync(outFile)) cmp = JSON.parse(readFileSync(outFile, 'utf8'));
}

// ---- 3. start -> provider-call latency (bench/latency.mjs), one run per round
const latency = previous?.latency ?? [];
for (let r = 1; r <= (ONLY_PG ? 0 : ROUNDS); r++) {
  const out = execFileSync(process.execPath, [join(root, 'bench/latency.mjs'), '--idle', '300', '--loaded-seconds', '5', '--concurrency', '16'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const res = JSON.parse(out.trim().split('\n').pop());
  latency.push(res);
  console.log(`latency round ${r}: idle p50 ${res.idle.p50ms} ms p99 ${res.idle.p99ms} ms; loaded (${res.loaded.startsPerSec} starts/s) p99 ${res.loaded.p99ms} ms`);
}
const lat = {
  idleP50: median(latency.map((x) => x.idle.p50ms)), idleP99: median(latency.map((x) => x.idle.p99ms)),
  loadedP50: median(latency.map((x) => x.loaded.p50ms)), loadedP99: median(latency.map((x) => x.loaded.p99ms)),
  loadedRate: median(latency.map((x) => x.loaded.startsPerSec)), lost: latency.reduce((a, x) => a + x.idle.lost + x.loaded.lost, 0),
};

// ---- 4. PostgreSQL
if ((PG || ONLY_PG) && !DOC_ONLY) {
  execFileSync(process.execPath, [join(root, 'bench/pg.mjs'), '--rounds', String(ROUNDS), '--duration', String(DURATION), '--warmup', String(WARMUP),
    '--concurrency', String(CONC), ...(COMPARE ? [] : ['--no-compare'])], { cwd: root, stdio: 'inherit' });
}
const pgRes = existsSync(join(root, 'bench/results/postgres.json')) ? JSON.parse(readFileSync(join(root, 'bench/results/postgres.json'), 'utf8')) : null;

// ---- write results
mkdirSync(join(root, 'bench/results'), { recursive: true });
const stamp = previous?.at ?? new Date().toISOString();
if (!ONLY_PG) writeFileSync(join(root, 'bench/results/latest.json'), JSON.stringify({ at: stamp, flow, flowSummary, compare: cmp, latency }, null, 2));

const lines = [];
lines.push('# Benchmarks', '');
lines.push('Written by `npm run bench` (`node bench/run.mjs`); the numbers below are from its last run. Medians over rounds; the box has 2 noisy');
lines.push('cores shared by the load driver and the server, so read ratios and medians, not absolutes.', '');
lines.push(`Run: ${stamp}, Node ${process.version}, ${ROUNDS} rounds × (${WARMUP} s warm-up + ${DURATION} s), ${CONC} concurrent clients, otpd on SQLite (WAL, synchronous=FULL), development mode (console channel), the guard of the app off (section 7 measures it).`, '');
lines.push('## 1. The verification flow (bench/flow.mjs)', '');
lines.push('Each pair is `POST /v1/verifications` → `GET /dev/messages?to=` → `POST /v1/verifications/{id}/check` (verified), as in `../shared/bench`.', '');
lines.push('| pairs/s | failures | pair p50 / p99 ms | start p50 / p99 ms | read p50 / p99 ms | **check p50 / p99 ms** |', '|---|---|---|---|---|---|');
const f = flowSummary;
lines.push(`| ${f.pairsPerSec} | ${f.failures} | ${f.pair.p50ms} / ${f.pair.p99ms} | ${f.start.p50ms} / ${f.start.p99ms} | ${f.read.p50ms} / ${f.read.p99ms} | **${f.check.p50ms} / ${f.check.p99ms}** |`, '');
lines.push(`Per round: ${flow.map((x) => `${x.pairsPerSec} pairs/s (check p99 ${x.check.p99ms} ms)`).join('; ')}.`, '');
if (cmp) {
  const s = cmp.summary;
  lines.push('## 2. Side by side with the shared "limit" server (../shared/bench/compare.mjs)', '');
  lines.push('Alternating A/B rounds in one run; `limit-sqlite` does only the minimal durable work of the same API (see `../shared/bench/README.md`).', '');
  lines.push('| target | median pairs/s (range) | pair p50 / p99 ms | failures | server CPU % |', '|---|---|---|---|---|');
  for (const [n, x] of Object.entries(s)) lines.push(`| ${n} | ${x.pairsPerSec} (${x.min}–${x.max}) | ${x.p50ms} / ${x.p99ms} | ${x.failures} | ${x.srvCpuPct} |`);
  lines.push('');
  for (const [k, r] of Object.entries(cmp.ratios)) lines.push(`**${k}: ×${r.pairsPerSec}** (per round ×${r.perRoundMin}–×${r.perRoundMax}; p99 ratio ×${r.p99}).`);
  lines.push('', `Command (run from the repository root, KEY an app key of the otpd it starts): \`${compareCmd}\``, '');
}
lines.push('## 3. Start → provider call (bench/latency.mjs)', '');
lines.push('From sending `POST /v1/verifications` to the moment an HTTP provider (inside the benchmark process, so one clock) receives the');
lines.push('message. otpd runs with real delivery (`OTPD_PROVIDERS`, an `http` provider), not the console channel. Idle: 300 starts one at a time');
lines.push('with a 20 ms pause, so the worker is idle when each arrives and must be woken by the insert. Loaded: 16 clients back to back for 5 s.', '');
lines.push('| idle p50 / p99 ms | loaded p50 / p99 ms | loaded starts/s | lost |', '|---|---|---|---|');
lines.push(`| ${lat.idleP50} / **${lat.idleP99}** | ${lat.loadedP50} / ${lat.loadedP99} | ${lat.loadedRate} | ${lat.lost} |`, '');
lines.push(`Per round (idle p99): ${latency.map((x) => x.idle.p99ms).join(', ')} ms. Command: \`node bench/latency.mjs --idle 300 --loaded-seconds 5 --concurrency 16\`.`, '');
if (pgRes) {
  const e = pgRes.empty;
  const f = pgRes.full;
  lines.push('## 4. PostgreSQL (bench/pg.mjs)', '');
  lines.push(`Run: ${pgRes.at}, ${pgRes.rounds} rounds × (${pgRes.warmup} s + ${pgRes.duration} s), ${pgRes.concurrency} clients, PostgreSQL 15 from \`../shared/bench/services.sh\``);
  lines.push('(defaults: `synchronous_commit=on`), one otpd node with the default pool of 10, development mode (console channel), retention off, the guard of the app off.', '');
  lines.push(`### Flow on an empty database and on one holding ${pgRes.rows.toLocaleString('en')} verifications`, '');
  lines.push(`The full database also holds a message, a provider attempt and a phone row per verification (${pgRes.fullSize}). The two otpd instances run side by side and the rounds alternate (empty, full, empty, full…).`, '');
  lines.push('| database | pairs/s | pair p50 / p99 ms | start p50 / p99 | read p50 / p99 | **check p50 / p99 ms** |', '|---|---|---|---|---|---|');
  for (const [name, x] of [['empty', e], [`${pgRes.rows.toLocaleString('en')} verifications`, f]]) {
    lines.push(`| ${name} | ${x.pairsPerSec} | ${x.pair.p50ms} / ${x.pair.p99ms} | ${x.start.p50ms} / ${x.start.p99ms} | ${x.read.p50ms} / ${x.read.p99ms} | **${x.check.p50ms} / ${x.check.p99ms}** |`);
  }
  lines.push('', `Full / empty: **×${(f.pairsPerSec / e.pairsPerSec).toFixed(2)}** pairs/s. Per round (empty / full): ${pgRes.flowEmpty.map((x, i) => `${x.pairsPerSec} / ${pgRes.flowFull[i]?.pairsPerSec}`).join('; ')}.`, '');
  if (pgRes.compare) {
    const s2 = pgRes.compare.summary;
    lines.push('### Side by side with limit-pg and the better-auth peer (../shared/bench/compare.mjs)', '');
    lines.push('| target | median pairs/s (range) | pair p50 / p99 ms | failures | server CPU % | postgres CPU % |', '|---|---|---|---|---|---|');
    for (const [n, x] of Object.entries(s2)) lines.push(`| ${n} | ${x.pairsPerSec} (${x.min}–${x.max}) | ${x.p50ms} / ${x.p99ms} | ${x.failures} | ${x.srvCpuPct} | ${x.pgCpuPct ?? ''} |`);
    lines.push('');
    for (const [k, r] of Object.entries(pgRes.compare.ratios)) lines.push(`**${k}: ×${r.pairsPerSec}** (per round ×${r.perRoundMin}–×${r.perRoundMax}; p99 ratio ×${r.p99}).`);
    const o = s2.otpd;
    const l = s2['limit-pg'];
    if (o && l) {
      const per = (x, k) => (x[k] / 100 * 1000 / x.pairsPerSec).toFixed(2);
      lines.push('', `CPU per pair (ms of one core): otpd ${per(o, 'srvCpuPct')} in the server and ${per(o, 'pgCpuPct')} in PostgreSQL, against ${per(l, 'srvCpuPct')} and ${per(l, 'pgCpuPct')} for limit-pg; the box was ${o.boxBusyPct}/200 busy with otpd and ${l.boxBusyPct}/200 with limit-pg. The ×0.7 target of the issue is ${pgRes.compare.ratios['otpd/limit-pg'] && pgRes.compare.ratios['otpd/limit-pg'].pairsPerSec >= 0.7 ? 'met' : '**not met**'} in this run.`);
    }
    lines.push('', 'Command: `node bench/pg.mjs` (it runs `node ../shared/bench/compare.mjs --targets limit-pg,peer-pg --otpd-cmd "OTPD_DATABASE_URL=postgres://…/otpd_bench_cmp … otpd serve --port 4200" …`).', '');
  }
  lines.push('What this says: otpd on PostgreSQL batches the requests that arrive together: a batch of starts for fresh phones is one statement (its own commit), a batch of checks one compare-and-set statement (after one read, unless the node remembers the verifications it wrote); the rest take a locked transaction. Per pair it issues fewer statements and commits than the limit server (which commits once per request), but writes more rows and index entries (phone row, provider attempt, message outcome, more indexes) and its node does more per request (API key, libphonenumber, policy, delivery, access log). Under this load the node\'s event loop is the bottleneck (busy all the time, and on 2 cores preempted about a quarter of it by PostgreSQL and the load driver), so node CPU per request is what the ratio follows. A stored million verifications does not slow it down (index paths only, retention by primary key).', '');
}
// Side-by-side comparisons of two builds (bench/side-by-side.sh) are written by hand after section 4: they record
// what one change cost, so a rerun of this script keeps them as they are.
const doc = join(root, 'docs/benchmarks.md');
const kept = existsSync(doc) ? /^## 5\.[\s\S]*?(?=^## How to read these numbers)/m.exec(readFileSync(doc, 'utf8'))?.[0] : undefined;
if (kept) lines.push(kept.trimEnd(), '');
lines.push('## How to read these numbers', '');
lines.push('- On this box a durable commit (fsync) costs enough that the limit server, which commits once per request, is bound by it rather');
lines.push('  than by CPU. otpd groups the transactions that arrive in the same event-loop turn into one commit (each in its own savepoint,');
lines.push('  every caller answered after the commit), so it pays one fsync for many requests; that is why it can reach or pass the limit');
lines.push('  here while doing more work per request (API-key lookup, libphonenumber, policy, phone counters, outbox delivery, access log).');
lines.push('- This VM\'s speed drifts during a day: a 4 KiB write+fsync measured 33 µs in ../shared/bench/README.md and 260 µs on');
lines.push('  2026-11-22 (dd oflag=dsync); the same otpd build did 2,765 pairs/s (×1.38 of limit-sqlite) in the morning and 1,600 in the');
lines.push('  afternoon. Only ratios from one run (A/B/A/B) compare; absolutes from different runs do not.');
lines.push('- The check p99 is measured per request by bench/flow.mjs; compare.mjs reports latency per pair (3 requests).');
lines.push('- No timing thresholds live in the test suite; these numbers are measured, not asserted.', '');
writeFileSync(join(root, 'docs/benchmarks.md'), lines.join('\n'));
console.log('wrote docs/benchmarks.md');
