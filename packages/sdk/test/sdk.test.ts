/**
 * The TypeScript SDK against a real otpd (SQLite, HTTP on port 0): a first verification, a wrong code and the right
 * one, problems as OtpdError with their code, the Idempotency-Key on every start (the same on a retry), Retry-After
 * honoured on 429/503 (and thrown when longer than allowed), the admin API, and the typed generic request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, wrong, type Harness } from '../../server/test/helpers.js';
import { Otpd, OtpdAdmin, OtpdError } from '../src/index.js';

let h: Harness;
const codeOf = async (to: string) => (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`)).body.messages[0].code as string;

beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.close(); });

describe('@otpd/sdk', () => {
  it('starts and checks a verification (the README example)', async () => {
    const otpd = new Otpd({ baseUrl: h.url, apiKey: h.key });
    const v = await otpd.verifications.start({ to: '+33612340001' });
    expect(v).toMatchObject({ to: '+33612340001', status: 'pending', channel: 'sms' });
    const code = await codeOf(v.to);
    expect(await otpd.verifications.check(v.id, { code: wrong(code) })).toMatchObject({ valid: false, attemptsRemaining: 2 });
    expect(await otpd.verifications.check(v.id, { code })).toMatchObject({ valid: true, status: 'verified' });
    expect((await otpd.verifications.get(v.id)).status).toBe('verified');
    expect((await otpd.request('get', '/v1/verifications/{id}/messages', { params: { id: v.id } })).data[0]).toMatchObject({ channel: 'sms', status: 'sent' });
  });

  it('throws problems as OtpdError with their stable code', async () => {
    const otpd = new Otpd({ baseUrl: h.url, apiKey: h.key });
    const e = await otpd.verifications.start({ to: '+3361' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OtpdError);
    expect(e).toMatchObject({ status: 422, code: 'invalid_phone_number' });
    await expect(new Otpd({ baseUrl: h.url, apiKey: 'otpd_nope' }).verifications.list()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(new Otpd({ baseUrl: 'http://127.0.0.1:1', apiKey: h.key }).verifications.list()).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('sets an Idempotency-Key on every start, keeps it across a retry, and honours Retry-After', async () => {
    const seen: { key: string | null; status: number }[] = [];
    let failFirst = true;
    const fetcher: typeof fetch = async (url, init) => {
      const key = new Headers(init?.headers).get('idempotency-key');
      if (failFirst) {
        // The first try reaches otpd (the start is made), but its answer is lost behind a 503 with Retry-After.
        failFirst = false;
        await fetch(url, init);
        seen.push({ key, status: 503 });
        return new Response(JSON.stringify({ code: 'store_unavailable', title: 'The database is unavailable', status: 503 }), { status: 503, headers: { 'retry-after': '1', 'content-type': 'application/problem+json' } });
      }
      const r = await fetch(url, init);
      seen.push({ key, status: r.status });
      return r;
    };
    const otpd = new Otpd({ baseUrl: h.url, apiKey: h.key, fetch: fetcher });
    const v = await otpd.verifications.start({ to: '+33612340002' });
    expect(seen.map((s) => s.status)).toEqual([503, 201]);
    expect(seen[0]!.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]!.key).toBe(seen[0]!.key);
    // The retry was answered with the first start (one verification, one message), not a second one.
    expect((await otpd.verifications.list({ to: '+33612340002' })).data.map((x) => x.id)).toEqual([v.id]);
    // A Retry-After longer than allowed is thrown at once, with its delay.
    const impatient = new Otpd({ baseUrl: h.url, apiKey: h.key, maxRetryDelayMs: 1_000 });
    const e = await impatient.verifications.resend(v.id).catch((x: unknown) => x) as OtpdError;
    expect(e).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(e.retryAfter).toBeGreaterThan(1);
  });

  it('covers the admin API', async () => {
    const admin = new OtpdAdmin({ baseUrl: h.url, adminToken: ADMIN_TOKEN });
    const created = await admin.apps.create({ name: 'From the SDK', settings: { guard: { mode: 'off' } } });
    const key = await admin.keys.create(created.app.id, { name: 'second' });
    expect(key.apiKey).toMatch(/^otpd_/);
    expect((await admin.apps.list()).data.map((a) => a.name)).toContain('From the SDK');
    const app = new Otpd({ baseUrl: h.url, apiKey: key.apiKey });
    expect((await app.verifications.start({ to: '+33612340003' })).status).toBe('pending');
    expect((await admin.analytics.summary({ app: created.app.id })).verifications.started).toBe(1);
    await admin.keys.revoke(created.app.id, key.id);
    await expect(app.verifications.list()).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
