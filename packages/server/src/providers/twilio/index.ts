/**
 * SMS through Twilio's Messages API (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form encoded, Basic
 * auth with the Account SID and auth token, or an API key SID and secret). The sender is a `From` number or a
 * Messaging Service SID. `StatusCallback` carries otpd's receipt URL when otpd has a public URL.
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
  timeoutMs?: number;
}

export class TwilioProvider implements DeliveryProvider {
  readonly type = 'twilio';
  readonly channels: readonly Channel[] = ['sms'];
  readonly name: string;
  private readonly url: string;
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
    this.url = `${(c.baseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(c.accountSid)}/Messages.json`;
  }

  /** The secret Twilio signs status callbacks with (X-Twilio-Signature). */
  get signingSecret(): string {
    return this.c.authToken ?? this.c.apiKeySecret ?? '';
  }

  async send(m: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
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
}
