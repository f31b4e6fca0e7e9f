/**
 * A generic HTTP gateway's delivery receipts (`/webhooks/http/{name}`, GET query, or POST JSON or form body), on
 * the `{{statusCallbackUrl}}` it was given. Authenticated before anything of the body or the gateway's fields is
 * read:
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
import { createHmac } from 'node:crypto';
import { callbackTokenValid, constantTimeEqual } from '../../domain/code.js';
import { OtpdError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import { accept, refuse, type CallbackContext, type CallbackRequest, type CallbackResult, type ProviderCallbackRoutes } from '../plugin.js';
import { HttpProvider, type HttpReceiptSignature } from './index.js';

/**
 * The value at a dotted path of a receipt (parsed JSON, or the flat fields of a form or query): a key that is the
 * whole path wins (`data.status=…` in a form), else the path is walked. Own properties only.
 */
export function receiptValueAt(v: unknown, path: string): unknown {
  if (v && typeof v === 'object' && Object.hasOwn(v, path)) return (v as Record<string, unknown>)[path];
  let o: unknown = v;
  for (const k of path.split('.')) {
    if (!o || typeof o !== 'object' || !Object.hasOwn(o, k)) return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** A scalar receipt value as text (numbers and booleans too); anything else is absent. */
export function receiptText(v: unknown): string | undefined {
  // Control characters dropped: a NUL cannot be stored in PostgreSQL text, and none belongs in an id or a status.
  return typeof v === 'string' ? v.replace(/\p{Cc}/gu, '') : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** Constant-time check of a receipt's signature header against the HMAC of `content`. */
export function httpReceiptSignatureValid(s: HttpReceiptSignature, content: Buffer | string, header: string | undefined): boolean {
  if (!header) return false;
  const prefix = s.prefix ?? '';
  if (!header.startsWith(prefix)) return false;
  let given = header.slice(prefix.length).trim();
  const hex = (s.encoding ?? 'hex') === 'hex';
  if (hex ? !/^[0-9a-fA-F]+$/.test(given) : !/^[A-Za-z0-9+/]+={0,2}$/.test(given)) return false;
  if (hex) given = given.toLowerCase();
  const expected = createHmac(s.algorithm ?? 'sha256', s.secret).update(content).digest(hex ? 'hex' : 'base64');
  // Padding is optional in base64.
  return constantTimeEqual(hex ? expected : expected.replace(/=+$/, ''), hex ? given : given.replace(/=+$/, ''));
}

/**
 * A signed timestamp as epoch milliseconds: a number or numeric text is Unix seconds, or milliseconds from 10^11
 * up; other text must be an ISO 8601 date. NaN when absent or unreadable.
 */
export function receiptTimestampMs(v: unknown): number {
  const t = receiptText(v)?.trim();
  if (!t) return NaN;
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return n >= 1e11 ? n : n * 1000;
  }
  return /^\d{4}-\d{2}-\d{2}T/.test(t) ? Date.parse(t) : NaN;
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

/** A receipt, authenticated and read in the order of the module comment. */
function handle({ name, provider, keys, now }: CallbackContext, req: CallbackRequest): CallbackResult {
  if (!(provider instanceof HttpProvider)) return refuse('unknown_callback', 'no such HTTP provider');
  const q = req.url.indexOf('?');
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  const query = new URLSearchParams(rawQuery);
  const msgs = query.getAll('msg');
  const messageId = msgs.length === 1 ? msgs[0]! : '';
  if (!isId('msg', messageId)) return refuse('unknown_callback', 'no single msg parameter');
  const tokens = query.getAll('t');
  if (tokens.length !== 1 || !callbackTokenValid(keys, name, messageId, tokens[0])) return refuse('invalid_signature', 'callback URL token does not verify');
  const rc = provider.config.receipts ?? {};
  const sig = rc.signature;
  if (sig) {
    const content = req.method === 'POST'
      ? req.raw?.bytes ?? Buffer.alloc(0)
      : queryPairs(rawQuery).filter((x) => x.name !== 't').map((x) => x.raw).join('&');
    const header = req.headers[sig.header.toLowerCase()];
    if (!httpReceiptSignatureValid(sig, content, typeof header === 'string' ? header : undefined)) return refuse('invalid_signature', `${sig.header} does not verify`);
  }
  let fields: unknown;
  if (req.method === 'GET') fields = fieldsOf(query, ['msg', 't']);
  else if (!req.raw || req.raw.bytes.length === 0) fields = {};
  else if (req.raw.type === 'form') fields = fieldsOf(new URLSearchParams(req.raw.bytes.toString('utf8')), []);
  else {
    try {
      fields = JSON.parse(req.raw.bytes.toString('utf8'));
    } catch {
      throw new OtpdError('malformed_json', 'The body is not valid JSON');
    }
  }
  if (sig?.timestampPath) {
    const ts = receiptTimestampMs(receiptValueAt(fields, sig.timestampPath));
    const window = (sig.maxAgeSeconds ?? 300) * 1000;
    if (!Number.isFinite(ts) || Math.abs(now() - ts) > window) return refuse('invalid_signature', `signed timestamp missing or outside the ${window / 1000}-second window`);
  }
  const raw = receiptText(receiptValueAt(fields, rc.statusPath ?? 'status'));
  const status = raw === undefined ? undefined : provider.receiptStatuses.get(raw.trim().toLowerCase());
  if (!status) return accept(); // no status, or one that says nothing we record
  const providerMessageId = rc.messageIdPath ? receiptText(receiptValueAt(fields, rc.messageIdPath)) || undefined : undefined;
  const errorCode = rc.errorCodePath ? receiptText(receiptValueAt(fields, rc.errorCodePath))?.slice(0, 64) || undefined : undefined;
  return accept({ messageId, providerMessageId, status, errorCode });
}

const description = 'A generic HTTP gateway\'s delivery receipt, on the `{{statusCallbackUrl}}` otpd gave it: '
  + '`?msg={message id}&t={token}`. The token must verify for the provider and message (else 403); when the gateway has '
  + '`receipts.signature`, so must the HMAC in its header, over the raw body (POST) or over the query string without the '
  + '`t` pair (GET), and a signed timestamp when configured. Only then is the status read (`receipts.statusPath`, default '
  + '`status`) and mapped to delivered, undelivered, failed or sent; an unknown status is acknowledged (204) and ignored. '
  + 'Refused callbacks are recorded and counted.';

/** Bodies stay raw bytes, unparsed, until the callback is authenticated (URL token, then the optional HMAC over those exact bytes). */
export const httpCallbacks: ProviderCallbackRoutes = {
  bodies: 'raw',
  routes: [
    { method: 'GET', summary: 'HTTP gateway delivery receipt (GET, fields in the query)', description, problems: [403, 404, 422], ok: 204, handle },
    { method: 'POST', summary: 'HTTP gateway delivery receipt (POST, JSON or form body)', description, problems: [400, 403, 404, 413, 415, 422], ok: 204, handle },
  ],
};
