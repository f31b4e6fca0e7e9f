/** WhatsApp through Meta's Cloud API (strict fake), its status webhooks, and WhatsApp → SMS fallback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metaSignature } from '../src/providers/whatsapp/callbacks.js';
import { FakeProvider } from './fakes/http-provider.js';
import { FakeWhatsApp, statusWebhook } from './fakes/whatsapp.js';
import { phone, startHarness, type Harness } from './helpers.js';

const TOKEN = 'EAAJBtesttoken';
const APP_SECRET = 'meta-app-secret';
let wa: FakeWhatsApp;
let sms: FakeProvider;
let h: Harness;

beforeAll(async () => {
  wa = await new FakeWhatsApp('106540352242922', TOKEN, new Set(['otp_code:en_US', 'otp_code:fr', 'code_otp:pt_BR'])).start();
  sms = await new FakeProvider({ status: 200, json: { status: 'ok', id: 'sms-1' } }).start();
  h = await startHarness({
    config: {
      delivery: 'providers', publicUrl: 'https://otpd.example.com',
      providers: { providers: [
        { name: 'meta', type: 'whatsapp', phoneNumberId: '106540352242922', accessToken: TOKEN, appSecret: APP_SECRET, verifyToken: 'verify-me-123',
          templates: { '*': { name: 'otp_code', language: 'en_US' }, fr: { name: 'otp_code', language: 'fr' }, pt: { name: 'code_otp', language: 'pt_BR' } }, baseUrl: wa.url },
        { name: 'sms', type: 'http', url: `${sms.url}/send`, body: { to: '{{to}}', text: '{{text}}' } },
      ] },
    },
  });
});
afterAll(async () => { await h.close(); await wa.close(); await sms.close(); });

async function start(body: Record<string, unknown>) {
  const r = await h.req('POST', '/v1/verifications', body);
  expect(r.status, r.text).toBe(201);
  await h.otpd.worker!.flush();
  return r.body as { id: string; to: string };
}
const messages = async (id: string) => (await h.req('GET', `/v1/verifications/${id}/messages`)).body.data as { id: string; status: string; channel: string; providerMessageId: string; errorCode: string | null }[];
async function webhook(raw: string, sig = metaSignature(APP_SECRET, raw)) {
  const r = await fetch(`${h.url}/webhooks/whatsapp/meta`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig }, body: raw });
  return r.status;
}

describe('WhatsApp Cloud API', () => {
  it('sends the authentication template in the message language with the code in body and copy-code button', async () => {
    const v = await start({ to: '+33698765432', channel: 'whatsapp' });
    const s = wa.sent.at(-1)!;
    expect(s).toMatchObject({ to: '33698765432', template: 'otp_code', language: 'fr' });
    expect(s.code).toMatch(/^\d{6}$/);
    expect(s.bodyCode).toBe(s.code);
    const [m] = await messages(v.id);
    expect(m).toMatchObject({ status: 'sent', providerMessageId: s.wamid });
    expect(s.opaque).toBe(m!.id);
    expect((await h.req('POST', `/v1/verifications/${v.id}/check`, { code: s.code })).body.valid).toBe(true);
    await start({ to: '+5511961234567', channel: 'whatsapp' });
    expect(wa.sent.at(-1)).toMatchObject({ template: 'code_otp', language: 'pt_BR' });
    await start({ to: '+14155552671', channel: 'whatsapp', locale: 'de' });
    expect(wa.sent.at(-1)).toMatchObject({ template: 'otp_code', language: 'en_US' });
    expect(wa.refused).toEqual([]);
  });

  it('falls back to SMS at once when WhatsApp refuses (number not on WhatsApp), with the same code', async () => {
    wa.fail({ status: 400, code: 131026, message: 'Message undeliverable' });
    const v = await start({ to: phone(), channels: ['whatsapp', 'sms'] });
    await h.otpd.worker!.flush();
    const ms = await messages(v.id);
    expect(ms.map((m) => `${m.channel}:${m.status}:${m.errorCode}`)).toEqual(['whatsapp:failed:131026', 'sms:sent:null']);
    expect(sms.requests.at(-1)!.json.to).toBe(v.to);
  });

  it('retries Graph API throttling (130429) as transient', async () => {
    wa.fail({ status: 400, code: 130429, message: 'Rate limit hit' });
    const v = await start({ to: phone(), channel: 'whatsapp' });
    expect((await messages(v.id))[0]!.status).toBe('queued');
    h.clock.advance(5_000);
    await h.otpd.worker!.flush();
    expect((await messages(v.id))[0]!.status).toBe('sent');
  });

  it('answers the verification handshake only with the right verify token', async () => {
    const ok = await fetch(`${h.url}/webhooks/whatsapp/meta?hub.mode=subscribe&hub.verify_token=verify-me-123&hub.challenge=1158201444`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('1158201444');
    expect((await fetch(`${h.url}/webhooks/whatsapp/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`)).status).toBe(403);
    expect((await fetch(`${h.url}/webhooks/whatsapp/nope?hub.mode=subscribe&hub.verify_token=verify-me-123&hub.challenge=1`)).status).toBe(403);
  });

  it('applies signed status webhooks: delivered cancels the SMS fallback; failed starts it', async () => {
    const a = await start({ to: phone(), channels: ['whatsapp', 'sms'] });
    const am = (await messages(a.id))[0]!;
    expect(await webhook(statusWebhook([{ id: am.providerMessageId, status: 'sent', opaque: am.id }, { id: am.providerMessageId, status: 'delivered', opaque: am.id }]))).toBe(200);
    h.clock.advance(60_000);
    await h.otpd.worker!.flush();
    expect((await messages(a.id)).map((m) => m.status)).toEqual(['delivered', 'waiting']);

    const before = sms.requests.length;
    const b = await start({ to: phone(), channels: ['whatsapp', 'sms'] });
    const bm = (await messages(b.id))[0]!;
    // Matched by wamid alone (no opaque data) too.
    expect(await webhook(statusWebhook([{ id: bm.providerMessageId, status: 'failed', errorCode: 131047 }]))).toBe(200);
    await h.otpd.worker!.flush();
    expect((await messages(b.id)).map((m) => `${m.status}:${m.errorCode}`)).toEqual(['failed:131047', 'sent:null']);
    expect(sms.requests.length).toBe(before + 1);
  });

  it('refuses forged webhooks (403, counted); acknowledges but never applies signed statuses for unknown messages', async () => {
    const v = await start({ to: phone(), channels: ['whatsapp', 'sms'] });
    const m = (await messages(v.id))[0]!;
    const raw = statusWebhook([{ id: m.providerMessageId, status: 'failed', opaque: m.id }]);
    expect(await webhook(raw, metaSignature('wrong-secret', raw))).toBe(403);
    expect(await webhook(raw, '')).toBe(403);
    expect(await webhook(raw.replace('failed', 'delivered'), metaSignature(APP_SECRET, raw))).toBe(403); // body changed after signing
    expect(await webhook(statusWebhook([{ id: 'wamid.unknown', status: 'delivered' }]))).toBe(200);
    expect((await messages(v.id)).map((x) => x.status)).toEqual(['sent', 'waiting']);
    const counts = await h.otpd.store.callbacks.rejectedCounts();
    expect(counts.find((c) => c.source === 'whatsapp:meta' && c.reason.includes('does not verify'))?.count).toBe(3);
    expect(counts.find((c) => c.source === 'whatsapp:meta' && c.reason.includes('unknown message'))?.count).toBe(1);
  });
});
