/** The Twilio provider against Twilio's own OpenAPI spec (api v2010) served by Prism in validating mode. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/channels/types.js';
import { TwilioProvider } from '../src/channels/twilio/index.js';
import { Prism, SPECS } from './fakes/prism.js';
import { phone, startHarness } from './helpers.js';

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
