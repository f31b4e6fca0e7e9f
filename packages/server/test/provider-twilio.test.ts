/** The Twilio provider against Twilio's own OpenAPI spec (api v2010) served by Prism in validating mode. */
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/providers/types.js';
import { TwilioProvider, verificationTwiml } from '../src/providers/twilio/index.js';
import { Prism, SPECS } from './fakes/prism.js';
import { FakeProvider } from './fakes/http-provider.js';
import { phone, startHarness, type Harness } from './helpers.js';

const SID = 'AC' + 'a'.repeat(32);
let prism: Prism;
beforeAll(async () => { prism = await new Prism(join(SPECS, 'twilio/twilio_api_v2010.json')).start(); }, 90_000);
afterAll(async () => { await prism?.stop(); });

const message = { id: 'msg_1', appId: 'app_1', verificationId: 'ver_1', channel: 'sms' as const, to: '+33612345678', locale: 'en', text: 'Your code is 123456', code: '123456', ttlMinutes: 5 };

describe('TwilioProvider', () => {
  it('sends a request the spec accepts (auth, form fields, StatusCallback) and reads the message sid', async () => {
    const p = new TwilioProvider({ name: 'twilio', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: prism.url });
    const r = await p.send(message, { statusCallbackUrl: 'https://otpd.example.com/webhooks/twilio/twilio?msg=msg_1' });
    expect(r.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('works with a Messaging Service and API key credentials', async () => {
    const p = new TwilioProvider({ name: 't2', type: 'twilio', accountSid: SID, apiKeySid: 'SK' + 'b'.repeat(32), apiKeySecret: 'secret', messagingServiceSid: 'MG' + 'c'.repeat(32), baseUrl: prism.url });
    expect((await p.send(message, {})).providerMessageId).toMatch(/^SM/);
  });

  it('the mock is strict: a request without the required To, or without credentials, is refused', async () => {
    const url = `${prism.url}/2010-04-01/Accounts/${SID}/Messages.json`;
    const auth = `Basic ${Buffer.from(`${SID}:token`).toString('base64')}`;
    const noTo = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'Body=hi&From=%2B15005550006' });
    expect(noTo.status).toBe(422);
    const noAuth = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'To=%2B33612345678&Body=hi&From=%2B15005550006' });
    expect(noAuth.status).toBe(401);
    // ... and the provider classifies such an answer as a definite rejection.
    const p = new TwilioProvider({ name: 'bad', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: `${prism.url}/nope` });
    await expect(p.send(message, {})).rejects.toMatchObject({ kind: 'rejected', info: { httpStatus: 404 } } satisfies Partial<ProviderError>);
  });

  it('calls for the voice channel (the Calls API, TwiML inline) with a request the spec accepts, and reads the call sid', async () => {
    const p = new TwilioProvider({ name: 'twilio', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: prism.url });
    expect(p.channels).toEqual(['sms', 'voice']);
    const r = await p.send({ ...message, channel: 'voice', text: 'Your code is 1, 2, 3. Again, 1, 2, 3.' }, { statusCallbackUrl: 'https://otpd.example.com/webhooks/twilio/twilio?msg=msg_1' });
    expect(r.providerMessageId).toMatch(/^CA[0-9a-f]{32}$/);
    // A Messaging Service has no number to call from.
    expect(new TwilioProvider({ name: 't3', type: 'twilio', accountSid: SID, authToken: 'x', messagingServiceSid: 'MG' + 'c'.repeat(32), baseUrl: prism.url }).channels).toEqual(['sms']);
    expect(verificationTwiml('Code <1> & "2"', 'fr')).toBe('<Response><Pause length="1"/><Say language="fr-FR" voice="Google.fr-FR-Standard-A">Code &lt;1&gt; &amp; &quot;2&quot;</Say></Response>');
    expect(verificationTwiml('x', 'pt-BR')).toContain('language="pt-BR" voice="Google.pt-BR-Standard-A"');
    expect(verificationTwiml('x', 'xx')).toContain('language="en-US"');
    // The entry may name the voice per language; without a Google standard voice, Twilio chooses.
    expect(verificationTwiml('x', 'fr-BE', { fr: 'Polly.Lea' })).toContain('language="fr-FR" voice="Polly.Lea"');
    expect(verificationTwiml('x', 'sw')).toBe('<Response><Pause length="1"/><Say language="sw-KE">x</Say></Response>');
  });

  it('a voice verification is said in its language, the code digit by digit and twice', async () => {
    const fake = await new FakeProvider({ status: 201, json: { sid: 'CA' + 'd'.repeat(32), status: 'queued' } }).start();
    const h = await startHarness({
      config: { delivery: 'providers', providers: { providers: [{ name: 'twilio', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: fake.url }] } },
    });
    try {
      const s = await h.req('POST', '/v1/verifications', { to: phone(), channel: 'voice' });
      expect(s.status, s.text).toBe(201);
      await h.otpd.worker!.flush();
      const req = fake.requests[0]!;
      expect(req.path).toBe(`/2010-04-01/Accounts/${SID}/Calls.json`);
      const twiml = new URLSearchParams(req.text).get('Twiml')!;
      expect(twiml).toContain('<Say language="fr-FR" voice="Google.fr-FR-Standard-A">Votre code de vérification');
      const digits = /est ((?:\d, ){5}\d)\. Je répète, votre code est ((?:\d, ){5}\d)\./.exec(twiml);
      expect(digits?.[1]).toBe(digits?.[2]);
      const m = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`)).body.data[0];
      expect(m).toMatchObject({ channel: 'voice', status: 'sent', providerMessageId: 'CA' + 'd'.repeat(32) });
    } finally {
      await h.close();
      await fake.close();
    }
  });

  it('delivers through the worker end to end', async () => {
    const h = await startHarness({
      config: {
        delivery: 'providers', publicUrl: 'https://otpd.example.com',
        providers: { providers: [{ name: 'twilio', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: prism.url }] },
      },
    });
    try {
      const s = await h.req('POST', '/v1/verifications', { to: phone() });
      expect(s.status).toBe(201);
      await h.otpd.worker!.flush();
      const m = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`)).body.data[0];
      expect(m).toMatchObject({ status: 'sent', provider: 'twilio', providerMessageId: expect.stringMatching(/^SM/) });
    } finally {
      await h.close();
    }
  });
});

/** Twilio's documented signature: base64(HMAC-SHA1(authToken, url + each sorted key followed by its value)). */
function twilioSignature(token: string, url: string, params: Record<string, string>): string {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', token).update(data).digest('base64');
}

describe('Twilio status callbacks', () => {
  const PUBLIC = 'https://otpd.example.com';
  let h: Harness;
  let wa: FakeProvider;
  beforeAll(async () => {
    wa = await new FakeProvider({ status: 200, json: { status: 'ok', id: 'wa-1' } }).start();
    h = await startHarness({
      config: {
        delivery: 'providers', publicUrl: PUBLIC,
        providers: { providers: [
          { name: 'twilio', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: prism.url },
          { name: 'wa', type: 'http', url: `${wa.url}/send`, channels: ['whatsapp'], body: { to: '{{to}}', text: '{{text}}' } },
        ] },
      },
    });
  });
  afterAll(async () => { await h.close(); await wa.close(); });

  async function sentSms(extra: Record<string, unknown> = {}) {
    const s = await h.req('POST', '/v1/verifications', { to: phone(), ...extra });
    expect(s.status).toBe(201);
    await h.otpd.worker!.flush();
    const m = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`)).body.data[0];
    expect(m.status).toBe('sent');
    return { id: s.body.id as string, msg: m as { id: string; providerMessageId: string } };
  }
  async function callback(path: string, params: Record<string, string>, sig = twilioSignature('token', PUBLIC + path, params)) {
    const r = await fetch(h.url + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, body: new URLSearchParams(params).toString() });
    return { status: r.status, body: r.status === 204 ? null : await r.json() };
  }

  it('a signed "delivered" callback marks the message delivered', async () => {
    const { id, msg } = await sentSms();
    const path = `/webhooks/twilio/twilio?msg=${msg.id}`;
    expect((await callback(path, { MessageSid: msg.providerMessageId, MessageStatus: 'delivered', AccountSid: SID })).status).toBe(204);
    const m = (await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0];
    expect(m).toMatchObject({ status: 'delivered', deliveredAt: expect.any(String) });
    // Receipts only move forward: a late "sent" changes nothing.
    expect((await callback(path, { MessageSid: msg.providerMessageId, MessageStatus: 'sent' })).status).toBe(204);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0].status).toBe('delivered');
  });

  it('forged, unknown and mismatched callbacks are refused, counted and never applied', async () => {
    const { id, msg } = await sentSms();
    const path = `/webhooks/twilio/twilio?msg=${msg.id}`;
    const params = { MessageSid: msg.providerMessageId, MessageStatus: 'failed' };
    const forged = await callback(path, params, twilioSignature('wrong-token', PUBLIC + path, params));
    expect(forged.status).toBe(403);
    expect(forged.body.code).toBe('invalid_signature');
    expect((await callback(path, params, '')).status).toBe(403);
    const tampered = await callback(path, params, twilioSignature('token', PUBLIC + path, { ...params, MessageStatus: 'delivered' }));
    expect(tampered.status).toBe(403);
    expect((await callback(`/webhooks/twilio/twilio?msg=msg_01ARZ3NDEKTSV4RRFFQ69G5FAV`, params)).status).toBe(404);
    expect((await callback(path, { ...params, MessageSid: 'SM' + '0'.repeat(32) })).status).toBe(404);
    expect((await callback(`/webhooks/twilio/nope?msg=${msg.id}`, params)).status).toBe(404);
    expect((await h.req('GET', `/v1/verifications/${id}/messages`)).body.data[0].status).toBe('sent');
    const counts = await h.otpd.store.callbacks.rejectedCounts();
    expect(counts.find((c) => c.source === 'twilio:twilio' && c.reason.includes('does not verify'))?.count).toBe(3);
    expect(counts.reduce((a, c) => a + c.count, 0)).toBeGreaterThanOrEqual(6);
  });

  it('an "undelivered" receipt starts the next channel at once; "delivered" cancels the timed fallback', async () => {
    const a = await sentSms({ channels: ['sms', 'whatsapp'] });
    expect(await callback(`/webhooks/twilio/twilio?msg=${a.msg.id}`, { MessageSid: a.msg.providerMessageId, MessageStatus: 'undelivered', ErrorCode: '30003' })).toMatchObject({ status: 204 });
    await h.otpd.worker!.flush();
    const ms = (await h.req('GET', `/v1/verifications/${a.id}/messages`)).body.data;
    expect(ms.map((m: { status: string; errorCode: string | null }) => `${m.status}:${m.errorCode}`)).toEqual(['undelivered:30003', 'sent:null']);
    expect(wa.requests).toHaveLength(1);

    const b = await sentSms({ channels: ['sms', 'whatsapp'] });
    expect((await callback(`/webhooks/twilio/twilio?msg=${b.msg.id}`, { MessageSid: b.msg.providerMessageId, MessageStatus: 'delivered' })).status).toBe(204);
    h.clock.advance(60_000);
    await h.otpd.worker!.flush();
    expect(wa.requests).toHaveLength(1);
    expect((await h.req('GET', `/v1/verifications/${b.id}/messages`)).body.data.map((m: { status: string }) => m.status)).toEqual(['delivered', 'waiting']);
  });

  it('a call\'s status is its receipt: "no-answer" starts the next channel, "completed" is delivered', async () => {
    const a = await sentSms({ channels: ['voice', 'whatsapp'] });
    expect(a.msg.providerMessageId).toMatch(/^CA/);
    const before = wa.requests.length;
    expect((await callback(`/webhooks/twilio/twilio?msg=${a.msg.id}`, { CallSid: a.msg.providerMessageId, CallStatus: 'no-answer' })).status).toBe(204);
    await h.otpd.worker!.flush();
    const ms = (await h.req('GET', `/v1/verifications/${a.id}/messages`)).body.data;
    expect(ms.map((m: { channel: string; status: string; errorCode: string | null }) => `${m.channel}:${m.status}:${m.errorCode}`)).toEqual(['voice:undelivered:no-answer', 'whatsapp:sent:null']);
    expect(wa.requests.length).toBe(before + 1);
    const b = await sentSms({ channel: 'voice' });
    expect((await callback(`/webhooks/twilio/twilio?msg=${b.msg.id}`, { CallSid: b.msg.providerMessageId, CallStatus: 'completed' })).status).toBe(204);
    expect((await h.req('GET', `/v1/verifications/${b.id}/messages`)).body.data[0].status).toBe('delivered');
  });
});
