#!/usr/bin/env node
// The guard's simulator: replays a traffic mix against a running otpd (started here, SQLite in a temp dir, the
// default guard) that delivers through an HTTP provider stub, and counts what reached the provider per scenario.
//
//   node bench/fraud-sim.mjs [--seconds 150] [--typing 1-4] [--json out.json]
//   --typing MIN-MAX  seconds a legitimate user takes to type the code (uniform; default 1-4; people take 20-60)
//
// Legitimate traffic: users in five countries (most verify after 1-4 s, some never do, as in life), a tenfold
// marketing spike in one country, many users behind one shared address. Attacks (none ever verifies): sequential
// numbers in one prefix; the same in another prefix with a fresh `ip` signal per request; the same again without
// signal but with spoofed X-Forwarded-For entries in front of the address the (trusted) proxy saw; one address
// sending to many countries; a slow attack on a country with no legitimate traffic, from rotating addresses, under
// every plain volume limit. Targets (issue 15): >= 95 % of attack sends stopped before the provider, <= 50 leaked
// per attack, <= 0.5 % of legitimate starts refused.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { createApp, opt, startOtpd, stop } from './lib.mjs';

const SECONDS = Number(opt('seconds', 150));
const PORT = Number(opt('port', 4310));
const [TYPE_MIN, TYPE_MAX] = String(opt('typing', '1-4')).split('-').map(Number);
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

// --- numbers --------------------------------------------------------------------------------------------------
const rnd = (n) => Math.floor(Math.random() * n);
const digits = (n) => Array.from({ length: n }, () => rnd(10)).join('');
const MOBILE = { FR: () => `+336${digits(8)}`, DE: () => `+49151${digits(8)}`, GB: () => `+447${rnd(5) + 4}${digits(8)}`, ES: () => `+346${digits(8)}`, IT: () => `+393${digits(9)}`,
  LT: () => `+3706${digits(7)}`, NG: () => `+23480${digits(8)}`, KE: () => `+2547${digits(8)}`, PH: () => `+639${digits(9)}`, ID: () => `+628${digits(9)}`,
  BR: () => `+55119${digits(8)}`, MX: () => `+5255${digits(8)}`, IN: () => `+919${digits(9)}`, PK: () => `+923${digits(9)}`, EG: () => `+2010${digits(8)}`,
  VN: () => `+849${digits(8)}`, TH: () => `+668${digits(8)}`, TR: () => `+905${digits(9)}`, UA: () => `+38067${digits(7)}`, RO: () => `+407${digits(8)}` };
const valid = (n) => { const p = parsePhoneNumberFromString(n); const t = p?.getType(); return !!p && (t === 'MOBILE' || t === 'FIXED_LINE_OR_MOBILE'); };
function number(country) {
  for (;;) { const n = MOBILE[country](); if (valid(n)) return n; }
}
/** Sequential valid numbers after `prefix` (3 digits). */
function* sequential(prefix) {
  for (let i = 0; i < 1000; i++) { const n = `${prefix}${String(i).padStart(3, '0')}`; if (valid(n)) yield n; }
}
const ipOf = (a, b) => `10.${a & 255}.${(b >> 8) & 255}.${b & 255}`;

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
    const p = fn().catch(() => undefined);
    inflight.add(p);
    p.finally(() => inflight.delete(p));
    next += gap;
    await sleep(Math.max(0, next - Date.now()));
  }
}

let userIp = 0;
const legit = (country) => () => attempt(`legit ${country}`, 'legit', number(country), { ip: ipOf(20 + rnd(200), userIp++) }, {}, Math.random() < 0.9);
const seqA = sequential('+447911123');
const seqB = sequential('+447911124');
const seqC = sequential('+447911125');
let rot = 0;
const attacker = '198.51.100.66';
const T = SECONDS;
await Promise.all([
  // Legitimate users: about 3 starts a second over five countries, and a tenfold spike in FR.
  every(1.0, 0, T, legit('FR')), every(0.6, 0, T, legit('DE')), every(0.6, 0, T, legit('GB')), every(0.4, 0, T, legit('ES')), every(0.4, 0, T, legit('IT')),
  every(10, 0.4 * T, 0.6 * T, () => attempt('legit FR spike x10', 'legit', number('FR'), { ip: ipOf(30 + rnd(200), userIp++) }, {}, Math.random() < 0.9)),
  every(1, 0, T, () => attempt('legit shared address', 'legit', number(Math.random() < 0.5 ? 'FR' : 'DE'), { ip: '100.64.0.1' }, {}, Math.random() < 0.9)),
  // Attacks.
  every(10, 0.2 * T, T, async () => { const n = seqA.next(); if (!n.done) await attempt('attack: sequential prefix', 'attack', n.value, { ip: ipOf(250, rnd(50)) }); }),
  every(10, 0.2 * T, T, async () => { const n = seqB.next(); if (!n.done) await attempt('attack: sequential, rotating ip signal', 'attack', n.value, { ip: ipOf(251, rot++) }); }),
  every(10, 0.2 * T, T, async () => {
    const n = seqC.next();
    if (!n.done) await attempt('attack: sequential, spoofed X-Forwarded-For', 'attack', n.value, {}, { 'x-forwarded-for': `${ipOf(252, rot++)}, ${attacker}` });
  }),
  every(2, 0.2 * T, T, () => {
    const cs = ['LT', 'NG', 'KE', 'PH', 'ID', 'BR', 'MX', 'IN', 'PK', 'EG', 'VN', 'TH', 'TR', 'UA', 'RO'];
    return attempt('attack: many countries from one address', 'attack', number(cs[rnd(cs.length)]), { ip: '203.0.113.66' });
  }),
  every(1 / 3, 0, T, () => attempt('attack: slow, never converts (KE)', 'attack', number('KE'), { ip: ipOf(253, rot++) })),
]);
await Promise.all([...inflight]);
await sleep(1000);

// --- results --------------------------------------------------------------------------------------------------
const reached = (s) => sent.filter((m) => s.numbers.has(m.to)).length;
const rows = [...stats].map(([name, s]) => ({ name, kind: s.kind, attempts: s.attempts, accepted: s.accepted, reachedProvider: reached(s), refused: s.refused, errors: s.errors }));
const attacks = rows.filter((r) => r.kind === 'attack');
const legits = rows.filter((r) => r.kind === 'legit');
const sum = (xs, f) => xs.reduce((t, x) => t + f(x), 0);
const attackAttempts = sum(attacks, (r) => r.attempts);
const attackLeaked = sum(attacks, (r) => r.reachedProvider);
const legitAttempts = sum(legits, (r) => r.attempts);
const legitRefused = sum(legits, (r) => r.attempts - r.accepted);
const out = {
  at: new Date().toISOString(), seconds: T, node: process.version, rows,
  attacks: { attempts: attackAttempts, leaked: attackLeaked, stoppedPct: +(100 * (1 - attackLeaked / Math.max(1, attackAttempts))).toFixed(2), worstLeak: Math.max(...attacks.map((r) => r.reachedProvider)) },
  legit: { attempts: legitAttempts, refused: legitRefused, refusedPct: +(100 * legitRefused / Math.max(1, legitAttempts)).toFixed(3) },
};
console.log('| scenario | starts | reached the provider | refused (codes) |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${r.attempts} | ${r.reachedProvider} | ${Object.entries(r.refused).map(([k, v]) => `${k} ${v}`).join(', ') || '0'} |`);
console.log(`\nattacks: ${attackAttempts} starts, ${attackLeaked} reached the provider (${out.attacks.stoppedPct} % stopped), worst ${out.attacks.worstLeak} leaked in one attack`);
console.log(`legitimate: ${legitAttempts} starts, ${legitRefused} refused (${out.legit.refusedPct} %)`);
if (opt('json')) writeFileSync(opt('json'), JSON.stringify(out, null, 2));
await stop(otpd);
stub.close();
rmSync(dir, { recursive: true, force: true });
