#!/usr/bin/env node
// otpd flow driver: C workers run the 3-request flow of ../shared/bench back to back for S seconds
// (POST /v1/verifications -> GET /dev/messages?to= -> POST /v1/verifications/{id}/check) and report pairs/s plus
// per-step latency percentiles, so the check p99 can be read on its own. One JSON line on stdout.
//
// node bench/flow.mjs --base http://127.0.0.1:4200 --key KEY [--concurrency 32] [--duration 10] [--warmup 2] [--spread] [--ips N]
//   --spread   numbers scattered over the space (consecutive pairs in different prefixes, as real users are) instead
//              of sequential ones (which the guard's per-prefix rules rightly treat as an attack);
//   --ips N    each start and check carries an `ip` signal drawn from N addresses (the guard's per-address rules run).
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(`--${name}`); return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def; };
const BASE = opt('base');
const KEY = opt('key');
const C = Number(opt('concurrency', 32));
const DURATION = Number(opt('duration', 10));
const WARMUP = Number(opt('warmup', 2));
if (!BASE || !KEY) { console.error('usage: node bench/flow.mjs --base URL --key KEY [--concurrency 32] [--duration 10] [--warmup 2]'); process.exit(2); }

// Valid French mobiles, unique per pair (same space as ../shared/bench/pairs.mjs: +336 + 8 digits, 39x skipped).
const SPACE = 89_000_000;
let seq = Number(opt('phone-base', Math.floor(Math.random() * SPACE))) % SPACE;
// A bijection of [0, SPACE): a multiplier coprime with SPACE (89e6 = 2^6 5^6 89) scatters consecutive k.
const SPREAD = argv.includes('--spread');
const IPS = Number(opt('ips', 0));
const ipOf = () => {
  const n = Math.floor(Math.random() * IPS);
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};
const nextPhone = () => {
  const k = SPREAD ? Number((BigInt(seq++ % SPACE) * 48_271n) % BigInt(SPACE)) : seq++ % SPACE;
  const p = Math.floor(k / 1e6);
  return `+336${String(p < 39 ? p : p + 1).padStart(2, '0')}${String(k % 1e6).padStart(6, '0')}`;
};

const origin = new URL(BASE).origin;
const pool = new Pool(origin, { connections: C, pipelining: 1, keepAliveTimeout: 60_000 });
const auth = `Bearer ${KEY}`;
async function send(method, path, body) {
  const headers = { authorization: auth };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await pool.request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, json: text ? JSON.parse(text) : null };
}

class StepError extends Error {}
async function pair(phone, lat) {
  let t = performance.now();
  const ip = IPS > 0 ? ipOf() : undefined;
  const s = await send('POST', '/v1/verifications', { to: phone, channel: 'sms', ...(ip ? { ip } : {}) });
  if (s.status !== 201) throw new StepError(`start ${s.status} ${s.json?.code ?? ''}`);
  let t2 = performance.now(); lat.start.push(t2 - t); t = t2;
  const m = await send('GET', `/dev/messages?to=${encodeURIComponent(phone)}`);
  if (m.status !== 200 || m.json?.messages?.[0]?.to !== phone) throw new StepError(`read ${m.status}`);
  t2 = performance.now(); lat.read.push(t2 - t); t = t2;
  const c = await send('POST', `/v1/verifications/${s.json.id}/check`, { code: m.json.messages[0].code, ...(ip ? { ip } : {}) });
  if (c.status !== 200 || c.json?.status !== 'verified') throw new StepError(`check ${c.status} ${c.json?.status ?? c.json?.code}`);
  t2 = performance.now(); lat.check.push(t2 - t);
}

async function phase(seconds) {
  const lat = { start: [], read: [], check: [], pair: [] };
  const errors = {};
  let failures = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let last = t0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try { await pair(nextPhone(), lat); last = performance.now(); lat.pair.push(last - s); } catch (e) {
        failures++;
        const k = e instanceof StepError ? e.message : `error ${e.code ?? e.message}`;
        errors[k] = (errors[k] ?? 0) + 1;
        last = performance.now();
        if (!(e instanceof StepError)) await new Promise((r) => setTimeout(r, 10));
      }
    }
  }));
  return { lat, failures, errors, elapsed: (last - t0) / 1000 };
}

const q = (xs, f) => { if (!xs.length) return null; const s = Float64Array.from(xs).sort(); return +s[Math.min(s.length - 1, Math.floor(f * s.length))].toFixed(2); };
if (WARMUP > 0) await phase(WARMUP);
const r = await phase(DURATION);
await pool.close();
const out = {
  target: 'otpd', pairs: r.lat.pair.length, failures: r.failures, pairsPerSec: +(r.lat.pair.length / r.elapsed).toFixed(1), concurrency: C,
  seconds: +r.elapsed.toFixed(2),
  pair: { p50ms: q(r.lat.pair, 0.5), p99ms: q(r.lat.pair, 0.99) },
  start: { p50ms: q(r.lat.start, 0.5), p99ms: q(r.lat.start, 0.99) },
  read: { p50ms: q(r.lat.read, 0.5), p99ms: q(r.lat.read, 0.99) },
  check: { p50ms: q(r.lat.check, 0.5), p99ms: q(r.lat.check, 0.99) },
};
if (r.failures) out.errors = r.errors;
console.log(JSON.stringify(out));
