/**
 * Any HTTP SMS endpoint (seed 000's integration): an endpoint URL, an API key and secret, a sender name and
 * number, and a JSON body template. Success is judged by the status code and, optionally, a response field.
 *
 * Template values are JSON; a string that is exactly one placeholder becomes that value, other strings get the
 * placeholders replaced inside them. Placeholders: {{to}} {{text}} {{code}} {{messageId}} {{senderName}}
 * {{senderNumber}} {{apiKey}} {{apiSecret}} {{statusCallbackUrl}}. Values are substituted into the parsed
 * template, never into JSON text, so a message cannot break the body.
 *
 * Delivery receipts come back on `{{statusCallbackUrl}}` (`/webhooks/http/{name}?msg=…&t=…`, see `callbacks.ts`);
 * `receipts` in the config says where the status is in them, what its values mean, and, optionally, how the gateway
 * signs them.
 */
import type { Channel } from '../../domain/policy.js';
import { callProvider, failForStatus } from '../shared/http.js';
import { ProviderError, type DeliveryProvider, type OutgoingMessage, type SendContext, type SendResult } from '../types.js';

/** What otpd records for a receipt. */
export type HttpReceiptStatus = 'sent' | 'delivered' | 'undelivered' | 'failed';
export const HTTP_RECEIPT_STATUSES: readonly HttpReceiptStatus[] = ['delivered', 'undelivered', 'failed', 'sent'];

/** How a gateway signs its receipts (HMAC of the raw POST body, or of a GET's query string without `t`). */
export interface HttpReceiptSignature {
  /** The request header holding the signature, e.g. `x-signature` (any case). */
  header: string;
  /** The HMAC key (a credential: never logged). */
  secret: string;
  /** Default sha256. */
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  /** How the digest is written in the header; default hex (either case). */
  encoding?: 'hex' | 'base64';
  /** Text before the digest in the header, e.g. `sha256=` (required when set). */
  prefix?: string;
  /** Dotted path of a signed timestamp (Unix seconds or milliseconds, or ISO 8601); when set it is required. */
  timestampPath?: string;
  /** How far the signed timestamp may be from otpd's clock, either way (default 300 s). */
  maxAgeSeconds?: number;
}

/** Where things are in a gateway's receipts and what its statuses mean. */
export interface HttpReceiptsConfig {
  /** Dotted path of the status (default `status`). */
  statusPath?: string;
  /** Dotted path of the gateway's message id; when set and present it must match the id its send answer gave. */
  messageIdPath?: string;
  /** Dotted path of an error code, recorded on undelivered and failed messages. */
  errorCodePath?: string;
  /** The gateway's values per otpd status, compared case-insensitively; when given, replaces the defaults. */
  statuses?: Partial<Record<HttpReceiptStatus, string[]>>;
  signature?: HttpReceiptSignature;
}

export interface HttpConfig {
  name: string;
  type: 'http';
  url: string;
  /** Channels this endpoint delivers (default ['sms']). */
  channels?: Channel[];
  apiKey?: string;
  apiSecret?: string;
  senderName?: string;
  senderNumber?: string;
  /** How the key and secret travel: HTTP Basic, a bearer token (the key), headers, or only in the body. */
  auth?: 'basic' | 'bearer' | 'headers' | 'body';
  headers?: Record<string, string>;
  body: unknown;
  /** Accepted statuses (default: any 2xx). */
  successStatus?: number[];
  /** A dotted path in the JSON answer and the value it must have, e.g. { path: 'status', equals: 'ok' }. */
  successField?: { path: string; equals: string | number | boolean };
  /** Dotted path of the provider's message id in the answer. */
  messageIdPath?: string;
  timeoutMs?: number;
  /** Delivery receipts on `/webhooks/http/{name}` (they work without it, with the defaults). */
  receipts?: HttpReceiptsConfig;
}

const at = (v: unknown, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);

/**
 * Default meaning of gateway statuses (lower-cased): common words and SMPP's `stat` values. `sent` only records
 * the gateway's message id; anything not listed is ignored.
 */
export const DEFAULT_HTTP_RECEIPT_STATUSES: Readonly<Record<HttpReceiptStatus, readonly string[]>> = {
  delivered: ['delivered', 'delivrd', 'success', 'successful', 'ok', 'read'],
  undelivered: ['undelivered', 'undeliv', 'undeliverable', 'expired', 'deleted'],
  failed: ['failed', 'failure', 'rejected', 'rejectd', 'error'],
  sent: ['sent', 'accepted', 'acceptd', 'enroute', 'buffered', 'queued', 'submitted', 'sending', 'pending'],
};

/** The lookup table for a gateway: its `statuses` when configured, else the defaults (keys lower-cased). */
export function receiptStatusTable(c: HttpReceiptsConfig | undefined): ReadonlyMap<string, HttpReceiptStatus> {
  const src = c?.statuses ?? DEFAULT_HTTP_RECEIPT_STATUSES;
  const table = new Map<string, HttpReceiptStatus>();
  for (const st of HTTP_RECEIPT_STATUSES) for (const v of src[st] ?? []) table.set(v.trim().toLowerCase(), st);
  return table;
}

/** Fills a body template (see the module comment). */
export function fillTemplate(t: unknown, vars: Record<string, string>): unknown {
  if (typeof t === 'string') {
    const whole = /^\{\{\s*(\w+)\s*\}\}$/.exec(t);
    if (whole) return vars[whole[1]!] ?? '';
    return t.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, k: string) => vars[k] ?? '');
  }
  if (Array.isArray(t)) return t.map((x) => fillTemplate(x, vars));
  if (t && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, fillTemplate(v, vars)]));
  return t;
}

export class HttpProvider implements DeliveryProvider {
  readonly type = 'http';
  readonly channels: readonly Channel[];
  readonly name: string;

  /** How its receipts' statuses map to otpd's. */
  readonly receiptStatuses: ReadonlyMap<string, HttpReceiptStatus>;
  readonly secrets: readonly string[];

  constructor(readonly config: HttpConfig) {
    const c = config;
    this.name = c.name;
    this.receiptStatuses = receiptStatusTable(c.receipts);
    this.channels = c.channels ?? ['sms'];
    this.secrets = [
      c.apiKey ?? '', c.apiSecret ?? '', c.receipts?.signature?.secret ?? '', ...Object.values(c.headers ?? {}),
      c.auth === 'basic' ? Buffer.from(`${c.apiKey ?? ''}:${c.apiSecret ?? ''}`).toString('base64') : '',
    ].filter((x) => x.length >= 4);
    if (!/^https?:\/\//.test(c.url)) throw new Error(`provider ${c.name}: url must be http(s)`);
  }

  async send(m: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
    const c = this.config;
    const vars: Record<string, string> = {
      to: m.to, text: m.text, code: m.code, messageId: m.id, channel: m.channel, locale: m.locale, senderName: m.sender ?? c.senderName ?? '', senderNumber: c.senderNumber ?? '',
      apiKey: c.apiKey ?? '', apiSecret: c.apiSecret ?? '', statusCallbackUrl: ctx.statusCallbackUrl ?? '',
    };
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...c.headers };
    if (c.auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${c.apiKey ?? ''}:${c.apiSecret ?? ''}`).toString('base64')}`;
    else if (c.auth === 'bearer') headers.authorization = `Bearer ${c.apiKey ?? ''}`;
    else if (c.auth === 'headers') { headers['x-api-key'] = c.apiKey ?? ''; headers['x-api-secret'] = c.apiSecret ?? ''; }
    const r = await callProvider(c.url, { headers, body: JSON.stringify(fillTemplate(c.body, vars)), timeoutMs: c.timeoutMs });
    const okStatus = c.successStatus ? c.successStatus.includes(r.status) : r.status >= 200 && r.status < 300;
    if (!okStatus) failForStatus(r, undefined, `${c.name} ${r.status}: ${r.text}`);
    if (c.successField && at(r.json, c.successField.path) !== c.successField.equals) {
      throw new ProviderError('rejected', `${c.name}: ${c.successField.path} is ${JSON.stringify(at(r.json, c.successField.path))}, expected ${JSON.stringify(c.successField.equals)}`, { httpStatus: r.status });
    }
    const id = c.messageIdPath ? at(r.json, c.messageIdPath) : undefined;
    return { providerMessageId: id === undefined || id === null ? undefined : String(id) };
  }
}
