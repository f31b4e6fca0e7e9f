#!/usr/bin/env node
// The guard's simulator: replays a traffic mix (bench/fraud-scenarios.mjs) against a running otpd (started here,
// SQLite in a temp dir, the default guard) that delivers through an HTTP provider stub, and counts what reached the
// provider per scenario. Targets (issue 15): >= 95 % of attack sends stopped before the provider, <= 50 leaked per
// attack, <= 0.5 % of legitimate starts refused.
//
//   node bench/fraud-sim.mjs [--seconds 600] [--typing 20-60] [--hidden] [--json out.json]
//   --typing MIN-MAX  seconds a legitimate user takes to type the code (uniform; people take 20-60)
//
// Its model, bench/guard-model.mjs, runs the same mix on the guard's decision functions in a second.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { report, results, scenarios } from './fraud-scenarios.mjs';
import { createApp, flag, opt, startOtpd, stop } from './lib.mjs';

const SECONDS = Number(opt('seconds', 600));
const PORT = Number(opt('port', 4310));
const [TYPE_MIN, TYPE_MAX] = String(opt('typing', '20-60')).split('-').map(Number);
if (!(TYPE_MIN >= 0 && TYPE_MAX >= TYPE_MIN)) { console.error('--typing MIN-MAX, in seconds (e.g. 20-60)'); process.exit(2); }

// --- the provider stub: records every message it is asked to send -------------------------------------------
const sent = []; // { to, code, at }
const stub = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const b = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    sent.push({ to: b.to, code: /\b(\d{6})\b/.exec(b.text ?? '')?.[1] ?? null, at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', id: `gw_${sent.length}` }));
  });
});
await new Promise((r) => stub.listen(0, '127.0.0.1', r));
const stubUrl = `http://127.0.0.1:${stub.address().port}`;

// --- otpd -----------------------------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'otpd-fraud-sim-'));
const env = {
  ...process.env, OTPD_DATA_DIR: dir, OTPD_DATABASE_URL: `sqlite:${join(dir, 'otpd.sqlite')}`, OTPD_LOG_LEVEL: 'warn',
  // The simulator is the trusted proxy in front of otpd: it appends the address it "saw" to X-Forwarded-For.
  OTPD_TRUST_PROXY: '127.0.0.1',
  OTPD_PROVIDERS: JSON.stringify({
    providers: [{
      name: 'gw', type: 'http', url: `${stubUrl}/send`, apiKey: 'k', auth: 'bearer', senderName: 'Acme',
      body: { to: '{{to}}', text: '{{text}}', ref: '{{messageId}}' }, successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id',
    }],
  }),
};
const app = createApp(env, 'fraud-sim', {}); // the default guard: enforce, standard
const otpd = await startOtpd(env, PORT);
const base = `http://127.0.0.1:${PORT}`;

async function call(method, path, body, headers = {}) {
  const r = await fetch(base + path, {
    method, headers: { authorization: `Bearer ${app.apiKey}`, 'content-type': 'application/json', ...headers }, body: body && JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

// --- scenarios ------------------------------------------------------------------------------------------------
const stats = new Map(); // name -> { kind, attempts, accepted, refused: {code: n}, numbers: Set }
const stat = (name, kind) => { if (!stats.has(name)) stats.set(name, { kind, attempts: 0, accepted: 0, refused: {}, errors: 0, numbers: new Set() }); return stats.get(name); };
const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const inflight = new Set();

async function codeFor(to, at) {
  for (let i = 0; i < 40; i++) {
    const m = sent.findLast((s) => s.to === to && s.at >= at);
    if (m?.code) return m.code;
    await sleep(50);
  }
  return null;
}

/** One start (and, for a legitimate user, the check after a while). */
async function attempt(name, kind, to, body = {}, headers = {}, verify = false) {
  const s = stat(name, kind);
  s.attempts++;
  s.numbers.add(to);
  const at = Date.now();
  let r;
  try {
    r = await call('POST', '/v1/verifications', { to, ...body }, headers);
  } catch {
    s.errors++;
    return;
  }
  if (r.status !== 201) {
    const code = r.body?.code ?? String(r.status);
    s.refused[code] = (s.refused[code] ?? 0) + 1;
    return;
  }
  s.accepted++;
  if (!verify) return;
  await sleep((TYPE_MIN + Math.random() * (TYPE_MAX - TYPE_MIN)) * 1000); // a person types the code
  const code = await codeFor(to, at);
  if (code) await call('POST', `/v1/verifications/${r.body.id}/check`, { code, ...(body.ip ? { ip: body.ip } : {}) }, headers);
}

/** Runs `fn` `perSecond` times a second from `from` to `to` seconds. */
async function every(perSecond, from, to, fn) {
  await sleep(from * 1000);
  const gap = 1000 / perSecond;
  let next = Date.now();
  while (elapsed() < to) {
    const p = Promise.resolve().then(fn).catch(() => undefined);
    inflight.add(p);
    p.finally(() => inflight.delete(p));
    next += gap;
    await sleep(Math.max(0, next - Date.now()));
  }
}

await Promise.all(scenarios(SECONDS, { every, attempt, random: Math.random }, { hidden: flag('hidden') }));
await Promise.all([...inflight]);
await sleep(1000);

// --- results --------------------------------------------------------------------------------------------------
const reached = (s) => sent.filter((m) => s.numbers.has(m.to)).length;
const rows = [...stats].map(([name, s]) => ({ name, kind: s.kind, attempts: s.attempts, accepted: s.accepted, reachedProvider: reached(s), refused: s.refused, errors: s.errors }));
const out = { at: new Date().toISOString(), seconds: SECONDS, typing: [TYPE_MIN, TYPE_MAX], node: process.version, rows, ...results(rows) };
console.log(report(rows, out));
if (opt('json')) writeFileSync(opt('json'), JSON.stringify(out, null, 2));
await stop(otpd);
stub.close();
rmSync(dir, { recursive: true, force: true });
