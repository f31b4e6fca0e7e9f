/**
 * The one rule for every URL otpd calls on a customer's behalf: webhook endpoints, an app's status callback URL
 * and a verification's own callback URL alike, checked when the URL is given and, for addresses, again at every
 * delivery (a name may resolve differently later).
 *
 * - It is an absolute http(s) URL without credentials in it.
 * - In production it is https, and no address its host resolves to is loopback, link-local, private, carrier-grade
 *   NAT, reserved or a cloud metadata address (SSRF).
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

// Address ranges no outbound call may reach in production.
const FORBIDDEN_RANGES = new Set(['unspecified', 'broadcast', 'multicast', 'linkLocal', 'loopback', 'carrierGradeNat', 'private', 'reserved', 'uniqueLocal', 'ipv4Mapped', 'rfc6145', 'rfc6052', '6to4', 'teredo']);

/** Why an address must not be called, or null. */
export function forbiddenAddress(address: string): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  if (FORBIDDEN_RANGES.has(range)) return `${address} is a ${range} address`;
  if (address === '169.254.169.254' || address === 'fd00:ec2::254') return `${address} is a cloud metadata address`;
  return null;
}

/** Resolves a URL's host and says why it must not be called (any address forbidden), or null. */
export async function checkDestination(url: string): Promise<string | null> {
  let u: URL;
  try { u = new URL(url); } catch { return 'not a URL'; }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) return `${host} is a local name`;
  const addresses = ipaddr.isValid(host) ? [host] : (await lookup(host, { all: true, verbatim: true }).catch(() => [])).map((a) => a.address);
  if (addresses.length === 0) return `${host} does not resolve`;
  for (const a of addresses) {
    const why = forbiddenAddress(a);
    if (why) return why;
  }
  return null;
}

/** Why `url` may not be used as an outbound URL (see the module comment), or null. */
export async function outboundUrlProblem(url: string, production: boolean): Promise<string | null> {
  let u: URL;
  try { u = new URL(url); } catch { return 'is not an absolute URL'; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  if (u.username || u.password) return 'must not carry credentials';
  if (!production) return null;
  if (u.protocol !== 'https:') return 'must be https in production';
  const why = await checkDestination(url);
  return why ? `is refused in production: ${why}` : null;
}

/** `outboundUrlProblem` bound to the deployment's mode. */
export type OutboundUrlCheck = (url: string) => Promise<string | null>;
export const outboundUrlCheck = (production: boolean): OutboundUrlCheck => (url) => outboundUrlProblem(url, production);
