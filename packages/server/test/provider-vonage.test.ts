/** The Vonage provider against Vonage's SMS API spec served by Prism, its signatures, and its delivery receipts. */
import { join } from 'node:path';
import { SMS } from '@vonage/sms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VonageProvider, type VonageSignatureMethod } from '../src/providers/vonage/index.js';
import { vonageSignature } from '../src/providers/vonage/callbacks.js';
import { callbackToken, deriveKeys } from '../src/domain/code.js';
import { FakeProvider } from './fakes/http-provider.js';
import { Prism, SPECS } from './fakes/prism.js';
import { SECRET, phone, startHarness, type Harness } from './helpers.js';

let prism: Prism;
beforeAll(async () => { prism = await new Prism(join(SPECS, 'vonage/sms.yml'), { errors: false }).start(); }, 90_000);
afterAll(async () => { await prism?.stop(); });

const message = { id: 'msg_1', appId: 'app_1', verificationId: 'ver_1', channel: 'sms' as const, to: '+33612345678', locale: 'en', text: 'Your code is 123456', code: '123456', ttlMinutes: 5 };
const cfg = { name: 'vonage', type: 'vonage' as const, apiKey: 'abcd1234', apiSecret: 'secret123', from: 'Acme' };

describe('VonageProvider', () => {
  it('sends a request the spec accepts and reads the message id', async () => {
    const p = new VonageProvider({ ...cfg, baseUrl: prism.url });
    const r = await p.send(message, { statusCallbackUrl: 'https://otpd.example.com/webhooks/vonage/vonage?msg=msg_1&t=x' });
    expect(r).toMatchObject({ providerMessageId: '0A0000000123ABCD1', price: 0.0333 });
  });

  it('the mock is strict: a malformed request is refused and classified as a rejection', async () => {
    const bad = await fetch(`${prism.url}/json`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'api_key=short&from=Acme&to=%2B33612345678' });
    expect(bad.status).toBe(422);
    const p = new VonageProvider({ ...cfg, apiKey: 'toolongkey', baseUrl: prism.url });
    await expect(p.send(message, {})).rejects.toMatchObject({ kind: 'rejected', info: { httpStatus: 422 } });
  });

  it('sends the number without +, unicode for UCS-2 text, and maps status codes to failure kinds', async () => {
    const fake = await new FakeProvider().start();
    try {
      const p = new VonageProvider({ ...cfg, baseUrl: fake.url });
      fake.next({ status: 200, json: { 'message-count': '1', messages: [{ status: '0', 'message-id': 'V1', 'message-price': '0.0333' }] } });
      expect(await p.send({ ...message, text: 'Tu código es 123456' }, {})).toMatchObject({ providerMessageId: 'V1', price: 0.0333 });
      const form = new URLSearchParams(fake.requests[0]!.text);
      expect(Object.fromEntries(form)).toMatchObject({ to: '33612345678', type: 'unicode', 'client-ref': 'msg_1', api_key: 'abcd1234' });
      fake.next({ status: 200, json: { messages: [{ status: '1', 'error-text': 'Throttled' }] } });
      await expect(p.send(message, {})).rejects.toMatchObject({ kind: 'transient', info: { code: '1' } });
      fake.next({ status: 200, json: { messages: [{ status: '3', 'error-text': 'Invalid to' }] } });
      await expect(p.send(message, {})).rejects.toMatchObject({ kind: 'rejected', info: { code: '3' } });
      expect(new URLSearchParams(fake.requests[1]!.text).get('type')).toBeNull();
    } finally {
      await fake.close();
    }
  });

  it.each([['md5hash', 'md5hash'], ['md5', 'md5hmac'], ['sha1', 'sha1hmac'], ['sha256', 'sha256hmac'], ['sha512', 'sha512hmac']] as const)(
    'signs like Vonage\'s own SDK (%s)', (ours, theirs) => {
      const params = { messageId: '0A0000001234567B', status: 'delivered', 'client-ref': 'msg_1', 'err-code': '0', timestamp: '1582650446', text: 'a&b=c' };
      const sig = vonageSignature(params, 'sig-secret', ours as VonageSignatureMethod);
      const sdk = new SMS({ apiKey: 'abcd1234', apiSecret: 'secret123' });
      expect(sdk.verifySignature(sig, params, 'sig-secret', theirs.toUpperCase() as never)).toBe(true);
      expect(sdk.verifySignature(sig, { ...params, status: 'failed' }, 'sig-secret', theirs.toUpperCase() as never)).toBe(false);
    });
});

describe('Vonage delivery receipts', () => {
  let h: Harness;
  let fake: FakeProvider;
  const keys = deriveKeys(SECRET);
  beforeAll(async () => {
    fake = await new FakeProvider({ status: 200, json: { 'message-count': '1', messages: [{ status: '0', 'message-id': 'VID-1' }] } }).start();
    h = await startHarness({
      config: {
        delivery: 'providers', publicUrl: 'https://otpd.example.com',
        providers: { providers: [
          { name: 'vonage', type: 'vonage', apiKey: 'abcd1234', apiSecret: 'secret123', from: 'Acme', baseUrl: fake.url },
          { name: 'vsigned', type: 'vonage', apiKey: 'abcd1234', apiSecret: 'secret123', from: 'Acme', baseUrl: fake.url, signatureSecret: 'sig-secret', signatureMethod: 'sha256' },
        ], routing: { sms: [{ countries: ['US'], providers: ['vsigned'] }, { providers: ['vonage'] }] } },
      },
    });
  });
  afterAll(async () => { await h.close(); await fake.close(); });

  async function sent(to = phone()) {
    const s = await h.req('POST', '/v1/verifications', { to });
    await h.otpd.worker!.flush();
    const m = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`)).body.data[0];
    return { id: s.body.id as string, msgId: m.id as string, provider: m.provider as string };
  }
  const dlr = async (provider: string, query: Record<string, string>, method: 'GET' | 'POST' = 'GET') => {
    const qs = new URLSearchParams(query).toString();
    const r = method === 'GET'
      ? await fetch(`${h.url}/webhooks/vonage/${provider}?${qs}`)
      : await fetch(`${h.url}/webhooks/vonage/${provider}?msg=${query.msg}&t=${query.t}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query) });
    return r.status;
  };

  it('the callback URL carries the token; a GET receipt with it is applied', async () => {
    const { id, msgId } = await sent();
    const callback = new URLSearchParams(fake.requests.at(-1)!.text).get('callback')!;
    expect(callback).toBe(`https://otpd.example.com/webhooks/vonage/vonage?msg=${msgId}&t=${callbackToken(keys, 'vonage', msgId)}`);
    const t = new URL(callback).searchParams.get('t')!;
    expect(await dlr('vonage', { msg: msgId, t, messageId: 'VID-1', status: 'delivered', 'err-code': '0', 'client-ref': msgId })).toBe(204);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0].status).toBe('delivered');
  });

  it('a POST JSON receipt works too; "expired" is undelivered with its error code', async () => {
    const { id, msgId } = await sent();
    const t = callbackToken(keys, 'vonage', msgId);
    expect(await dlr('vonage', { msg: msgId, t, messageId: 'VID-1', status: 'expired', 'err-code': '5' }, 'POST')).toBe(204);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0]).toMatchObject({ status: 'undelivered', errorCode: '5' });
  });

  it('refuses a missing or wrong token, another message\'s token, and another provider', async () => {
    const { id, msgId } = await sent();
    const other = await sent();
    expect(await dlr('vonage', { msg: msgId, status: 'delivered' })).toBe(403);
    expect(await dlr('vonage', { msg: msgId, t: 'x'.repeat(32), status: 'delivered' })).toBe(403);
    expect(await dlr('vonage', { msg: msgId, t: callbackToken(keys, 'vonage', other.msgId), status: 'delivered' })).toBe(403);
    expect(await dlr('vsigned', { msg: msgId, t: callbackToken(keys, 'vsigned', msgId), status: 'delivered' })).toBe(403);
    expect(await dlr('twilio', { msg: msgId, t: callbackToken(keys, 'vonage', msgId), status: 'delivered' })).toBe(404);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0].status).toBe('sent');
  });

  it('with a signature secret, requires a valid sig with a fresh timestamp', async () => {
    const { id, msgId, provider } = await sent('+14155552671');
    expect(provider).toBe('vsigned');
    const t = callbackToken(keys, 'vsigned', msgId);
    const now = Math.floor(h.clock.now() / 1000);
    const receipt = { messageId: 'VID-1', status: 'delivered', 'client-ref': msgId, timestamp: String(now), nonce: 'n1' };
    expect(await dlr('vsigned', { msg: msgId, t, ...receipt })).toBe(403); // no sig
    expect(await dlr('vsigned', { msg: msgId, t, ...receipt, sig: vonageSignature(receipt, 'wrong', 'sha256') })).toBe(403);
    const stale = { ...receipt, timestamp: String(now - 600) };
    expect(await dlr('vsigned', { msg: msgId, t, ...stale, sig: vonageSignature(stale, 'sig-secret', 'sha256') })).toBe(403);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0].status).toBe('sent');
    expect(await dlr('vsigned', { msg: msgId, t, ...receipt, sig: vonageSignature(receipt, 'sig-secret', 'sha256') })).toBe(204);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0].status).toBe('delivered');
  });
});
