/**
 * Who is asking. The verification use cases receive it with every start, check and resend: it is what the guard's
 * per-address and per-device rules key on, so that no rule needs HTTP. The API builds it once per request from the
 * client address Fastify resolved (the TCP peer, or behind the proxies of OTPD_TRUST_PROXY the rightmost untrusted
 * X-Forwarded-For entry) and the signals the caller sent about its end user.
 */
import ipaddr from 'ipaddr.js';
import { OtpdError } from '../domain/errors.js';
import type { Signals } from '../domain/records.js';
import { sourceKey } from './client-address.js';

export interface Client {
  /** The connection's client address. */
  ip: string;
  /** Its per-source key: the IPv4 address, or the IPv6 /64 (see `sourceKey`). */
  source: string;
  /** The User-Agent header, cut to 256 characters (null: none sent). */
  userAgent: string | null;
  /**
   * The connection's address is the end user's: otpd runs behind trusted proxies (OTPD_TRUST_PROXY), so the
   * address came through them. Otherwise the caller is a backend, and only the signals it sends name the end user.
   */
  endUser: boolean;
}

/** The client of a request with address `ip` and User-Agent header `userAgent`. */
export function clientOf(ip: string, userAgent: string | string[] | undefined, endUser = false): Client {
  const ua = Array.isArray(userAgent) ? userAgent[0] : userAgent;
  return { ip, source: sourceKey(ip), userAgent: ua === undefined || ua === '' ? null : ua.slice(0, 256), endUser };
}

/** What a request body may say about the end user (the customer's backend knows; otpd cannot see it). */
export interface SignalInput {
  ip?: string | undefined;
  deviceId?: string | undefined;
  userAgent?: string | undefined;
}

const bad = (field: string, detail: string) =>
  new OtpdError('invalid_request', `${field} ${detail}`, { extensions: { errors: [{ pointer: `/${field}`, detail }] } });

/**
 * The end user's signals: the body's, else (behind trusted proxies) the connection's address and User-Agent. The
 * address is normalised (an IPv4-mapped IPv6 address is its IPv4 address); an address that does not parse is a 422.
 */
export function endUserSignals(client: Client, input: SignalInput): Signals {
  const out: Signals = {};
  const ip = input.ip ?? (client.endUser ? client.ip : undefined);
  if (ip !== undefined) {
    if (!ipaddr.isValid(ip)) throw bad('ip', 'is not an IPv4 or IPv6 address');
    out.ip = ipaddr.process(ip).toString();
  }
  if (input.deviceId !== undefined) {
    if (!/^[\x21-\x7e]{1,128}$/.test(input.deviceId)) throw bad('deviceId', 'must be 1 to 128 printable ASCII characters');
    out.deviceId = input.deviceId;
  }
  const ua = input.userAgent ?? (client.endUser ? (client.userAgent ?? undefined) : undefined);
  if (ua !== undefined && ua !== '') out.userAgent = ua.slice(0, 256);
  return out;
}
