/**
 * Webhooks: Standard Webhooks signatures checked with the `standardwebhooks` verifier, event filters, the retry
 * schedule on a fake clock, 410 disabling, replay, the attempt log, SSRF refusal, and no code in any payload.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../src/domain/clock.js';
import { deriveKeys } from '../src/domain/code.js';
import { WebhooksService } from '../src/services/webhooks.js';
import { forbiddenAddress } from '../src/delivery/outbound-url.js';
import { RETRY_SCHEDULE_MS } from '../src/delivery/webhook-worker.js';
import { ADMIN_TOKEN, phone, startHarness, wrong, type Harness } from './helpers.js';

interface Hit { path: string; headers: Record<string, string>; body: string }
const hits: Hit[] = [];
const replies: number[] = []; // status codes to answer next; then 204
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString() });
      res.writeHead(replies.shift() ?? 204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => { await new Promise<void>((r) => server.close(() => r())); });

let h: Harness;
afterEach(async () => { await h?.close(); hits.length = 0; replies.length = 0; vi.useRealTimers(); });

const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
const flush = async () => { await h.otpd.worker?.flush(); await h.otpd.webhookWorker.flush(); };
/** Verifies a hit the way a receiver would, with Date set to the (fake) time of sending. */
function verify(secret: string, hit: Hit): { type: string; timestamp: string; data: Record<string, unknown> } {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Number(hit.headers['webhook-timestamp']) * 1000);
  try {
    return new Webhook(secret).verify(hit.body, { 'webhook-id': hit.headers['webhook-id']!, 'webhook-timestamp': hit.headers['webhook-timestamp']!, 'webhook-signature': hit.headers['webhook-signature']! }) as never;
  } finally {
    vi.useRealTimers();
  }
}

describe('webhooks', () => {
  it('delivers signed events that the Standard Webhooks verifier accepts, filtered per endpoint, without codes', async () => {
    h = await startHarness();
    const all = (await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/all` })).body;
    const onlyVerified = (await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/verified`, events: ['verification.verified'] })).body;
    expect(all.secret).toMatch(/^whsec_/);
    const to = phone();
    const v = await h.startAndRead(to);
    await h.req('POST', `/v1/verifications/${v.id}/check`, { code: wrong(v.code) });
    await h.req('POST', `/v1/verifications/${v.id}/check`, { code: v.code });
    await flush();
    const toAll = hits.filter((x) => x.path === '/all').map((x) => verify(all.secret, x));
    expect(toAll.map((e) => e.type).sort()).toEqual(['message.sent', 'verification.created', 'verification.verified']);
    const verified = toAll.find((e) => e.type === 'verification.verified')!;
    expect(verified.data).toMatchObject({ id: v.id, to, status: 'verified', attempts: 2 });
    const toVerified = hits.filter((x) => x.path === '/verified');
    expect(toVerified).toHaveLength(1);
    expect(verify(onlyVerified.secret, toVerified[0]!).type).toBe('verification.verified');
    // Another endpoint's secret does not verify, and no payload carries the code.
    expect(() => verify(onlyVerified.secret, hits.find((x) => x.path === '/all')!)).toThrow();
    for (const x of hits) expect(x.body).not.toContain(v.code);
    // Deliveries are logged with their attempts.
    const log = (await admin('GET', `/apps/${h.appId}/webhook-deliveries?endpointId=${all.id}`)).body.data;
    expect(log).toHaveLength(3);
    expect(log.every((d: { status: string; attempts: number }) => d.status === 'succeeded' && d.attempts === 1)).toBe(true);
    const attempts = (await admin('GET', `/apps/${h.appId}/webhook-deliveries/${log[0].id}/attempts`)).body.data;
    expect(attempts).toMatchObject([{ statusCode: 204, error: null }]);
  });

  it('emits failed, canceled and expired events', async () => {
    h = await startHarness();
    const ep = (await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/x`, events: ['verification.failed', 'verification.canceled', 'verification.expired'] })).body;
    const a = await h.startAndRead(phone());
    for (let i = 0; i < 3; i++) await h.req('POST', `/v1/verifications/${a.id}/check`, { code: wrong(a.code) });
    const to = phone();
    const b = await h.startAndRead(to);
    h.clock.advance(61_000);
    await h.startAndRead(to); // cancels b
    const c = await h.startAndRead(phone());
    h.clock.advance(301_000);
    await h.req('POST', `/v1/verifications/${c.id}/check`, { code: c.code });
    await flush();
    const got = hits.map((x) => verify(ep.secret, x)).map((e) => `${e.type}:${String(e.data.id)}`).sort();
    expect(got).toEqual([`verification.canceled:${b.id}`, `verification.expired:${c.id}`, `verification.failed:${a.id}`].sort());
  });

  it('the expiry sweeper sends verification.expired without anyone checking', async () => {
    h = await startHarness();
    const ep = (await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/exp`, events: ['verification.expired'] })).body;
    const v = await h.startAndRead(phone());
    expect(await h.otpd.store.verifications.expireDue(h.clock.now(), 100)).toBe(0);
    h.clock.advance(300_000);
    expect(await h.otpd.store.verifications.expireDue(h.clock.now(), 100)).toBe(1);
    expect(await h.otpd.store.verifications.expireDue(h.clock.now(), 100)).toBe(0);
    await flush();
    expect(hits.map((x) => verify(ep.secret, x))).toMatchObject([{ type: 'verification.expired', data: { id: v.id, status: 'expired' } }]);
    expect((await h.req('GET', `/v1/verifications/${v.id}`)).body.status).toBe('expired');
  });

  it('retries on the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with the same webhook-id, then fails', async () => {
    h = await startHarness();
    await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/flaky`, events: ['verification.created'] });
    replies.push(...Array(20).fill(500));
    await h.startAndRead(phone());
    await flush();
    expect(hits).toHaveLength(1);
    for (const [i, delay] of RETRY_SCHEDULE_MS.entries()) {
      h.clock.advance(delay - 1);
      await flush();
      expect(hits, `before retry ${i + 1}`).toHaveLength(i + 1);
      h.clock.advance(1);
      await flush();
      expect(hits, `retry ${i + 1}`).toHaveLength(i + 2);
    }
    expect(new Set(hits.map((x) => x.headers['webhook-id'])).size).toBe(1);
    h.clock.advance(100 * 3600_000);
    await flush();
    expect(hits).toHaveLength(RETRY_SCHEDULE_MS.length + 1);
    const [d] = (await admin('GET', `/apps/${h.appId}/webhook-deliveries`)).body.data;
    expect(d).toMatchObject({ status: 'failed', attempts: 8, lastStatusCode: 500 });
    // Replay: one more try now, which succeeds.
    const r = await admin('POST', `/apps/${h.appId}/webhook-deliveries/${d.id}/replay`);
    expect(r.body.status).toBe('pending');
    replies.length = 0;
    await flush();
    expect(hits).toHaveLength(RETRY_SCHEDULE_MS.length + 2);
    expect((await admin('GET', `/apps/${h.appId}/webhook-deliveries`)).body.data[0]).toMatchObject({ status: 'succeeded', attempts: 9 });
    expect((await admin('GET', `/apps/${h.appId}/webhook-deliveries/${d.id}/attempts`)).body.data).toHaveLength(9);
  });

  it('410 Gone disables the endpoint; re-enabling resumes delivery', async () => {
    h = await startHarness();
    const ep = (await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/gone`, events: ['verification.created'] })).body;
    replies.push(410);
    await h.startAndRead(phone());
    await flush();
    const after = (await admin('GET', `/apps/${h.appId}/webhooks`)).body.data[0];
    expect(after).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('410') });
    h.clock.advance(61_000);
    await h.startAndRead(phone());
    await flush();
    expect(hits).toHaveLength(1);
    expect((await admin('PATCH', `/apps/${h.appId}/webhooks/${ep.id}`, { enabled: true })).body).toMatchObject({ enabled: true, disabledReason: null });
    await h.startAndRead(phone());
    await flush();
    expect(hits).toHaveLength(2);
  });

  it('validates endpoints and audits their changes', async () => {
    h = await startHarness();
    for (const body of [{ url: 'ftp://x.example' }, { url: 'not a url' }, { url: `${base}/x`, events: ['verification.exploded'] }, { url: 'https://user:pw@x.example/' }]) {
      expect((await admin('POST', `/apps/${h.appId}/webhooks`, body)).status, JSON.stringify(body)).toBe(422);
    }
    const ep = (await admin('POST', `/apps/${h.appId}/webhooks`, { url: `${base}/a` })).body;
    await admin('DELETE', `/apps/${h.appId}/webhooks/${ep.id}`);
    const audit = (await admin('GET', `/audit?targetId=${ep.id}`)).body.data;
    expect(audit.map((e: { action: string }) => e.action)).toEqual(['webhook.delete', 'webhook.create']);
    expect(JSON.stringify(audit)).not.toContain(ep.secret);
  });
});

describe('status callbacks (seed 001)', () => {
  it('posts every event of a verification to its callbackUrl, signed with the app callback secret', async () => {
    h = await startHarness();
    const created = (await admin('POST', '/apps', { name: 'Cb' })).body;
    expect(created.callbackSecret).toMatch(/^whsec_/);
    const key = created.apiKey.apiKey;
    const to = phone();
    const s = await h.req('POST', '/v1/verifications', { to, callbackUrl: `${base}/cb/${encodeURIComponent(to)}` }, { key });
    expect(s.status).toBe(201);
    const code = (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`, undefined, { key })).body.messages[0].code;
    await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code }, { key });
    await flush();
    const events = hits.filter((x) => x.path.startsWith('/cb/')).map((x) => verify(created.callbackSecret, x));
    expect(events.map((e) => e.type).sort()).toEqual(['message.sent', 'verification.created', 'verification.verified']);
    expect(events.every((e) => (e.data.id === s.body.id || e.data.verificationId === s.body.id))).toBe(true);
    // Other verifications of the app send nothing there.
    hits.length = 0;
    await h.req('POST', '/v1/verifications', { to: phone() }, { key });
    await flush();
    expect(hits).toHaveLength(0);
  });

  it('uses the app setting by default; a rotated secret signs from then on', async () => {
    h = await startHarness();
    const created = (await admin('POST', '/apps', { name: 'Cb2', settings: { callbackUrl: `${base}/app-cb` } })).body;
    const key = created.apiKey.apiKey;
    await h.req('POST', '/v1/verifications', { to: phone() }, { key });
    await flush();
    // The verification's events (created, message.sent) may arrive in either order: the created one is looked for.
    const created1 = (x: { path: string; body: string }) => x.path === '/app-cb' && x.body.includes('"verification.created"');
    expect(verify(created.callbackSecret, hits.find(created1)!).type).toBe('verification.created');
    const rotated = (await admin('POST', `/apps/${created.app.id}/callback-secret`)).body.callbackSecret as string;
    expect(rotated).not.toBe(created.callbackSecret);
    hits.length = 0;
    h.clock.advance(61_000);
    await h.req('POST', '/v1/verifications', { to: phone() }, { key });
    await flush();
    const hit = hits.find(created1)!;
    expect(verify(rotated, hit).type).toBe('verification.created');
    expect(() => verify(created.callbackSecret, hit)).toThrow();
    const bad = await h.req('POST', '/v1/verifications', { to: phone(), callbackUrl: 'ftp://x' }, { key });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('/callbackUrl');
  });
});

describe('SSRF guard', () => {
  it('classifies forbidden addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fc00::1', 'fe80::1', '::ffff:127.0.0.1']) {
      expect(forbiddenAddress(a), a).not.toBeNull();
    }
    for (const a of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']) expect(forbiddenAddress(a), a).toBeNull();
  });

  it('refuses loopback, private, link-local and metadata URLs in production; development allows them', async () => {
    const keys = deriveKeys('k'.repeat(32));
    const app = { id: 'app_01ARZ3NDEKTSV4RRFFQ69G5FAV', name: 'x', enabled: true, settings: {}, createdAt: 0, updatedAt: 0 };
    const store = { webhooks: { createEndpoint: async () => undefined } } as never;
    const prod = new WebhooksService(store, new FakeClock(), keys, true);
    for (const url of ['https://127.0.0.1/hook', 'https://localhost/hook', 'https://10.0.0.5/h', 'https://169.254.169.254/latest/meta-data', 'https://[::1]/h', 'http://93.184.216.34/h']) {
      await expect(prod.create(app, { url }), url).rejects.toMatchObject({ code: 'invalid_request' });
    }
    const dev = new WebhooksService(store, new FakeClock(), keys, false);
    await expect(dev.create(app, { url: 'http://127.0.0.1:9/hook' })).resolves.toMatchObject({ url: 'http://127.0.0.1:9/hook' });
  });

  it('one rule for every outbound URL: webhooks, app callback URLs and per-request callback URLs alike', async () => {
    const prod = await startHarness({
      config: { env: 'production', delivery: 'providers', providers: { providers: [{ name: 'gw', type: 'http', url: 'http://127.0.0.1:9/x', body: {} }] } },
    });
    try {
      const adm = (method: string, path: string, body?: unknown) => prod.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
      const cases: [string, string][] = [
        ['http://93.184.216.34/hook', 'must be https in production'],
        ['https://127.0.0.1/hook', 'is refused in production'],
        ['https://user:pw@93.184.216.34/hook', 'must not carry credentials'],
        ['ftp://93.184.216.34/hook', 'must be an http(s) URL'],
      ];
      for (const [url, why] of cases) {
        const webhook = await adm('POST', `/apps/${prod.appId}/webhooks`, { url });
        const created = await adm('POST', '/apps', { name: 'cb', settings: { callbackUrl: url } });
        const updated = await adm('PATCH', `/apps/${prod.appId}`, { settings: { callbackUrl: url } });
        const start = await prod.req('POST', '/v1/verifications', { to: phone(), callbackUrl: url });
        for (const [what, r] of [['webhook', webhook], ['app create', created], ['app update', updated], ['start', start]] as const) {
          expect(r.status, `${what} ${url}`).toBe(422);
          expect(r.body.code).toBe('invalid_request');
          expect(r.body.detail, `${what} ${url}`).toContain(why);
        }
      }
    } finally {
      await prod.close();
    }
  });
});
