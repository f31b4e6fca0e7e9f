import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phone, startHarness, wrong, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

const MIN = 60_000;
const DAY = 86_400_000;

const start = (to: string, extra: Record<string, unknown> = {}, key?: string) =>
  h.req('POST', '/v1/verifications', { to, ...extra }, key ? { key } : {});
const check = (id: string, code: string) => h.req('POST', `/v1/verifications/${id}/check`, { code });
const resend = (id: string) => h.req('POST', `/v1/verifications/${id}/resend`, {});

describe('cooldown between sends', () => {
  it('applies to new verifications of the same phone too, with Retry-After', async () => {
    const to = phone();
    await start(to);
    h.clock.advance(30_000);
    const r = await start(to);
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'rate_limited', retryAfter: 30 });
    expect(r.headers.get('retry-after')).toBe('30');
    h.clock.advance(30_000);
    expect((await start(to)).status).toBe(201);
  });
});

describe('sends per phone', () => {
  it('allows 6 sends (1 + 5 resends), then locks the phone for 24 h', async () => {
    const to = phone();
    const { id, code } = await h.startAndRead(to, { ttl: 1800 });
    for (let i = 2; i <= 6; i++) {
      h.clock.advance(MIN);
      const r = await resend(id);
      expect(r.status, `send ${i}`).toBe(200);
      expect(r.body.sends).toBe(i);
    }
    h.clock.advance(MIN);
    const seventh = await resend(id);
    expect(seventh.status).toBe(429);
    expect(seventh.body.code).toBe('max_sends_reached');
    // Locked for a day from the sixth send, one minute ago.
    expect(seventh.headers.get('retry-after')).toBe(String(DAY / 1000 - 60));
    const newStart = await start(to);
    expect(newStart.status).toBe(429);
    expect(newStart.body.code).toBe('phone_locked');
    expect(Number(newStart.headers.get('retry-after'))).toBe(DAY / 1000 - 60);
    // The code already sent can still be checked, and success clears the lock.
    h.clock.advance(MIN);
    expect((await check(id, code)).body.valid).toBe(true);
    expect((await start(to)).status).toBe(201);
  });

  it('counts sends across verifications: a new verification never gives fresh sends', async () => {
    const to = phone();
    for (let i = 1; i <= 6; i++) {
      const r = await start(to);
      expect(r.status, `start ${i}`).toBe(201);
      expect(r.body.sends).toBe(i);
      h.clock.advance(MIN);
    }
    const r = await start(to);
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('phone_locked');
  });

  it('the lock ends after 24 h and the counters start again', async () => {
    const to = phone();
    for (let i = 1; i <= 6; i++) { await start(to); h.clock.advance(MIN); }
    // The sixth send (5 min in) locked the phone until 5 min + 24 h; it is now 6 min in.
    expect((await start(to)).body.code).toBe('phone_locked');
    h.clock.advance(DAY - 2 * MIN);
    expect((await start(to)).status).toBe(429);
    h.clock.advance(MIN);
    const r = await start(to);
    expect(r.status).toBe(201);
    expect(r.body.sends).toBe(1);
  });
});

describe('tries', () => {
  it('a resend never resets the tries', async () => {
    const { id, code } = await h.startAndRead(phone());
    await check(id, wrong(code));
    await check(id, wrong(code));
    h.clock.advance(MIN);
    const r = await resend(id);
    expect(r.body.attempts).toBe(2);
    expect(r.body.attemptsRemaining).toBe(1);
    expect((await check(id, wrong(code))).body).toMatchObject({ status: 'failed', attemptsRemaining: 0 });
  });

  it('a new verification inherits the wrong tries of the phone (no fresh tries by restarting)', async () => {
    const to = phone();
    const a = await h.startAndRead(to);
    await check(a.id, wrong(a.code));
    await check(a.id, wrong(a.code));
    h.clock.advance(MIN);
    const b = await h.startAndRead(to);
    expect(b.body.attempts).toBe(2);
    expect(b.body.attemptsRemaining).toBe(1);
    expect((await check(b.id, wrong(b.code))).body).toMatchObject({ status: 'failed', valid: false });
    h.clock.advance(MIN);
    const c = await start(to);
    expect(c.status).toBe(429);
    expect(c.body.code).toBe('phone_locked');
  });

  it('exhausted tries lock the phone for 24 h; the lock survives new verifications', async () => {
    const to = phone();
    const { id, code } = await h.startAndRead(to);
    for (let i = 0; i < 3; i++) await check(id, wrong(code));
    for (const dt of [MIN, 12 * 3600_000]) {
      h.clock.advance(dt);
      const r = await start(to);
      expect(r.status).toBe(429);
      expect(r.body.code).toBe('phone_locked');
    }
    h.clock.advance(DAY);
    const r = await start(to);
    expect(r.status).toBe(201);
    expect(r.body.attempts).toBe(0);
  });

  it('a success clears earlier wrong tries', async () => {
    const to = phone();
    const a = await h.startAndRead(to);
    await check(a.id, wrong(a.code));
    await check(a.id, a.code);
    const b = await h.startAndRead(to);
    expect(b.body.attempts).toBe(0);
    expect(b.body.sends).toBe(1);
  });

  it('honours maxAttempts overrides', async () => {
    const { id, code } = await h.startAndRead(phone(), { maxAttempts: 1 });
    expect((await check(id, wrong(code))).body).toMatchObject({ status: 'failed', attemptsRemaining: 0 });
  });

  it('locks at once when earlier failures already exceed a lower maxAttempts', async () => {
    const to = phone();
    const a = await h.startAndRead(to);
    await check(a.id, wrong(a.code));
    await check(a.id, wrong(a.code));
    h.clock.advance(MIN);
    const r = await start(to, { maxAttempts: 2 });
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('phone_locked');
    h.clock.advance(MIN);
    expect((await start(to)).body.code).toBe('phone_locked');
  });
});

describe('country rules', () => {
  it('applies allow and deny lists before anything is sent', async () => {
    const onlyFr = await h.newApp('fr-only', { allowedCountries: ['FR'] });
    const noUs = await h.newApp('no-us', { deniedCountries: ['US'] });
    const us = '+14155552671';
    expect((await start(phone(), {}, onlyFr.key)).status).toBe(201);
    const r = await start(us, {}, onlyFr.key);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('country_not_allowed');
    expect((await start(us, {}, noUs.key)).body.code).toBe('country_not_allowed');
    expect((await start(phone(), {}, noUs.key)).status).toBe(201);
    const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(us)}`, undefined, { key: onlyFr.key });
    expect(m.body.messages).toEqual([]);
  });
});

describe('idempotency', () => {
  it('the same key and body return the first response and send nothing', async () => {
    const to = phone();
    const headers = { 'idempotency-key': 'order-1234' };
    const a = await h.req('POST', '/v1/verifications', { to, channel: 'sms' }, { headers });
    h.clock.advance(5_000);
    const b = await h.req('POST', '/v1/verifications', { channel: 'sms', to }, { headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.text).toBe(a.text);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`);
    expect(m.body.messages).toHaveLength(1);
    const list = await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}`);
    expect(list.body.data).toHaveLength(1);
  });

  it('the same key with another body is 422 idempotency_key_reused', async () => {
    const headers = { 'idempotency-key': 'order-5678' };
    expect((await h.req('POST', '/v1/verifications', { to: phone() }, { headers })).status).toBe(201);
    const r = await h.req('POST', '/v1/verifications', { to: phone() }, { headers });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('idempotency_key_reused');
  });

  it('keys are per app, and malformed keys are refused', async () => {
    const other = await h.newApp('other');
    const headers = { 'idempotency-key': 'shared-key' };
    const a = await h.req('POST', '/v1/verifications', { to: phone() }, { headers });
    const b = await h.req('POST', '/v1/verifications', { to: phone() }, { headers, key: other.key });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
    const bad = await h.req('POST', '/v1/verifications', { to: phone() }, { headers: { 'idempotency-key': 'x'.repeat(256) } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_idempotency_key');
  });

  it('concurrent requests with one key create one verification', async () => {
    const to = phone();
    const headers = { 'idempotency-key': 'race-1' };
    const rs = await Promise.all(Array.from({ length: 10 }, () => h.req('POST', '/v1/verifications', { to }, { headers })));
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    expect(rs.every((r) => r.status === 201)).toBe(true);
  });
});

describe('app isolation', () => {
  it("another app's verification is a 404 everywhere, and invisible in lists and inboxes", async () => {
    const other = await h.newApp('intruder');
    const to = phone();
    const { id, code } = await h.startAndRead(to);
    const as = { key: other.key };
    for (const [method, path, body] of [
      ['GET', `/v1/verifications/${id}`, undefined],
      ['GET', `/v1/verifications/${id}/messages`, undefined],
      ['POST', `/v1/verifications/${id}/check`, { code }],
      ['POST', `/v1/verifications/${id}/resend`, {}],
      ['POST', `/v1/verifications/${id}/cancel`, undefined],
    ] as const) {
      const r = await h.req(method, path, body, as);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.code).toBe('verification_not_found');
    }
    expect((await h.req('POST', '/v1/verifications/check', { to, code }, as)).status).toBe(404);
    expect((await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}`, undefined, as)).body.data).toEqual([]);
    expect((await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`, undefined, as)).body.messages).toEqual([]);
    // Another app's counters are its own: its starts for the same phone are not rate limited by ours.
    expect((await start(to, {}, other.key)).status).toBe(201);
    // And the owner's verification is untouched.
    expect((await check(id, code)).body.valid).toBe(true);
  });
});
