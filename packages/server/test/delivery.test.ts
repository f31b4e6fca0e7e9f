/**
 * The delivery worker against real HTTP providers on 127.0.0.1 (programmable fakes): routing, retries with
 * backoff on a fake clock, failover on definite rejection only, unknown outcomes never re-sent, the circuit
 * breaker, channel workflows (fallback on failure, on receipt timeout, by hand), crash recovery.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../src/providers/registry.js';
import { newId } from '../src/domain/ids.js';
import { FakeProvider } from './fakes/http-provider.js';
import { ADMIN_TOKEN, phone, startHarness, type Harness } from './helpers.js';

const ok = (id: string) => ({ status: 200, json: { status: 'ok', id } });
let a: FakeProvider;
let b: FakeProvider;
let wa: FakeProvider;

beforeAll(async () => {
  [a, b, wa] = await Promise.all([new FakeProvider(ok('a-1')).start(), new FakeProvider(ok('b-1')).start(), new FakeProvider(ok('wa-1')).start()]);
});
afterAll(async () => { await Promise.all([a.close(), b.close(), wa.close()]); });

const httpProvider = (name: string, url: string, extra: Partial<ProviderConfig> = {}): ProviderConfig => ({
  name, type: 'http', url: `${url}/send`, apiKey: 'k', apiSecret: 's', auth: 'bearer', senderName: 'Acme',
  body: { to: '{{to}}', text: '{{text}}', from: '{{senderName}}', ref: '{{messageId}}' },
  successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id', timeoutMs: 500, ...extra,
} as ProviderConfig);

async function harness(providers: ProviderConfig[], routing?: object) {
  return startHarness({
    config: { delivery: 'providers', providers: { providers, ...(routing ? { routing } : {}) } as never },
    worker: { random: () => 0.5, retryBaseMs: 1000, maxTries: 3 },
  });
}

let h: Harness;
afterEach(async () => { await h?.close(); a.requests.length = 0; b.requests.length = 0; wa.requests.length = 0; });

const start = async (extra: Record<string, unknown> = {}) => {
  const r = await h.req('POST', '/v1/verifications', { to: phone(), ...extra });
  expect(r.status, r.text).toBe(201);
  return r.body as { id: string; to: string };
};
const messages = async (id: string) => (await h.req('GET', `/v1/verifications/${id}/messages`)).body.data as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
const flush = () => h.otpd.worker!.flush();

describe('delivery through an HTTP provider', () => {
  it('sends the rendered message with the code, records the provider id and the attempt', async () => {
    h = await harness([httpProvider('a', a.url)]);
    const v = await start();
    await flush();
    expect(a.requests).toHaveLength(1);
    const req = a.requests[0]!;
    expect(req.path).toBe('/send');
    expect(req.headers.authorization).toBe('Bearer k');
    expect(req.json).toMatchObject({ to: v.to, from: 'Acme' });
    const code = /(\d{6})/.exec(req.json.text)![1]!;
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', provider: 'a', providerMessageId: 'a-1', route: ['a'], attempts: 1, outcomeUnknown: false });
    expect(req.json.ref).toBe(m.id);
    const attempts = await h.otpd.store.outbox.listAttempts(m.id);
    expect(attempts).toMatchObject([{ provider: 'a', outcome: 'accepted', providerMessageId: 'a-1' }]);
    expect((await h.req('POST', `/v1/verifications/${v.id}/check`, { code })).body.valid).toBe(true);
  });

  it("claims a start's first message in the start's transaction and sends it after the commit, with no claim", async () => {
    h = await harness([httpProvider('a', a.url)]);
    const store = h.otpd.store;
    const claim = store.outbox.claim.bind(store.outbox);
    const claimed: string[] = [];
    store.outbox.claim = async (...args) => { const r = await claim(...args); claimed.push(...r.map((m) => m.id)); return r; };
    const v = await start();
    await flush();
    expect(a.requests).toHaveLength(1);
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', provider: 'a', attempts: 1 });
    expect(claimed).not.toContain(m.id);
    expect(await store.outbox.listAttempts(m.id)).toMatchObject([{ provider: 'a', outcome: 'accepted' }]);
  });

  it('a node that dies between the commit and the provider call leaves the message unsent and its outcome unknown', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    const worker = h.otpd.worker!;
    worker.sendClaimed = () => undefined; // the process "dies" right after the start commits
    const v = await start();
    await flush();
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sending', provider: 'a', attempts: 1 });
    expect(await h.otpd.store.outbox.listAttempts(m.id)).toMatchObject([{ provider: 'a', outcome: 'started' }]);
    h.clock.advance(61_000); // the lease runs out: another worker (here the same one) finds the started attempt
    await flush();
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toHaveLength(0);
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', outcomeUnknown: true, errorCode: 'outcome_unknown' });
    expect(await h.otpd.store.outbox.listAttempts(m.id)).toMatchObject([{ provider: 'a', outcome: 'unknown', errorCode: 'worker_interrupted' }]);
  });

  it('refuses a start when no provider serves the channel', async () => {
    h = await harness([httpProvider('a', a.url)]);
    const r = await h.req('POST', '/v1/verifications', { to: phone(), channel: 'whatsapp' });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('channel_unavailable');
  });
});

describe('retries and failover', () => {
  it('retries a transient failure on the same provider with exponential backoff, then fails over', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    a.next({ status: 503 }, { status: 429, headers: { 'retry-after': '2' } }, { status: 500 });
    const v = await start();
    await flush();
    expect(a.requests).toHaveLength(1);
    // backoff with random()=0.5: 0.75 × 1 s, then max(0.75 × 2 s, Retry-After 2 s) = 2 s
    h.clock.advance(749);
    await flush();
    expect(a.requests).toHaveLength(1);
    h.clock.advance(1);
    await flush();
    expect(a.requests).toHaveLength(2);
    h.clock.advance(1999);
    await flush();
    expect(a.requests).toHaveLength(2);
    h.clock.advance(1);
    await flush();
    expect(a.requests).toHaveLength(3);
    // Third transient failure = maxTries on provider a: the next provider, at once.
    await flush();
    expect(b.requests).toHaveLength(1);
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', provider: 'b', providerMessageId: 'b-1' });
    const attempts = await h.otpd.store.outbox.listAttempts(m.id);
    expect(attempts.map((x) => `${x.provider}:${x.outcome}:${x.httpStatus ?? ''}`)).toEqual(['a:transient:503', 'a:transient:429', 'a:transient:500', 'b:accepted:']);
  });

  it('fails over at once on a definite rejection (4xx), without retrying the first provider', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    a.next({ status: 400, json: { error: 'invalid number' } });
    const v = await start();
    await flush();
    await flush();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', provider: 'b' });
  });

  it('treats a 200 whose success field says otherwise as a rejection', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    a.next({ status: 200, json: { status: 'error', reason: 'no credit' } });
    const v = await start();
    await flush();
    await flush();
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', provider: 'b' });
  });

  it('never sends through a second vendor when the outcome is unknown (timeout after the request was written)', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    a.next('hang');
    const v = await start();
    await flush();
    await flush();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', provider: 'a', outcomeUnknown: true, errorCode: 'UND_ERR_HEADERS_TIMEOUT' });
    h.clock.advance(3600_000);
    await flush();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
  });

  it('a dropped connection after the request is unknown too', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    a.next('drop');
    const v = await start();
    await flush();
    await flush();
    expect(b.requests).toHaveLength(0);
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', outcomeUnknown: true });
  });

  it('a refused connection is transient: retried, then the next provider', async () => {
    h = await harness([httpProvider('down', 'http://127.0.0.1:9'), httpProvider('b', b.url)]);
    const v = await start();
    for (let i = 0; i < 4; i++) { await flush(); h.clock.advance(10_000); }
    await flush();
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', provider: 'b' });
    const attempts = await h.otpd.store.outbox.listAttempts(m.id);
    expect(attempts.filter((x) => x.provider === 'down').every((x) => x.outcome === 'transient' && x.errorCode === 'ECONNREFUSED')).toBe(true);
  });

  it('fails the message when every provider rejected it', async () => {
    h = await harness([httpProvider('a', a.url)]);
    a.next({ status: 401 });
    const v = await start();
    await flush();
    expect((await messages(v.id))[0]).toMatchObject({ status: 'failed', errorCode: 'rejected' });
  });
});

describe('routing and the circuit breaker', () => {
  it('routes by destination country, app rules replacing the server rules', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)], { sms: [{ countries: ['FR'], providers: ['b', 'a'] }, { providers: ['a'] }] });
    await start();
    await h.req('POST', '/v1/verifications', { to: '+14155552671' });
    await flush();
    expect(b.requests.map((r) => r.json.to)).toEqual([expect.stringMatching(/^\+33/)]);
    expect(a.requests.map((r) => r.json.to)).toEqual(['+14155552671']);
    const app = await h.newApp('us-first', { routing: { sms: [{ providers: ['a'] }] } });
    const r = await h.req('POST', '/v1/verifications', { to: phone() }, { key: app.key });
    await flush();
    expect((await h.req('GET', `/v1/verifications/${r.body.id}/messages`, undefined, { key: app.key })).body.data[0].provider).toBe('a');
  });

  it('opens the circuit after repeated transient failures and skips the provider until it cools down', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    for (let i = 0; i < 5; i++) a.next({ status: 503 });
    // Message 1: three transient failures on a (backoff 0.75 s, 1.5 s), then b.
    await start();
    await flush(); h.clock.advance(750); await flush(); h.clock.advance(1500); await flush(); await flush();
    expect([a.requests.length, b.requests.length]).toEqual([3, 1]);
    // Message 2: failures 4 and 5 open the circuit, so its third try already goes to b.
    await start();
    await flush(); h.clock.advance(750); await flush();
    expect(h.otpd.worker!.breakers.open(h.clock.now())).toEqual(['a']);
    h.clock.advance(1500); await flush();
    expect([a.requests.length, b.requests.length]).toEqual([5, 2]);
    // While open, new messages skip a entirely.
    const v = await start();
    await flush();
    expect([a.requests.length, b.requests.length]).toEqual([5, 3]);
    expect((await messages(v.id))[0].provider).toBe('b');
    // After 30 s one trial goes to a; it succeeds and closes the circuit.
    h.clock.advance(30_000);
    await start();
    await flush();
    expect(a.requests).toHaveLength(6);
    expect(h.otpd.worker!.breakers.open(h.clock.now())).toEqual([]);
  });
});

describe('channel workflows', () => {
  const waProvider = () => httpProvider('wa', wa.url, { channels: ['whatsapp'] } as never);

  it('falls back to the next channel at once when a step fails, with the same code', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    wa.next({ status: 400, json: { error: 'not on whatsapp' } });
    const v = await start({ channels: ['whatsapp', 'sms'] });
    await flush();
    await flush();
    const ms = await messages(v.id);
    expect(ms.map((m) => `${m.step}:${m.channel}:${m.status}`)).toEqual(['0:whatsapp:failed', '1:sms:sent']);
    const code = (t: string) => /(\d{6})/.exec(t)![1];
    expect(code(a.requests[0]!.json.text)).toBe(code(wa.requests[0]!.json.text));
    const g = (await h.req('GET', `/v1/verifications/${v.id}`)).body;
    expect(g).toMatchObject({ channel: 'sms', step: 1, channels: ['whatsapp', 'sms'] });
  });

  it('a fallback step is charged to the spend caps; past a cap it is not sent, the next step is tried, and the refusal is a decision', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
    const set = await admin('PATCH', `/apps/${h.appId}`, { settings: { prices: { currency: 'EUR', whatsapp: { '*': 0.04 }, sms: { FR: 0.05 } }, guard: { spendCap: { daily: 0.13 } } } });
    expect(set.status, set.text).toBe(200);
    const spent = async () => (await admin('GET', `/apps/${h.appId}/guard`)).body.spend.daily.spent;
    // WhatsApp fails, the SMS step goes out: both charged (0.04 at the start, 0.05 when the SMS step is sent).
    wa.next({ status: 400, json: { error: 'not on whatsapp' } });
    const first = await start({ channels: ['whatsapp', 'sms'] });
    await flush();
    await flush();
    expect((await messages(first.id)).map((m) => m.status)).toEqual(['failed', 'sent']);
    expect(await spent()).toBe(0.09);
    // Again: the start fits (0.13), its SMS step would not (0.18): not sent, failed with the cap as its reason.
    wa.next({ status: 400, json: { error: 'not on whatsapp' } });
    const second = await start({ channels: ['whatsapp', 'sms'] });
    await flush();
    await flush();
    const ms = await messages(second.id);
    expect(ms.map((m) => `${m.step}:${m.status}:${m.errorCode}`)).toEqual(['0:failed:rejected', '1:failed:spend_cap_reached']);
    expect(a.requests).toHaveLength(1);
    expect(await h.otpd.store.outbox.listAttempts(ms[1].id)).toMatchObject([{ outcome: 'rejected', errorCode: 'spend_cap_reached' }]);
    expect(await spent()).toBe(0.13);
    const d = (await admin('GET', `/apps/${h.appId}/guard/decisions`)).body.data;
    expect(d[0]).toMatchObject({ action: 'resend', code: 'spend_cap_reached', rules: ['spend-day'], verificationId: second.id, to: second.to });
    // A retry of that step later is not charged again (it was refused, not sent): nothing moves.
    h.clock.advance(3600_000);
    await flush();
    expect(a.requests).toHaveLength(1);
  });

  it('a resend after a fallback is charged once, when asked for, not again when sent', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
    await admin('PATCH', `/apps/${h.appId}`, { settings: { prices: { currency: 'EUR', whatsapp: { '*': 0.04 }, sms: { FR: 0.05 } }, guard: { spendCap: { daily: 1 } } } });
    const spent = async () => (await admin('GET', `/apps/${h.appId}/guard`)).body.spend.daily.spent;
    wa.next({ status: 400, json: { error: 'not on whatsapp' } });
    const v = await start({ channels: ['whatsapp', 'sms'] });
    await flush();
    await flush();
    expect(await spent()).toBe(0.09);
    h.clock.advance(61_000);
    expect((await h.req('POST', `/v1/verifications/${v.id}/resend`, {})).status).toBe(200);
    await flush();
    expect(a.requests).toHaveLength(2);
    expect(await spent()).toBe(0.14);
  });

  it('falls back when no delivery receipt arrives within the step timeout', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    const v = await start({ channels: ['whatsapp', 'sms'], stepTimeout: 20 });
    await flush();
    expect((await messages(v.id)).map((m) => m.status)).toEqual(['sent', 'waiting']);
    h.clock.advance(19_999);
    await flush();
    expect(a.requests).toHaveLength(0);
    h.clock.advance(1);
    await flush();
    await flush();
    expect(a.requests).toHaveLength(1);
    expect((await messages(v.id)).map((m) => m.status)).toEqual(['sent', 'sent']);
    // The last step has no fallback: nothing more happens.
    h.clock.advance(3600_000);
    await flush();
    expect(a.requests).toHaveLength(1);
  });

  it('POST /next moves on by hand, once; then 409 no_next_step', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    const v = await start({ channels: ['whatsapp', 'sms'] });
    await flush();
    const n = await h.req('POST', `/v1/verifications/${v.id}/next`);
    expect(n.status).toBe(200);
    expect(n.body).toMatchObject({ step: 1, channel: 'sms' });
    await flush();
    expect(a.requests).toHaveLength(1);
    const again = await h.req('POST', `/v1/verifications/${v.id}/next`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('no_next_step');
    h.clock.advance(3600_000);
    await flush();
    expect(a.requests).toHaveLength(1); // the timed fallback of step 0 was cleared
  });

  it('a verified verification starts no further step', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    const v = await start({ channels: ['whatsapp', 'sms'] });
    await flush();
    const code = /(\d{6})/.exec(wa.requests[0]!.json.text)![1]!;
    expect((await h.req('POST', `/v1/verifications/${v.id}/check`, { code })).body.valid).toBe(true);
    h.clock.advance(60_000);
    await flush();
    expect(a.requests).toHaveLength(0);
    expect((await h.req('POST', `/v1/verifications/${v.id}/next`)).body.code).toBe('verification_not_pending');
  });

  it('validates workflows', async () => {
    h = await harness([waProvider(), httpProvider('a', a.url)]);
    for (const body of [{ channels: ['sms', 'sms'] }, { channels: [] }, { channel: 'sms', channels: ['sms'] }, { channels: ['sms'], stepTimeout: 10 }, { channels: ['sms'], stepTimeout: 301 }]) {
      const r = await h.req('POST', '/v1/verifications', { to: phone(), ...body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.code).toBe('invalid_request');
    }
  });
});

describe('crash recovery', () => {
  it('a message whose worker died mid-send is claimable again and is not sent a second time', async () => {
    h = await harness([httpProvider('a', a.url), httpProvider('b', b.url)]);
    await h.otpd.worker!.stop(); // this test plays the dying worker by hand
    const v = await start();
    // A worker claims the message, records its attempt and calls the provider ... then dies.
    const claimed = await h.otpd.store.outbox.claim(h.clock.now(), 10, 60_000, () => ({ provider: 'a', routeIndex: 0, attemptId: newId('att', h.clock.now()) }));
    expect(claimed).toHaveLength(1);
    await fetch(`${a.url}/send`, { method: 'POST', body: JSON.stringify({ to: v.to }) });
    expect(a.requests).toHaveLength(1);
    // Before the lease ends, nobody takes it.
    expect(await h.otpd.store.outbox.claim(h.clock.now() + 59_000, 10, 60_000, () => null)).toHaveLength(0);
    h.clock.advance(60_001);
    h.otpd.worker!.start();
    await flush();
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', outcomeUnknown: true, errorCode: 'outcome_unknown' });
    const attempts = await h.otpd.store.outbox.listAttempts(m.id);
    expect(attempts).toMatchObject([{ provider: 'a', outcome: 'unknown', errorCode: 'worker_interrupted' }]);
  });
});
