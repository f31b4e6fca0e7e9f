/**
 * Delivery receipts from providers (Twilio, Vonage, Meta, generic HTTP gateways). Each is authenticated the
 * provider's way before anything is read from it; unknown or forged callbacks are refused, recorded and counted,
 * never applied. An applied receipt can start the next workflow step (undelivered, failed) or cancel the pending
 * fallback (delivered).
 */
import type { Logger } from 'pino';
import twilioWebhooks from 'twilio/lib/webhooks/webhooks.js';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import { isId } from '../domain/ids.js';
import type { DeliveryProvider } from '../channels/types.js';
import { TwilioProvider } from '../channels/twilio/index.js';
import { VonageProvider, vonageSignatureValid } from '../channels/vonage/index.js';
import { WhatsAppProvider, metaSignatureValid } from '../channels/whatsapp/index.js';
import { HttpSmsProvider, httpReceiptSignatureValid, receiptText, receiptTimestampMs, receiptValueAt } from '../channels/http-sms/index.js';
import { callbackTokenValid, type CodeKeys } from '../domain/code.js';
import type { Receipt, Store } from '../store/ports.js';

// https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
const TWILIO_STATUS: Record<string, Receipt['status'] | undefined> = {
  sent: 'sent', delivered: 'delivered', undelivered: 'undelivered', failed: 'failed', read: 'delivered',
};
// https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts
const WHATSAPP_STATUS: Record<string, Receipt['status'] | undefined> = { sent: 'sent', delivered: 'delivered', read: 'delivered', failed: 'failed' };

interface MetaWebhook {
  object?: string;
  entry?: { changes?: { field?: string; value?: { statuses?: { id?: string; status?: string; biz_opaque_callback_data?: string; errors?: { code?: number }[] }[] } }[] }[];
}

const VONAGE_STATUS: Record<string, Receipt['status'] | undefined> = {
  delivered: 'delivered', expired: 'undelivered', failed: 'failed', rejected: 'failed', accepted: 'sent', buffered: 'sent',
};

/** A generic gateway's callback as it arrived: nothing of it is read before it is authenticated. */
export interface HttpReceiptRequest {
  method: 'GET' | 'POST';
  /** The raw query string (without `?`), percent-encoding untouched. */
  query: string;
  /** The raw POST body and how it is encoded (absent: no body). */
  body?: { raw: Buffer; type: 'json' | 'form' } | undefined;
  /** The request's headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

/** The pairs of a raw query string, each with its decoded name, in order. */
function queryPairs(query: string): { raw: string; name: string }[] {
  return query.split('&').filter((p) => p !== '').map((raw) => {
    const eq = raw.indexOf('=');
    let name: string;
    try { name = decodeURIComponent((eq < 0 ? raw : raw.slice(0, eq)).replaceAll('+', ' ')); } catch { name = ''; }
    return { raw, name };
  });
}

/** Flat fields of a form or query; the first of repeated names wins. */
function fieldsOf(params: URLSearchParams, skip: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of params) if (!skip.includes(k) && !Object.hasOwn(out, k)) out[k] = v;
  return out;
}

export class ReceiptsService {
  constructor(
    private readonly store: Store,
    private readonly keys: CodeKeys,
    private readonly clock: Clock,
    private readonly providers: ReadonlyMap<string, DeliveryProvider>,
    private readonly publicUrl: string | undefined,
    private readonly onAdvance: (appId: string, to: string) => void,
    private readonly log: Logger,
  ) {}

  private async refuse(source: string, code: 'invalid_signature' | 'unknown_callback', reason: string): Promise<never> {
    await this.store.recordRejectedCallback(source, reason, this.clock.now());
    this.log.warn({ source, reason }, 'callback refused');
    throw new OtpdError(code, reason);
  }

  private async apply(source: string, r: Receipt): Promise<void> {
    const res = await this.store.applyReceipt(r);
    if (res.result === 'unknown' || res.result === 'mismatch') await this.refuse(source, 'unknown_callback', res.result === 'unknown' ? 'no such message for this provider' : 'provider message id does not match');
    if (res.result === 'applied' && res.advanced) this.onAdvance(res.appId, res.to);
  }

  /**
   * A Twilio status callback: form fields signed with X-Twilio-Signature over the exact URL Twilio called
   * (otpd's public URL + path + query) and the sorted fields.
   */
  async twilio(providerName: string, pathAndQuery: string, signature: string | undefined, params: Record<string, string>): Promise<void> {
    const source = `twilio:${providerName}`;
    const p = this.providers.get(providerName);
    if (!(p instanceof TwilioProvider) || !this.publicUrl) await this.refuse(source, 'unknown_callback', 'no such Twilio provider, or no public URL');
    const tw = p as TwilioProvider;
    if (!signature || !twilioWebhooks.validateRequest(tw.signingSecret, signature, this.publicUrl + pathAndQuery, params)) {
      await this.refuse(source, 'invalid_signature', 'X-Twilio-Signature does not verify');
    }
    const messageId = new URL(pathAndQuery, 'http://x').searchParams.get('msg') ?? '';
    const status = TWILIO_STATUS[params.MessageStatus ?? params.SmsStatus ?? ''];
    if (!isId('msg', messageId)) await this.refuse(source, 'unknown_callback', 'no msg parameter');
    if (!status) return; // queued, sending, accepted, scheduled...: nothing to record
    await this.apply(source, { provider: providerName, messageId, providerMessageId: params.MessageSid ?? params.SmsSid, status, errorCode: params.ErrorCode || undefined, at: this.clock.now() });
  }

  /**
   * A Vonage delivery receipt (GET query, or POST JSON/form). Authenticated by the token otpd put in the callback
   * URL, and, when the provider has a signature secret, by Vonage's `sig` too (with a 5-minute replay window).
   */
  async vonage(providerName: string, params: Record<string, string>): Promise<void> {
    const source = `vonage:${providerName}`;
    const p = this.providers.get(providerName);
    if (!(p instanceof VonageProvider)) return this.refuse(source, 'unknown_callback', 'no such Vonage provider');
    const messageId = params.msg ?? params['client-ref'] ?? '';
    if (!isId('msg', messageId)) return this.refuse(source, 'unknown_callback', 'no message reference');
    if (!callbackTokenValid(this.keys, providerName, messageId, params.t)) return this.refuse(source, 'invalid_signature', 'callback URL token does not verify');
    const { signatureSecret, signatureMethod } = p.config;
    if (signatureSecret) {
      const method = signatureMethod ?? 'md5hash';
      // Vonage signs the receipt's own parameters; accept a signature over them with or without our URL's msg/t.
      const { msg: _m, t: _t, ...own } = params;
      if (!vonageSignatureValid(own, signatureSecret, method) && !vonageSignatureValid(params, signatureSecret, method)) {
        return this.refuse(source, 'invalid_signature', 'sig does not verify');
      }
      const ts = Number(params.timestamp) * 1000;
      if (!Number.isFinite(ts) || Math.abs(this.clock.now() - ts) > 5 * 60_000) return this.refuse(source, 'invalid_signature', 'signed timestamp outside the 5-minute window');
    }
    const status = VONAGE_STATUS[params.status ?? ''];
    if (!status) return;
    const errorCode = params['err-code'] && params['err-code'] !== '0' ? params['err-code'] : undefined;
    await this.apply(source, { provider: providerName, messageId, providerMessageId: params.messageId, status, errorCode, at: this.clock.now() });
  }

  /** Meta's webhook verification handshake: the challenge back when the verify token matches. */
  whatsappHandshake(providerName: string, q: Record<string, string | undefined>): string {
    const p = this.providers.get(providerName);
    if (!(p instanceof WhatsAppProvider) || q['hub.mode'] !== 'subscribe' || q['hub.verify_token'] !== p.config.verifyToken || !q['hub.challenge']) {
      throw new OtpdError('invalid_signature', 'verify token does not match');
    }
    return q['hub.challenge'];
  }

  /**
   * A WhatsApp Cloud API webhook: X-Hub-Signature-256 over the raw body must verify first. Statuses are matched by
   * `biz_opaque_callback_data` (otpd's message id) or the wamid. A signed status for a message otpd does not know
   * (another system using the same number) is recorded and not applied, but answered 200: Meta retries other
   * answers and eventually disables the subscription.
   */
  async whatsapp(providerName: string, rawBody: Buffer, signature: string | undefined, body: unknown): Promise<void> {
    const source = `whatsapp:${providerName}`;
    const p = this.providers.get(providerName);
    if (!(p instanceof WhatsAppProvider)) return this.refuse(source, 'unknown_callback', 'no such WhatsApp provider');
    if (!metaSignatureValid(p.config.appSecret, rawBody, signature)) return this.refuse(source, 'invalid_signature', 'X-Hub-Signature-256 does not verify');
    const hook = (body ?? {}) as MetaWebhook;
    for (const entry of hook.entry ?? []) {
      for (const change of entry.changes ?? []) {
        for (const st of change.value?.statuses ?? []) {
          const status = WHATSAPP_STATUS[st.status ?? ''];
          if (!status || !st.id) continue;
          const messageId = st.biz_opaque_callback_data && isId('msg', st.biz_opaque_callback_data) ? st.biz_opaque_callback_data : undefined;
          const res = await this.store.applyReceipt({
            provider: providerName, messageId, providerMessageId: st.id, status, errorCode: st.errors?.[0]?.code !== undefined ? String(st.errors[0].code) : undefined, at: this.clock.now(),
          });
          if (res.result === 'unknown' || res.result === 'mismatch') await this.store.recordRejectedCallback(source, `status for an unknown message (${res.result})`, this.clock.now());
          if (res.result === 'applied' && res.advanced) this.onAdvance(res.appId, res.to);
        }
      }
    }
  }

  /**
   * A generic HTTP gateway's receipt (GET query, or POST JSON/form), on the `{{statusCallbackUrl}}` it was given.
   * Authenticated before anything of the body or the gateway's fields is read:
   *
   * 1. the provider must be an `http` provider, and `msg` one message id (else 404);
   * 2. the URL token `t` must verify for (provider, msg), in constant time (else 403);
   * 3. with `receipts.signature`, the HMAC in the configured header must verify, in constant time, over the raw
   *    POST body, or for a GET over the raw query string without its `t` pair (empty pairs dropped) (else 403).
   *
   * Only then is the body parsed (400 if it is not valid JSON). With `signature.timestampPath`, the signed
   * timestamp must be within `maxAgeSeconds` (default 300) of now (else 403). Then the status is read at
   * `statusPath`: a POST's fields come from its body only (its query is not signed), a GET's from its query. An
   * unknown status is acknowledged and ignored. The receipt is matched by otpd's message id, and by the gateway's
   * id too when `messageIdPath` finds one (a different id is 404).
   */
  async http(providerName: string, req: HttpReceiptRequest): Promise<void> {
    const source = `http:${providerName}`;
    const p = this.providers.get(providerName);
    if (!(p instanceof HttpSmsProvider)) return this.refuse(source, 'unknown_callback', 'no such HTTP provider');
    const query = new URLSearchParams(req.query);
    const msgs = query.getAll('msg');
    const messageId = msgs.length === 1 ? msgs[0]! : '';
    if (!isId('msg', messageId)) return this.refuse(source, 'unknown_callback', 'no single msg parameter');
    const tokens = query.getAll('t');
    if (tokens.length !== 1 || !callbackTokenValid(this.keys, providerName, messageId, tokens[0])) return this.refuse(source, 'invalid_signature', 'callback URL token does not verify');
    const rc = p.config.receipts ?? {};
    const sig = rc.signature;
    if (sig) {
      const content = req.method === 'POST'
        ? req.body?.raw ?? Buffer.alloc(0)
        : queryPairs(req.query).filter((x) => x.name !== 't').map((x) => x.raw).join('&');
      const header = req.headers[sig.header.toLowerCase()];
      if (!httpReceiptSignatureValid(sig, content, typeof header === 'string' ? header : undefined)) return this.refuse(source, 'invalid_signature', `${sig.header} does not verify`);
    }
    let fields: unknown;
    if (req.method === 'GET') fields = fieldsOf(query, ['msg', 't']);
    else if (!req.body || req.body.raw.length === 0) fields = {};
    else if (req.body.type === 'form') fields = fieldsOf(new URLSearchParams(req.body.raw.toString('utf8')), []);
    else {
      try {
        fields = JSON.parse(req.body.raw.toString('utf8'));
      } catch {
        throw new OtpdError('malformed_json', 'The body is not valid JSON');
      }
    }
    if (sig?.timestampPath) {
      const ts = receiptTimestampMs(receiptValueAt(fields, sig.timestampPath));
      const window = (sig.maxAgeSeconds ?? 300) * 1000;
      if (!Number.isFinite(ts) || Math.abs(this.clock.now() - ts) > window) return this.refuse(source, 'invalid_signature', `signed timestamp missing or outside the ${window / 1000}-second window`);
    }
    const raw = receiptText(receiptValueAt(fields, rc.statusPath ?? 'status'));
    const status = raw === undefined ? undefined : p.receiptStatuses.get(raw.trim().toLowerCase());
    if (!status) return; // no status, or one that says nothing we record
    const providerMessageId = rc.messageIdPath ? receiptText(receiptValueAt(fields, rc.messageIdPath)) || undefined : undefined;
    const errorCode = rc.errorCodePath ? receiptText(receiptValueAt(fields, rc.errorCodePath))?.slice(0, 64) || undefined : undefined;
    await this.apply(source, { provider: providerName, messageId, providerMessageId, status, errorCode, at: this.clock.now() });
  }
}
