/**
 * Vonage's delivery receipts (`/webhooks/vonage/{name}`, GET query, or POST JSON or form). Authenticated by the
 * token otpd put in the callback URL, and, when the provider has a signature secret, by Vonage's `sig` too (with a
 * 5-minute replay window).
 */
import { createHash, createHmac } from 'node:crypto';
import { callbackTokenValid, constantTimeEqual } from '../../domain/code.js';
import type { Receipt } from '../../domain/delivery.js';
import { isId } from '../../domain/ids.js';
import { accept, refuse, type CallbackContext, type CallbackRequest, type CallbackResult, type CallbackRoute, type ProviderCallbackRoutes } from '../plugin.js';
import { VonageProvider, type VonageSignatureMethod } from './index.js';

// https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts
const VONAGE_STATUS: Record<string, Receipt['status'] | undefined> = {
  delivered: 'delivered', expired: 'undelivered', failed: 'failed', rejected: 'failed', accepted: 'sent', buffered: 'sent',
};

/**
 * Vonage's request signature: the parameters except `sig`, sorted by name, joined as `&name=value` with `&` and
 * `=` inside values replaced by `_`; then MD5 of that string followed by the secret ('md5hash'), or an HMAC of it
 * keyed by the secret; upper-case hex.
 */
export function vonageSignature(params: Record<string, string>, secret: string, method: VonageSignatureMethod): string {
  const q = Object.keys(params).filter((k) => k !== 'sig').sort().map((k) => `&${k}=${String(params[k]).replace(/[&=]/g, '_')}`).join('');
  const hex = method === 'md5hash' ? createHash('md5').update(q + secret).digest('hex') : createHmac(method, secret).update(q).digest('hex');
  return hex.toUpperCase();
}

/** Constant-time check of a `sig` parameter. */
export function vonageSignatureValid(params: Record<string, string>, secret: string, method: VonageSignatureMethod): boolean {
  return !!params.sig && constantTimeEqual(vonageSignature(params, secret, method), params.sig.toUpperCase());
}

/** A receipt: the token, then `sig` when configured, before its status is read. */
function handle({ name, provider, keys, now }: CallbackContext, req: CallbackRequest): CallbackResult {
  if (!(provider instanceof VonageProvider)) return refuse('unknown_callback', 'no such Vonage provider');
  // The query's fields, then the body's (a POST's JSON or form fields win).
  const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  const params: Record<string, string> = { ...(req.query as Record<string, string>) };
  for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) params[k] = String(v);
  const messageId = params.msg ?? params['client-ref'] ?? '';
  if (!isId('msg', messageId)) return refuse('unknown_callback', 'no message reference');
  if (!callbackTokenValid(keys, name, messageId, params.t)) return refuse('invalid_signature', 'callback URL token does not verify');
  const { signatureSecret, signatureMethod } = provider.config;
  if (signatureSecret) {
    const method = signatureMethod ?? 'md5hash';
    // Vonage signs the receipt's own parameters; accept a signature over them with or without our URL's msg/t.
    const { msg: _m, t: _t, ...own } = params;
    if (!vonageSignatureValid(own, signatureSecret, method) && !vonageSignatureValid(params, signatureSecret, method)) {
      return refuse('invalid_signature', 'sig does not verify');
    }
    const ts = Number(params.timestamp) * 1000;
    if (!Number.isFinite(ts) || Math.abs(now() - ts) > 5 * 60_000) return refuse('invalid_signature', 'signed timestamp outside the 5-minute window');
  }
  const status = VONAGE_STATUS[params.status ?? ''];
  if (!status) return accept();
  const errorCode = params['err-code'] && params['err-code'] !== '0' ? params['err-code'] : undefined;
  return accept({ messageId, providerMessageId: params.messageId, status, errorCode });
}

const route = (method: 'GET' | 'POST'): CallbackRoute => ({
  method,
  summary: 'Vonage delivery receipt (GET or POST)',
  description: 'Authenticated by the token in the callback URL otpd gave Vonage, and by `sig` when the provider has a signature secret.',
  problems: [403, 404],
  ok: 204,
  handle,
});

export const vonageCallbacks: ProviderCallbackRoutes = { bodies: 'parsed', routes: [route('GET'), route('POST')] };
