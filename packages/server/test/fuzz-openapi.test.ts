/**
 * An OpenAPI-driven fuzz test: a few thousand requests generated from the served `/openapi.json` (valid ones by
 * json-schema-faker from each operation's schemas, and mutated ones: missing or mistyped fields, unknown fields,
 * malformed JSON, oversized or mistyped bodies, over-long or badly encoded path segments, missing or wrong
 * credentials), in stateful sequences (ids and codes the service returned are reused by later requests), on a
 * fake clock that moves. Every answer must be: never a 5xx; every error RFC 9457 problem JSON whose `code` is a
 * string and whose `status` is the HTTP status; every status one the document lists for that operation; every
 * success body valid against the documented response schema.
 *
 * Reproduce a run with OTPD_FUZZ_SEED=<the printed seed>; OTPD_FUZZ_REQUESTS sets how many.
 */
import { createGeneratorSync } from 'json-schema-faker';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, STORE, startHarness, type Harness } from './helpers.js';

const SEED = Number(process.env.OTPD_FUZZ_SEED ?? 20261130);
const REQUESTS = Number(process.env.OTPD_FUZZ_REQUESTS ?? (STORE === 'postgres' ? 1500 : 3000));

/** Mulberry32: a small seeded PRNG for the fuzzer's own choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = Record<string, unknown>;
interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string; required: boolean; schema: Json }[];
  body: Json | null;
  bodyTypes: string[];
  responses: Record<string, Json>;
  auth: 'apiKey' | 'adminToken' | null;
}

let h: Harness;
let doc: Json;
let ops: Operation[];
beforeAll(async () => {
  h = await startHarness();
  doc = (await h.req('GET', '/openapi.json')).body as Json;
  ops = [];
  for (const [path, byMethod] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(byMethod)) {
      const content = ((op.requestBody as Json | undefined)?.content ?? {}) as Record<string, { schema: Json }>;
      const security = (op.security as Record<string, unknown>[] | undefined)?.[0];
      ops.push({
        method: method.toUpperCase(), path,
        params: ((op.parameters ?? []) as Operation['params']),
        body: content['application/json']?.schema ?? Object.values(content)[0]?.schema ?? null,
        bodyTypes: Object.keys(content),
        responses: (op.responses ?? {}) as Record<string, Json>,
        auth: security ? (Object.keys(security)[0] as Operation['auth']) : null,
      });
    }
  }
});
afterAll(async () => { await h.close(); });

describe(`OpenAPI-driven fuzzing (seed ${SEED}, ${REQUESTS} requests)`, () => {
  it('never answers 5xx, always answers problem JSON for errors, only documented statuses, and valid success bodies', async () => {
    console.log(`fuzz: seed ${SEED}, ${REQUESTS} requests on ${STORE} (reproduce with OTPD_FUZZ_SEED=${SEED})`);
    const rnd = prng(SEED);
    const gen = createGeneratorSync({ seed: SEED, maxDefaultItems: 3, optionalsProbability: 0.5, useExamplesValue: false });
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const chance = (p: number) => rnd() < p;

    const ajv = addFormats.default(new Ajv({ strict: false, allErrors: false, validateFormats: true }));
    const validators = new Map<string, ValidateFunction>();
    const validatorFor = (key: string, schema: Json): ValidateFunction => {
      let v = validators.get(key);
      if (!v) {
        v = ajv.compile({ ...schema, components: doc.components });
        validators.set(key, v);
      }
      return v;
    };
    const fake = (schema: Json): unknown => gen.generate({ ...schema, components: doc.components } as never);

    // State the service handed out, reused by later requests: ids by the collection they belong to, codes, phones.
    const pool = new Map<string, string[]>();
    const remember = (collection: string, id: unknown) => {
      if (typeof id !== 'string' || id === h.appId || !/^[a-z]{2,4}_[0-9A-Za-z]{10,40}$/.test(id)) return;
      const xs = pool.get(collection) ?? [];
      if (!xs.includes(id)) xs.push(id);
      if (xs.length > 30) xs.shift();
      pool.set(collection, xs);
    };
    const codes: string[] = [];
    const phones = Array.from({ length: 12 }, (_, i) => `+3361234${String(5600 + i).padStart(4, '0')}`);
    // Apps the fuzzer made (the harness's own app is never handed to admin routes, so its key keeps working).
    for (let i = 0; i < 2; i++) remember('apps', (await h.req('POST', '/admin/v1/apps', { name: `fuzz${i}` }, { key: ADMIN_TOKEN })).body.id);

    const lastStatic = (path: string, before: string) => {
      const segs = path.split('/');
      const i = segs.indexOf(`{${before}}`);
      for (let j = i - 1; j >= 0; j--) if (!segs[j]!.startsWith('{')) return segs[j]!;
      return '';
    };
    const paramValue = (op: Operation, p: Operation['params'][number]): string => {
      const r = rnd();
      if (r < 0.03) return 'x'.repeat(201 + Math.floor(rnd() * 50)); // 414
      if (r < 0.06) return '%E0%A4%A'; // bad percent-encoding: 400
      if (r < 0.12) return 'y'.repeat(65); // over maxLength: 422
      if (p.name === 'to') return encodeURIComponent(pick(phones));
      if (p.name === 'provider') return pick(['console', 'twilio', 'nope', 'x']);
      if (p.name === 'code') return pick(['invalid_code', 'rate_limited', 'nope', 'not_found']);
      const known = pool.get(lastStatic(op.path, p.name));
      if (known?.length && r < 0.85) return known[Math.floor(rnd() * known.length)]!;
      // Never empty: `/v1/verifications/` is another route (the list), not this one with an empty id.
      return encodeURIComponent(String(fake(p.schema) ?? '')) || 'z';
    };

    /** A body for an operation: valid by its schema, then (sometimes) broken. Returns the raw text and its type. */
    const bodyFor = (op: Operation): { text?: string; type?: string } => {
      if (!op.body) return chance(0.1) ? { text: '{"stray": true}', type: 'application/json' } : {};
      let value = fake(op.body) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const o = value as Json;
        if ('to' in o && chance(0.7)) o.to = pick(phones);
        if ('code' in o && codes.length && chance(0.5)) o.code = pick(codes);
        if ('url' in o && chance(0.6)) o.url = 'http://127.0.0.1:9/hook';
        if ('callbackUrl' in o && chance(0.8)) delete o.callbackUrl;
        if ('template' in o && chance(0.8)) delete o.template;
        const r = rnd();
        const keys = Object.keys(o);
        if (r < 0.08 && keys.length) delete o[pick(keys)];
        else if (r < 0.16 && keys.length) o[pick(keys)] = pick<unknown>([{}, [], 12345678901, -1, 'x', true, null, '\u0000', 'é'.repeat(300)]);
        else if (r < 0.22) o.__proto__unknown = 1;
        else if (r < 0.25) o['__proto__'] = { polluted: true };
        value = o;
      }
      const r = rnd();
      if (r < 0.04) return { text: '{"to": "+33', type: 'application/json' };
      if (r < 0.07) return { text: JSON.stringify({ pad: 'p'.repeat(20_000) }), type: 'application/json' };
      if (r < 0.10) return { text: '<to>x</to>', type: 'application/xml' };
      if (r < 0.12) return { text: '', type: 'application/json' };
      if (r < 0.14) return { text: JSON.stringify([value]), type: 'application/json' };
      const form = op.bodyTypes.includes('application/x-www-form-urlencoded') || op.path === '/oauth/token' || op.path.startsWith('/webhooks/twilio');
      if (form && chance(0.6) && value && typeof value === 'object') {
        return { text: new URLSearchParams(Object.entries(value as Json).map(([k, v]) => [k, String(v)])).toString(), type: 'application/x-www-form-urlencoded' };
      }
      return { text: JSON.stringify(value), type: 'application/json' };
    };

    const violations: string[] = [];
    const seen = new Map<number, number>();
    // The verification routes are where the state is: they are drawn three times as often.
    const weighted = ops.flatMap((o) => (o.path.startsWith('/v1/verifications') ? [o, o, o] : [o]));
    for (let i = 0; i < REQUESTS; i++) {
      const op = pick(weighted);
      let url = op.path;
      const query = new URLSearchParams();
      const headers: Record<string, string> = {};
      for (const p of op.params) {
        if (p.in === 'path') url = url.replace(`{${p.name}}`, paramValue(op, p));
        else if (p.in === 'query' && (p.required || chance(0.4))) {
          const v = p.name === 'to' ? pick(phones) : fake(p.schema);
          if (v !== undefined && v !== null) query.set(p.name, String(v));
        } else if (p.in === 'header' && chance(0.3)) {
          headers[p.name] = pick([`k-${Math.floor(rnd() * 1e6)}`, 'same-key', '', 'cl\u00e9', 'x'.repeat(300)]);
        }
      }
      if (chance(0.05)) query.set('unknownField', '1');
      if (op.auth) {
        const r = rnd();
        const good = op.auth === 'adminToken' ? ADMIN_TOKEN : h.key;
        if (r < 0.04) headers.authorization = `Bearer otpd_fuzz_wrong_${i}`;
        else if (r < 0.06) headers.authorization = 'Basic Zm9vOmJhcg==';
        else if (r >= 0.07) headers.authorization = `Bearer ${good}`;
      }
      const body = op.method === 'GET' ? {} : bodyFor(op);
      if (body.type) headers['content-type'] = body.type;
      if (chance(0.15)) h.clock.advance(Math.floor(rnd() * 120_000));
      const target = url + (query.size ? `?${query.toString()}` : '');
      const res = await fetch(h.url + target, { method: op.method, headers, body: body.text });
      const text = await res.text();
      const where = `#${i} ${op.method} ${target.slice(0, 120)} -> ${res.status}`;
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      let json: unknown = null;
      try { json = text ? JSON.parse(text) : null; } catch { /* checked below where JSON is required */ }

      if (res.status >= 500) violations.push(`${where}: server error ${text.slice(0, 200)}`);
      if (!(String(res.status) in op.responses)) violations.push(`${where}: status not documented for ${op.method} ${op.path} (${Object.keys(op.responses).join(',')})`);
      if (res.status >= 400) {
        const p = json as Json | null;
        if (!/^application\/problem\+json/.test(res.headers.get('content-type') ?? '')) violations.push(`${where}: error is not problem+json (${res.headers.get('content-type')})`);
        else if (!p || typeof p.code !== 'string' || p.status !== res.status || typeof p.title !== 'string') violations.push(`${where}: malformed problem ${text.slice(0, 200)}`);
        continue;
      }
      // A success: its body must match the documented schema, and what it names feeds later requests.
      const documented = op.responses[String(res.status)];
      const schema = ((documented?.content as Record<string, { schema: Json }> | undefined)?.['application/json'])?.schema;
      if (schema && json !== null) {
        const v = validatorFor(`${op.method} ${op.path} ${res.status}`, schema);
        if (!v(json)) violations.push(`${where}: body does not match the documented schema: ${ajv.errorsText(v.errors)}`);
      }
      const collection = op.path.split('/').filter((s) => s && !s.startsWith('{')).at(-1) ?? '';
      const o = json as Json | null;
      if (o && typeof o === 'object') {
        remember(collection, o.id);
        if (Array.isArray(o.data)) for (const x of o.data as Json[]) remember(collection, x?.id);
        if (Array.isArray(o.messages)) for (const m of o.messages as Json[]) if (typeof m.code === 'string') codes.push(m.code);
        if (codes.length > 50) codes.splice(0, codes.length - 50);
      }
    }
    const summary = [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
    console.log(`fuzz: statuses ${summary}`);
    expect(violations.slice(0, 25), `${violations.length} violations (seed ${SEED})`).toEqual([]);
    // The run reached deep into the API, not only its front door.
    const count = (f: (s: number) => boolean) => [...seen.entries()].filter(([s]) => f(s)).reduce((n, [, c]) => n + c, 0);
    // (12 %: most random bodies for the admin routes, provider connections among them, are rightly refused.)
    expect(count((s) => s >= 200 && s < 300)).toBeGreaterThan(REQUESTS * 0.12);
    for (const s of [400, 401, 404, 413, 414, 415, 422]) expect(seen.get(s) ?? 0, `status ${s} seen`).toBeGreaterThan(0);
  }, 240_000);
});
