/**
 * Any HTTP SMS endpoint (seed 000's integration): an endpoint URL, an API key and secret, a sender name and
 * number, and a JSON body template. Success is judged by the status code and, optionally, a response field.
 *
 * Template values are JSON; a string that is exactly one placeholder becomes that value, other strings get the
 * placeholders replaced inside them. Placeholders: {{to}} {{text}} {{code}} {{messageId}} {{senderName}}
 * {{senderNumber}} {{apiKey}} {{apiSecret}} {{statusCallbackUrl}}. Values are substituted into the parsed
 * template, never into JSON text, so a message cannot break the body.
 */
import type { Channel } from '../../domain/policy.js';
import { callProvider, failForStatus } from '../http.js';
import { ProviderError, type DeliveryProvider, type OutgoingMessage, type SendContext, type SendResult } from '../types.js';

export interface HttpSmsConfig {
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
}

const at = (v: unknown, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);

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

export class HttpSmsProvider implements DeliveryProvider {
  readonly type = 'http';
  readonly channels: readonly Channel[];
  readonly name: string;

  constructor(private readonly c: HttpSmsConfig) {
    this.name = c.name;
    this.channels = c.channels ?? ['sms'];
    if (!/^https?:\/\//.test(c.url)) throw new Error(`provider ${c.name}: url must be http(s)`);
  }

  async send(m: OutgoingMessage, ctx: SendContext): Promise<SendResult> {
    const c = this.c;
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
    if (!okStatus) failForStatus(r, undefined, `${c.name} ${r.status}: ${r.text.slice(0, 200)}`);
    if (c.successField && at(r.json, c.successField.path) !== c.successField.equals) {
      throw new ProviderError('rejected', `${c.name}: ${c.successField.path} is ${JSON.stringify(at(r.json, c.successField.path))}, expected ${JSON.stringify(c.successField.equals)}`, { httpStatus: r.status });
    }
    const id = c.messageIdPath ? at(r.json, c.messageIdPath) : undefined;
    return { providerMessageId: id === undefined || id === null ? undefined : String(id) };
  }
}
