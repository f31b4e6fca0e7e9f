/**
 * Delivery receipts from a generic HTTP gateway (`/webhooks/http/{provider}`): the gateway fake captures the
 * `{{statusCallbackUrl}}` otpd puts in its request, and the test calls it back the way a gateway would (GET query,
 * POST JSON, POST form). Authentication (the URL token, then the optional HMAC signature and signed timestamp),
 * the status mapping, and what a receipt does to a WhatsApp-then-SMS workflow.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProvidersFile } from '../src/providers/registry.js';
import { callbackToken, deriveKeys } from '../src/domain/code.js';
import { FakeProvider } from './fakes/http-provider.js';
import { SECRET, phone, startHarness, type Harness } from './helpers.js';

const PUBLIC = 'https://otpd.example.com';
const SIGNING_SECRET = 'gw-signing-secret-0123456789';
const keys = deriveKeys(SECRET);

let wa: FakeProvider; // an HTTP WhatsApp gateway
let sms: FakeProvider; // an HTTP SMS gateway (default receipt mapping, no signature)
let signed: FakeProvider; // an HTTP SMS gateway with its own receipt shape and HMAC signatures
let h: Harness;

const body = { to: '{{to}}', text: '{{text}}', ref: '{{messageId}}', callback: '{{statusCallbackUrl}}' };

beforeAll(async () => {
  [wa, sms, signed] = await Promise.all([
    new FakeProvider({ status: 200, json: { status: 'ok', id: 'wa-1' } }).start(),
    new FakeProvider({ status: 200, json: { status: 'ok', id: 'sms-1' } }).start(),
    new FakeProvider({ status: 200, json: { status: 'ok', id: 'sig-1' } }).start(),
  ]);
  h = await startHarness({
    config: {
      delivery: 'providers', publicUrl: PUBLIC,
      providers: {
        providers: [
          { name: 'wagw', type: 'http', channels: ['whatsapp'], url: `${wa.url}/send`, body, successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id' },
          { name: 'smsgw', type: 'http', url: `${sms.url}/send`, body, messageIdPath: 'id' },
          {
            name: 'signed', type: 'http', url: `${signed.url}/send`, body, messageIdPath: 'id',
            receipts: {
              statusPath: 'data.state', messageIdPath: 'data.id', errorCodePath: 'data.err',
              statuses: { delivered: ['DELIVRD'], undelivered: ['UNDELIV', 'EXPIRED'], failed: ['REJECTD'], sent: ['ENROUTE'] },
              signature: { header: 'X-Gw-Signature', secret: SIGNING_SECRET, algorithm: 'sha256', encoding: 'base64', prefix: 'sha256=', timestampPath: 'ts', maxAgeSeconds: 300 },
            },
          },
        ],
        routing: { sms: [{ countries: ['BE'], providers: ['signed'] }, { providers: ['smsgw'] }], whatsapp: [{ providers: ['wagw'] }] },
      } as never,
    },
  });
});
afterAll(async () => { await h?.close(); await Promise.all([wa?.close(), sms?.close(), signed?.close()]); });

let be = 0;
/** A Belgian mobile (routed to the signed gateway), unique per call. */
const belgian = () => `+3247${String(1_000_000 + (++be * 7919 + Math.floor(Math.random() * 1000) * 1000) % 8_999_999).padStart(7, '0')}`;

async function start(extra: Record<string, unknown>) {
  const r = await h.req('POST', '/v1/verifications', extra);
  expect(r.status, r.text).toBe(201);
  await h.otpd.worker!.flush();
  return r.body as { id: string; to: string };
}
const messages = async (id: string) => (await h.req('GET', `/v1/verifications/${id}/messages`)).body.data as { id: string; status: string; channel: string; provider: string; providerMessageId: string | null; errorCode: string | null }[];
const to = (fake: FakeProvider, recipient: string) => fake.requests.filter((r) => r.json?.to === recipient);
/** The `{{statusCallbackUrl}}` the gateway received for this recipient. */
const callbackOf = (fake: FakeProvider, recipient: string) => to(fake, recipient).at(-1)!.json.callback as string;
/** The callback URL, moved from the public address to the test server. */
const local = (callback: string) => { const u = new URL(callback); return `${h.url}${u.pathname}${u.search}`; };

type Kind = 'GET' | 'JSON' | 'FORM';
async function receipt(callback: string, kind: Kind, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<number> {
  const url = local(callback);
  const r = kind === 'GET'
    ? await fetch(`${url}&${new URLSearchParams(fields)}`, { headers })
    : await fetch(url, {
      method: 'POST',
      headers: { 'content-type': kind === 'JSON' ? 'application/json' : 'application/x-www-form-urlencoded', ...headers },
      body: kind === 'JSON' ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
    });
  return r.status;
}
const flush = () => h.otpd.worker!.flush();

describe('HTTP gateway receipts in a WhatsApp-then-SMS workflow', () => {
  it('a delivered receipt from the WhatsApp gateway before the step timeout: the SMS step is never sent', async () => {
    const v = await start({ to: phone(), channels: ['whatsapp', 'sms'], stepTimeout: 20 });
    const [m0] = await messages(v.id);
    const callback = callbackOf(wa, v.to);
    expect(callback).toBe(`${PUBLIC}/webhooks/http/wagw?msg=${m0!.id}&t=${callbackToken(keys, 'wagw', m0!.id)}`);
    expect(await receipt(callback, 'JSON', { status: 'delivered', id: 'wa-1' })).toBe(204);
    expect((await messages(v.id)).map((m) => `${m.channel}:${m.status}`)).toEqual(['whatsapp:delivered', 'sms:waiting']);
    h.clock.advance(21_000); // past the step timeout
    await flush();
    await flush();
    expect(to(sms, v.to)).toHaveLength(0);
    expect((await messages(v.id)).map((m) => m.status)).toEqual(['delivered', 'waiting']);
  });

  it.each([['undelivered', 'FORM'], ['failed', 'GET'], ['expired', 'JSON'], ['REJECTED', 'FORM']] as const)(
    'a "%s" receipt (%s) starts the SMS step at once, with the same code', async (status, kind) => {
      const v = await start({ to: phone(), channels: ['whatsapp', 'sms'], stepTimeout: 300 });
      expect(await receipt(callbackOf(wa, v.to), kind, { status, id: 'wa-1', error_code: '131026' })).toBe(204);
      await flush();
      const expected = status === 'expired' || status === 'undelivered' ? 'undelivered' : 'failed';
      expect((await messages(v.id)).map((m) => `${m.channel}:${m.status}`)).toEqual([`whatsapp:${expected}`, 'sms:sent']);
      const [smsReq] = to(sms, v.to);
      const code = (t: string) => /(\d{6})/.exec(t)![1];
      expect(code(smsReq!.json.text)).toBe(code(to(wa, v.to)[0]!.json.text));
    });
});

describe('HTTP gateway receipts: authentication', () => {
  it('GET, POST form and POST JSON receipts mark an SMS delivered', async () => {
    for (const kind of ['GET', 'FORM', 'JSON'] as const) {
      const v = await start({ to: phone() });
      expect(await receipt(callbackOf(sms, v.to), kind, { status: 'DELIVRD', id: 'sms-1' })).toBe(204);
      expect((await messages(v.id))[0]).toMatchObject({ status: 'delivered', provider: 'smsgw', providerMessageId: 'sms-1' });
    }
  });

  it('refuses a missing or forged token, another message\'s token, another gateway\'s token (403) and an unknown provider (404); nothing is applied', async () => {
    const v = await start({ to: phone() });
    const other = await start({ to: phone() });
    const [m] = await messages(v.id);
    const [o] = await messages(other.id);
    const base = `${h.url}/webhooks/http/smsgw?msg=${m!.id}`;
    const before = await h.otpd.store.callbacks.rejectedCounts();
    const post = (url: string, b = '{"status":"delivered"}') => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b }).then((r) => r.status);
    expect(await post(base)).toBe(403);
    expect(await post(`${base}&t=${'x'.repeat(32)}`)).toBe(403);
    expect(await post(`${base}&t=${callbackToken(keys, 'smsgw', o!.id)}`)).toBe(403);
    expect(await post(`${base}&t=${callbackToken(keys, 'wagw', m!.id)}`)).toBe(403);
    expect((await fetch(`${base}&t=${callbackToken(keys, 'smsgw', o!.id)}&status=delivered`)).status).toBe(403);
    // Authentication comes before the body is read: a forged token with a broken body is 403, not 400.
    expect(await post(`${base}&t=forged`, '{not json')).toBe(403);
    expect(await post(`${h.url}/webhooks/http/nope?msg=${m!.id}&t=${callbackToken(keys, 'nope', m!.id)}`)).toBe(404);
    expect(await post(`${h.url}/webhooks/http/smsgw?t=${callbackToken(keys, 'smsgw', m!.id)}`)).toBe(404); // no msg
    const r = await fetch(`${base}&t=forged`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(await r.json()).toMatchObject({ status: 403, code: 'invalid_signature' });
    expect((await messages(v.id))[0]!.status).toBe('sent');
    expect((await messages(other.id))[0]!.status).toBe('sent');
    const after = await h.otpd.store.callbacks.rejectedCounts();
    const count = (rows: typeof after, pred: (s: string) => boolean) => rows.filter((c) => c.source === 'http:smsgw' && pred(c.reason)).reduce((n, c) => n + c.count, 0);
    expect(count(after, (s) => s.includes('token')) - count(before, (s) => s.includes('token'))).toBe(7);
    expect(after.find((c) => c.source === 'http:nope')?.count).toBeGreaterThanOrEqual(1);
  });

  it('a token for a message the gateway did not send (another provider\'s message) is refused', async () => {
    const v = await start({ to: phone() }); // sent by smsgw
    const [m] = await messages(v.id);
    const status = await fetch(`${h.url}/webhooks/http/wagw?msg=${m!.id}&t=${callbackToken(keys, 'wagw', m!.id)}&status=delivered`).then((r) => r.status);
    expect(status).toBe(404);
    expect((await messages(v.id))[0]!.status).toBe('sent');
  });

  it('without receipts.messageIdPath the gateway\'s own id in a receipt is not read (matched by otpd\'s message id alone)', async () => {
    const w = await start({ to: phone(), channels: ['whatsapp', 'sms'] });
    expect(await receipt(callbackOf(wa, w.to), 'JSON', { status: 'delivered', id: 'wa-other' })).toBe(204);
    expect((await messages(w.id))[0]!.status).toBe('delivered');
  });

  it('an unknown status is acknowledged (204) and changes nothing', async () => {
    const v = await start({ to: phone() });
    const cb = callbackOf(sms, v.to);
    expect(await receipt(cb, 'JSON', { status: 'mystery' })).toBe(204);
    expect(await receipt(cb, 'GET', { nostatus: 'x' })).toBe(204);
    expect(await receipt(cb, 'JSON', { status: 'queued' })).toBe(204); // sent: not a forward move
    expect((await messages(v.id))[0]!.status).toBe('sent');
  });

  it('answers problems for bad bodies once authenticated: malformed JSON 400, unsupported type 415, too large 413', async () => {
    const v = await start({ to: phone() });
    const url = local(callbackOf(sms, v.to));
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })).status).toBe(400);
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'status=delivered' })).status).toBe(415);
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'delivered', pad: 'x'.repeat(300_000) }) })).status).toBe(413);
    expect((await fetch(`${h.url}/webhooks/http/${'x'.repeat(41)}?msg=a&t=b`)).status).toBe(422);
    expect((await messages(v.id))[0]!.status).toBe('sent');
  });
});

describe('HTTP gateway receipts: signatures and the configured mapping', () => {
  const sign = (content: string, secret = SIGNING_SECRET) => `sha256=${createHmac('sha256', secret).update(content).digest('base64')}`;

  it('POST: requires the HMAC of the raw body in the configured header, and a fresh signed timestamp', async () => {
    const v = await start({ to: belgian() });
    const [m] = await messages(v.id);
    expect(m!.provider).toBe('signed');
    const url = local(callbackOf(signed, v.to));
    const now = Math.floor(h.clock.now() / 1000);
    const raw = JSON.stringify({ data: { id: 'sig-1', state: 'DELIVRD' }, ts: now });
    const post = (b: string, sig?: string, type = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': type, ...(sig === undefined ? {} : { 'x-gw-signature': sig }) }, body: b }).then((r) => r.status);
    expect(await post(raw)).toBe(403); // no signature
    expect(await post(raw, sign(raw, 'wrong-secret-0123456789'))).toBe(403);
    expect(await post(raw, sign(raw).replace('sha256=', ''))).toBe(403); // prefix missing
    expect(await post(raw.replace('DELIVRD', 'REJECTD'), sign(raw))).toBe(403); // body changed after signing
    expect(await post(raw, `sha256=${createHmac('sha256', SIGNING_SECRET).update(raw).digest('hex')}`)).toBe(403); // wrong encoding
    const stale = JSON.stringify({ data: { id: 'sig-1', state: 'DELIVRD' }, ts: now - 600 });
    expect(await post(stale, sign(stale))).toBe(403);
    const noTs = JSON.stringify({ data: { id: 'sig-1', state: 'DELIVRD' } });
    expect(await post(noTs, sign(noTs))).toBe(403);
    expect((await messages(v.id))[0]!.status).toBe('sent');
    expect(await post(raw, sign(raw))).toBe(204);
    expect((await messages(v.id))[0]).toMatchObject({ status: 'delivered', providerMessageId: 'sig-1' });
    const counts = await h.otpd.store.callbacks.rejectedCounts();
    expect(counts.filter((c) => c.source === 'http:signed').reduce((n, c) => n + c.count, 0)).toBe(7);
  });

  it('POST form: the signature covers the raw form body; the configured statuses and error code path apply', async () => {
    const v = await start({ to: belgian() });
    const url = local(callbackOf(signed, v.to));
    const raw = new URLSearchParams({ 'data.id': 'sig-1', 'data.state': 'undeliv', 'data.err': '027', ts: String(h.clock.now()) }).toString(); // ms timestamps work too
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-gw-signature': sign(raw) }, body: raw });
    expect(r.status).toBe(204);
    expect((await messages(v.id))[0]).toMatchObject({ status: 'undelivered', errorCode: '027' });
  });

  it('GET: the signature covers the query string without t; a different provider message id is refused', async () => {
    const v = await start({ to: belgian() });
    const cb = callbackOf(signed, v.to);
    const msg = new URL(cb).searchParams.get('msg')!;
    const own = `data.id=sig-1&data.state=DELIVRD&ts=${new Date(h.clock.now()).toISOString()}`;
    const signedContent = `msg=${msg}&${own}`; // the query without t, in the order sent
    const get = (query: string, sig?: string) => fetch(`${local(cb)}&${query}`, { headers: sig ? { 'x-gw-signature': sig } : {} }).then((r) => r.status);
    expect(await get(own)).toBe(403);
    expect(await get(own, sign(own))).toBe(403); // msg left out of the signed content
    expect(await get(own.replace('DELIVRD', 'REJECTD'), sign(signedContent))).toBe(403);
    const otherId = `msg=${msg}&data.id=sig-2&data.state=DELIVRD&ts=${Math.floor(h.clock.now() / 1000)}`;
    expect(await get(otherId.slice(otherId.indexOf('&') + 1), sign(otherId))).toBe(404); // authenticated, but not the provider's id for this message
    expect((await messages(v.id))[0]!.status).toBe('sent');
    expect(await get(own, sign(signedContent))).toBe(204);
    expect((await messages(v.id))[0]!.status).toBe('delivered');
  });

  it('with a configured table, only its values count (a default value like "delivered" is ignored)', async () => {
    const v = await start({ to: belgian() });
    const url = local(callbackOf(signed, v.to));
    const post = (state: string) => {
      const raw = JSON.stringify({ data: { state }, ts: Math.floor(h.clock.now() / 1000) });
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gw-signature': sign(raw) }, body: raw }).then((r) => r.status);
    };
    expect(await post('delivered')).toBe(204);
    expect(await post('ENROUTE')).toBe(204);
    expect((await messages(v.id))[0]!.status).toBe('sent');
    expect(await post('rejectd')).toBe(204); // case-insensitive
    expect((await messages(v.id))[0]!.status).toBe('failed');
  });
});

describe('HTTP gateway receipt routes in OpenAPI', () => {
  it('documents GET and POST /webhooks/http/{provider} with their problems', async () => {
    const spec = (await h.req('GET', '/openapi.json', undefined, { key: null })).body;
    const path = spec.paths['/webhooks/http/{provider}'];
    expect(Object.keys(path).sort()).toEqual(['get', 'post']);
    expect(path.get.tags).toEqual(['webhooks']);
    // (The app may add the problems every route can answer, such as 503 while shutting down.)
    expect(Object.keys(path.get.responses)).toEqual(expect.arrayContaining(['204', '403', '404', '422']));
    expect(Object.keys(path.post.responses)).toEqual(expect.arrayContaining(['204', '400', '403', '404', '413', '415', '422']));
    expect(path.post.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'provider', in: 'path', schema: expect.objectContaining({ maxLength: 40 }) })]));
  });
});

describe('HTTP gateway receipt configuration', () => {
  const gw = (receipts: unknown) => ({ providers: [{ name: 'gw', type: 'http', url: 'https://sms.example.net/send', body: {}, receipts }] });

  it('accepts a full receipts block and refuses bad ones with a sentence naming the field', () => {
    expect(checkProvidersFile(gw({ statusPath: 'a.b', statuses: { delivered: ['ok'] }, signature: { header: 'x-sig', secret: 'a-long-enough-secret' } }))).toEqual([]);
    const bad: [unknown, RegExp][] = [
      [{ statusPath: '' }, /receipts\/statusPath/],
      [{ statusPath: 'a..b' }, /receipts\/statusPath/],
      [{ unknown: 1 }, /receipts/],
      [{ statuses: { delivered: ['ok'], failed: ['OK'] } }, /"ok".*delivered.*failed/],
      [{ statuses: { delivrd: ['x'] } }, /receipts\/statuses/],
      [{ signature: { header: 'x-sig' } }, /receipts\/signature/],
      [{ signature: { header: 'x-sig', secret: 'short' } }, /receipts\/signature\/secret/],
      [{ signature: { header: 'bad header', secret: 'a-long-enough-secret' } }, /receipts\/signature\/header/],
      [{ signature: { header: 'x-sig', secret: 'a-long-enough-secret', algorithm: 'md5' } }, /receipts\/signature\/algorithm/],
      [{ signature: { header: 'x-sig', secret: 'a-long-enough-secret', maxAgeSeconds: 300 } }, /maxAgeSeconds needs timestampPath/],
    ];
    for (const [r, re] of bad) {
      const errs = checkProvidersFile(gw(r));
      expect(errs.join('; '), JSON.stringify(r)).toMatch(re);
      expect(errs.join('; ')).not.toContain('a-long-enough-secret');
    }
  });
});
