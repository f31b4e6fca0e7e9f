/**
 * Isolation matrix: every /v1 route (taken from the OpenAPI document, so a new route must be added here) called
 * with another app's credentials answers 404 (or 422 for ids in bodies) and leaks nothing; every /admin route
 * refuses app credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, phone, startHarness, type Harness } from './helpers.js';

let h: Harness;
let a: { key: string; verification: { id: string; code: string; to: string }; template: string; sender: string };
let bKey: string;

beforeAll(async () => {
  h = await startHarness();
  const to = phone();
  const v = await h.startAndRead(to);
  const template = (await h.req('POST', '/v1/templates', { channel: 'sms', name: 'a', text: 'A says {{pin}}' })).body.id;
  const sender = (await h.req('POST', '/v1/senders', { channel: 'sms', value: 'AppA' })).body.id;
  a = { key: h.key, verification: { id: v.id, code: v.code, to }, template, sender };
  bKey = (await h.newApp('B')).key;
});
afterAll(async () => { await h.close(); });

type Case = { body?: unknown; expect: number[] };
const cases = (): Record<string, Case> => {
  const id = a.verification.id;
  return {
    'POST /v1/verifications': { body: { to: phone() }, expect: [201] }, // B's own verification: allowed, unrelated to A
    'GET /v1/verifications': { expect: [200] },
    'POST /v1/verifications/check': { body: { to: a.verification.to, code: a.verification.code }, expect: [404] },
    [`GET /v1/verifications/${id}`]: { expect: [404] },
    [`GET /v1/verifications/${id}/messages`]: { expect: [404] },
    [`POST /v1/verifications/${id}/check`]: { body: { code: a.verification.code }, expect: [404] },
    [`POST /v1/verifications/${id}/resend`]: { body: {}, expect: [404] },
    [`POST /v1/verifications/${id}/next`]: { expect: [404] },
    [`POST /v1/verifications/${id}/cancel`]: { expect: [404] },
    'POST /v1/templates': { body: { channel: 'sms', name: 'b', text: 'B {{pin}}' }, expect: [201] },
    'GET /v1/templates': { expect: [200] },
    'POST /v1/templates/preview': { body: { channel: 'sms', to: phone(), template: a.template }, expect: [422] },
    [`GET /v1/templates/${a.template}`]: { expect: [404] },
    [`PUT /v1/templates/${a.template}`]: { body: { channel: 'sms', name: 'x', text: 'X {{pin}}' }, expect: [404] },
    [`DELETE /v1/templates/${a.template}`]: { expect: [404] },
    'POST /v1/senders': { body: { channel: 'sms', value: 'AppB' }, expect: [201] },
    'GET /v1/senders': { expect: [200] },
    [`DELETE /v1/senders/${a.sender}`]: { expect: [404] },
    'GET /v1/analytics/summary': { expect: [200] },
    'POST /v1/client-sessions': { body: { to: a.verification.to }, expect: [201] }, // B's own session: it can only reach B's verifications
    'GET /v1/analytics/series': { expect: [200] },
  };
};
const pattern = (path: string) => path.replace(/\{[^}]+\}/g, '[^/]+');

describe('isolation matrix', () => {
  it("covers every /v1 route in the OpenAPI document, and another app's credentials see nothing of app A", async () => {
    const spec = (await h.req('GET', '/openapi.json', undefined, { key: null })).body as { paths: Record<string, Record<string, unknown>> };
    const c = cases();
    const keys = Object.keys(c);
    const routes = Object.entries(spec.paths).filter(([p]) => p.startsWith('/v1/')).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    for (const r of routes) {
      const [m, p] = r.split(' ');
      const re = new RegExp(`^${m} ${pattern(p!)}$`);
      expect(keys.some((k) => re.test(k)), `route ${r} has no isolation case`).toBe(true);
    }
    const secrets = [a.verification.id, a.verification.code, a.template, a.sender, 'A says', 'AppA'];
    for (const [k, cs] of Object.entries(c)) {
      const [method, path] = k.split(' ') as [string, string];
      const r = await h.req(method, path, cs.body, { key: bKey });
      expect(cs.expect, `${k} -> ${r.status} ${r.text.slice(0, 120)}`).toContain(r.status);
      // What the caller sent may be echoed (e.g. the path in `instance`); anything else of A must not appear.
      const sent = `${path} ${JSON.stringify(cs.body ?? '')}`;
      for (const s of secrets.filter((x) => !sent.includes(x))) expect(r.text, `${k} leaked ${s}`).not.toContain(s);
    }
    // B's analytics count B's one verification (the POST above), none of A's.
    expect((await h.req('GET', '/v1/analytics/summary', undefined, { key: bKey })).body.verifications.started).toBe(1);
    expect((await h.req('GET', `/v1/analytics/summary?app=${a.verification.id}`, undefined, { key: bKey })).status).toBe(422);
    // And app A's resources are untouched.
    expect((await h.req('GET', `/v1/templates/${a.template}`)).status).toBe(200);
    expect((await h.req('GET', '/v1/senders')).body.data.map((x: { value: string }) => x.value)).toContain('AppA');
    expect((await h.req('POST', `/v1/verifications/${a.verification.id}/check`, { code: a.verification.code })).body.valid).toBe(true);
  });

  it('every /admin route refuses app credentials', async () => {
    const spec = (await h.req('GET', '/openapi.json', undefined, { key: null })).body as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(spec.paths).filter(([p]) => p.startsWith('/admin/')).flatMap(([p, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), p.replace(/\{[^}]+\}/g, 'x')] as const));
    expect(routes.length).toBeGreaterThan(10);
    for (const [m, p] of routes) {
      for (const key of [a.key, bKey]) {
        h.clock.advance(60_000); // stay under the failed-authentication limit, which this loop would trip
        const r = await h.req(m, p, m === 'GET' || m === 'DELETE' ? undefined : {}, { key });
        expect(r.status, `${m} ${p}`).toBe(401);
      }
    }
    expect((await h.req('GET', '/admin/v1/apps', undefined, { key: ADMIN_TOKEN })).status).toBe(200);
  });
});
