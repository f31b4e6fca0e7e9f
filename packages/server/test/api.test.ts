import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, phone, startHarness, wrong, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

describe('NUL characters (found by the fuzz test: PostgreSQL text cannot hold them)', () => {
  it.each([
    ['/v1/verifications', { to: '+33612345678', metadata: { a: 'x\u0000' } }, '/metadata/a', undefined],
    ['/admin/v1/apps', { name: 'a\u0000b' }, '/name', 'admin'],
    ['/admin/v1/apps', { name: 'ok', settings: { 'brand\u0000Name': 'x' } }, '/settings/brand\u0000Name', 'admin'],
  ])('POST %s with U+0000 in a string or key: 422 naming it, on both stores', async (path, body, pointer, who) => {
    const r = await h.req('POST', path, body, who ? { key: ADMIN_TOKEN } : {});
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'invalid_request', errors: [{ pointer }] });
  });

  it('a backslash-u text that is not a NUL passes', async () => {
    const r = await h.req('POST', '/v1/verifications', { to: phone(), metadata: { a: '\\u0000 is text' } });
    expect(r.status).toBe(201);
    expect(r.body.metadata.a).toBe('\\u0000 is text');
  });
});

describe('POST /v1/verifications', () => {
  it('starts a verification with the seed 000 defaults', async () => {
    const to = phone();
    const r = await h.req('POST', '/v1/verifications', { to, channel: 'sms' });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const v = r.body;
    expect(v).toMatchObject({
      to, countryIso: 'FR', channel: 'sms', status: 'pending', codeLength: 6, codeType: 'numeric',
      attempts: 0, maxAttempts: 3, sends: 1, maxSends: 6, parts: 1, cost: 0,
    });
    expect(v.id).toMatch(/^ver_[0-9A-Z]{26}$/);
    const now = h.clock.now();
    expect(Date.parse(v.expiresAt) - now).toBe(300_000);
    expect(Date.parse(v.resendAvailableAt) - now).toBe(60_000);
    expect(Date.parse(v.createdAt)).toBe(now);
    expect(Object.keys(v)).not.toContain('code');
  });

  it('normalises the number to E.164 and reports the country', async () => {
    const r = await h.req('POST', '/v1/verifications', { to: '+1 (415) 555-2671' });
    expect(r.status).toBe(201);
    expect(r.body.to).toBe('+14155552671');
    expect(r.body.countryIso).toBe('US');
  });

  it('honours per-request overrides within the ranges', async () => {
    const r = await h.req('POST', '/v1/verifications', { to: phone(), codeLength: 8, codeType: 'alphanumeric', ttl: 600, maxAttempts: 5, locale: 'en', metadata: { campaign: 'x', n: 1 } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ codeLength: 8, codeType: 'alphanumeric', maxAttempts: 5, locale: 'en', metadata: { campaign: 'x', n: 1 } });
    expect(Date.parse(r.body.expiresAt) - h.clock.now()).toBe(600_000);
    const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(r.body.to)}`);
    expect(m.body.messages[0].code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
    expect(m.body.messages[0].text).toContain('10 minutes');
  });

  it.each([
    [{ codeLength: 3 }, '/codeLength'], [{ codeLength: 11 }, '/codeLength'], [{ ttl: 59 }, '/ttl'], [{ ttl: 1801 }, '/ttl'],
    [{ maxAttempts: 0 }, '/maxAttempts'], [{ maxAttempts: 11 }, '/maxAttempts'], [{ codeType: 'hex' }, '/codeType'],
    [{ channel: 'pigeon' }, '/channel'], [{ codeLength: '6' }, '/codeLength'], [{ codeLength: 6.5 }, '/codeLength'],
    [{ unknown: true }, '/unknown'], [{ locale: 'français' }, '/locale'], [{ metadata: { a: { deep: 1 } } }, '/metadata/a'],
  ])('refuses %j with 422 invalid_request naming %s', async (extra, pointer) => {
    const r = await h.req('POST', '/v1/verifications', { to: phone(), ...extra });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body.code).toBe('invalid_request');
    expect(r.body.errors[0].pointer).toBe(pointer);
  });

  it.each(['+33112345678', '+1800555000', '0612345678', '+999123', 'hello', '+3361234567890123', '+33 6 12'])('refuses %s as invalid_phone_number', async (to) => {
    const r = await h.req('POST', '/v1/verifications', { to });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'invalid_phone_number', status: 422, type: '/problems/invalid_phone_number' });
  });

  it('refuses a missing or wrongly typed "to"', async () => {
    for (const body of [{}, { to: 33612345678 }, { to: null }, { to: '' }]) {
      const r = await h.req('POST', '/v1/verifications', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.code).toBe('invalid_request');
    }
  });

  it('answers malformed JSON, wrong content types and huge bodies with 4xx problems', async () => {
    const cases: [string, Record<string, string>, number, string][] = [
      ['{"to":', {}, 400, 'malformed_json'],
      ['', { 'content-type': 'application/json' }, 400, 'malformed_json'],
      ['[1,2]', {}, 422, 'invalid_request'],
      ['"x"', {}, 422, 'invalid_request'],
      ['to=+33612345678', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
      ['{"to":"+33612345678","__proto__":{"x":1}}', {}, 400, 'malformed_json'],
      [JSON.stringify({ to: phone(), metadata: { big: 'x'.repeat(500) }, pad: 'y'.repeat(20_000) }), {}, 413, 'payload_too_large'],
    ];
    for (const [raw, headers, status, code] of cases) {
      const r = await h.req('POST', '/v1/verifications', undefined, { raw, headers: { 'content-type': 'application/json', ...headers } });
      expect(r.status, raw.slice(0, 40)).toBe(status);
      expect(r.body.code, raw.slice(0, 40)).toBe(code);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('authentication', () => {
  it('requires a valid bearer key', async () => {
    for (const key of [null, 'nope', 'otpd_unknownkeyvalue', '']) {
      const r = await h.req('POST', '/v1/verifications', { to: phone() }, { key });
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('unauthorized');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const r = await h.req('GET', '/dev/messages', undefined, { key: null });
    expect(r.status).toBe(401);
  });
});

describe('check', () => {
  it('verifies the right code once; later checks answer the terminal status with valid:false', async () => {
    const { id, code } = await h.startAndRead(phone());
    const ok = await h.req('POST', `/v1/verifications/${id}/check`, { code });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id, status: 'verified', valid: true, attemptsRemaining: 0 });
    const again = await h.req('POST', `/v1/verifications/${id}/check`, { code });
    expect(again.body).toEqual({ id, status: 'verified', valid: false, attemptsRemaining: 0 });
    const g = await h.req('GET', `/v1/verifications/${id}`);
    expect(g.body.status).toBe('verified');
    expect(g.body.verifiedAt).toBe(new Date(h.clock.now()).toISOString());
  });

  it('a wrong code is a 200 with valid:false and the tries left; the last wrong try fails it', async () => {
    const { id, code } = await h.startAndRead(phone());
    const bad = wrong(code);
    expect((await h.req('POST', `/v1/verifications/${id}/check`, { code: bad })).body).toEqual({ id, status: 'pending', valid: false, attemptsRemaining: 2 });
    expect((await h.req('POST', `/v1/verifications/${id}/check`, { code: bad })).body).toEqual({ id, status: 'pending', valid: false, attemptsRemaining: 1 });
    expect((await h.req('POST', `/v1/verifications/${id}/check`, { code: bad })).body).toEqual({ id, status: 'failed', valid: false, attemptsRemaining: 0 });
    // Even the right code cannot revive it.
    expect((await h.req('POST', `/v1/verifications/${id}/check`, { code })).body).toEqual({ id, status: 'failed', valid: false, attemptsRemaining: 0 });
  });

  it('accepts surrounding spaces and any letter case for alpha codes', async () => {
    const { id, code } = await h.startAndRead(phone(), { codeType: 'alpha' });
    expect(code).toMatch(/^[A-Z]{6}$/);
    const r = await h.req('POST', `/v1/verifications/${id}/check`, { code: ` ${code.toLowerCase()} ` });
    expect(r.body.valid).toBe(true);
  });

  it.each(['', ' ', '١٢٣٤٥٦', '１２３４５６', '12 34 56', '123', '12345678901', '12345６', '<script>'])('refuses the malformed code %j with 422 invalid_code and no try used', async (code) => {
    const { id } = await h.startAndRead(phone());
    const r = await h.req('POST', `/v1/verifications/${id}/check`, { code });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('invalid_code');
    expect((await h.req('GET', `/v1/verifications/${id}`)).body.attempts).toBe(0);
  });

  it('refuses a code that is not a string', async () => {
    const { id } = await h.startAndRead(phone());
    for (const code of [123456, null, ['123456'], { v: 1 }]) {
      const r = await h.req('POST', `/v1/verifications/${id}/check`, { code });
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('invalid_request');
    }
  });

  it('an unknown id is 404 verification_not_found', async () => {
    for (const id of ['ver_01ARZ3NDEKTSV4RRFFQ69G5FAV', 'nope', 'app_01ARZ3NDEKTSV4RRFFQ69G5FAV']) {
      const r = await h.req('POST', `/v1/verifications/${id}/check`, { code: '123456' });
      expect(r.status).toBe(404);
      expect(r.body.code).toBe('verification_not_found');
    }
  });

  it('an expired verification answers expired', async () => {
    const { id, code } = await h.startAndRead(phone());
    h.clock.advance(300_000);
    const r = await h.req('POST', `/v1/verifications/${id}/check`, { code });
    expect(r.body).toEqual({ id, status: 'expired', valid: false, attemptsRemaining: 0 });
    expect((await h.req('GET', `/v1/verifications/${id}`)).body.status).toBe('expired');
  });

  it('checks by recipient against the newest verification', async () => {
    const to = phone();
    const first = await h.startAndRead(to);
    h.clock.advance(60_000);
    const second = await h.startAndRead(to);
    expect((await h.req('GET', `/v1/verifications/${first.id}`)).body.status).toBe('canceled');
    const r = await h.req('POST', '/v1/verifications/check', { to, code: second.code });
    expect(r.body).toEqual({ id: second.id, status: 'verified', valid: true, attemptsRemaining: 0 });
    const none = await h.req('POST', '/v1/verifications/check', { to: phone(), code: '123456' });
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('verification_not_found');
    const badTo = await h.req('POST', '/v1/verifications/check', { to: 'x', code: '123456' });
    expect(badTo.body.code).toBe('invalid_phone_number');
  });
});

describe('resend and cancel', () => {
  it('resends the same code after the cooldown without moving the expiry', async () => {
    const to = phone();
    const { id, code, body } = await h.startAndRead(to);
    const early = await h.req('POST', `/v1/verifications/${id}/resend`, {});
    expect(early.status).toBe(429);
    expect(early.body.code).toBe('rate_limited');
    expect(early.headers.get('retry-after')).toBe('60');
    h.clock.advance(59_001);
    expect((await h.req('POST', `/v1/verifications/${id}/resend`)).headers.get('retry-after')).toBe('1');
    h.clock.advance(999);
    const r = await h.req('POST', `/v1/verifications/${id}/resend`, { channel: 'whatsapp' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, sends: 2, channel: 'whatsapp', expiresAt: body.expiresAt });
    const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`);
    expect(m.body.messages.map((x: { code: string }) => x.code)).toEqual([code, code]);
    expect(m.body.messages[0].channel).toBe('whatsapp');
    await h.otpd.worker?.flush(); // /dev/messages answers once handed to the provider; the outcome is recorded after
    const msgs = await h.req('GET', `/v1/verifications/${id}/messages`);
    expect(msgs.body.data).toHaveLength(2);
    expect(msgs.body.data.every((x: { status: string; provider: string }) => x.status === 'sent' && x.provider === 'console')).toBe(true);
  });

  it('cancels a pending verification; a canceled one cannot be checked or resent', async () => {
    const { id, code } = await h.startAndRead(phone());
    const c = await h.req('POST', `/v1/verifications/${id}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body.status).toBe('canceled');
    expect((await h.req('POST', `/v1/verifications/${id}/cancel`)).status).toBe(200);
    expect((await h.req('POST', `/v1/verifications/${id}/check`, { code })).body).toMatchObject({ status: 'canceled', valid: false });
    h.clock.advance(61_000);
    const r = await h.req('POST', `/v1/verifications/${id}/resend`);
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('verification_not_pending');
  });

  it('a verified verification cannot be canceled', async () => {
    const { id, code } = await h.startAndRead(phone());
    await h.req('POST', `/v1/verifications/${id}/check`, { code });
    const r = await h.req('POST', `/v1/verifications/${id}/cancel`);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'verification_not_pending', status: 409 });
  });
});

describe('dev inbox', () => {
  it('finds messages under any spelling of the number, newest first, right after the start', async () => {
    const r = await h.req('POST', '/v1/verifications', { to: '+33 6 98 76 54 32' });
    for (const q of ['%2B33698765432', '%2B33%206%2098%2076%2054%2032']) {
      const m = await h.req('GET', `/dev/messages?to=${q}`);
      expect(m.body.messages[0]).toMatchObject({ verificationId: r.body.id, to: '+33698765432', channel: 'sms' });
      expect(m.body.messages[0].code).toMatch(/^\d{6}$/);
      expect(m.body.messages[0].text).toContain(m.body.messages[0].code);
    }
    const all = await h.req('GET', '/dev/messages?limit=1');
    expect(all.body.messages).toHaveLength(1);
  });
});

describe('list', () => {
  it('lists newest first with cursor paging and filters', async () => {
    const to = phone();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await h.startAndRead(to)).id);
      h.clock.advance(61_000);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/verifications?to=${encodeURIComponent(to)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await h.req('GET', q);
      expect(r.status).toBe(200);
      expect(r.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.data.map((v: { id: string }) => v.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const pending = await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}&status=pending`);
    expect(pending.body.data.map((v: { id: string }) => v.id)).toEqual([ids[4]]);
    const canceled = await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}&status=canceled`);
    expect(canceled.body.data).toHaveLength(4);
    h.clock.advance(300_000);
    const expired = await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}&status=expired`);
    expect(expired.body.data.map((v: { id: string }) => v.id)).toEqual([ids[4]]);
  });

  it('refuses bad query parameters', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'status=done', 'cursor=zzz', 'other=1']) {
      const r = await h.req('GET', `/v1/verifications?${q}`);
      expect(r.status, q).toBe(422);
      expect(r.body.code).toBe('invalid_request');
    }
  });
});

describe('system routes', () => {
  it('serves health, readiness, OpenAPI 3.1, the docs UI and problem types', async () => {
    expect((await h.req('GET', '/healthz', undefined, { key: null })).body).toEqual({ status: 'ok' });
    expect((await h.req('GET', '/readyz', undefined, { key: null })).body).toEqual({ status: 'ready' });
    const o = await h.req('GET', '/openapi.json', undefined, { key: null });
    expect(o.body.openapi).toBe('3.1.0');
    for (const p of ['/v1/verifications', '/v1/verifications/{id}', '/v1/verifications/{id}/check', '/v1/verifications/check', '/v1/verifications/{id}/resend', '/v1/verifications/{id}/cancel', '/dev/messages']) {
      expect(Object.keys(o.body.paths), p).toContain(p);
    }
    expect((await h.req('GET', '/docs/', undefined, { key: null })).status).toBe(200);
    const p = await h.req('GET', '/problems/phone_locked', undefined, { key: null });
    expect(p.body).toMatchObject({ code: 'phone_locked', status: 429 });
    const nf = await h.req('GET', '/nope', undefined, { key: null });
    expect(nf.status).toBe(404);
    expect(nf.body.code).toBe('not_found');
  });
});
