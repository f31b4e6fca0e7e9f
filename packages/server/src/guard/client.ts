/**
 * Who is asking, as the HTTP edge saw them. The verification use cases receive it with every start, check and
 * resend: it is what per-source rules (rate limits per address, abuse and pumping detection) key on, so that a rule
 * needs no access to HTTP. The API builds it once per request from the client address Fastify resolved (the TCP
 * peer, or behind the proxies of OTPD_TRUST_PROXY the rightmost untrusted X-Forwarded-For entry).
 */
import { sourceKey } from './client-address.js';

export interface Client {
  /** The client's address. */
  ip: string;
  /** Its per-source key: the IPv4 address, or the IPv6 /64 (see `sourceKey`). */
  source: string;
  /** The User-Agent header, cut to 256 characters (null: none sent). */
  userAgent: string | null;
}

/** The client of a request with address `ip` and User-Agent header `userAgent`. */
export function clientOf(ip: string, userAgent: string | string[] | undefined): Client {
  const ua = Array.isArray(userAgent) ? userAgent[0] : userAgent;
  return { ip, source: sourceKey(ip), userAgent: ua === undefined || ua === '' ? null : ua.slice(0, 256) };
}
