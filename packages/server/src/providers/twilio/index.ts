/**
 * SMS through Twilio's Messages API (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form encoded, Basic
 * auth with the Account SID and auth token, or an API key SID and secret). The sender is a `From` number or a
 * Messaging Service SID. `StatusCallback` carries otpd's receipt URL when otpd has a public URL.
 *
 * Voice through Programmable Voice's Calls API (POST …/Calls.json) from the `from` number, with the TwiML inline:
 * the text said in the message's language (`<Say language>`), the code digit by digit and twice (the voice texts of
 * domain/template.ts). A call's status callback (answered and completed, or busy, no answer, failed) is its receipt.
 */
import type { Channel } from '../../domain/policy.js';
import { callProvider, failForStatus } from '../shared/http.js';
import { ProviderError, type DeliveryProvider, type OutgoingMessage, type SendContext, type SendResult } from '../types.js';

export interface TwilioConfig {
  name: string;
  type: 'twilio';
  accountSid: string;
  /** Auth token of the account; or use apiKeySid + apiKeySecret. */
  authToken?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  from?: string;
  messagingServiceSid?: string;
  /** Default https://api.twilio.com (tests point it at a validating mock). */
  baseUrl?: string;
  /** Voice calls: the `<Say>` voice per language (e.g. {"fr": "Polly.Lea"}); default a Google standard voice. */
  voices?: Record<string, string>;
  timeoutMs?: number;
}

/** The `<Say language>` of a message's locale: its BCP 47 tag with the country Twilio's voices are for. */
const SAY_LANGUAGE: Readonly<Record<string, string>> = Object.freeze({
  en: 'en-US', fr: 'fr-FR', de: 'de-DE', es: 'es-ES', it: 'it-IT', pt: 'pt-BR', nl: 'nl-NL', tr: 'tr-TR', pl: 'pl-PL', ru: 'ru-RU',
  uk: 'uk-UA', ro: 'ro-RO', cs: 'cs-CZ', sv: 'sv-SE', ar: 'ar-XA', he: 'he-IL', fa: 'fa-IR', hi: 'hi-IN', bn: 'bn-IN', ur: 'ur-IN',
  id: 'id-ID', ms: 'ms-MY', vi: 'vi-VN', th: 'th-TH', zh: 'cmn-CN', ja: 'ja-JP', ko: 'ko-KR', tl: 'fil-PH', sw: 'sw-KE',
});

const xml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/**
 * Twilio's default voice speaks few languages, and a language its voice does not speak fails the `<Say>`: each
 * language gets one of the Google voices Twilio offers (`Google.{tag}-Standard-A`), unless the entry's `voices`
 * names another (e.g. `{"fr": "Polly.Lea"}`). Persian and Swahili have no Google standard voice: Twilio's choice.
 */
const NO_GOOGLE_VOICE = new Set(['fa', 'sw']);

/** The TwiML of a verification call: a pause (the callee answers), then the text in its language and voice. */
export function verificationTwiml(text: string, locale: string, voices: Readonly<Record<string, string>> = {}): string {
  const base = locale.split('-')[0]!.toLowerCase();
  const known = SAY_LANGUAGE[locale] !== undefined ? locale : SAY_LANGUAGE[base] !== undefined ? base : 'en';
  const lang = SAY_LANGUAGE[known]!;
  const voice = voices[locale] ?? voices[known] ?? (NO_GOOGLE_VOICE.has(known) ? null : `Google.${lang}-Standard-A`);
  return `<Response><Pause length="1"/><Say language="${lang}"${voice ? ` voice="${xml(voice)}"` : ''}>${xml(text)}</Say></Response>`;
}

export class TwilioProvider implements DeliveryProvider {
  readonly type = 'twilio';
  /** Voice needs a number to call from (a Messaging Service sends SMS only). */
  readonly channels: readonly Channel[];
  readonly name: string;
  private readonly url: string;
  private readonly callsUrl: string;
  private readonly auth: string;
  readonly secrets: readonly string[];

  constructor(private readonly c: TwilioConfig) {
    this.name = c.name;
    if (!c.from && !c.messagingServiceSid) throw new Error(`provider ${c.name}: set from or messagingServiceSid`);
    const user = c.apiKeySid ?? c.accountSid;
    const pass = c.apiKeySid ? c.apiKeySecret : c.authToken;
    if (!pass) throw new Error(`provider ${c.name}: set authToken, or apiKeySid and apiKeySecret`);
    this.auth = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    this.secrets = [pass, this.auth.slice(6)];
    const account = `${(c.baseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(c.accountSid)}`;
    this.url = `${account}/Messages.json`;
    this.callsUrl = `${account}/Calls.json`;
    this.channels = c.from ? ['sms', 'voice'] : ['sms'];
  }

  /** The secret Twilio signs status callbacks with (X-Twilio-Signature). */
  get signingSecret(): string {
    return this.c.authToken ?? this.c.apiKeySecret ?? '';
  }

  async send(m: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
    if (m.channel === 'voice') return this.call(m, ctx);
    const form = new URLSearchParams({ To: m.to, Body: m.text });
    // An app's sender id goes in From (with a Messaging Service, Twilio uses the service's sender pool otherwise).
    if (this.c.messagingServiceSid) form.set('MessagingServiceSid', this.c.messagingServiceSid);
    if (m.sender || !this.c.messagingServiceSid) form.set('From', m.sender ?? this.c.from!);
    if (ctx.statusCallbackUrl) form.set('StatusCallback', ctx.statusCallbackUrl);
    const r = await callProvider(this.url, {
      headers: { authorization: this.auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      timeoutMs: this.c.timeoutMs,
    });
    const j = (r.json ?? {}) as { sid?: string; status?: string; price?: string | null; price_unit?: string | null; code?: number; message?: string; error_code?: number | null };
    if (r.status !== 200 && r.status !== 201) failForStatus(r, j.code !== undefined ? String(j.code) : undefined, `twilio ${r.status}: ${j.message ?? r.text}`);
    if (!j.sid) throw new ProviderError('unknown', 'twilio answered without a message sid', { httpStatus: r.status });
    if (j.status === 'failed' || j.status === 'undelivered') {
      throw new ProviderError('rejected', `twilio refused the message (${j.status})`, { code: j.error_code != null ? String(j.error_code) : undefined, httpStatus: r.status });
    }
    const price = j.price != null && j.price !== '' ? Math.abs(Number(j.price)) : undefined;
    return { providerMessageId: j.sid, price: Number.isFinite(price) ? price : undefined, priceCurrency: j.price_unit ?? undefined };
  }

  private async call(m: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
    const form = new URLSearchParams({ To: m.to, From: this.c.from!, Twiml: verificationTwiml(m.text, m.locale, this.c.voices) });
    if (ctx.statusCallbackUrl) form.set('StatusCallback', ctx.statusCallbackUrl);
    const r = await callProvider(this.callsUrl, {
      headers: { authorization: this.auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      timeoutMs: this.c.timeoutMs,
    });
    const j = (r.json ?? {}) as { sid?: string; status?: string; code?: number; message?: string };
    if (r.status !== 200 && r.status !== 201) failForStatus(r, j.code !== undefined ? String(j.code) : undefined, `twilio ${r.status}: ${j.message ?? r.text}`);
    if (!j.sid) throw new ProviderError('unknown', 'twilio answered without a call sid', { httpStatus: r.status });
    if (j.status === 'failed' || j.status === 'canceled') throw new ProviderError('rejected', `twilio refused the call (${j.status})`, { httpStatus: r.status });
    // A call's price is known when it ends, not now.
    return { providerMessageId: j.sid };
  }
}
