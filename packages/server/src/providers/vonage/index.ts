/**
 * SMS through Vonage's SMS API (POST {baseUrl}/json, form encoded; default base https://rest.nexmo.com/sms).
 * `to` goes without the leading +, `type=unicode` when the text needs UCS-2, `client-ref` carries otpd's message
 * id and `callback` the receipt URL (its receipts: `callbacks.ts`). Vonage answers 200 even for refusals: each
 * message has a `status`, "0" is success (https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms).
 */
import type { Channel } from '../../domain/policy.js';
import { countSegments } from '../../domain/segments.js';
import { callProvider, failForStatus } from '../shared/http.js';
import { ProviderError, type DeliveryProvider, type OutgoingMessage, type SendContext, type SendResult } from '../types.js';

export type VonageSignatureMethod = 'md5hash' | 'md5' | 'sha1' | 'sha256' | 'sha512';

export interface VonageConfig {
  name: string;
  type: 'vonage';
  apiKey: string;
  apiSecret: string;
  /** Sender id (up to 11 alphanumerics) or number. */
  from: string;
  /** Set to require signed delivery receipts (the account's signature secret and method). */
  signatureSecret?: string;
  signatureMethod?: VonageSignatureMethod;
  baseUrl?: string;
  timeoutMs?: number;
}

// Statuses worth retrying later: throttled, internal error, too many binds.
const TRANSIENT = new Set(['1', '5', '10']);

export class VonageProvider implements DeliveryProvider {
  readonly type = 'vonage';
  readonly channels: readonly Channel[] = ['sms'];
  readonly name: string;
  private readonly url: string;
  readonly secrets: readonly string[];

  constructor(readonly config: VonageConfig) {
    this.name = config.name;
    this.secrets = [config.apiSecret, ...(config.signatureSecret ? [config.signatureSecret] : [])];
    this.url = `${(config.baseUrl ?? 'https://rest.nexmo.com/sms').replace(/\/+$/, '')}/json`;
  }

  async send(m: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
    const form = new URLSearchParams({
      api_key: this.config.apiKey, api_secret: this.config.apiSecret, from: m.sender ?? this.config.from, to: m.to.replace(/^\+/, ''), text: m.text,
      'client-ref': m.id,
    });
    if (countSegments(m.text).encoding === 'UCS-2') form.set('type', 'unicode');
    if (ctx.statusCallbackUrl) form.set('callback', ctx.statusCallbackUrl);
    const r = await callProvider(this.url, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      timeoutMs: this.config.timeoutMs,
    });
    if (r.status !== 200) failForStatus(r, undefined, `vonage ${r.status}: ${r.text}`);
    const j = r.json as { messages?: { status?: string; 'message-id'?: string; 'message-price'?: string; 'error-text'?: string }[] } | null;
    const first = j?.messages?.[0];
    if (!first || first.status === undefined) throw new ProviderError('unknown', 'vonage answered without a message status', { httpStatus: r.status });
    if (first.status !== '0') {
      const kind = TRANSIENT.has(first.status) ? 'transient' : 'rejected';
      throw new ProviderError(kind, `vonage status ${first.status}: ${first['error-text'] ?? ''}`.trim(), { code: first.status, httpStatus: r.status });
    }
    const price = first['message-price'] !== undefined ? Number(first['message-price']) : undefined;
    return { providerMessageId: first['message-id'], price: Number.isFinite(price) ? price : undefined, priceCurrency: price !== undefined ? 'EUR' : undefined };
  }
}
