/** The admin API: admin-token auth, apps and settings, API keys, the audit log, failed-auth limiting. */
import { loadConfig } from '../src/config.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, phone, startHarness, wrong, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
const start = (key: string, extra: Record<string, unknown> = {}) => h.req('POST', '/v1/verifications', { to: phone(), ...extra }, { key });

describe('admin authentication', () => {
  it('requires the admin token; app keys never reach admin routes; the admin token is not an app key', async () => {
    for (const key of [null, 'nope', h.key, `${ADMIN_TOKEN}x`]) {
      const r = await h.req('GET', '/admin/v1/apps', undefined, { key });
      expect(r.status, String(key)).toBe(401);
      expect(r.body.code).toBe('unauthorized');
    }
    expect((await admin('GET', '/apps')).status).toBe(200);
    expect((await h.req('POST', '/v1/verifications', { to: phone() }, { key: ADMIN_TOKEN })).status).toBe(401);
  });
});

describe('apps', () => {
  it('creates an app with settings and a first key shown once; the key works at once', async () => {
    const r = await admin('POST', '/apps', { name: 'Shop', settings: { ttl: 600, codeLength: 8, allowedCountries: ['fr', 'BE'], brandName: 'ShopCo' } });
    expect(r.status).toBe(201);
    expect(r.body.app).toMatchObject({ name: 'Shop', enabled: true, settings: { ttl: 600, codeLength: 8, allowedCountries: ['FR', 'BE'], brandName: 'ShopCo' } });
    expect(r.body.apiKey.apiKey).toMatch(/^otpd_/);
    expect(r.body.apiKey.prefix).toBe(r.body.apiKey.apiKey.slice(0, 11));
    const s = await start(r.body.apiKey.apiKey);
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ codeLength: 8 });
    expect(Date.parse(s.body.expiresAt) - h.clock.now()).toBe(600_000);
    const list = await admin('GET', '/apps');
    expect(list.body.data.map((a: { id: string }) => a.id)).toContain(r.body.app.id);
    expect(list.text).not.toContain(r.body.apiKey.apiKey);
    expect((await admin('GET', `/apps/${r.body.app.id}`)).body.name).toBe('Shop');
    expect((await admin('GET', '/apps/app_01ARZ3NDEKTSV4RRFFQ69G5FAV')).status).toBe(404);
  });

  it('validates settings exactly: out of range names the field and the range; unknown fields are refused', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ttl: 30 }, 'settings.ttl must be an integer from 60 to 1800'],
      [{ ttl: 1801 }, 'settings.ttl must be an integer from 60 to 1800'],
      [{ codeLength: 3 }, 'settings.codeLength must be an integer from 4 to 10'],
      [{ maxAttempts: 11 }, 'settings.maxAttempts must be an integer from 1 to 10'],
      [{ stepTimeout: 301 }, 'settings.stepTimeout must be an integer from 15 to 300'],
    ];
    for (const [settings, detail] of cases) {
      const r = await admin('POST', '/apps', { name: 'x', settings });
      expect(r.status, JSON.stringify(settings)).toBe(422);
      expect(r.body).toMatchObject({ code: 'invalid_request', detail });
      expect(r.body.errors[0].pointer).toMatch(/^\/settings\//);
    }
    for (const settings of [{ colour: 'red' }, { codeType: 'hex' }, { allowedCountries: ['France'] }, { ttl: '600' }, { brandName: 'a{{pin}}' }]) {
      const r = await admin('POST', '/apps', { name: 'x', settings });
      expect(r.status, JSON.stringify(settings)).toBe(422);
      expect(r.body.code).toBe('invalid_request');
    }
  });

  it('PATCH merges settings (null resets one), takes effect on the next request, and validates', async () => {
    const a = (await admin('POST', '/apps', { name: 'Patchy', settings: { ttl: 600, maxAttempts: 5 } })).body;
    const key = a.apiKey.apiKey;
    const p = await admin('PATCH', `/apps/${a.app.id}`, { name: 'Patched', settings: { ttl: 900, maxAttempts: null } });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ name: 'Patched', settings: { ttl: 900 } });
    expect(p.body.settings.maxAttempts).toBeUndefined();
    const s = await start(key);
    expect(s.body.maxAttempts).toBe(3);
    expect(Date.parse(s.body.expiresAt) - h.clock.now()).toBe(900_000);
    const bad = await admin('PATCH', `/apps/${a.app.id}`, { settings: { lockout: 10 } });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toBe('settings.lockout must be an integer from 60 to 2592000');
    expect((await admin('GET', `/apps/${a.app.id}`)).body.settings).toEqual({ ttl: 900 });
  });

  it('a disabled app gets 403 app_disabled at once; enabling restores it; deleting removes its credentials', async () => {
    const a = (await admin('POST', '/apps', { name: 'Toggle' })).body;
    const key = a.apiKey.apiKey;
    expect((await start(key)).status).toBe(201);
    expect((await admin('PATCH', `/apps/${a.app.id}`, { enabled: false })).body.enabled).toBe(false);
    const r = await start(key);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('app_disabled');
    expect((await h.req('GET', '/v1/verifications', undefined, { key })).status).toBe(403);
    await admin('PATCH', `/apps/${a.app.id}`, { enabled: true });
    expect((await start(key)).status).toBe(201);
    expect((await admin('DELETE', `/apps/${a.app.id}`)).status).toBe(204);
    expect((await start(key)).status).toBe(401);
    expect((await admin('GET', `/apps/${a.app.id}`)).status).toBe(404);
    expect((await admin('DELETE', `/apps/${a.app.id}`)).status).toBe(404);
  });
});

describe('per-app policy bounds and prices', () => {
  it("the app's settings are defaults a request overrides (seed 001); only its explicit limits bind, naming the field", async () => {
    const loose = (await admin('POST', '/apps', { name: 'Defaults', settings: { maxAttempts: 3, ttl: 300, codeLength: 6 } })).body;
    const r0 = await start(loose.apiKey.apiKey, { maxAttempts: 5, ttl: 600, codeLength: 4 });
    expect(r0.status, r0.text).toBe(201);
    expect((await h.req('GET', `/v1/verifications/${r0.body.id}`, undefined, { key: loose.apiKey.apiKey })).body).toMatchObject({ maxAttempts: 5 });
    expect((await start(loose.apiKey.apiKey)).body).toMatchObject({ maxAttempts: 3 });

    const a = (await admin('POST', '/apps', { name: 'Strict', settings: { maxAttempts: 3, ttl: 300, codeLength: 6, limits: { maxAttempts: 3, maxTtl: 300, minCodeLength: 6 } } })).body;
    const key = a.apiKey.apiKey;
    for (const [extra, pointer] of [[{ maxAttempts: 5 }, '/maxAttempts'], [{ ttl: 600 }, '/ttl'], [{ codeLength: 4 }, '/codeLength']] as const) {
      const r = await start(key, extra);
      expect(r.status, JSON.stringify(extra)).toBe(422);
      expect(r.body.errors[0].pointer).toBe(pointer);
      expect(r.body.detail).toMatch(/for this app \(settings\.limits\./);
    }
    expect((await start(key, { maxAttempts: 1, ttl: 120, codeLength: 8 })).status).toBe(201);
    // A default outside its own limits is refused when written.
    const bad = await admin('PATCH', `/apps/${a.app?.id ?? a.id}`, { settings: { ttl: 900 } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('/settings/ttl');
    // Without app settings, the global ranges apply.
    expect((await start(h.key, { maxAttempts: 10, ttl: 1800, codeLength: 4 })).status).toBe(201);
  });

  it("a start may bring its own code (customCode) only when the app allows it; the code's alphabet and the app's limits apply", async () => {
    const plain = (await admin('POST', '/apps', { name: 'Plain' })).body;
    const refused = await start(plain.apiKey.apiKey, { customCode: '482913' });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0].pointer).toBe('/customCode');
    const a = (await admin('POST', '/apps', { name: 'Custom', settings: { allowCustomCode: true, limits: { minCodeLength: 6 } } })).body;
    const key = a.apiKey.apiKey;
    const to = phone();
    const r = await h.req('POST', '/v1/verifications', { to, customCode: '482913' }, { key });
    expect(r.status, r.text).toBe(201);
    expect(r.text).not.toContain('482913');
    expect((await h.req('GET', `/v1/verifications/${r.body.id}`, undefined, { key })).body).toMatchObject({ codeLength: 6 });
    expect((await h.req('POST', `/v1/verifications/${r.body.id}/check`, { code: '482914' }, { key })).body.valid).toBe(false);
    expect((await h.req('POST', `/v1/verifications/${r.body.id}/check`, { code: '482913' }, { key })).body.valid).toBe(true);
    for (const [customCode, pointer] of [['48AB13', '/customCode'], ['4829', '/codeLength']] as const) {
      const bad = await start(key, { customCode });
      expect(bad.status, customCode).toBe(422);
      expect(bad.body.errors[0].pointer, customCode).toBe(pointer);
    }
    expect((await start(key, { customCode: 'K7MZ9Q', codeType: 'alphanumeric' })).status).toBe(201);
  });

  it('PSD2 dynamic linking: amount and payee are in the message and bound into the code; the check must give the same', async () => {
    const to = phone();
    const r = await h.req('POST', '/v1/verifications', { to, locale: 'en', amount: '€49.99', payee: 'Acme Shop' });
    expect(r.status, r.text).toBe(201);
    await h.otpd.worker?.flush();
    const sent = h.otpd.devInbox!.list(h.appId, to, 1)[0]!;
    expect(sent.text).toMatch(/^Payment of €49\.99 to Acme Shop\. Your .* verification code is \d{6}/);
    const code = sent.code;
    const check = (body: Record<string, unknown>) => h.req('POST', `/v1/verifications/${r.body.id}/check`, { code, ...body });
    expect((await check({})).body).toMatchObject({ valid: false, attemptsRemaining: 2 });
    expect((await check({ amount: '€49.99', payee: 'Someone Else' })).body).toMatchObject({ valid: false, attemptsRemaining: 1 });
    expect((await check({ amount: '€49.99', payee: 'Acme Shop' })).body).toMatchObject({ valid: true });
    // Kept with the verification: shown by GET, and said again by a resend on another channel (it was dropped at start).
    const p = await h.req('POST', '/v1/verifications', { to, locale: 'en', amount: '€12.00', payee: 'Acme Shop' });
    expect(p.body.payment).toEqual({ amount: '€12.00', payee: 'Acme Shop' });
    expect((await h.req('GET', `/v1/verifications/${p.body.id}`)).body.payment).toEqual({ amount: '€12.00', payee: 'Acme Shop' });
    h.clock.advance(61_000);
    expect((await h.req('POST', `/v1/verifications/${p.body.id}/resend`, { channel: 'whatsapp' })).status).toBe(200);
    await h.otpd.worker?.flush();
    const again = h.otpd.devInbox!.list(h.appId, to, 1)[0]!;
    expect(again.channel).toBe('whatsapp');
    expect(again.text).toMatch(/€12\.00 to Acme Shop/);
    // Nothing that could be taken for a placeholder, or a control character, goes into a message.
    for (const payee of ['{{pin}}', 'A\nB']) expect((await h.req('POST', '/v1/verifications', { to: phone(), amount: '1 €', payee })).status).toBe(422);
  });

  it('an app price table overrides the server one, in its own currency', async () => {
    const a = (await admin('POST', '/apps', { name: 'Priced', settings: { prices: { currency: 'USD', sms: { FR: 0.09 } } } })).body;
    const r = await start(a.apiKey.apiKey);
    expect(r.body).toMatchObject({ cost: 0.09, currency: 'USD' });
    expect((await h.req('GET', `/v1/verifications/${r.body.id}`, undefined, { key: a.apiKey.apiKey })).body.currency).toBe('USD');
    for (const prices of [{ currency: 'euro' }, { sms: { FR: -1 } }, { sms: { France: 1 } }, { fax: { FR: 1 } }]) {
      expect((await admin('POST', '/apps', { name: 'x', settings: { prices } })).status, JSON.stringify(prices)).toBe(422);
    }
  });
});

describe('API keys', () => {
  it('creates named keys with optional expiry, lists them without secrets, revokes at once, records last use', async () => {
    const a = (await admin('POST', '/apps', { name: 'Keys' })).body;
    const id = a.app.id;
    const k = await admin('POST', `/apps/${id}/keys`, { name: 'ci', expiresAt: new Date(h.clock.now() + 3600_000).toISOString() });
    expect(k.status).toBe(201);
    expect(k.body).toMatchObject({ name: 'ci', appId: id, revokedAt: null, lastUsedAt: null });
    expect((await start(k.body.apiKey)).status).toBe(201);
    await h.otpd.store.ping(); // let the fire-and-forget last-use write land
    await new Promise((r) => setImmediate(r));
    const list = await admin('GET', `/apps/${id}/keys`);
    expect(list.body.data).toHaveLength(2);
    expect(list.text).not.toContain(k.body.apiKey);
    expect(list.body.data.find((x: { id: string }) => x.id === k.body.id).lastUsedAt).toBe(new Date(h.clock.now()).toISOString());

    const revoked = await admin('DELETE', `/apps/${id}/keys/${k.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toBe(new Date(h.clock.now()).toISOString());
    const r = await start(k.body.apiKey);
    expect(r.status).toBe(401);
    expect((await start(a.apiKey.apiKey)).status).toBe(201); // the other key still works
    expect((await admin('DELETE', `/apps/${id}/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV`)).status).toBe(404);
  });

  it('an expired key stops working when its time comes', async () => {
    const a = (await admin('POST', '/apps', { name: 'Expiring' })).body;
    const k = (await admin('POST', `/apps/${a.app.id}/keys`, { name: 'short', expiresAt: new Date(h.clock.now() + 60_000).toISOString() })).body;
    expect((await start(k.apiKey)).status).toBe(201);
    h.clock.advance(60_000);
    const r = await start(k.apiKey);
    expect(r.status).toBe(401);
    expect(r.body.detail).toContain('expired');
    const past = await admin('POST', `/apps/${a.app.id}/keys`, { name: 'late', expiresAt: new Date(h.clock.now() - 1).toISOString() });
    expect(past.status).toBe(422);
  });

  it("one app's admin routes cannot touch another app's keys", async () => {
    const a = (await admin('POST', '/apps', { name: 'A' })).body;
    const b = (await admin('POST', '/apps', { name: 'B' })).body;
    expect((await admin('DELETE', `/apps/${a.app.id}/keys/${b.apiKey.id}`)).status).toBe(404);
    expect((await start(b.apiKey.apiKey)).status).toBe(201);
  });
});

describe('admin unblock', () => {
  it('lists locked phones and clears a lock (audited); the phone can start again at once', async () => {
    const a = (await admin('POST', '/apps', { name: 'Locks' })).body;
    const key = a.apiKey.apiKey;
    const to = phone();
    const s = await h.startAndRead(to, {}, key);
    for (let i = 0; i < 3; i++) await h.req('POST', `/v1/verifications/${s.id}/check`, { code: wrong(s.code) }, { key });
    h.clock.advance(61_000);
    expect((await h.req('POST', '/v1/verifications', { to }, { key })).body.code).toBe('phone_locked');
    const list = await admin('GET', `/apps/${a.app.id}/lockouts`);
    expect(list.body.data).toEqual([expect.objectContaining({ to, locked: true, lockReason: 'attempts', failures: 3 })]);
    const one = await admin('GET', `/apps/${a.app.id}/lockouts?to=${encodeURIComponent(to.replace('+33', '+33 '))}`);
    expect(one.body.data[0].to).toBe(to);
    expect((await admin('DELETE', `/apps/${a.app.id}/lockouts/${encodeURIComponent(to)}`)).status).toBe(204);
    expect((await admin('GET', `/apps/${a.app.id}/lockouts`)).body.data).toEqual([]);
    const again = await h.req('POST', '/v1/verifications', { to }, { key });
    expect(again.status).toBe(201);
    expect(again.body.attempts).toBe(0);
    const log = await admin('GET', `/audit?targetId=${encodeURIComponent(to)}`);
    expect(log.body.data[0]).toMatchObject({ action: 'lockout.clear', targetType: 'lockout', before: { locked: true, failures: 3 }, after: { locked: false, failures: 0 } });
    expect((await admin('DELETE', `/apps/${a.app.id}/lockouts/${encodeURIComponent(phone())}`)).status).toBe(404);
    expect((await admin('DELETE', `/apps/${a.app.id}/lockouts/nonsense`)).body.code).toBe('invalid_phone_number');
  });
});

describe('audit log', () => {
  it('records every admin change with actor, before and after, and never a secret', async () => {
    const a = (await admin('POST', '/apps', { name: 'Audited' })).body;
    const id = a.app.id;
    await admin('PATCH', `/apps/${id}`, { settings: { ttl: 120 } });
    const k = (await admin('POST', `/apps/${id}/keys`, { name: 'second' })).body;
    await admin('DELETE', `/apps/${id}/keys/${k.id}`);
    await admin('DELETE', `/apps/${id}`);
    const log = await admin('GET', `/audit?appId=${id}`);
    expect(log.body.data.map((e: { action: string }) => e.action)).toEqual(['app.delete', 'api_key.revoke', 'api_key.create', 'app.update', 'api_key.create', 'app.create']);
    const update = log.body.data.find((e: { action: string }) => e.action === 'app.update');
    expect(update).toMatchObject({ actor: 'admin', targetType: 'app', targetId: id, before: { settings: {} }, after: { settings: { ttl: 120 } } });
    const revoke = log.body.data.find((e: { action: string }) => e.action === 'api_key.revoke');
    expect(revoke.before.revokedAt).toBeNull();
    expect(revoke.after.revokedAt).toEqual(expect.any(String));
    expect(log.text).not.toContain(a.apiKey.apiKey);
    expect(log.text).not.toContain(k.apiKey);
    expect(log.text).not.toMatch(/"hash"/);
    const page = await admin('GET', `/audit?appId=${id}&limit=4`);
    expect(page.body.data).toHaveLength(4);
    const rest = await admin('GET', `/audit?appId=${id}&limit=4&cursor=${page.body.nextCursor}`);
    expect(rest.body.data.map((e: { action: string }) => e.action)).toEqual(['api_key.create', 'app.create']);
    expect(rest.body.nextCursor).toBeNull();
  });
});

describe('failed authentication is rate limited per source', () => {
  it('a key that worked before keeps working from a blocked address (others behind the same NAT failed)', async () => {
    const own = await startHarness();
    try {
      expect((await own.req('GET', '/v1/verifications')).status).toBe(200);
      expect((await own.req('GET', '/admin/v1/apps', undefined, { key: ADMIN_TOKEN })).status).toBe(200);
      for (let i = 0; i < 20; i++) expect((await own.req('GET', '/v1/verifications', undefined, { key: `otpd_wrong${i}` })).status).toBe(401);
      expect((await own.req('GET', '/v1/verifications', undefined, { key: 'otpd_wrong_again' })).status).toBe(429);
      expect((await own.req('GET', '/v1/verifications')).status).toBe(200);
      expect((await own.req('GET', '/admin/v1/apps', undefined, { key: ADMIN_TOKEN })).status).toBe(200);
      // A valid key never seen working is refused like any guess while the block lasts.
      const fresh = await own.newApp('Fresh');
      expect((await own.req('GET', '/v1/verifications', undefined, { key: fresh.key })).status).toBe(429);
    } finally {
      await own.close();
    }
  });

  it('OTPD_TRUST_PROXY takes proxy addresses or ranges, and refuses true and hop counts', () => {
    const tp = (v: string) => loadConfig({}, { OTPD_TRUST_PROXY: v }, { needSecret: false }).trustProxy;
    expect(tp('')).toBe(false);
    expect(tp('10.0.0.0/8, 127.0.0.1,loopback,2001:db8::/32')).toEqual(['10.0.0.0/8', '127.0.0.1', 'loopback', '2001:db8::/32']);
    expect(() => tp('1')).toThrow(/not a hop count/);
    expect(() => tp('true')).toThrow(/OTPD_TRUST_PROXY=true/);
    expect(() => tp('10.0.0.0/33')).toThrow(/not an IP address/);
    expect(() => tp('proxy.local')).toThrow(/not an IP address/);
  });

  it('behind a trusted proxy, the client is the rightmost untrusted X-Forwarded-For entry (client-written entries are ignored)', async () => {
    const own = await startHarness({ config: { trustProxy: loadConfig({}, { OTPD_TRUST_PROXY: '127.0.0.1' }, { needSecret: false }).trustProxy } });
    try {
      // The client writes a new address first each time; the proxy (127.0.0.1, trusted) appends the real one.
      const as = (i: number, key: string) => own.req('GET', '/v1/verifications', undefined, { key, headers: { 'x-forwarded-for': `10.9.${i >> 8}.${i & 255}, 203.0.113.50` } });
      for (let i = 0; i < 20; i++) expect((await as(i, `otpd_wrong${i}`)).status).toBe(401);
      expect((await as(99, 'otpd_wrong_more')).status).toBe(429);
      // Another client behind the same proxy is not affected.
      const other = await own.req('GET', '/v1/verifications', undefined, { key: 'otpd_wrong_x', headers: { 'x-forwarded-for': '203.0.113.51' } });
      expect(other.status).toBe(401);
      // An untrusted hop in the middle is where trust stops: a spoofed chain cannot move the client.
      const spoof = await own.req('GET', '/v1/verifications', undefined, { key: 'otpd_wrong_y', headers: { 'x-forwarded-for': '203.0.113.52, 203.0.113.50' } });
      expect(spoof.status).toBe(429);
    } finally {
      await own.close();
    }
  });

  it('without a trusted proxy, X-Forwarded-For is ignored', async () => {
    const own = await startHarness();
    try {
      for (let i = 0; i < 20; i++) {
        const r = await own.req('GET', '/v1/verifications', undefined, { key: `otpd_wrong${i}`, headers: { 'x-forwarded-for': `198.51.100.${i}` } });
        expect(r.status).toBe(401);
      }
      expect((await own.req('GET', '/v1/verifications', undefined, { key: 'otpd_x', headers: { 'x-forwarded-for': '198.51.100.200' } })).status).toBe(429);
    } finally {
      await own.close();
    }
  });

  it('20 failures in a minute block the source (even with a valid key) until the window ends', async () => {
    const own = await startHarness();
    try {
      for (let i = 0; i < 20; i++) expect((await own.req('GET', '/v1/verifications', undefined, { key: `otpd_wrong${i}` })).status).toBe(401);
      const blocked = await own.req('GET', '/v1/verifications');
      expect(blocked.status).toBe(429);
      expect(blocked.body.code).toBe('rate_limited');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await own.req('GET', '/admin/v1/apps', undefined, { key: ADMIN_TOKEN })).status).toBe(429);
      own.clock.advance(60_000);
      expect((await own.req('GET', '/v1/verifications')).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});
